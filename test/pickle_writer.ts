// A minimal pickle writer (protocol 2) for building bad-input and odd-structure test pickles.
export class PickleWriter {
  private b: number[] = [0x80, 2];
  private op(...xs: number[]): this { this.b.push(...xs); return this; }
  private text(s: string): number[] { return [...Buffer.from(s, 'utf8')]; }
  global(module: string, name: string): this { return this.op(0x63, ...this.text(`${module}\n${name}\n`)); }
  str(s: string): this { const t = this.text(s); const n = Buffer.alloc(4); n.writeUInt32LE(t.length); return this.op(0x58, ...n, ...t); }
  int(v: number): this { const n = Buffer.alloc(4); n.writeInt32LE(v); return this.op(0x4a, ...n); }
  none(): this { return this.op(0x4e); }
  mark(): this { return this.op(0x28); }
  tuple(): this { return this.op(0x74); }
  emptyDict(): this { return this.op(0x7d); }
  setitems(): this { return this.op(0x75); }
  reduce(): this { return this.op(0x52); }
  raw(...xs: number[]): this { return this.op(...xs); }
  stop(): Buffer { return Buffer.from([...this.b, 0x2e]); }
}
