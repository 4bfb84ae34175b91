// Image-folder dataset: decoded once, held in memory as uint8 NHWC, sampled from the one seeded
// stream. Labels from a dataset.json as upstream's dataset_tool writes it.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import { decodeImage, type ResizeFilter } from './images.js';
import { displayPath, type FilePath } from '../files/inputs.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp'];

export interface DatasetOptions {
  resolution: number;
  channels: 1 | 3;
  filter?: ResizeFilter;
  requireSquare?: boolean;
  mirror?: boolean; // Add x-flipped copies (upstream --mirror: doubles the dataset).
  cDim?: number; // Label size the network expects (0 = unconditional).
  maxImages?: number; // Use at most this many images (first in sorted order).
}

export interface LoadReport {
  used: number;
  skipped: { file: string; reason: string }[]; // every file left out, with why (listing and decoding)
}

function joinPath(dir: Buffer, name: Buffer): Buffer {
  return Buffer.concat([dir, Buffer.from(path.sep), name]);
}

function asPath(b: Buffer): FilePath {
  const s = b.toString('utf8');
  return Buffer.from(s, 'utf8').equals(b) ? s : b;
}

export interface ImageListing {
  files: FilePath[]; // image files, sorted
  skipped: { file: string; reason: string }[]; // what was found and left out, with why
}

/**
 * The image files under `root`, recursively, in sorted order. Only regular files are taken: a
 * FIFO, socket or device is reported and never opened (opening a FIFO blocks). Symbolic links are
 * followed, to files and to folders, with loops detected; a broken link is reported.
 */
export async function listImageFiles(root: string): Promise<ImageListing> {
  const files: FilePath[] = [];
  const skipped: ImageListing['skipped'] = [];
  const visited = new Set<string>(); // real paths of the folders walked (loop detection)
  const walk = async (dir: Buffer) => {
    const real = await fs.realpath(dir).catch(() => null);
    if (real !== null) {
      if (visited.has(real)) {
        skipped.push({ file: displayPath(asPath(dir)), reason: 'a link back to a folder already read (a loop); not followed' });
        return;
      }
      visited.add(real);
    }
    const entries = await fs.readdir(dir, { withFileTypes: true, encoding: 'buffer' });
    for (const e of entries) {
      const p = joinPath(dir, e.name as unknown as Buffer);
      const isImage = IMAGE_EXTENSIONS.includes(path.extname(e.name.toString('latin1')).toLowerCase());
      let kind: 'file' | 'dir' | 'other' = e.isFile() ? 'file' : e.isDirectory() ? 'dir' : 'other';
      if (e.isSymbolicLink()) {
        const st = await fs.stat(p).catch(() => null);
        if (!st) {
          skipped.push({ file: displayPath(asPath(p)), reason: 'a broken symbolic link' });
          continue;
        }
        kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other';
      }
      if (kind === 'dir') await walk(p);
      else if (kind === 'other') skipped.push({ file: displayPath(asPath(p)), reason: 'not a regular file (a FIFO, socket or device); not opened' });
      else if (isImage) files.push(asPath(p));
    }
  };
  await walk(Buffer.from(root));
  const key = (p: FilePath) => displayPath(p);
  files.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  return { files, skipped };
}

/** The image files under `root` (see listImageFiles), without the report. */
export async function listImages(root: string): Promise<FilePath[]> {
  return (await listImageFiles(root)).files;
}

/** Reads upstream's dataset.json: {"labels": [[relative path, int class | number[]], ...]}. */
async function readLabels(root: string, files: FilePath[], cDim: number): Promise<Float32Array[] | null> {
  const file = path.join(root, 'dataset.json');
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch {
    if (cDim > 0) throw new Error(`${root}: the network is conditional (c_dim ${cDim}) but the folder has no dataset.json with labels`);
    return null;
  }
  if (cDim === 0) return null;
  let labels: [string, number | number[]][] | null;
  try {
    labels = JSON.parse(raw).labels;
  } catch {
    throw new Error(`${file}: not valid JSON`);
  }
  if (!Array.isArray(labels)) throw new Error(`${file}: expected {"labels": [[path, label], ...]}`);
  labels.forEach((entry, i) => {
    const ok =
      Array.isArray(entry) &&
      entry.length === 2 &&
      typeof entry[0] === 'string' &&
      (typeof entry[1] === 'number' || (Array.isArray(entry[1]) && entry[1].every((x) => typeof x === 'number' && Number.isFinite(x))));
    if (!ok)
      throw new Error(`${file}: labels[${i}] is ${JSON.stringify(entry)?.slice(0, 60)}; each entry must be [relative path, class index or list of numbers]`);
  });
  const map = new Map(labels.map(([p, l]) => [p.replace(/\\/g, '/'), l]));
  return files.map((f) => {
    const rel = path.relative(root, displayPath(f)).split(path.sep).join('/');
    const l = map.get(rel);
    if (l === undefined) throw new Error(`${file}: no label for ${rel}`);
    const v = new Float32Array(cDim);
    if (typeof l === 'number') {
      if (!Number.isInteger(l) || l < 0 || l >= cDim) throw new Error(`${file}: label ${l} of ${rel} is not a class in 0..${cDim - 1}`);
      v[l] = 1;
    } else {
      if (l.length !== cDim) throw new Error(`${file}: label of ${rel} has ${l.length} values, the network expects ${cDim}`);
      v.set(l);
    }
    return v;
  });
}

export class ImageDataset {
  private order: number[] = [];
  private pos = 0;

