// loadNetwork: our checkpoints, upstream PyTorch network pickles and the older TensorFlow
// StyleGAN2 pickles, told apart by their first bytes, into one shape: network kwargs plus
// upstream-named state dicts for G, D and G_ema.
import type { LoadedNetwork } from '../records.js';
import type { DiscriminatorConfig, GeneratorConfig } from '../networks/config.js';
import type { NamedArray } from '../networks/params.js';
import { widenTensors } from '../networks/widen.js';
import type { Rng } from '../rng.js';
import type { StTensor } from '../records.js';
import { Generator } from '../networks/generator.js';
import { Discriminator } from '../networks/discriminator.js';
import { isCheckpointBuffer, parseCheckpoint, section } from '../formats/checkpoint.js';
import { loadNetworkPickle } from '../formats/network_pickle.js';
import { readRegularFile } from '../files/inputs.js';

export async function loadNetwork(file: string): Promise<LoadedNetwork> {
  return parseNetwork(await readRegularFile(file, 'network file'), file);
}

export async function parseNetwork(buf: Uint8Array, source: string): Promise<LoadedNetwork> {
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

/**
 * The network widened to `widened`'s channels (networks/widen.ts), with its training state's Adam
 * moments carried along; the new channels' incoming (G) or outgoing (D) weights drawn from `rng`.
 */
export async function widenLoadedNetwork(
  net: LoadedNetwork,
  widened: { G_kwargs: GeneratorConfig; D_kwargs: DiscriminatorConfig | null },
  rng: Rng,
): Promise<LoadedNetwork> {
  const G = new Generator(widened.G_kwargs, rng);
  const D = widened.D_kwargs ? new Discriminator(widened.D_kwargs, rng) : null;
  let freshG: Map<string, NamedArray>, freshD: Map<string, NamedArray> | null;
  try {
    freshG = await G.params.readAll();
    freshD = D ? await D.params.readAll() : null;
  } finally {
    G.dispose();
    D?.dispose();
  }
  const optimizer = new Map<string, NamedArray>();
  for (const [k, t] of net.tensors ?? []) {
    if (!k.startsWith('opt_')) continue;
    if (t.dtype !== 'F32') throw new Error(`${net.source}: optimizer tensor ${k} is ${t.dtype}, expected F32`);
    optimizer.set(k, { shape: t.shape, data: t.data as Float32Array });
  }
  const w = widenTensors({ ...net, optimizer }, widened, freshG, freshD);
  const tensors = new Map<string, StTensor>();
  const put = (prefix: string, sd: Map<string, NamedArray> | null) => {
    for (const [k, v] of sd ?? []) tensors.set(prefix ? `${prefix}/${k}` : k, { dtype: 'F32', shape: v.shape, data: v.data });
  };
  put('G', w.G);
  put('D', w.D);
  put('G_ema', w.G_ema);
  put('', w.optimizer);
  return { ...net, G_kwargs: widened.G_kwargs, D_kwargs: widened.D_kwargs, G: w.G, D: w.D, G_ema: w.G_ema, tensors };
}
