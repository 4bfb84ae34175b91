// `stylegan-rlo study plan|run|status|report|exec SPEC`: a loss study as a first-class command.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { initBackend } from '../backend.js';
import { runLocal } from '../study/local.js';
import { submitSlurm } from '../study/slurm.js';
import { writeStudyReport } from '../study/report.js';
import { executeRun, keepRecords, runState } from '../study/runs.js';
import { studyRuns } from '../study/selection.js';
import { readStudySpec, type StudyRun, type StudySpec } from '../study/spec.js';
import { BACKEND_OPTION } from './shared_options.js';

interface Args {
  spec: string;
  run?: string;
  executor?: 'local' | 'slurm';
  jobs?: number;
  partition?: string;
  'max-parallel'?: number;
  'sbatch-arg'?: string[];
  json?: boolean;
  backend?: string;
}

const log = (l: string) => {
  if (!process.stderr.destroyed) process.stderr.write(`${l}\n`);
};

async function load(file: string): Promise<{ spec: StudySpec; runs: StudyRun[] }> {
  const spec = await readStudySpec(file);
  return { spec, runs: await studyRuns(spec, log) };
}

/** Records the finished runs that have none yet (finished before records were kept, or by a stopped executor). */
async function keepFinished(spec: StudySpec, runs: StudyRun[]): Promise<void> {
  const n = await keepRecords(spec, runs);
  if (n) log(`study: kept the records of ${n} finished run(s) in ${spec.records}`);
}

async function printStatus(spec: StudySpec, runs: StudyRun[], json: boolean): Promise<void> {
  const states = await Promise.all(runs.map((r) => runState(spec, r)));
  if (json) {
    process.stdout.write(`${JSON.stringify(states, null, 2)}\n`);
    return;
  }
  const w = Math.max(...runs.map((r) => r.id.length));
  for (const s of states)
    process.stdout.write(`${s.id.padEnd(w)}  ${s.state.padEnd(8)} kimg ${s.kimg.toFixed(3).padStart(8)} / ${spec.kimg}${s.detail ? `  ${s.detail}` : ''}\n`);
  const count = (n: string) => states.filter((s) => s.state === n).length;
  process.stdout.write(
    `${runs.length} runs: ${count('done')} done, ${count('running')} running, ${count('stopped')} stopped, ${count('failed')} failed, ${count('pending')} pending\n`,
  );
}

const spec = (y: Argv) => y.positional('spec', { type: 'string', demandOption: true, describe: 'The study spec (JSON)' });

