// Upsample, FIR-filter, downsample (upstream torch_utils/ops/upfirdn2d.py), NHWC.
//
// The forward pass is built from standard tfjs ops (so it runs on every backend, GPU included);
// its gradient is itself an upfirdn2d with swapped up/down, flipped filter and adjusted padding,
// exactly as upstream's CUDA op defines it. That makes gradients of any order available without
// ever differentiating the depthwise convolution kernel.
import { UPFIRDN2D_KERNEL, type UpFirDn2dKernelAttrs, type UpFirDn2dKernelInputs } from './kernel_names.js';
import * as tf from '@tensorflow/tfjs';
import { runCustomKernel } from './kernel_contract.js';
import { customOp } from './custom_op.js';

/** Name of the optional fused kernel (the native addon registers it for the cpu backend). */

/** A prepared 2-D FIR filter, row-major [fh, fw] (upstream setup_filter output). */
export interface Filter {
  readonly data: Float32Array;
  readonly fh: number;
  readonly fw: number;
}

export interface SetupFilterOptions {
  normalize?: boolean; // Divide by the sum so that DC gain is 1.
  flipFilter?: boolean; // Flip both axes.
  gain?: number; // Overall scale of the signal.
}

/**
 * Prepares a filter like upstream `setup_filter`: null = identity [1x1], a number = impulse,
 * 1-D taps become the outer product (upstream keeps >=8 taps separable; the math is the same).
 */
export function setupFilter(f: number | number[] | number[][] | null, opts: SetupFilterOptions = {}): Filter {
  const { normalize = true, flipFilter = false, gain = 1 } = opts;
  let rows: number[][];
  if (f === null) rows = [[1]];
  else if (typeof f === 'number') rows = [[f]];
  else if (f.length === 0) throw new Error('setupFilter: the filter has no taps');
  else if (Array.isArray(f[0])) rows = (f as number[][]).map((r) => r.slice());
  else {
    const t = f as number[];
    rows = t.map((a) => t.map((b) => a * b));
  }
  const fh = rows.length;
  const fw = rows[0].length;
  if (rows.some((r) => r.length !== fw)) throw new Error('setupFilter: the 2-D filter rows differ in length');
  let data = Float32Array.from(rows.flat());
  if (normalize) {
    let s = 0;
    for (const v of data) s += v;
    data = data.map((v) => v / s);
  }
  if (flipFilter) data = data.slice().reverse();
  if (gain !== 1) data = data.map((v) => v * gain);
  return { data, fh, fw };
}

export interface UpFirDn2dOptions {
  up?: number | [number, number]; // Upsampling factor [x, y].
  down?: number | [number, number]; // Downsampling factor [x, y].
  padding?: number | [number, number] | [number, number, number, number]; // [x0, x1, y0, y1].
  flipFilter?: boolean; // False = convolution, true = correlation.
  gain?: number; // Overall scale of the signal.
}

interface Params {
  upx: number;
  upy: number;
  downx: number;
  downy: number;
  px0: number;
  px1: number;
  py0: number;
  py1: number;
  flipFilter: boolean;
  gain: number;
}

function pair(v: number | [number, number] | undefined, name: string): [number, number] {
  const r: [number, number] = v === undefined ? [1, 1] : typeof v === 'number' ? [v, v] : v;
  if (!r.every((s) => Number.isInteger(s) && s >= 1)) throw new Error(`upfirdn2d: ${name} must be integers >= 1, got ${JSON.stringify(v)}`);
  return r;
}

export function parsePadding(p: UpFirDn2dOptions['padding']): [number, number, number, number] {
  if (p === undefined) return [0, 0, 0, 0];
  if (typeof p === 'number') return [p, p, p, p];
  if (p.length === 2) return [p[0], p[0], p[1], p[1]];
  return [p[0], p[1], p[2], p[3]];
}

function parse(opts: UpFirDn2dOptions): Params {
  const [upx, upy] = pair(opts.up, 'up');
  const [downx, downy] = pair(opts.down, 'down');
  const [px0, px1, py0, py1] = parsePadding(opts.padding);
  return { upx, upy, downx, downy, px0, px1, py0, py1, flipFilter: opts.flipFilter ?? false, gain: opts.gain ?? 1 };
}

/** Output size along one axis. */
function outSize(n: number, up: number, p0: number, p1: number, ftaps: number, down: number): number {
  return Math.floor((n * up + p0 + p1 - ftaps) / down) + 1;
}

/**
 * Zero insertion for upsampling: up - 1 zeros after every pixel, along x then y, each as one pad of
 * a rank-4 view. (One pad of the rank-6 view [n, h, 1, w, 1, c] would do both, but tfjs' webgpu
 * backend generates a shader for rank-5/6 pads that does not compile, and then returns zeros.)
 */
export function insertZeros(x: tf.Tensor4D, upx: number, upy: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  let y = x;
  if (upx > 1)
    y = y
      .reshape([n * h, w, 1, c])
      .pad([
        [0, 0],
        [0, 0],
        [0, upx - 1],
        [0, 0],
      ])
      .reshape([n, h, w * upx, c]);
  if (upy > 1)
    y = y
      .reshape([n, h, 1, w * upx * c])
      .pad([
        [0, 0],
        [0, 0],
        [0, upy - 1],
        [0, 0],
      ])
      .reshape([n, h * upy, w * upx, c]);
  return y;
}

