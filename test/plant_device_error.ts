// Test only, loaded with `node --import` into a CLI process: plants a GPU device error in a command
// that would otherwise run correctly. Every rank-4 pad on the webgpu backend runs as the rank-5
// pad that tfjs' webgpu backend cannot compile (the shader fails to build, the pad returns zeros,
// and only the device's uncapturederror event says so), which is what upfirdn2d did before its
// zero insertion became two rank-4 pads. The command must fail in one line, not write wrong images.
import * as tf from '@tensorflow/tfjs';

const pad = tf.Tensor.prototype.pad;
tf.Tensor.prototype.pad = function (this: tf.Tensor, paddings: Array<[number, number]>, constantValue?: number) {
  if (tf.getBackend() !== 'webgpu' || this.rank !== 4) return pad.call(this, paddings as never, constantValue) as never;
  return tf.tidy(() => pad.call(this.expandDims(0), [[0, 0], ...paddings] as never, constantValue).squeeze([0])) as never;
} as typeof pad;
