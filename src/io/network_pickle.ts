// Network pickles, read without Python and without executing anything:
// - upstream PyTorch snapshots (stylegan2-ada-pytorch; StyleGAN2 networks saved by stylegan3): a
//   dict {G, D, G_ema, augment_pipe, training_set_kwargs} whose networks are
//   torch_utils.persistence objects (class name, module state with _parameters, _buffers,
//   _modules, _init_kwargs);
// - older TensorFlow StyleGAN2 pickles: a tuple (G, D, Gs) of dnnlib.tflib.network.Network states
//   with numpy variables, mapped to upstream names and layouts as upstream's legacy converter does.
import { DiscriminatorConfig, GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import { NamedArray } from '../networks/params.js';
import { Generator } from '../networks/generator.js';
import { Discriminator } from '../networks/discriminator.js';
import type { LoadedNetwork } from './network.js';
import { PyDict, PyGlobal, PyObject, Reducer, unpickle } from './pickle.js';
import { torchReducers, TorchTensor } from './torch.js';

// ---- numpy -------------------------------------------------------------------------------------

/** numpy.dtype descriptor as pickled (REDUCE + BUILD). */
class NpDType {
  order = '<';
  constructor(readonly code: string) {}
  setState(s: unknown) { if (Array.isArray(s) && typeof s[1] === 'string') this.order = s[1]; }
  get size(): number { return Number(this.code.replace(/^[a-zA-Z<>|=]+/, '')) || 1; }
  get kind(): string { return this.code.replace(/[^a-zA-Z]/g, '')[0]; }
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
    const d = this.dtype, raw = this.raw;
    if (!d || !raw) throw new Error('numpy array has no data');
    const n = this.shape.reduce((a, b) => a * b, 1);
    if (raw.length !== n * d.size) throw new Error(`numpy array of shape [${this.shape}] has ${raw.length} bytes, expected ${n * d.size}`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const le = d.order !== '>';
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * d.size;
      out[i] = d.kind === 'f' ? (d.size === 4 ? dv.getFloat32(o, le) : d.size === 8 ? dv.getFloat64(o, le) : NaN)
        : d.kind === 'i' ? (d.size === 4 ? dv.getInt32(o, le) : d.size === 8 ? Number(dv.getBigInt64(o, le)) : d.size === 1 ? dv.getInt8(o) : dv.getInt16(o, le))
          : d.kind === 'u' ? (d.size === 1 ? dv.getUint8(o) : d.size === 4 ? dv.getUint32(o, le) : dv.getUint16(o, le)) : NaN;
    }
    if (this.fortran && this.shape.length > 1) {
      // Column-major -> row-major.
      const res = new Float32Array(n);
      const rs = this.shape;
      const idx = new Array(rs.length).fill(0);
      for (let k = 0; k < n; k++) {
        let f = 0, m = 1;
        for (let dd = 0; dd < rs.length; dd++) { f += idx[dd] * m; m *= rs[dd]; }
        res[k] = out[f];
        for (let dd = rs.length - 1; dd >= 0; dd--) { if (++idx[dd] < rs[dd]) break; idx[dd] = 0; }
      }
      return res;
    }
    return out;
  }
}

function numpyReducers(): Record<string, Reducer> {
  const dtype: Reducer = (args) => new NpDType(String(args[0]));
  const reconstruct: Reducer = () => new NdArray();
  const scalar: Reducer = (args) => {
    const d = args[0] as NpDType, b = args[1];
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

// ---- helpers -----------------------------------------------------------------------------------

/** Converts pickled values (PyDict, EasyDict objects, tuples) to plain JSON-like values. */
/** Pickled options as plain JSON-like values; nesting beyond `maxDepth` (or a cycle) is refused. */
export function toPlain(v: unknown, maxDepth = 32): unknown {
  if (maxDepth < 0) throw new Error('options nested too deeply (or containing themselves): not a network config');
  const sub = (x: unknown) => toPlain(x, maxDepth - 1);
  if (v instanceof PyObject && v.size === 0 && v.list.length === 0 && v.state === undefined) return { __object__: v.className };
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), sub(x)]));
  if (Array.isArray(v)) return v.map(sub);
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Set) return [...v].map(sub);
  if (v instanceof NdArray) return Array.from(v.float32());
  return v;
}

