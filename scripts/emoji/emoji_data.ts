// The emoji data that the feature network (train-emoji-features.ts) and the classifier arm of the
// loss study (scripts/studies/classifier-arm.ts) train on: openly licensed emoji of four vendors
// from the npm registry (pinned versions, fetched with `npm pack`), labelled by Unicode subgroup,
// rendered at 32x32; the training augmentation; top-k accuracy. See train-emoji-features.ts for
// the vendors, their licenses and how labels are joined.
import { execFileSync } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { decodeImage } from '../../src/data/images.js';
import { DEFAULT_EMOJI_NET } from '../../src/metrics/emoji_net.js';
import type { Rng } from '../../src/rng.js';

export const EMOJI_PACKAGES = {
  noto: 'emoji-datasource-google@16.0.0',
  twemoji: 'emoji-datasource-twitter@16.0.0',
  fluent: 'fluentui-emoji@1.3.0',
  openmoji: 'openmoji@17.0.0',
} as const;
export type Vendor = keyof typeof EMOJI_PACKAGES;
export const TRAIN: Vendor[] = ['noto', 'twemoji', 'fluent'];
export const HELD_OUT: Vendor = 'openmoji';
export const RES = DEFAULT_EMOJI_NET.resolution;

/** The extracted package folder for `spec`, from --packages DIR or `npm pack` (npm registry only). */
export async function packageDir(spec: string, root: string): Promise<string> {
  const name = spec.slice(0, spec.lastIndexOf('@'));
  const dir = path.join(root, name);
  if (existsSync(path.join(dir, 'package', 'package.json'))) return path.join(dir, 'package');
  await fs.mkdir(dir, { recursive: true });
  execFileSync('npm', ['pack', spec, '--silent'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = (await fs.readdir(dir)).find((f) => f.endsWith('.tgz'))!;
  execFileSync('tar', ['xzf', tgz], { cwd: dir });
  await fs.rm(path.join(dir, tgz));
  return path.join(dir, 'package');
}

const key = (hex: string) =>
  hex
    .toUpperCase()
    .split('-')
    .filter((c) => c !== 'FE0F')
    .join('-');
const cldrKey = (name: string) =>
  name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

export interface Sample {
  vendor: Vendor;
  label: string;
  file: string;
}

export async function svgToRgb(file: string): Promise<Uint8Array> {
  const { data } = await sharp(file, { density: 288 })
    .resize(RES, RES, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 }, kernel: 'lanczos3' })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export async function collect(pk: Record<Vendor, string>): Promise<Sample[]> {
  interface DsEmoji {
    unified: string;
    subcategory: string;
    image: string;
    has_img_google: boolean;
    has_img_twitter: boolean;
  }
  const ds: DsEmoji[] = JSON.parse(await fs.readFile(path.join(pk.noto, 'emoji.json'), 'utf8'));
  const subcat = new Map(ds.map((e) => [key(e.unified), e.subcategory]));
  const out: Sample[] = [];
  for (const e of ds) {
    if (e.has_img_google) out.push({ vendor: 'noto', label: e.subcategory, file: path.join(pk.noto, 'img', 'google', '64', e.image) });
  }
  const dsT: DsEmoji[] = JSON.parse(await fs.readFile(path.join(pk.twemoji, 'emoji.json'), 'utf8'));
  for (const e of dsT) {
    if (e.has_img_twitter) out.push({ vendor: 'twemoji', label: e.subcategory, file: path.join(pk.twemoji, 'img', 'twitter', '64', e.image) });
  }
  interface OmEmoji {
    hexcode: string;
    annotation: string;
    skintone: string;
    group: string;
  }
  const om: OmEmoji[] = JSON.parse(await fs.readFile(path.join(pk.openmoji, 'data', 'openmoji.json'), 'utf8'));
  const byName = new Map<string, string>();
  for (const e of om) {
    if (e.skintone || !subcat.has(key(e.hexcode))) continue;
    byName.set(cldrKey(e.annotation), key(e.hexcode));
    out.push({ vendor: 'openmoji', label: subcat.get(key(e.hexcode))!, file: path.join(pk.openmoji, 'color', 'svg', `${e.hexcode}.svg`) });
  }
  const flat = path.join(pk.fluent, 'icons', 'flat');
  for (const f of (await fs.readdir(flat)).sort()) {
    const base = f.replace(/\.svg$/, '');
    if (/-(light|medium-light|medium|medium-dark|dark)$/.test(base)) continue; // skin tones
    const k = byName.get(cldrKey(base.replace(/-default$/, '')));
    if (k && subcat.has(k)) out.push({ vendor: 'fluent', label: subcat.get(k)!, file: path.join(flat, f) });
  }
  return out.filter((s) => existsSync(s.file));
}

/** Random shift (white fill), x-flip, brightness/contrast and noise: a batch in [-1, 1]. */
export function augment(images: Uint8Array[], rng: Rng): Float32Array {
  const n = images.length,
    px = RES * RES * 3;
  const out = new Float32Array(n * px);
  const noise = rng.normalArray(n * px);
  images.forEach((img, b) => {
    const dx = Math.floor(rng.next() * 7) - 3,
      dy = Math.floor(rng.next() * 7) - 3,
      flip = rng.next() < 0.5;
    const gain = 1 + (rng.next() - 0.5) * 0.2,
      bias = (rng.next() - 0.5) * 0.2;
    for (let y = 0; y < RES; y++) {
      for (let x = 0; x < RES; x++) {
        const sx = (flip ? RES - 1 - x : x) - dx,
          sy = y - dy;
        for (let c = 0; c < 3; c++) {
          const v = sx < 0 || sy < 0 || sx >= RES || sy >= RES ? 255 : img[(sy * RES + sx) * 3 + c];
          const o = b * px + (y * RES + x) * 3 + c;
          out[o] = (v / 127.5 - 1) * gain + bias + 0.03 * noise[o];
        }
      }
    }
  });
  return out;
}

export function topK(logits: Float32Array, classes: number, labels: number[], k: number): number {
  let hits = 0;
  labels.forEach((l, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const better = row.reduce((c, v) => c + (v > row[l] ? 1 : 0), 0);
    if (better < k) hits++;
  });
  return hits / labels.length;
}

/** Every sample's 32x32 RGB pixels (SVGs rendered, PNGs decoded as the training data is). */
export async function loadImages(samples: Sample[]): Promise<Map<Sample, Uint8Array>> {
  const images = new Map<Sample, Uint8Array>();
  for (const s of samples) images.set(s, s.file.endsWith('.svg') ? await svgToRgb(s.file) : await decodeImage(s.file, { resolution: RES, channels: 3 }));
  return images;
}

/** The four pinned packages, from --packages DIR or `npm pack` into `root`. */
export async function emojiPackages(root: string): Promise<Record<Vendor, string>> {
  return Object.fromEntries(await Promise.all(Object.entries(EMOJI_PACKAGES).map(async ([v, spec]) => [v, await packageDir(spec, root)]))) as Record<
    Vendor,
    string
  >;
}
