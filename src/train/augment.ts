// Adaptive discriminator augmentation (upstream training/augment.py, AugmentPipe), NHWC.
//
// Per-sample transforms are drawn on the host from the seeded stream, composed into one inverse
// 3x3 geometric matrix and one 4x4 color matrix per sample, and executed as upstream does:
// reflect padding -> 2x upsampling with the sym6 wavelet -> bilinear sampling -> 2x downsampling,
// then the color matrix. Every step is a gather, an upfirdn2d or a matrix product, so the whole
// pipeline is differentiable to second order (R1 differentiates through it).
import * as tf from '@tensorflow/tfjs';
import { setupFilter, upfirdn2d, upsample2d } from '../ops/upfirdn2d.js';
import { sparseMap } from '../ops/sparse_map.js';
import { Rng } from '../rng.js';

// Orthogonal low-pass filter for the geometric transforms (Symlet 6 decomposition low-pass taps).
const SYM6 = [
  0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633, 0.4910559419267466, 0.787641141030194, 0.3379294217276218,
  -0.07263752278646252, -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
];

export interface PipeSpec {
  xflip: number;
  rotate90: number;
  xint: number;
  scale: number;
  rotate: number;
  aniso: number;
  xfrac: number;
  brightness: number;
  contrast: number;
  lumaflip: number;
  hue: number;
  saturation: number;
}
const ZERO: PipeSpec = {
  xflip: 0,
  rotate90: 0,
  xint: 0,
  scale: 0,
  rotate: 0,
  aniso: 0,
  xfrac: 0,
  brightness: 0,
  contrast: 0,
  lumaflip: 0,
  hue: 0,
  saturation: 0,
};
const BLIT = { xflip: 1, rotate90: 1, xint: 1 };
const GEOM = { scale: 1, rotate: 1, aniso: 1, xfrac: 1 };
const COLOR = { brightness: 1, contrast: 1, lumaflip: 1, hue: 1, saturation: 1 };

/** Upstream's pipeline presets (the ones without image-space filtering, noise or cutout). */
export const AUGPIPES: Record<string, PipeSpec> = {
  blit: { ...ZERO, ...BLIT },
  geom: { ...ZERO, ...GEOM },
  color: { ...ZERO, ...COLOR },
  bg: { ...ZERO, ...BLIT, ...GEOM },
  bgc: { ...ZERO, ...BLIT, ...GEOM, ...COLOR },
};

// Upstream constants.
const XINT_MAX = 0.125,
  SCALE_STD = 0.2,
  ROTATE_MAX = 1,
  ANISO_STD = 0.2,
  XFRAC_STD = 0.125;
const BRIGHTNESS_STD = 0.2,
  CONTRAST_STD = 0.5,
  HUE_MAX = 1,
  SATURATION_STD = 1;

/** Uniform [0, 1) and standard normal draws; upstream draws from torch.rand / torch.randn. */
export interface DrawSource {
  rand(n: number): number[];
  randn(n: number): number[];
}

export function rngSource(rng: Rng): DrawSource {
  return { rand: (n) => Array.from({ length: n }, () => rng.next()), randn: (n) => Array.from(rng.normalArray(n)) };
}

type M3 = number[]; // row-major 3x3
type M4 = number[]; // row-major 4x4

function mul3(a: M3, b: M3): M3 {
  const o = new Array(9).fill(0);
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 3; k++) o[i * 3 + j] += a[i * 3 + k] * b[k * 3 + j];
  return o;
}
function mul4(a: M4, b: M4): M4 {
  const o = new Array(16).fill(0);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 4; k++) o[i * 4 + j] += a[i * 4 + k] * b[k * 4 + j];
  return o;
}
const I3: M3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
const I4: M4 = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1];
const translate2d = (tx: number, ty: number): M3 => [1, 0, tx, 0, 1, ty, 0, 0, 1];
const scale2d = (sx: number, sy: number): M3 => [sx, 0, 0, 0, sy, 0, 0, 0, 1];
const rotate2d = (t: number): M3 => [Math.cos(t), -Math.sin(t), 0, Math.sin(t), Math.cos(t), 0, 0, 0, 1];
const translate3d = (x: number, y: number, z: number): M4 => [1, 0, 0, x, 0, 1, 0, y, 0, 0, 1, z, 0, 0, 0, 1];
const scale3d = (x: number, y: number, z: number): M4 => [x, 0, 0, 0, 0, y, 0, 0, 0, 0, z, 0, 0, 0, 0, 1];
function rotate3d(v: number[], t: number): M4 {
  const [x, y, z] = v,
    s = Math.sin(t),
    c = Math.cos(t),
    cc = 1 - c;
  return [
    x * x * cc + c,
    x * y * cc - z * s,
    x * z * cc + y * s,
    0,
    y * x * cc + z * s,
    y * y * cc + c,
    y * z * cc - x * s,
    0,
    z * x * cc - y * s,
    z * y * cc + x * s,
    z * z * cc + c,
    0,
    0,
    0,
    0,
    1,
  ];
}

