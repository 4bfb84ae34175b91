// R1 and path-length regularization (upstream training/loss.py), both second-order: the penalty
// is a function of a gradient, and training differentiates it again w.r.t. the parameters.
import * as tf from '@tensorflow/tfjs';
import { grad } from '../ops/gradients.js';
import { stopGradient } from '../ops/stop_gradient.js';

/**
 * R1 penalty per sample: |d sum(D(x)) / dx|^2 (upstream r1_penalty). `logitsOf` runs the
 * discriminator (with augmentation, if any) on the given reals.
 */
export function r1Penalty(logitsOf: (reals: tf.Tensor4D) => tf.Tensor, reals: tf.Tensor4D): tf.Tensor1D {
  return tf.tidy(() => {
    const g = grad((x: tf.Tensor) => logitsOf(x as tf.Tensor4D).sum())(reals);
    return g.square().sum([1, 2, 3]) as tf.Tensor1D;
  });
}

export interface PathLengthResult {
  penalty: tf.Tensor1D; // (pl_lengths - pl_mean)^2 per sample.
  lengths: tf.Tensor1D; // pl_lengths per sample.
  plMean: tf.Scalar; // The updated pl_mean (a constant; the caller stores it).
}

/**
 * Path-length penalty (upstream Gpl). `synth` maps ws to images; `plNoise` is
 * randn(img.shape) / sqrt(H * W), given, or drawn from the images once they exist (upstream draws
 * it after the synthesis, whose noise comes first from the same stream); `plMeanBefore` is the
 * running mean before this step.
 */
export function pathLengthPenalty(
  synth: (ws: tf.Tensor3D) => tf.Tensor4D,
  ws: tf.Tensor3D,
  plNoise: tf.Tensor4D | ((img: tf.Tensor4D) => tf.Tensor4D),
  plMeanBefore: number | tf.Scalar,
  decay: number,
  holdMeanConstant = false,
): PathLengthResult {
  return tf.tidy(() => {
    const plGrads = grad((w: tf.Tensor) => {
      const img = synth(w as tf.Tensor3D);
      return img.mul(typeof plNoise === 'function' ? plNoise(img) : plNoise).sum();
    })(ws);
    const lengths = plGrads.square().sum(2).mean(1).sqrt() as tf.Tensor1D;
    // pl_mean = lerp(pl_mean, mean(lengths), decay). Upstream's training differentiates the
    // penalty through it (the decay-weighted mean of this batch's lengths); the shared reference
    // gradients hold it constant, which `holdMeanConstant` reproduces.
    const before = typeof plMeanBefore === 'number' ? tf.scalar(plMeanBefore) : plMeanBefore;
    const batchMean = holdMeanConstant ? stopGradient(lengths.mean()) : lengths.mean();
    const plMean = before.add(batchMean.sub(before).mul(decay)) as tf.Scalar;
    return { penalty: lengths.sub(plMean).square() as tf.Tensor1D, lengths, plMean };
  });
}
