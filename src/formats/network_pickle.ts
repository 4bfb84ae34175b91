// Network pickles, read without Python and without executing anything: upstream PyTorch
// snapshots (stylegan2-ada-pytorch; StyleGAN2 networks saved by stylegan3), a dict
// {G, D, G_ema, augment_pipe, training_set_kwargs} whose networks are torch_utils.persistence
// objects (class name, module state with _parameters, _buffers, _modules, _init_kwargs); the
// older TensorFlow pickles are mapped in tf_legacy.ts.
import type { LoadedNetwork } from '../records.js';
import { type DiscriminatorConfig, type GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig, SYNTHESIS_KEYS } from '../networks/config.js';
import type { NamedArray } from '../networks/params.js';
import { PyDict, PyGlobal, PyObject, unpickle } from './pickle.js';
import { torchReducers, TorchTensor } from './torch.js';
import { numpyReducers } from './numpy.js';
import { MAX_MODULE_DEPTH, named, toPlain } from './pickle_plain.js';
import { fromTfPickle, isTfPickle } from './tf_legacy.js';

/** Converts pickled values (PyDict, EasyDict objects, tuples) to plain JSON-like values. */
function dictGet(d: unknown, key: string): unknown {
  if (d instanceof Map) return d.get(key);
  return undefined;
}

interface PersistentMeta {
  className: string;
  state: PyDict;
  moduleSrc: string;
}

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
    if (!this.storages.has(t.storage)) {
      this.storages.add(t.storage);
      this.held += t.storage.numel;
    }
    this.used += t.numel;
    if (this.used > 2 * this.held + 2 ** 20) {
      throw new Error(
        `${where}: ${name}: the tensors reuse their storages ${(this.used / this.held).toFixed(1)}x over; network weights never alias, so the file is corrupt or crafted`,
      );
    }
  }
}

/** All parameters and buffers of a pickled module tree, by upstream state-dict name. */
function collectTensors(obj: unknown, prefix: string, out: Map<string, NamedArray>, where: string, budget: MaterializeBudget, depth = 0): void {
  if (depth > MAX_MODULE_DEPTH)
    throw new Error(`${where}: modules nested more than ${MAX_MODULE_DEPTH} deep at ${prefix.slice(0, 80)}...: not a StyleGAN2 network`);
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
  for (const k of IGNORED_KEYS) {
    delete cfg[k];
    delete bk[k];
  }
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
  const G = net('G'),
    D = net('D'),
    G_ema = net('G_ema');
  const gsrc = G_ema ?? G;
  if (!gsrc) throw new Error(`${source}: the pickle has no G or G_ema: not a StyleGAN2 network pickle`);
  return {
    format: 'pytorch-pickle',
    source,
    G_kwargs: gsrc.config as GeneratorConfig,
    D_kwargs: D ? (D.config as DiscriminatorConfig) : null,
    G: G?.tensors ?? null,
    D: D?.tensors ?? null,
    G_ema: G_ema?.tensors ?? null,
  };
}

export async function loadNetworkPickle(buf: Uint8Array, source: string): Promise<LoadedNetwork> {
  const data = unpickle(buf, { source, reducers: { ...torchReducers(source), ...numpyReducers() } });
  if (data instanceof PyDict) {
    if (!data.has('G') && !data.has('G_ema')) {
      throw new Error(`${source}: the pickle has no G or G_ema: not a StyleGAN2 network pickle (keys: ${[...data.keys()].slice(0, 5).map(String).join(', ')})`);
    }
    return fromTorchSnapshot(data, source);
  }
  if (isTfPickle(data)) {
    return fromTfPickle(data, source);
  }
  const what =
    data instanceof PyObject ? data.className : data instanceof PyGlobal ? data.qualname : Array.isArray(data) ? `a tuple of ${data.length}` : typeof data;
  throw new Error(`${source}: not a StyleGAN2 network pickle (it holds ${what})`);
}
