// A study's report, from what its runs recorded (metric-*.jsonl at every snapshot) and the base
// network evaluated once with the same protocol (kimg 0): mean ± sd per variant and kimg, Welch's
// t-test and a bootstrap 95% CI of each variant against the logistic loss at the last kimg, every
// point, the curves with ±1 sd bands, the per-seed distribution at the end (a strip plot) and a page.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../files/atomic.js';
import { cacheDir } from '../files/cache_dir.js';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { distances, folderFeatures, generatorFeatures } from '../metrics/evaluate.js';
import { loadFeatureNetwork } from '../metrics/features.js';
import { aggregate, bootstrapDiffCI, sd as sdOf, type StudyCell, type StudyPoint, welch } from '../metrics/study.js';
import { escapeHtml } from '../report/html.js';
import { stripPlotSvg, studyPlotSvg } from '../report/plots.js';
import { readMetricRecords, runState } from './runs.js';
import { type SettingScore, scoreSettings } from './selection.js';
import type { StudyRun, StudySpec } from './spec.js';

export interface StudyResult {
  cells: StudyCell[];
  finalKimg: number;
  // Each variant against logistic at the last kimg: the kernel distance (primary), the Fréchet distance, and it extrapolated.
  tests: { variant: string; against: string; kernel: Welch95 | null; distance: Welch95 | null; inf: Welch95 | null }[];
  points: StudyPoint[];
  missing: string[]; // runs without any record yet
  failed: { id: string; variant: string; message: string }[]; // runs that failed (diverged, or an error)
  selection: SettingScore[] | null; // a selection study's settings, scored, each loss's choice marked
  spread: MetricSpread; // the metrics' own sd: the starting network over generation seeds
  files: string[];
}
export interface MetricSpread {
  kernel: number;
  inf: number;
  value: number;
  seeds: number;
}
type Welch95 = ReturnType<typeof welch> & { ci95: [number, number] };

/** The logistic variant a variant is compared with: the one with the same multipliers, else the first. */
function reference(v: StudyRun, runs: StudyRun[]): string | null {
  const logistic = runs.filter((r) => r.loss === 'logistic');
  return (logistic.find((r) => r.lrMult === v.lrMult && r.gammaMult === v.gammaMult) ?? logistic[0])?.variant ?? null;
}

/** Generation seeds the starting network is evaluated with, for the metric's own spread. */
const SPREAD_SEEDS = 5;

interface StartRecord {
  value: number;
  inf: number | null;
  kernel: number | null;
  bySeed: { value: number; inf: number | null; kernel: number | null }[];
  features: string;
  num: number;
}

