// Image generation as upstream's generate.py and style_mixing.py do it: z from
// numpy RandomState(seed).randn (the same latent per seed), optional truncation and class label,
// uint8 conversion clamp(x * 127.5 + 128) truncated.
import * as tf from '@tensorflow/tfjs';
import type { Generator } from './networks/generator.js';
import type { NoiseMode } from './networks/synthesis.js';
import { NumpyRandomState } from './numpy_random.js';
import { Rng } from './rng.js';
import { OptionError } from './files/option_error.js';

/** "0-3,7,10-11" -> [0, 1, 2, 3, 7, 10, 11]. */
export function parseRange(s: string, what = 'seeds'): number[] {
  const out: number[] = [];
  for (const part of String(s).split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new OptionError((o) => `${o(what)} '${s}': expected numbers and ranges like 0-63 or 1,5,9`);
    const a = Number(m[1]),
      b = m[2] !== undefined ? Number(m[2]) : a;
    // numpy's RandomState (whose z we reproduce) takes seeds below 2^32.
    if (b > 0xffffffff) throw new OptionError((o) => `${o(what)} '${s}': seeds must be below 2^32 (4294967296)`);
    if (b < a) throw new OptionError((o) => `${o(what)} '${s}': range ${a}-${b} is empty`);
    if (b - a > 1_000_000) throw new OptionError((o) => `${o(what)} '${s}': range too large`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

export function seedLatents(seeds: number[], zDim: number): tf.Tensor2D {
  const z = new Float32Array(seeds.length * zDim);
  seeds.forEach((s, i) => {
    z.set(new NumpyRandomState(s).randn(zDim), i * zDim);
  });
  return tf.tensor2d(z, [seeds.length, zDim]);
}

export interface GenerateOptions {
  truncationPsi?: number; // 1 = no truncation
  truncationCutoff?: number | null;
  noiseMode?: NoiseMode; // default 'const'
  classIdx?: number | null; // for conditional networks
  batch?: number; // images per forward pass
}

/** Float NHWC in about [-1, 1] -> uint8 as upstream generate.py: clamp(x * 127.5 + 128, 0, 255), truncated. */
export function toUint8Generate(data: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i] * 127.5 + 128;
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
  }
  return out;
}

function labels(G: Generator, n: number, classIdx: number | null | undefined): tf.Tensor2D | null {
  if (G.cDim === 0) {
    if (classIdx !== null && classIdx !== undefined) process.stderr.write('warning: the class is ignored for an unconditional network\n');
    return null;
  }
  if (classIdx === null || classIdx === undefined)
    throw new OptionError((o) => `this network is conditional (${G.cDim} classes): give ${o('class')} 0..${G.cDim - 1}`);
  if (!Number.isInteger(classIdx) || classIdx < 0 || classIdx >= G.cDim)
    throw new OptionError((o) => `${o('class')} ${classIdx} is out of range 0..${G.cDim - 1}`);
  return tf.tidy(() => tf.oneHot(tf.fill([n], classIdx, 'int32') as tf.Tensor1D, G.cDim).cast('float32') as tf.Tensor2D);
}

/** One uint8 HWC image per seed. */
export async function generateImages(G: Generator, seeds: number[], o: GenerateOptions = {}): Promise<Uint8Array[]> {
  const batch = o.batch ?? 8;
  const out: Uint8Array[] = [];
  const per = G.imgResolution * G.imgResolution * G.imgChannels;
  for (let i = 0; i < seeds.length; i += batch) {
    const chunk = seeds.slice(i, i + batch);
    const img = tf.tidy(() => {
      const z = seedLatents(chunk, G.zDim);
      const c = labels(G, chunk.length, o.classIdx);
      const ws = G.mapZ(z, c, { truncation_psi: o.truncationPsi ?? 1, truncation_cutoff: o.truncationCutoff ?? null });
      if ((o.noiseMode ?? 'const') === 'random') {
        // Per-seed noise streams: an image does not depend on which batch it was in.
        return tf.concat(
          chunk.map((s, k) => G.synthesize(ws.slice(k, 1), { noise_mode: 'random', rng: new Rng(`noise-${s}`) })),
          0,
        );
      }
      return G.synthesize(ws, { noise_mode: o.noiseMode ?? 'const' });
    });
    const px = toUint8Generate(await img.data());
    img.dispose();
    for (let k = 0; k < chunk.length; k++) out.push(px.slice(k * per, (k + 1) * per));
  }
  return out;
}

/**
 * Style mixing (upstream style_mixing.py): w of each row seed with the `colStyles` layers taken
 * from each column seed. Returns cells[row][col] and the row/column source images.
 */
export async function styleMix(
  G: Generator,
  rowSeeds: number[],
  colSeeds: number[],
  colStyles: number[],
  o: GenerateOptions = {},
): Promise<{ rows: Uint8Array[]; cols: Uint8Array[]; cells: Uint8Array[][] }> {
  for (const s of colStyles) if (s < 0 || s >= G.numWs) throw new OptionError((o) => `${o('styles')}: layer ${s} is out of range 0..${G.numWs - 1}`);
  const all = [...new Set([...rowSeeds, ...colSeeds])];
  const wsAll = tf.tidy(() =>
    G.mapZ(seedLatents(all, G.zDim), labels(G, all.length, o.classIdx), {
      truncation_psi: o.truncationPsi ?? 1,
      truncation_cutoff: o.truncationCutoff ?? null,
    }),
  );
  const w = (seed: number) => wsAll.slice(all.indexOf(seed), 1);
  const render = async (ws: tf.Tensor3D) => {
    const img = tf.tidy(() => G.synthesize(ws, { noise_mode: o.noiseMode ?? 'const', rng: new Rng('style-mix') }));
    const px = toUint8Generate(await img.data());
    img.dispose();
    return px;
  };
  const mask = Array.from({ length: G.numWs }, (_, i) => (colStyles.includes(i) ? 1 : 0));
  const rows: Uint8Array[] = [],
    cols: Uint8Array[] = [],
    cells: Uint8Array[][] = [];
  for (const s of rowSeeds) {
    const t = tf.tidy(() => w(s));
    rows.push(await render(t as tf.Tensor3D));
    t.dispose();
  }
  for (const s of colSeeds) {
    const t = tf.tidy(() => w(s));
    cols.push(await render(t as tf.Tensor3D));
    t.dispose();
  }
  for (const r of rowSeeds) {
    const line: Uint8Array[] = [];
    for (const c of colSeeds) {
      const t = tf.tidy(() => {
        const m = tf.tensor3d(mask, [1, G.numWs, 1]);
        return w(r).mul(tf.scalar(1).sub(m)).add(w(c).mul(m)) as tf.Tensor3D;
      });
      line.push(await render(t));
      t.dispose();
    }
    cells.push(line);
  }
  wsAll.dispose();
  return { rows, cols, cells };
}
