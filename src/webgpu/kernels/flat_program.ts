// What every kernel of this folder shares: one thread per element of the flat output (tfjs' webgpu
// `size` dispatch: the shader's main(index) runs for index < uniforms.size), workgroups of 64.
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';
import type { TfjsWebGpu } from './contracts.js';

export abstract class FlatProgram implements WebGPUProgram {
  outputShape: number[];
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  abstract shaderKey: string;
  abstract variableNames: string[];
  abstract uniforms: string;

  constructor(webgpu: TfjsWebGpu, outShape: number[]) {
    this.outputShape = outShape;
    this.dispatchLayout = webgpu.webgpu_util.flatDispatchLayout(outShape);
    this.dispatch = webgpu.webgpu_util.computeDispatch(this.dispatchLayout, outShape, this.workgroupSize);
  }

  abstract getUserCode(): string;
}
