// Conv2D (NHWC, float32) as chunked im2col + our SGEMM (native/conv.c).
import type { NativeAddon } from '../contracts.js';
import { allFloat, convInfo, geom, isNhwc, outputArray, override, size, values } from './helpers.js';

/** Overrides Conv2D. */
export function registerConv2D(addon: NativeAddon): void {
  override('Conv2D', ({ inputs, attrs }, backend) => {
    const { x, filter } = inputs;
    const a = attrs as { strides: number | [number, number]; pad: never; dataFormat: string; dilations: number | [number, number]; dimRoundingMode: never };
    if (!isNhwc(a.dataFormat) || !allFloat(x, filter)) return null;
    const ci = convInfo(x.shape, filter.shape, a.strides, a.dilations ?? 1, a.pad, a.dimRoundingMode);
    const out = outputArray(backend, size(ci.outShape));
    addon.conv2d(values(backend, x), values(backend, filter), geom(ci), out);
    return backend.makeTensorInfo(ci.outShape, 'float32', out);
  });
}
