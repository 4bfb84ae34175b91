// The loss study, one command: fine-tunes the bundled network on samples/ with the logistic loss and
// the rooted loss at several k, several training seeds each, identical options and kimg; evaluates
// every snapshot (and the start) with FED and KED on the bundled emoji network; writes a table of
// mean ± sd per loss and kimg, a plot with ±1 sd bands (PNG + SVG) and, for the final kimg,
// Welch's t-test and a bootstrap 95% CI of each rooted variant against logistic. It resumes where it
// stopped: finished runs are kept, unfinished ones continue from their last snapshot.
//   npm run compare-losses -- [--out study] [--kimg 2] [--seeds 3] [--ks 2,4] [--num 2000]
//                             [--snap-kimg 0.5] [--network pretrained/emoji32.safetensors] [--data samples]
import { arg } from './lib/args.js';
import { promises as fs, existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { initBackend } from '../src/backend.js';
import { finetune } from '../src/train/run.js';
import { buildGenerator, loadNetwork } from '../src/io/network.js';
import { distances, folderFeatures, generatorFeatures } from '../src/metrics/evaluate.js';
import { loadFeatureNetwork } from '../src/metrics/features.js';
import { metricFile } from '../src/metrics/compare.js';
import { aggregate, bootstrapDiffCI, type StudyPoint, welch } from '../src/metrics/study.js';
import { studyPlotSvg } from '../src/report/plots.js';
import { writeFileAtomic } from '../src/files/atomic.js';
import { cacheDir } from '../src/files/cache_dir.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function num(name: string, def: string, check: (v: number) => boolean, want: string): number {
  const v = Number(arg(name, def));
  if (!check(v)) throw new Error(`--${name} ${arg(name, def)}: ${want}`);
  return v;
}

