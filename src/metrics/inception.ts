// The FID feature network: Inception-v3 as pytorch-fid builds it (fid_inception_v3: the 2015-12-05
// TensorFlow graph's pool3 features, 2048-d), NHWC, from a pytorch-fid state dict
// (pt_inception-2015-12-05-6726825d.pth). BatchNorm (eval, eps 0.001) is folded into each conv
// once at load. Two input protocols:
//   pytorch-fid: u8/255 -> bilinear resize to 299 (half-pixel centers) -> 2x-1
//   nvidia (stylegan2-ada-pytorch fid50k_full): float(u8) -> TF1 bilinear resize (no half-pixel
//     centers) -> (x-128)/128
import * as tf from '@tensorflow/tfjs';
import type { NamedArray } from '../networks/params.js';
import { biasReluInference } from '../ops/bias_act.js';

export type FidProtocol = 'nvidia' | 'pytorch-fid';

interface ConvSpec {
  name: string;
  stride?: number;
  pad?: [number, number];
}

class BasicConv {
  readonly w: tf.Tensor4D;
  readonly b: tf.Tensor1D;
  readonly stride: number;
  readonly pad: [number, number];

  constructor(sd: Map<string, NamedArray>, s: ConvSpec) {
    const get = (k: string) => {
      const v = sd.get(`${s.name}.${k}`);
      if (!v) throw new Error(`Inception weights: ${s.name}.${k} is missing; is this pytorch-fid's pt_inception-2015-12-05 state dict?`);
      return v;
    };
    const w = get('conv.weight'),
      g = get('bn.weight'),
      beta = get('bn.bias'),
      mean = get('bn.running_mean'),
      vr = get('bn.running_var');
    const [O, I, kh, kw] = w.shape;
    const folded = new Float32Array(kh * kw * I * O);
    const bias = new Float32Array(O);
    for (let o = 0; o < O; o++) {
      const sc = g.data[o] / Math.sqrt(vr.data[o] + 0.001);
      bias[o] = beta.data[o] - mean.data[o] * sc;
      for (let i = 0; i < I; i++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) {
            folded[((y * kw + x) * I + i) * O + o] = w.data[((o * I + i) * kh + y) * kw + x] * sc;
          }
    }
    this.w = tf.keep(tf.tensor4d(folded, [kh, kw, I, O]));
    this.b = tf.keep(tf.tensor1d(bias));
    this.stride = s.stride ?? 1;
    this.pad = s.pad ?? [Math.floor(kh / 2), Math.floor(kw / 2)];
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const [ph, pw] = this.pad;
    const pad: 'valid' | [[number, number], [number, number], [number, number], [number, number]] =
      ph || pw
        ? [
            [0, 0],
            [ph, ph],
            [pw, pw],
            [0, 0],
          ]
        : 'valid';
    const y = tf.conv2d(x, this.w, this.stride, pad);
    return biasReluInference(y, this.b) as tf.Tensor4D; // one fused pass where the backend has it
  }

  dispose(): void {
    tf.dispose([this.w, this.b]);
  }
}

type Branch = (x: tf.Tensor4D) => tf.Tensor4D;

export class InceptionV3 {
  private convs = new Map<string, BasicConv>();

  /** Builds the network from a pytorch-fid state dict (upstream names and layouts). */
  constructor(sd: Map<string, NamedArray>) {
    const add = (name: string, stride = 1, pad?: [number, number]) => this.convs.set(name, new BasicConv(sd, { name, stride, pad }));
    add('Conv2d_1a_3x3', 2, [0, 0]);
    add('Conv2d_2a_3x3', 1, [0, 0]);
    add('Conv2d_2b_3x3');
    add('Conv2d_3b_1x1');
    add('Conv2d_4a_3x3', 1, [0, 0]);
    for (const m of ['Mixed_5b', 'Mixed_5c', 'Mixed_5d'])
      for (const b of ['branch1x1', 'branch5x5_1', 'branch5x5_2', 'branch3x3dbl_1', 'branch3x3dbl_2', 'branch3x3dbl_3', 'branch_pool']) add(`${m}.${b}`);
    add('Mixed_6a.branch3x3', 2, [0, 0]);
    add('Mixed_6a.branch3x3dbl_1');
    add('Mixed_6a.branch3x3dbl_2');
    add('Mixed_6a.branch3x3dbl_3', 2, [0, 0]);
    for (const m of ['Mixed_6b', 'Mixed_6c', 'Mixed_6d', 'Mixed_6e']) {
      for (const b of [
        'branch1x1',
        'branch7x7_1',
        'branch7x7_2',
        'branch7x7_3',
        'branch7x7dbl_1',
        'branch7x7dbl_2',
        'branch7x7dbl_3',
        'branch7x7dbl_4',
        'branch7x7dbl_5',
        'branch_pool',
      ])
        add(`${m}.${b}`);
    }
    add('Mixed_7a.branch3x3_1');
    add('Mixed_7a.branch3x3_2', 2, [0, 0]);
    add('Mixed_7a.branch7x7x3_1');
    add('Mixed_7a.branch7x7x3_2');
    add('Mixed_7a.branch7x7x3_3');
    add('Mixed_7a.branch7x7x3_4', 2, [0, 0]);
    for (const m of ['Mixed_7b', 'Mixed_7c']) {
      for (const b of [
        'branch1x1',
        'branch3x3_1',
        'branch3x3_2a',
        'branch3x3_2b',
        'branch3x3dbl_1',
        'branch3x3dbl_2',
        'branch3x3dbl_3a',
        'branch3x3dbl_3b',
        'branch_pool',
      ])
        add(`${m}.${b}`);
    }
  }