  private constructor(
    readonly root: string,
    readonly images: Uint8Array[],
    readonly labels: Float32Array[] | null,
    readonly o: DatasetOptions,
    readonly report: LoadReport,
  ) {}

  /** Loads and decodes every image of `root` (recursively). Throws when no image is usable. */
  static async load(root: string, o: DatasetOptions): Promise<ImageDataset> {
    const st = await fs.stat(root).catch(() => null);
    if (!st) throw new Error(`dataset folder ${root} does not exist`);
    if (!st.isDirectory()) throw new Error(`dataset ${root} is not a folder; give a folder of PNG/JPEG/WebP images`);
    const listing = await listImageFiles(root);
    let files = listing.files;
    if (files.length === 0)
      throw new Error(
        `dataset folder ${root} has no images (${IMAGE_EXTENSIONS.join(', ')})${listing.skipped.length ? `; skipped ${listing.skipped[0].file}: ${listing.skipped[0].reason}` : ''}`,
      );
    if (o.maxImages && files.length > o.maxImages) files = files.slice(0, o.maxImages);
    const images: Uint8Array[] = [];
    const used: FilePath[] = [];
    const skipped: LoadReport['skipped'] = [...listing.skipped];
    for (const f of files) {
      try {
        images.push(await decodeImage(f, o));
        used.push(f);
      } catch (e) {
        skipped.push({ file: displayPath(f), reason: (e as Error).message.split('\n')[0] });
      }
    }
    if (images.length === 0) {
      throw new Error(
        `dataset folder ${root}: none of the ${files.length} image files could be used (first: ${skipped[listing.skipped.length].file}: ${skipped[listing.skipped.length].reason})`,
      );
    }
    const labels = await readLabels(root, used, o.cDim ?? 0);
    return new ImageDataset(root, images, labels, o, { used: images.length, skipped });
  }

  /** Number of distinct samples (doubled by mirroring). */
  get length(): number {
    return this.images.length * (this.o.mirror ? 2 : 1);
  }

  get resolution(): number {
    return this.o.resolution;
  }
  get channels(): number {
    return this.o.channels;
  }

  /** Sample i as uint8 HWC (mirrored when i >= number of images). */
  pixels(i: number): Uint8Array {
    const n = this.images.length;
    const img = this.images[i % n];
    if (i < n) return img;
    const r = this.o.resolution,
      c = this.o.channels;
    const out = new Uint8Array(img.length);
    for (let y = 0; y < r; y++)
      for (let x = 0; x < r; x++) {
        out.set(img.subarray((y * r + x) * c, (y * r + x + 1) * c), (y * r + (r - 1 - x)) * c);
      }
    return out;
  }

  label(i: number): Float32Array | null {
    return this.labels ? this.labels[i % this.images.length] : null;
  }

  /** Next `n` indices of a seeded endless shuffle (a new permutation each epoch). */
  nextIndices(n: number, rng: Rng): number[] {
    const out: number[] = [];
    while (out.length < n) {
      if (this.pos >= this.order.length) {
        this.order = Array.from({ length: this.length }, (_, i) => i);
        for (let i = this.order.length - 1; i > 0; i--) {
          const j = rng.int(0, i + 1);
          [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
        }
        this.pos = 0;
      }
      out.push(this.order[this.pos++]);
    }
    return out;
  }

  /** Sampler state (for exact resume). */
  samplerState(): { order: number[]; pos: number } {
    return { order: this.order.slice(), pos: this.pos };
  }

  /**
   * Restores the data order of a snapshot. When the folder no longer has the images that order
   * indexes (resumed with another --data), it cannot be continued: returns false, and the next
   * call to nextIndices starts a new shuffle instead of serving indices that do not exist.
   */
  restoreSampler(s: { order: number[]; pos: number }): boolean {
    if (s.order.length !== this.length || s.order.some((i) => !(Number.isInteger(i) && i >= 0 && i < this.length))) {
      this.order = [];
      this.pos = 0;
      return false;
    }
    this.order = s.order.slice();
    this.pos = s.pos;
    return true;
  }

  /** Images at `indices` as a float NHWC tensor in [-1, 1], and their labels (or null). */
  batch(indices: number[]): { img: tf.Tensor4D; c: tf.Tensor2D | null } {
    const r = this.o.resolution,
      ch = this.o.channels;
    const data = new Float32Array(indices.length * r * r * ch);
    indices.forEach((idx, k) => {
      const px = this.pixels(idx);
      for (let i = 0; i < px.length; i++) data[k * px.length + i] = px[i] / 127.5 - 1;
    });
    const img = tf.tensor4d(data, [indices.length, r, r, ch]);
    let c: tf.Tensor2D | null = null;
    if (this.labels) {
      const cd = this.labels[0].length;
      const ld = new Float32Array(indices.length * cd);
      indices.forEach((idx, k) => {
        ld.set(this.label(idx)!, k * cd);
      });
      c = tf.tensor2d(ld, [indices.length, cd]);
    }
    return { img, c };
  }

  /** Labels of random samples for the fakes (upstream draws gen_c from the training set). */
  randomLabels(n: number, rng: Rng): tf.Tensor2D | null {
    if (!this.labels) return null;
    const cd = this.labels[0].length;
    const ld = new Float32Array(n * cd);
    for (let k = 0; k < n; k++) ld.set(this.labels[rng.int(0, this.images.length)], k * cd);
    return tf.tensor2d(ld, [n, cd]);
  }
}
