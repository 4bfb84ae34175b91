// Conv2DBackpropFilter (the filter gradient) through native/conv.c.
import type { NativeAddon } from '../contracts.js';
import { allFloat, convInfo, geom, isNhwc, override, size, values } from './helpers.js';

/** Overrides Conv2DBackpropFilter. */
export function registerConv2DBackpropFilter(addon: NativeAddon): void {
  override('Conv2DBackpropFilter', ({ inputs, attrs }, backend) => {
    const { x, dy } = inputs;
    const a = attrs as {
      filterShape: [number, number, number, number];
      strides: number | [number, number];
      pad: never;
      dataFormat: string;
      dimRoundingMode: never;
    };
    if (!isNhwc(a.dataFormat) || !allFloat(x, dy)) return null;
    const ci = convInfo(x.shape, a.filterShape, a.strides, 1, a.pad, a.dimRoundingMode);
    const dw = new Float32Array(size(a.filterShape));
    addon.conv2dBackpropFilter(values(backend, x), values(backend, dy), geom(ci), dw);
    return backend.makeTensorInfo(a.filterShape, 'float32', dw);
  });
}
