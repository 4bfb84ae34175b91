// Transpose as one strided native gather.
import type { NativeAddon } from '../contracts.js';
import { allFloat, gatherInto, override, stridesOf } from './helpers.js';

/** Overrides Transpose. */
export function registerTranspose(addon: NativeAddon): void {
  override('Transpose', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { perm } = attrs as { perm: number[] };
    const st = stridesOf(x.shape);
    return gatherInto(
      addon,
      backend,
      x,
      perm.map((p) => x.shape[p]),
      perm.map((p) => st[p]),
      perm.map(() => 0),
      0,
    );
  });
}
