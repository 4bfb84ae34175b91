// Comparing runs: FID/KID (Inception) or FED/KED (emoji network) of every snapshot of several runs
// (e.g. rooted vs logistic), as a table, CSV/JSON, and a plot against kimg with one line per run.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readTrainingOptions, type TrainingOptions } from '../io/training_state.js';
import { listSnapshots, metricFileName, snapshotName } from '../io/run_layout.js';
import { distances, folderFeatures, generatorFeatures, type ExtractOptions, type Features } from './evaluate.js';
import { type FidProtocol, InceptionV3 } from './inception.js';
import { type FeatureNetwork, inceptionFeatureNetwork } from './features.js';

export interface CompareRow {
  run: string;
  loss: string;
  k: number | null;
  kimg: number;
  snapshot: string;
  metric: string; // 'FID' or 'FED'
  value: number; // the Fréchet distance
  kernelMetric: string; // 'KID' or 'KED'
  kernel: number | null; // the kernel distance, when asked for
  num: number; // generated images
  features: string; // the feature network's id (network, weights, preprocessing)
}

export interface CompareOptions {
  protocol?: FidProtocol; // with a bare InceptionV3 (default nvidia)
  num: number; // generated images per snapshot
  kid?: boolean;
  seed?: number;
  batch?: number;
  cacheDir?: string | null;
  includeStart?: boolean; // evaluate the network each run started from (kimg 0, or a branch's branch point)
  log?: (line: string) => void;
}

/** The file where `finetune --metrics` records a metric: metric-fid.jsonl, metric-fed.jsonl. */
export function metricFile(net: FeatureNetwork): string {
  return metricFileName(net.distanceName);
}

/** Values recorded by `finetune --metrics` with this feature network and sample count. */
async function recordedRows(
  dir: string,
  net: FeatureNetwork,
  o: CompareOptions,
  log: (line: string) => void,
): Promise<Map<string, { value: number; kernel: number | null }>> {
  const out = new Map<string, { value: number; kernel: number | null }>();
  const file = path.join(dir, metricFile(net));
  const txt = await fs.readFile(file, 'utf8').catch(() => '');
  txt.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let r: Record<string, unknown> | null = null;
    try {
      r = JSON.parse(line) as Record<string, unknown>;
    } catch {}
    const ok =
      r && typeof r.snapshot === 'string' && typeof r.value === 'number' && (r.kernel === null || typeof r.kernel === 'number' || r.kernel === undefined);
    if (!ok) {
      // A line cut by a crash (or edited by hand): its snapshot is evaluated again instead.
      log(`warning: ${file} line ${i + 1} is not a metric record; skipped`);
      return;
    }
    if (r!.features === net.id && r!.num === o.num && (!o.kid || r!.kernel !== null))
      out.set(r!.snapshot as string, { value: r!.value as number, kernel: (r!.kernel as number | null | undefined) ?? null });
  });
  return out;
}

/**
 * Where a run's curve starts: the network it was created from, at kimg 0; for a branch, the
 * parent's snapshot it branched from, at that kimg (the history before it was trained with the
 * parent's settings, which the branch's loss label would misname). Null, with a note, when that
 * snapshot is no longer there.
 */
async function startPoint(dir: string, ro: TrainingOptions, log: (line: string) => void): Promise<{ file: string; kimg: number; label: string } | null> {
  const branch = ro.branches?.at(-1);
  if (!branch) return ro.network ? { file: ro.network, kimg: 0, label: 'start' } : null;
  const label = snapshotName(Math.round(branch.kimg * 1000));
  const file = path.join(branch.from, label);
  if (await fs.stat(file).catch(() => null)) return { file, kimg: branch.kimg, label };
  log(`${path.basename(dir)}: the snapshot it branched from (${file}) is not there; its curve starts at its first snapshot`);
  return null;
}

