// loadNetwork: our checkpoints, upstream PyTorch network pickles and the older TensorFlow
// StyleGAN2 pickles, told apart by their first bytes, into one shape: network kwargs plus
// upstream-named state dicts for G, D and G_ema.
import type { DiscriminatorConfig } from '../networks/config.js';
import { Generator } from '../networks/generator.js';
import { Discriminator } from '../networks/discriminator.js';
import { isCheckpointBuffer, parseCheckpoint, section } from './checkpoint.js';
import { loadNetworkPickle } from './network_pickle.js';
import { readRegularFile } from './files.js';
import type { LoadedNetwork } from './loaded_network.js';

export type { LoadedNetwork, NetworkFormat } from './loaded_network.js';

export async function loadNetwork(file: string): Promise<LoadedNetwork> {
  return parseNetwork(await readRegularFile(file, 'network file'), file);
}

export function parseNetwork(buf: Uint8Array, source: string): LoadedNetwork {
  if (isCheckpointBuffer(buf)) {
    const ck = parseCheckpoint(buf, source);
    const opt = (p: string) => {
      const s = section(ck.tensors, p);
      return s.size ? s : null;
    };
    return {
      format: 'checkpoint',
      source,
      G_kwargs: ck.config.G_kwargs,
      D_kwargs: ck.config.D_kwargs ?? null,
      G: opt('G'),
      D: opt('D'),
      G_ema: opt('G_ema'),
      training: ck.config.training,
      tensors: ck.tensors,
    };
  }
  if (buf.length >= 2 && buf[0] === 0x80) return loadNetworkPickle(buf, source);
  throw new Error(`${source}: not a network file this toolkit reads (expected a stylegan-rlo checkpoint .safetensors or a StyleGAN2 network pickle .pkl)`);
}

/** Builds a generator from a loaded network: G_ema by default (what upstream generates with). */
export function buildGenerator(net: LoadedNetwork, which: 'G_ema' | 'G' = 'G_ema'): Generator {
  const params = net[which] ?? net.G_ema ?? net.G;
  if (!params) throw new Error(`${net.source}: has no generator weights`);
  const G = new Generator(net.G_kwargs);
  try {
    G.params.setAll(params);
  } catch (e) {
    G.dispose();
    throw new Error(`${net.source}: ${(e as Error).message}`);
  }
  return G;
}

export function buildDiscriminator(net: LoadedNetwork, overrides: Partial<DiscriminatorConfig> = {}): Discriminator {
  if (!net.D_kwargs || !net.D) throw new Error(`${net.source}: has no discriminator; fine-tuning needs a network pickle or checkpoint that includes D`);
  const cfg = { ...net.D_kwargs, ...overrides, block_kwargs: { ...(net.D_kwargs.block_kwargs ?? {}), ...(overrides.block_kwargs ?? {}) } };
  const D = new Discriminator(cfg);
  try {
    D.params.setAll(net.D);
  } catch (e) {
    D.dispose();
    throw new Error(`${net.source}: ${(e as Error).message}`);
  }
  return D;
}
