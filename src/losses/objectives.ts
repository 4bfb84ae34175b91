// Adversarial objectives on discriminator logits (per-sample values; callers take the mean).
//
// Non-saturating logistic (upstream training/loss.py):
//   G: softplus(-D(G(z)))      D: softplus(D(G(z))) + softplus(-D(x))
// Rooted logistic objective, RLO (Wang, Veluswami, Mishra, Ravi, arXiv 2310.03890): the
// logistic loss log(1 + e^-z) becomes k * (1 + e^-z)^(1/k), strictly convex for k > 0:
//   G: k (1 + e^-D(G(z)))^(1/k)  D: k (1 + e^D(G(z)))^(1/k) + k (1 + e^-D(x))^(1/k)
// computed as k * exp(softplus(+-l) / k): the same value without overflow of e^l.
import * as tf from '@tensorflow/tfjs';

export type Objective = { kind: 'logistic' } | { kind: 'rooted'; k: number };

export function logistic(): Objective {
  return { kind: 'logistic' };
}

export function rooted(k: number): Objective {
  if (!(typeof k === 'number' && Number.isFinite(k) && k > 0)) throw new Error(`rooted objective: k must be a finite number > 0, got ${k}`);
  return { kind: 'rooted', k };
}

/** k * (1 + e^x)^(1/k), stably. */
export function rootedSoftplus(x: tf.Tensor, k: number): tf.Tensor {
  return tf.exp(tf.softplus(x).div(k)).mul(k);
}

/** f(x) = log(1 + e^x) for logistic, k (1 + e^x)^(1/k) for rooted. */
function term(obj: Objective, x: tf.Tensor): tf.Tensor {
  return obj.kind === 'logistic' ? tf.softplus(x) : rootedSoftplus(x, obj.k);
}

/** Generator loss per sample: f(-D(G(z))). */
export function generatorLoss(obj: Objective, fakeLogits: tf.Tensor): tf.Tensor {
  return term(obj, fakeLogits.neg());
}

/** Discriminator loss on fakes per sample: f(D(G(z))). */
export function discriminatorFakeLoss(obj: Objective, fakeLogits: tf.Tensor): tf.Tensor {
  return term(obj, fakeLogits);
}

/** Discriminator loss on reals per sample: f(-D(x)). */
export function discriminatorRealLoss(obj: Objective, realLogits: tf.Tensor): tf.Tensor {
  return term(obj, realLogits.neg());
}
