// Parameter store: upstream names and layouts at the boundary, tfjs-friendly layouts inside.
//
// Every tensor of an upstream state dict (parameters and buffers) is registered here under its
// upstream name (e.g. `synthesis.b16.conv0.affine.weight`). Layout conversion happens once, when
// values are set or read, never per forward call:
//   fc      upstream [out, in]        -> internal [in, out]
//   fc_chw  upstream [out, C*H*W]     -> internal [H*W*C, out] (input flattened NHWC instead of NCHW)
//   conv    upstream [O, I, kh, kw]   -> internal [kh, kw, I, O]
//   chw     upstream [C, H, W]        -> internal [H, W, C]
//   raw     unchanged
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';

export type Layout = 'raw' | 'fc' | 'fc_chw' | 'conv' | 'chw';

export interface ParamSpec {
  name: string; // Upstream state-dict name.
  shape: number[]; // Upstream shape.
  layout: Layout;
  trainable: boolean; // false for buffers and frozen (Freeze-D) layers.
  buffer: boolean; // A registered buffer upstream (w_avg, noise_const, resample_filter, frozen weights).
  init: (rng: Rng | null) => Float32Array; // Upstream initialization, in the upstream layout.
  chw?: [number, number, number]; // For fc_chw: the (C, H, W) of the flattened input.
}

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

function prod(s: number[]): number {
  return s.reduce((a, b) => a * b, 1);
}

export function internalShape(spec: ParamSpec): number[] {
  const s = spec.shape;
  switch (spec.layout) {
    case 'fc':
    case 'fc_chw':
      return [s[1], s[0]];
    case 'conv':
      return [s[2], s[3], s[1], s[0]];
    case 'chw':
      return [s[1], s[2], s[0]];
    default:
      return s.slice();
  }
}

/**
 * For each element of the internal layout, its index in upstream's layout (null where the layouts
 * agree): the one place that knows how a layout is permuted, both ways.
 */
function upstreamIndex(spec: ParamSpec): Uint32Array | null {
  const s = spec.shape;
  if (spec.layout === 'raw') return null;
  const idx = new Uint32Array(prod(s));
  if (spec.layout === 'fc') {
    const [o, i] = s;
    for (let r = 0; r < o; r++) for (let c = 0; c < i; c++) idx[c * o + r] = r * i + c;
  } else if (spec.layout === 'fc_chw') {
    const [o] = s;
    const [C, H, W] = spec.chw!;
    for (let r = 0; r < o; r++)
      for (let c = 0; c < C; c++)
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) idx[((y * W + x) * C + c) * o + r] = r * C * H * W + (c * H + y) * W + x;
  } else if (spec.layout === 'conv') {
    const [O, I, kh, kw] = s;
    for (let oo = 0; oo < O; oo++)
      for (let ii = 0; ii < I; ii++)
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) idx[((y * kw + x) * I + ii) * O + oo] = ((oo * I + ii) * kh + y) * kw + x;
  } else {
    const [C, H, W] = s;
    for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) idx[(y * W + x) * C + c] = (c * H + y) * W + x;
  }
  return idx;
}

/** Upstream layout -> internal layout. */
export function toInternal(spec: ParamSpec, a: Float32Array): Float32Array {
  const idx = upstreamIndex(spec);
  if (!idx) return a.slice();
  const out = new Float32Array(a.length);
  for (let n = 0; n < idx.length; n++) out[n] = a[idx[n]];
  return out;
}

/** Internal layout -> upstream layout. */
export function toUpstream(spec: ParamSpec, a: Float32Array): Float32Array {
  const idx = upstreamIndex(spec);
  if (!idx) return a.slice();
  const out = new Float32Array(a.length);
  for (let n = 0; n < idx.length; n++) out[idx[n]] = a[n];
  return out;
}

/** Owns the variables of one network. */
export class ParamStore {
  readonly specs = new Map<string, ParamSpec>();
  private readonly vars = new Map<string, tf.Variable>();
  private readonly names = new Map<string, string>(); // tfjs variable name -> upstream name

  constructor(private readonly rng: Rng | null = null) {}