export const studyCommand: CommandModule<object, Args> = {
  command: 'study <command>',
  describe: 'Loss studies: a grid of fine-tuning runs from one spec, run here, then a report with statistics',
  builder: (y: Argv) =>
    y
      .command({
        command: 'plan <spec>',
        describe: 'List the runs of a study and what exists of each',
        builder: (b: Argv) => spec(b).option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }),
        handler: async (a: ArgumentsCamelCase<Args>) => {
          const { spec: s, runs } = await load(a.spec);
          if (!a.json) for (const r of runs) process.stdout.write(`${r.id}: ${r.variant}, seed ${r.seed}\n`);
          await printStatus(s, runs, Boolean(a.json));
        },
      })
      .command({
        command: 'status <spec>',
        describe: 'The state of every run (pending, running, done, stopped, failed), whatever executed it',
        builder: (b: Argv) => spec(b).option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' }),
        handler: async (a: ArgumentsCamelCase<Args>) => {
          const { spec: s, runs } = await load(a.spec);
          await printStatus(s, runs, Boolean(a.json));
        },
      })
      .command({
        command: 'run <spec>',
        describe: 'Run every unfinished run (finished ones are skipped, stopped ones resume)',
        builder: (b: Argv) =>
          spec(b)
            .option('executor', {
              choices: ['local', 'slurm'] as const,
              default: 'local' as const,
              describe: 'Where the runs execute: here, or as a Slurm job array',
            })
            .option('jobs', { type: 'number', default: 1, describe: 'local: runs at once (the cores are divided among them)' })
            .option('partition', { type: 'string', describe: 'slurm: the partition' })
            .option('max-parallel', { type: 'number', describe: 'slurm: array tasks at once' })
            .option('sbatch-arg', {
              type: 'string',
              array: true,
              describe: 'slurm: an sbatch option for every job, e.g. --sbatch-arg=--time=2:00:00 --sbatch-arg=--gres=gpu:1',
            })
            .option('backend', BACKEND_OPTION),
        handler: async (a: ArgumentsCamelCase<Args>) => {
          if (!(Number.isInteger(a.jobs) && (a.jobs as number) >= 1)) throw new Error(`--jobs ${a.jobs}: give a whole number of runs at once, 1 or more`);
          const mp = a['max-parallel'];
          if (mp !== undefined && !(Number.isInteger(mp) && mp >= 1)) throw new Error(`--max-parallel ${mp}: give a whole number of array tasks, 1 or more`);
          if (a.backend) process.env.STYLEGAN_RLO_BACKEND = a.backend;
          const { spec: s, runs } = await load(a.spec);
          await keepFinished(s, runs);
          if (a.executor === 'slurm') {
            const sub = await submitSlurm(a.spec, s, runs, { partition: a.partition, maxParallel: mp, sbatchArgs: a['sbatch-arg'] }, log);
            process.stdout.write(`${JSON.stringify(sub)}\n`);
            return;
          }
          const r = await runLocal(a.spec, s, runs, a.jobs as number, log);
          log(`study: ${r.ran.length} ran, ${r.skipped.length} skipped, ${r.failed.length} failed`);
          if (r.failed.length) throw new Error(`${r.failed.length} run(s) failed: ${r.failed.map((f) => `${f.id} (${f.message})`).join('; ')}`);
        },
      })
      .command({
        command: 'exec <spec> <run>',
        describe: 'Execute one run of a study (what each executor task runs)',
        builder: (b: Argv) => spec(b).positional('run', { type: 'string', demandOption: true, describe: 'The run id (see study plan)' }),
        handler: async (a: ArgumentsCamelCase<Args>) => {
          const { spec: s, runs } = await load(a.spec);
          // Before the native kernels load (their OpenMP runtime reads it once).
          if (s.threads !== null) process.env.OMP_NUM_THREADS = String(s.threads);
          const run = runs.find((r) => r.id === a.run);
          if (!run) throw new Error(`study ${a.spec} has no run ${a.run}; see: stylegan-rlo study plan ${a.spec}`);
          // SIGTERM (scancel, preemption) or SIGINT: finish the iteration, snapshot, stop; again: at once.
          let signals = 0;
          for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => signals++);
          const r = await executeRun(s, run, { log, shouldStop: () => signals > 0, urgentStop: () => signals > 1 });
          log(`study: ${run.id} ${r === 'skipped' ? 'was done already' : r}`);
        },
      })
      .command({
        command: 'report <spec>',
        describe: 'Tables, statistics against logistic, plots and a page from what the runs recorded',
        builder: (b: Argv) => spec(b).option('backend', BACKEND_OPTION),
        handler: async (a: ArgumentsCamelCase<Args>) => {
          await initBackend(a.backend);
          const { spec: s, runs } = await load(a.spec);
          await keepFinished(s, runs);
          const r = await writeStudyReport(s, runs, log);
          if (r.missing.length) log(`study: ${r.missing.length} run(s) have no records yet: ${r.missing.join(', ')}`);
          process.stdout.write(`${await (await import('node:fs')).promises.readFile(`${s.out}/table.md`, 'utf8')}\nwrote ${r.files.join(', ')}\n`);
        },
      })
      .demandCommand(1, 'give a study command: plan, run, status, report (or exec)')
      .example('$0 study plan docs/study-specs/demo.json', 'The runs of a study and their state')
      .example('$0 study run docs/study-specs/demo.json --jobs 2', 'Run them here, two at a time')
      .example('$0 study report docs/study-specs/demo.json', 'The report') as unknown as Argv<Args>,
  handler: () => {},
};