function dictGet(d: unknown, key: string): unknown {
  if (d instanceof Map) return d.get(key);
  return undefined;
}

interface PersistentMeta { className: string; state: PyDict; moduleSrc: string }

function persistentMeta(obj: unknown): PersistentMeta | null {
  if (obj instanceof PyObject && obj.className === 'torch_utils.persistence._reconstruct_persistent_obj') {
    const meta = obj.args[0];
    const state = dictGet(meta, 'state');
    if (!(state instanceof PyDict)) throw new Error('corrupt persistent object: no state');
    return { className: String(dictGet(meta, 'class_name')), state, moduleSrc: String(dictGet(meta, 'module_src') ?? '') };
  }
  return null;
}

/** The __dict__ of a pickled module: persistent (meta.state) or plain torch module (BUILD state). */
function moduleState(obj: unknown): { className: string; state: PyDict } | null {
  const p = persistentMeta(obj);
  if (p) return { className: p.className, state: p.state };
  if (obj instanceof PyObject && obj.state instanceof PyDict) return { className: obj.className, state: obj.state };
  return null;
}

/** Runs `f`, prefixing any error with the file (and network) it concerns. */
function named<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}

// Module trees deeper than this are not networks (StyleGAN2's is 4 deep); a crafted file could
// otherwise nest until the call stack runs out.
const MAX_MODULE_DEPTH = 32;

/**
 * Values materialized from one file, in elements: at most twice what its storages hold (each
 * distinct storage counted once). Network tensors never alias one another, so a file whose views
 * expand beyond that is crafted, and would otherwise allocate without bound.
 */
class MaterializeBudget {
  private storages = new Set<unknown>();
  private held = 0;
  private used = 0;
  take(t: TorchTensor, name: string, where: string): void {
    if (!this.storages.has(t.storage)) { this.storages.add(t.storage); this.held += t.storage.numel; }
    this.used += t.numel;
    if (this.used > 2 * this.held + 2 ** 20) {
      throw new Error(`${where}: ${name}: the tensors reuse their storages ${(this.used / this.held).toFixed(1)}x over; network weights never alias, so the file is corrupt or crafted`);
    }
  }
}

/** All parameters and buffers of a pickled module tree, by upstream state-dict name. */
function collectTensors(obj: unknown, prefix: string, out: Map<string, NamedArray>, where: string, budget: MaterializeBudget, depth = 0): void {
  if (depth > MAX_MODULE_DEPTH) throw new Error(`${where}: modules nested more than ${MAX_MODULE_DEPTH} deep at ${prefix.slice(0, 80)}...: not a StyleGAN2 network`);
  const m = moduleState(obj);
  if (!m) throw new Error(`${where}: ${prefix || 'network'} is not a torch module`);
  for (const key of ['_parameters', '_buffers']) {
    const d = m.state.get(key);
    if (!(d instanceof Map)) continue;
    for (const [name, t] of d) {
      if (t === null || t === undefined) continue;
      const full = `${prefix}${String(name)}`;
      if (!(t instanceof TorchTensor)) throw new Error(`${where}: ${full} is not a tensor`);
      named(`${where}: ${full}`, () => t.check());
      budget.take(t, full, where);
      out.set(full, { shape: t.shape.slice(), data: named(`${where}: ${full}`, () => t.float32()) });
    }
  }
  const mods = m.state.get('_modules');
  if (mods instanceof Map) for (const [name, sub] of mods) if (sub !== null) collectTensors(sub, `${prefix}${String(name)}.`, out, where, budget, depth + 1);
}

const SYNTHESIS_KEYS = ['channel_base', 'channel_max', 'num_fp16_res', 'architecture', 'resample_filter', 'conv_clamp', 'fp16_channels_last', 'use_noise', 'activation', 'kernel_size'];
// Options that change only speed or numeric format upstream; everything here runs non-fused in float32.
const IGNORED_KEYS = ['fused_modconv_default'];

