// Adam as torch.optim.Adam computes it (upstream uses betas (0, 0.99), eps 1e-8), over a named
// list of variables, with state that can be saved and restored exactly. A step can be made
// conditional on a device-side flag, so skipping non-finite steps needs no read-back.
import * as tf from '@tensorflow/tfjs';
import { adamUpdate } from '../ops/adam_update.js';
import { section } from '../formats/checkpoint.js';
import type { StTensor } from '../records.js';
import { type NamedArray, ParamStore } from '../networks/params.js';

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

  constructor(
    readonly vars: Map<string, tf.Variable>,
    readonly opts: AdamOptions,
  ) {
    // tidy: the initial values are copied into the variables and released (variables survive).
    this.t = tf.tidy(() => tf.variable(tf.scalar(0), false));
    for (const [k, p] of vars) {
      this.m.set(
        k,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
      this.v.set(
        k,
        tf.tidy(() => tf.variable(tf.zerosLike(p), false)),
      );
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
        const m = this.m.get(k)!,
          v = this.v.get(k)!;
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

/** The optimizer state as checkpoint tensors "prefix/m/<name>", "prefix/v/<name>" (upstream layout) and "prefix/t". */
export async function adamTensors(opt: Adam, store: ParamStore, prefix: string): Promise<Map<string, NamedArray>> {
  const out = new Map<string, NamedArray>();
  for (const [k, m] of opt.m) out.set(`${prefix}/m/${k}`, await store.toUpstreamArray(k, m));
  for (const [k, v] of opt.v) out.set(`${prefix}/v/${k}`, await store.toUpstreamArray(k, v));
  out.set(`${prefix}/t`, { shape: [], data: (await opt.t.data()) as Float32Array });
  return out;
}

/** Restores Adam moments and step from the checkpoint tensors adamTensors wrote. */
export function restoreAdam(opt: Adam, store: ParamStore, tensors: Map<string, StTensor>, prefix: string): void {
  const m = section(tensors, `${prefix}/m`),
    v = section(tensors, `${prefix}/v`);
  const t = tensors.get(`${prefix}/t`);
  if (!t) throw new Error(`checkpoint has no optimizer state ${prefix}; it cannot be resumed exactly`);
  const internal = (name: string, a: NamedArray): Float32Array => {
    const spec = store.specs.get(name)!;
    if (a.shape.join() !== spec.shape.join()) throw new Error(`optimizer state for ${name} has shape [${a.shape}], expected [${spec.shape}]`);
    return ParamStore.upstreamToInternal(spec, a.data); // the same conversion as parameters
  };
  tf.tidy(() => {
    for (const [k, mv] of opt.m) {
      const a = m.get(k),
        b = v.get(k);
      if (!a || !b) throw new Error(`checkpoint optimizer state ${prefix} lacks ${k}`);
      mv.assign(tf.tensor(internal(k, a), mv.shape));
      opt.v.get(k)!.assign(tf.tensor(internal(k, b), mv.shape));
    }
    opt.t.assign(tf.scalar((t.data as Float32Array)[0]));
  });
}
