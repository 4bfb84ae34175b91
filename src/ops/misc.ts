// Small network ops from upstream training/networks.py, NHWC.
import * as tf from '@tensorflow/tfjs';

/**
 * tf.tidy for a network block that returns a pair, one of which may be null (tfjs' tidy keeps the
 * tensors and skips nulls; its types admit none). A block in its own tidy releases what it made and
 * no gradient needs when it returns, not when the whole network's pass ends: without it a forward
 * pass holds every intermediate of the network at once.
 */
export function tidyPair<A extends tf.Tensor, B extends tf.Tensor | null>(f: () => [A, B]): [A, B] {
  return tf.tidy(f as unknown as () => tf.TensorContainer) as unknown as [A, B];
}

/** x * rsqrt(mean(x^2, axis) + eps): upstream normalize_2nd_moment (dim 1 of [N, F]). */
export function normalize2ndMoment(x: tf.Tensor, axis = 1, eps = 1e-8): tf.Tensor {
  return tf.tidy(() => x.mul(x.square().mean(axis, true).add(eps).rsqrt()));
}

/**
 * Minibatch standard deviation (upstream MinibatchStdLayer): appends `numChannels` feature maps
 * holding the stddev over groups of `groupSize` samples. Samples i and i + N/G share a group, as
 * upstream's reshape(G, -1, ...) groups them.
 */
export function minibatchStd(x: tf.Tensor4D, groupSize: number | null, numChannels = 1): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = groupSize === null ? n : Math.min(groupSize, n);
  const f = numChannels;
  if (n % g !== 0) throw new Error(`minibatchStd: batch size ${n} is not divisible by the group size ${g}; use a batch that is a multiple of ${g}`);
  if (c % f !== 0) throw new Error(`minibatchStd: ${c} channels are not divisible by num_channels ${f}`);
  return tf.tidy(() => {
    let y: tf.Tensor = x.reshape([g, n / g, h, w, f, c / f]); // [G n H W F c]
    y = y.sub(y.mean(0));
    y = y.square().mean(0); // [n H W F c] variance over the group
    y = y.add(1e-8).sqrt();
    y = y.mean([1, 2, 4]); // [n F]
    y = y.reshape([n / g, 1, 1, f]).tile([g, h, w, 1]); // [N H W F]
    return tf.concat([x, y as tf.Tensor4D], 3);
  });
}

/**
 * The sum of many same-shape tensors: addN over groups of at most ADD_N_GROUP. tfjs' webgpu backend
 * compiles one addN into one shader with a storage buffer per input, and a shader may bind only 8
 * (WebGPU's default limit): an addN of more inputs fails on the device and returns zeros.
 */
export function sumAll(ts: tf.Tensor[]): tf.Tensor {
  if (!ts.length) throw new Error('sumAll: no tensors to add');
  return tf.tidy(() => {
    let level = ts;
    while (level.length > 1) {
      const next: tf.Tensor[] = [];
      for (let i = 0; i < level.length; i += ADD_N_GROUP) {
        const group = level.slice(i, i + ADD_N_GROUP);
        next.push(group.length === 1 ? group[0] : tf.addN(group));
      }
      level = next;
    }
    return level[0].clone();
  });
}

/** Inputs per addN: the 8 storage buffers a WebGPU shader may bind by default, less the output's. */
export const ADD_N_GROUP = 7;
