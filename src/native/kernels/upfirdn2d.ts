// RloUpFirDn2d on the cpu backend: native/fir.c's upsample, FIR filter and downsample in one pass.
import * as tf from '@tensorflow/tfjs';
import { UPFIRDN2D_KERNEL, type UpFirDn2dKernelAttrs } from '../../ops/kernel_names.js';
import type { NativeAddon } from '../contracts.js';
import { type CpuBackend, type KernelArgs, outputArray, size, values } from './helpers.js';

/** Registers RloUpFirDn2d. */
export function registerUpFirDn2d(addon: NativeAddon): void {
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
}
