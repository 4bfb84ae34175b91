// Network configurations, named exactly like upstream's constructor kwargs (training/networks.py)
// so that a pickle's `_init_kwargs` and a checkpoint's JSON map onto them one to one.
import type { Activation } from '../ops/kernel_names.js';
import { ACTIVATIONS } from '../ops/bias_act.js';

export type Architecture = 'orig' | 'skip' | 'resnet';

export interface MappingKwargs {
  num_layers?: number; // Number of mapping layers (default 8).
  embed_features?: number | null; // Label embedding size, null = w_dim.
  layer_features?: number | null; // Hidden features, null = w_dim.
  activation?: Activation; // Default 'lrelu'.
  lr_multiplier?: number; // Learning-rate multiplier (default 0.01).
  w_avg_beta?: number | null; // Decay of the tracked W average, null = do not track.
}

export interface SynthesisKwargs {
  channel_base?: number; // Overall channel multiplier (default 32768).
  channel_max?: number; // Maximum channels in any layer (default 512).
  num_fp16_res?: number; // Accepted for compatibility; everything runs in float32.
  architecture?: Architecture; // Default 'skip'.
  resample_filter?: number[]; // Low-pass filter taps (default [1,3,3,1]).
  conv_clamp?: number | null; // Clamp conv outputs to +-X, null = off.
  fp16_channels_last?: boolean; // Accepted for compatibility; no effect.
  use_noise?: boolean; // Noise inputs (default true).
  activation?: Activation; // Default 'lrelu'.
  kernel_size?: number; // Conv kernel size (default 3).
}

export interface GeneratorConfig {
  z_dim: number; // Input latent (Z) size.
  c_dim: number; // Conditioning label size, 0 = unconditional.
  w_dim: number; // Intermediate latent (W) size.
  img_resolution: number; // Output resolution, a power of two >= 4.
  img_channels: number; // Output color channels.
  mapping_kwargs?: MappingKwargs;
  synthesis_kwargs?: SynthesisKwargs;
}

export interface DiscriminatorBlockKwargs {
  activation?: Activation; // Default 'lrelu'.
  resample_filter?: number[]; // Default [1,3,3,1].
  fp16_channels_last?: boolean; // Accepted for compatibility; no effect.
  freeze_layers?: number; // Freeze-D: number of leading layers whose weights are buffers.
}

export interface EpilogueKwargs {
  mbstd_group_size?: number | null; // Minibatch-stddev group size, null = whole batch (default 4).
  mbstd_num_channels?: number; // Minibatch-stddev features, 0 = off (default 1).
  activation?: Activation; // Default 'lrelu'.
}

export interface DiscriminatorConfig {
  c_dim: number; // Conditioning label size, 0 = unconditional.
  img_resolution: number; // Input resolution, a power of two >= 4.
  img_channels: number; // Input color channels.
  architecture?: Architecture; // Default 'resnet'.
  channel_base?: number; // Default 32768.
  channel_max?: number; // Default 512.
  num_fp16_res?: number; // Accepted for compatibility; everything runs in float32.
  conv_clamp?: number | null; // Default null.
  cmap_dim?: number | null; // Mapped label size, null = channels at 4x4.
  block_kwargs?: DiscriminatorBlockKwargs;
  mapping_kwargs?: MappingKwargs;
  epilogue_kwargs?: EpilogueKwargs;
}

/** Channels of a block at resolution `res` (upstream: min(channel_base // res, channel_max)). */
export function channelsAt(channelBase: number, channelMax: number, res: number): number {
  return Math.min(Math.floor(channelBase / res), channelMax);
}

/** The synthesis network's options (upstream SynthesisNetwork kwargs). */
export const SYNTHESIS_KEYS = [
  'channel_base',
  'channel_max',
  'num_fp16_res',
  'architecture',
  'resample_filter',
  'conv_clamp',
  'fp16_channels_last',
  'use_noise',
  'activation',
  'kernel_size',
];

const ARCHS: Architecture[] = ['orig', 'skip', 'resnet'];

function fail(what: string, msg: string): never {
  throw new Error(`invalid ${what} config: ${msg}`);
}

function checkKeys(what: string, obj: object, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(what, `unsupported option '${k}' (supported: ${allowed.join(', ')})`);
  }
}

// Upper limits far beyond any StyleGAN2 network, checked before anything is built: a config read
// from a file must not make the process allocate without bound.
const MAX_FEATURES = 8192; // z_dim, w_dim, channel_max, embed/layer features, cmap_dim
const MAX_LAYERS = 64; // mapping layers, frozen D layers
const MAX_FILTER_TAPS = 16; // resample_filter (upstream: 4)

