// Slow, obviously-correct reference implementations on flat NHWC arrays, for op tests.

export type Shape4 = [number, number, number, number];

/** upfirdn2d by its definition: zero-insert, pad/crop, correlate with the (flipped) filter, decimate. */
export function refUpfirdn2d(
  x: Float32Array,
  [n, h, w, c]: Shape4,
  f: number[][],
  up: number,
  down: number,
  [px0, px1, py0, py1]: number[],
  flip: boolean,
  gain: number,
): { data: Float32Array; shape: Shape4 } {
  const fh = f.length,
    fw = f[0].length;
  const H = h * up + py0 + py1,
    W = w * up + px0 + px1;
  const oh = Math.floor((H - fh) / down) + 1,
    ow = Math.floor((W - fw) / down) + 1;
  const out = new Float32Array(n * oh * ow * c);
  const U = (b: number, yy: number, xx: number, ch: number) => {
    const sy = yy - py0,
      sx = xx - px0;
    if (sy < 0 || sx < 0 || sy % up || sx % up || sy / up >= h || sx / up >= w) return 0;
    return x[((b * h + sy / up) * w + sx / up) * c + ch];
  };
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let ky = 0; ky < fh; ky++)
            for (let kx = 0; kx < fw; kx++) {
              const tap = flip ? f[ky][kx] : f[fh - 1 - ky][fw - 1 - kx];
              s += U(b, oy * down + ky, ox * down + kx, ch) * tap;
            }
          out[((b * oh + oy) * ow + ox) * c + ch] = s * gain;
        }
  return { data: out, shape: [n, oh, ow, c] };
}

/** Correlation of NHWC x with w [kh, kw, I, O], no padding, stride 1. */
export function refConvValid(x: Float32Array, [n, h, w, c]: Shape4, wt: Float32Array, [kh, kw, ci, co]: Shape4): { data: Float32Array; shape: Shape4 } {
  if (ci !== c) throw new Error('channels');
  const oh = h - kh + 1,
    ow = w - kw + 1;
  const out = new Float32Array(n * oh * ow * co);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let o = 0; o < co; o++) {
          let s = 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++)
              for (let i = 0; i < c; i++) {
                s += x[((b * h + oy + ky) * w + ox + kx) * c + i] * wt[((ky * kw + kx) * ci + i) * co + o];
              }
          out[((b * oh + oy) * ow + ox) * co + o] = s;
        }
  return { data: out, shape: [n, oh, ow, co] };
}

/** Upstream conv2d_resample's generic reference path (not the fast paths the port takes). */
export function refConv2dResample(x: Float32Array, xs: Shape4, wt: Float32Array, ws: Shape4, f: number[][], up: number, down: number, padding: number) {
  const fh = f.length,
    fw = f[0].length;
  const [kh, kw] = ws;
  let [px0, px1, py0, py1] = [padding, padding, padding, padding];
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
  void kh;
  void kw;
  let r = refUpfirdn2d(x, xs, up > 1 ? f : [[1]], up, 1, [px0, px1, py0, py1], false, up * up);
  r = refConvValid(r.data, r.shape, wt, ws);
  if (down > 1) r = refUpfirdn2d(r.data, r.shape, f, 1, down, [0, 0, 0, 0], false, 1);
  return r;
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function randomArray(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    a[i] = (s / 4294967296) * 2 - 1;
  }
  return a;
}

export function normalizedFilter(taps: number[]): number[][] {
  const s = taps.reduce((a, b) => a + b, 0) ** 2;
  return taps.map((a) => taps.map((b) => (a * b) / s));
}