export class AugmentPipe {
  readonly spec: PipeSpec;
  private readonly hz = setupFilter(SYM6);
  private readonly hzPad = Math.floor(SYM6.length / 4);

  /**
   * `pipe`: one of AUGPIPES, or per-transform probability multipliers; `p`: the overall
   * augmentation probability (ADA adjusts it).
   */
  constructor(
    pipe: string | Partial<PipeSpec>,
    public p = 0,
  ) {
    const spec = typeof pipe === 'string' ? AUGPIPES[pipe] : { ...ZERO, ...pipe };
    if (!spec) throw new Error(`unknown augmentation pipeline '${pipe}'; choose one of ${Object.keys(AUGPIPES).join(', ')}`);
    this.spec = spec;
  }

  /** Augments NHWC images in [-1, 1]; the identity (no work) while p is 0. */
  apply(images: tf.Tensor4D, rng: Rng | DrawSource): tf.Tensor4D {
    if (this.p <= 0) return images;
    const src = rng instanceof Rng ? rngSource(rng) : rng;
    return tf.tidy(() => this.color(this.geometric(images, src), src));
  }

  // Draws follow upstream's order exactly (per transform: a batch of values, then a batch of
  // probabilities), so a recorded upstream draw sequence replays to the same augmentation.
  private geometric(images: tf.Tensor4D, d: DrawSource): tf.Tensor4D {
    const s = this.spec,
      p = this.p;
    const [n, h, w] = images.shape;
    if (!(s.xflip || s.rotate90 || s.xint || s.scale || s.rotate || s.aniso || s.xfrac)) return images;
    const G: M3[] = Array.from({ length: n }, () => I3);
    const apply = (f: (b: number) => M3) => {
      for (let b = 0; b < n; b++) G[b] = mul3(G[b], f(b));
    };
    const gate = (v: number[], prob: number, off: number) => {
      const u = d.rand(n);
      return v.map((x, b) => (u[b] < prob ? x : off));
    };
    if (s.xflip) {
      const i = gate(
        d.rand(n).map((u) => Math.floor(u * 2)),
        s.xflip * p,
        0,
      );
      apply((b) => scale2d(1 / (1 - 2 * i[b]), 1));
    }
    if (s.rotate90) {
      const i = gate(
        d.rand(n).map((u) => Math.floor(u * 4)),
        s.rotate90 * p,
        0,
      );
      apply((b) => rotate2d((Math.PI / 2) * i[b])); // rotate2d_inv(-pi/2 * i)
    }
    if (s.xint) {
      const t = d.rand(2 * n).map((u) => (u * 2 - 1) * XINT_MAX);
      const on = d.rand(n).map((u) => u < s.xint * p);
      apply((b) => translate2d(-Math.round((on[b] ? t[2 * b] : 0) * w), -Math.round((on[b] ? t[2 * b + 1] : 0) * h)));
    }
    if (s.scale) {
      const v = gate(
        d.randn(n).map((z) => 2 ** (z * SCALE_STD)),
        s.scale * p,
        1,
      );
      apply((b) => scale2d(1 / v[b], 1 / v[b]));
    }
    const pRot = 1 - Math.sqrt(Math.min(Math.max(1 - s.rotate * p, 0), 1)); // P(pre or post) = p
    if (s.rotate) {
      const th = gate(
        d.rand(n).map((u) => (u * 2 - 1) * Math.PI * ROTATE_MAX),
        pRot,
        0,
      );
      apply((b) => rotate2d(th[b])); // rotate2d_inv(-theta), before anisotropic scaling
    }
    if (s.aniso) {
      const v = gate(
        d.randn(n).map((z) => 2 ** (z * ANISO_STD)),
        s.aniso * p,
        1,
      );
      apply((b) => scale2d(1 / v[b], v[b]));
    }
    if (s.rotate) {
      const th = gate(
        d.rand(n).map((u) => (u * 2 - 1) * Math.PI * ROTATE_MAX),
        pRot,
        0,
      );
      apply((b) => rotate2d(th[b])); // after anisotropic scaling
    }
    if (s.xfrac) {
      const t = d.randn(2 * n).map((z) => z * XFRAC_STD);
      const on = d.rand(n).map((u) => u < s.xfrac * p);
      apply((b) => translate2d(-(on[b] ? t[2 * b] : 0) * w, -(on[b] ? t[2 * b + 1] : 0) * h));
    }
    const gInv = G;
    // Padding: enough reflected margin for every sample's corners, as upstream computes it.
    const cx = (w - 1) / 2,
      cy = (h - 1) / 2;
    const corners = [
      [-cx, -cy],
      [cx, -cy],
      [cx, cy],
      [-cx, cy],
    ];
    const m = [-Infinity, -Infinity, -Infinity, -Infinity]; // x0, y0, x1, y1
    for (const G of gInv)
      for (const [x, y] of corners) {
        const px = G[0] * x + G[1] * y + G[2],
          py = G[3] * x + G[4] * y + G[5];
        m[0] = Math.max(m[0], -px);
        m[1] = Math.max(m[1], -py);
        m[2] = Math.max(m[2], px);
        m[3] = Math.max(m[3], py);
      }
    const hp = this.hzPad;
    const lim = [w - 1, h - 1, w - 1, h - 1];
    const [mx0, my0, mx1, my1] = m.map((v, i) => Math.ceil(Math.min(Math.max(v + (i % 2 === 0 ? hp * 2 - cx : hp * 2 - cy), 0), lim[i])));
    let x = reflectPad(images, mx0, mx1, my0, my1);
    const ph = h + my0 + my1,
      pw = w + mx0 + mx1;

    // 2x upsampling with the wavelet filter.
    x = upsample2d(x, this.hz);
    const inH = ph * 2,
      inW = pw * 2;
    const outH = (h + hp * 2) * 2,
      outW = (w + hp * 2) * 2;
    // G_inv in normalized [-1, 1] coordinates of the upsampled padded image (upstream's chain).
    const thetas = gInv.map((G0) => {
      let G = mul3(translate2d((mx0 - mx1) / 2, (my0 - my1) / 2), G0);
      G = mul3(mul3(scale2d(2, 2), G), scale2d(1 / 2, 1 / 2));
      G = mul3(mul3(translate2d(-0.5, -0.5), G), translate2d(0.5, 0.5));
      return mul3(mul3(scale2d(2 / inW, 2 / inH), G), scale2d(outW / 2, outH / 2));
    });
    x = gridSampleBilinear(x, thetas, outH, outW);

    // 2x downsampling with the flipped wavelet filter, cropping the extra margin.
    // (upstream downsample2d(padding=-2*Hz_pad, flip_filter=True))
    const a = -hp * 2 + Math.floor((this.hz.fw - 1) / 2),
      b = -hp * 2 + Math.floor((this.hz.fw - 2) / 2);
    return upfirdn2d(x, this.hz, { down: 2, padding: [a, b, a, b], flipFilter: true });
  }