function checkInt(what: string, name: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    fail(what, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return v;
}

function checkResolution(what: string, r: unknown): number {
  const v = checkInt(what, 'img_resolution', r, 4, 8192);
  if ((v & (v - 1)) !== 0) fail(what, `img_resolution must be a power of two, got ${v}`);
  return v;
}

function checkAct(what: string, a: unknown): Activation {
  if (typeof a !== 'string' || !(a in ACTIVATIONS)) fail(what, `activation must be one of ${Object.keys(ACTIVATIONS).join(', ')}, got ${JSON.stringify(a)}`);
  return a as Activation;
}

function checkArch(what: string, a: unknown): Architecture {
  if (!ARCHS.includes(a as Architecture)) fail(what, `architecture must be one of ${ARCHS.join(', ')}, got ${JSON.stringify(a)}`);
  return a as Architecture;
}

function checkFilter(what: string, f: unknown): number[] {
  if (!Array.isArray(f) || f.length === 0 || f.length > MAX_FILTER_TAPS || !f.every((t) => typeof t === 'number' && Number.isFinite(t))) {
    fail(
      what,
      `resample_filter must be a list of 1 to ${MAX_FILTER_TAPS} numbers, got ${Array.isArray(f) && f.length > MAX_FILTER_TAPS ? `${f.length} taps` : JSON.stringify(f)}`,
    );
  }
  return f as number[];
}

function clampOrNull(what: string, v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'number' || !(v >= 0)) fail(what, `conv_clamp must be a number >= 0 or null, got ${JSON.stringify(v)}`);
  return v;
}

export function resolveMappingKwargs(m: MappingKwargs = {}, what = 'mapping'): Required<MappingKwargs> {
  checkKeys(what, m, ['num_layers', 'embed_features', 'layer_features', 'activation', 'lr_multiplier', 'w_avg_beta']);
  const r: Required<MappingKwargs> = {
    num_layers: checkInt(what, 'num_layers', m.num_layers ?? 8, 0, MAX_LAYERS), // 0 is valid upstream (e.g. an unconditional D's unused mapping)
    embed_features: m.embed_features ?? null,
    layer_features: m.layer_features ?? null,
    activation: checkAct(what, m.activation ?? 'lrelu'),
    lr_multiplier: m.lr_multiplier ?? 0.01,
    w_avg_beta: m.w_avg_beta === undefined ? 0.995 : m.w_avg_beta,
  };
  if (r.embed_features !== null) checkInt(what, 'embed_features', r.embed_features, 1, MAX_FEATURES);
  if (r.layer_features !== null) checkInt(what, 'layer_features', r.layer_features, 1, MAX_FEATURES);
  if (!(r.lr_multiplier > 0)) fail(what, `lr_multiplier must be > 0, got ${r.lr_multiplier}`);
  return r;
}

export type ResolvedGeneratorConfig = Readonly<
  Required<Omit<GeneratorConfig, 'mapping_kwargs' | 'synthesis_kwargs'>> & {
    mapping_kwargs: Readonly<Required<MappingKwargs>>;
    synthesis_kwargs: Readonly<Required<SynthesisKwargs>>;
  }
>;

/** Fills upstream defaults, validates, and returns a frozen copy. */
export function resolveGeneratorConfig(c: GeneratorConfig): ResolvedGeneratorConfig {
  const what = 'generator';
  if (typeof c !== 'object' || c === null) fail(what, 'expected an object');
  checkKeys(what, c, ['z_dim', 'c_dim', 'w_dim', 'img_resolution', 'img_channels', 'mapping_kwargs', 'synthesis_kwargs']);
  const s = c.synthesis_kwargs ?? {};
  checkKeys('synthesis', s, SYNTHESIS_KEYS);
  const r = {
    z_dim: checkInt(what, 'z_dim', c.z_dim, 0, MAX_FEATURES),
    c_dim: checkInt(what, 'c_dim', c.c_dim ?? 0, 0, 65536),
    w_dim: checkInt(what, 'w_dim', c.w_dim, 1, MAX_FEATURES),
    img_resolution: checkResolution(what, c.img_resolution),
    img_channels: checkInt(what, 'img_channels', c.img_channels, 1, 16),
    mapping_kwargs: Object.freeze(resolveMappingKwargs(c.mapping_kwargs)),
    synthesis_kwargs: Object.freeze({
      channel_base: checkInt('synthesis', 'channel_base', s.channel_base ?? 32768, 1, 2 ** 24),
      channel_max: checkInt('synthesis', 'channel_max', s.channel_max ?? 512, 1, MAX_FEATURES),
      num_fp16_res: checkInt('synthesis', 'num_fp16_res', s.num_fp16_res ?? 0, 0, 16),
      architecture: checkArch('synthesis', s.architecture ?? 'skip'),
      resample_filter: checkFilter('synthesis', s.resample_filter ?? [1, 3, 3, 1]),
      conv_clamp: clampOrNull('synthesis', s.conv_clamp),
      fp16_channels_last: s.fp16_channels_last ?? false,
      use_noise: s.use_noise ?? true,
      activation: checkAct('synthesis', s.activation ?? 'lrelu'),
      kernel_size: checkInt('synthesis', 'kernel_size', s.kernel_size ?? 3, 1, 15),
    }),
  };
  if (r.z_dim === 0 && r.c_dim === 0) fail(what, 'z_dim and c_dim cannot both be 0');
  return Object.freeze(r);
}

