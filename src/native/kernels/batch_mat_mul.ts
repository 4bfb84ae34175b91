// BatchMatMul (equal or unit batch shapes) over our SGEMM.
import type { NativeAddon } from '../contracts.js';
import { allFloat, outputArray, override, values } from './helpers.js';

/** Overrides BatchMatMul. */
export function registerBatchMatMul(addon: NativeAddon): void {
  override('BatchMatMul', ({ inputs, attrs }, backend) => {
    const { a, b } = inputs;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!allFloat(a, b) || a.shape.length < 2 || b.shape.length < 2) return null;
    const ra = a.shape.length,
      rb = b.shape.length;
    const batchA = a.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    const batchB = b.shape.slice(0, -2).reduce((p, d) => p * d, 1);
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return null;
    // Only equal or unit batch shapes; general broadcasting goes to the original kernel.
    const batchShape = batchA >= batchB ? a.shape.slice(0, -2) : b.shape.slice(0, -2);
    if (batchA === batchB && ra !== rb) return null;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    if (k !== kb) return null;
    const batch = Math.max(batchA, batchB);
    const out = outputArray(backend, batch * m * n);
    addon.matmul(
      values(backend, a),
      values(backend, b),
      { batch, m, k, n, transA: transposeA, transB: transposeB, aBatched: batchA > 1 || batchA === batch, bBatched: batchB > 1 || batchB === batch },
      out,
    );
    return backend.makeTensorInfo([...batchShape, m, n], 'float32', out);
  });
}
