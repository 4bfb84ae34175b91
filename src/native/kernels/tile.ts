// Tile as one strided native gather (modulo indexing).
import type { NativeAddon } from '../contracts.js';
import { allFloat, gatherInto, override, stridesOf } from './helpers.js';

/** Overrides Tile. */
export function registerTile(addon: NativeAddon): void {
  override('Tile', ({ inputs, attrs }, backend) => {
    const { x } = inputs;
    if (!allFloat(x)) return null;
    const { reps } = attrs as { reps: number[] };
    return gatherInto(
      addon,
      backend,
      x,
      x.shape.map((d, i) => d * reps[i]),
      stridesOf(x.shape),
      x.shape.map((d, i) => (reps[i] > 1 ? d : 0)),
      0,
    );
  });
}
