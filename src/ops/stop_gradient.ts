// Identity whose gradient is zero (torch's .detach()): tfjs has no such op.
import * as tf from '@tensorflow/tfjs';
import { customOp } from './custom_op.js';

const op = customOp(([x]) => ({ value: x.clone(), gradFunc: (dy) => tf.zerosLike(dy) }));

export function stopGradient<T extends tf.Tensor>(x: T): T {
  return op(x) as T;
}