  /** Registers a tensor and creates its variable with the upstream initialization. */
  add(spec: ParamSpec): tf.Variable {
    if (this.specs.has(spec.name)) throw new Error(`ParamStore: duplicate parameter name ${spec.name}`);
    const init = spec.init(this.rng);
    if (init.length !== prod(spec.shape)) throw new Error(`ParamStore: init of ${spec.name} has ${init.length} values, shape [${spec.shape}]`);
    // Under tidy, the initial value tensor is released once the variable holds its data.
    const v = tf.tidy(() => tf.variable(tf.tensor(toInternal(spec, init), internalShape(spec)), spec.trainable));
    this.specs.set(spec.name, spec);
    this.vars.set(spec.name, v);
    this.names.set(v.name, spec.name);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`ParamStore: no parameter named ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  /** Upstream name of a tfjs variable of this store. */
  nameOf(v: tf.Variable): string {
    const n = this.names.get(v.name);
    if (n === undefined) throw new Error(`ParamStore: variable ${v.name} does not belong to this network`);
    return n;
  }

  /** Variables that an optimizer updates (upstream parameters that are trainable). */
  trainableVariables(): tf.Variable[] {
    return [...this.specs.values()].filter((s) => s.trainable).map((s) => this.vars.get(s.name)!);
  }

  /** Sets one tensor from an upstream-layout array. */
  set(name: string, value: NamedArray): void {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`unknown parameter '${name}' for this network configuration`);
    if (value.shape.length !== spec.shape.length || value.shape.some((d, i) => d !== spec.shape[i])) {
      throw new Error(`parameter '${name}' has shape [${value.shape}], this network configuration expects [${spec.shape}]`);
    }
    const bad = firstNonFinite(value.data);
    if (bad >= 0)
      throw new Error(`parameter '${name}' holds ${value.data[bad]} at index ${bad}: the network file is corrupt (or training diverged before it was saved)`);
    const v = this.vars.get(name)!;
    tf.tidy(() => v.assign(tf.tensor(toInternal(spec, value.data), internalShape(spec)))); // the value tensor is released
  }

  /**
   * Sets every tensor from an upstream state dict. Unless `partial`, each registered name must be
   * present; names that this configuration does not have are an error unless `ignoreUnknown`.
   */
  setAll(values: Map<string, NamedArray> | Record<string, NamedArray>, opts: { partial?: boolean; ignoreUnknown?: boolean } = {}): void {
    const m = values instanceof Map ? values : new Map(Object.entries(values));
    const unknown = [...m.keys()].filter((k) => !this.specs.has(k));
    if (unknown.length && !opts.ignoreUnknown) {
      throw new Error(`unexpected parameters for this network configuration: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', ...' : ''}`);
    }
    if (!opts.partial) {
      const missing = [...this.specs.keys()].filter((k) => !m.has(k));
      if (missing.length)
        throw new Error(`missing parameters: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''} (${missing.length} in all)`);
    }
    tf.tidy(() => {
      for (const [k, v] of m) if (this.specs.has(k)) this.set(k, v);
    });
  }

  /** One tensor in the upstream layout (read asynchronously: a GPU backend has no synchronous read). */
  async read(name: string): Promise<NamedArray> {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`ParamStore: no parameter named ${name}`);
    return { shape: spec.shape.slice(), data: toUpstream(spec, (await this.vars.get(name)!.data()) as Float32Array) };
  }

  /** Every tensor in the upstream layout, in registration (upstream state-dict) order. */
  async readAll(): Promise<Map<string, NamedArray>> {
    const out = new Map<string, NamedArray>();
    for (const k of this.specs.keys()) out.set(k, await this.read(k));
    return out;
  }

  /** Upstream-layout values of a tensor described by `spec` -> internal layout. */
  static upstreamToInternal(spec: ParamSpec, data: Float32Array): Float32Array {
    return toInternal(spec, data);
  }

  /** Converts an internal-layout tensor (e.g. a gradient) of parameter `name` to the upstream layout. */
  async toUpstreamArray(name: string, t: tf.Tensor): Promise<NamedArray> {
    const spec = this.specs.get(name);
    if (!spec) throw new Error(`ParamStore: no parameter named ${name}`);
    return { shape: spec.shape.slice(), data: toUpstream(spec, (await t.data()) as Float32Array) };
  }

  /** Copies every value from another store with the same specs (e.g. G -> G_ema). */
  copyFrom(other: ParamStore): void {
    for (const [k, v] of this.vars) v.assign(other.get(k));
  }

  numParams(trainableOnly = false): number {
    let n = 0;
    for (const s of this.specs.values()) if (!s.buffer && (!trainableOnly || s.trainable)) n += prod(s.shape);
    return n;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

// Initializers in the upstream layout (training/networks.py constructors).
export const initRandn =
  (n: number, scale = 1) =>
  (rng: Rng | null): Float32Array => {
    if (!rng) return new Float32Array(n);
    const a = rng.normalArray(n);
    if (scale !== 1) for (let i = 0; i < n; i++) a[i] *= scale;
    return a;
  };
export const initFull = (n: number, value: number) => (): Float32Array => new Float32Array(n).fill(value);
export const initValues = (values: Float32Array) => (): Float32Array => values.slice();

/** Index of the first NaN or infinity, or -1. */
function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}
