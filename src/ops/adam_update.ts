// One Adam step of one variable as torch.optim.Adam computes it (upstream's optimizer):
//   m' = beta1 m + (1 - beta1) g,   v' = beta2 v + (1 - beta2) g^2,
//   p' = p - lr / (1 - beta1^t) * m' / (sqrt(v') / sqrt(1 - beta2^t) + eps),
// where t is the step count after this step. With `apply` false (a device-side flag, so that
// skipping a non-finite step needs no read-back) p, m and v keep their values.
// A fused kernel (RloAdamUpdate, native on the cpu backend) does all of it in one pass; elsewhere
// the same arithmetic runs as tfjs ops, in the same float32 order.
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, type AdamUpdateInputs } from './kernel_names.js';
import * as tf from '@tensorflow/tfjs';
import { runCustomKernel } from './kernel_contract.js';

export interface AdamStep {
  p: tf.Tensor;
  m: tf.Tensor;
  v: tf.Tensor;
}

/** The new variable and moments; `t` is the (float32 scalar) step count after this step. */
export function adamUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, t: tf.Scalar, apply: tf.Scalar, attrs: AdamUpdateAttrs): AdamStep {
  if (tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend())) {
    const [p1, m1, v1] = runCustomKernel<AdamUpdateInputs, AdamUpdateAttrs>(ADAM_UPDATE_KERNEL, { p, m, v, g, t, apply }, attrs);
    return { p: p1, m: m1, v: v1 };
  }
  return tf.tidy(() => {
    const { lr, beta1, beta2, eps } = attrs;
    const stepSize = tf
      .scalar(1)
      .sub(tf.pow(tf.scalar(beta1), t))
      .reciprocal()
      .mul(lr);
    const sqrtBc2 = tf
      .scalar(1)
      .sub(tf.pow(tf.scalar(beta2), t))
      .sqrt();
    const m1 = m.mul(beta1).add(g.mul(1 - beta1));
    const v1 = v.mul(beta2).add(g.square().mul(1 - beta2));
    const p1 = p.sub(m1.div(v1.sqrt().div(sqrtBc2).add(eps)).mul(stepSize));
    // A scalar condition: where() would broadcast it elementwise, so pick whole tensors instead.
    const keep = apply.logicalNot().reshape([1]);
    const pick = (a: tf.Tensor, b: tf.Tensor) => tf.stack([a, b]).gather(keep.cast('int32')).reshape(a.shape);
    return { p: pick(p1, p), m: pick(m1, m), v: pick(v1, v) };
  });
}
