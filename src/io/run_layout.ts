// What a run directory holds: every file name a training run writes or reads, in one place.
// Writers (train/), readers (metrics/compare, the report, study tools) and the resume logic all
// ask this module; nothing else spells a run directory's file names.
//
//   training_options.json        the resolved options (upstream's training_options.json)
//   log.txt                      every progress line, as printed
//   stats.jsonl                  one JSON record per tick
//   metric-<fed|fid>.jsonl       one record per snapshot and metric
//   network-snapshot-KKKK.KKK.safetensors   G, D, G_ema, optimizer and exact training state
//   reals.png, fakes_init.png, fakesKKKK.KKK.png   the grids
//   index.html                   the run's report page
//   .lock                        held by the one process that trains in it (pid, host)
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const RUN_FILES = {
  options: 'training_options.json',
  log: 'log.txt',
  stats: 'stats.jsonl',
  report: 'index.html',
  reals: 'reals.png',
  fakesInit: 'fakes_init.png',
  lock: '.lock',
} as const;

/** A snapshot's file name: network-snapshot-0410.016.safetensors for nimg 410016. */
export function snapshotName(nimg: number): string {
  return `network-snapshot-${(nimg / 1000).toFixed(3).padStart(8, '0')}.safetensors`;
}

/** kimg of a snapshot file name, or null for any other name. */
export function snapshotKimg(name: string): number | null {
  const m = /^network-snapshot-(\d+(?:\.\d+)?)\.safetensors$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** The grid written with a snapshot: fakes0410.016.png for nimg 410016. */
export function fakesName(nimg: number): string {
  return `fakes${(nimg / 1000).toFixed(3).padStart(8, '0')}.png`;
}

/** kimg of a snapshot grid's file name, or null for any other name. */
export function fakesKimg(name: string): number | null {
  const m = /^fakes(\d+\.\d+)\.png$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Where `finetune --metrics` records a metric: metric-fed.jsonl, metric-fid.jsonl. */
export function metricFileName(distanceName: string): string {
  return `metric-${distanceName.toLowerCase()}.jsonl`;
}

/** Whether a file name is a metric record (metric-*.jsonl). */
export function isMetricFile(name: string): boolean {
  return metricOfFile(name) !== null;
}

/** The metric a record file holds, as its records name it (metric-fed.jsonl: 'FED'), or null for any other name. */
export function metricOfFile(name: string): string | null {
  const m = /^metric-(\w+)\.jsonl$/.exec(name);
  return m ? m[1].toUpperCase() : null;
}

/** The per-tick and per-snapshot record files, whose rows carry a kimg. */
export function isRecordFile(name: string): boolean {
  return name === RUN_FILES.stats || isMetricFile(name);
}

/** The history a branch starts with: the records and the log of its parent. */
export function isHistoryFile(name: string): boolean {
  return isRecordFile(name) || name === RUN_FILES.log;
}

/** Snapshots in a run directory with their kimg, oldest first (by kimg: by name, 10000.000 sorts before 9999.000). */
export async function listSnapshots(dir: string): Promise<{ file: string; kimg: number }[]> {
  const out: { file: string; kimg: number }[] = [];
  for (const f of await fs.readdir(dir)) {
    const kimg = snapshotKimg(f);
    if (kimg !== null) out.push({ file: path.join(dir, f), kimg });
  }
  return out.sort((a, b) => a.kimg - b.kimg);
}

/** The latest snapshot (by kimg) of a run directory, or null when it has none. */
export async function latestSnapshot(dir: string): Promise<string | null> {
  return (await listSnapshots(dir)).at(-1)?.file ?? null;
}

/** Whether `dir` holds a run's own records (its training_options.json), so that it may be resumed in place. */
export async function isRunDirectory(dir: string): Promise<boolean> {
  const st = await fs.stat(path.join(dir, RUN_FILES.options)).catch(() => null);
  return Boolean(st?.isFile());
}
