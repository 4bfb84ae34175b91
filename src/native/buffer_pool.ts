// Reuse of the native kernels' output arrays on the tfjs cpu backend.
//
// A training iteration of the bundled network allocates a few hundred multi-megabyte outputs.
// Each new ArrayBuffer counts as V8 external memory, and every ~64 MB of it forced a garbage
// collection (about 12% of an iteration went to ~25 collections), besides the allocation itself.
// The pool hands a kernel an array that an earlier, disposed tensor owned.
//
// An array may be reused only when nothing can still see it. The pool counts, per ArrayBuffer it
// made, the tensor data entries that hold it or a view of it (tfjs' own slice kernels return
// views), by watching the backend's data store; and an array whose values were ever handed out
// (readSync / read: dataSync(), data(), array(), buffer()) is never reused, since the caller may
// keep it after disposing the tensor. Reused arrays are not zeroed: only kernels that write
// every element take them.
import type * as tf from '@tensorflow/tfjs';

type DataEntry = { values?: unknown };
interface DataStore {
  get(id: tf.DataId): DataEntry | undefined;
  set(id: tf.DataId, entry: DataEntry): void;
  has(id: tf.DataId): boolean;
  delete(id: tf.DataId): boolean;
}
export interface PoolableBackend {
  data: DataStore;
  readSync(id: tf.DataId): unknown;
}

/** Arrays below this many floats are allocated zeroed as usual (cheap, and not worth tracking). */
const MIN_POOLED = 4096;

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private freeBytes = 0;
  /** Pool-made buffers -> number of tensor data entries holding them (or a view of them). */
  private readonly holders = new WeakMap<ArrayBuffer, number>();
  private readonly escaped = new WeakSet<ArrayBuffer>();
  private readonly installed = new WeakSet<object>();
  /** Counters for tests and the benchmark. */
  readonly stats = { reused: 0, allocated: 0 };

  constructor(readonly maxFreeBytes: number) {}

  /** An array of n floats with arbitrary contents, for a kernel that writes every element. */
  take(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const list = this.free.get(n);
    const reused = list?.pop();
    if (reused) {
      this.freeBytes -= n * 4;
      this.stats.reused++;
      return reused;
    }
    this.stats.allocated++;
    // allocUnsafeSlow: not zero-filled, and never a slice of Buffer's shared pool.
    const buffer = Buffer.allocUnsafeSlow(n * 4).buffer as ArrayBuffer;
    this.holders.set(buffer, 0);
    return new Float32Array(buffer, 0, n);
  }

  /** Bytes held for reuse. */
  get heldBytes(): number {
    return this.freeBytes;
  }

  /** Drops every held array (they are then garbage collected as usual). */
  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Watches a backend's data store and reads; idempotent. */
  install(backend: PoolableBackend): void {
    if (this.installed.has(backend)) return;
    this.installed.add(backend);
    const data = backend.data;
    const set = data.set.bind(data);
    const del = data.delete.bind(data);
    data.set = (id, entry) => {
      const previous = data.has(id) ? data.get(id)?.values : undefined;
      set(id, entry);
      this.hold(entry.values, 1);
      if (previous !== undefined) this.hold(previous, -1);
    };
    data.delete = (id) => {
      const values = data.has(id) ? data.get(id)?.values : undefined;
      const deleted = del(id);
      if (deleted && values !== undefined) this.hold(values, -1);
      return deleted;
    };
    const readSync = backend.readSync.bind(backend);
    backend.readSync = (id) => {
      const values = data.get(id)?.values;
      if (ArrayBuffer.isView(values)) this.escaped.add(values.buffer as ArrayBuffer);
      return readSync(id);
    };
  }

  private hold(values: unknown, delta: number): void {
    if (!ArrayBuffer.isView(values)) return;
    const buffer = values.buffer as ArrayBuffer;
    const count = this.holders.get(buffer);
    if (count === undefined) return; // not ours
    const now = count + delta;
    this.holders.set(buffer, now);
    if (now > 0 || this.escaped.has(buffer)) return;
    const n = buffer.byteLength / 4;
    if (this.freeBytes + buffer.byteLength > this.maxFreeBytes) return; // left to the garbage collector
    let list = this.free.get(n);
    if (!list) {
      list = [];
      this.free.set(n, list);
    }
    list.push(new Float32Array(buffer));
    this.freeBytes += buffer.byteLength;
  }
}
