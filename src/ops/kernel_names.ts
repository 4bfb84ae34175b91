// The project's own tfjs kernels: their names, inputs and attributes, declared once. The ops
// (bias_act, upfirdn2d, sparse_map, adam_update) run them where a backend registers them
// (src/native/kernels/ on the cpu backend) and fall back to composite tfjs ops otherwise.
import type * as tf from '@tensorflow/tfjs';

/** bias_act's activations (upstream bias_act.py: activation_funcs). */
export type Activation = 'linear' | 'relu' | 'lrelu';

/** Bias, activation, gain and clamp in one pass (upstream bias_act.py). */
export const BIAS_ACT_KERNEL = 'RloBiasAct';
export interface BiasActKernelInputs {
  x: tf.Tensor;
  b?: tf.Tensor;
}
export interface BiasActKernelAttrs {
  act: Activation;
  alpha: number;
  gain: number;
  clamp: number | null;
  withMask: boolean;
}

/**
 * bias_act's gradient read from its output, as upstream's CUDA backward (bias_act.cu, grad mode 1):
 * dx = dy * slope(y), zero where |y| >= clamp. A backend that has it keeps y for the backward pass
 * instead of a mask. Only for gain > 0 (where y > 0 exactly when x + b > 0).
 */
export const BIAS_ACT_GRAD_KERNEL = 'RloBiasActGrad';
export interface BiasActGradKernelInputs {
  dy: tf.Tensor;
  y: tf.Tensor;
}
export type BiasActGradKernelAttrs = Omit<BiasActKernelAttrs, 'withMask'>;

/** Upsample, FIR filter, downsample in one pass (upstream upfirdn2d.py). */
export const UPFIRDN2D_KERNEL = 'RloUpFirDn2d';
export interface UpFirDn2dKernelInputs {
  x: tf.Tensor4D;
}
export interface UpFirDn2dKernelAttrs {
  taps: Float32Array; // correlation order, gain applied, [fh, fw] row-major
  fh: number;
  fw: number;
  up: [number, number]; // [x, y]
  down: [number, number]; // [x, y]
  pad: [number, number, number, number]; // [x0, x1, y0, y1]
  outShape: [number, number, number, number];
}

/** A sparse linear map of rows (the augmentation's resampling). */
export const SPARSE_MAP_KERNEL = 'RloSparseMap';
export interface SparseMapKernelAttrs {
  idx: Int32Array;
  w: Float32Array | null;
  P: number;
  K: number;
  M: number;
  transpose: boolean;
}

/** One fused Adam step. */
export const ADAM_UPDATE_KERNEL = 'RloAdamUpdate';

/** Inputs of RloAdamUpdate: variable, moments, gradient (same shape), t and apply (scalars). */
export interface AdamUpdateInputs {
  p: tf.TensorInfo;
  m: tf.TensorInfo;
  v: tf.TensorInfo;
  g: tf.TensorInfo;
  t: tf.TensorInfo;
  apply: tf.TensorInfo;
}
/** Attributes of RloAdamUpdate. Outputs: [p', m', v']. */
export interface AdamUpdateAttrs {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}
