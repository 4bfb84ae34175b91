// AvgPool and MaxPool through native/conv.c.
import * as tf from '@tensorflow/tfjs';
import type { NativeAddon } from '../contracts.js';
import { allFloat, geom, outputArray, override, size, values } from './helpers.js';

/** Overrides AvgPool and MaxPool. */
export function registerPools(addon: NativeAddon): void {
  for (const [name, isMax] of [
    ['AvgPool', false],
    ['MaxPool', true],
  ] as const) {
    override(name, ({ inputs, attrs }, backend) => {
      const { x } = inputs;
      if (!allFloat(x)) return null;
      const a = attrs as { filterSize: number | [number, number]; strides: number | [number, number]; pad: never; dimRoundingMode: never };
      const ci = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
      const out = outputArray(backend, size(ci.outShape));
      addon.pool2d(values(backend, x), geom(ci, true), isMax, out);
      return backend.makeTensorInfo(ci.outShape, 'float32', out);
    });
  }
}