function generatorConfig(kw: Record<string, unknown>, where: string): GeneratorConfig {
  const { z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs, synthesis_kwargs, ...rest } = kw;
  // stylegan3's networks_stylegan2.Generator takes the synthesis options flattened (**synthesis_kwargs).
  const synth: Record<string, unknown> = { ...((synthesis_kwargs as Record<string, unknown>) ?? {}) };
  for (const [k, v] of Object.entries(rest)) {
    if (SYNTHESIS_KEYS.includes(k)) synth[k] = v;
    else if (!IGNORED_KEYS.includes(k)) throw new Error(`${where}: unsupported generator option '${k}'`);
  }
  for (const k of IGNORED_KEYS) delete synth[k];
  return { z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs: (mapping_kwargs ?? {}) as object, synthesis_kwargs: synth } as GeneratorConfig;
}

function discriminatorConfig(kw: Record<string, unknown>): DiscriminatorConfig {
  const cfg = { ...kw } as Record<string, unknown>;
  const bk = { ...((cfg.block_kwargs as Record<string, unknown>) ?? {}) };
  for (const k of IGNORED_KEYS) { delete cfg[k]; delete bk[k]; }
  cfg.block_kwargs = bk;
  return cfg as unknown as DiscriminatorConfig;
}

function initKwargs(m: PersistentMeta, where: string): Record<string, unknown> {
  const kw = m.state.get('_init_kwargs');
  const args = m.state.get('_init_args');
  if (Array.isArray(args) && args.length) throw new Error(`${where}: networks built with positional arguments are not supported`);
  if (!(kw instanceof Map)) throw new Error(`${where}: the network pickle has no _init_kwargs`);
  return named(`${where}: _init_kwargs`, () => toPlain(kw) as Record<string, unknown>);
}

function checkStyleGAN2(m: PersistentMeta, kind: 'G' | 'D', where: string): void {
  const expected = kind === 'D' ? 'Discriminator' : 'Generator';
  if (m.className !== expected) throw new Error(`${where}: unsupported architecture: ${m.className}`);
  if (kind === 'G') {
    const mods = m.state.get('_modules');
    const synth = mods instanceof Map ? moduleState(mods.get('synthesis')) : null;
    const sm = synth?.state.get('_modules');
    if (!(sm instanceof Map) || !sm.has('b4')) {
      const alias = sm instanceof Map && sm.has('input');
      throw new Error(`${where}: unsupported architecture: ${alias ? 'StyleGAN3 (alias-free) Generator' : m.className}; only StyleGAN2 networks can be loaded`);
    }
  }
}

// ---- PyTorch snapshots -------------------------------------------------------------------------

function fromTorchSnapshot(data: PyDict, source: string): LoadedNetwork {
  const budget = new MaterializeBudget();
  const net = (key: 'G' | 'D' | 'G_ema') => {
    const obj = data.get(key);
    if (obj === undefined || obj === null) return null;
    const where = `${source} [${key}]`;
    const meta = persistentMeta(obj);
    if (!meta) throw new Error(`${where}: unsupported architecture: ${obj instanceof PyObject ? obj.className : typeof obj}`);
    checkStyleGAN2(meta, key === 'D' ? 'D' : 'G', where);
    // The config is checked against sane limits before any tensor is materialized.
    const kwargs = initKwargs(meta, where);
    const config = key === 'D' ? discriminatorConfig(kwargs) : generatorConfig(kwargs, where);
    named(where, () => (key === 'D' ? resolveDiscriminatorConfig(config as DiscriminatorConfig) : resolveGeneratorConfig(config as GeneratorConfig)));
    const tensors = new Map<string, NamedArray>();
    collectTensors(obj, '', tensors, where, budget);
    return { config, tensors };
  };
  const G = net('G'), D = net('D'), G_ema = net('G_ema');
  const gsrc = G_ema ?? G;
  if (!gsrc) throw new Error(`${source}: the pickle has no G or G_ema: not a StyleGAN2 network pickle`);
  return {
    format: 'pytorch-pickle', source,
    G_kwargs: gsrc.config as GeneratorConfig,
    D_kwargs: D ? D.config as DiscriminatorConfig : null,
    G: G?.tensors ?? null, D: D?.tensors ?? null, G_ema: G_ema?.tensors ?? null,
  };
}

// ---- TensorFlow pickles ------------------------------------------------------------------------

interface TfNet { version: number; kwargs: Record<string, unknown>; params: Map<string, NdArray> }

