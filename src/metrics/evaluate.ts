// Fréchet and kernel distances (FID/KID with Inception, FED/KED with the emoji network) of
// generators and image folders: batched, streamed feature extraction with progress, folder
// features cached by content (paths, sizes, mtimes), feature network and limit.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { listImages } from '../data/dataset.js';
import { displayPath, type FilePath } from '../files/inputs.js';
import { readSafetensors, serializeSafetensors } from '../formats/safetensors.js';
import { writeFileAtomic } from '../files/atomic.js';
import type { Generator } from '../networks/generator.js';
import { Rng } from '../rng.js';
import { toUint8Generate } from '../generate.js';
import { frechetDistanceExtrapolated, frechetDistanceFromFeatures, kernelInceptionDistance, kidSubsets } from './fid.js';
import { type FidProtocol, InceptionV3 } from './inception.js';
import { type FeatureNetwork, inceptionFeatureNetwork } from './features.js';
import { OptionError } from '../files/option_error.js';

export const FEATURE_DIM = 2048; // Inception's

export interface Features {
  data: Float32Array;
  n: number;
  dim: number;
}

export interface ExtractOptions {
  protocol?: FidProtocol; // Inception's preprocessing (when given an InceptionV3)
  batch?: number; // images per forward pass (default 16)
  max?: number; // use at most this many images
  progress?: (done: number, total: number) => void;
  cacheDir?: string | null; // folder feature cache (null = off)
}

/** Any feature network; a bare InceptionV3 runs under `protocol` (default nvidia). */
export type FeatureSource = FeatureNetwork | InceptionV3;

function asNetwork(net: FeatureSource, protocol: FidProtocol = 'nvidia'): FeatureNetwork {
  return net instanceof InceptionV3 ? { ...inceptionFeatureNetwork(net, protocol), dispose: () => undefined } : net;
}

async function folderKey(files: FilePath[], net: FeatureNetwork, o: ExtractOptions): Promise<string> {
  const h = createHash('sha256');
  h.update(`v2|${net.id}|${o.max ?? 'all'}|`);
  for (const f of files) {
    const st = await fs.stat(f);
    h.update(`${path.resolve(displayPath(f))}|${st.size}|${st.mtimeMs}\n`);
  }
  return h.digest('hex').slice(0, 32);
}

