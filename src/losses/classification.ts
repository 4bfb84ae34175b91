// Classification losses on logits [N, C] and integer labels [N], per sample, from log p_y (the
// log-softmax at the label, computed stably):
//   ce:     cross-entropy, -log p_y
//   rooted: the RLO paper's multiclass form, k · p_y^(-1/k) = k · exp(-log p_y / k): it grows
//           without bound on hard examples (p_y -> 0), faster than cross-entropy's log
//   gce:    the form in the RLO authors' classifier code, k · (1 - p_y^(1/k)), which is the
//           generalized cross-entropy (Zhang & Sabuncu 2018) with q = 1/k: bounded by k, it
//           gives hard examples less weight than cross-entropy does
// Both tend to cross-entropy (plus the constant k for rooted) as k grows.
import * as tf from '@tensorflow/tfjs';

export type ClassificationLoss = { kind: 'ce' } | { kind: 'rooted'; k: number } | { kind: 'gce'; k: number };

export const CLASSIFICATION_LOSSES = ['ce', 'rooted', 'gce'] as const;

/** A loss by name; k for rooted and gce. */
export function classificationLoss(kind: string, k = 2): ClassificationLoss {
  if (kind === 'ce') return { kind };
  if (kind !== 'rooted' && kind !== 'gce') throw new Error(`classification loss '${kind}': choose one of ${CLASSIFICATION_LOSSES.join(', ')}`);
  if (!(Number.isFinite(k) && k > 0)) throw new Error(`classification loss ${kind}: k must be a finite number > 0, got ${k}`);
  return { kind, k };
}

/** What a report calls it: "cross-entropy", "rooted k=2", "GCE k=2". */
export function classificationLossName(l: ClassificationLoss): string {
  return l.kind === 'ce' ? 'cross-entropy' : `${l.kind === 'rooted' ? 'rooted' : 'GCE'} k=${l.k}`;
}

/** Per-sample loss [N] of logits [N, C] for integer labels [N]. */
export function classifierLoss(loss: ClassificationLoss, logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const logp = tf.sum(tf.mul(tf.logSoftmax(logits), tf.oneHot(labels, logits.shape[1])), 1) as tf.Tensor1D;
    if (loss.kind === 'ce') return tf.neg(logp);
    if (loss.kind === 'rooted') return tf.mul(tf.exp(tf.div(tf.neg(logp), loss.k)), loss.k);
    return tf.mul(tf.sub(1, tf.exp(tf.div(logp, loss.k))), loss.k);
  });
}