function tfNetwork(obj: unknown, where: string): TfNet {
  if (!(obj instanceof PyObject) || obj.className !== 'dnnlib.tflib.network.Network' || !(obj.state instanceof Map)) {
    throw new Error(`${where}: not a TensorFlow StyleGAN2 network`);
  }
  const params = new Map<string, NdArray>();
  const recurse = (prefix: string, state: Map<unknown, unknown>, depth = 0) => {
    if (depth > MAX_MODULE_DEPTH) throw new Error(`${where}: components nested more than ${MAX_MODULE_DEPTH} deep: not a StyleGAN2 network`);
    const vars = state.get('variables');
    if (Array.isArray(vars)) for (const v of vars) if (Array.isArray(v) && v[1] instanceof NdArray) params.set(prefix + String(v[0]), v[1]);
    const comps = state.get('components');
    if (comps instanceof Map) {
      for (const [name, c] of comps) if (c instanceof PyObject && c.state instanceof Map) recurse(`${prefix}${String(name)}/`, c.state, depth + 1);
    }
  };
  const state = obj.state;
  recurse('', state);
  const kwargs = named(`${where}: static_kwargs`, () => (toPlain(state.get('static_kwargs') ?? new PyDict()) ?? {}) as Record<string, unknown>);
  return { version: Number(state.get('version') ?? 0), kwargs, params };
}

type Conv = (a: NdArray) => NamedArray;
const asIs: Conv = (a) => ({ shape: a.shape.slice(), data: a.float32() });
/** numpy transpose with axes `perm`, then optional flips of axes 0 and 1 first (TF up/down-sampling kernels). */
function permute(perm: number[], flip01 = false): Conv {
  return (a) => {
    const src = a.float32();
    const sh = a.shape;
    const st = sh.map((_, i) => sh.slice(i + 1).reduce((p, q) => p * q, 1));
    const outShape = perm.map((p) => sh[p]);
    const out = new Float32Array(src.length);
    const idx = new Array(sh.length).fill(0);
    for (let k = 0; k < src.length; k++) {
      // idx: position in the output; source index along axis perm[i] is idx[i].
      let o = 0;
      for (let i = 0; i < perm.length; i++) {
        let v = idx[i];
        if (flip01 && (perm[i] === 0 || perm[i] === 1)) v = sh[perm[i]] - 1 - v;
        o += v * st[perm[i]];
      }
      out[k] = src[o];
      for (let d = idx.length - 1; d >= 0; d--) { if (++idx[d] < outShape[d]) break; idx[d] = 0; }
    }
    return { shape: outShape, data: out };
  };
}
const T2 = permute([1, 0]);
const CONV = permute([3, 2, 0, 1]);
const CONV_FLIP = permute([3, 2, 0, 1], true);
const plusOne: Conv = (a) => { const r = asIs(a); return { shape: r.shape, data: r.data.map((v) => v + 1) }; };
const first: Conv = (a) => ({ shape: a.shape.slice(1), data: a.float32() }); // drop a leading 1 axis
const first2: Conv = (a) => ({ shape: a.shape.slice(2), data: a.float32() }); // drop two leading 1 axes

function tfKw(kw: Record<string, unknown>, known: Set<string>) {
  return (name: string, def: unknown, none?: unknown) => {
    known.add(name);
    const v = kw[name] ?? def;
    return v === null || v === undefined ? (none ?? null) : v;
  };
}

function mapParams(tf: TfNet, rules: [RegExp, ((m: RegExpMatchArray) => [string, Conv]) | null][], names: string[], where: string): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const name of names) {
    const rule = rules.find(([re]) => re.test(name));
    if (!rule) throw new Error(`${where}: no TensorFlow variable maps to ${name}`);
    if (!rule[1]) continue; // resample_filter: derived from the config
    const [tfName, conv] = rule[1](name.match(rule[0])!);
    const a = tf.params.get(tfName);
    if (!a) throw new Error(`${where}: TensorFlow variable ${tfName} (for ${name}) is missing`);
    out.set(name, conv(a));
  }
  return out;
}

