// The loss of each training phase, upstream StyleGAN2Loss with the adversarial terms replaced by
// the chosen objective: the one implementation, used by the trainer and checked against upstream
// by the parity tests. Pure functions of tensors: the caller decides the latents, the noise, the
// augmentation and what is held constant. Each returns the scalar to differentiate (batch mean)
// and the per-sample values the training statistics report.
import * as tf from '@tensorflow/tfjs';
import type { Discriminator } from '../networks/discriminator.js';
import type { Generator } from '../networks/generator.js';
import type { SynthesisForwardOptions } from '../networks/synthesis.js';
import { discriminatorFakeLoss, discriminatorRealLoss, generatorLoss, type Objective } from './objectives.js';
import { pathLengthPenalty, r1Penalty } from './regularizers.js';

/** D(img, c): discriminator logits, with any augmentation applied first. */
export type LogitsFn = (img: tf.Tensor4D, c: tf.Tensor | null) => tf.Tensor;
/** ws -> images: the synthesis network with its noise fixed by the caller. */
export type SynthesizeFn = (ws: tf.Tensor3D) => tf.Tensor4D;

/** Discriminator logits, optionally through an augmentation (ADA) first. */
export function dLogits(D: Discriminator, augment?: (img: tf.Tensor4D) => tf.Tensor4D): LogitsFn {
  return (img, c) => D.apply(augment ? augment(img) : img, c);
}

/** G's synthesis with fixed options (noise mode, noise stream). */
export function synthesizer(G: Generator, synth: SynthesisForwardOptions = {}): SynthesizeFn {
  return (ws) => G.synthesize(ws, synth);
}

/** Gmain: mean f(-D(G(ws))). */
export function gMainLoss(
  synthesize: SynthesizeFn,
  logits: LogitsFn,
  ws: tf.Tensor3D,
  c: tf.Tensor | null,
  obj: Objective,
): { loss: tf.Scalar; perSample: tf.Tensor; fakeLogits: tf.Tensor } {
  return tf.tidy(() => {
    const fakeLogits = logits(synthesize(ws), c);
    const perSample = generatorLoss(obj, fakeLogits);
    return { loss: perSample.mean() as tf.Scalar, perSample, fakeLogits };
  });
}

/** Dmain: mean f(D(fakes)) + mean f(-D(reals)); `fakes` are constants here (G is not trained). */
export function dMainLoss(
  logits: LogitsFn,
  fakes: tf.Tensor4D,
  fakeC: tf.Tensor | null,
  reals: tf.Tensor4D,
  realC: tf.Tensor | null,
  obj: Objective,
): { loss: tf.Scalar; perSample: tf.Tensor; fakeLogits: tf.Tensor; realLogits: tf.Tensor } {
  return tf.tidy(() => {
    const fakeLogits = logits(fakes, fakeC);
    const realLogits = logits(reals, realC);
    const lossGen = discriminatorFakeLoss(obj, fakeLogits),
      lossReal = discriminatorRealLoss(obj, realLogits);
    const loss = lossGen.mean().add(lossReal.mean()) as tf.Scalar;
    return { loss, perSample: lossGen.add(lossReal), fakeLogits, realLogits };
  });
}

/** Dreg: mean(r1_penalty * gamma / 2); also the logits on the reals, computed on the way. */
export function r1RegLoss(
  logits: LogitsFn,
  reals: tf.Tensor4D,
  c: tf.Tensor | null,
  gamma: number,
): { loss: tf.Scalar; perSample: tf.Tensor; penalty: tf.Tensor; realLogits: tf.Tensor } {
  return tf.tidy(() => {
    let kept: tf.Tensor | null = null; // the logits, taken out of the gradient's scope
    const penalty = r1Penalty((x) => {
      const l = logits(x, c);
      kept?.dispose();
      kept = tf.keep(l.clone());
      return l;
    }, reals);
    const realLogits = kept!.clone(); // owned by this scope again, like every other result
    kept!.dispose();
    const perSample = penalty.mul(gamma / 2);
    return { loss: perSample.mean() as tf.Scalar, perSample, penalty, realLogits };
  });
}

/** Greg: mean(pl_weight * (pl_lengths - pl_mean)^2); returns the new pl_mean (a constant) too. */
export function plRegLoss(
  synthesize: SynthesizeFn,
  ws: tf.Tensor3D,
  plNoise: tf.Tensor4D | ((img: tf.Tensor4D) => tf.Tensor4D),
  plMean: number | tf.Scalar,
  decay: number,
  weight: number,
  holdMeanConstant = false,
): { loss: tf.Scalar; perSample: tf.Tensor; penalty: tf.Tensor; plMean: tf.Scalar } {
  return tf.tidy(() => {
    const r = pathLengthPenalty(synthesize, ws, plNoise, plMean, decay, holdMeanConstant);
    const perSample = r.penalty.mul(weight);
    return { loss: perSample.mean() as tf.Scalar, perSample, penalty: r.penalty, plMean: r.plMean };
  });
}
