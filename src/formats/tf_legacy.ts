// The older TensorFlow StyleGAN2 pickles: a tuple (G, D, Gs) of dnnlib.tflib.network.Network
// states with numpy variables, mapped to upstream names and layouts as upstream's legacy.py does.
import type { LoadedNetwork } from '../records.js';
import { type DiscriminatorConfig, type GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import type { NamedArray } from '../networks/params.js';
import { Generator } from '../networks/generator.js';
import { Discriminator } from '../networks/discriminator.js';
import { PyDict, PyObject } from './pickle.js';
import { NdArray } from './numpy.js';
import { MAX_MODULE_DEPTH, named, toPlain } from './pickle_plain.js';

/** Whether an unpickled value is a TensorFlow StyleGAN2 pickle (G, D, Gs). */
export function isTfPickle(data: unknown): data is unknown[] {
  return Array.isArray(data) && data.length === 3 && data.every((n) => n instanceof PyObject && n.className === 'dnnlib.tflib.network.Network');
}

interface TfNet {
  version: number;
  kwargs: Record<string, unknown>;
  params: Map<string, NdArray>;
}

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
      for (let d = idx.length - 1; d >= 0; d--) {
        if (++idx[d] < outShape[d]) break;
        idx[d] = 0;
      }
    }
    return { shape: outShape, data: out };
  };
}
const TRANSPOSE = permute([1, 0]);
const CONV = permute([3, 2, 0, 1]);
const CONV_FLIP = permute([3, 2, 0, 1], true);
const plusOne: Conv = (a) => {
  const r = asIs(a);
  return { shape: r.shape, data: r.data.map((v) => v + 1) };
};
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
    z_dim: k('latent_size', 512) as number,
    c_dim: k('label_size', 0) as number,
    w_dim: k('dlatent_size', 512) as number,
    img_resolution: k('resolution', 1024) as number,
    img_channels: k('num_channels', 3) as number,
    mapping_kwargs: {
      num_layers: k('mapping_layers', 8) as number,
      embed_features: k('label_fmaps', null) as number | null,
      layer_features: k('mapping_fmaps', null) as number | null,
      activation: k('mapping_nonlinearity', 'lrelu') as 'lrelu',
      lr_multiplier: k('mapping_lrmul', 0.01) as number,
      w_avg_beta: k('w_avg_beta', 0.995, 1) as number,
    },
    synthesis_kwargs: {
      channel_base: (k('fmap_base', 16384) as number) * 2,
      channel_max: k('fmap_max', 512) as number,
      num_fp16_res: k('num_fp16_res', 0) as number,
      conv_clamp: k('conv_clamp', null) as number | null,
      architecture: k('architecture', 'skip') as 'skip',
      resample_filter: k('resample_kernel', [1, 3, 3, 1]) as number[],
      use_noise: k('use_noise', true) as boolean,
      activation: k('nonlinearity', 'lrelu') as 'lrelu',
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
    [/^mapping\.embed\.weight$/, () => ['mapping/LabelEmbed/weight', TRANSPOSE]],
    [/^mapping\.embed\.bias$/, () => ['mapping/LabelEmbed/bias', asIs]],
    [/^mapping\.fc(\d+)\.weight$/, (m) => [`mapping/Dense${m[1]}/weight`, TRANSPOSE]],
    [/^mapping\.fc(\d+)\.bias$/, (m) => [`mapping/Dense${m[1]}/bias`, asIs]],
    [/^synthesis\.b4\.const$/, () => ['synthesis/4x4/Const/const', first]],
    [/^synthesis\.b4\.conv1\.weight$/, () => ['synthesis/4x4/Conv/weight', CONV]],
    [/^synthesis\.b4\.conv1\.bias$/, () => ['synthesis/4x4/Conv/bias', asIs]],
    [/^synthesis\.b4\.conv1\.noise_const$/, () => ['synthesis/noise0', first2]],
    [/^synthesis\.b4\.conv1\.noise_strength$/, () => ['synthesis/4x4/Conv/noise_strength', asIs]],
    [/^synthesis\.b4\.conv1\.affine\.weight$/, () => ['synthesis/4x4/Conv/mod_weight', TRANSPOSE]],
    [/^synthesis\.b4\.conv1\.affine\.bias$/, () => ['synthesis/4x4/Conv/mod_bias', plusOne]],
    [/^synthesis\.b(\d+)\.conv0\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/weight`, CONV_FLIP]],
    [/^synthesis\.b(\d+)\.conv0\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/bias`, asIs]],
    [/^synthesis\.b(\d+)\.conv0\.noise_const$/, (m) => [`synthesis/noise${lg(m[1]) * 2 - 5}`, first2]],
    [/^synthesis\.b(\d+)\.conv0\.noise_strength$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/noise_strength`, asIs]],
    [/^synthesis\.b(\d+)\.conv0\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/mod_weight`, TRANSPOSE]],
    [/^synthesis\.b(\d+)\.conv0\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv0_up/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.conv1\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/weight`, CONV]],
    [/^synthesis\.b(\d+)\.conv1\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/bias`, asIs]],
    [/^synthesis\.b(\d+)\.conv1\.noise_const$/, (m) => [`synthesis/noise${lg(m[1]) * 2 - 4}`, first2]],
    [/^synthesis\.b(\d+)\.conv1\.noise_strength$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/noise_strength`, asIs]],
    [/^synthesis\.b(\d+)\.conv1\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/mod_weight`, TRANSPOSE]],
    [/^synthesis\.b(\d+)\.conv1\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/Conv1/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.torgb\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/weight`, CONV]],
    [/^synthesis\.b(\d+)\.torgb\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/bias`, asIs]],
    [/^synthesis\.b(\d+)\.torgb\.affine\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/mod_weight`, TRANSPOSE]],
    [/^synthesis\.b(\d+)\.torgb\.affine\.bias$/, (m) => [`synthesis/${m[1]}x${m[1]}/ToRGB/mod_bias`, plusOne]],
    [/^synthesis\.b(\d+)\.skip\.weight$/, (m) => [`synthesis/${m[1]}x${m[1]}/Skip/weight`, CONV_FLIP]],
    [/\.resample_filter$/, null],
  ];
  named(where, () => resolveGeneratorConfig(cfg));
  return { cfg, params: mapParams(tf, rules, names(cfg), where) };
}

function tfDiscriminator(
  tf: TfNet,
  where: string,
  names: (cfg: DiscriminatorConfig) => string[],
): { cfg: DiscriminatorConfig; params: Map<string, NamedArray> } {
  if (tf.version < 4) throw new Error(`${where}: TensorFlow pickle version ${tf.version} is too old`);
  const known = new Set<string>();
  const k = tfKw(tf.kwargs, known);
  const cfg: DiscriminatorConfig = {
    c_dim: k('label_size', 0) as number,
    img_resolution: k('resolution', 1024) as number,
    img_channels: k('num_channels', 3) as number,
    architecture: k('architecture', 'resnet') as 'resnet',
    channel_base: (k('fmap_base', 16384) as number) * 2,
    channel_max: k('fmap_max', 512) as number,
    num_fp16_res: k('num_fp16_res', 0) as number,
    conv_clamp: k('conv_clamp', null) as number | null,
    cmap_dim: k('mapping_fmaps', null) as number | null,
    block_kwargs: {
      activation: k('nonlinearity', 'lrelu') as 'lrelu',
      resample_filter: k('resample_kernel', [1, 3, 3, 1]) as number[],
      freeze_layers: k('freeze_layers', 0) as number,
    },
    mapping_kwargs: {
      num_layers: k('mapping_layers', 0) as number,
      embed_features: k('mapping_fmaps', null) as number | null,
      layer_features: k('mapping_fmaps', null) as number | null,
      activation: k('nonlinearity', 'lrelu') as 'lrelu',
      lr_multiplier: k('mapping_lrmul', 0.1) as number,
    },
    epilogue_kwargs: {
      mbstd_group_size: k('mbstd_group_size', null) as number | null,
      mbstd_num_channels: k('mbstd_num_features', 1) as number,
      activation: k('nonlinearity', 'lrelu') as 'lrelu',
    },
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
    [/^mapping\.embed\.weight$/, () => ['LabelEmbed/weight', TRANSPOSE]],
    [/^mapping\.embed\.bias$/, () => ['LabelEmbed/bias', asIs]],
    [/^mapping\.fc(\d+)\.weight$/, (m) => [`Mapping${m[1]}/weight`, TRANSPOSE]],
    [/^mapping\.fc(\d+)\.bias$/, (m) => [`Mapping${m[1]}/bias`, asIs]],
    [/^b4\.conv\.weight$/, () => ['4x4/Conv/weight', CONV]],
    [/^b4\.conv\.bias$/, () => ['4x4/Conv/bias', asIs]],
    [/^b4\.fc\.weight$/, () => ['4x4/Dense0/weight', TRANSPOSE]],
    [/^b4\.fc\.bias$/, () => ['4x4/Dense0/bias', asIs]],
    [/^b4\.out\.weight$/, () => ['Output/weight', TRANSPOSE]],
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

export async function fromTfPickle(data: unknown[], source: string): Promise<LoadedNetwork> {
  const [tG, tD, tGs] = data.map((n, i) => tfNetwork(n, `${source} [${['G', 'D', 'Gs'][i]}]`));
  const G = tfGenerator(tG, `${source} [G]`, generatorNames);
  const Gs = tfGenerator(tGs, `${source} [Gs]`, generatorNames);
  const D = tfDiscriminator(tD, `${source} [D]`, discriminatorNames);
  // Filters are derived from the config; set the buffers so the state dict is complete.
  const fill = async (params: Map<string, NamedArray>, names: string[], build: () => { params: { read(n: string): Promise<NamedArray> }; dispose(): void }) => {
    const missing = names.filter((n) => !params.has(n));
    if (!missing.length) return;
    const net = build();
    try {
      for (const n of missing) params.set(n, await net.params.read(n));
    } finally {
      net.dispose();
    }
  };
  await fill(G.params, generatorNames(G.cfg), () => new Generator(G.cfg));
  await fill(Gs.params, generatorNames(Gs.cfg), () => new Generator(Gs.cfg));
  await fill(D.params, discriminatorNames(D.cfg), () => new Discriminator(D.cfg));
  return { format: 'tensorflow-pickle', source, G_kwargs: Gs.cfg, D_kwargs: D.cfg, G: G.params, D: D.params, G_ema: Gs.params };
}