  private color(images: tf.Tensor4D, d: DrawSource): tf.Tensor4D {
    const s = this.spec,
      p = this.p;
    const [n, h, w, c] = images.shape;
    if (!(s.brightness || s.contrast || s.lumaflip || s.hue || s.saturation)) return images;
    const v = [1, 1, 1, 0].map((a) => a / Math.sqrt(3)); // luma axis
    const vv = v.flatMap((a) => v.map((b) => a * b));
    const Cs: M4[] = Array.from({ length: n }, () => I4);
    const pre = (f: (b: number) => M4) => {
      for (let b = 0; b < n; b++) Cs[b] = mul4(f(b), Cs[b]);
    };
    const gate = (vals: number[], prob: number, off: number) => {
      const u = d.rand(n);
      return vals.map((x, b) => (u[b] < prob ? x : off));
    };
    if (s.brightness) {
      const bv = gate(
        d.randn(n).map((z) => z * BRIGHTNESS_STD),
        s.brightness * p,
        0,
      );
      pre((b) => translate3d(bv[b], bv[b], bv[b]));
    }
    if (s.contrast) {
      const cv = gate(
        d.randn(n).map((z) => 2 ** (z * CONTRAST_STD)),
        s.contrast * p,
        1,
      );
      pre((b) => scale3d(cv[b], cv[b], cv[b]));
    }
    if (s.lumaflip) {
      const i = gate(
        d.rand(n).map((u) => Math.floor(u * 2)),
        s.lumaflip * p,
        0,
      );
      pre((b) => I4.map((a, k) => a - 2 * vv[k] * i[b])); // Householder reflection
    }
    if (s.hue && c > 1) {
      const th = gate(
        d.rand(n).map((u) => (u * 2 - 1) * Math.PI * HUE_MAX),
        s.hue * p,
        0,
      );
      pre((b) => rotate3d(v, th[b]));
    }
    if (s.saturation && c > 1) {
      const sv = gate(
        d.randn(n).map((z) => 2 ** (z * SATURATION_STD)),
        s.saturation * p,
        1,
      );
      pre((b) => vv.map((a, k) => a + (I4[k] - a) * sv[b]));
    }
    if (c === 3) {
      // y = x @ C[:3,:3]^T + C[:3,3] per sample.
      const mt = new Float32Array(n * 9),
        off = new Float32Array(n * 3);
      Cs.forEach((C, b) => {
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 3; j++) mt[b * 9 + j * 3 + i] = C[i * 4 + j];
          off[b * 3 + i] = C[i * 4 + 3];
        }
      });
      return tf
        .matMul(images.reshape([n, h * w, 3]), tf.tensor3d(mt, [n, 3, 3]))
        .add(tf.tensor3d(off, [n, 1, 3]))
        .reshape([n, h, w, 3]) as tf.Tensor4D;
    }
    // Grayscale: upstream averages the RGB rows of C.
    const scale = new Float32Array(n),
      off = new Float32Array(n);
    Cs.forEach((C, b) => {
      let sc = 0,
        of = 0;
      for (let i = 0; i < 3; i++) {
        sc += (C[i * 4] + C[i * 4 + 1] + C[i * 4 + 2]) / 3;
        of += C[i * 4 + 3] / 3;
      }
      scale[b] = sc;
      off[b] = of;
    });
    return images.mul(tf.tensor4d(scale, [n, 1, 1, 1])).add(tf.tensor4d(off, [n, 1, 1, 1])) as tf.Tensor4D;
  }
}

