// The classifier arm of the loss study (docs/study.md): the RLO paper's headline claim is faster
// convergence of classifiers. The emoji classifier (the architecture, data, augmentation and
// schedule of the bundled feature network, shortened to --epochs) trained with cross-entropy, the
// paper's rooted form k·p_y^(-1/k) and the authors' code's k·(1 - p_y^(1/k)) (GCE); each loss gets
// its own learning rate from the same grid, chosen on a validation split with a selection seed,
// then --seeds fresh seeds report test accuracy after every epoch. The training vendors' images
// are split by file into train 70% / validation 15% / test 15% (fixed, by a hash of the file name).
// Every run is kept in OUT/runs/<id>.json as it finishes: running again skips finished runs.
// --dataset fashion-mnist repeats the arm on a standard dataset (fashion_mnist.ts).
//   npm run classifier-arm -- [--dataset emoji|fashion-mnist] [--out runs/classifier-arm]
//        [--epochs 10] [--seeds 5] [--k 2] [--lrs 0.0003,0.001,0.003,0.01] [--target 0.3|0.8] [--packages DIR]
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { writeFileAtomic } from '../../src/files/atomic.js';
import { type ClassificationLoss, classificationLoss, classificationLossName, classifierLoss } from '../../src/losses/classification.js';
import { DEFAULT_EMOJI_NET, EmojiNet } from '../../src/metrics/emoji_net.js';
import { aggregate, bootstrapDiffCI, median, welch } from '../../src/metrics/study.js';
import { stripPlotSvg, studyPlotSvg } from '../../src/report/plots.js';
import { Rng } from '../../src/rng.js';
import { arg } from '../lib/args.js';
import { augment, collect, emojiPackages, loadImages, packageDir, RES, TRAIN, topK } from '../emoji/emoji_data.js';
import { FASHION_MNIST_PACKAGE, loadFashionMnist, type SplitImages } from './fashion_mnist.js';

/** Labelled 32x32 RGB images, split three ways. */
export type ArmData = SplitImages;

export interface ArmOptions {
  out: string;
  epochs: number;
  seeds: number[]; // confirmation seeds
  selectSeed: number;
  lrs: number[]; // the learning-rate grid, the same for every loss
  losses: ClassificationLoss[];
  target: number; // the test accuracy whose epoch is reported
  batch?: number; // 64, as the feature network
}

export interface ArmRun {
  id: string;
  loss: string; // classificationLossName
  lr: number;
  seed: number;
  role: 'select' | 'confirm';
  accuracy: number[]; // top-1 after each epoch: validation (select) or test (confirm)
  trainLoss: number[];
  seconds: number;
}

const lrText = (lr: number) => String(lr).replace('.', 'p');