// Forward: the fused kernel where the backend has one, else standard ops (zero-insertion,
// pad/crop, depthwise FIR, strided slice).
function forward(x: tf.Tensor4D, f: Filter, p: Params, outShape: [number, number, number, number]): tf.Tensor4D {
  if (tf.getKernel(UPFIRDN2D_KERNEL, tf.getBackend())) {
    const taps = (p.flipFilter ? f.data : f.data.slice().reverse()).map((v) => v * p.gain);
    const attrs: UpFirDn2dKernelAttrs = {
      taps: Float32Array.from(taps),
      fh: f.fh,
      fw: f.fw,
      up: [p.upx, p.upy],
      down: [p.downx, p.downy],
      pad: [p.px0, p.px1, p.py0, p.py1],
      outShape,
    };
    return runCustomKernel<UpFirDn2dKernelInputs, UpFirDn2dKernelAttrs>(UPFIRDN2D_KERNEL, { x }, attrs)[0] as tf.Tensor4D;
  }
  const [n, , , c] = x.shape;
  let y: tf.Tensor4D = x;
  if (p.upx > 1 || p.upy > 1) y = insertZeros(y, p.upx, p.upy);
  if (p.px0 > 0 || p.px1 > 0 || p.py0 > 0 || p.py1 > 0) {
    y = y.pad([
      [0, 0],
      [Math.max(p.py0, 0), Math.max(p.py1, 0)],
      [Math.max(p.px0, 0), Math.max(p.px1, 0)],
      [0, 0],
    ]);
  }
  if (p.px0 < 0 || p.px1 < 0 || p.py0 < 0 || p.py1 < 0) {
    const [, hh, ww] = y.shape;
    const t = Math.max(-p.py0, 0),
      l = Math.max(-p.px0, 0);
    y = y.slice([0, t, l, 0], [n, hh - t - Math.max(-p.py1, 0), ww - l - Math.max(-p.px1, 0), c]);
  }
  if (f.fh > 1 || f.fw > 1) {
    // Upstream flips the filter unless flip_filter (conv2d performs correlation).
    const taps = p.flipFilter ? f.data : f.data.slice().reverse();
    const k = new Float32Array(f.fh * f.fw * c);
    for (let i = 0; i < f.fh * f.fw; i++) k.fill(taps[i] * p.gain, i * c, (i + 1) * c);
    y = tf.depthwiseConv2d(y, tf.tensor4d(k, [f.fh, f.fw, c, 1]), 1, 'valid');
  } else if (f.data[0] * p.gain !== 1) {
    y = y.mul(f.data[0] * p.gain);
  }
  if (p.downx > 1 || p.downy > 1) {
    const [, hh, ww] = y.shape;
    y = tf.stridedSlice(y, [0, 0, 0, 0], [n, hh, ww, c], [1, p.downy, p.downx, 1]) as tf.Tensor4D;
  }
  return y;
}

function run(x: tf.Tensor4D, f: Filter, p: Params): tf.Tensor4D {
  const [, ih, iw] = x.shape;
  const oh = outSize(ih, p.upy, p.py0, p.py1, f.fh, p.downy);
  const ow = outSize(iw, p.upx, p.px0, p.px1, f.fw, p.downx);
  if (oh < 1 || ow < 1) {
    throw new Error(`upfirdn2d: input ${ih}x${iw} with this padding/filter gives an empty output (${oh}x${ow})`);
  }
  const op = customOp(([xi]) => ({
    value: forward(xi as tf.Tensor4D, f, p, [x.shape[0], oh, ow, x.shape[3]]),
    gradFunc: (dy) => {
      // Upstream _upfirdn2d_cuda.backward: the adjoint is another upfirdn2d.
      const bp: Params = {
        upx: p.downx,
        upy: p.downy,
        downx: p.upx,
        downy: p.upy,
        px0: f.fw - p.px0 - 1,
        px1: iw * p.upx - ow * p.downx + p.px0 - p.upx + 1,
        py0: f.fh - p.py0 - 1,
        py1: ih * p.upy - oh * p.downy + p.py0 - p.upy + 1,
        flipFilter: !p.flipFilter,
        gain: p.gain,
      };
      return run(dy as tf.Tensor4D, f, bp);
    },
  }));
  return op(x) as tf.Tensor4D;
}

/** upfirdn2d on an NHWC tensor. `f` null means the identity filter. */
export function upfirdn2d(x: tf.Tensor4D, f: Filter | null, opts: UpFirDn2dOptions = {}): tf.Tensor4D {
  if (x.rank !== 4) throw new Error(`upfirdn2d: expected an NHWC rank-4 tensor, got shape [${x.shape}]`);
  const p = parse(opts);
  return tf.tidy(() => run(x, f ?? setupFilter(null), p));
}

/** 2x (or `up`x) upsampling with the filter, upstream upsample2d. */
export function upsample2d(x: tf.Tensor4D, f: Filter, up = 2, gain = 1): tf.Tensor4D {
  return upfirdn2d(x, f, {
    up,
    padding: [Math.floor((f.fw + up - 1) / 2), Math.floor((f.fw - up) / 2), Math.floor((f.fh + up - 1) / 2), Math.floor((f.fh - up) / 2)],
    gain: gain * up * up,
  });
}

/** 2x (or `down`x) downsampling with the filter, upstream downsample2d. */
export function downsample2d(x: tf.Tensor4D, f: Filter, down = 2, gain = 1): tf.Tensor4D {
  return upfirdn2d(x, f, {
    down,
    padding: [Math.floor((f.fw - down + 1) / 2), Math.floor((f.fw - down) / 2), Math.floor((f.fh - down + 1) / 2), Math.floor((f.fh - down) / 2)],
    gain,
  });
}