/** torch 'reflect' padding (edge not repeated) as a sparse row map: differentiable to any order. */
export function reflectPad(x: tf.Tensor4D, left: number, right: number, top: number, bottom: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (left >= w || right >= w || top >= h || bottom >= h) throw new Error(`reflectPad: padding must be smaller than the image (${h}x${w})`);
  const refl = (q: number, len: number) => (q < 0 ? -q : q >= len ? 2 * (len - 1) - q : q);
  const oh = h + top + bottom,
    ow = w + left + right;
  const idx = new Int32Array(n * oh * ow);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        idx[(b * oh + i) * ow + j] = (b * h + refl(i - top, h)) * w + refl(j - left, w);
      }
  return sparseMap(x.reshape([n * h * w, c]), { idx, w: null, P: n * oh * ow, K: 1, M: n * h * w }).reshape([n, oh, ow, c]);
}

/**
 * torch grid_sample(bilinear, zeros padding, align_corners=False) on the grid that
 * affine_grid(theta, align_corners=False) makes, as a fixed sparse linear map (4 taps per output
 * pixel). thetas: per-sample row-major 3x3 (only the first two rows are used).
 */
export function gridSampleBilinear(x: tf.Tensor4D, thetas: number[][], outH: number, outW: number): tf.Tensor4D {
  const [n, inH, inW, c] = x.shape;
  const P = outH * outW;
  const index = new Int32Array(n * P * 4);
  const weight = new Float32Array(n * P * 4);
  for (let b = 0; b < n; b++) {
    const T = thetas[b];
    for (let i = 0; i < outH; i++) {
      const yn = (2 * i + 1) / outH - 1;
      for (let j = 0; j < outW; j++) {
        const xn = (2 * j + 1) / outW - 1;
        const gx = T[0] * xn + T[1] * yn + T[2];
        const gy = T[3] * xn + T[4] * yn + T[5];
        const ix = ((gx + 1) * inW - 1) / 2,
          iy = ((gy + 1) * inH - 1) / 2;
        const x0 = Math.floor(ix),
          y0 = Math.floor(iy);
        const fx = ix - x0,
          fy = iy - y0;
        const k = ((b * outH + i) * outW + j) * 4;
        // The 4 taps (y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1); outside ones weigh 0.
        for (let t = 0; t < 4; t++) {
          const yy = y0 + (t >> 1),
            xx = x0 + (t & 1);
          const inside = yy >= 0 && yy < inH && xx >= 0 && xx < inW;
          index[k + t] = inside ? (b * inH + yy) * inW + xx : 0;
          weight[k + t] = inside ? (t >> 1 ? fy : 1 - fy) * (t & 1 ? fx : 1 - fx) : 0;
        }
      }
    }
  }
  const y = sparseMap(x.reshape([n * inH * inW, c]), { idx: index, w: weight, P: n * P, K: 4, M: n * inH * inW });
  return y.reshape([n, outH, outW, c]);
}