/** One training run: the feature network's recipe (Adam, the last third of the epochs at a tenth of lr). */
export async function trainClassifier(
  data: ArmData,
  loss: ClassificationLoss,
  lr: number,
  seed: number,
  epochs: number,
  evalOn: 'val' | 'test',
  batch = 64,
  progress?: (line: string) => void,
): Promise<Omit<ArmRun, 'id' | 'role'>> {
  const net = new EmojiNet({ ...DEFAULT_EMOJI_NET, classes: Array.from({ length: data.classes }, (_, i) => `c${i}`) }, undefined, seed);
  const opt = tf.train.adam(lr);
  const rng = new Rng(`classifier-arm-${seed}`);
  const t0 = performance.now();
  const accuracy: number[] = [],
    trainLoss: number[] = [];
  const evaluate = async (set: ArmData['test']) => {
    const logits = new Float32Array(set.images.length * data.classes);
    for (let i = 0; i < set.images.length; i += 256) {
      const part = set.images.slice(i, i + 256);
      const u8 = new Uint8Array(part.length * RES * RES * 3);
      part.forEach((im, j) => {
        u8.set(im, j * RES * RES * 3);
      });
      const l = tf.tidy(() => net.apply(net.input(u8, part.length)).logits);
      logits.set((await l.data()) as Float32Array, i * data.classes);
      l.dispose();
    }
    return topK(logits, data.classes, set.labels, 1);
  };
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      (opt as unknown as { learningRate: number }).learningRate = epoch >= Math.floor((2 * epochs) / 3) ? lr / 10 : lr;
      const order = rng.permutation(data.train.images.length);
      let sum = 0,
        steps = 0;
      for (let i = 0; i + batch <= order.length; i += batch) {
        const idx = Array.from(order.slice(i, i + batch));
        const x = augment(
          idx.map((j) => data.train.images[j]),
          rng,
        );
        const y = idx.map((j) => data.train.labels[j]);
        const value = opt.minimize(
          () =>
            tf.tidy(() => {
              const logits = net.apply(tf.tensor4d(x, [idx.length, RES, RES, 3])).logits as tf.Tensor2D;
              return classifierLoss(loss, logits, tf.tensor1d(y, 'int32')).mean() as tf.Scalar;
            }),
          true,
          [...net.params.values()],
        )!;
        sum += (await value.data())[0];
        value.dispose();
        steps++;
      }
      trainLoss.push(sum / Math.max(1, steps));
      accuracy.push(await evaluate(data[evalOn]));
      progress?.(
        `epoch ${epoch + 1}/${epochs}: train loss ${trainLoss.at(-1)!.toFixed(4)}, ${evalOn} top-1 ${accuracy.at(-1)!.toFixed(3)} (${Math.round((performance.now() - t0) / 1000)} s)`,
      );
    }
  } finally {
    net.dispose();
    opt.dispose();
  }
  return { loss: classificationLossName(loss), lr, seed, accuracy, trainLoss, seconds: Math.round((performance.now() - t0) / 1000) };
}

async function readRun(file: string): Promise<ArmRun | null> {
  return JSON.parse(await fs.readFile(file, 'utf8').catch(() => 'null')) as ArmRun | null;
}

/** Runs (or reuses) the selection grid, then each loss's confirmation at its chosen rate; returns every run. */
export async function classifierArm(data: ArmData, o: ArmOptions, log: (l: string) => void): Promise<ArmRun[]> {
  await fs.mkdir(path.join(o.out, 'runs'), { recursive: true });
  const runs: ArmRun[] = [];
  const run = async (loss: ClassificationLoss, lr: number, seed: number, role: ArmRun['role']) => {
    const name = classificationLossName(loss);
    const id = `${role}-${name.replace(/[ =]/g, '')}-lr${lrText(lr)}-s${seed}`;
    const file = path.join(o.out, 'runs', `${id}.json`);
    const kept = await readRun(file);
    if (kept && kept.accuracy.length === o.epochs) {
      runs.push(kept);
      return kept;
    }
    log(`classifier arm: ${id}`);
    const r: ArmRun = {
      id,
      role,
      ...(await trainClassifier(data, loss, lr, seed, o.epochs, role === 'select' ? 'val' : 'test', o.batch, (l) => log(`classifier arm: ${id}: ${l}`))),
    };
    await writeFileAtomic(file, `${JSON.stringify(r)}\n`, { overwrite: true });
    log(`classifier arm: ${id}: accuracy ${r.accuracy.map((a) => a.toFixed(3)).join(' ')} (${r.seconds} s)`);
    runs.push(r);
    return r;
  };
  for (const loss of o.losses) {
    // Selection: the best final validation accuracy on the selection seed (ties: the lower rate).
    let best: ArmRun | null = null;
    for (const lr of o.lrs) {
      const r = await run(loss, lr, o.selectSeed, 'select');
      if (!best || r.accuracy.at(-1)! > best.accuracy.at(-1)!) best = r;
    }
    for (const seed of o.seeds) await run(loss, best!.lr, seed, 'confirm');
  }
  return runs;
}

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');

/**
 * The arm's report: table.md, results.json, accuracy.svg|png (test accuracy by epoch), strip.svg|png.
 * `data` says what the data is (the plots' subtitle); `machine`, what it ran on (table and results).
 */
