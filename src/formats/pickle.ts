// A Python pickle reader that never executes anything. Protocols 0-5, the opcodes stdlib pickle
// emits. GLOBAL references become inert PyGlobal descriptors; REDUCE/NEWOBJ/BUILD build inert
// PyObject records unless a caller-supplied reducer interprets that global as a pure data
// transform (e.g. torch's tensor rebuild). Globals that could run code if a Python unpickler met
// them (os.system, builtins.eval, subprocess, ...) are refused outright with an error.

export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A Python dict (keys may be any hashable; strings and numbers keep their identity). */
export class PyDict extends Map<unknown, unknown> {
  attrs: Record<string, unknown> = {}; // BUILD state of an OrderedDict subclass (e.g. torch's _metadata)
  override get<T = unknown>(k: unknown): T {
    return super.get(k) as T;
  }
}

/**
 * An object the pickle describes but that we do not (and never will) construct. Dict and list
 * subclasses (e.g. dnnlib.EasyDict) receive their items as the pickle sets them.
 */
export class PyObject extends PyDict {
  state: unknown = undefined;
  readonly list: unknown[] = [];
  constructor(
    readonly cls: PyGlobal | unknown,
    readonly args: unknown[],
  ) {
    super();
  }
  get className(): string {
    return this.cls instanceof PyGlobal ? this.cls.qualname : 'unknown';
  }
}

export type Reducer = (args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Interpreters for specific globals ("module.name"), called with the REDUCE/NEWOBJ args. */
  reducers?: Record<string, Reducer>;
  /** Resolves persistent ids (PERSID/BINPERSID). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Name of the data in errors. */
  source?: string;
  maxMemo?: number;
}

const DANGEROUS_MODULES = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'sys',
  'shutil',
  'socket',
  'importlib',
  'pickle',
  '_pickle',
  'marshal',
  'runpy',
  'code',
  'codeop',
  'pty',
  'ctypes',
  'webbrowser',
  'multiprocessing',
  'threading',
  'signal',
  'pathlib',
  'io',
  'tempfile',
  'platform',
  'commands',
  'popen2',
  'shelve',
  'dill',
  'cloudpickle',
  'types',
  'inspect',
  'operator',
  'functools',
  'timeit',
  'pdb',
  'bdb',
]);
// The builtins a data pickle may legitimately name; any other builtin (eval, exec, getattr, open,
// __import__, compile, ...) is refused.
const SAFE_BUILTINS = new Set([
  'set',
  'frozenset',
  'bytearray',
  'bytes',
  'complex',
  'slice',
  'range',
  'list',
  'dict',
  'tuple',
  'str',
  'int',
  'float',
  'bool',
  'object',
]);

export class UnpickleError extends Error {}

function isDangerous(module: string, name: string): boolean {
  const root = module.split('.')[0];
  if (DANGEROUS_MODULES.has(root)) return true;
  if ((module === 'builtins' || module === '__builtin__') && !SAFE_BUILTINS.has(name)) return true;
  return false;
}

export function unpickle(buf: Uint8Array, opts: UnpickleOptions = {}): unknown {
  return new Unpickler(buf, 0, opts).load().value;
}

