// tfjs cpu-backend kernels backed by the native addon (our sgemm, native/gemm.c). Each replaces the pure-JS
// kernel of the same name for the cases it supports (NHWC, float32) and defers to the original
// kernel otherwise. Gradients are unchanged: tfjs' gradient functions call these kernels by name.
import * as tf from '@tensorflow/tfjs';
import { BIAS_ACT_KERNEL, type BiasActKernelAttrs } from '../ops/bias_act.js';
import { UPFIRDN2D_KERNEL, type UpFirDn2dKernelAttrs } from '../ops/upfirdn2d.js';
import { SPARSE_MAP_KERNEL, type SparseMapKernelAttrs } from '../ops/sparse_map.js';
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, type AdamUpdateInputs } from '../ops/adam_update.js';
import * as os from 'node:os';
import { BufferPool, type PoolableBackend } from './buffer_pool.js';
import { BINARY_OPS, type ConvGeom, type NativeAddon } from './contracts.js';

export type { NativeAddon } from './contracts.js';

const ACT_CODES: Record<string, number> = { linear: 0, relu: 1, lrelu: 2 };

function stridesOf(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * The pool of output arrays (buffer_pool.ts): at most 1/8 of the machine's memory, up to 1 GiB,
 * held for reuse; STYLEGAN_RLO_POOL_MB sets the limit (0: no reuse).
 */
const poolMb = Number(process.env.STYLEGAN_RLO_POOL_MB);
export const outputPool = new BufferPool(Number.isFinite(poolMb) && poolMb >= 0 ? poolMb * 2 ** 20 : Math.min(2 ** 30, Math.floor(os.totalmem() / 8)));

/** An output array for a native kernel that writes every element (contents arbitrary). */
function outputArray(backend: tf.KernelBackend, n: number): Float32Array {
  outputPool.install(backend as unknown as PoolableBackend);
  return outputPool.take(n);
}

/**
 * Drops unit axes and merges adjacent axes that are contiguous for every stride list, so the
 * native loops see the fewest, longest runs. Returns at least one axis.
 */
function collapse(shape: number[], strideLists: number[][]): { shape: number[]; strides: number[][] } {
  const keep = shape.map((_, i) => i).filter((i) => shape[i] !== 1);
  let sh = keep.map((i) => shape[i]);
  let st = strideLists.map((l) => keep.map((i) => l[i]));
  if (sh.length === 0) return { shape: [1], strides: strideLists.map(() => [1]) };
  const outS: number[] = [sh[0]];
  const outT = st.map((l) => [l[0]]);
  for (let i = 1; i < sh.length; i++) {
    const last = outS.length - 1;
    if (st.every((l, k) => outT[k][last] === l[i] * sh[i])) {
      outS[last] *= sh[i];
      st.forEach((l, k) => {
        outT[k][last] = l[i];
      });
    } else {
      outS.push(sh[i]);
      st.forEach((l, k) => {
        outT[k].push(l[i]);
      });
    }
  }
  sh = outS;
  st = outT;
  return { shape: sh, strides: st };
}

type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: tf.KernelBackend; attrs?: Record<string, unknown> };
type CpuBackend = tf.KernelBackend & {
  data: { get(id: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
};

function values(backend: CpuBackend, t: tf.TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The geometry object native/conv.c reads. */
function geom(ci: ConvInfo, depthwise = false): ConvGeom {
  return {
    n: ci.batchSize,
    h: ci.inHeight,
    w: ci.inWidth,
    c: ci.inChannels,
    kh: ci.filterHeight,
    kw: ci.filterWidth,
    o: depthwise ? ci.inChannels : ci.outChannels,
    oh: ci.outHeight,
    ow: ci.outWidth,
    sh: ci.strideHeight,
    sw: ci.strideWidth,
    dh: ci.dilationHeight,
    dw: ci.dilationWidth,
    pt: ci.padInfo.top,
    pl: ci.padInfo.left,
  };
}

function isNhwc(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function override(name: string, impl: (args: KernelArgs, backend: CpuBackend) => tf.TensorInfo | tf.TensorInfo[] | null): void {
  const original = tf.getKernel(name, 'cpu');
  if (!original) return;
  tf.unregisterKernel(name, 'cpu');
  tf.registerKernel({
    kernelName: name,
    backendName: 'cpu',
    kernelFunc: ((args: KernelArgs) =>
      impl(args, args.backend as CpuBackend) ??
      (original.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo | tf.TensorInfo[])(args)) as unknown as tf.KernelFunc,
  });
}

function allFloat(...ts: tf.TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

export function registerNativeKernels(addon: NativeAddon): void {
  const bu = tf.backend_util;

  tf.registerKernel({
    kernelName: BIAS_ACT_KERNEL,
    backendName: 'cpu',
    kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
      const be = backend as CpuBackend;
      const { x, b } = inputs;
      const a = attrs as unknown as BiasActKernelAttrs;
      const n = size(x.shape);
      const y = outputArray(backend, n);
      const mask = a.withMask ? outputArray(backend, n) : null;
      addon.biasAct(
        values(be, x),
        b ? values(be, b) : null,
        { channels: x.shape[x.shape.length - 1], act: ACT_CODES[a.act], alpha: a.alpha, gain: a.gain, clamp: a.clamp ?? -1 },
        y,
        mask,
      );
      const out = [be.makeTensorInfo(x.shape, 'float32', y)];
      if (mask) out.push(be.makeTensorInfo(x.shape, 'float32', mask));
      return out;
    }) as unknown as tf.KernelFunc,
  });

  tf.registerKernel({
    kernelName: UPFIRDN2D_KERNEL,
    backendName: 'cpu',
    kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
      const be = backend as CpuBackend;
      const { x } = inputs;
      const a = attrs as unknown as UpFirDn2dKernelAttrs;
      const [n, h, w, c] = x.shape;
      const out = outputArray(backend, size(a.outShape));
      addon.upfirdn2d(
        values(be, x),
        a.taps,
        {
          n,
          h,
          w,
          c,
          fh: a.fh,
          fw: a.fw,
          upx: a.up[0],
          upy: a.up[1],
          downx: a.down[0],
          downy: a.down[1],
          padx0: a.pad[0],
          pady0: a.pad[2],
          oh: a.outShape[1],
          ow: a.outShape[2],
        },
        out,
      );
      return be.makeTensorInfo(a.outShape, 'float32', out);
    }) as unknown as tf.KernelFunc,
  });

  tf.registerKernel({
    kernelName: SPARSE_MAP_KERNEL,
    backendName: 'cpu',
    kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
      const be = backend as CpuBackend;
      const { x } = inputs;
      const a = attrs as unknown as SparseMapKernelAttrs;
      const c = x.shape[1];
      const rows = a.transpose ? a.M : a.P;
      const out = outputArray(backend, rows * c);
      addon.sparseMap(values(be, x), a.idx, a.w, { p: a.P, k: a.K, m: a.M, c, transpose: a.transpose }, out);
      return be.makeTensorInfo([rows, c], 'float32', out);
    }) as unknown as tf.KernelFunc,
  });

  tf.registerKernel({
    kernelName: ADAM_UPDATE_KERNEL,
    backendName: 'cpu',
    kernelFunc: (({ inputs, backend, attrs }: KernelArgs) => {
      const be = backend as CpuBackend;
      const x = inputs as unknown as AdamUpdateInputs;
      const a = attrs as unknown as AdamUpdateAttrs;
      const n = size(x.p.shape);
      const [p1, m1, v1] = [outputArray(backend, n), outputArray(backend, n), outputArray(backend, n)];
      const t = values(be, x.t)[0];
      const apply = (be.data.get(x.apply.dataId).values as ArrayLike<number>)[0];
      addon.adamUpdate(
        values(be, x.p),
        values(be, x.m),
        values(be, x.v),
        values(be, x.g),
        { lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, t, apply: Boolean(apply) },
        p1,
        m1,
        v1,
      );
      return [p1, m1, v1].map((d) => be.makeTensorInfo(x.p.shape, 'float32', d));
    }) as unknown as tf.KernelFunc,
  });

  for (const [name, code] of Object.entries(BINARY_OPS)) {
    override(name, ({ inputs }, backend) => {
      const { a, b } = inputs;
      if (!allFloat(a, b)) return null;
      const outShape = bu.assertAndGetBroadcastShape(a.shape, b.shape);
      const r = outShape.length;
      const pad = (s: number[]) => [...new Array(r - s.length).fill(1), ...s];
      const bstr = (s: number[]) => {
        const ps = pad(s),
          st = stridesOf(ps);
        return ps.map((d, i) => (d === 1 && outShape[i] !== 1 ? 0 : st[i]));
      };
      const c = collapse(outShape, [bstr(a.shape), bstr(b.shape)]);
      if (c.shape.length > 8) return null;
      const out = outputArray(backend, size(outShape));
      addon.binary(code, values(backend, a), values(backend, b), { shape: c.shape, aStrides: c.strides[0], bStrides: c.strides[1] }, out);
      return backend.makeTensorInfo(outShape, 'float32', out);
    });
  }

  const reduce =
    (mean: boolean) =>
    ({ inputs, attrs }: KernelArgs, backend: CpuBackend) => {
      const { x } = inputs;
      if (!allFloat(x)) return null;
      const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const ost = stridesOf(kept).map((s, i) => (axes.includes(i) ? 0 : s));
      const c = collapse(x.shape, [stridesOf(x.shape), ost]);
      if (c.shape.length > 8) return null;
      const outShape = keepDims ? kept : x.shape.filter((_, i) => !axes.includes(i));
      const out = outputArray(backend, size(outShape));
      addon.reduceSum(values(backend, x), { shape: c.shape, outStrides: c.strides[1] }, out);
      if (mean) {
        const n = axes.reduce((p, i) => p * x.shape[i], 1);
        for (let i = 0; i < out.length; i++) out[i] /= n;
      }
      return backend.makeTensorInfo(outShape, 'float32', out);
    };
  override('Sum', reduce(false));
  override('Mean', reduce(true));

  /** out[o] = x[base + sum((o_d mod mods_d) * st_d)] on float32 data. */
  const gatherInto = (backend: CpuBackend, x: tf.TensorInfo, outShape: number[], st: number[], mods: number[], base: number) => {
    const keep = outShape.map((_, i) => i).filter((i) => outShape[i] !== 1 || mods[i] !== 0);
    let shape = keep.map((i) => outShape[i]);
    let strides = keep.map((i) => st[i]);
    let md = keep.map((i) => mods[i]);
    if (shape.length === 0) {
      shape = [1];
      strides = [1];
      md = [0];
    }
    // Merge contiguous axes without modulo.
    const s2: number[] = [shape[0]],
      t2: number[] = [strides[0]],
      m2: number[] = [md[0]];
    for (let i = 1; i < shape.length; i++) {
      const l = s2.length - 1;
      if (m2[l] === 0 && md[i] === 0 && t2[l] === strides[i] * shape[i]) {
        s2[l] *= shape[i];
        t2[l] = strides[i];
      } else {
        s2.push(shape[i]);
        t2.push(strides[i]);
        m2.push(md[i]);
      }
    }
    if (s2.length > 8) return null;
    const out = outputArray(backend, size(outShape));
    addon.gather(values(backend, x), { shape: s2, inStrides: t2, mods: m2, base }, out);
    return backend.makeTensorInfo(outShape, 'float32', out);
  };

  override('Transpose', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { perm } = attrs as { perm: number[] };
    const st = stridesOf(x.shape);
    return gatherInto(
      backend,
      x,
      perm.map((p) => x.shape[p]),
      perm.map((p) => st[p]),
      perm.map(() => 0),
      0,
    );
  });

  override('Tile', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { reps } = attrs as { reps: number[] };
    return gatherInto(
      backend,
      x,
      x.shape.map((d, i) => d * reps[i]),
      stridesOf(x.shape),
      x.shape.map((d, i) => (reps[i] > 1 ? d : 0)),
      0,
    );
  });

  override('Slice', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { begin, size: sz } = attrs as { begin: number | number[]; size: number | number[] };
    const [b, s2] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
    const st = stridesOf(x.shape);
    return gatherInto(
      backend,
      x,
      s2,
      st,
      st.map(() => 0),
      b.reduce((p, v, i) => p + v * st[i], 0),
    );
  });

  /** Copies of consecutive pieces of x along `axis` (sizes[i] each), with `axis` dropped when squeeze. */
  const piecesAlong = (backend: CpuBackend, x: tf.TensorInfo, axis: number, sizes: number[], squeeze: boolean): tf.TensorInfo[] | null => {
    const st = stridesOf(x.shape);
    const outs: tf.TensorInfo[] = [];
    let begin = 0;
    for (const sz of sizes) {
      const shape = x.shape.map((d, i) => (i === axis ? sz : d));
      const keep = (_: number, i: number) => !(squeeze && i === axis);
      const t = gatherInto(
        backend,
        x,
        shape.filter(keep),
        st.filter(keep),
        st.filter(keep).map(() => 0),
        begin * st[axis],
      );
      if (!t) {
        for (const o of outs) backend.disposeData(o.dataId);
        return null;
      }
      outs.push(t);
      begin += sz;
    }
    return outs;
  };

  // tf.unstack and tf.split (also concat's gradient): one strided copy per piece. tfjs' JS kernels
  // copied element by element (unstacking the synthesis latents [16, 8, 64]: over 1 ms; the
  // splits in an emoji32 training iteration: about 10% of it).
  override('Unpack', ({ inputs, attrs }, backend) => {
    const x = inputs.value;
    if (!allFloat(x)) return null;
    const axis = tf.util.parseAxisParam((attrs as { axis: number }).axis, x.shape)[0];
    return piecesAlong(backend, x, axis, new Array(x.shape[axis]).fill(1), true);
  });
  override('SplitV', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const a = attrs as { numOrSizeSplits: number | number[]; axis: number };
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
    return piecesAlong(backend, x, axis, tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis), false);
  });

  override('Conv2D', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dataFormat: string; dilations: number | [number, number]; dimRoundingMode: never };
    if (!isNhwc(a.dataFormat) || !allFloat(x, filter)) return null;
    const ci = bu.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides,
      a.dilations ?? 1,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    const out = outputArray(backend, size(ci.outShape));
    addon.conv2d(values(backend, x), values(backend, filter), geom(ci), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });

  override('Conv2DBackpropInput', ({ inputs, attrs }, backend) => {
    const { dy, filter } = inputs;
    const a = attrs as {
      inputShape: [number, number, number, number];
      strides: number | [number, number];
      pad: never;
      dataFormat: string;
      dimRoundingMode: never;
    };
    if (!isNhwc(a.dataFormat) || !allFloat(dy, filter)) return null;
    const ci = bu.computeConv2DInfo(
      a.inputShape,
      filter.shape as [number, number, number, number],
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
      false,
      'channelsLast',
    );
    const dx = outputArray(backend, size(ci.inShape));
    addon.conv2dBackpropInput(values(backend, dy), values(backend, filter), geom(ci), dx);
    return backend.makeTensorInfo(ci.inShape, 'float32', dx);
  });

  override('Conv2DBackpropFilter', ({ inputs, attrs }, backend) => {
    const { x, dy } = inputs;
    const a = attrs as {
      filterShape: [number, number, number, number];
      strides: number | [number, number];
      pad: never;
      dataFormat: string;
      dimRoundingMode: never;
    };
    if (!isNhwc(a.dataFormat) || !allFloat(x, dy)) return null;
    const ci = bu.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const dw = new Float32Array(size(a.filterShape));
    addon.conv2dBackpropFilter(values(backend, x), values(backend, dy), geom(ci), dw);
    return backend.makeTensorInfo(a.filterShape, 'float32', dw);
  });

  override('DepthwiseConv2dNative', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dilations: number | [number, number]; dimRoundingMode: never };
    if (filter.shape[3] !== 1 || !allFloat(x, filter)) return null; // channel multiplier 1 only
    const ci = bu.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      a.strides,
      a.dilations ?? 1,
      a.pad,
      a.dimRoundingMode,
      true,
      'channelsLast',
    );
    const out = outputArray(backend, size(ci.outShape));
    addon.depthwiseConv2d(values(backend, x), values(backend, filter), geom(ci, true), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });

  for (const [name, isMax] of [
    ['AvgPool', false],
    ['MaxPool', true],
  ] as const) {
    override(name, ({ inputs, attrs }, backend) => {
      const { x } = inputs;
      if (!allFloat(x)) return null;
      const a = attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: never; dimRoundingMode: never };
      const ci = bu.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const out = outputArray(backend, size(ci.outShape));
      addon.pool2d(values(backend, x), geom(ci, true), isMax, out);
      return backend.makeTensorInfo(ci.outShape, 'float32', out);
    });
  }

  override('BatchMatMul', ({ inputs, attrs }, backend) => {
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!allFloat(a, b) || a.shape.length < 2 || b.shape.length < 2) return null;
    const ra = a.shape.length,
      rb = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
    // Only equal or unit batch shapes; general broadcasting goes to the original kernel.
    const batchShape = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    if (batchA === batchB && ra !== rb) return null;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== kb) return null;
    const batch = Math.max(batchA, batchB);
    const out = outputArray(backend, batch * m * n);
    addon.matmul(
      values(backend, a),
      values(backend, b),
      { batch, m, k, n, transA: transposeA, transB: transposeB, aBatched: batchA > 1 || batchA === batch, bBatched: batchB > 1 || batchB === batch },
      out,
    );
    return backend.makeTensorInfo([...batchShape, m, n], 'float32', out);
  });
}
