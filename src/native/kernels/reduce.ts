// Sum and Mean over any axes, as one strided native reduction.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../contracts.js';
import { allFloat, collapse, type CpuBackend, type KernelArgs, outputArray, override, size, stridesOf, values } from './helpers.js';

/** Overrides Sum and Mean. */
export function registerReductions(addon: NativeAddon): void {
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
}
