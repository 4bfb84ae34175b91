// Adam as torch.optim.Adam computes it (upstream uses betas (0, 0.99), eps 1e-8), over a named
// list of variables, with state that can be saved and restored exactly. A step can be made
// conditional on a device-side flag, so skipping non-finite steps needs no read-back.
import * as tf from '@tensorflow/tfjs';
import { adamUpdate } from '../ops/adam_update.js';

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
    // tidy: the initial values are copied into the variables and released (variables survive).
    this.t = tf.tidy(() => tf.variable(tf.scalar(0), false));
    for (const [k, p] of vars) {
      this.m.set(k, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(k, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  /**
   * p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) for every variable with a gradient (one fused
   * adamUpdate each). With `apply` (a scalar bool tensor) false, every variable, moment and the
   * step counter keep their values.
   */
  update(grads: Map<string, tf.Tensor>, apply?: tf.Tensor): void {
    tf.tidy(() => {
      const t = this.t.add(1) as tf.Scalar;
      const flag = (apply ?? tf.scalar(true, 'bool')) as tf.Scalar;
      this.t.assign(apply ? tf.where(flag, t, this.t as tf.Tensor) : t);
      for (const [k, p] of this.vars) {
        const g = grads.get(k);
        if (!g) continue;
        const m = this.m.get(k)!, v = this.v.get(k)!;
        const next = adamUpdate(p, m, v, g, t, flag, this.opts);
        m.assign(next.m);
        v.assign(next.v);
        p.assign(next.p);
      }
    });
  }

  dispose(): void {
    for (const x of [this.t, ...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
