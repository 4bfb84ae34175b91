// torch.save files (zip format, and the legacy format that torch.storage._load_from_bytes and
// 2019-era files use) read without torch or Python: tensors rebuilt from storages honouring
// storage offset and strides. Nothing in the file is executed (see pickle.ts).
import { entryData, zipEntries } from './zip.js';
import { PyGlobal, PyObject, type Reducer, Unpickler, type UnpickleOptions } from './pickle.js';

export type TorchDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const STORAGE_TYPES: Record<string, { dtype: TorchDType; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  HalfStorage: { dtype: 'float16', size: 2 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 },
  CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
};

/** A storage whose bytes may arrive after the pickle that references it (legacy format). */
export class TorchStorage {
  bytes: Uint8Array | null = null;
  constructor(
    readonly dtype: TorchDType,
    readonly elementSize: number,
    readonly numel: number,
    readonly key: string,
  ) {}
}

/** A tensor view on a storage. `values()` materializes the logical row-major values. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}

  get dtype(): TorchDType {
    return this.storage.dtype;
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Row-major with no gaps (strides of size-1 axes do not matter). */
  contiguous(): boolean {
    let expect = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expect) return false;
      expect *= this.shape[d];
    }
    return true;
  }

  /** Checks that the view lies inside its storage and does not repeat elements. */
  check(): void {
    const s = this.storage;
    const n = this.numel;
    // Bounds: the largest element index the view touches must lie inside the storage.
    let maxIdx = this.offset;
    for (let i = 0; i < this.shape.length; i++) if (this.shape[i] > 0) maxIdx += (this.shape[i] - 1) * this.stride[i];
    if (n > 0 && (this.offset < 0 || maxIdx >= s.numel || this.stride.some((x) => x < 0))) {
      throw new Error(`tensor view (offset ${this.offset}, shape [${this.shape}], stride [${this.stride}]) exceeds its storage of ${s.numel} elements`);
    }
    // A view with more elements than its storage repeats elements (a stride-0 or overlapping view):
    // tensors are never saved that way, and expanding one would allocate without bound.
    if (n > s.numel) {
      throw new Error(
        `tensor view (shape [${this.shape}], stride [${this.stride}]) has ${n} elements but its storage only ${s.numel}: a broadcast view, which network weights never are`,
      );
    }
  }

  /** Logical values in row-major order: float types as Float64Array (exact), integers as numbers or BigInt64Array for int64. */
  values(): Float64Array | BigInt64Array {
    const s = this.storage;
    if (!s.bytes) throw new Error(`storage ${s.key} has no data`);
    this.check();
    const n = this.numel;
    const dv = new DataView(s.bytes.buffer, s.bytes.byteOffset, s.bytes.byteLength);
    const out = s.dtype === 'int64' ? new BigInt64Array(n) : new Float64Array(n);
    const idx = new Array(this.shape.length).fill(0);
    for (let k = 0; k < n; k++) {
      let e = this.offset;
      for (let d = 0; d < idx.length; d++) e += idx[d] * this.stride[d];
      const o = e * s.elementSize;
      switch (s.dtype) {
        case 'float32':
          (out as Float64Array)[k] = dv.getFloat32(o, true);
          break;
        case 'float64':
          (out as Float64Array)[k] = dv.getFloat64(o, true);
          break;
        case 'float16':
          (out as Float64Array)[k] = half(dv.getUint16(o, true));
          break;
        case 'bfloat16': {
          const b = new DataView(new ArrayBuffer(4));
          b.setUint16(2, dv.getUint16(o, true));
          (out as Float64Array)[k] = b.getFloat32(0);
          break;
        }
        case 'int64':
          (out as BigInt64Array)[k] = dv.getBigInt64(o, true);
          break;
        case 'int32':
          (out as Float64Array)[k] = dv.getInt32(o, true);
          break;
        case 'int16':
          (out as Float64Array)[k] = dv.getInt16(o, true);
          break;
        case 'int8':
          (out as Float64Array)[k] = dv.getInt8(o);
          break;
        default:
          (out as Float64Array)[k] = dv.getUint8(o);
      }
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < this.shape[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  }

  /** Values as float32 (parameters); a contiguous float32 view is copied without a float64 detour. */
  float32(): Float32Array {
    const s = this.storage;
    if (s.bytes && s.dtype === 'float32' && this.contiguous()) {
      this.check();
      const out = new Float32Array(this.numel);
      new Uint8Array(out.buffer).set(s.bytes.subarray(this.offset * 4, (this.offset + this.numel) * 4));
      return out;
    }
    const v = this.values();
    return v instanceof BigInt64Array ? Float32Array.from(v, (x) => Number(x)) : Float32Array.from(v);
  }
}

function half(h: number): number {
  const s = h & 0x8000 ? -1 : 1,
    e = (h >> 10) & 0x1f,
    f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function storageType(g: unknown): { dtype: TorchDType; size: number } {
  if (g instanceof PyGlobal && g.module === 'torch' && STORAGE_TYPES[g.name]) return STORAGE_TYPES[g.name];
  throw new Error(`unsupported storage type ${g instanceof PyGlobal ? g.qualname : String(g)}`);
}

function intArray(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) throw new Error(`corrupt tensor: ${what} is not a tuple of integers`);
  return v as number[];
}

/** The reducers that rebuild tensors (pure data transforms; nothing from the file runs); `source` names the file in errors. */
export function torchReducers(source = 'torch file'): Record<string, Reducer> {
  const rebuild = (args: unknown[]) => {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof TorchStorage)) throw new Error('corrupt tensor: no storage');
    if (typeof offset !== 'number') throw new Error('corrupt tensor: storage offset is not an integer');
    const shape = intArray(size, 'size');
    if (shape.reduce((a, b) => a * b, 1) > 2 ** 31) throw new Error(`tensor of shape [${shape}] is absurdly large`);
    return new TorchTensor(storage, offset, shape, intArray(stride, 'stride'));
  };
  return {
    'torch._utils._rebuild_tensor_v2': rebuild,
    'torch._utils._rebuild_tensor': rebuild,
    'torch._utils._rebuild_parameter': (args) => args[0],
    'torch._utils._rebuild_parameter_with_state': (args) => args[0],
    'torch.storage._load_from_bytes': (args) => {
      if (!(args[0] instanceof Uint8Array)) throw new Error('corrupt storage bytes');
      return readTorchLegacy(args[0], `${source}: an embedded storage`);
    },
    'torch.nn.parameter.Parameter': (args) => args[0],
  };
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Reads a torch.save file in either format and returns the saved object. */
export function readTorchFile(buf: Uint8Array, source: string, extra: Record<string, Reducer> = {}): unknown {
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && buf[2] === 0x03 && buf[3] === 0x04) return readTorchZip(buf, source, extra);
  if (buf.length >= 2 && buf[0] === 0x80) return readTorchLegacy(buf, source, extra);
  throw new Error(`${source}: not a torch.save file (neither a zip archive nor a pickle)`);
}

