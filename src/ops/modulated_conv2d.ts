// Modulated convolution with demodulation (upstream training/networks.py modulated_conv2d),
// the non-fused path: scale the input by the styles, run one shared-weight convolution, scale
// the output by the demodulation coefficients. tfjs has no grouped convolution, and this path
// also keeps the weight gradient a plain conv2d filter gradient.
import * as tf from '@tensorflow/tfjs';
import { conv2dResample } from './conv2d_resample.js';
import type { Filter } from './upfirdn2d.js';

export interface ModulatedConv2dOptions {
  noise?: tf.Tensor | null; // Added after demodulation, broadcastable to the output [N, H, W, O].
  up?: number; // Integer upsampling factor.
  down?: number; // Integer downsampling factor.
  padding?: number; // Padding with respect to the upsampled image.
  resampleFilter?: Filter | null; // Low-pass filter for resampling.
  demodulate?: boolean; // Apply weight demodulation (default true).
  flipWeight?: boolean; // False = convolution, true = correlation (default true).
}

/**
 * Demodulation coefficients dcoefs[n, o] = rsqrt(sum_{i,ky,kx} (w[ky,kx,i,o] * s[n,i])^2 + 1e-8),
 * computed as (s^2) @ (sum_k w^2) instead of materializing the per-sample weights.
 */
export function demodCoefs(weight: tf.Tensor4D, styles: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const wsq = weight.square().sum([0, 1]) as tf.Tensor2D; // [I, O]
    return tf.matMul(styles.square(), wsq).add(1e-8).rsqrt() as tf.Tensor2D;
  });
}

/** x [N, H, W, I], weight [kh, kw, I, O], styles [N, I] -> [N, H', W', O]. */
export function modulatedConv2d(x: tf.Tensor4D, weight: tf.Tensor4D, styles: tf.Tensor2D, opts: ModulatedConv2dOptions = {}): tf.Tensor4D {
  const [n, , , cin] = x.shape;
  const cout = weight.shape[3];
  if (weight.shape[2] !== cin || styles.shape[0] !== n || styles.shape[1] !== cin) {
    throw new Error(`modulatedConv2d: shapes do not agree: x [${x.shape}], weight [${weight.shape}], styles [${styles.shape}]`);
  }
  const demodulate = opts.demodulate ?? true;
  return tf.tidy(() => {
    let y = x.mul(styles.reshape([n, 1, 1, cin])) as tf.Tensor4D;
    y = conv2dResample(y, weight, {
      f: opts.resampleFilter ?? null,
      up: opts.up,
      down: opts.down,
      padding: opts.padding ?? 0,
      flipWeight: opts.flipWeight,
    });
    if (demodulate) y = y.mul(demodCoefs(weight, styles).reshape([n, 1, 1, cout]));
    if (opts.noise) y = y.add(opts.noise);
    return y;
  });
}