export async function writeArmReport(runs: ArmRun[], o: ArmOptions, data: string, machine = ''): Promise<string> {
  const about = machine ? `${data}, ${machine}` : data;
  const confirm = runs.filter((r) => r.role === 'confirm');
  const losses = o.losses.map(classificationLossName);
  const epochsTo = (r: ArmRun) => {
    const i = r.accuracy.findIndex((a) => a >= o.target);
    return i < 0 ? Number.POSITIVE_INFINITY : i + 1;
  };
  const finals = (loss: string) => confirm.filter((r) => r.loss === loss).map((r) => r.accuracy.at(-1)!);
  // Convergence speed without a threshold: the mean test accuracy over the epochs (the area under
  // the accuracy curve, per epoch), which is higher for a loss that gets there sooner.
  const areas = (loss: string) => confirm.filter((r) => r.loss === loss).map((r) => r.accuracy.reduce((a, b) => a + b, 0) / r.accuracy.length);
  const meanSd = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = v.length > 1 ? Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1)) : 0;
    return `${fmt(m)} ± ${fmt(sd)}`;
  };
  const lines = [
    `Classifier arm (${about}): ${o.epochs} epochs, learning rate chosen per loss from ${o.lrs.join(', ')} on the validation split (seed ${o.selectSeed}), then ${o.seeds.length} fresh seeds; top-1 accuracy on the test split.`,
    '',
    `| loss | lr | final accuracy mean ± sd | median | mean accuracy over the epochs | epochs to reach ${o.target} (per seed) |`,
    '|---|---:|---:|---:|---:|---|',
  ];
  for (const loss of losses) {
    const rs = confirm.filter((r) => r.loss === loss);
    if (!rs.length) continue;
    const f = finals(loss);
    lines.push(
      `| ${loss} | ${rs[0].lr} | ${meanSd(f)} | ${fmt(median(f))} | ${meanSd(areas(loss))} | ${rs.map((r) => (Number.isFinite(epochsTo(r)) ? epochsTo(r) : 'never')).join(', ')} |`,
    );
  }
  for (const [what, of] of [
    ['Final test accuracy', finals],
    ['Mean test accuracy over the epochs', areas],
  ] as const) {
    const base = of(losses[0]);
    const tests = losses.slice(1).flatMap((loss) => {
      const f = of(loss);
      if (f.length < 2 || base.length < 2) return [];
      const w = welch(f, base),
        ci = bootstrapDiffCI(f, base);
      return [`| ${loss} | ${fmt(w.diff)} | ${fmt(w.t, 2)} (${fmt(w.df, 1)}) | ${fmt(w.p)} | [${fmt(ci[0])}, ${fmt(ci[1])}] |`];
    });
    if (tests.length)
      lines.push(
        '',
        `${what} minus ${losses[0]}'s (Welch's t, bootstrap 95% CI):`,
        '',
        '| loss | diff | t (df) | p | 95% CI |',
        '|---|---:|---:|---:|---:|',
        ...tests,
      );
  }
  lines.push(
    '',
    'Selection (final validation accuracy per learning rate):',
    '',
    `| loss | ${o.lrs.join(' | ')} |`,
    `|---|${o.lrs.map(() => '---:').join('|')}|`,
  );
  for (const loss of losses)
    lines.push(
      `| ${loss} | ${o.lrs.map((lr) => fmt(runs.find((r) => r.role === 'select' && r.loss === loss && r.lr === lr)?.accuracy.at(-1) ?? Number.NaN)).join(' | ')} |`,
    );
  const table = lines.join('\n');
  const write = (name: string, text: string | Buffer) => writeFileAtomic(path.join(o.out, name), text, { overwrite: true });
  await write('table.md', `${table}\n`);
  // The output folder as given from where the arm ran (no machine's absolute path in a committed file).
  await write('results.json', `${JSON.stringify({ options: { ...o, out: path.relative(process.cwd(), o.out) || '.' }, about, runs }, null, 2)}\n`);
  const cells = aggregate(confirm.flatMap((r) => r.accuracy.map((a, e) => ({ variant: r.loss, seed: r.seed, kimg: e + 1, value: a, kernel: null }))));
  if (cells.length) {
    const svg = studyPlotSvg(cells, 'test top-1 accuracy', data, { xLabel: 'epoch', order: losses }); // the strip plot's order and colours
    await write('accuracy.svg', svg);
    await write('accuracy.png', await sharp(Buffer.from(svg)).png().toBuffer());
    const strip = stripPlotSvg(
      losses.map((l) => ({ variant: l, values: finals(l) })),
      'final test accuracy',
      `after ${o.epochs} epochs, one dot per seed; bar: mean`,
    );
    await write('strip.svg', strip);
    await write('strip.png', await sharp(Buffer.from(strip)).png().toBuffer());
  }
  return table;
}

