// Conv2DBackpropInput (the input gradient) through native/conv.c.
import type { NativeAddon } from '../contracts.js';
import { allFloat, convInfo, geom, isNhwc, outputArray, override, size, values } from './helpers.js';

/** Overrides Conv2DBackpropInput. */
export function registerConv2DBackpropInput(addon: NativeAddon): void {
  override('Conv2DBackpropInput', ({ inputs, attrs }, backend) => {
    const { dy, filter } = inputs;
    const a = attrs as {
      inputShape: [number, number, number, number];
      strides: number | [number, number];
      pad: never;
      dataFormat: string;
      dimRoundingMode: never;
    };
    if (!isNhwc(a.dataFormat) || !allFloat(dy, filter)) return null;
    const ci = convInfo(a.inputShape, filter.shape, a.strides, 1, a.pad, a.dimRoundingMode);
    const dx = outputArray(backend, size(ci.inShape));
    addon.conv2dBackpropInput(values(backend, dy), values(backend, filter), geom(ci), dx);
    return backend.makeTensorInfo(ci.inShape, 'float32', dx);
  });
}