  /** Conv layers with their geometry (for checks against the reference description). */
  layers(): { name: string; kernel: [number, number]; stride: number; padding: [number, number]; in: number; out: number }[] {
    return [...this.convs.entries()].map(([name, c]) => ({
      name,
      kernel: [c.w.shape[0], c.w.shape[1]],
      stride: c.stride,
      padding: c.pad,
      in: c.w.shape[2],
      out: c.w.shape[3],
    }));
  }

  private c(name: string): Branch {
    const conv = this.convs.get(name)!;
    return (x) => conv.apply(x);
  }

  private seq(...names: string[]): Branch {
    return (x) => names.reduce((h, n) => this.c(n)(h), x);
  }

  // count_include_pad=False average pooling == TF 'same' average pooling.
  private avgPool = (x: tf.Tensor4D) => tf.avgPool(x, 3, 1, 'same') as tf.Tensor4D;

  private A(m: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat(
      [
        this.c(`${m}.branch1x1`)(x),
        this.seq(`${m}.branch5x5_1`, `${m}.branch5x5_2`)(x),
        this.seq(`${m}.branch3x3dbl_1`, `${m}.branch3x3dbl_2`, `${m}.branch3x3dbl_3`)(x),
        this.c(`${m}.branch_pool`)(this.avgPool(x)),
      ],
      3,
    );
  }

  private C(m: string, x: tf.Tensor4D): tf.Tensor4D {
    return tf.concat(
      [
        this.c(`${m}.branch1x1`)(x),
        this.seq(`${m}.branch7x7_1`, `${m}.branch7x7_2`, `${m}.branch7x7_3`)(x),
        this.seq(`${m}.branch7x7dbl_1`, `${m}.branch7x7dbl_2`, `${m}.branch7x7dbl_3`, `${m}.branch7x7dbl_4`, `${m}.branch7x7dbl_5`)(x),
        this.c(`${m}.branch_pool`)(this.avgPool(x)),
      ],
      3,
    );
  }

  private E(m: string, x: tf.Tensor4D, maxPool: boolean): tf.Tensor4D {
    const b3 = this.c(`${m}.branch3x3_1`)(x);
    const bd = this.seq(`${m}.branch3x3dbl_1`, `${m}.branch3x3dbl_2`)(x);
    const pool = maxPool ? (tf.maxPool(x, 3, 1, 'same') as tf.Tensor4D) : this.avgPool(x);
    return tf.concat(
      [
        this.c(`${m}.branch1x1`)(x),
        this.c(`${m}.branch3x3_2a`)(b3),
        this.c(`${m}.branch3x3_2b`)(b3),
        this.c(`${m}.branch3x3dbl_3a`)(bd),
        this.c(`${m}.branch3x3dbl_3b`)(bd),
        this.c(`${m}.branch_pool`)(pool),
      ],
      3,
    );
  }

  /** Block outputs (0..3, pytorch-fid's) for network inputs [N, 299, 299, 3] in the network's range. */
  blocks(x: tf.Tensor4D): tf.Tensor4D[] {
    return tf.tidy(() => {
      let h = this.seq('Conv2d_1a_3x3', 'Conv2d_2a_3x3', 'Conv2d_2b_3x3')(x);
      const b0 = tf.maxPool(h, 3, 2, 'valid') as tf.Tensor4D;
      h = this.seq('Conv2d_3b_1x1', 'Conv2d_4a_3x3')(b0);
      const b1 = tf.maxPool(h, 3, 2, 'valid') as tf.Tensor4D;
      h = this.A('Mixed_5d', this.A('Mixed_5c', this.A('Mixed_5b', b1)));
      h = tf.concat(
        [
          this.c('Mixed_6a.branch3x3')(h),
          this.seq('Mixed_6a.branch3x3dbl_1', 'Mixed_6a.branch3x3dbl_2', 'Mixed_6a.branch3x3dbl_3')(h),
          tf.maxPool(h, 3, 2, 'valid') as tf.Tensor4D,
        ],
        3,
      );
      const b2 = this.C('Mixed_6e', this.C('Mixed_6d', this.C('Mixed_6c', this.C('Mixed_6b', h))));
      h = tf.concat(
        [
          this.seq('Mixed_7a.branch3x3_1', 'Mixed_7a.branch3x3_2')(b2),
          this.seq('Mixed_7a.branch7x7x3_1', 'Mixed_7a.branch7x7x3_2', 'Mixed_7a.branch7x7x3_3', 'Mixed_7a.branch7x7x3_4')(b2),
          tf.maxPool(b2, 3, 2, 'valid') as tf.Tensor4D,
        ],
        3,
      );
      const b3 = this.E('Mixed_7c', this.E('Mixed_7b', h, false), true);
      return [b0, b1, b2, b3];
    });
  }