/** A fixed split by file name: 70% train, 15% validation, 15% test. */
function splitOf(file: string): 'train' | 'val' | 'test' {
  const h = createHash('sha256').update(path.basename(file)).digest()[0] / 256;
  return h < 0.7 ? 'train' : h < 0.85 ? 'val' : 'test';
}

/** The emoji classifier's data: the three training vendors, split by file name. */
async function emojiArmData(packages: string): Promise<{ data: ArmData; about: string }> {
  const samples = (await collect(await emojiPackages(packages))).filter((s) => TRAIN.includes(s.vendor));
  const classes = [...new Set(samples.map((s) => s.label))].sort();
  const idx = new Map(classes.map((c, i) => [c, i]));
  const images = await loadImages(samples);
  const data: ArmData = { classes: classes.length, train: { images: [], labels: [] }, val: { images: [], labels: [] }, test: { images: [], labels: [] } };
  for (const s of samples) {
    const part = data[splitOf(s.file)];
    part.images.push(images.get(s)!);
    part.labels.push(idx.get(s.label)!);
  }
  return { data, about: `emoji classifier, ${classes.length} classes` };
}

const DATASETS = {
  emoji: { out: 'classifier-arm', target: 0.3, load: emojiArmData },
  'fashion-mnist': {
    out: 'classifier-arm-fashion-mnist',
    target: 0.8,
    load: async (packages: string) => ({
      data: await loadFashionMnist(await packageDir(FASHION_MNIST_PACKAGE, packages), { train: 600, val: 150, test: 400 }),
      about: 'Fashion-MNIST (fixed subset: 600/150/400 of each class), 10 classes',
    }),
  },
} as const;

async function main() {
  const dataset = arg('dataset', 'emoji') as keyof typeof DATASETS;
  if (!Object.hasOwn(DATASETS, dataset)) throw new Error(`--dataset ${dataset}: give one of ${Object.keys(DATASETS).join(', ')}`);
  const d = DATASETS[dataset];
  const out = path.resolve(arg('out', path.join('runs', d.out)));
  const epochs = Number(arg('epochs', '10')),
    nSeeds = Number(arg('seeds', '5')),
    k = Number(arg('k', '2')),
    target = Number(arg('target', String(d.target)));
  const lrs = arg('lrs', '0.0003,0.001,0.003,0.01').split(',').map(Number);
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`--epochs ${arg('epochs', '')}: give a whole number of epochs, 1 or more`);
  if (!(Number.isInteger(nSeeds) && nSeeds >= 2)) throw new Error(`--seeds ${arg('seeds', '')}: give at least 2 confirmation seeds`);
  if (!lrs.length || !lrs.every((v) => v > 0)) throw new Error(`--lrs ${arg('lrs', '')}: give learning rates > 0, e.g. 0.0003,0.001,0.003`);
  const backend = await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'auto', true);
  const { data, about: what } = await d.load(arg('packages') ?? path.join(os.tmpdir(), 'stylegan-rlo-emoji-packages'));
  const about = `${what}, ${data.train.images.length}/${data.val.images.length}/${data.test.images.length} train/val/test images`;
  const o: ArmOptions = {
    out,
    epochs,
    seeds: Array.from({ length: nSeeds }, (_, i) => i),
    selectSeed: 1000,
    lrs,
    losses: [classificationLoss('ce'), classificationLoss('rooted', k), classificationLoss('gce', k)],
    target,
  };
  const runs = await classifierArm(data, o, (l) => process.stderr.write(`${l}\n`));
  process.stdout.write(`${await writeArmReport(runs, o, about, backend.description)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href)
  main().catch((e) => {
    process.stderr.write(`classifier-arm: ${(e as Error).message}\n`);
    process.exit(1);
  });