function tfGenerator(tf: TfNet, where: string, names: (cfg: GeneratorConfig) => string[]): { cfg: GeneratorConfig; params: Map<string, NamedArray> } {
  if (tf.version < 4) throw new Error(`${where}: TensorFlow pickle version ${tf.version} is too old`);
  const known = new Set<string>();
  const k = tfKw(tf.kwargs, known);
  const cfg: GeneratorConfig = {
    z_dim: k('latent_size', 512) as number, c_dim: k('label_size', 0) as number, w_dim: k('dlatent_size', 512) as number,
    img_resolution: k('resolution', 1024) as number, img_channels: k('num_channels', 3) as number,
    mapping_kwargs: {
      num_layers: k('mapping_layers', 8) as number, embed_features: k('label_fmaps', null) as number | null, layer_features: k('mapping_fmaps', null) as number | null,
      activation: k('mapping_nonlinearity', 'lrelu') as 'lrelu', lr_multiplier: k('mapping_lrmul', 0.01) as number, w_avg_beta: k('w_avg_beta', 0.995, 1) as number,
    },
    synthesis_kwargs: {
      channel_base: (k('fmap_base', 16384) as number) * 2, channel_max: k('fmap_max', 512) as number, num_fp16_res: k('num_fp16_res', 0) as number,
      conv_clamp: k('conv_clamp', null) as number | null, architecture: k('architecture', 'skip') as 'skip', resample_filter: k('resample_kernel', [1, 3, 3, 1]) as number[],
      use_noise: k('use_noise', true) as boolean, activation: k('nonlinearity', 'lrelu') as 'lrelu',
    },
  };
  for (const x of ['truncation_psi', 'truncation_cutoff', 'style_mixing_prob', 'structure']) known.add(x);
  const unknown = Object.keys(tf.kwargs).filter((x) => !known.has(x));
  if (unknown.length) throw new Error(`${where}: unknown TensorFlow generator option '${unknown[0]}'`);
  for (const [name, v] of [...tf.params]) {
    const m = /^ToRGB_lod(\d+)\/(.*)$/.exec(name);
    if (m) {
      const r = cfg.img_resolution / 2 ** Number(m[1]);
      tf.params.set(`${r}x${r}/ToRGB/${m[2]}`, v);
      cfg.synthesis_kwargs!.architecture = 'orig';
    }
  }
  const lg = (r: string) => Math.log2(Number(r));
  const rules: [RegExp, ((m: RegExpMatchArray) => [string, Conv]) | null][] = [
    [/^mapping\.w_avg$/, () => ['dlatent_avg', asIs]],
    [/^mapping\.embed\.weight$/, () => ['mapping/LabelEmbed/weight', T2]],
    [/^mapping\.embed\.bias$/, () => ['mapping/LabelEmbed/bias', asIs]],
    [/^mapping\.fc(\d+)\.weight$/, (m) => [`mapping/Dense${m[1]}/weight`, T2]],
    [/^mapping\.fc(\d+)\.bias$/, (m) => [`mapping/Dense${m[1]}/bias`, asIs]],
    [/^synthesis\.b4\.const$/, () => ['synthesis/4x4/Const/const', first]],
    [/^synthesis\.b4\.conv1\.weight$/, () => ['synthesis/4x4/Conv/weight', CONV]],
    [/^synthesis\.b4\.conv1\.bias$/, () => ['synthesis/4x4/Conv/bias', asIs]],
    [/^synthesis\.b4\.conv1\.noise_const$/, () => ['synthesis/noise0', first2]],
    [/^synthesis\.b4\.conv1\.noise_strength$/, () => ['synthesis/4x4/Conv/noise_strength', asIs]],
    [/^synthesis\.b4\.conv1\.affine\.weight$/, () => ['synthesis/4x4/Conv/mod_weight', T2]],
    [/^synthesis\.b4\.conv1\.affine\.bias$/, () => ['synthesis/4x4/Conv/mod_bias', plusOne]],
    [/^synthesis\.b(\d+)\.conv0\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/weight`, CONV_FLIP]],
    [/^synthesis\.b(\d+)\.conv0\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/bias`, asIs]],
    [/^synthesis\.b(\d+)\.conv0\.noise_const$/, (m) => [`synthesis/noise${lg(m[1]) * 2 - 5}`, first2]],
    [/^synthesis\.b(\d+)\.conv0\.noise_strength$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/noise_strength`, asIs]],
    [/^synthesis\.b(\d+)\.conv0\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/mod_weight`, T2]],
    [/^synthesis\.b(\d+)\.conv0\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.conv1\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/weight`, CONV]],
    [/^synthesis\.b(\d+)\.conv1\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/bias`, asIs]],
    [/^synthesis\.b(\d+)\.conv1\.noise_const$/, (m) => [`synthesis/noise${lg(m[1]) * 2 - 4}`, first2]],
    [/^synthesis\.b(\d+)\.conv1\.noise_strength$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/noise_strength`, asIs]],
    [/^synthesis\.b(\d+)\.conv1\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/mod_weight`, T2]],
    [/^synthesis\.b(\d+)\.conv1\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.torgb\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/weight`, CONV]],
    [/^synthesis\.b(\d+)\.torgb\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/bias`, asIs]],
    [/^synthesis\.b(\d+)\.torgb\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/mod_weight`, T2]],
    [/^synthesis\.b(\d+)\.torgb\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.skip\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Skip/weight`, CONV_FLIP]],
    [/\.resample_filter$/, null],
  ];
  named(where, () => resolveGeneratorConfig(cfg));
  return { cfg, params: mapParams(tf, rules, names(cfg), where) };
}

