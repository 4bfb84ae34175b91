// Comparing runs: FID/KID (Inception) or FED/KED (emoji network) of every snapshot of several runs
// (e.g. rooted vs logistic), as a table, CSV/JSON, and a plot against kimg with one line per run.
import type { TrainingOptions } from '../records.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { readTrainingOptions } from '../io/training_state.js';
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
          const d = await distances(real, gen, net, o.kid, o.seed);
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