async function main() {
  const out = path.resolve(arg('out', path.join('runs', 'loss-study'))); // never a tracked folder: results are committed by hand
  const kimg = num('kimg', '2', (v) => v > 0, 'give the kimg of fine-tuning per run (> 0)');
  const seeds = num('seeds', '3', (v) => Number.isInteger(v) && v >= 2, 'give at least 2 training seeds per loss');
  const ks = arg('ks', '2,4').split(',').map(Number);
  if (!ks.length || ks.some((k) => !(k > 0))) throw new Error(`--ks ${arg('ks', '')}: give the rooted k values, e.g. 2,4`);
  const metricsNum = num('num', '2000', (v) => Number.isInteger(v) && v >= 2, 'give a whole number of generated images per evaluation');
  const snapKimg = num('snap-kimg', '0.5', (v) => v > 0, 'give the kimg between evaluated snapshots');
  const network = path.resolve(arg('network', path.join(root, 'pretrained', 'emoji32.safetensors')));
  const data = path.resolve(arg('data', path.join(root, 'samples')));
  const backend = await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'auto', true);
  const variants = [{ name: 'logistic', loss: 'logistic' as const, k: 2 }, ...ks.map((k) => ({ name: `rooted k=${k}`, loss: 'rooted' as const, k }))];
  await fs.mkdir(path.join(out, 'runs'), { recursive: true });
  const t0 = performance.now();

  // Identical options for every run but the loss, k and seed.
  const common = {
    network,
    data,
    batch: 16,
    kimg,
    tick: snapKimg,
    snap: 1,
    aug: 'ada' as const,
    mirror: true,
    grid: [8, 4] as [number, number],
    metrics: ['fed'],
    metricsNum,
    backend: backend.name,
  };
  for (const v of variants) {
    for (let seed = 0; seed < seeds; seed++) {
      const runDir = path.join(out, 'runs', `${v.loss}${v.loss === 'rooted' ? `-k${v.k}` : ''}-seed${seed}`);
      const done = existsSync(path.join(runDir, 'log.txt')) && /^done: /m.test(await fs.readFile(path.join(runDir, 'log.txt'), 'utf8'));
      if (done) continue;
      const hasSnap = existsSync(runDir) && (await fs.readdir(runDir)).some((f) => f.startsWith('network-snapshot-'));
      process.stderr.write(`study: ${hasSnap ? 'continuing' : 'starting'} ${path.basename(runDir)}\n`);
      if (hasSnap) await finetune({ data, resume: runDir, kimg, backend: backend.name });
      else {
        if (existsSync(runDir)) await fs.rm(runDir, { recursive: true }); // a run stopped before its first snapshot
        await finetune({ ...common, runDir, loss: v.loss, k: v.k, seed });
      }
    }
  }

  // kimg 0: the starting network, evaluated once with the same protocol.
  const net = await loadFeatureNetwork({ kind: 'emoji' });
  const startFile = path.join(out, 'start.json');
  let start: { value: number; kernel: number | null; features: string } | null = existsSync(startFile)
    ? JSON.parse(await fs.readFile(startFile, 'utf8'))
    : null;
  if (!start || start.features !== net.id) {
    const G = buildGenerator(await loadNetwork(network));
    const ex = { batch: 16, cacheDir: cacheDir() };
    const d = distances(await folderFeatures(net, data, ex), await generatorFeatures(net, G, { num: metricsNum, seed: 0 }, ex), net, true, 0);
    G.dispose();
    start = { value: d.distance, kernel: d.kernel, features: net.id };
    await writeFileAtomic(startFile, `${JSON.stringify(start)}\n`, { overwrite: true });
  }
  const points: StudyPoint[] = [];
  for (const v of variants) {
    for (let seed = 0; seed < seeds; seed++) {
      points.push({ variant: v.name, seed, kimg: 0, value: start.value, kernel: start.kernel });
      const runDir = path.join(out, 'runs', `${v.loss}${v.loss === 'rooted' ? `-k${v.k}` : ''}-seed${seed}`);
      const recs = (await fs.readFile(path.join(runDir, metricFile(net)), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      for (const r of recs.filter((x) => x.features === net.id && x.num === metricsNum))
        points.push({ variant: v.name, seed, kimg: r.kimg, value: r.value, kernel: r.kernel });
    }
  }
  net.dispose();
  const cells = aggregate(points);
  const finalKimg = Math.max(...cells.map((c) => c.kimg));
  const finalOf = (name: string, key: 'value' | 'kernel') =>
    points.filter((p) => p.variant === name && Math.abs(p.kimg - finalKimg) < 1e-6).map((p) => p[key] as number);
  const tests = variants.slice(1).map((v) => ({
    variant: v.name,
    fed: { ...welch(finalOf(v.name, 'value'), finalOf('logistic', 'value')), ci95: bootstrapDiffCI(finalOf(v.name, 'value'), finalOf('logistic', 'value')) },
    ked: {
      ...welch(finalOf(v.name, 'kernel'), finalOf('logistic', 'kernel')),
      ci95: bootstrapDiffCI(finalOf(v.name, 'kernel'), finalOf('logistic', 'kernel')),
    },
  }));
  const minutes = (performance.now() - t0) / 60000;
  const subtitle = `fine-tuning ${path.basename(network)} on ${path.basename(data)}/, ${seeds} seeds, ${metricsNum} generated images per point`;
  const result = {
    network,
    data,
    kimg,
    seeds,
    ks,
    metricsNum,
    snapKimg,
    backend: backend.description,
    minutesThisInvocation: Math.round(minutes),
    cells,
    finalKimg,
    tests,
    points,
  };
  await writeFileAtomic(path.join(out, 'results.json'), `${JSON.stringify(result, null, 2)}\n`, { overwrite: true });
  for (const [metric, key] of [
    ['FED', 'mean'],
    ['KED', 'kernelMean'],
  ] as const) {
    const c = key === 'mean' ? cells : cells.map((x) => ({ ...x, mean: x.kernelMean ?? NaN, sd: x.kernelSd ?? NaN }));
    const svg = studyPlotSvg(c, metric, subtitle);
    await writeFileAtomic(path.join(out, `${metric.toLowerCase()}.svg`), svg, { overwrite: true });
    await writeFileAtomic(path.join(out, `${metric.toLowerCase()}.png`), await sharp(Buffer.from(svg)).png().toBuffer(), { overwrite: true });
  }
  const f = (x: number, d = 2) => x.toFixed(d);
  const kimgs = [...new Set(cells.map((c) => c.kimg))].sort((a, b) => a - b);
  const lines = [
    `FED (mean ± sd over ${seeds} seeds; lower is better) by kimg of fine-tuning:`,
    '',
    `| loss | ${kimgs.map((k) => `${k} kimg`).join(' | ')} |`,
    `|---|${kimgs.map(() => '---:').join('|')}|`,
    ...variants.map(
      (v) =>
        `| ${v.name} | ${kimgs
          .map((k) => {
            const c = cells.find((x) => x.variant === v.name && x.kimg === k);
            return c ? `${f(c.mean)} ± ${f(c.sd)}` : '-';
          })
          .join(' | ')} |`,
    ),
    '',
    `KED at ${finalKimg} kimg (mean ± sd): ${variants
      .map((v) => {
        const c = cells.find((x) => x.variant === v.name && x.kimg === finalKimg)!;
        return `${v.name} ${f(c.kernelMean!)} ± ${f(c.kernelSd!)}`;
      })
      .join('; ')}`,
    '',
    `Rooted minus logistic at ${finalKimg} kimg (negative = rooted better):`,
    '',
    '| variant | FED diff | Welch t (df) | p | bootstrap 95% CI | KED diff | p | bootstrap 95% CI |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...tests.map(
      (t) =>
        `| ${t.variant} | ${f(t.fed.diff)} | ${f(t.fed.t)} (${f(t.fed.df, 1)}) | ${f(t.fed.p, 3)} | [${f(t.fed.ci95[0])}, ${f(t.fed.ci95[1])}] | ${f(t.ked.diff)} | ${f(t.ked.p, 3)} | [${f(t.ked.ci95[0])}, ${f(t.ked.ci95[1])}] |`,
    ),
  ];
  await writeFileAtomic(path.join(out, 'table.md'), `${lines.join('\n')}\n`, { overwrite: true });
  process.stdout.write(`${lines.join('\n')}\n\nwrote ${path.relative(process.cwd(), out)}/{results.json,table.md,fed.png,fed.svg,ked.png,ked.svg}\n`);
}

main().catch((e) => {
  process.stderr.write(`compare-losses: ${(e as Error).message}\n`);
  process.exit(1);
});
