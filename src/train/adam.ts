// Adam as torch.optim.Adam computes it (upstream uses betas (0, 0.99), eps 1e-8), over a named
// list of variables, with state that can be saved and restored exactly. A step can be made
// conditional on a device-side flag, so skipping non-finite steps needs no read-back.
import * as tf from '@tensorflow/tfjs';

export interface AdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export class Adam {
  readonly m = new Map<string, tf.Variable>();
  readonly v = new Map<string, tf.Variable>();
  /** Steps taken (torch's `step`), on the device so that a skipped step does not count. */
  readonly t: tf.Variable;

  constructor(readonly vars: Map<string, tf.Variable>, readonly opts: AdamOptions) {
    this.t = tf.variable(tf.scalar(0), false);
    for (const [k, p] of vars) {
      this.m.set(k, tf.variable(tf.zerosLike(p), false));
      this.v.set(k, tf.variable(tf.zerosLike(p), false));
    }
  }

  /**
   * p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps). With `apply` (a scalar bool tensor) false, every
   * variable, moment and the step counter keep their values.
   */
  update(grads: Map<string, tf.Tensor>, apply?: tf.Tensor): void {
    const { lr, beta1, beta2, eps } = this.opts;
    tf.tidy(() => {
      const t = this.t.add(1);
      const bc1 = tf.scalar(1).sub(tf.pow(tf.scalar(beta1), t));
      const sqrtBc2 = tf.scalar(1).sub(tf.pow(tf.scalar(beta2), t)).sqrt();
      const stepSize = bc1.reciprocal().mul(lr);
      this.t.assign(apply ? tf.where(apply, t, this.t) : t);
      for (const [k, p] of this.vars) {
        const g = grads.get(k);
        if (!g) continue;
        const m = this.m.get(k)!, v = this.v.get(k)!;
        const m1 = m.mul(beta1).add(g.mul(1 - beta1));
        const v1 = v.mul(beta2).add(g.square().mul(1 - beta2));
        const p1 = p.sub(m1.div(v1.sqrt().div(sqrtBc2).add(eps)).mul(stepSize));
        if (apply) {
          m.assign(tf.where(apply, m1, m));
          v.assign(tf.where(apply, v1, v));
          p.assign(tf.where(apply, p1, p));
        } else {
          m.assign(m1);
          v.assign(v1);
          p.assign(p1);
        }
      }
    });
  }

  dispose(): void {
    for (const x of [this.t, ...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
