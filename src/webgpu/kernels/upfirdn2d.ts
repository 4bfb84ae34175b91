// RloUpFirDn2d on the webgpu backend: upsampling, FIR filter and downsampling in one WGSL pass,
// where tfjs' composite ops take four or five (two pads that insert zeros, the border pad, a
// depthwise convolution over the upsampled tensor, a strided slice), each writing a tensor up to
// up_x·up_y times the input. Every output element is one thread: out = sum of U(oy·down_y + ky,
// ox·down_x + kx) · taps[ky, kx] over the taps that land on an input pixel (U: the zero-inserted,
// padded input), as native/fir.c computes it. The gradient is another upfirdn2d
// (src/ops/upfirdn2d.ts), so this one kernel runs forward and backward.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { UPFIRDN2D_KERNEL, type UpFirDn2dKernelAttrs } from '../../ops/kernel_names.js';
import type { TfjsWebGpu } from './contracts.js';
import { FlatProgram } from './flat_program.js';

class UpFirDn2dProgram extends FlatProgram {
  shaderKey = 'rloUpFirDn2d';
  variableNames = ['x', 'taps'];
  uniforms = 'h : i32, w : i32, c : i32, oh : i32, ow : i32, fh : i32, fw : i32, upx : i32, upy : i32, downx : i32, downy : i32, padx0 : i32, pady0 : i32,';

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let ch = index % uniforms.c;
          let ox = (index / uniforms.c) % uniforms.ow;
          let oy = (index / (uniforms.c * uniforms.ow)) % uniforms.oh;
          let b = index / (uniforms.c * uniforms.ow * uniforms.oh);
          var acc = 0.0;
          for (var ky = 0; ky < uniforms.fh; ky++) {
            let uy = oy * uniforms.downy + ky - uniforms.pady0;
            if (uy < 0 || uy % uniforms.upy != 0) { continue; }
            let iy = uy / uniforms.upy;
            if (iy >= uniforms.h) { continue; }
            for (var kx = 0; kx < uniforms.fw; kx++) {
              let ux = ox * uniforms.downx + kx - uniforms.padx0;
              if (ux < 0 || ux % uniforms.upx != 0) { continue; }
              let ix = ux / uniforms.upx;
              if (ix >= uniforms.w) { continue; }
              acc = acc + x[((b * uniforms.h + iy) * uniforms.w + ix) * uniforms.c + ch] * taps[ky * uniforms.fw + kx];
            }
          }
          setOutputAtIndex(index, acc);
        }
      }`;
  }
}

/** Registers RloUpFirDn2d for the webgpu backend. */
export function registerUpFirDn2dWebGpu(webgpu: TfjsWebGpu): void {
  tf.registerKernel({
    kernelName: UPFIRDN2D_KERNEL,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: { x: tf.TensorInfo }; backend: WebGPUBackend; attrs: UpFirDn2dKernelAttrs }) => {
      const { x } = inputs;
      const a = attrs;
      const [, h, w, c] = x.shape;
      const ints = [h, w, c, a.outShape[1], a.outShape[2], a.fh, a.fw, a.up[0], a.up[1], a.down[0], a.down[1], a.pad[0], a.pad[2]];
      const taps = backend.makeTensorInfo([a.taps.length], 'float32', a.taps);
      try {
        return backend.runWebGPUProgram(
          new UpFirDn2dProgram(webgpu, a.outShape),
          [x, taps],
          'float32',
          ints.map((v) => ({ type: 'int32', data: [v] })),
        );
      } finally {
        backend.disposeData(taps.dataId);
      }
    }) as unknown as tf.KernelFunc,
  });
}
