// What `info` reports about a network file, and `convert` (any network file -> our checkpoint).
import type { LoadedNetwork, TrainingOptions } from '../records.js';
import { buildGenerator, buildDiscriminator, loadNetwork } from './network.js';
import { resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import { saveCheckpoint } from '../formats/checkpoint.js';
import { trainingStateOf } from './training_state.js';

export interface NetworkInfo {
  file: string;
  format: string;
  networks: string[]; // which of G, D, G_ema the file holds
  generator: {
    architecture: string;
    z_dim: number;
    w_dim: number;
    c_dim: number;
    resolution: number;
    channels: number;
    num_ws: number;
    mapping_layers: number;
    channel_base: number;
    channel_max: number;
    parameters: number;
  };
  discriminator: {
    architecture: string;
    c_dim: number;
    resolution: number;
    channels: number;
    mbstd_group_size: number | null;
    freeze_layers: number;
    parameters: number;
  } | null;
  training: { kimg: number; loss: TrainingOptions['loss']; k: number; augment_p: number } | null;
}

export function describeNetwork(net: LoadedNetwork): NetworkInfo {
  const G = buildGenerator(net);
  const g = resolveGeneratorConfig(net.G_kwargs);
  const info: NetworkInfo = {
    file: net.source,
    format: net.format,
    networks: (['G', 'D', 'G_ema'] as const).filter((k) => net[k] !== null),
    generator: {
      architecture: `StyleGAN2 (${g.synthesis_kwargs.architecture})`,
      z_dim: g.z_dim,
      w_dim: g.w_dim,
      c_dim: g.c_dim,
      resolution: g.img_resolution,
      channels: g.img_channels,
      num_ws: G.numWs,
      mapping_layers: g.mapping_kwargs.num_layers,
      channel_base: g.synthesis_kwargs.channel_base,
      channel_max: g.synthesis_kwargs.channel_max,
      parameters: G.params.numParams(),
    },
    discriminator: null,
    training: null,
  };
  G.dispose();
  if (net.D && net.D_kwargs) {
    const D = buildDiscriminator(net);
    const d = resolveDiscriminatorConfig(net.D_kwargs);
    info.discriminator = {
      architecture: `StyleGAN2 (${d.architecture})`,
      c_dim: d.c_dim,
      resolution: d.img_resolution,
      channels: d.img_channels,
      mbstd_group_size: d.epilogue_kwargs.mbstd_group_size,
      freeze_layers: d.block_kwargs.freeze_layers,
      parameters: D.params.numParams(),
    };
    D.dispose();
  }
  const tr = trainingStateOf(net.training, net.source);
  if (tr) info.training = { kimg: tr.trainer.curNimg / 1000, loss: tr.options.loss, k: tr.options.k, augment_p: tr.augmentP };
  return info;
}

export function formatInfo(i: NetworkInfo): string {
  const g = i.generator;
  const lines = [
    `file           ${i.file}`,
    `format         ${i.format} (${i.networks.join(', ')})`,
    `generator      ${g.architecture}, ${g.resolution}x${g.resolution}x${g.channels}, z ${g.z_dim}, w ${g.w_dim}, c ${g.c_dim}, num_ws ${g.num_ws}, mapping ${g.mapping_layers} layers, channels ${g.channel_base}/${g.channel_max}, ${g.parameters.toLocaleString('en-US')} parameters`,
  ];
  if (i.discriminator) {
    const d = i.discriminator;
    lines.push(
      `discriminator  ${d.architecture}, ${d.resolution}x${d.resolution}x${d.channels}, c ${d.c_dim}, mbstd group ${d.mbstd_group_size ?? 'batch'}, freeze ${d.freeze_layers}, ${d.parameters.toLocaleString('en-US')} parameters`,
    );
  }
  if (i.training)
    lines.push(
      `training       kimg ${i.training.kimg}, loss ${String(i.training.loss)}${i.training.loss === 'rooted' ? ` k=${String(i.training.k)}` : ''}, augment p ${Number(i.training.augment_p ?? 0).toFixed(3)}`,
    );
  return lines.join('\n');
}

/** Converts any network file to our checkpoint format (networks only, no training state). */
export async function convertNetwork(src: string, dst: string, overwrite = false, parts: ('G' | 'D' | 'G_ema')[] = ['G', 'D', 'G_ema']): Promise<NetworkInfo> {
  const net = await loadNetwork(src);
  const G = net.G && parts.includes('G') ? buildGenerator(net, 'G') : null;
  const Ge = net.G_ema && parts.includes('G_ema') ? buildGenerator(net, 'G_ema') : null;
  const D = net.D && parts.includes('D') ? buildDiscriminator(net) : null;
  try {
    await saveCheckpoint(
      dst,
      { format: 'stylegan-rlo', version: 1, G_kwargs: net.G_kwargs, D_kwargs: net.D_kwargs },
      { G: G?.params, D: D?.params, G_ema: Ge?.params },
      { overwrite },
    );
  } finally {
    G?.dispose();
    Ge?.dispose();
    D?.dispose();
  }
  return describeNetwork(await loadNetwork(dst));
}