export async function writeStudyReport(spec: StudySpec, runs: StudyRun[], log: (l: string) => void): Promise<StudyResult> {
  const net = await loadFeatureNetwork(
    spec.metrics.features === 'emoji' ? { kind: 'emoji' } : { kind: 'inception', protocol: 'nvidia', inception: spec.metrics.inception ?? null },
  );
  try {
    // kimg 0: the starting network, evaluated once with the same protocol (generation seed 0), and
    // with other generation seeds: the metric's own spread, what a difference must exceed.
    const startFile = path.join(spec.out, 'start.json');
    let start = JSON.parse(await fs.readFile(startFile, 'utf8').catch(() => 'null')) as StartRecord | null;
    if (!start || start.features !== net.id || start.num !== spec.metrics.num || start.bySeed?.length !== SPREAD_SEEDS) {
      log(`study: ${net.distanceName} of the starting network ${path.basename(spec.network)}, ${SPREAD_SEEDS} generation seeds`);
      const G = buildGenerator(await loadNetwork(spec.network));
      try {
        const ex = { batch: 16, cacheDir: cacheDir() };
        const real = await folderFeatures(net, spec.data, ex);
        const bySeed: StartRecord['bySeed'] = [];
        for (let seed = 0; seed < SPREAD_SEEDS; seed++) {
          const d = await distances(real, await generatorFeatures(net, G, { num: spec.metrics.num, seed }, ex), net, true, seed, true);
          bySeed.push({ value: d.distance, inf: d.distanceInf, kernel: d.kernel });
        }
        start = { ...bySeed[0], bySeed, features: net.id, num: spec.metrics.num };
      } finally {
        G.dispose();
      }
      await fs.mkdir(spec.out, { recursive: true });
      await writeFileAtomic(startFile, `${JSON.stringify(start)}\n`, { overwrite: true });
    }
    const points: StudyPoint[] = [];
    const missing: string[] = [];
    const failed: { id: string; variant: string; message: string }[] = [];
    for (const r of runs) {
      const st = await runState(spec, r);
      if (st.state === 'failed') failed.push({ id: r.id, variant: r.variant, message: st.detail });
      const recs = await readMetricRecords(spec, r, log, net.id);
      if (!recs.length) missing.push(r.id);
      points.push({ variant: r.variant, seed: r.seed, kimg: 0, value: start.value, inf: start.inf ?? null, kernel: start.kernel });
      for (const x of recs) points.push({ variant: r.variant, seed: r.seed, kimg: x.kimg, value: x.value, inf: x.valueInf ?? null, kernel: x.kernel });
    }
    const cells = aggregate(points);
    const finalKimg = Math.max(0, ...cells.map((c) => c.kimg));
    const finals = (variant: string, key: 'value' | 'kernel' | 'inf') =>
      points.filter((p) => p.variant === variant && Math.abs(p.kimg - finalKimg) < 1e-6).map((p) => p[key] as number);
    const variants = [...new Map(runs.map((r) => [r.variant, r])).values()];
    const compare = (a: number[], b: number[]): Welch95 | null =>
      a.length >= 2 && b.length >= 2 && [...a, ...b].every(Number.isFinite) ? { ...welch(a, b), ci95: bootstrapDiffCI(a, b) } : null;
    const tests: StudyResult['tests'] = [];
    for (const v of variants) {
      const against = reference(v, runs);
      if (!against || against === v.variant) continue;
      const kernel = compare(finals(v.variant, 'kernel'), finals(against, 'kernel'));
      const distance = compare(finals(v.variant, 'value'), finals(against, 'value'));
      if (!kernel && !distance) continue; // statistics need two seeds on each side
      tests.push({ variant: v.variant, against, kernel, distance, inf: compare(finals(v.variant, 'inf'), finals(against, 'inf')) });
    }
    // A grid of settings per loss (a selection study): which setting each loss chose.
    const selection = runs.some((r) => r.lrMult !== 1 || r.gammaMult !== 1) && !spec.tunedFrom ? await scoreSettings(spec, runs, log).catch(() => null) : null;
    const files: string[] = [];
    const write = async (name: string, data: string | Buffer) => {
      await writeFileAtomic(path.join(spec.out, name), data, { overwrite: true });
      files.push(path.join(spec.out, name));
    };
    const metric = net.distanceName,
      kernelMetric = net.kernelName;
    const seeds = seedsWithRecords(points, variants, spec.seeds.length);
    const subtitle = `fine-tuning ${path.basename(spec.network)} on ${path.basename(spec.data)}/, ${seeds}, ${spec.metrics.num} generated images per point`;
    for (const [name, useKernel] of [
      [kernelMetric, true],
      [metric, false],
    ] as const) {
      const c = useKernel ? cells.map((x) => ({ ...x, mean: x.kernelMean ?? Number.NaN, sd: x.kernelSd ?? Number.NaN })) : cells;
      const svg = studyPlotSvg(c, name, subtitle, { order: variants.map((v) => v.variant) });
      await write(`${name.toLowerCase()}.svg`, svg);
      await write(`${name.toLowerCase()}.png`, await sharp(Buffer.from(svg)).png().toBuffer());
    }
    const strip = stripPlotSvg(
      variants.map((v) => ({ variant: v.variant, values: finals(v.variant, 'kernel') })),
      kernelMetric,
      `${kernelMetric} at ${finalKimg} kimg, one dot per training seed; bar: mean`,
    );
    if (strip) {
      await write('strip.svg', strip);
      await write('strip.png', await sharp(Buffer.from(strip)).png().toBuffer());
    }
    const spreadOf = (k: 'value' | 'inf' | 'kernel') => sdOf(start!.bySeed.map((x) => x[k] ?? Number.NaN));
    const spread = { kernel: spreadOf('kernel'), inf: spreadOf('inf'), value: spreadOf('value'), seeds: SPREAD_SEEDS };
    const table = formatStudyTable({ cells, tests, variants, metric, kernelMetric, finalKimg, seeds, failed, selection, spread });
    await write('table.md', `${table}\n`);
    const result: StudyResult = { cells, finalKimg, tests, points, missing, failed, selection, spread, files };
    // Paths relative to the study folder, so that a results file committed anywhere names no machine.
    const rel = (p: string) => path.relative(spec.out, p) || '.';
    const portable = {
      ...spec,
      network: rel(spec.network),
      data: rel(spec.data),
      out: '.',
      records: rel(spec.records),
      tunedFrom: spec.tunedFrom && rel(spec.tunedFrom),
      metrics: { ...spec.metrics, ...(spec.metrics.inception ? { inception: rel(spec.metrics.inception) } : {}) },
    };
    await write('results.json', `${JSON.stringify({ spec: portable, ...result, files: undefined }, null, 2)}\n`);
    const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>study: ${escapeHtml(path.basename(spec.out))}</title>
<style>body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:12px;max-width:1100px;color:#222}
pre{white-space:pre-wrap;font-size:.85em}svg{max-width:100%;height:auto}</style></head><body>
<h1>Study ${escapeHtml(path.basename(spec.out))}</h1>
<p>${escapeHtml(subtitle)}; ${runs.length} runs of ${spec.kimg} kimg; ${escapeHtml(metric)} every ${spec.snapKimg} kimg.${missing.length ? ` ${missing.length} runs have no record yet.` : ''}</p>
${await fs.readFile(path.join(spec.out, `${kernelMetric.toLowerCase()}.svg`), 'utf8')}
${await fs.readFile(path.join(spec.out, `${metric.toLowerCase()}.svg`), 'utf8')}
${strip}
<pre>${escapeHtml(table)}</pre>
</body></html>
`;
    await write('index.html', page);
    return result;
  } finally {
    net.dispose();
  }
}

/** "8 seeds" when every variant has records of all the spec's seeds, else how many of them have ("1 of 8 seeds ..."). */
export function seedsWithRecords(points: StudyPoint[], variants: { variant: string }[], inSpec: number): string {
  // Every run has the starting network's point at kimg 0; a run's own records come after it.
  const n = variants.map((v) => new Set(points.filter((p) => p.variant === v.variant && p.kimg > 0).map((p) => p.seed)).size);
  const lo = Math.min(...n),
    hi = Math.max(...n);
  const all = `${inSpec} seed${inSpec > 1 ? 's' : ''}`;
  return lo === inSpec && hi === inSpec ? all : `${lo === hi ? lo : `${lo}-${hi}`} of ${all} (the others have no records yet)`;
}

/** The report's tables, as Markdown: the kernel distance (primary) by kimg, every statistic at the end, the tests, the selection. */
export function formatStudyTable(o: {
  cells: StudyCell[];
  tests: StudyResult['tests'];
  variants: { variant: string }[];
  metric: string;
  kernelMetric: string;
  finalKimg: number;
  seeds: string; // "8 seeds", or "1 of 8 seeds (...)" while runs have no records yet
  failed?: StudyResult['failed'];
  selection?: SettingScore[] | null;
  spread?: MetricSpread;
}): string {
  const { cells, tests, variants, metric, kernelMetric, finalKimg, seeds } = o;
  const f = (x: number | null | undefined, d = 2) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
  // One run has no sd: its value alone.
  const pm = (m: number | null, s: number | null, n = 2) => (m === null ? '-' : n < 2 ? f(m) : `${f(m)} ± ${f(s)}`);
  const kimgs = [...new Set(cells.map((c) => c.kimg))].sort((a, b) => a - b);
  const cell = (v: string, k: number) => cells.find((x) => x.variant === v && x.kimg === k);
  const lines = [
    `${kernelMetric} (the primary metric; mean ± sd over ${seeds}; lower is better) by kimg of fine-tuning:`,
    '',
    `| variant | ${kimgs.map((k) => `${k} kimg`).join(' | ')} |`,
    `|---|${kimgs.map(() => '---:').join('|')}|`,
    ...variants.map(
      (v) =>
        `| ${v.variant} | ${kimgs
          .map((k) => {
            const c = cell(v.variant, k);
            return pm(c?.kernelMean ?? null, c?.kernelSd ?? null, c?.n);
          })
          .join(' | ')} |`,
    ),
    '',
    `At ${finalKimg} kimg (${metric}∞: the ${metric} extrapolated to infinitely many generated images):`,
    '',
    `| variant | runs | ${kernelMetric} mean ± sd | ${kernelMetric} median | ${metric}∞ mean ± sd | ${metric} mean ± sd | failed |`,
    '|---|---:|---:|---:|---:|---:|---:|',
    ...variants.map((v) => {
      const c = cell(v.variant, finalKimg);
      const nFailed = (o.failed ?? []).filter((x) => x.variant === v.variant).length;
      return `| ${v.variant} | ${c?.n ?? 0} | ${pm(c?.kernelMean ?? null, c?.kernelSd ?? null, c?.n)} | ${f(c?.kernelMedian)} | ${pm(c?.infMean ?? null, c?.infSd ?? null, c?.n)} | ${c ? pm(c.mean, c.sd, c.n) : '-'} | ${nFailed} |`;
    }),
  ];
  if (o.spread)
    lines.push(
      '',
      `The metrics' own spread (sd of the starting network over ${o.spread.seeds} generation seeds): ${kernelMetric} ${f(o.spread.kernel)}, ${metric}∞ ${f(o.spread.inf)}, ${metric} ${f(o.spread.value)}.`,
    );
  const stat = (w: Welch95 | null) => (w ? `${f(w.diff)} | ${f(w.t)} (${f(w.df, 1)}) | ${f(w.p, 3)} | [${f(w.ci95[0])}, ${f(w.ci95[1])}]` : '- | - | - | -');
  if (tests.length)
    lines.push(
      '',
      `Each variant minus logistic at ${finalKimg} kimg (negative = better than logistic; Welch's t-test, percentile bootstrap 95% CI):`,
      '',
      `| variant | against | ${kernelMetric} diff | t (df) | p | 95% CI | ${metric}∞ diff | t (df) | p | 95% CI | ${metric} diff | t (df) | p | 95% CI |`,
      `|---|---|${'---:|'.repeat(12)}`,
      ...tests.map((t) => `| ${t.variant} | ${t.against} | ${stat(t.kernel)} | ${stat(t.inf)} | ${stat(t.distance)} |`),
    );
  if (o.failed?.length) lines.push('', `Failed runs: ${o.failed.map((x) => `${x.id} (${x.message})`).join('; ')}`);
  if (o.selection?.length)
    lines.push(
      '',
      `Settings by ${kernelMetric} at ${finalKimg} kimg (mean over the selection seeds; failed = a run failed; ** = each loss's choice):`,
      '',
      `| loss | lr × | R1 gamma × | ${kernelMetric} |`,
      '|---|---:|---:|---:|',
      ...o.selection.map((x) => `| ${x.loss} | ${x.lrMult} | ${x.gammaMult} | ${x.failed ? 'failed' : f(x.kernel)}${x.chosen ? ' **' : ''} |`),
    );
  return lines.join('\n');
}
