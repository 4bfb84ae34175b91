// A fixed sparse linear map over rows: y[p] = sum_k w[p, k] * x[idx[p, k]] (x, y: [rows, C]).
// Its gradient is the transposed map (a scatter-add), whose gradient is the map again: both are
// custom ops, so any order of differentiation works. Used for bilinear resampling and reflect
// padding in the augmentation pipeline. (tfjs' own gather gradient, UnsortedSegmentSum, is
// quadratic in the number of rows on the cpu backend.)
import { SPARSE_MAP_KERNEL, type SparseMapKernelAttrs } from './kernel_names.js';
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom_op.js';
import { runCustomKernel } from './kernel_contract.js';

/** Name of the optional fused kernel (the native addon registers it for the cpu backend). */

/** The map (or its transpose) in one pass where the backend has the kernel; null otherwise. */
function fused(x: tf.Tensor2D, m: SparseMap, transpose: boolean): tf.Tensor2D | null {
  if (!tf.getKernel(SPARSE_MAP_KERNEL, tf.getBackend())) return null;
  return runCustomKernel<{ x: tf.Tensor }, SparseMapKernelAttrs>(SPARSE_MAP_KERNEL, { x }, { ...m, transpose })[0] as tf.Tensor2D;
}

export interface SparseMap {
  idx: Int32Array; // [P * K] source rows
  w: Float32Array | null; // [P * K] weights (null = all 1)
  P: number; // output rows
  K: number; // taps per output row
  M: number; // input rows
}

function forward(x: tf.Tensor2D, m: SparseMap): tf.Tensor2D {
  const f = fused(x, m, false);
  if (f) return f;
  const c = x.shape[1];
  const g = tf.gather(x, tf.tensor1d(m.idx, 'int32'), 0);
  if (m.K === 1 && !m.w) return g as tf.Tensor2D;
  const wg = m.w ? g.mul(tf.tensor2d(m.w, [m.P * m.K, 1])) : g;
  return wg.reshape([m.P, m.K, c]).sum(1) as tf.Tensor2D;
}

function transpose(y: tf.Tensor2D, m: SparseMap): tf.Tensor2D {
  const f = fused(y, m, true);
  if (f) return f;
  const c = y.shape[1];
  let u: tf.Tensor =
    m.K === 1
      ? y
      : y
          .reshape([m.P, 1, c])
          .tile([1, m.K, 1])
          .reshape([m.P * m.K, c]);
  if (m.w) u = u.mul(tf.tensor2d(m.w, [m.P * m.K, 1]));
  // scatterND accumulates duplicate indices.
  return tf.scatterND(tf.tensor2d(m.idx, [m.P * m.K, 1], 'int32'), u, [m.M, c]) as tf.Tensor2D;
}

export function sparseMap(x: tf.Tensor2D, m: SparseMap): tf.Tensor2D {
  if (x.shape[0] !== m.M) throw new Error(`sparseMap: input has ${x.shape[0]} rows, the map expects ${m.M}`);
  const op = customOp(([xi]) => ({ value: forward(xi as tf.Tensor2D, m), gradFunc: (dy) => sparseMapT(dy as tf.Tensor2D, m) }));
  return tf.tidy(() => op(x) as tf.Tensor2D);
}

export function sparseMapT(y: tf.Tensor2D, m: SparseMap): tf.Tensor2D {
  if (y.shape[0] !== m.P) throw new Error(`sparseMapT: input has ${y.shape[0]} rows, the map expects ${m.P}`);
  const op = customOp(([yi]) => ({ value: transpose(yi as tf.Tensor2D, m), gradFunc: (dx) => sparseMap(dx as tf.Tensor2D, m) }));
  return tf.tidy(() => op(y) as tf.Tensor2D);
}