  /** pool3 features [N, 2048] for network inputs [N, 299, 299, 3]. */
  features(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const bs = this.blocks(x);
      return bs[3].mean([1, 2]) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const c of this.convs.values()) c.dispose();
    this.convs.clear();
  }
}

const OUT = 299;

/** pytorch-fid input: u8 HWC images (one size) -> [N, 299, 299, 3] in [-1, 1]. */
export function pytorchFidInput(u8: Uint8Array, n: number, h: number, w: number): Float32Array {
  const f = Math.fround;
  const axis = (inSize: number) => {
    const scale = f(inSize / OUT);
    return Array.from({ length: OUT }, (_, d) => {
      const src = Math.max(0, scale * (d + 0.5) - 0.5);
      const i0 = Math.floor(src);
      const l1 = f(src - i0);
      return { i0, i1: Math.min(i0 + 1, inSize - 1), l0: f(1 - l1), l1 };
    });
  };
  const ax = axis(w),
    ay = axis(h);
  const out = new Float32Array(n * OUT * OUT * 3);
  const px = (b: number, y: number, x: number, c: number) => f(u8[((b * h + y) * w + x) * 3 + c] / 255);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OUT; oy++) {
      const Y = ay[oy];
      for (let ox = 0; ox < OUT; ox++) {
        const X = ax[ox];
        for (let c = 0; c < 3; c++) {
          const r0 = f(f(X.l0 * px(b, Y.i0, X.i0, c)) + f(X.l1 * px(b, Y.i0, X.i1, c)));
          const r1 = f(f(X.l0 * px(b, Y.i1, X.i0, c)) + f(X.l1 * px(b, Y.i1, X.i1, c)));
          const v = h === OUT && w === OUT ? px(b, oy, ox, c) : f(f(Y.l0 * r0) + f(Y.l1 * r1));
          out[((b * OUT + oy) * OUT + ox) * 3 + c] = f(2 * v - 1);
        }
      }
    }
  return out;
}

/** TF1 legacy bilinear resize (align_corners=False, half_pixel_centers=False) of float(u8), values 0..255. */
export function tf1Resize(u8: Uint8Array, n: number, h: number, w: number): Float32Array {
  const f = Math.fround;
  const axis = (inSize: number) => {
    const scale = f(inSize / OUT);
    return Array.from({ length: OUT }, (_, d) => {
      const src = f(d * scale);
      const i0 = Math.floor(src);
      return { i0, i1: Math.min(i0 + 1, inSize - 1), t: f(src - i0) };
    });
  };
  const ax = axis(w),
    ay = axis(h);
  const out = new Float32Array(n * OUT * OUT * 3);
  const px = (b: number, y: number, x: number, c: number) => u8[((b * h + y) * w + x) * 3 + c];
  const lerp = (a: number, bb: number, t: number) => f(a + f(f(bb - a) * t));
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < OUT; oy++) {
      const Y = ay[oy];
      for (let ox = 0; ox < OUT; ox++) {
        const X = ax[ox];
        for (let c = 0; c < 3; c++) {
          const top = lerp(px(b, Y.i0, X.i0, c), px(b, Y.i0, X.i1, c), X.t);
          const bot = lerp(px(b, Y.i1, X.i0, c), px(b, Y.i1, X.i1, c), X.t);
          out[((b * OUT + oy) * OUT + ox) * 3 + c] = lerp(top, bot, Y.t);
        }
      }
    }
  return out;
}

/** nvidia input: TF1 resize then (x - 128) / 128. */
export function nvidiaInput(u8: Uint8Array, n: number, h: number, w: number): Float32Array {
  const r = tf1Resize(u8, n, h, w);
  for (let i = 0; i < r.length; i++) r[i] = Math.fround(Math.fround(r[i] - 128) / 128);
  return r;
}

/** u8 HWC images with 1 or 3 channels -> 3 channels (grayscale repeated, as upstream). */
export function toRgb(u8: Uint8Array, n: number, h: number, w: number, c: number): Uint8Array {
  if (c === 3) return u8;
  if (c !== 1) throw new Error(`images with ${c} channels cannot go through Inception`);
  const out = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < n * h * w; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = u8[i];
  return out;
}

/** Features [N, 2048] of u8 HWC images of one size, under a protocol. */
export async function imageFeatures(
  net: InceptionV3,
  u8: Uint8Array,
  n: number,
  h: number,
  w: number,
  c: number,
  protocol: FidProtocol,
): Promise<Float32Array> {
  const rgb = toRgb(u8, n, h, w, c);
  const input = protocol === 'nvidia' ? nvidiaInput(rgb, n, h, w) : pytorchFidInput(rgb, n, h, w);
  const x = tf.tensor4d(input, [n, OUT, OUT, 3]);
  const feats = net.features(x);
  const out = (await feats.data()) as Float32Array;
  tf.dispose([x, feats]);
  return out;
}
