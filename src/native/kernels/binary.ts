// Broadcasting binary ops (Add, Sub, Mul, ...; contracts.ts BINARY_OPS) over native strided loops.
import * as tf from '@tensorflow/tfjs';
import { BINARY_OPS } from '../contracts.js';
import type { NativeAddon } from '../contracts.js';
import { allFloat, collapse, outputArray, override, size, stridesOf, values } from './helpers.js';

/** Overrides each of BINARY_OPS. */
export function registerBinaryOps(addon: NativeAddon): void {
  for (const [name, code] of Object.entries(BINARY_OPS)) {
    override(name, ({ inputs }, backend) => {
      const { a, b } = inputs;
      if (!allFloat(a, b)) return null;
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const r = outShape.length;
      const pad = (s: number[]) => [...new Array(r - s.length).fill(1), ...s];
      const bstr = (s: number[]) => {
        const ps = pad(s),
          st = stridesOf(ps);
        return ps.map((d, i) => (d === 1 && outShape[i] !== 1 ? 0 : st[i]));
      };
      const c = collapse(outShape, [bstr(a.shape), bstr(b.shape)]);
      if (c.shape.length > 8) return null;
      const out = outputArray(backend, size(outShape));
      addon.binary(code, values(backend, a), values(backend, b), { shape: c.shape, aStrides: c.strides[0], bStrides: c.strides[1] }, out);
      return backend.makeTensorInfo(outShape, 'float32', out);
    });
  }
}
