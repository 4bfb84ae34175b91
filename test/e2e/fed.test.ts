// Sanity of FED (Fréchet distance in the bundled emoji network's feature space) on real emoji
// (test/fixtures/noto-emoji-512.png: 512 Noto emoji, two halves of 256): two disjoint halves of one
// set are close; degrading one half (blur, noise, colour shift) moves it away, monotonically in the
// strength of the degradation. (With samples/' 66 images the split-half distance is dominated by
// the covariance estimates of 33 samples in 128 dimensions.) Also: the network's
// shapes and metadata, the feature pipeline's leaks, and the FED/KED labels of the CLI.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { listImages } from '../../src/data/dataset.js';
import { distances, type Features } from '../../src/metrics/evaluate.js';
import { defaultEmojiFeaturesPath, type FeatureNetwork, loadFeatureNetwork } from '../../src/metrics/features.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import { Rng } from '../../src/rng.js';
import { testBackend } from '../helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const R = 32;
let net: FeatureNetwork;
let halfA: Uint8Array[];
let halfB: Uint8Array[];

async function features(images: Uint8Array[]): Promise<Features> {
  const u8 = new Uint8Array(images.length * R * R * 3);
  images.forEach((im, i) => {
    u8.set(im, i * R * R * 3);
  });
  return { data: await net.features(u8, images.length, R, R, 3), n: images.length, dim: net.dim };
}

/** FED, FED extrapolated to infinitely many images (Chong & Forsyth), and KED. */
const metrics = async (a: Uint8Array[], b: Uint8Array[]) => {
  const d = await distances(await features(a), await features(b), net, true, 0, true);
  return { FED: d.distance, 'FED∞': d.distanceInf!, KED: d.kernel! };
};

type Degrade = (img: Uint8Array, level: number, rng: Rng) => Promise<Uint8Array>;
const raw = (img: Uint8Array) => sharp(Buffer.from(img), { raw: { width: R, height: R, channels: 3 } });
const out = async (s: sharp.Sharp) => new Uint8Array(await s.raw().toBuffer());
const DEGRADATIONS: [string, number[], Degrade][] = [
  ['blur (gaussian sigma)', [0.6, 1.2, 2.4], (img, s) => out(raw(img).blur(s))],
  [
    'noise (gaussian sigma, 8-bit levels)',
    [8, 24, 64],
    async (img, s, rng) => {
      const n = rng.normalArray(img.length);
      return Uint8Array.from(img, (v, i) => Math.max(0, Math.min(255, Math.round(v + s * n[i]))));
    },
  ],
  ['colour shift (hue rotation, degrees)', [30, 90, 180], (img, deg) => out(raw(img).modulate({ hue: deg }))],
];

const skip = existsSync(defaultEmojiFeaturesPath()) ? false : 'pretrained/emoji-features.safetensors not built (scripts/emoji/train-emoji-features.ts)';

