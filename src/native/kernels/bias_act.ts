// RloBiasAct on the cpu backend: native/fir.c's fused bias, activation, gain and clamp.
import * as tf from '@tensorflow/tfjs';
import { BIAS_ACT_KERNEL, type BiasActKernelAttrs } from '../../ops/kernel_names.js';
import type { NativeAddon } from '../contracts.js';
import { type CpuBackend, type KernelArgs, outputArray, size, values } from './helpers.js';

/** The activation codes of native/fir.c. */
const ACT_CODES: Record<string, number> = { linear: 0, relu: 1, lrelu: 2 };

/** Registers RloBiasAct. */
export function registerBiasAct(addon: NativeAddon): void {
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
}
