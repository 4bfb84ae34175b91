// Unpack (tf.unstack) and SplitV (tf.split, concat's gradient): one strided copy per piece.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../contracts.js';
import { allFloat, type CpuBackend, gatherInto, override, stridesOf } from './helpers.js';

/** Overrides Unpack and SplitV. */
export function registerUnpackSplit(addon: NativeAddon): void {
  /** Copies of consecutive pieces of x along `axis` (sizes[i] each), with `axis` dropped when squeeze. */
  const piecesAlong = (backend: CpuBackend, x: tf.TensorInfo, axis: number, sizes: number[], squeeze: boolean): tf.TensorInfo[] | null => {
    const st = stridesOf(x.shape);
    const outs: tf.TensorInfo[] = [];
    let begin = 0;
    for (const sz of sizes) {
      const shape = x.shape.map((d, i) => (i === axis ? sz : d));
      const keep = (_: number, i: number) => !(squeeze && i === axis);
      const t = gatherInto(
        addon,
        backend,
        x,
        shape.filter(keep),
        st.filter(keep),
        st.filter(keep).map(() => 0),
        begin * st[axis],
      );
      if (!t) {
        for (const o of outs) backend.disposeData(o.dataId);
        return null;
      }
      outs.push(t);
      begin += sz;
    }
    return outs;
  };

  // tf.unstack and tf.split (also concat's gradient): one strided copy per piece. tfjs' JS kernels
  // copied element by element (unstacking the synthesis latents [16, 8, 64]: over 1 ms; the
  // splits in an emoji32 training iteration: about 10% of it).
  override('Unpack', ({ inputs, attrs }, backend) => {
    const x = inputs.value;
    if (!allFloat(x)) return null;
    const axis = tf.util.parseAxisParam((attrs as { axis: number }).axis, x.shape)[0];
    return piecesAlong(backend, x, axis, new Array(x.shape[axis]).fill(1), true);
  });
  override('SplitV', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const a = attrs as { numOrSizeSplits: number | number[]; axis: number };
    const axis = tf.util.parseAxisParam(a.axis, x.shape)[0];
    return piecesAlong(backend, x, axis, tf.backend_util.prepareSplitSize(x, a.numOrSizeSplits, axis), false);
  });
}