/** Features of every image in a folder (recursively), in sorted order. */
export async function folderFeatures(source: FeatureSource, folder: string, o: ExtractOptions = {}): Promise<Features> {
  const net = asNetwork(source, o.protocol);
  const dim = net.dim;
  const st = await fs.stat(folder).catch(() => null);
  if (!st?.isDirectory()) throw new Error(`image folder ${folder} does not exist`);
  let files = await listImages(folder);
  if (o.max !== undefined) files = files.slice(0, o.max);
  if (files.length < 2) throw new Error(`image folder ${folder} has ${files.length} images; ${net.distanceName} needs at least 2`);
  const cacheFile = o.cacheDir ? path.join(o.cacheDir, 'features', `${await folderKey(files, net, o)}.safetensors`) : null;
  if (cacheFile) {
    const hit = await readSafetensors(cacheFile).catch(() => null);
    const t = hit?.tensors.get('features');
    if (t && t.shape[1] === dim) return { data: t.data as Float32Array, n: t.shape[0], dim };
  }
  const batch = o.batch ?? 16;
  const out = new Float32Array(files.length * dim);
  let done = 0;
  let group: { px: Uint8Array; w: number; h: number }[] = [];
  const flush = async () => {
    if (!group.length) return;
    const { w, h } = group[0];
    const u8 = new Uint8Array(group.length * w * h * 3);
    group.forEach((g, i) => {
      u8.set(g.px, i * w * h * 3);
    });
    out.set(await net.features(u8, group.length, h, w, 3), done * dim);
    done += group.length;
    group = [];
    o.progress?.(done, files.length);
  };
  for (const f of files) {
    let img: Awaited<ReturnType<FeatureNetwork['readImage']>>;
    try {
      img = await net.readImage(f);
    } catch (e) {
      throw new Error(`cannot read image ${displayPath(f)}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (group.length && (group.length >= batch || img.w !== group[0].w || img.h !== group[0].h)) await flush();
    group.push(img);
  }
  await flush();
  if (cacheFile) {
    await fs.mkdir(path.dirname(cacheFile), { recursive: true });
    await writeFileAtomic(
      cacheFile,
      serializeSafetensors(new Map([['features', { shape: [files.length, dim], data: out }]]), { folder: path.resolve(folder), features: net.id }),
      { overwrite: true },
    );
  }
  return { data: out, n: files.length, dim };
}

export interface GeneratorSampling {
  num: number; // images to generate
  seed?: number; // seed of the latent stream
  labels?: (n: number, rng: Rng) => tf.Tensor2D | null; // class labels for conditional networks
  truncationPsi?: number;
}

/**
 * Features of `num` generated images (random z from the seeded stream, random noise, quantized to
 * uint8 as upstream's metric code does before the Inception network).
 */
export async function generatorFeatures(source: FeatureSource, G: Generator, s: GeneratorSampling, o: ExtractOptions = {}): Promise<Features> {
  const net = asNetwork(source, o.protocol);
  const dim = net.dim;
  if (!(Number.isInteger(s.num) && s.num >= 2))
    throw new OptionError((o) => `${o('num')} ${s.num}: ${net.distanceName} needs a whole number of at least 2 images`);
  const batch = o.batch ?? 16;
  const rng = new Rng(`fid-${s.seed ?? 0}`);
  const out = new Float32Array(s.num * dim);
  const r = G.imgResolution;
  for (let i = 0; i < s.num; i += batch) {
    const m = Math.min(batch, s.num - i);
    const img = tf.tidy(() => {
      const z = rng.normal([m, G.zDim]);
      const c = s.labels ? s.labels(m, rng) : null;
      return G.apply(z, c, { noise_mode: 'random', rng, truncation_psi: s.truncationPsi ?? 1 });
    });
    const u8 = toUint8Generate(await img.data());
    img.dispose();
    out.set(await net.features(u8, m, r, r, G.imgChannels), i * dim);
    o.progress?.(i + m, s.num);
  }
  return { data: out, n: s.num, dim };
}

export interface DistanceResult {
  metric: string; // 'FID' (Inception) or 'FED' (emoji network)
  kernelMetric: string; // 'KID' or 'KED'
  distance: number; // the Fréchet distance
  distanceInf: number | null; // extrapolated to infinitely many generated images (Chong & Forsyth), when asked for
  kernel: number | null; // the kernel distance, when asked for
  features: string; // which network: 'inception' or 'emoji'
  protocol: FidProtocol | null; // Inception's preprocessing; null for the emoji network
  n1: number;
  n2: number;
  fid?: number; // = distance, for Inception
  kid?: number | null; // = kernel, for Inception
}

/**
 * The Fréchet distance (covariance / N for Inception's nvidia protocol, / (N-1) otherwise) and
 * optionally the kernel distance (upstream defaults: 100 subsets of at most 1000) between real
 * and generated features. `how` is the feature network, or an Inception protocol.
 */
/** Fewest images per side for a distance worth reading (below it, noise dominates: KED can come out negative). */
export const MIN_METRIC_SAMPLES = 50;

/** A one-line warning when either side of a distance has too few images to mean anything, else null. */
export function smallSampleWarning(n1: number, n2: number, metric: string): string | null {
  const n = Math.min(n1, n2);
  if (n >= MIN_METRIC_SAMPLES) return null;
  return `warning: ${metric} from ${n1} and ${n2} images is mostly noise (the kernel distance can even come out negative); use at least ${MIN_METRIC_SAMPLES} on each side`;
}

/** Fewest generated images for the extrapolated Fréchet distance (below it: null). */
export const MIN_EXTRAPOLATION_SAMPLES = 10;

export async function distances(
  real: Features,
  gen: Features,
  how: FeatureNetwork | FidProtocol,
  kid = false,
  seed = 0,
  extrapolate = false,
): Promise<DistanceResult> {
  const net = typeof how === 'string' ? null : how;
  const protocol: FidProtocol | null = typeof how === 'string' ? how : how.kind === 'inception' ? (how.ddof === 0 ? 'nvidia' : 'pytorch-fid') : null;
  const ddof = net ? net.ddof : how === 'nvidia' ? 0 : 1;
  const dim = real.dim;
  if (gen.dim !== dim) throw new Error(`feature dimensions differ: ${dim} vs ${gen.dim}`);
  const distance = frechetDistanceFromFeatures(real.data, real.n, gen.data, gen.n, dim, ddof);
  let k: number | null = null;
  if (kid) {
    const r = new Rng(`kid-${seed}`);
    const subsets = kidSubsets(real.n, gen.n, 100, 1000, () => r.next());
    k = await kidWithMatmul(real, gen, subsets, dim);
  }
  let inf: number | null = null;
  if (extrapolate && gen.n >= MIN_EXTRAPOLATION_SAMPLES) {
    const r = new Rng(`fd-inf-${seed}`);
    inf = frechetDistanceExtrapolated(real.data, real.n, gen.data, gen.n, dim, ddof, () => r.next()).value;
  }
  const isInception = !net || net.kind === 'inception';
  return {
    metric: net?.distanceName ?? 'FID',
    kernelMetric: net?.kernelName ?? 'KID',
    distance,
    distanceInf: inf,
    kernel: k,
    features: net?.kind ?? 'inception',
    protocol,
    n1: real.n,
    n2: gen.n,
    ...(isInception ? { fid: distance, kid: k } : {}),
  };
}

/** KID with the Gram matrices from tf.matMul (fast at 2048 dims); sums in float64. */
async function kidWithMatmul(real: Features, gen: Features, subsets: { gen: number[]; real: number[] }[], dim: number): Promise<number> {
  const m = subsets[0].gen.length;
  if (m * m * dim < 5e7) return kernelInceptionDistance(real.data, gen.data, dim, subsets);
  const R = tf.tensor2d(real.data, [real.n, dim]),
    Gt = tf.tensor2d(gen.data, [gen.n, dim]);
  let t = 0;
  for (const s of subsets) {
    const [kxx, kyy, kxy] = tf.tidy(() => {
      const x = tf.gather(Gt, tf.tensor1d(s.gen, 'int32')),
        y = tf.gather(R, tf.tensor1d(s.real, 'int32'));
      const k = (a: tf.Tensor2D, b: tf.Tensor2D) => tf.matMul(a, b, false, true).div(dim).add(1).pow(3);
      return [k(x as tf.Tensor2D, x as tf.Tensor2D), k(y as tf.Tensor2D, y as tf.Tensor2D), k(x as tf.Tensor2D, y as tf.Tensor2D)];
    });
    const [a, b, c] = await Promise.all([kxx.data(), kyy.data(), kxy.data()]);
    let sa = 0,
      ta = 0,
      sb = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        sa += a[i * m + j] + b[i * m + j];
        sb += c[i * m + j];
        if (i === j) ta += a[i * m + j] + b[i * m + j];
      }
    t += (sa - ta) / (m - 1) - (2 * sb) / m;
    tf.dispose([kxx, kyy, kxy]);
  }
  tf.dispose([R, Gt]);
  return t / subsets.length / m;
}
