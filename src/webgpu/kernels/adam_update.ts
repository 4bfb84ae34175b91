// RloAdamUpdate on the webgpu backend: one Adam step of one variable as three WGSL passes (the new
// variable, first and second moment: a tfjs program has one output), where the composite ops take
// about twenty (the moments, the bias corrections, the update, and a stack and gather per output to
// keep the old values when the step is skipped). Each pass reads the step count and the apply flag
// from the device, so a skipped non-finite step still needs no read-back. The arithmetic is the
// composite's (src/ops/adam_update.ts), in its float32 order.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs, type AdamUpdateInputs } from '../../ops/kernel_names.js';
import type { TfjsWebGpu } from './contracts.js';
import { FlatProgram } from './flat_program.js';

type Which = 'p' | 'm' | 'v';
const INPUTS: Record<Which, string[]> = { p: ['p', 'm', 'v', 'g', 't', 'apply'], m: ['m', 'g', 'apply'], v: ['v', 'g', 'apply'] };

class AdamUpdateProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = 'lr : f32, beta1 : f32, beta2 : f32, eps : f32, oneMinusBeta1 : f32, oneMinusBeta2 : f32,';

  constructor(
    webgpu: TfjsWebGpu,
    shape: number[],
    private readonly which: Which,
  ) {
    super(webgpu, shape);
    this.shaderKey = `rloAdamUpdate_${which}`;
    // Only what this output reads: a binding the shader does not use is dropped from its layout.
    this.variableNames = INPUTS[which];
  }

  getUserCode(): string {
    const keep = { p: 'p[index]', m: 'm[index]', v: 'v[index]' }[this.which];
    const next = {
      m: 'm1',
      v: 'v1',
      p: 'p[index] - m1 / (sqrt(v1) / sqrt(1.0 - pow(uniforms.beta2, t[0])) + uniforms.eps) * ((1.0 / (1.0 - pow(uniforms.beta1, t[0]))) * uniforms.lr)',
    }[this.which];
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          if (apply[0] == 0) {
            setOutputAtIndex(index, ${keep});
            return;
          }
          let gi = g[index];
          ${this.which === 'v' ? '' : 'let m1 = m[index] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;'}
          ${this.which === 'm' ? '' : 'let v1 = v[index] * uniforms.beta2 + gi * gi * uniforms.oneMinusBeta2;'}
          setOutputAtIndex(index, ${next});
        }
      }`;
  }
}

/** Registers RloAdamUpdate for the webgpu backend. */
export function registerAdamUpdateWebGpu(webgpu: TfjsWebGpu): void {
  tf.registerKernel({
    kernelName: ADAM_UPDATE_KERNEL,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: AdamUpdateInputs; backend: WebGPUBackend; attrs: AdamUpdateAttrs }) => {
      const x = inputs;
      const a = attrs;
      const uniforms = [a.lr, a.beta1, a.beta2, a.eps, 1 - a.beta1, 1 - a.beta2].map((v) => ({ type: 'float32', data: [v] }));
      const byName: Record<string, tf.TensorInfo> = { ...x };
      return (['p', 'm', 'v'] as const).map((which) =>
        backend.runWebGPUProgram(
          new AdamUpdateProgram(webgpu, x.p.shape, which),
          INPUTS[which].map((k) => byName[k]),
          'float32',
          uniforms,
        ),
      );
    }) as unknown as tf.KernelFunc,
  });
}
