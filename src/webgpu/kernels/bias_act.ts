// RloBiasAct on the webgpu backend: bias, activation, gain and clamp in one WGSL pass, and the
// gradient mask (dy/dx) in a second, where tfjs' composite ops take 5 to 8 passes over the tensor
// (add, compare, select, multiply, abs, compare, clip...). Every element is one thread. The
// arithmetic is the composite's (src/ops/bias_act.ts), NaN included: a NaN input gives a NaN
// output whatever the clamp, and the mask the composite gives it, so that a diverging run is
// still seen as diverging.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { BIAS_ACT_KERNEL, type BiasActKernelAttrs } from '../../ops/kernel_names.js';
import type { TfjsWebGpu } from './contracts.js';
import { FlatProgram } from './flat_program.js';

type Which = 'y' | 'mask';

/** One output of bias_act over the flat tensor; the channel of element i is i % channels. */
class BiasActProgram extends FlatProgram {
  shaderKey: string;
  variableNames: string[];
  uniforms = 'channels : i32, alpha : f32, gain : f32, clampTo : f32,';

  constructor(
    webgpu: TfjsWebGpu,
    shape: number[],
    private readonly hasBias: boolean,
    private readonly act: BiasActKernelAttrs['act'],
    private readonly clamped: boolean,
    private readonly which: Which,
  ) {
    super(webgpu, shape);
    this.variableNames = hasBias ? ['x', 'b'] : ['x'];
    this.shaderKey = `rloBiasAct_${which}_${act}_${hasBias ? 'b' : ''}_${clamped ? 'c' : ''}`;
  }

  getUserCode(): string {
    const v = this.hasBias ? 'x[index] + b[index % uniforms.channels]' : 'x[index]';
    // The activation and its slope (v > 0 is false for NaN, as the composite's greater()).
    const [y, slope] =
      this.act === 'lrelu'
        ? ['select(v * uniforms.alpha, v, v > 0.0) * uniforms.gain', 'select(uniforms.gain * uniforms.alpha, uniforms.gain, v > 0.0)']
        : this.act === 'relu'
          ? ['max(v, 0.0) * uniforms.gain', 'select(0.0, uniforms.gain, v > 0.0)']
          : ['v * uniforms.gain', 'uniforms.gain'];
    const relu = this.act === 'relu' ? 'if (isnan(v)) { y = v; }' : ''; // max(NaN, 0) may be 0
    // torch's clamp passes the gradient at the bounds: |y| <= clamp keeps it; NaN does not.
    const out =
      this.which === 'y'
        ? this.clamped
          ? 'select(clamp(y, -uniforms.clampTo, uniforms.clampTo), y, isnan(y))'
          : 'y'
        : this.clamped
          ? `select(0.0, ${slope}, !isnan(y) && abs(y) <= uniforms.clampTo)`
          : slope;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = ${v};
          var y = ${y};
          ${relu}
          setOutputAtIndex(index, ${out});
        }
      }`;
  }
}

/** Registers RloBiasAct for the webgpu backend. */
export function registerBiasActWebGpu(webgpu: TfjsWebGpu): void {
  tf.registerKernel({
    kernelName: BIAS_ACT_KERNEL,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: { x: tf.TensorInfo; b?: tf.TensorInfo }; backend: WebGPUBackend; attrs: BiasActKernelAttrs }) => {
      const { x, b } = inputs;
      const a = attrs;
      const channels = x.shape[x.shape.length - 1];
      const uniforms = [
        { type: 'int32', data: [channels] },
        { type: 'float32', data: [a.alpha] },
        { type: 'float32', data: [a.gain] },
        { type: 'float32', data: [a.clamp ?? 0] },
      ];
      const xs = b ? [x, b] : [x];
      const run = (which: Which) => backend.runWebGPUProgram(new BiasActProgram(webgpu, x.shape, !!b, a.act, a.clamp !== null, which), xs, 'float32', uniforms);
      return a.withMask ? [run('y'), run('mask')] : [run('y')];
    }) as unknown as tf.KernelFunc,
  });
}
