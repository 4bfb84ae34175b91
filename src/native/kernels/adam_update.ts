// RloAdamUpdate on the cpu backend: one fused Adam step (native/elementwise.c).
import * as tf from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, type AdamUpdateInputs } from '../../ops/kernel_names.js';
import type { NativeAddon } from '../contracts.js';
import { type CpuBackend, type KernelArgs, outputArray, size, values } from './helpers.js';

/** Registers RloAdamUpdate. */
export function registerAdamUpdate(addon: NativeAddon): void {
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
}
