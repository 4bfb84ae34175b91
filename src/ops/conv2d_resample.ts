// 2-D convolution with optional FIR up/down-sampling (upstream torch_utils/ops/conv2d_resample.py).
// NHWC activations, weights [kh, kw, in, out]. Follows upstream's case analysis so that the
// same configurations take the same (equivalent) paths.
import * as tf from '@tensorflow/tfjs';
import { type Filter, upfirdn2d, parsePadding, setupFilter } from './upfirdn2d.js';

export interface Conv2dResampleOptions {
  f?: Filter | null; // Low-pass filter for resampling (setupFilter output), null = identity.
  up?: number; // Integer upsampling factor.
  down?: number; // Integer downsampling factor.
  padding?: number | [number, number] | [number, number, number, number]; // Padding w.r.t. the upsampled image, [x0, x1, y0, y1].
  flipWeight?: boolean; // False = convolution, true = correlation (like torch conv2d). Default true.
}

/** Weight [kh, kw, in, out] flipped along both spatial axes. */
function flipSpatial(w: tf.Tensor4D): tf.Tensor4D {
  return tf.reverse(w, [0, 1]) as tf.Tensor4D;
}

/** Plain or transposed convolution with symmetric padding [py, px] (upstream _conv2d_wrapper). */
function conv2dWrapper(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, pad: [number, number], transpose: boolean, flipWeight: boolean): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const wf = flipWeight ? w : flipSpatial(w); // tfjs conv2d, like torch's, is a correlation.
  const explicit: [[number, number], [number, number], [number, number], [number, number]] = [
    [0, 0],
    [pad[0], pad[0]],
    [pad[1], pad[1]],
    [0, 0],
  ];
  if (!transpose) {
    return tf.conv2d(x, wf, stride, pad[0] === 0 && pad[1] === 0 ? 'valid' : explicit);
  }
  // Transposed convolution: tfjs wants the filter as [kh, kw, out, in] of the adjoint conv.
  const [n, h, wd] = x.shape;
  const cout = w.shape[3];
  const outShape: [number, number, number, number] = [n, (h - 1) * stride + kh - 2 * pad[0], (wd - 1) * stride + kw - 2 * pad[1], cout];
  const ft = wf.transpose([0, 1, 3, 2]) as tf.Tensor4D;
  if (pad[0] !== pad[1]) throw new Error('conv2dResample: asymmetric transposed-conv padding is not supported');
  return tf.conv2dTranspose(x, ft, outShape, stride, pad[0] === 0 ? 'valid' : pad[0]);
}

/** Upstream conv2d_resample for groups = 1. */
export function conv2dResample(x: tf.Tensor4D, w: tf.Tensor4D, opts: Conv2dResampleOptions = {}): tf.Tensor4D {
  return tf.tidy(() => conv2dResampleImpl(x, w, opts));
}

function conv2dResampleImpl(x: tf.Tensor4D, w: tf.Tensor4D, opts: Conv2dResampleOptions): tf.Tensor4D {
  const up = opts.up ?? 1;
  const down = opts.down ?? 1;
  const flipWeight = opts.flipWeight ?? true;
  if (!(Number.isInteger(up) && up >= 1 && Number.isInteger(down) && down >= 1)) {
    throw new Error(`conv2dResample: up and down must be integers >= 1, got up=${up} down=${down}`);
  }
  if (x.shape[3] !== w.shape[2]) {
    throw new Error(`conv2dResample: input has ${x.shape[3]} channels but the weight expects ${w.shape[2]} ([${w.shape}])`);
  }
  const f = opts.f ?? setupFilter(null);
  const [kh, kw] = w.shape;
  const { fw, fh } = f;
  let [px0, px1, py0, py1] = parsePadding(opts.padding);

  if (up > 1) {
    px0 += Math.floor((fw + up - 1) / 2);
    px1 += Math.floor((fw - up) / 2);
    py0 += Math.floor((fh + up - 1) / 2);
    py1 += Math.floor((fh - up) / 2);
  }
  if (down > 1) {
    px0 += Math.floor((fw - down + 1) / 2);
    px1 += Math.floor((fw - down) / 2);
    py0 += Math.floor((fh - down + 1) / 2);
    py1 += Math.floor((fh - down) / 2);
  }

  // 1x1 kernel, downsampling only: downsample first, then convolve.
  if (kw === 1 && kh === 1 && down > 1 && up === 1) {
    const y = upfirdn2d(x, f, { down, padding: [px0, px1, py0, py1], flipFilter: false });
    return conv2dWrapper(y, w, 1, [0, 0], false, flipWeight);
  }
  // 1x1 kernel, upsampling only: convolve first, then upsample.
  if (kw === 1 && kh === 1 && up > 1 && down === 1) {
    const y = conv2dWrapper(x, w, 1, [0, 0], false, flipWeight);
    return upfirdn2d(y, f, { up, padding: [px0, px1, py0, py1], gain: up * up });
  }
  // Downsampling only: filter, then strided convolution.
  if (down > 1 && up === 1) {
    const y = upfirdn2d(x, f, { padding: [px0, px1, py0, py1] });
    return conv2dWrapper(y, w, down, [0, 0], false, flipWeight);
  }
  // Upsampling (with optional downsampling): transposed strided convolution, then filter.
  if (up > 1) {
    px0 -= kw - 1;
    px1 -= kw - up;
    py0 -= kh - 1;
    py1 -= kh - up;
    const pxt = Math.max(Math.min(-px0, -px1), 0);
    const pyt = Math.max(Math.min(-py0, -py1), 0);
    let y = conv2dWrapper(x, w, up, [pyt, pxt], true, !flipWeight);
    y = upfirdn2d(y, f, { padding: [px0 + pxt, px1 + pxt, py0 + pyt, py1 + pyt], gain: up * up });
    if (down > 1) y = upfirdn2d(y, f, { down });
    return y;
  }
  // No resampling, symmetric non-negative padding: plain conv2d.
  if (px0 === px1 && py0 === py1 && px0 >= 0 && py0 >= 0) {
    return conv2dWrapper(x, w, 1, [py0, px0], false, flipWeight);
  }
  // Generic reference path.
  let y = upfirdn2d(x, null, { padding: [px0, px1, py0, py1] });
  y = conv2dWrapper(y, w, 1, [0, 0], false, flipWeight);
  return y;
}
