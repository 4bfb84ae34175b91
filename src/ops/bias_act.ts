// Bias + activation + gain + clamp (upstream torch_utils/ops/bias_act.py) over the last axis.
//
// The piecewise-linear activations get a custom gradient whose backward pass multiplies by the
// activation's slope, a constant to the tape, as upstream's CUDA op does: its own gradient is
// then the same multiplication, so R1 and path-length regularization can differentiate through
// it. tfjs' built-in leakyRelu gradient cannot be differentiated again. The slope is a mask
// computed in the forward pass, or, where the backend has the gradient kernel (webgpu), read
// from the output in the backward pass, as upstream's CUDA op reads it: one tensor fewer kept.
import {
  type Activation,
  BIAS_ACT_GRAD_KERNEL,
  BIAS_ACT_KERNEL,
  type BiasActGradKernelAttrs,
  type BiasActGradKernelInputs,
  type BiasActKernelAttrs,
  type BiasActKernelInputs,
} from './kernel_names.js';
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom_op.js';
import { runCustomKernel } from './kernel_contract.js';

/** Name of the optional fused kernel (the native addon registers it for the cpu backend). Outputs [y, mask = dy/dx] (mask only withMask). */

function runBiasActKernel(x: tf.Tensor, b: tf.Tensor | null, attrs: BiasActKernelAttrs): tf.Tensor[] {
  return runCustomKernel<BiasActKernelInputs, BiasActKernelAttrs>(BIAS_ACT_KERNEL, b ? { x, b } : { x }, attrs);
}

/**
 * relu(x + b) for inference (no gradient): the fused kernel in one pass where the backend has it.
 * The Inception network's every layer.
 */
export function biasReluInference(x: tf.Tensor, b: tf.Tensor): tf.Tensor {
  if (tf.getKernel(BIAS_ACT_KERNEL, tf.getBackend())) return runBiasActKernel(x, b, { act: 'relu', alpha: 0, gain: 1, clamp: null, withMask: false })[0];
  return tf.tidy(() => tf.relu(x.add(b)));
}

export const ACTIVATIONS: Record<Activation, { defAlpha: number; defGain: number }> = {
  linear: { defAlpha: 0, defGain: 1 },
  relu: { defAlpha: 0, defGain: Math.SQRT2 },
  lrelu: { defAlpha: 0.2, defGain: Math.SQRT2 },
};

export interface BiasActOptions {
  act?: Activation; // Activation function.
  alpha?: number; // Negative slope of lrelu (default 0.2).
  gain?: number; // Scale after the activation (default: the activation's def_gain).
  clamp?: number | null; // Clamp the output to +-clamp, null = no clamping.
}

function checkAct(act: string): asserts act is Activation {
  if (!(act in ACTIVATIONS)) throw new Error(`biasAct: unknown activation '${act}'; use one of ${Object.keys(ACTIVATIONS).join(', ')}`);
}

/**
 * y = clamp(act(x + b) * gain, -clamp, clamp). `b` has the size of x's last axis (channels in
 * NHWC, features in [N, F]) or is null.
 */
export function biasAct(x: tf.Tensor, b: tf.Tensor | null, opts: BiasActOptions = {}): tf.Tensor {
  const act = opts.act ?? 'linear';
  checkAct(act);
  const alpha = opts.alpha ?? ACTIVATIONS[act].defAlpha;
  const gain = opts.gain ?? ACTIVATIONS[act].defGain;
  const clamp = opts.clamp ?? null;
  if (clamp !== null && !(clamp >= 0)) throw new Error(`biasAct: clamp must be >= 0 or null, got ${clamp}`);
  const c = x.shape[x.rank - 1];
  if (b !== null && (b.rank !== 1 || b.shape[0] !== c)) {
    throw new Error(`biasAct: bias shape [${b.shape}] does not match the last axis of x [${x.shape}]`);
  }

  // Linear without clamping: plain ops are differentiable to any order.
  if (act === 'linear' && clamp === null) {
    return tf.tidy(() => {
      const v = b !== null ? x.add(b) : x;
      return gain !== 1 ? v.mul(gain) : v;
    });
  }

  const forward = (xi: tf.Tensor, bi: tf.Tensor | null): { y: tf.Tensor; mask: tf.Tensor } => {
    if (tf.getKernel(BIAS_ACT_KERNEL, tf.getBackend())) {
      const [y, mask] = runBiasActKernel(xi, bi, { act, alpha, gain, clamp, withMask: true });
      return { y, mask };
    }
    const v = bi !== null ? xi.add(bi) : xi;
    const pos = v.greater(0);
    let y: tf.Tensor;
    let mask: tf.Tensor; // d y / d v
    if (act === 'lrelu') {
      y = tf.where(pos, v, v.mul(alpha)).mul(gain);
      mask = tf.where(pos, tf.scalar(gain), tf.scalar(gain * alpha));
    } else if (act === 'relu') {
      y = tf.relu(v).mul(gain);
      mask = pos.cast('float32').mul(gain);
    } else {
      y = gain !== 1 ? v.mul(gain) : v;
      mask = tf.fill(v.shape, gain);
    }
    if (clamp !== null) {
      mask = mask.mul(y.abs().lessEqual(clamp).cast('float32')); // torch clamp passes the gradient at the bounds
      y = y.clipByValue(-clamp, clamp);
    }
    return { y, mask };
  };
  // Nothing records gradients (inference, or the fakes D trains on, made outside the tape): the
  // gradient mask would be computed and thrown away, so the value alone is computed.
  if (!(tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn()) {
    return tf.tidy(() => {
      if (tf.getKernel(BIAS_ACT_KERNEL, tf.getBackend())) return runBiasActKernel(x, b, { act, alpha, gain, clamp, withMask: false })[0];
      return forward(x, b).y;
    });
  }
  const reduceAxes = Array.from({ length: x.rank - 1 }, (_, i) => i);

  // Where the backend has the gradient kernel, the backward pass reads the slope from y (kept
  // instead of a mask); only with a positive gain, where y > 0 exactly when x + b > 0.
  const attrs = { act, alpha, gain, clamp };
  const fromOutput = gain > 0 && tf.getKernel(BIAS_ACT_GRAD_KERNEL, tf.getBackend()) !== undefined;
  const op = customOp(([xi, bi], save) => {
    const { y, mask } = fromOutput ? { y: runBiasActKernel(xi, bi ?? null, { ...attrs, withMask: false })[0], mask: null } : forward(xi, bi ?? null);
    save([mask ?? y]);
    return {
      value: y,
      gradFunc: (dy, [kept]) => {
        const dx = fromOutput ? biasActGrad(dy, kept, attrs) : dy.mul(kept);
        return bi ? [dx, dx.sum(reduceAxes)] : dx;
      },
    };
  });
  return tf.tidy(() => (b === null ? op(x) : op(x, b)));
}

/** dy times the slope of bias_act at its output y: linear in dy, so its gradient is itself applied to the incoming gradient (y a constant). */
function biasActGrad(dy: tf.Tensor, y: tf.Tensor, attrs: BiasActGradKernelAttrs): tf.Tensor {
  const op = customOp(([d]) => ({
    value: runCustomKernel<BiasActGradKernelInputs, BiasActGradKernelAttrs>(BIAS_ACT_GRAD_KERNEL, { dy: d, y }, attrs)[0],
    gradFunc: (ddx) => biasActGrad(ddx, y, attrs),
  }));
  return op(dy);
}
