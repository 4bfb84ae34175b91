// Running a custom tfjs kernel with typed inputs and attributes: the one place where the typed
// contract meets tfjs' untyped NamedTensorMap / NamedAttrMap.
import * as tf from '@tensorflow/tfjs';

export function runCustomKernel<Inputs extends object, Attrs extends object>(name: string, inputs: Inputs, attrs: Attrs): tf.Tensor[] {
  const out = tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);
  return Array.isArray(out) ? out : [out];
}
