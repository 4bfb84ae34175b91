// The local executor: the unfinished runs of a study as child processes of this machine
// (`stylegan-rlo study exec SPEC RUN_ID`, the same command a Slurm array task runs), N at a time,
// with the cores divided among them (OMP_NUM_THREADS) unless the spec fixes `threads`. A run's
// numbers depend only on its options, its seed and its thread count: another thread count splits
// float sums differently (1e-6 relative after one iteration), and over a whole run that grows into
// a different trajectory, as another seed's would; a spec that fixes `threads` reproduces exactly.
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { executionOrder, type StudyRun, type StudySpec } from './spec.js';
import { runState } from './runs.js';

export interface LocalResult {
  ran: string[];
  skipped: string[]; // done already, or running elsewhere
  failed: { id: string; message: string }[];
}

/** OMP_NUM_THREADS for each run: the spec's threads, else the environment's, else the cores divided among the jobs. */
export function runThreads(spec: StudySpec, jobs: number): string {
  if (spec.threads !== null) return String(spec.threads);
  return process.env.OMP_NUM_THREADS ?? String(Math.max(1, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / jobs)));
}

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');

export async function runLocal(specFile: string, spec: StudySpec, runs: StudyRun[], jobs: number, log: (l: string) => void): Promise<LocalResult> {
  const result: LocalResult = { ran: [], skipped: [], failed: [] };
  const todo: StudyRun[] = [];
  for (const r of executionOrder(spec, runs)) {
    const st = await runState(spec, r);
    if (st.state === 'done' || st.state === 'running') {
      result.skipped.push(r.id);
      log(`study: ${r.id} ${st.state === 'done' ? 'is done' : `is running (${st.detail})`}; skipped`);
    } else todo.push(r);
  }
  const threads = runThreads(spec, jobs);
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const r = todo[next++];
      log(`study: running ${r.id}`);
      const out = await new Promise<{ code: number | null; err: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'study', 'exec', specFile, r.id], {
          stdio: ['ignore', 'ignore', 'pipe'],
          env: { ...process.env, OMP_NUM_THREADS: threads },
        });
        let err = '';
        child.stderr.on('data', (d) => {
          err += d;
          if (err.length > 65536) err = err.slice(-65536);
        });
        child.on('exit', (code) => resolve({ code, err }));
      });
      if (out.code === 0) result.ran.push(r.id);
      else {
        const message = out.err.trim().split('\n').at(-1) ?? `exit ${out.code}`;
        result.failed.push({ id: r.id, message });
        log(`study: ${r.id} failed: ${message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, todo.length)) }, worker));
  return result;
}
