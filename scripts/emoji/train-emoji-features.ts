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
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { DEFAULT_EMOJI_NET, EmojiNet } from '../../src/metrics/emoji_net.js';
import { Rng } from '../../src/rng.js';
import { augment, collect, EMOJI_PACKAGES, emojiPackages, HELD_OUT, loadImages, RES, type Sample, TRAIN, topK, type Vendor } from './emoji_data.js';

async function main() {
  const out = arg('out');
  if (!out) throw new Error('--out FILE is required (e.g. pretrained/emoji-features.safetensors)');
  if (existsSync(out) && !process.argv.includes('--force')) throw new Error(`${out} exists; use --force to replace it`);
  const epochs = Number(arg('epochs', '30')),
    seed = Number(arg('seed', '0')),
    batch = 64;
  const backend = await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'auto', true);
  const root = arg('packages') ?? path.join(os.tmpdir(), 'stylegan-rlo-emoji-packages');
  const samples = await collect(await emojiPackages(root));
  const classes = [...new Set(samples.filter((s) => TRAIN.includes(s.vendor)).map((s) => s.label))].sort();
  const classIdx = new Map(classes.map((c, i) => [c, i]));
  const images = await loadImages(samples);
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