export class Unpickler {
  private pos: number;
  private stack: unknown[] = [];
  private metastack: unknown[][] = [];
  private memo = new Map<number, unknown>();
  private readonly view: DataView;
  private readonly src: string;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly opts: UnpickleOptions = {},
  ) {
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.src = opts.source ?? 'pickle';
  }

  private fail(msg: string): never {
    throw new UnpickleError(`${this.src}: ${msg}`);
  }

  private need(n: number, what: string): void {
    if (!Number.isFinite(n) || n < 0 || this.pos + n > this.buf.length) {
      this.fail(`truncated or corrupt: ${what} declares ${n} bytes at offset ${this.pos}, but only ${this.buf.length - this.pos} remain`);
    }
  }

  private u8(): number {
    this.need(1, 'opcode argument');
    return this.buf[this.pos++];
  }
  private u16(): number {
    this.need(2, 'opcode argument');
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  private i32(): number {
    this.need(4, 'opcode argument');
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u32(): number {
    this.need(4, 'opcode argument');
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  private u64(): number {
    this.need(8, 'opcode argument');
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`declared length ${v} is absurd`);
    return Number(v);
  }
  private bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  private line(): string {
    const end = this.buf.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated: missing newline in a text opcode');
    const s = new TextDecoder('latin1').decode(this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  private utf8(n: number, what: string): string {
    return new TextDecoder('utf-8').decode(this.bytes(n, what));
  }
  private pop(): unknown {
    if (!this.stack.length) this.fail('corrupt: stack underflow');
    return this.stack.pop();
  }
  private top(): unknown {
    if (!this.stack.length) this.fail('corrupt: stack underflow');
    return this.stack[this.stack.length - 1];
  }
  private popMark(): unknown[] {
    const items = this.stack;
    if (!this.metastack.length) this.fail('corrupt: no MARK on the stack');
    this.stack = this.metastack.pop()!;
    return items;
  }
  private setMemo(i: number, v: unknown): void {
    if (this.memo.size >= (this.opts.maxMemo ?? 10_000_000)) this.fail('too many memo entries');
    this.memo.set(i, v);
  }
  private getMemo(i: number): unknown {
    if (!this.memo.has(i)) this.fail(`corrupt: memo key ${i} is missing`);
    return this.memo.get(i);
  }

  private global(module: string, name: string): PyGlobal {
    if (isDangerous(module, name)) {
      this.fail(`refusing to load: the pickle references ${module}.${name}, which could execute code; this is not a network file`);
    }
    return new PyGlobal(module, name);
  }

  private reduce(fn: unknown, args: unknown[]): unknown {
    if (fn instanceof PyGlobal) {
      const r = this.opts.reducers?.[fn.qualname] ?? BUILTIN_REDUCERS[fn.qualname];
      if (r) return r(args);
    }
    return new PyObject(fn, args);
  }

  private setState(obj: unknown, state: unknown): void {
    if (obj instanceof PyObject) obj.state = state;
    else if (obj instanceof PyDict) {
      if (state instanceof PyDict) for (const [k, v] of state) obj.attrs[String(k)] = v;
    } else if (obj && typeof obj === 'object' && 'setState' in (obj as object)) {
      (obj as { setState(s: unknown): void }).setState(state);
    }
    // Anything else (e.g. a rebuilt tensor) keeps no extra state.
  }

  /** Runs until STOP; returns the value and the offset after STOP. */
  load(): { value: unknown; end: number } {
    for (;;) {
      if (this.pos >= this.buf.length) this.fail('truncated: no STOP opcode');
      const op = this.buf[this.pos++];
      switch (op) {
        case 0x80: {
          const p = this.u8();
          if (p > 5) this.fail(`unsupported pickle protocol ${p}`);
          break;
        } // PROTO
        case 0x95:
          this.u64();
          break; // FRAME (length ignored: we read the whole buffer)
        case 0x2e: {
          const value = this.pop();
          return { value, end: this.pos };
        } // STOP
        case 0x28:
          this.metastack.push(this.stack);
          this.stack = [];
          break; // MARK
        case 0x30:
          this.pop();
          break; // POP
        case 0x31:
          this.popMark();
          break; // POP_MARK
        case 0x32:
          this.stack.push(this.top());
          break; // DUP
        case 0x4e:
          this.stack.push(null);
          break; // NONE
        case 0x88:
          this.stack.push(true);
          break; // NEWTRUE
        case 0x89:
          this.stack.push(false);
          break; // NEWFALSE
        case 0x49: {
          // INT
          const s = this.line();
          this.stack.push(s === '01' ? true : s === '00' ? false : parseIntStrict(s, this));
          break;
        }
        case 0x4a:
          this.stack.push(this.i32());
          break; // BININT
        case 0x4b:
          this.stack.push(this.u8());
          break; // BININT1
        case 0x4d:
          this.stack.push(this.u16());
          break; // BININT2
        case 0x4c:
          this.stack.push(parseIntStrict(this.line().replace(/L$/, ''), this));
          break; // LONG
        case 0x8a:
          this.stack.push(decodeLong(this.bytes(this.u8(), 'LONG1')));
          break; // LONG1
        case 0x8b: {
          // LONG4
          const n = this.i32();
          if (n > MAX_LONG_BYTES) this.fail(`an integer of ${n} bytes (LONG4) is larger than any network pickle holds`);
          this.stack.push(decodeLong(this.bytes(n, 'LONG4')));
          break;
        }
        case 0x46:
          this.stack.push(parseFloat(this.line()));
          break; // FLOAT
        case 0x47: {
          this.need(8, 'BINFLOAT');
          this.stack.push(this.view.getFloat64(this.pos, false));
          this.pos += 8;
          break;
        } // BINFLOAT
        case 0x53:
          this.stack.push(unquote(this.line()));
          break; // STRING
        case 0x54: {
          const n = this.i32();
          this.stack.push(new TextDecoder('latin1').decode(this.bytes(n, 'BINSTRING')));
          break;
        } // BINSTRING
        case 0x55: {
          const n = this.u8();
          this.stack.push(new TextDecoder('latin1').decode(this.bytes(n, 'SHORT_BINSTRING')));
          break;
        }
        case 0x56:
          this.stack.push(this.line());
          break; // UNICODE (raw-unicode-escape; ASCII in practice)
        case 0x58: {
          const n = this.u32();
          this.stack.push(this.utf8(n, 'BINUNICODE'));
          break;
        }
        case 0x8c: {
          const n = this.u8();
          this.stack.push(this.utf8(n, 'SHORT_BINUNICODE'));
          break;
        }
        case 0x8d: {
          const n = this.u64();
          this.stack.push(this.utf8(n, 'BINUNICODE8'));
          break;
        }
        case 0x42: {
          const n = this.u32();
          this.stack.push(this.bytes(n, 'BINBYTES').slice());
          break;
        }
        case 0x43: {
          const n = this.u8();
          this.stack.push(this.bytes(n, 'SHORT_BINBYTES').slice());
          break;
        }
        case 0x8e: {
          const n = this.u64();
          this.stack.push(this.bytes(n, 'BINBYTES8').slice());
          break;
        }
        case 0x96: {
          const n = this.u64();
          this.stack.push(this.bytes(n, 'BYTEARRAY8').slice());
          break;
        }
        case 0x97:
        case 0x98:
          return this.fail('out-of-band buffers (pickle protocol 5 NEXT_BUFFER) are not supported');
        case 0x5d:
          this.stack.push([]);
          break; // EMPTY_LIST
        case 0x61: {
          const v = this.pop();
          this.listOf(this.top()).push(v);
          break;
        } // APPEND
        case 0x65: {
          const items = this.popMark();
          this.listOf(this.top()).push(...items);
          break;
        } // APPENDS
        case 0x6c: {
          const items = this.popMark();
          this.stack.push(items);
          break;
        } // LIST (popMark swaps this.stack: call it first)
        case 0x29:
          this.stack.push([]);
          break; // EMPTY_TUPLE
        case 0x74: {
          const items = this.popMark();
          this.stack.push(items);
          break;
        } // TUPLE
        case 0x85:
          this.stack.push([this.pop()]);
          break; // TUPLE1
        case 0x86: {
          const b = this.pop(),
            a = this.pop();
          this.stack.push([a, b]);
          break;
        }
        case 0x87: {
          const c = this.pop(),
            b = this.pop(),
            a = this.pop();
          this.stack.push([a, b, c]);
          break;
        }
        case 0x7d:
          this.stack.push(new PyDict());
          break; // EMPTY_DICT
        case 0x64: {
          // DICT
          const items = this.popMark();
          const d = new PyDict();
          for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
          this.stack.push(d);
          break;
        }
        case 0x73: {
          const v = this.pop(),
            k = this.pop();
          const d = this.top();
          if (!(d instanceof Map)) this.fail('corrupt: SETITEM on a non-dict');
          d.set(k, v);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = this.popMark();
          const d = this.top();
          if (!(d instanceof Map)) this.fail('corrupt: SETITEMS on a non-dict');
          for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
          break;
        }
        case 0x8f:
          this.stack.push(new Set());
          break; // EMPTY_SET
        case 0x90: {
          const items = this.popMark();
          const s = this.top();
          if (!(s instanceof Set)) this.fail('corrupt: ADDITEMS on a non-set');
          for (const i of items) s.add(i);
          break;
        }
        case 0x91: {
          const items = this.popMark();
          this.stack.push(new Set(items));
          break;
        } // FROZENSET
        case 0x70:
          this.setMemo(parseIntStrict(this.line(), this), this.top());
          break; // PUT
        case 0x71:
          this.setMemo(this.u8(), this.top());
          break; // BINPUT
        case 0x72:
          this.setMemo(this.u32(), this.top());
          break; // LONG_BINPUT
        case 0x94:
          this.setMemo(this.memo.size, this.top());
          break; // MEMOIZE
        case 0x67:
          this.stack.push(this.getMemo(parseIntStrict(this.line(), this)));
          break; // GET
        case 0x68:
          this.stack.push(this.getMemo(this.u8()));
          break; // BINGET
        case 0x6a:
          this.stack.push(this.getMemo(this.u32()));
          break; // LONG_BINGET
        case 0x63: {
          const module = this.line(),
            name = this.line();
          this.stack.push(this.global(module, name));
          break;
        } // GLOBAL
        case 0x93: {
          // STACK_GLOBAL
          const name = this.pop(),
            module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('corrupt: STACK_GLOBAL needs two strings');
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x52: {
          const args = this.pop(),
            fn = this.pop();
          this.stack.push(this.reduce(fn, asArgs(args, this)));
          break;
        } // REDUCE
        case 0x81: {
          const args = this.pop(),
            cls = this.pop();
          this.stack.push(this.reduce(cls, asArgs(args, this)));
          break;
        } // NEWOBJ
        case 0x92: {
          const kw = this.pop(),
            args = this.pop(),
            cls = this.pop();
          this.stack.push(this.reduce(cls, [...asArgs(args, this), kw]));
          break;
        } // NEWOBJ_EX
        case 0x69: {
          const module = this.line(),
            name = this.line();
          const args = this.popMark();
          this.stack.push(this.reduce(this.global(module, name), args));
          break;
        } // INST
        case 0x6f: {
          const items = this.popMark();
          const [cls, ...args] = items;
          this.stack.push(this.reduce(cls, args));
          break;
        } // OBJ
        case 0x62: {
          const state = this.pop();
          this.setState(this.top(), state);
          break;
        } // BUILD
        case 0x50: {
          const pid = this.line();
          this.stack.push(this.persistent(pid));
          break;
        } // PERSID
        case 0x51: {
          const pid = this.pop();
          this.stack.push(this.persistent(pid));
          break;
        } // BINPERSID
        case 0x82:
        case 0x83:
        case 0x84:
          return this.fail('copyreg extension codes (EXT1/2/4) are not supported');
        default:
          this.fail(`not a pickle, or corrupt: unknown opcode 0x${op.toString(16).padStart(2, '0')} at offset ${this.pos - 1}`);
      }
    }
  }

  private listOf(l: unknown): unknown[] {
    if (Array.isArray(l)) return l;
    if (l instanceof PyObject) return l.list;
    return this.fail('corrupt: APPEND on a non-list');
  }

  private persistent(pid: unknown): unknown {
    if (!this.opts.persistentLoad) this.fail('the pickle has persistent ids but nothing to resolve them');
    return this.opts.persistentLoad(pid);
  }

  get offset(): number {
    return this.pos;
  }
}

function asArgs(a: unknown, u: Unpickler): unknown[] {
  if (!Array.isArray(a)) throw new UnpickleError(`corrupt: call arguments are not a tuple (offset ${u.offset})`);
  return a;
}

function parseIntStrict(s: string, u: Unpickler): number {
  if (!/^[-+]?\d+$/.test(s.trim())) throw new UnpickleError(`corrupt: '${s}' is not an integer (offset ${u.offset})`);
  return Number(s);
}

/** No integer in a network pickle comes near this many bytes; larger ones are refused. */
export const MAX_LONG_BYTES = 4096;

/**
 * Two's-complement little-endian integer; a number when safe, else a BigInt. Linear time: one
 * hex string for BigInt to parse (shifting byte by byte is quadratic).
 */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function unquote(s: string): string {
  const t = s.trim();
  if ((t.startsWith("'") && t.endsWith("'")) || (t.startsWith('"') && t.endsWith('"'))) return t.slice(1, -1);
  return t;
}

const BUILTIN_REDUCERS: Record<string, Reducer> = {
  'collections.OrderedDict': (args) => {
    const d = new PyDict();
    const items = args[0];
    if (Array.isArray(items)) for (const kv of items) if (Array.isArray(kv)) d.set(kv[0], kv[1]);
    return d;
  },
  'builtins.set': (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
  'builtins.frozenset': (args) => new Set(Array.isArray(args[0]) ? args[0] : []),
  'builtins.bytearray': (args) => (args[0] instanceof Uint8Array ? args[0] : new Uint8Array()),
  // Protocol-2 pickles of Python 3 bytes: _codecs.encode(latin1 str, 'latin1').
  '_codecs.encode': (args) => Uint8Array.from(String(args[0]), (ch) => ch.charCodeAt(0) & 0xff),
  // copyreg._reconstructor(cls, base, state) creates an instance of cls: an inert record here.
  'copyreg._reconstructor': (args) => new PyObject(args[0], []),
  'copy_reg._reconstructor': (args) => new PyObject(args[0], []),
};
