// Slice as one strided native gather.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../contracts.js';
import { allFloat, gatherInto, override, stridesOf } from './helpers.js';

/** Overrides Slice. */
export function registerSlice(addon: NativeAddon): void {
  override('Slice', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { begin, size: sz } = attrs as { begin: number | number[]; size: number | number[] };
    const [b, s2] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, sz);
    const st = stridesOf(x.shape);
    return gatherInto(
      addon,
      backend,
      x,
      s2,
      st,
      st.map(() => 0),
      b.reduce((p, v, i) => p + v * st[i], 0),
    );
  });
}
