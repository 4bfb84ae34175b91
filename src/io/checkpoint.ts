// Our checkpoint format: one safetensors file. Tensors "G/<name>", "D/<name>", "G_ema/<name>"
// in upstream names and layouts, Adam state "opt_G/m/<name>", "opt_G/v/<name>", "opt_G/t" (and
// opt_D); metadata {"format": "stylegan-rlo", "config": <JSON>} with the network kwargs and, for
// training snapshots, the complete training state. Written atomically; never replaces a file
// unless asked.
import * as tf from '@tensorflow/tfjs';
import { DiscriminatorConfig, GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import { NamedArray, ParamStore } from '../networks/params.js';
import { Adam } from '../train/adam.js';
import { parseSafetensors, serializeSafetensors, StTensor } from './safetensors.js';
import { writeFileAtomic } from './atomic.js';

export const CHECKPOINT_FORMAT = 'stylegan-rlo';

export interface CheckpointConfig {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig | null;
  /** Training state of a snapshot (absent for exported networks). */
  training?: Record<string, unknown>;
}

export interface CheckpointParts {
  G?: ParamStore;
  D?: ParamStore;
  G_ema?: ParamStore;
  opt_G?: Adam;
  opt_D?: Adam;
}

function addStore(out: Map<string, { shape: number[]; data: Float32Array }>, prefix: string, store: ParamStore): void {
  for (const [k, v] of store.readAll()) out.set(`${prefix}/${k}`, v);
}

async function addAdam(out: Map<string, { shape: number[]; data: Float32Array }>, prefix: string, opt: Adam, store: ParamStore): Promise<void> {
  for (const [k, m] of opt.m) out.set(`${prefix}/m/${k}`, await store.toUpstreamArray(k, m));
  for (const [k, v] of opt.v) out.set(`${prefix}/v/${k}`, await store.toUpstreamArray(k, v));
  out.set(`${prefix}/t`, { shape: [], data: (await opt.t.data()) as Float32Array });
}

export async function serializeCheckpoint(config: CheckpointConfig, parts: CheckpointParts): Promise<Buffer> {
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  if (parts.G) addStore(tensors, 'G', parts.G);
  if (parts.D) addStore(tensors, 'D', parts.D);
  if (parts.G_ema) addStore(tensors, 'G_ema', parts.G_ema);
  if (parts.opt_G && parts.G) await addAdam(tensors, 'opt_G', parts.opt_G, parts.G);
  if (parts.opt_D && parts.D) await addAdam(tensors, 'opt_D', parts.opt_D, parts.D);
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
    if (k.startsWith(prefix + '/')) {
      if (v.dtype !== 'F32') throw new Error(`tensor ${k} is ${v.dtype}, expected F32`);
      out.set(k.slice(prefix.length + 1), { shape: v.shape, data: v.data as Float32Array });
    }
  }
  return out;
}

/** Restores Adam moments and step from `opt_X/...` tensors. */
export function restoreAdam(opt: Adam, store: ParamStore, tensors: Map<string, StTensor>, prefix: string): void {
  const m = section(tensors, `${prefix}/m`), v = section(tensors, `${prefix}/v`);
  const t = tensors.get(`${prefix}/t`);
  if (!t) throw new Error(`checkpoint has no optimizer state ${prefix}; it cannot be resumed exactly`);
  tf.tidy(() => {
    for (const [k, mv] of opt.m) {
      const a = m.get(k), b = v.get(k);
      if (!a || !b) throw new Error(`checkpoint optimizer state ${prefix} lacks ${k}`);
      const shape = mv.shape;
      mv.assign(tf.tensor(toInternalArr(store, k, a), shape));
      opt.v.get(k)!.assign(tf.tensor(toInternalArr(store, k, b), shape));
    }
    opt.t.assign(tf.scalar((t.data as Float32Array)[0]));
  });
}

function toInternalArr(store: ParamStore, name: string, a: NamedArray): Float32Array {
  const spec = store.specs.get(name)!;
  if (a.shape.join() !== spec.shape.join()) throw new Error(`optimizer state for ${name} has shape [${a.shape}], expected [${spec.shape}]`);
  // Same conversion as parameters.
  return ParamStore.upstreamToInternal(spec, a.data);
}
