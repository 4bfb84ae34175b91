// A study's runs as they stand on disk, whatever executed them (this machine, a Slurm array task
// on another node): pending, running (its run directory's lock is held), done, stopped at a
// snapshot, or failed (with the error's line). And one run executed: started, or resumed from its
// last snapshot, or skipped when done; the run directory's lock keeps two executors off one run.
// A finished run leaves a record in the spec's records folder (its end and its metric records):
// the run is finished wherever that record is, with or without its run directory.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../files/atomic.js';
import { latestSnapshot, listSnapshots, metricFileName, RUN_FILES } from '../io/run_layout.js';
import { runDirHolder } from '../io/run_lock.js';
import { DEFAULTS } from '../train/defaults.js';
import { finetune, type RunHooks } from '../train/run.js';
import { tickSchedule } from '../train/tick.js';
import type { StudyRun, StudySpec } from './spec.js';

export type RunStateName = 'pending' | 'running' | 'done' | 'stopped' | 'failed';

export interface RunState {
  id: string;
  state: RunStateName;
  kimg: number; // of its latest snapshot (0 when none)
  detail: string; // the holder, the failure, or the last line of log.txt
}

/** Where a failed run's error is kept: OUT/status/<id>.failed (removed when it runs again). */
export function failureFile(spec: StudySpec, id: string): string {
  return path.join(spec.out, 'status', `${id}.failed`);
}

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

/** How a run that diverged fails (train/run.ts): a result (the setting is unstable), unlike any other failure. */
export const DIVERGED = /^training diverged/;

/** A finished run's record: what a report needs of it, kept when it finishes (OUT/records unless the spec names a folder). */
export interface RunRecord {
  id: string;
  state: 'done' | 'failed'; // failed: it diverged
  kimg: number; // of its last snapshot
  detail: string;
  backends: string[]; // what computed it: its log's backend line (backend, kernels, threads), one per start or resume
  metrics: MetricRecord[]; // every record of its metric file
}

export function recordFile(spec: StudySpec, id: string): string {
  return path.join(spec.records, `${id}.json`);
}

async function readRecord(spec: StudySpec, id: string): Promise<RunRecord | null> {
  const text = await fs.readFile(recordFile(spec, id), 'utf8').catch(() => null);
  if (text === null) return null;
  let rec: Partial<RunRecord> | null = null;
  try {
    rec = JSON.parse(text);
  } catch {
    // Refused below.
  }
  if (rec?.id !== id || (rec.state !== 'done' && rec.state !== 'failed') || typeof rec.kimg !== 'number' || !Array.isArray(rec.metrics))
    throw new Error(`${recordFile(spec, id)} is not a run record of ${id} (cut or edited?); delete it and run the study again to redo ${id}`);
  return rec as RunRecord;
}

export async function runState(spec: StudySpec, run: StudyRun): Promise<RunState> {
  const holder = await runDirHolder(run.runDir).catch(() => null);
  const record = holder ? null : await readRecord(spec, run.id);
  if (record) return { id: run.id, state: record.state, kimg: record.kimg, detail: record.detail };
  return runDirState(spec, run, holder);
}

/** A run's state from its run directory alone. */
async function runDirState(spec: StudySpec, run: StudyRun, holder: Awaited<ReturnType<typeof runDirHolder>>): Promise<RunState> {
  const snaps = await listSnapshots(run.runDir).catch(() => []);
  const kimg = snaps.at(-1)?.kimg ?? 0;
  if (holder) return { id: run.id, state: 'running', kimg, detail: `process ${holder.pid} on ${holder.host}` };
  const log = await fs.readFile(path.join(run.runDir, RUN_FILES.log), 'utf8').catch(() => '');
  if (/^done: /m.test(log)) return { id: run.id, state: 'done', kimg, detail: lastLine(log) };
  const failed = await fs.readFile(failureFile(spec, run.id), 'utf8').catch(() => null);
  if (failed !== null) return { id: run.id, state: 'failed', kimg, detail: lastLine(failed) };
  if (snaps.length) return { id: run.id, state: 'stopped', kimg, detail: lastLine(log) };
  return { id: run.id, state: 'pending', kimg: 0, detail: '' };
}

