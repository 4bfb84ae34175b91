// RloBiasAct on the webgpu backend: bias, activation, gain and clamp in one WGSL pass (and the
// gradient mask, dy/dx, in a second where asked), where tfjs' composite ops take 5 to 8 passes over
// the tensor (add, compare, select, multiply, abs, compare, clip...). RloBiasActGrad is the backward
// pass read from the output, as upstream's CUDA op: dx = dy * slope(y), so training keeps no mask.
// Every element is one thread. The arithmetic is the composite's (src/ops/bias_act.ts), NaN
// included: a NaN input gives a NaN output whatever the clamp, and the slope the composite gives it,
// so that a diverging run is still seen as diverging.
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { BIAS_ACT_GRAD_KERNEL, BIAS_ACT_KERNEL, type BiasActGradKernelAttrs, type BiasActKernelAttrs } from '../../ops/kernel_names.js';
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
    const [y, slope] = [activation(this.act), slopeAt(this.act, 'v')];
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

/** WGSL: the activation of `v`, times the gain. */
function activation(act: BiasActKernelAttrs['act']): string {
  if (act === 'lrelu') return 'select(v * uniforms.alpha, v, v > 0.0) * uniforms.gain';
  if (act === 'relu') return 'max(v, 0.0) * uniforms.gain';
  return 'v * uniforms.gain';
}

/** WGSL: d y / d v where `at` (v, or y with a positive gain) has its sign; false for NaN, as the composite's greater(). */
function slopeAt(act: BiasActKernelAttrs['act'], at: string): string {
  if (act === 'lrelu') return `select(uniforms.gain * uniforms.alpha, uniforms.gain, ${at} > 0.0)`;
  if (act === 'relu') return `select(0.0, uniforms.gain, ${at} > 0.0)`;
  return 'uniforms.gain';
}

/** dx = dy * slope(y), zero where |y| >= clamp (and for NaN y), as upstream's bias_act.cu backward. */
class BiasActGradProgram extends FlatProgram {
  shaderKey: string;
  variableNames = ['dy', 'y'];
  uniforms = 'alpha : f32, gain : f32, clampTo : f32,';

  constructor(
    webgpu: TfjsWebGpu,
    shape: number[],
    private readonly act: BiasActKernelAttrs['act'],
    private readonly clamped: boolean,
  ) {
    super(webgpu, shape);
    this.shaderKey = `rloBiasActGrad_${act}_${clamped ? 'c' : ''}`;
  }

  getUserCode(): string {
    const slope = slopeAt(this.act, 'yv');
    const s = this.clamped ? `select(0.0, ${slope}, abs(yv) < uniforms.clampTo)` : slope;
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let yv = y[index];
          setOutputAtIndex(index, dy[index] * ${s});
        }
      }`;
  }
}

const scalars = (a: BiasActGradKernelAttrs) => [
  { type: 'float32', data: [a.alpha] },
  { type: 'float32', data: [a.gain] },
  { type: 'float32', data: [a.clamp ?? 0] },
];

/** Registers RloBiasAct and RloBiasActGrad for the webgpu backend. */
export function registerBiasActWebGpu(webgpu: TfjsWebGpu): void {
  tf.registerKernel({
    kernelName: BIAS_ACT_KERNEL,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: { x: tf.TensorInfo; b?: tf.TensorInfo }; backend: WebGPUBackend; attrs: BiasActKernelAttrs }) => {
      const { x, b } = inputs;
      const a = attrs;
      const channels = x.shape[x.shape.length - 1];
      const uniforms = [{ type: 'int32', data: [channels] }, ...scalars(a)];
      const xs = b ? [x, b] : [x];
      const run = (which: Which) => backend.runWebGPUProgram(new BiasActProgram(webgpu, x.shape, !!b, a.act, a.clamp !== null, which), xs, 'float32', uniforms);
      return a.withMask ? [run('y'), run('mask')] : [run('y')];
    }) as unknown as tf.KernelFunc,
  });
  tf.registerKernel({
    kernelName: BIAS_ACT_GRAD_KERNEL,
    backendName: 'webgpu',
    kernelFunc: (({ inputs, backend, attrs }: { inputs: { dy: tf.TensorInfo; y: tf.TensorInfo }; backend: WebGPUBackend; attrs: BiasActGradKernelAttrs }) => {
      const program = new BiasActGradProgram(webgpu, inputs.dy.shape, attrs.act, attrs.clamp !== null);
      return backend.runWebGPUProgram(program, [inputs.dy, inputs.y], 'float32', scalars(attrs));
    }) as unknown as tf.KernelFunc,
  });
}
