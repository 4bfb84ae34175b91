// tfjs cpu-backend kernels implemented by the native addon. Placeholder registry filled in as
// kernels are added; each entry replaces the pure-JS kernel of the same name.
import * as tf from '@tensorflow/tfjs';

export interface NativeAddon {
  info(): string;
}

export function registerNativeKernels(addon: NativeAddon): void {
  void addon;
  void tf;
}
