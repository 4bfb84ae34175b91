// The loss of each training phase as a scalar (batch mean), upstream StyleGAN2Loss with the
// adversarial terms replaced by the chosen objective. These are pure functions of tensors; the
// training loop decides what is held constant.
import * as tf from '@tensorflow/tfjs';
import { Discriminator } from '../networks/discriminator.js';
import { Generator } from '../networks/generator.js';
import { SynthesisForwardOptions } from '../networks/synthesis.js';
import { discriminatorFakeLoss, discriminatorRealLoss, generatorLoss, Objective } from './objectives.js';
import { pathLengthPenalty, r1Penalty } from './regularizers.js';

export type LogitsFn = (img: tf.Tensor4D, c: tf.Tensor | null) => tf.Tensor;

/** Discriminator logits, optionally through an augmentation (ADA) first. */
export function dLogits(D: Discriminator, augment?: (img: tf.Tensor4D) => tf.Tensor4D): LogitsFn {
  return (img, c) => D.apply(augment ? augment(img) : img, c);
}

/** Gmain: mean f(-D(G(ws))). */
export function gMainLoss(G: Generator, logits: LogitsFn, ws: tf.Tensor3D, c: tf.Tensor | null, obj: Objective,
  synth: SynthesisForwardOptions = {}): { loss: tf.Scalar; fakeLogits: tf.Tensor } {
  return tf.tidy(() => {
    const img = G.synthesize(ws, synth);
    const fakeLogits = logits(img, c);
    return { loss: generatorLoss(obj, fakeLogits).mean() as tf.Scalar, fakeLogits };
  });
}

/** Dmain: mean f(D(fakes)) + mean f(-D(reals)); `fakes` are constants here. */
export function dMainLoss(logits: LogitsFn, fakes: tf.Tensor4D, fakeC: tf.Tensor | null, reals: tf.Tensor4D, realC: tf.Tensor | null,
  obj: Objective): { loss: tf.Scalar; fakeLogits: tf.Tensor; realLogits: tf.Tensor } {
  return tf.tidy(() => {
    const fakeLogits = logits(fakes, fakeC);
    const realLogits = logits(reals, realC);
    const loss = discriminatorFakeLoss(obj, fakeLogits).mean().add(discriminatorRealLoss(obj, realLogits).mean()) as tf.Scalar;
    return { loss, fakeLogits, realLogits };
  });
}

/** Dreg: mean(r1_penalty * gamma / 2). */
export function r1RegLoss(logits: LogitsFn, reals: tf.Tensor4D, c: tf.Tensor | null, gamma: number): { loss: tf.Scalar; penalty: tf.Tensor } {
  return tf.tidy(() => {
    const penalty = r1Penalty((x) => logits(x, c), reals);
    return { loss: penalty.mul(gamma / 2).mean() as tf.Scalar, penalty };
  });
}

/** Greg: mean(pl_weight * (pl_lengths - pl_mean)^2); returns the new pl_mean too. */
export function plRegLoss(G: Generator, ws: tf.Tensor3D, plNoise: tf.Tensor4D, plMean: number | tf.Scalar, decay: number, weight: number,
  synth: SynthesisForwardOptions = {}): { loss: tf.Scalar; penalty: tf.Tensor; plMean: tf.Scalar } {
  return tf.tidy(() => {
    const r = pathLengthPenalty((w) => G.synthesize(w, synth), ws, plNoise, plMean, decay);
    return { loss: r.penalty.mul(weight).mean() as tf.Scalar, penalty: r.penalty, plMean: r.plMean };
  });
}
