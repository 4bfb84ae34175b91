// numpy arrays as pickles hold them (numpy.core.multiarray._reconstruct + BUILD state, and
// numpy scalars), decoded without numpy: dtype, shape, byte order, Fortran order.
import type { Reducer } from './pickle.js';

/** numpy.dtype descriptor as pickled (REDUCE + BUILD). */
class NpDType {
  order = '<';
  constructor(readonly code: string) {}
  setState(s: unknown) {
    if (Array.isArray(s) && typeof s[1] === 'string') this.order = s[1];
  }
  get size(): number {
    return Number(this.code.replace(/^[a-zA-Z<>|=]+/, '')) || 1;
  }
  get kind(): string {
    return this.code.replace(/[^a-zA-Z]/g, '')[0];
  }
}

/** numpy.ndarray as pickled: _reconstruct(...) then BUILD (version, shape, dtype, fortran, raw). */
export class NdArray {
  shape: number[] = [];
  dtype: NpDType | null = null;
  fortran = false;
  raw: Uint8Array | null = null;
  setState(s: unknown) {
    if (!Array.isArray(s) || s.length < 5) throw new Error('corrupt numpy array state');
    this.shape = (s[1] as number[]).map(Number);
    this.dtype = s[2] as NpDType;
    this.fortran = Boolean(s[3]);
    if (!(s[4] instanceof Uint8Array)) throw new Error('numpy object arrays are not supported');
    this.raw = s[4];
  }
  float32(): Float32Array {
    const d = this.dtype,
      raw = this.raw;
    if (!d || !raw) throw new Error('numpy array has no data');
    const n = this.shape.reduce((a, b) => a * b, 1);
    if (raw.length !== n * d.size) throw new Error(`numpy array of shape [${this.shape}] has ${raw.length} bytes, expected ${n * d.size}`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const le = d.order !== '>';
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * d.size;
      out[i] =
        d.kind === 'f'
          ? d.size === 4
            ? dv.getFloat32(o, le)
            : d.size === 8
              ? dv.getFloat64(o, le)
              : NaN
          : d.kind === 'i'
            ? d.size === 4
              ? dv.getInt32(o, le)
              : d.size === 8
                ? Number(dv.getBigInt64(o, le))
                : d.size === 1
                  ? dv.getInt8(o)
                  : dv.getInt16(o, le)
            : d.kind === 'u'
              ? d.size === 1
                ? dv.getUint8(o)
                : d.size === 4
                  ? dv.getUint32(o, le)
                  : dv.getUint16(o, le)
              : NaN;
    }
    if (this.fortran && this.shape.length > 1) {
      // Column-major -> row-major.
      const res = new Float32Array(n);
      const rs = this.shape;
      const idx = new Array(rs.length).fill(0);
      for (let k = 0; k < n; k++) {
        let f = 0,
          m = 1;
        for (let dd = 0; dd < rs.length; dd++) {
          f += idx[dd] * m;
          m *= rs[dd];
        }
        res[k] = out[f];
        for (let dd = rs.length - 1; dd >= 0; dd--) {
          if (++idx[dd] < rs[dd]) break;
          idx[dd] = 0;
        }
      }
      return res;
    }
    return out;
  }
}

export function numpyReducers(): Record<string, Reducer> {
  const dtype: Reducer = (args) => new NpDType(String(args[0]));
  const reconstruct: Reducer = () => new NdArray();
  const scalar: Reducer = (args) => {
    const d = args[0] as NpDType,
      b = args[1];
    if (!(d instanceof NpDType) || !(b instanceof Uint8Array)) return null;
    const a = new NdArray();
    a.setState([1, [], d, false, b]);
    return a.float32()[0];
  };
  const out: Record<string, Reducer> = {};
  for (const m of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    out[`${m}._reconstruct`] = reconstruct;
    out[`${m}.scalar`] = scalar;
  }
  out['numpy.dtype'] = dtype;
  return out;
}