export async function compareRuns(runDirs: string[], source: FeatureNetwork | InceptionV3, o: CompareOptions): Promise<CompareRow[]> {
  const net = source instanceof InceptionV3 ? { ...inceptionFeatureNetwork(source, o.protocol ?? 'nvidia'), dispose: () => undefined } : source;
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ex: ExtractOptions = { batch: o.batch, cacheDir: o.cacheDir };
  const realCache = new Map<string, Features>();
  const rows: CompareRow[] = [];
  // Every input is read and checked before any evaluation: a bad run, snapshot or record fails
  // (or is skipped with a warning) at once, not after the runs before it were evaluated.
  const plans: {
    dir: string;
    ro: TrainingOptions;
    points: { file: string; kimg: number; label: string }[];
    recorded: Map<string, { value: number; kernel: number | null }>;
  }[] = [];
  for (const dir of runDirs) {
    const ro = await readTrainingOptions(dir);
    const points = (await listSnapshots(dir)).map((s) => ({ ...s, label: path.basename(s.file) }));
    if (o.includeStart) {
      const start = await startPoint(dir, ro, log);
      if (start) points.unshift(start);
    }
    if (!points.length) throw new Error(`${dir} has no snapshots yet`);
    const recorded = await recordedRows(dir, net, o, log);
    for (const p of points) if (!recorded.has(p.label)) await loadNetwork(p.file); // a truncated snapshot fails here, in one line
    const st = await fs.stat(ro.data).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`${dir}: its data folder ${ro.data} does not exist (move it back, or run compare where it is)`);
    plans.push({ dir, ro, points, recorded });
  }
  for (const { dir, ro, points, recorded } of plans) {
    let real = realCache.get(ro.data);
    if (!real) {
      log(`${path.basename(dir)}: ${net.kind} features of ${ro.data}`);
      real = await folderFeatures(net, ro.data, ex);
      realCache.set(ro.data, real);
    }
    for (const p of points) {
      let r = recorded.get(p.label) ?? null;
      if (!r) {
        log(`${path.basename(dir)}: ${net.distanceName} of ${p.label} (${o.num} images)`);
        const G = buildGenerator(await loadNetwork(p.file));
        try {
          const gen = await generatorFeatures(net, G, { num: o.num, seed: o.seed }, ex);
          const d = distances(real, gen, net, o.kid, o.seed);
          r = { value: d.distance, kernel: d.kernel };
        } finally {
          G.dispose();
        }
      }
      rows.push({
        run: path.basename(dir),
        loss: ro.loss,
        k: ro.loss === 'rooted' ? ro.k : null,
        kimg: p.kimg,
        snapshot: p.label,
        metric: net.distanceName,
        value: r.value,
        kernelMetric: net.kernelName,
        kernel: r.kernel,
        num: o.num,
        features: net.id,
      });
    }
  }
  return rows;
}

