// Trains the emoji feature network (src/metrics/emoji_net.ts) that FED/KED use, from openly
// licensed emoji in the npm registry, and evaluates it on a vendor it never saw.
//   train on: Noto (emoji-datasource-google 16.0.0; images Apache-2.0), Twemoji
//             (emoji-datasource-twitter 16.0.0; images CC-BY 4.0), Fluent (fluentui-emoji 1.3.0,
//             'flat' style; MIT)
//   held out: OpenMoji (openmoji 17.0.0; CC-BY-SA 4.0), only evaluated, so the weights are not
//             derived from its images
// Labels: the emoji's Unicode subgroup (emoji-datasource's subcategory), joined across vendors by
// codepoint; Fluent files are named by CLDR name, joined to codepoints through OpenMoji's table of
// CLDR annotations (facts from Unicode CLDR). Base emoji only (no skin-tone variants).
//   node dist/scripts/emoji/train-emoji-features.js --out pretrained/emoji-features.safetensors
//        [--epochs 30] [--packages DIR] [--seed 0] [--force]
import { arg } from '../lib/args.js';
import { execFileSync } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { decodeImage } from '../../src/data/images.js';
import { DEFAULT_EMOJI_NET, EmojiNet } from '../../src/metrics/emoji_net.js';
import { Rng } from '../../src/rng.js';

export const EMOJI_PACKAGES = {
  noto: 'emoji-datasource-google@16.0.0',
  twemoji: 'emoji-datasource-twitter@16.0.0',
  fluent: 'fluentui-emoji@1.3.0',
  openmoji: 'openmoji@17.0.0',
} as const;
type Vendor = keyof typeof EMOJI_PACKAGES;
const TRAIN: Vendor[] = ['noto', 'twemoji', 'fluent'];
const HELD_OUT: Vendor = 'openmoji';
const RES = DEFAULT_EMOJI_NET.resolution;

/** The extracted package folder for `spec`, from --packages DIR or `npm pack` (npm registry only). */
async function packageDir(spec: string, root: string): Promise<string> {
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

interface Sample {
  vendor: Vendor;
  label: string;
  file: string;
}

async function svgToRgb(file: string): Promise<Uint8Array> {
  const { data } = await sharp(file, { density: 288 })
    .resize(RES, RES, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 }, kernel: 'lanczos3' })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

async function collect(pk: Record<Vendor, string>): Promise<Sample[]> {
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
function augment(images: Uint8Array[], rng: Rng): Float32Array {
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

function topK(logits: Float32Array, classes: number, labels: number[], k: number): number {
  let hits = 0;
  labels.forEach((l, i) => {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const better = row.reduce((c, v) => c + (v > row[l] ? 1 : 0), 0);
    if (better < k) hits++;
  });
  return hits / labels.length;
}

async function main() {
  const out = arg('out');
  if (!out) throw new Error('--out FILE is required (e.g. pretrained/emoji-features.safetensors)');
  if (existsSync(out) && !process.argv.includes('--force')) throw new Error(`${out} exists; use --force to replace it`);
  const epochs = Number(arg('epochs', '30')),
    seed = Number(arg('seed', '0')),
    batch = 64;
  const backend = await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'auto', true);
  const root = arg('packages') ?? path.join(os.tmpdir(), 'stylegan-rlo-emoji-packages');
  const pk = Object.fromEntries(await Promise.all(Object.entries(EMOJI_PACKAGES).map(async ([v, spec]) => [v, await packageDir(spec, root)]))) as Record<
    Vendor,
    string
  >;
  const samples = await collect(pk);
  const classes = [...new Set(samples.filter((s) => TRAIN.includes(s.vendor)).map((s) => s.label))].sort();
  const classIdx = new Map(classes.map((c, i) => [c, i]));
  const images = new Map<Sample, Uint8Array>();
  for (const s of samples) {
    images.set(s, s.file.endsWith('.svg') ? await svgToRgb(s.file) : await decodeImage(s.file, { resolution: RES, channels: 3 }));
  }
  const train = samples.filter((s) => TRAIN.includes(s.vendor));
  const held = samples.filter((s) => s.vendor === HELD_OUT && classIdx.has(s.label));
  const counts = Object.fromEntries((Object.keys(EMOJI_PACKAGES) as Vendor[]).map((v) => [v, samples.filter((s) => s.vendor === v).length]));
  console.error(`images: ${JSON.stringify(counts)}; ${classes.length} classes; training on ${train.length}, held out ${held.length} (${HELD_OUT})`);

  const net = new EmojiNet({ ...DEFAULT_EMOJI_NET, classes }, undefined, seed);
  const opt = tf.train.adam(1e-3);
  const rng = new Rng(`emoji-features-${seed}`);
  const evaluate = (set: Sample[]) => {
    const logits = new Float32Array(set.length * classes.length);
    for (let i = 0; i < set.length; i += 256) {
      const part = set.slice(i, i + 256);
      const u8 = new Uint8Array(part.length * RES * RES * 3);
      part.forEach((s, j) => {
        u8.set(images.get(s)!, j * RES * RES * 3);
      });
      const l = tf.tidy(() => net.apply(net.input(u8, part.length)).logits);
      logits.set(l.dataSync() as Float32Array, i * classes.length);
      l.dispose();
    }
    const labels = set.map((s) => classIdx.get(s.label)!);
    return { top1: topK(logits, classes.length, labels, 1), top5: topK(logits, classes.length, labels, 5), n: set.length };
  };
  const t0 = performance.now();
  for (let epoch = 0; epoch < epochs; epoch++) {
    // Step decay: the last third of the epochs at a tenth of the rate.
    (opt as unknown as { learningRate: number }).learningRate = epoch >= Math.floor((2 * epochs) / 3) ? 1e-4 : 1e-3;
    const order = rng.permutation(train.length);
    let lossSum = 0,
      steps = 0;
    for (let i = 0; i + batch <= order.length; i += batch) {
      const idx = Array.from(order.slice(i, i + batch));
      const x = augment(
        idx.map((j) => images.get(train[j])!),
        rng,
      );
      const y = idx.map((j) => classIdx.get(train[j].label)!);
      const loss = opt.minimize(
        () =>
          tf.tidy(() => {
            const logits = net.apply(tf.tensor4d(x, [batch, RES, RES, 3])).logits;
            return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), classes.length), logits) as tf.Scalar;
          }),
        true,
        [...net.params.values()],
      );
      lossSum += loss!.dataSync()[0];
      loss!.dispose();
      steps++;
    }
    const e = epoch % 5 === 4 || epoch === epochs - 1 ? evaluate(held) : null;
    console.error(
      `epoch ${epoch + 1}/${epochs}  loss ${(lossSum / steps).toFixed(3)}${e ? `  held-out ${HELD_OUT} top-1 ${(100 * e.top1).toFixed(1)}% top-5 ${(100 * e.top5).toFixed(1)}%` : ''}  ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  }
  const result = {
    heldOut: { vendor: HELD_OUT, package: EMOJI_PACKAGES[HELD_OUT], ...evaluate(held) },
    trainAccuracy: evaluate(train),
    train: TRAIN.map((v) => EMOJI_PACKAGES[v]),
    images: counts,
    classes: classes.length,
    epochs,
    seed,
    batch,
    seconds: Math.round((performance.now() - t0) / 1000),
    backend: backend.description,
  };
  await fs.mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await net.save(out, { training: result }, process.argv.includes('--force'));
  console.log(JSON.stringify(result, null, 2));
  net.dispose();
  opt.dispose();
}

main().catch((e) => {
  console.error(`train-emoji-features: ${(e as Error).message}`);
  process.exit(1);
});