function tfDiscriminator(tf: TfNet, where: string, names: (cfg: DiscriminatorConfig) => string[]): { cfg: DiscriminatorConfig; params: Map<string, NamedArray> } {
  if (tf.version < 4) throw new Error(`${where}: TensorFlow pickle version ${tf.version} is too old`);
  const known = new Set<string>();
  const k = tfKw(tf.kwargs, known);
  const cfg: DiscriminatorConfig = {
    c_dim: k('label_size', 0) as number, img_resolution: k('resolution', 1024) as number, img_channels: k('num_channels', 3) as number,
    architecture: k('architecture', 'resnet') as 'resnet', channel_base: (k('fmap_base', 16384) as number) * 2, channel_max: k('fmap_max', 512) as number,
    num_fp16_res: k('num_fp16_res', 0) as number, conv_clamp: k('conv_clamp', null) as number | null, cmap_dim: k('mapping_fmaps', null) as number | null,
    block_kwargs: { activation: k('nonlinearity', 'lrelu') as 'lrelu', resample_filter: k('resample_kernel', [1, 3, 3, 1]) as number[], freeze_layers: k('freeze_layers', 0) as number },
    mapping_kwargs: {
      num_layers: k('mapping_layers', 0) as number, embed_features: k('mapping_fmaps', null) as number | null, layer_features: k('mapping_fmaps', null) as number | null,
      activation: k('nonlinearity', 'lrelu') as 'lrelu', lr_multiplier: k('mapping_lrmul', 0.1) as number,
    },
    epilogue_kwargs: { mbstd_group_size: k('mbstd_group_size', null) as number | null, mbstd_num_channels: k('mbstd_num_features', 1) as number, activation: k('nonlinearity', 'lrelu') as 'lrelu' },
  };
  known.add('structure');
  const unknown = Object.keys(tf.kwargs).filter((x) => !known.has(x));
  if (unknown.length) throw new Error(`${where}: unknown TensorFlow discriminator option '${unknown[0]}'`);
  for (const [name, v] of [...tf.params]) {
    const m = /^FromRGB_lod(\d+)\/(.*)$/.exec(name);
    if (m) {
      const r = cfg.img_resolution / 2 ** Number(m[1]);
      tf.params.set(`${r}x${r}/FromRGB/${m[2]}`, v);
      cfg.architecture = 'orig';
    }
  }
  const rules: [RegExp, ((m: RegExpMatchArray) => [string, Conv]) | null][] = [
    [/^b(\d+)\.fromrgb\.weight$/, (m) => [`${m[1]}x${m[1]}/FromRGB/weight`, CONV]],
    [/^b(\d+)\.fromrgb\.bias$/, (m) => [`${m[1]}x${m[1]}/FromRGB/bias`, asIs]],
    [/^b(\d+)\.conv(\d+)\.weight$/, (m) => [`${m[1]}x${m[1]}/Conv${m[2]}${m[2] === '1' ? '_down' : ''}/weight`, CONV]],
    [/^b(\d+)\.conv(\d+)\.bias$/, (m) => [`${m[1]}x${m[1]}/Conv${m[2]}${m[2] === '1' ? '_down' : ''}/bias`, asIs]],
    [/^b(\d+)\.skip\.weight$/, (m) => [`${m[1]}x${m[1]}/Skip/weight`, CONV]],
    [/^mapping\.embed\.weight$/, () => ['LabelEmbed/weight', T2]],
    [/^mapping\.embed\.bias$/, () => ['LabelEmbed/bias', asIs]],
    [/^mapping\.fc(\d+)\.weight$/, (m) => [`Mapping${m[1]}/weight`, T2]],
    [/^mapping\.fc(\d+)\.bias$/, (m) => [`Mapping${m[1]}/bias`, asIs]],
    [/^b4\.conv\.weight$/, () => ['4x4/Conv/weight', CONV]],
    [/^b4\.conv\.bias$/, () => ['4x4/Conv/bias', asIs]],
    [/^b4\.fc\.weight$/, () => ['4x4/Dense0/weight', T2]],
    [/^b4\.fc\.bias$/, () => ['4x4/Dense0/bias', asIs]],
    [/^b4\.out\.weight$/, () => ['Output/weight', T2]],
    [/^b4\.out\.bias$/, () => ['Output/bias', asIs]],
    [/\.resample_filter$/, null],
  ];
  named(where, () => resolveDiscriminatorConfig(cfg));
  return { cfg, params: mapParams(tf, rules, names(cfg), where) };
}

