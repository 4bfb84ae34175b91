// tfjs cpu-backend kernels backed by the native addon (oneDNN sgemm). Each replaces the pure-JS
// kernel of the same name for the cases it supports (NHWC, float32) and defers to the original
// kernel otherwise. Gradients are unchanged: tfjs' gradient functions call these kernels by name.
import * as tf from '@tensorflow/tfjs';

export interface NativeAddon {
  info(): string;
  setThreads(n: number): void;
  conv2d(x: Float32Array, w: Float32Array, geom: number[], out: Float32Array): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, geom: number[], dx: Float32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, geom: number[], dw: Float32Array): void;
  depthwiseConv2d(x: Float32Array, f: Float32Array, geom: number[], out: Float32Array): void;
  matmul(a: Float32Array, b: Float32Array, params: number[], out: Float32Array): void;
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

/** [n,h,w,c, kh,kw,o, oh,ow, sh,sw, dh,dw, pt,pl] as rlo_native.c reads it. */
function geom(ci: ConvInfo, depthwise = false): number[] {
  return [ci.batchSize, ci.inHeight, ci.inWidth, ci.inChannels, ci.filterHeight, ci.filterWidth, depthwise ? ci.inChannels : ci.outChannels,
    ci.outHeight, ci.outWidth, ci.strideHeight, ci.strideWidth, ci.dilationHeight, ci.dilationWidth, ci.padInfo.top, ci.padInfo.left];
}

function isNhwc(dataFormat: unknown): boolean {
  return dataFormat === undefined || dataFormat === 'NHWC' || dataFormat === 'channelsLast';
}

function override(name: string, impl: (args: KernelArgs, backend: CpuBackend) => tf.TensorInfo | null): void {
  const original = tf.getKernel(name, 'cpu');
  if (!original) return;
  tf.unregisterKernel(name, 'cpu');
  tf.registerKernel({
    kernelName: name,
    backendName: 'cpu',
    kernelFunc: ((args: KernelArgs) => impl(args, args.backend as CpuBackend) ?? (original.kernelFunc as unknown as (a: KernelArgs) => tf.TensorInfo)(args)) as unknown as tf.KernelFunc,
  });
}

function allFloat(...ts: tf.TensorInfo[]): boolean {
  return ts.every((t) => t.dtype === 'float32');
}

export function registerNativeKernels(addon: NativeAddon): void {
  const bu = tf.backend_util;

  override('Conv2D', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dataFormat: string; dilations: number | [number, number]; dimRoundingMode: never };
    if (!isNhwc(a.dataFormat) || !allFloat(x, filter)) return null;
    const ci = bu.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const out = new Float32Array(ci.outShape.reduce((p, d) => p * d, 1));
    addon.conv2d(values(backend, x), values(backend, filter), geom(ci), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });

  override('Conv2DBackpropInput', ({ inputs, attrs }, backend) => {
    const { dy, filter } = inputs;
    const a = attrs as { inputShape: [number, number, number, number]; strides: number | [number, number]; pad: never; dataFormat: string; dimRoundingMode: never };
    if (!isNhwc(a.dataFormat) || !allFloat(dy, filter)) return null;
    const ci = bu.computeConv2DInfo(a.inputShape, filter.shape as [number, number, number, number], a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const dx = new Float32Array(ci.inShape.reduce((p, d) => p * d, 1));
    addon.conv2dBackpropInput(values(backend, dy), values(backend, filter), geom(ci), dx);
    return backend.makeTensorInfo(ci.inShape, 'float32', dx);
  });

  override('Conv2DBackpropFilter', ({ inputs, attrs }, backend) => {
    const { x, dy } = inputs;
    const a = attrs as { filterShape: [number, number, number, number]; strides: number | [number, number]; pad: never; dataFormat: string; dimRoundingMode: never };
    if (!isNhwc(a.dataFormat) || !allFloat(x, dy)) return null;
    const ci = bu.computeConv2DInfo(x.shape as [number, number, number, number], a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode, false, 'channelsLast');
    const dw = new Float32Array(a.filterShape.reduce((p, d) => p * d, 1));
    addon.conv2dBackpropFilter(values(backend, x), values(backend, dy), geom(ci), dw);
    return backend.makeTensorInfo(a.filterShape, 'float32', dw);
  });

  override('DepthwiseConv2dNative', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dilations: number | [number, number]; dimRoundingMode: never };
    if (filter.shape[3] !== 1 || !allFloat(x, filter)) return null; // channel multiplier 1 only
    const ci = bu.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true, 'channelsLast');
    const out = new Float32Array(ci.outShape.reduce((p, d) => p * d, 1));
    addon.depthwiseConv2d(values(backend, x), values(backend, filter), geom(ci, true), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });

  override('BatchMatMul', ({ inputs, attrs }, backend) => {
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!allFloat(a, b) || a.shape.length < 2 || b.shape.length < 2) return null;
    const ra = a.shape.length, rb = b.shape.length;
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
    const out = new Float32Array(batch * m * n);
    addon.matmul(values(backend, a), values(backend, b), [batch, m, k, n, transposeA ? 1 : 0, transposeB ? 1 : 0, batchA > 1 || batchA === batch ? 1 : 0, batchB > 1 || batchB === batch ? 1 : 0], out);
    return backend.makeTensorInfo([...batchShape, m, n], 'float32', out);
  });
}
