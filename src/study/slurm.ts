// The Slurm executor: the study's unfinished runs as one sbatch job array (one array task per run,
// each running `stylegan-rlo study exec SPEC RUN_ID`, at most --max-parallel at once), and the
// report as one job that waits for the array (--dependency=afterany). The study folder must be on
// a filesystem that every node sees; the runs' own locks keep two tasks off one run. Returns once
// submitted: `study status` follows the runs, whatever node runs them.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { executionOrder, type StudyRun, type StudySpec } from './spec.js';
import { runState } from './runs.js';
import { OptionError } from '../files/option_error.js';

export interface SlurmOptions {
  partition?: string;
  maxParallel?: number; // array tasks at once (%M)
  sbatchArgs?: string[]; // site options: --account, --time, --gres=gpu:1, ...
}

export interface SlurmSubmission {
  arrayJob: string | null; // null when every run is done or running
  reportJob: string;
  runs: string[]; // the runs of the array, in task order
}

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.js');
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function sbatch(args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('sbatch', ['--parsable', ...args], { encoding: 'utf8' });
    return stdout.trim().split(';')[0];
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') throw new OptionError((o) => `sbatch not found: run this on a Slurm login node, or use ${o('executor')} local`);
    throw new Error(`sbatch failed: ${(err.stderr ?? err.message).trim().split('\n').at(-1)}`);
  }
}

export async function submitSlurm(specFile: string, spec: StudySpec, runs: StudyRun[], o: SlurmOptions, log: (l: string) => void): Promise<SlurmSubmission> {
  const todo: StudyRun[] = [];
  for (const r of executionOrder(spec, runs)) {
    const st = await runState(spec, r);
    if (st.state === 'done' || st.state === 'running') log(`study: ${r.id} ${st.state === 'done' ? 'is done' : `is running (${st.detail})`}; not submitted`);
    else todo.push(r);
  }
  const dir = path.join(spec.out, 'status');
  await fs.mkdir(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const common = [...(o.partition ? [`--partition=${o.partition}`] : []), ...(o.sbatchArgs ?? [])];
  const node = process.execPath;
  const spec_ = path.resolve(specFile);
  let arrayJob: string | null = null;
  if (todo.length) {
    const list = path.join(dir, `slurm-${stamp}.runs`);
    await fs.writeFile(list, `${todo.map((r) => r.id).join('\n')}\n`);
    const script = path.join(dir, `slurm-${stamp}.sh`);
    await fs.writeFile(
      script,
      [
        '#!/bin/bash',
        '# One run of the study per array task (stylegan-rlo study run --executor slurm wrote this).',
        'set -euo pipefail',
        ...(spec.threads !== null ? [`export OMP_NUM_THREADS=${spec.threads}`] : []),
        `RUN_ID=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${quote(list)})`,
        `exec ${quote(node)} ${quote(CLI)} study exec ${quote(spec_)} "$RUN_ID"`,
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const array = `0-${todo.length - 1}${o.maxParallel ? `%${o.maxParallel}` : ''}`;
    arrayJob = await sbatch([`--array=${array}`, '--job-name=rlo-study', `--output=${path.join(dir, 'slurm-%A_%a.out')}`, ...common, script]);
    log(`study: submitted ${todo.length} run(s) as job array ${arrayJob}`);
  }
  const reportJob = await sbatch([
    ...(arrayJob ? [`--dependency=afterany:${arrayJob}`] : []),
    '--job-name=rlo-study-report',
    `--output=${path.join(dir, 'slurm-report-%j.out')}`,
    ...common,
    `--wrap=${quote(node)} ${quote(CLI)} study report ${quote(spec_)}`,
  ]);
  log(`study: the report is job ${reportJob}${arrayJob ? `, after job ${arrayJob}` : ''}`);
  return { arrayJob, reportJob, runs: todo.map((r) => r.id) };
}