export function formatTable(rows: CompareRow[]): string {
  const head = ['run', 'loss', 'k', 'kimg', rows[0]?.metric ?? 'FID', rows[0]?.kernelMetric ?? 'KID'];
  const body = rows.map((r) => [
    r.run,
    r.loss,
    r.k === null ? '-' : String(r.k),
    r.kimg.toFixed(3),
    r.value.toFixed(3),
    r.kernel === null ? '-' : r.kernel.toFixed(5),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(w[i]) : c.padEnd(w[i]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...body.map(line)].join('\n');
}

export function toCsv(rows: CompareRow[]): string {
  const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return `${[
    'run,loss,k,kimg,snapshot,metric,value,kernel_metric,kernel,num,features',
    ...rows.map((r) =>
      [esc(r.run), r.loss, r.k ?? '', r.kimg, esc(r.snapshot), r.metric, r.value, r.kernelMetric, r.kernel ?? '', r.num, esc(r.features)].join(','),
    ),
  ].join('\n')}\n`;
}

export const PLOT_COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Width in pixels of `text` at 12 px DejaVu Sans (an upper bound per character, so it never clips). */
export function textWidth(text: string): number {
  return Math.ceil(text.length * 7.2);
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** What a plot needs of a row: one point of one run's curve. */
export type PlotPoint = Pick<CompareRow, 'run' | 'loss' | 'k' | 'kimg' | 'metric' | 'value' | 'num'>;

export interface PlotOptions {
  width?: number;
  height?: number;
  /** A logarithmic distance axis (for curves from scratch, which fall by orders of magnitude). */
  logY?: boolean;
}

/**
 * SVG line plot of the distance against kimg, one line (and legend entry) per run. The legend sits
 * right of the plot area, as wide as its longest label.
 */
export function plotSvg(rows: PlotPoint[], o: PlotOptions = {}): string {
  const { width = 720, height = 420, logY = false } = o;
  if (logY && rows.some((r) => !(r.value > 0))) throw new Error('a logarithmic axis needs distances > 0');
  const runs = [...new Set(rows.map((r) => r.run))];
  const label = (run: string) => {
    const r0 = rows.find((r) => r.run === run)!;
    return `${run} (${r0.loss}${r0.k !== null ? ` k=${r0.k}` : ''})`;
  };
  const legendW = Math.max(...runs.map((r) => textWidth(label(r)))) + 30;
  const m = { l: 60, r: 20 + legendW, t: 30, b: 45 };
  const W = width + legendW;
  // The vertical axis runs over t(value): the value itself, or its logarithm.
  const t = logY ? Math.log10 : (v: number) => v;
  const xs = rows.map((r) => r.kimg),
    ys = rows.map((r) => t(r.value));
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const ylo = Math.min(...ys),
    yhi = Math.max(...ys);
  const pad = (yhi - ylo) * 0.08 || (logY ? 0.1 : 1);
  const y0 = ylo - pad,
    y1 = yhi + pad;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v: number) => height - m.b - ((t(v) - y0) / (y1 - y0)) * (height - m.t - m.b);
  const metric = rows[0]?.metric ?? 'FID';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${W - m.r}" y2="${height - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="black"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="${height - 10}" text-anchor="middle">kimg</text>`,
    `<text x="15" y="${(height - m.b + m.t) / 2}" transform="rotate(-90 15 ${(height - m.b + m.t) / 2})" text-anchor="middle">${metric} (${rows[0]?.num ?? ''} generated images${logY ? ', log scale' : ''})</text>`,
  ];
  // Enough decimals that the five tick labels differ.
  const decimals = (span: number) => Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 4)) + 1));
  const dx = decimals(x1 - x0),
    dy = decimals(y1 - y0);
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + ((x1 - x0) * i) / 4,
      tv = y0 + ((y1 - y0) * i) / 4;
    // On a log axis the ticks are evenly spaced in log(value) and labelled with 3 significant digits.
    const yv = logY ? 10 ** tv : tv;
    parts.push(`<text x="${X(xv)}" y="${height - m.b + 16}" text-anchor="middle">${xv.toFixed(dx)}</text>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${logY ? String(Number(yv.toPrecision(3))) : yv.toFixed(dy)}</text>`);
  }
  runs.forEach((run, i) => {
    const pts = rows.filter((r) => r.run === run).sort((a, b) => a.kimg - b.kimg);
    const color = PLOT_COLORS[i % PLOT_COLORS.length];
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${X(p.kimg).toFixed(1)},${Y(p.value).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) parts.push(`<circle cx="${X(p.kimg).toFixed(1)}" cy="${Y(p.value).toFixed(1)}" r="3" fill="${color}"/>`);
    const lx = W - m.r + 16;
    parts.push(`<rect x="${lx}" y="${m.t + 6 + i * 18}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${lx + 18}" y="${m.t + 16 + i * 18}">${escapeXml(label(run))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Writes compare.csv, compare.json and the plot (fid.svg/png or fed.svg/png) into `outDir` (new files only unless `force`). */
export async function writeComparison(rows: CompareRow[], outDir: string, force = false): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const svg = plotSvg(rows);
  const plot = (rows[0]?.metric ?? 'FID').toLowerCase();
  const files: [string, string | Buffer][] = [
    ['compare.csv', toCsv(rows)],
    ['compare.json', `${JSON.stringify(rows, null, 2)}\n`],
    [`${plot}.svg`, svg],
    [`${plot}.png`, await sharp(Buffer.from(svg)).png().toBuffer()],
  ];
  const written: string[] = [];
  for (const [name, data] of files) {
    const f = path.join(outDir, name);
    await writeFileAtomic(f, data, { overwrite: force }).catch((e: Error) => {
      throw new Error(e.message.includes('already exists') ? `${f} already exists; use --force or another --out` : e.message);
    });
    written.push(f);
  }
  return written;
}
