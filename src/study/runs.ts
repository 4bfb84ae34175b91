// A study's runs as they stand on disk, whatever executed them (this machine, a Slurm array task
// on another node): pending, running (its run directory's lock is held), done, stopped at a
// snapshot, or failed (with the error's line). And one run executed: started, or resumed from its
// last snapshot, or skipped when done; the run directory's lock keeps two executors off one run.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { latestSnapshot, listSnapshots, metricFileName, RUN_FILES } from '../io/run_layout.js';
import { runDirHolder } from '../io/run_lock.js';
import { finetune, type RunHooks } from '../train/run.js';
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

export async function runState(spec: StudySpec, run: StudyRun): Promise<RunState> {
  const snaps = await listSnapshots(run.runDir).catch(() => []);
  const kimg = snaps.at(-1)?.kimg ?? 0;
  const holder = await runDirHolder(run.runDir).catch(() => null);
  if (holder) return { id: run.id, state: 'running', kimg, detail: `process ${holder.pid} on ${holder.host}` };
  const log = await fs.readFile(path.join(run.runDir, RUN_FILES.log), 'utf8').catch(() => '');
  if (/^done: /m.test(log)) return { id: run.id, state: 'done', kimg, detail: lastLine(log) };
  const failed = await fs.readFile(failureFile(spec, run.id), 'utf8').catch(() => null);
  if (failed !== null) return { id: run.id, state: 'failed', kimg, detail: lastLine(failed) };
  if (snaps.length) return { id: run.id, state: 'stopped', kimg, detail: lastLine(log) };
  return { id: run.id, state: 'pending', kimg: 0, detail: '' };
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
  try {
    await fs.mkdir(path.dirname(run.runDir), { recursive: true });
    const snapshot = await latestSnapshot(run.runDir).catch(() => null);
    if (!snapshot) await fs.rm(run.runDir, { recursive: true, force: true });
    const r = snapshot ? await finetune({ data: '', resume: run.runDir, kimg: spec.kimg, backend: run.args.backend }, hooks) : await finetune(run.args, hooks);
    return r.stopped === 'done' ? 'done' : 'stopped';
  } catch (e) {
    await fs.mkdir(path.dirname(failureFile(spec, run.id)), { recursive: true });
    await fs.writeFile(failureFile(spec, run.id), `${(e as Error).message}\n`);
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

/** A run's metric records of the study's protocol (feature network file, number of images); cut lines are skipped with a warning. */
export async function readMetricRecords(spec: StudySpec, run: StudyRun, log: (l: string) => void, featuresId?: string): Promise<MetricRecord[]> {
  const file = path.join(run.runDir, metricFileName(spec.metrics.features === 'emoji' ? 'FED' : 'FID'));
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .flatMap((l, i) => {
      if (!l.trim()) return [];
      try {
        return [JSON.parse(l) as MetricRecord];
      } catch {
        log(`warning: ${file} line ${i + 1} is not a metric record; skipped`);
        return [];
      }
    })
    .filter((x) => x.num === spec.metrics.num && (featuresId === undefined || x.features === featuresId));
}
