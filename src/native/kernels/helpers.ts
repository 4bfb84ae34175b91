// What the native kernel registrations share: the output-array pool, tfjs' cpu backend data,
// shape and stride arithmetic, conv geometry for native/conv.c, and the override of a tfjs kernel
// that falls back to the original for the cases the native one does not take.
import * as tf from '@tensorflow/tfjs';
import * as os from 'node:os';
import { BufferPool, type PoolableBackend } from '../buffer_pool.js';
import type { ConvGeom, NativeAddon } from '../contracts.js';

export function stridesOf(shape: number[]): number[] {
  const s = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

export const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);

/**
 * The pool of output arrays (buffer_pool.ts): at most 1/8 of the machine's memory, up to 1 GiB,
 * held for reuse; STYLEGAN_RLO_POOL_MB sets the limit (0: no reuse).
 */
const poolMb = Number(process.env.STYLEGAN_RLO_POOL_MB);
export const outputPool = new BufferPool(Number.isFinite(poolMb) && poolMb >= 0 ? poolMb * 2 ** 20 : Math.min(2 ** 30, Math.floor(os.totalmem() / 8)));

/** An output array for a native kernel that writes every element (contents arbitrary). */
export function outputArray(backend: tf.KernelBackend, n: number): Float32Array {
  outputPool.install(backend as unknown as PoolableBackend);
  return outputPool.take(n);
}

/**
 * Drops unit axes and merges adjacent axes that are contiguous for every stride list, so the
 * native loops see the fewest, longest runs. Returns at least one axis.
 */
export function collapse(shape: number[], strideLists: number[][]): { shape: number[]; strides: number[][] } {
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

export type KernelArgs = { inputs: Record<string, tf.TensorInfo>; backend: tf.KernelBackend; attrs?: Record<string, unknown> };
export type CpuBackend = tf.KernelBackend & {
  data: { get(id: tf.DataId): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
};

export function values(backend: CpuBackend, t: tf.TensorInfo): Float32Array {
  const v = backend.data.get(t.dataId).values;
  return v instanceof Float32Array ? v : Float32Array.from(v as ArrayLike<number>);
}

export type ConvInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/** The geometry object native/conv.c reads. */
export function geom(ci: ConvInfo, depthwise = false): ConvGeom {
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

export function isNhwc(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

export function override(name: string, impl: (args: KernelArgs, backend: CpuBackend) => tf.TensorInfo | tf.TensorInfo[] | null): void {
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

export function allFloat(...ts: tf.TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

/** tfjs' conv geometry for NHWC float32 tensors (one place for computeConv2DInfo's eight arguments). */
export function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  dilations: number | [number, number],
  pad: never,
  dimRoundingMode: never,
  depthwise = false,
): ConvInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    dilations,
    pad,
    dimRoundingMode,
    depthwise,
    'channelsLast',
  );
}

/** out[o] = x[base + sum((o_d mod mods_d) * st_d)] on float32 data. */
export function gatherInto(
  addon: NativeAddon,
  backend: CpuBackend,
  x: tf.TensorInfo,
  outShape: number[],
  st: number[],
  mods: number[],
  base: number,
): tf.TensorInfo | null {
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
}