/** Keeps the record of a run that has finished (done, or diverged) in its run directory; false when it has not. */
export async function keepRecord(spec: StudySpec, run: StudyRun): Promise<boolean> {
  const st = await runDirState(spec, run, null);
  if (!(st.state === 'done' || (st.state === 'failed' && DIVERGED.test(st.detail)))) return false;
  const log = await fs.readFile(path.join(run.runDir, RUN_FILES.log), 'utf8').catch(() => '');
  const backends = [...log.matchAll(/^backend: (.*)$/gm)].map((m) => m[1]);
  // A record is committed: it names the run by its id, not by this machine's path.
  const detail = st.detail.replaceAll(run.runDir, run.id);
  const record: RunRecord = { id: run.id, state: st.state, kimg: st.kimg, detail, backends, metrics: await readMetricFile(spec, run, () => {}) };
  await fs.mkdir(spec.records, { recursive: true });
  await writeFileAtomic(recordFile(spec, run.id), `${JSON.stringify(record)}\n`, { overwrite: true });
  return true;
}

/** Keeps the record of every finished run that has none (runs finished before records were kept, or by an executor that was stopped); returns how many. */
export async function keepRecords(spec: StudySpec, runs: StudyRun[]): Promise<number> {
  let kept = 0;
  for (const r of runs) if (!(await readRecord(spec, r.id)) && !(await runDirHolder(r.runDir).catch(() => null)) && (await keepRecord(spec, r))) kept++;
  return kept;
}

/**
 * Executes one run to its end: resumes it from its latest snapshot when it has one, starts it
 * otherwise (a directory left by a run killed before its first snapshot is started again), and
 * does nothing when it is done. A failure is kept in OUT/status/<id>.failed and thrown.
 */
export async function executeRun(spec: StudySpec, run: StudyRun, hooks: RunHooks = {}): Promise<'done' | 'skipped' | 'stopped'> {
  const st = await runState(spec, run);
  if (st.state === 'done') return 'skipped';
  if (st.state === 'running') throw new Error(`${run.id} is already running (${st.detail})`);
  await fs.rm(failureFile(spec, run.id), { force: true });
  await fs.rm(recordFile(spec, run.id), { force: true });
  try {
    await fs.mkdir(path.dirname(run.runDir), { recursive: true });
    const snapshot = await latestSnapshot(run.runDir).catch(() => null);
    if (!snapshot) await fs.rm(run.runDir, { recursive: true, force: true });
    const r = snapshot ? await finetune({ data: '', resume: run.runDir, kimg: spec.kimg, backend: run.args.backend }, hooks) : await finetune(run.args, hooks);
    if (r.stopped !== 'done') return 'stopped';
    await keepRecord(spec, run);
    return 'done';
  } catch (e) {
    await fs.mkdir(path.dirname(failureFile(spec, run.id)), { recursive: true });
    await fs.writeFile(failureFile(spec, run.id), `${(e as Error).message}\n`);
    await keepRecord(spec, run);
    throw e;
  }
}

export interface MetricRecord {
  kimg: number;
  value: number; // the Fréchet distance
  valueInf?: number | null; // extrapolated to infinitely many generated images (records since this was added)
  kernel: number | null;
  features: string;
  num: number;
}

/** The kimg of a study run's evaluations: its tick ends (the last is the run's end). */
export function evaluationSchedule(spec: StudySpec, run: StudyRun): number[] {
  return tickSchedule(run.args.batch ?? DEFAULTS.batch, spec.snapKimg, spec.kimg);
}

/**
 * A run's metric records of the study's protocol (feature network file, number of images) on its
 * evaluation schedule: its record's when it has one, else its run directory's. A snapshot written
 * when the run was stopped part way (and evaluated, as every snapshot is) is off the schedule that
 * every other run shares, and left out.
 */
export async function readMetricRecords(spec: StudySpec, run: StudyRun, log: (l: string) => void, featuresId?: string): Promise<MetricRecord[]> {
  const record = await readRecord(spec, run.id);
  const all = record ? record.metrics : await readMetricFile(spec, run, log);
  const schedule = evaluationSchedule(spec, run);
  return all.filter(
    (x) => x.num === spec.metrics.num && (featuresId === undefined || x.features === featuresId) && schedule.some((k) => Math.abs(k - x.kimg) < 1e-9),
  );
}

/** Every record of a run directory's metric file; cut lines are skipped with a warning. */
async function readMetricFile(spec: StudySpec, run: StudyRun, log: (l: string) => void): Promise<MetricRecord[]> {
  const file = path.join(run.runDir, metricFileName(spec.metrics.features === 'emoji' ? 'FED' : 'FID'));
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').flatMap((l, i) => {
    if (!l.trim()) return [];
    try {
      return [JSON.parse(l) as MetricRecord];
    } catch {
      log(`warning: ${file} line ${i + 1} is not a metric record; skipped`);
      return [];
    }
  });
}
