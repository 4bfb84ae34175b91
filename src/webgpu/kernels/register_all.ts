// Registers the project's own kernels on tfjs' webgpu backend, as src/native/kernels/register_all.ts
// does on the cpu backend: one file per kernel registration in this folder, each a WGSL program
// that replaces the composite tfjs ops the op would otherwise run (src/ops/ falls back to those
// where a backend has no kernel).
import * as tf from '@tensorflow/tfjs';
import { BIAS_ACT_KERNEL } from '../../ops/kernel_names.js';
import type { TfjsWebGpu } from './contracts.js';
import { registerAdamUpdateWebGpu } from './adam_update.js';
import { registerBiasActWebGpu } from './bias_act.js';
import { registerUpFirDn2dWebGpu } from './upfirdn2d.js';

/** Once per process (the backend may start again after a release). */
export function registerWebGpuKernels(webgpu: TfjsWebGpu): void {
  if (tf.getKernel(BIAS_ACT_KERNEL, 'webgpu')) return;
  for (const register of [registerBiasActWebGpu, registerUpFirDn2dWebGpu, registerAdamUpdateWebGpu]) register(webgpu);
}
