// DepthwiseConv2dNative (channel multiplier 1) through native/conv.c.
import type { NativeAddon } from '../contracts.js';
import { allFloat, convInfo, geom, outputArray, override, size, values } from './helpers.js';

/** Overrides DepthwiseConv2dNative. */
export function registerDepthwiseConv2d(addon: NativeAddon): void {
  override('DepthwiseConv2dNative', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dilations: number | [number, number]; dimRoundingMode: never };
    if (filter.shape[3] !== 1 || !allFloat(x, filter)) return null; // channel multiplier 1 only
    const ci = convInfo(x.shape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode, true);
    const out = outputArray(backend, size(ci.outShape));
    addon.depthwiseConv2d(values(backend, x), values(backend, filter), geom(ci, true), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });
}
