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
import { metricFileName } from '../io/run_layout.js';
import { distances, folderFeatures, generatorFeatures } from '../metrics/evaluate.js';
import { loadFeatureNetwork } from '../metrics/features.js';
import { aggregate, bootstrapDiffCI, type StudyCell, type StudyPoint, welch } from '../metrics/study.js';
import { escapeHtml } from '../report/html.js';
import { stripPlotSvg, studyPlotSvg } from '../report/plots.js';
import type { StudyRun, StudySpec } from './spec.js';

export interface StudyResult {
  cells: StudyCell[];
  finalKimg: number;
  tests: { variant: string; against: string; distance: Welch95; kernel: Welch95 | null }[];
  points: StudyPoint[];
  missing: string[]; // runs without any record yet
  files: string[];
}
type Welch95 = ReturnType<typeof welch> & { ci95: [number, number] };

/** The logistic variant a variant is compared with: the one with the same multipliers, else the first. */
function reference(v: StudyRun, runs: StudyRun[]): string | null {
  const logistic = runs.filter((r) => r.loss === 'logistic');
  return (logistic.find((r) => r.lrMult === v.lrMult && r.gammaMult === v.gammaMult) ?? logistic[0])?.variant ?? null;
}

export async function writeStudyReport(spec: StudySpec, runs: StudyRun[], log: (l: string) => void): Promise<StudyResult> {
  const net = await loadFeatureNetwork(
    spec.metrics.features === 'emoji' ? { kind: 'emoji' } : { kind: 'inception', protocol: 'nvidia', inception: spec.metrics.inception ?? null },
  );
  try {
    // kimg 0: the starting network, evaluated once with the same protocol (seed 0).
    const startFile = path.join(spec.out, 'start.json');
    let start = JSON.parse(await fs.readFile(startFile, 'utf8').catch(() => 'null')) as {
      value: number;
      kernel: number | null;
      features: string;
      num: number;
    } | null;
    if (!start || start.features !== net.id || start.num !== spec.metrics.num) {
      log(`study: ${net.distanceName} of the starting network ${path.basename(spec.network)}`);
      const G = buildGenerator(await loadNetwork(spec.network));
      try {
        const ex = { batch: 16, cacheDir: cacheDir() };
        const d = distances(await folderFeatures(net, spec.data, ex), await generatorFeatures(net, G, { num: spec.metrics.num, seed: 0 }, ex), net, true, 0);
        start = { value: d.distance, kernel: d.kernel, features: net.id, num: spec.metrics.num };
      } finally {
        G.dispose();
      }
      await fs.mkdir(spec.out, { recursive: true });
      await writeFileAtomic(startFile, `${JSON.stringify(start)}\n`, { overwrite: true });
    }
    const points: StudyPoint[] = [];
    const missing: string[] = [];
    for (const r of runs) {
      const file = path.join(r.runDir, metricFileName(net.distanceName));
      const text = await fs.readFile(file, 'utf8').catch(() => '');
      const recs = text
        .split('\n')
        .flatMap((l, i) => {
          if (!l.trim()) return [];
          try {
            return [JSON.parse(l) as { kimg: number; value: number; kernel: number | null; features: string; num: number }];
          } catch {
            log(`warning: ${file} line ${i + 1} is not a metric record; skipped`);
            return [];
          }
        })
        .filter((x) => x.features === net.id && x.num === spec.metrics.num);
      if (!recs.length) missing.push(r.id);
      points.push({ variant: r.variant, seed: r.seed, kimg: 0, value: start.value, kernel: start.kernel });
      for (const x of recs) points.push({ variant: r.variant, seed: r.seed, kimg: x.kimg, value: x.value, kernel: x.kernel });
    }
    const cells = aggregate(points);
    const finalKimg = Math.max(0, ...cells.map((c) => c.kimg));
    const finals = (variant: string, key: 'value' | 'kernel') =>
      points.filter((p) => p.variant === variant && Math.abs(p.kimg - finalKimg) < 1e-6).map((p) => p[key] as number);
    const variants = [...new Map(runs.map((r) => [r.variant, r])).values()];
    const tests: StudyResult['tests'] = [];
    for (const v of variants) {
      const against = reference(v, runs);
      if (!against || against === v.variant) continue;
      const [a, b] = [finals(v.variant, 'value'), finals(against, 'value')];
      if (a.length < 2 || b.length < 2) continue; // statistics need two seeds on each side
      const [ka, kb] = [finals(v.variant, 'kernel'), finals(against, 'kernel')];
      const kernelOk = ka.every(Number.isFinite) && kb.every(Number.isFinite);
      tests.push({
        variant: v.variant,
        against,
        distance: { ...welch(a, b), ci95: bootstrapDiffCI(a, b) },
        kernel: kernelOk ? { ...welch(ka, kb), ci95: bootstrapDiffCI(ka, kb) } : null,
      });
    }
    const files: string[] = [];
    const write = async (name: string, data: string | Buffer) => {
      await writeFileAtomic(path.join(spec.out, name), data, { overwrite: true });
      files.push(path.join(spec.out, name));
    };
    const metric = net.distanceName,
      kernelMetric = net.kernelName;
    const seeds = spec.seeds.length;
    const subtitle = `fine-tuning ${path.basename(spec.network)} on ${path.basename(spec.data)}/, ${seeds} seeds, ${spec.metrics.num} generated images per point`;
    for (const [name, useKernel] of [
      [metric, false],
      [kernelMetric, true],
    ] as const) {
      const c = useKernel ? cells.map((x) => ({ ...x, mean: x.kernelMean ?? Number.NaN, sd: x.kernelSd ?? Number.NaN })) : cells;
      const svg = studyPlotSvg(c, name, subtitle);
      await write(`${name.toLowerCase()}.svg`, svg);
      await write(`${name.toLowerCase()}.png`, await sharp(Buffer.from(svg)).png().toBuffer());
    }
    const strip = stripPlotSvg(
      variants.map((v) => ({ variant: v.variant, values: finals(v.variant, 'value') })),
      metric,
      `${metric} at ${finalKimg} kimg, one dot per training seed; bar: mean`,
    );
    if (strip) {
      await write('strip.svg', strip);
      await write('strip.png', await sharp(Buffer.from(strip)).png().toBuffer());
    }
    const table = formatStudyTable(cells, tests, variants, metric, kernelMetric, finalKimg, seeds);
    await write('table.md', `${table}\n`);
    const result: StudyResult = { cells, finalKimg, tests, points, missing, files };
    await write('results.json', `${JSON.stringify({ spec, ...result, files: undefined }, null, 2)}\n`);
    const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>study: ${escapeHtml(path.basename(spec.out))}</title>
<style>body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:12px;max-width:1100px;color:#222}
pre{white-space:pre-wrap;font-size:.85em}svg{max-width:100%;height:auto}</style></head><body>
<h1>Study ${escapeHtml(path.basename(spec.out))}</h1>
<p>${escapeHtml(subtitle)}; ${runs.length} runs of ${spec.kimg} kimg; ${escapeHtml(metric)} every ${spec.snapKimg} kimg.${missing.length ? ` ${missing.length} runs have no record yet.` : ''}</p>
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

/** The report's tables, as Markdown. */
export function formatStudyTable(
  cells: StudyCell[],
  tests: StudyResult['tests'],
  variants: { variant: string }[],
  metric: string,
  kernelMetric: string,
  finalKimg: number,
  seeds: number,
): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const kimgs = [...new Set(cells.map((c) => c.kimg))].sort((a, b) => a - b);
  const lines = [
    `${metric} (mean ± sd over ${seeds} seeds; lower is better) by kimg of fine-tuning:`,
    '',
    `| variant | ${kimgs.map((k) => `${k} kimg`).join(' | ')} |`,
    `|---|${kimgs.map(() => '---:').join('|')}|`,
    ...variants.map(
      (v) =>
        `| ${v.variant} | ${kimgs
          .map((k) => {
            const c = cells.find((x) => x.variant === v.variant && x.kimg === k);
            return c ? `${f(c.mean)} ± ${f(c.sd)}` : '-';
          })
          .join(' | ')} |`,
    ),
    '',
    `${kernelMetric} at ${finalKimg} kimg (mean ± sd): ${variants
      .map((v) => {
        const c = cells.find((x) => x.variant === v.variant && x.kimg === finalKimg);
        return c && c.kernelMean !== null ? `${v.variant} ${f(c.kernelMean)} ± ${f(c.kernelSd ?? 0)}` : `${v.variant} -`;
      })
      .join('; ')}`,
  ];
  if (tests.length)
    lines.push(
      '',
      `Each variant minus logistic at ${finalKimg} kimg (negative = better than logistic):`,
      '',
      `| variant | against | ${metric} diff | Welch t (df) | p | bootstrap 95% CI | ${kernelMetric} diff | p | bootstrap 95% CI |`,
      '|---|---|---:|---:|---:|---:|---:|---:|---:|',
      ...tests.map(
        (t) =>
          `| ${t.variant} | ${t.against} | ${f(t.distance.diff)} | ${f(t.distance.t)} (${f(t.distance.df, 1)}) | ${f(t.distance.p, 3)} | [${f(t.distance.ci95[0])}, ${f(t.distance.ci95[1])}] | ${
            t.kernel ? `${f(t.kernel.diff)} | ${f(t.kernel.p, 3)} | [${f(t.kernel.ci95[0])}, ${f(t.kernel.ci95[1])}]` : '- | - | -'
          } |`,
      ),
    );
  return lines.join('\n');
}
