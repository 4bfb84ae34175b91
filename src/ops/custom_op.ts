// A typed wrapper over tf.customGrad: `f` gets the input tensors and tfjs' save function and
// returns the value and its gradient function.
import * as tf from '@tensorflow/tfjs';

export type CustomForward = (
  inputs: tf.Tensor[],
  save: tf.GradSaveFunc,
) => {
  value: tf.Tensor;
  gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
};

type CustomGradientFunc = Parameters<typeof tf.customGrad>[0];

export function customOp(f: CustomForward): (...inputs: tf.Tensor[]) => tf.Tensor {
  const g = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const r = f(args.slice(0, -1) as tf.Tensor[], save);
    return { value: r.value, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => r.gradFunc(dy as tf.Tensor, saved) };
  }) as CustomGradientFunc);
  return (...inputs: tf.Tensor[]) => g(...inputs);
}
