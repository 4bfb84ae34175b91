// Latent walks and truncation sweeps: the frames of interpolation videos. A walk visits its
// keyframe seeds in order (and back to the first when it loops): spherical interpolation between
// the seeds' z (numpy's z of each seed, as generate), or linear interpolation between their w
// after the mapping network (and truncation). A sweep moves truncation psi from one value to
// another for fixed seeds. Noise is 'const', so the frames depend only on the seeds and options.
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import type { Generator } from './networks/generator.js';
import { seedLatents, toUint8Generate } from './generate.js';
import { OptionError } from './files/option_error.js';

export interface WalkOptions {
  space?: 'z' | 'w'; // slerp in z (default) or lerp in w
  framesPerSeed?: number; // frames from one keyframe to the next (default 30)
  loop?: boolean; // return to the first seed (default true)
  truncationPsi?: number; // applied by the mapping network (default 1)
  batch?: number; // frames per forward pass (default 8)
}

/** Spherical interpolation between the rows of a and b (shapes [n, d]) at fraction t. */
export function slerp(a: Float32Array, b: Float32Array, t: number): Float32Array {
  let dot = 0,
    na = 0,
    nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = Math.max(-1, Math.min(1, dot / Math.sqrt(na * nb)));
  const omega = Math.acos(cos);
  const out = new Float32Array(a.length);
  if (omega < 1e-6) {
    for (let i = 0; i < a.length; i++) out[i] = a[i] + t * (b[i] - a[i]);
    return out;
  }
  const sa = Math.sin((1 - t) * omega) / Math.sin(omega),
    sb = Math.sin(t * omega) / Math.sin(omega);
  for (let i = 0; i < a.length; i++) out[i] = sa * a[i] + sb * b[i];
  return out;
}

/** The (segment, fraction) of every frame of a walk over `keys` keyframes. */
function schedule(keys: number, framesPerSeed: number, loop: boolean): [number, number][] {
  const segments = loop ? keys : keys - 1;
  const out: [number, number][] = [];
  for (let s = 0; s < segments; s++) for (let f = 0; f < framesPerSeed; f++) out.push([s, f / framesPerSeed]);
  if (!loop) out.push([segments - 1, 1]);
  return out;
}

async function render(G: Generator, ws: tf.Tensor3D[], batch: number): Promise<Uint8Array[]> {
  const per = G.imgResolution * G.imgResolution * G.imgChannels;
  const out: Uint8Array[] = [];
  for (let i = 0; i < ws.length; i += batch) {
    const img = tf.tidy(() => G.synthesize(tf.concat(ws.slice(i, i + batch), 0), { noise_mode: 'const' }));
    const px = toUint8Generate(await img.data());
    img.dispose();
    for (let k = 0; k < Math.min(batch, ws.length - i); k++) out.push(px.slice(k * per, (k + 1) * per));
  }
  return out;
}

/** The frames (uint8 HWC) of a walk through `seeds`. */
export async function latentWalk(G: Generator, seeds: number[], o: WalkOptions = {}): Promise<Uint8Array[]> {
  if (seeds.length < 2) throw new Error(`a walk needs at least 2 seeds, got ${seeds.length}`);
  if (G.cDim > 0) throw new Error('latent walks of conditional networks are not supported yet; use generate, which takes a class');
  const fps = o.framesPerSeed ?? 30,
    loop = o.loop ?? true,
    psi = o.truncationPsi ?? 1;
  const z = seedLatents(seeds, G.zDim);
  const zs = (await z.data()) as Float32Array;
  const key = (k: number) => zs.subarray((k % seeds.length) * G.zDim, ((k % seeds.length) + 1) * G.zDim);
  const frames = schedule(seeds.length, fps, loop);
  let ws: tf.Tensor3D[];
  if ((o.space ?? 'z') === 'z') {
    ws = frames.map(([s, t]) => tf.tidy(() => G.mapZ(tf.tensor2d(slerp(key(s), key(s + 1), t), [1, G.zDim]), null, { truncation_psi: psi })));
  } else {
    const wKeys = tf.tidy(() => G.mapZ(z, null, { truncation_psi: psi }));
    ws = frames.map(([s, t]) =>
      tf.tidy(() => {
        const a = wKeys.slice(s % seeds.length, 1),
          b = wKeys.slice((s + 1) % seeds.length, 1);
        return a.add(b.sub(a).mul(t)) as tf.Tensor3D;
      }),
    );
    wKeys.dispose();
  }
  z.dispose();
  try {
    return await render(G, ws, o.batch ?? 8);
  } finally {
    tf.dispose(ws);
  }
}

/** Frames of truncation psi going from `from` to `to` (inclusive) for one seed. */
export async function truncationSweep(G: Generator, seed: number, from: number, to: number, frames: number, batch = 8): Promise<Uint8Array[]> {
  if (!(Number.isInteger(frames) && frames >= 2)) throw new OptionError((o) => `${o('frames')} ${frames}: a sweep needs at least 2 frames`);
  if (G.cDim > 0) throw new Error('truncation sweeps of conditional networks are not supported yet');
  const z = seedLatents([seed], G.zDim);
  const ws = Array.from({ length: frames }, (_, i) => tf.tidy(() => G.mapZ(z, null, { truncation_psi: from + ((to - from) * i) / (frames - 1) })));
  z.dispose();
  try {
    return await render(G, ws, batch);
  } finally {
    tf.dispose(ws);
  }
}

/** Tiles frame i of every walk into one frame (cols x rows cells). */
export function tileFrames(walks: Uint8Array[][], res: number, channels: number, cols: number): Uint8Array[] {
  const rows = Math.ceil(walks.length / cols);
  const n = Math.min(...walks.map((w) => w.length));
  return Array.from({ length: n }, (_, f) => {
    const out = new Uint8Array(cols * rows * res * res * channels).fill(255);
    walks.forEach((w, j) => {
      const cx = (j % cols) * res,
        cy = Math.floor(j / cols) * res;
      for (let y = 0; y < res; y++) out.set(w[f].subarray(y * res * channels, (y + 1) * res * channels), ((cy + y) * cols * res + cx) * channels);
    });
    return out;
  });
}

/** Encodes frames (uint8 HWC, 1 or 3 channels) as an animated WebP or GIF that loops forever. */
export async function encodeAnimation(
  frames: Uint8Array[],
  width: number,
  height: number,
  channels: number,
  fps: number,
  format: 'webp' | 'gif',
  scale = 1,
): Promise<Buffer> {
  const rgb = frames.map((f) => (channels === 3 ? f : Uint8Array.from({ length: f.length * 3 }, (_, i) => f[Math.floor(i / 3)])));
  const all = Buffer.concat(rgb.map((f) => Buffer.from(f.buffer, f.byteOffset, f.length)));
  let img = sharp(all, { raw: { width, height: height * frames.length, channels: 3, pageHeight: height } });
  if (scale !== 1) {
    // Upscale each frame with nearest neighbour (pixel art stays crisp at 32x32).
    const up = await Promise.all(
      rgb.map((f) =>
        sharp(Buffer.from(f), { raw: { width, height, channels: 3 } })
          .resize(width * scale, height * scale, { kernel: 'nearest' })
          .raw()
          .toBuffer(),
      ),
    );
    img = sharp(Buffer.concat(up), { raw: { width: width * scale, height: height * scale * frames.length, channels: 3, pageHeight: height * scale } });
  }
  const delay = Array(frames.length).fill(Math.round(1000 / fps));
  return format === 'gif' ? img.gif({ delay, loop: 0 }).toBuffer() : img.webp({ delay, loop: 0, lossless: true }).toBuffer();
}
