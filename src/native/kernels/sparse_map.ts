// RloSparseMap on the cpu backend: a sparse linear map of rows (the augmentation's resampling).
import * as tf from '@tensorflow/tfjs';
import { SPARSE_MAP_KERNEL, type SparseMapKernelAttrs } from '../../ops/kernel_names.js';
import type { NativeAddon } from '../contracts.js';
import { type CpuBackend, type KernelArgs, outputArray, values } from './helpers.js';

/** Registers RloSparseMap. */
export function registerSparseMap(addon: NativeAddon): void {
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
}