// The names are those of the upstream state dict for the config: ask the network classes.

function generatorNames(cfg: GeneratorConfig): string[] {
  const G = new Generator(cfg);
  const names = [...G.params.specs.keys()];
  G.dispose();
  return names;
}

function discriminatorNames(cfg: DiscriminatorConfig): string[] {
  const D = new Discriminator(cfg);
  const names = [...D.params.specs.keys()];
  D.dispose();
  return names;
}

function fromTfPickle(data: unknown[], source: string): LoadedNetwork {
  const [tG, tD, tGs] = data.map((n, i) => tfNetwork(n, `${source} [${['G', 'D', 'Gs'][i]}]`));
  const G = tfGenerator(tG, `${source} [G]`, generatorNames);
  const Gs = tfGenerator(tGs, `${source} [Gs]`, generatorNames);
  const D = tfDiscriminator(tD, `${source} [D]`, discriminatorNames);
  // Filters are derived from the config; set the buffers so the state dict is complete.
  const fill = (params: Map<string, NamedArray>, names: string[], build: () => { params: { read(n: string): NamedArray }; dispose(): void }) => {
    const missing = names.filter((n) => !params.has(n));
    if (!missing.length) return;
    const net = build();
    for (const n of missing) params.set(n, net.params.read(n));
    net.dispose();
  };
  fill(G.params, generatorNames(G.cfg), () => new Generator(G.cfg));
  fill(Gs.params, generatorNames(Gs.cfg), () => new Generator(Gs.cfg));
  fill(D.params, discriminatorNames(D.cfg), () => new Discriminator(D.cfg));
  return { format: 'tensorflow-pickle', source, G_kwargs: Gs.cfg, D_kwargs: D.cfg, G: G.params, D: D.params, G_ema: Gs.params };
}

// ---- entry -------------------------------------------------------------------------------------

export function loadNetworkPickle(buf: Uint8Array, source: string): LoadedNetwork {
  const data = unpickle(buf, { source, reducers: { ...torchReducers(source), ...numpyReducers() } });
  if (data instanceof PyDict) {
    if (!data.has('G') && !data.has('G_ema')) {
      throw new Error(`${source}: the pickle has no G or G_ema: not a StyleGAN2 network pickle (keys: ${[...data.keys()].slice(0, 5).map(String).join(', ')})`);
    }
    return fromTorchSnapshot(data, source);
  }
  if (Array.isArray(data) && data.length === 3 && data.every((n) => n instanceof PyObject && n.className === 'dnnlib.tflib.network.Network')) {
    return fromTfPickle(data, source);
  }
  const what = data instanceof PyObject ? data.className : data instanceof PyGlobal ? data.qualname : Array.isArray(data) ? `a tuple of ${data.length}` : typeof data;
  throw new Error(`${source}: not a StyleGAN2 network pickle (it holds ${what})`);
}
