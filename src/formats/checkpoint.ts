// Our checkpoint format: one safetensors file. Tensors "G/<name>", "D/<name>", "G_ema/<name>"
// in upstream names and layouts, Adam state "opt_G/m/<name>", "opt_G/v/<name>", "opt_G/t" (and
// opt_D); metadata {"format": "stylegan-rlo", "config": <JSON>} with the network kwargs and, for
// training snapshots, the complete training state. Written atomically; never replaces a file
// unless asked.
import type { TrainingState } from '../records.js';
import { type DiscriminatorConfig, type GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import type { NamedArray, ParamStore } from '../networks/params.js';
import type { StTensor } from '../records.js';
import { parseSafetensors, serializeSafetensors } from './safetensors.js';
import { writeFileAtomic } from '../files/atomic.js';

export const CHECKPOINT_FORMAT = 'stylegan-rlo';

export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig | null;
  /** Training state of a snapshot (absent for exported networks); from a file, check it with trainingStateOf. */
  training?: TrainingState;
}

export interface CheckpointParts {
  G?: ParamStore;
  D?: ParamStore;
  G_ema?: ParamStore;
  /** Further tensors by their full names, in upstream layout (e.g. optimizer state "opt_G/m/<name>"). */
  extra?: Map<string, NamedArray>;
}

async function addStore(out: Map<string, NamedArray>, prefix: string, store: ParamStore): Promise<void> {
  for (const [k, v] of await store.readAll()) out.set(`${prefix}/${k}`, v);
}

export async function serializeCheckpoint(config: CheckpointConfig, parts: CheckpointParts): Promise<Buffer> {
  const tensors = new Map<string, NamedArray>();
  if (parts.G) await addStore(tensors, 'G', parts.G);
  if (parts.D) await addStore(tensors, 'D', parts.D);
  if (parts.G_ema) await addStore(tensors, 'G_ema', parts.G_ema);
  for (const [k, v] of parts.extra ?? []) {
    if (tensors.has(k)) throw new Error(`checkpoint tensor ${k} given twice`);
    tensors.set(k, v);
  }
  return serializeSafetensors(tensors, { format: CHECKPOINT_FORMAT, config: JSON.stringify(config) });
}

export async function saveCheckpoint(file: string, config: CheckpointConfig, parts: CheckpointParts, opts: { overwrite?: boolean } = {}): Promise<void> {
  await writeFileAtomic(file, await serializeCheckpoint(config, parts), opts);
}

export interface LoadedCheckpoint {
  config: CheckpointConfig;
  tensors: Map<string, StTensor>;
}

export function isCheckpointBuffer(buf: Uint8Array): boolean {
  if (buf.length < 10) return false;
  const n = new DataView(buf.buffer, buf.byteOffset, 8).getBigUint64(0, true);
  return n > 0n && n < BigInt(buf.length) && buf[8] === 0x7b; // '{'
}

export function parseCheckpoint(buf: Uint8Array, source: string): LoadedCheckpoint {
  const st = parseSafetensors(buf, source);
  if (st.metadata.format !== CHECKPOINT_FORMAT || typeof st.metadata.config !== 'string') {
    throw new Error(`${source}: a safetensors file, but not a stylegan-rlo checkpoint (no '${CHECKPOINT_FORMAT}' metadata)`);
  }
  let config: CheckpointConfig;
  try {
    config = JSON.parse(st.metadata.config);
  } catch {
    throw new Error(`${source}: the checkpoint's config metadata is not valid JSON`);
  }
  if (typeof config !== 'object' || config === null || !config.G_kwargs) throw new Error(`${source}: the checkpoint has no G_kwargs`);
  // Checked against sane limits here, before anything is built from them.
  try {
    resolveGeneratorConfig(config.G_kwargs);
    if (config.D_kwargs) resolveDiscriminatorConfig(config.D_kwargs);
  } catch (e) {
    throw new Error(`${source}: ${(e as Error).message}`);
  }
  return { config, tensors: st.tensors };
}

/** The tensors under `prefix/` as an upstream state dict. */
export function section(tensors: Map<string, StTensor>, prefix: string): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  for (const [k, v] of tensors) {
    if (k.startsWith(`${prefix}/`)) {
      if (v.dtype !== 'F32') throw new Error(`tensor ${k} is ${v.dtype}, expected F32`);
      out.set(k.slice(prefix.length + 1), { shape: v.shape, data: v.data as Float32Array });
    }
  }
  return out;
}