/** Legacy format: magic, protocol, sys info, the object (persistent storage ids), storage keys, then raw storages. */
export function readTorchLegacy(buf: Uint8Array, source: string, extra: Record<string, Reducer> = {}): unknown {
  const opts = (persistentLoad?: UnpickleOptions['persistentLoad']): UnpickleOptions => ({
    source,
    reducers: { ...torchReducers(source), ...extra },
    persistentLoad,
  });
  let u = new Unpickler(buf, 0, opts());
  const magic = u.load();
  if (typeof magic.value !== 'bigint' || magic.value !== LEGACY_MAGIC) throw new Error(`${source}: wrong magic number: not a legacy torch.save file`);
  u = new Unpickler(buf, magic.end, opts());
  const proto = u.load();
  if (proto.value !== 1001) throw new Error(`${source}: unsupported legacy torch.save protocol ${String(proto.value)}`);
  u = new Unpickler(buf, proto.end, opts());
  const sysInfo = u.load();
  const storages = new Map<string, TorchStorage>();
  u = new Unpickler(
    buf,
    sysInfo.end,
    opts((pid) => {
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${source}: unsupported persistent id ${JSON.stringify(pid)}`);
      const [, type, key, , numel, view] = pid as [string, unknown, string, string, number, unknown];
      if (view !== null && view !== undefined) throw new Error(`${source}: storage views are not supported`);
      let s = storages.get(String(key));
      if (!s) {
        const t = storageType(type);
        if (!Number.isInteger(numel) || numel < 0 || numel * t.size > buf.length)
          throw new Error(`${source}: storage ${key} declares ${numel} elements, more than the file holds`);
        s = new TorchStorage(t.dtype, t.size, numel, String(key));
        storages.set(String(key), s);
      }
      return s;
    }),
  );
  const obj = u.load();
  u = new Unpickler(buf, obj.end, opts());
  const keyList = u.load();
  const keys = keyList.value;
  if (!Array.isArray(keys)) throw new Error(`${source}: corrupt storage key list`);
  let pos = keyList.end;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const key of keys) {
    const s = storages.get(String(key));
    if (!s) throw new Error(`${source}: storage ${key} listed but never referenced`);
    if (pos + 8 > buf.length) throw new Error(`${source}: truncated: storage ${key} record is missing`);
    const n = Number(dv.getBigInt64(pos, true));
    pos += 8;
    if (n !== s.numel) throw new Error(`${source}: storage ${key} has ${n} elements, its reference says ${s.numel}`);
    const len = n * s.elementSize;
    if (pos + len > buf.length) throw new Error(`${source}: truncated: storage ${key} needs ${len} bytes, ${buf.length - pos} remain`);
    s.bytes = buf.slice(pos, pos + len);
    pos += len;
  }
  return obj.value;
}

/** data.pkl of a state dict or network is small; storages are bounded by what refers to them. */
const MAX_PICKLE_ENTRY = 256 * 2 ** 20;
/** No tensor of a StyleGAN2 network or of the FID Inception comes near 1 GiB. */
export const MAX_STORAGE_BYTES = 2 ** 30;
/** Zip format (torch >= 1.6): <root>/data.pkl with storages in <root>/data/<key>. */
export function readTorchZip(buf: Uint8Array, source: string, extra: Record<string, Reducer> = {}): unknown {
  const entries = zipEntries(buf, source);
  const pkl = [...entries.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (!pkl) throw new Error(`${source}: a zip archive without data.pkl: not a torch.save file`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const storages = new Map<string, TorchStorage>();
  const u = new Unpickler(entryData(buf, entries.get(pkl)!, source, MAX_PICKLE_ENTRY), 0, {
    source,
    reducers: { ...torchReducers(source), ...extra },
    persistentLoad: (pid) => {
      if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${source}: unsupported persistent id ${JSON.stringify(pid)}`);
      const [, type, key, , numel] = pid as [string, unknown, string, string, number];
      let s = storages.get(String(key));
      if (!s) {
        const t = storageType(type);
        const e = entries.get(`${root}data/${key}`);
        if (!e) throw new Error(`${source}: storage record data/${key} is missing`);
        if (!(Number.isSafeInteger(numel) && numel >= 0 && numel * t.size <= MAX_STORAGE_BYTES))
          throw new Error(`${source}: storage ${key} declares ${numel} elements, beyond any network's tensor (at most ${MAX_STORAGE_BYTES} bytes)`);
        const bytes = entryData(buf, e, source, numel * t.size);
        if (bytes.length < numel * t.size) throw new Error(`${source}: storage ${key} has ${bytes.length} bytes, needs ${numel * t.size}`);
        s = new TorchStorage(t.dtype, t.size, numel, String(key));
        s.bytes = bytes.slice(0, numel * t.size);
        storages.set(String(key), s);
      }
      return s;
    },
  });
  return u.load().value;
}

export { PyObject };