describe('FED with the bundled emoji network', { skip }, () => {
  before(async () => {
    await testBackend();
    net = await loadFeatureNetwork({ kind: 'emoji' });
    const { data, info } = await sharp(path.join(ROOT, 'test', 'fixtures', 'noto-emoji-512.png'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const cols = info.width / R;
    const imgs = Array.from({ length: cols * (info.height / R) }, (_, k) => {
      const im = new Uint8Array(R * R * 3);
      const cx = (k % cols) * R,
        cy = Math.floor(k / cols) * R;
      for (let y = 0; y < R; y++) im.set(data.subarray(((cy + y) * info.width + cx) * 3, ((cy + y) * info.width + cx + R) * 3), y * R * 3);
      return im;
    });
    assert.equal(imgs.length, 512);
    halfA = imgs.filter((_, i) => i % 2 === 0);
    halfB = imgs.filter((_, i) => i % 2 === 1);
  });

  test('the network file: 32x32 input, 128 features, its training record with the held-out vendor', async () => {
    const st = await readSafetensors(defaultEmojiFeaturesPath());
    const cfg = JSON.parse(st.metadata.config);
    assert.equal(cfg.resolution, 32);
    assert.equal(net.dim, 128);
    const tr = JSON.parse(st.metadata.training);
    assert.equal(tr.heldOut.vendor, 'openmoji');
    assert.ok(tr.heldOut.top1 > 0.2, `held-out top-1 ${tr.heldOut.top1} (chance: 1 in ${cfg.classes.length})`);
    assert.ok(!tr.train.some((p: string) => p.startsWith('openmoji')), 'trained without the held-out vendor');
  });

  for (const [name, levels, degrade] of DEGRADATIONS) {
    test(`FED, FED∞ and KED grow monotonically with ${name}, from the halves' own distance`, async (t) => {
      const values = [await metrics(halfA, halfB)];
      for (const level of levels) {
        const rng = new Rng(`degrade-${name}-${level}`);
        const d: Uint8Array[] = [];
        for (const im of halfB) d.push(await degrade(im, level, rng));
        values.push(await metrics(halfA, d));
      }
      for (const m of ['FED', 'FED∞', 'KED'] as const) {
        const v = values.map((x) => x[m]);
        t.diagnostic(`${name}: ${m} ${v.map((x) => x.toFixed(2)).join(' -> ')} at levels 0, ${levels.join(', ')}`);
        for (let i = 1; i < v.length; i++)
          assert.ok(v[i] > v[i - 1], `${name}: ${m} ${v.map((x) => x.toFixed(2)).join(' -> ')} is not increasing at level ${levels[i - 1]}`);
        // The strongest degradation is far beyond the split-half distance.
        assert.ok(v[v.length - 1] > 2 * Math.abs(v[0]), `${name}: ${m} strongest ${v[v.length - 1].toFixed(2)} vs halves ${v[0].toFixed(2)}`);
      }
    });
  }

  test('at the size of samples/ (two halves of 33), KED still ranks sharp above blurred; FED and FED∞ do not', async (t) => {
    // The images are blurred at their own resolution (64 px, gaussian sigma 2), then read as the
    // training data is. With 33 images in 128 dimensions the Fréchet distance is dominated by the
    // covariance estimates; the kernel distance is unbiased. This is why a study's primary metric is KED.
    const files = (await listImages(path.join(ROOT, 'samples'))).sort();
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'rlo-blur-'));
    const sharpOnes: Uint8Array[] = [],
      blurred: Uint8Array[] = [];
    for (const [i, f] of files.entries()) {
      sharpOnes.push((await net.readImage(f)).px);
      const out = path.join(tmp, `${i}.png`);
      await sharp(f).blur(2).png().toFile(out);
      blurred.push((await net.readImage(out)).px);
    }
    const even = <T>(x: T[]) => x.filter((_, i) => i % 2 === 0),
      odd = <T>(x: T[]) => x.filter((_, i) => i % 2 === 1);
    assert.equal(even(sharpOnes).length, 33);
    const same = await metrics(even(sharpOnes), odd(sharpOnes));
    const blur = await metrics(even(sharpOnes), odd(blurred));
    const both = await metrics(even(blurred), odd(blurred));
    for (const m of ['FED', 'FED∞', 'KED'] as const)
      t.diagnostic(`${m}: half A vs half B ${same[m].toFixed(2)}; vs half B blurred ${blur[m].toFixed(2)}; blurred vs blurred ${both[m].toFixed(2)}`);
    assert.ok(blur.KED > 3 * same.KED, `KED: ${blur.KED} (blurred) vs ${same.KED} (sharp)`);
    assert.ok(Math.abs(both.KED) < same.KED, `KED of two blurred halves ${both.KED} is near 0`);
    await fs.rm(tmp, { recursive: true });
  });

  test('features leave no tensors behind', async () => {
    const before = tf.memory().numTensors;
    await features(halfA.slice(0, 4));
    assert.equal(tf.memory().numTensors, before);
  });

  test('CLI: fid --features emoji reports FED/KED, never FID', () => {
    const r = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'dist', 'src', 'cli', 'main.js'),
        'fid',
        '--network',
        path.join(ROOT, 'pretrained', 'emoji32.safetensors'),
        '--data',
        path.join(ROOT, 'samples'),
        '--features',
        'emoji',
        '--num',
        '64',
        '--kid',
        '--no-cache',
        '--backend',
        'cpu',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^FED \d+\.\d+ {2}KED -?\d+\.\d+ {2}\(emoji feature network, 66 real vs 64 generated\)/);
    assert.doesNotMatch(r.stdout, /FID|KID/);
    const j = spawnSync(
      process.execPath,
      [
        path.join(ROOT, 'dist', 'src', 'cli', 'main.js'),
        'fid',
        path.join(ROOT, 'samples'),
        path.join(ROOT, 'samples'),
        '--features',
        'emoji',
        '--json',
        '--no-cache',
        '--backend',
        'cpu',
      ],
      { encoding: 'utf8' },
    );
    const d = JSON.parse(j.stdout);
    assert.equal(d.metric, 'FED');
    assert.equal(d.features, 'emoji');
    assert.ok(!('fid' in d), 'no fid field for emoji features');
    assert.ok(Math.abs(d.distance) < 1e-3, `FED of a folder with itself is ${d.distance}`);
  });
});
