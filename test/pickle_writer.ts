// A minimal pickle writer (protocol 2) for building bad-input and odd-structure test pickles.
export class PickleWriter {
  private b: number[] = [0x80, 2];
  private op(...xs: number[]): this {
    this.b.push(...xs);
    return this;
  }
  private text(s: string): number[] {
    return [...Buffer.from(s, 'utf8')];
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...this.text(`${module}\n${name}\n`));
  }
  str(s: string): this {
    const t = this.text(s);
    const n = Buffer.alloc(4);
    n.writeUInt32LE(t.length);
    return this.op(0x58, ...n, ...t);
  }
  int(v: number): this {
    const n = Buffer.alloc(4);
    n.writeInt32LE(v);
    return this.op(0x4a, ...n);
  }
  none(): this {
    return this.op(0x4e);
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitems(): this {
    return this.op(0x75);
  }
  reduce(): this {
    return this.op(0x52);
  }
  raw(...xs: number[]): this {
    return this.op(...xs);
  }
  blob(bytes: Uint8Array): this {
    for (const x of bytes) this.b.push(x);
    return this;
  }
  stop(): Buffer {
    return Buffer.from([...this.b, 0x2e]);
  }
}

/** Something the writer emits as-is inside `value()`. */
export class Py {
  constructor(readonly write: (w: PickleWriter) => void) {}
}

/** A JS value as pickle ops: null, booleans, integers, floats, strings, arrays (lists), plain objects (dicts), Py. */
export function pyValue(w: PickleWriter, v: unknown): PickleWriter {
  if (v instanceof Py) v.write(w);
  else if (v === null || v === undefined) w.none();
  else if (typeof v === 'boolean') w.raw(v ? 0x88 : 0x89);
  else if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < 2 ** 31) w.int(v);
  else if (typeof v === 'number') {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    w.raw(0x47, ...b);
  } else if (typeof v === 'string') w.str(v);
  else if (Array.isArray(v)) {
    w.raw(0x5d).mark();
    for (const x of v) pyValue(w, x);
    w.raw(0x65);
  } else {
    w.emptyDict().mark();
    for (const [k, x] of Object.entries(v as object)) {
      w.str(k);
      pyValue(w, x);
    }
    w.setitems();
  }
  return w;
}

/** torch_utils.persistence._reconstruct_persistent_obj({class_name, state}), as upstream pickles a network module. */
export const persistent = (className: string, state: Record<string, unknown>) =>
  new Py((w) => {
    w.global('torch_utils.persistence', '_reconstruct_persistent_obj').mark();
    pyValue(w, { type: 'class', version: 4, module_src: '', class_name: className, state });
    w.tuple().reduce();
  });

/**
 * A float32 storage as network pickles hold one: torch.storage._load_from_bytes over legacy
 * torch.save bytes of `numel` zeros; with `memo`, the storage is also kept at that memo index.
 */
export const storage = (numel: number, memo?: number) =>
  new Py((w) => {
    const legacyMagic = Buffer.from([0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]);
    const proto = pyValue(new PickleWriter(), 1001).stop();
    const sys = new PickleWriter().emptyDict().stop();
    const obj = new PickleWriter().mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(numel).none().tuple().raw(0x51).stop();
    const keys = pyValue(new PickleWriter(), ['0']).stop();
    const count = Buffer.alloc(8);
    count.writeBigInt64LE(BigInt(numel));
    const bytes = Buffer.concat([legacyMagic, proto, sys, obj, keys, count, Buffer.alloc(numel * 4)]);
    const n = Buffer.alloc(4);
    n.writeUInt32LE(bytes.length);
    w.global('torch.storage', '_load_from_bytes')
      .mark()
      .raw(0x42, ...n)
      .blob(bytes)
      .tuple()
      .reduce();
    if (memo !== undefined) w.raw(0x71, memo); // BINPUT
  });

/** The storage kept at memo index `memo` (BINGET). */
export const memoized = (memo: number) => new Py((w) => w.raw(0x68, memo));

/** A tensor view (_rebuild_tensor_v2) on a storage: a fresh one of `numel` floats, or a Py that writes one. */
export const tensor = (source: number | Py, offset: number, shape: number[], stride: number[]) =>
  new Py((w) => {
    const ints = (xs: number[]) =>
      new Py((x) => {
        x.mark();
        for (const d of xs) x.int(d);
        x.tuple();
      });
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    pyValue(w, typeof source === 'number' ? storage(source) : source);
    pyValue(w, offset);
    pyValue(w, ints(shape));
    pyValue(w, ints(stride));
    w.raw(0x89).emptyDict().tuple().reduce();
  });

/** {'G': a StyleGAN2-shaped Generator module with these init kwargs, parameters and extra submodules}. */
export function generatorPickle(kwargs: unknown, parameters: Record<string, Py>, modules: Record<string, unknown> = {}): Buffer {
  const G = persistent('Generator', {
    _init_args: [],
    _init_kwargs: kwargs,
    _parameters: parameters,
    _buffers: {},
    _modules: { synthesis: persistent('SynthesisNetwork', { _parameters: {}, _buffers: {}, _modules: { b4: null } }), ...modules },
  });
  return pyValue(new PickleWriter(), { G }).stop();
}