export type ResolvedDiscriminatorConfig = Readonly<
  Required<Omit<DiscriminatorConfig, 'block_kwargs' | 'mapping_kwargs' | 'epilogue_kwargs'>> & {
    block_kwargs: Readonly<Required<DiscriminatorBlockKwargs>>;
    mapping_kwargs: Readonly<Required<MappingKwargs>>;
    epilogue_kwargs: Readonly<Required<EpilogueKwargs>>;
  }
>;

export function resolveDiscriminatorConfig(c: DiscriminatorConfig): ResolvedDiscriminatorConfig {
  const what = 'discriminator';
  if (typeof c !== 'object' || c === null) fail(what, 'expected an object');
  checkKeys(what, c, [
    'c_dim',
    'img_resolution',
    'img_channels',
    'architecture',
    'channel_base',
    'channel_max',
    'num_fp16_res',
    'conv_clamp',
    'cmap_dim',
    'block_kwargs',
    'mapping_kwargs',
    'epilogue_kwargs',
  ]);
  const b = c.block_kwargs ?? {};
  checkKeys('discriminator block', b, ['activation', 'resample_filter', 'fp16_channels_last', 'freeze_layers']);
  const e = c.epilogue_kwargs ?? {};
  checkKeys('discriminator epilogue', e, ['mbstd_group_size', 'mbstd_num_channels', 'activation']);
  const r = {
    c_dim: checkInt(what, 'c_dim', c.c_dim ?? 0, 0, 65536),
    img_resolution: checkResolution(what, c.img_resolution),
    img_channels: checkInt(what, 'img_channels', c.img_channels, 1, 16),
    architecture: checkArch(what, c.architecture ?? 'resnet'),
    channel_base: checkInt(what, 'channel_base', c.channel_base ?? 32768, 1, 2 ** 24),
    channel_max: checkInt(what, 'channel_max', c.channel_max ?? 512, 1, MAX_FEATURES),
    num_fp16_res: checkInt(what, 'num_fp16_res', c.num_fp16_res ?? 0, 0, 16),
    conv_clamp: clampOrNull(what, c.conv_clamp),
    cmap_dim: c.cmap_dim ?? null,
    block_kwargs: Object.freeze({
      activation: checkAct('discriminator block', b.activation ?? 'lrelu'),
      resample_filter: checkFilter('discriminator block', b.resample_filter ?? [1, 3, 3, 1]),
      fp16_channels_last: b.fp16_channels_last ?? false,
      freeze_layers: checkInt('discriminator block', 'freeze_layers', b.freeze_layers ?? 0, 0, MAX_LAYERS),
    }),
    mapping_kwargs: Object.freeze(resolveMappingKwargs(c.mapping_kwargs, 'discriminator mapping')),
    epilogue_kwargs: Object.freeze({
      mbstd_group_size: e.mbstd_group_size === undefined ? 4 : e.mbstd_group_size,
      mbstd_num_channels: checkInt('discriminator epilogue', 'mbstd_num_channels', e.mbstd_num_channels ?? 1, 0, 64),
      activation: checkAct('discriminator epilogue', e.activation ?? 'lrelu'),
    }),
  };
  if (r.cmap_dim !== null) checkInt(what, 'cmap_dim', r.cmap_dim, 1, MAX_FEATURES);
  if (r.epilogue_kwargs.mbstd_group_size !== null) checkInt('discriminator epilogue', 'mbstd_group_size', r.epilogue_kwargs.mbstd_group_size, 1, 4096);
  return Object.freeze(r);
}
