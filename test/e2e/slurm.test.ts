// study run --executor slurm against a real one-node Slurm cluster (test/slurm_cluster.ts): the
// array's results equal the local executor's on the same spec; a task cancelled mid-run and
// submitted again resumes and ends with the uninterrupted numbers; study status follows the runs
// along the way; the report job runs after the array. Skipped, with the reason, where Slurm is not
// installed; CI installs it, and a test makes sure CI ran this one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { cliWith } from '../cli_helper.js';
import { type Cluster, slurmMissing, startCluster } from '../slurm_cluster.js';
import { listSnapshots } from '../../src/io/run_layout.js';
import { tinyTrainingFixture } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

const missing = slurmMissing();
let cluster: Cluster | null = null;
let dir: string;

const spec = (out: string) => ({
  network: 'tiny16.safetensors',
  data: 'data',
  out,
  kimg: 0.016,
  snapKimg: 0.008,
  metrics: { features: 'emoji', num: 8 },
  losses: [{ loss: 'logistic' }, { loss: 'rooted', k: 2 }],
  seeds: [0, 1],
  options: { batch: 4, grid: [2, 2], aug: 'fixed', p: 0.2 },
});

before(async () => {
  if (missing) return;
  await testBackend();
  ({ dir } = await tinyTrainingFixture('slurm', 6));
  for (const name of ['local', 'slurm']) await fs.writeFile(path.join(dir, `${name}.json`), JSON.stringify(spec(name)));
  cluster = await startCluster();
});
after(() => cluster?.stop());

test('CI runs the Slurm test (slurm-wlm and munge installed by .ci/run)', { skip: !process.env.CI && 'runs only under CI' }, () => {
  assert.equal(missing, null, `${missing}`);
});

const values = async (out: string, id: string) =>
  (await fs.readFile(path.join(dir, out, 'runs', id, 'metric-fed.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).value as number);

async function waitForJobs(env: Record<string, string>, jobs: string[], limitMs = 240_000): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < limitMs) {
    const q = spawnSync('squeue', ['-h', '-o', '%i', '-j', jobs.join(',')], { encoding: 'utf8', env: { ...process.env, ...env } });
    if (!q.stdout.trim()) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`jobs ${jobs} still queued after ${limitMs} ms`);
}

test("a study as a Slurm job array: the local executor's numbers, cancel and resubmit, status along the way, the report after", {
  skip: missing ?? false,
  timeout: 600_000,
}, async () => {
  const env = cluster!.env;
  const cli = cliWith({ env, timeout: 300_000 });
  // The local executor's results, for comparison.
  assert.equal(cli('study', 'run', path.join(dir, 'local.json')).status, 0);
  const slurmSpec = path.join(dir, 'slurm.json');
  const sub = cli('study', 'run', slurmSpec, '--executor', 'slurm', '--max-parallel', '2');
  assert.equal(sub.status, 0, sub.stderr);
  const first = JSON.parse(sub.stdout) as { arrayJob: string; reportJob: string; runs: string[] };
  assert.equal(first.runs.length, 4);
  assert.match(first.arrayJob, /^\d+$/);
  // Status while the array runs: at most 2 running, none failed.
  const during = JSON.parse(cli('study', 'status', slurmSpec, '--json').stdout) as { state: string }[];
  assert.ok(during.filter((s) => s.state === 'running').length <= 2);
  assert.ok(!during.some((s) => s.state === 'failed'), JSON.stringify(during));
  await waitForJobs(env, [first.arrayJob, first.reportJob]);
  const done = JSON.parse(cli('study', 'status', slurmSpec, '--json').stdout) as { id: string; state: string }[];
  assert.deepEqual(
    done.map((s) => s.state),
    ['done', 'done', 'done', 'done'],
    JSON.stringify(done),
  );
  for (const id of first.runs) {
    const [a, b] = [await values('slurm', id), await values('local', id)];
    assert.equal(a.length, b.length, id);
    for (const [i, v] of a.entries()) assert.ok(Math.abs(v - b[i]) <= 1e-5 * Math.abs(b[i]), `${id}: ${v} vs ${b[i]}`);
  }
  await fs.stat(path.join(dir, 'slurm', 'table.md')); // the report job ran after the array
  // Cancel one run mid-way, then submit again: it resumes and ends with the same numbers.
  const id = 'rooted-k2-lr1-g1-s1';
  const reference = await values('slurm', id);
  await fs.rm(path.join(dir, 'slurm', 'runs', id), { recursive: true });
  await fs.rm(path.join(dir, 'slurm', 'records', `${id}.json`)); // a run with a record is finished
  const again = JSON.parse(cli('study', 'run', slurmSpec, '--executor', 'slurm').stdout) as { arrayJob: string; reportJob: string; runs: string[] };
  assert.deepEqual(again.runs, [id], 'only the unfinished run is submitted');
  const runDir = path.join(dir, 'slurm', 'runs', id);
  while (!(await listSnapshots(runDir).catch(() => [])).length) await new Promise((r) => setTimeout(r, 100));
  spawnSync('scancel', [again.arrayJob], { env: { ...process.env, ...env } });
  await waitForJobs(env, [again.arrayJob]);
  const cancelled = (JSON.parse(cli('study', 'status', slurmSpec, '--json').stdout) as { id: string; state: string }[]).find((s) => s.id === id)!;
  assert.ok(['stopped', 'done'].includes(cancelled.state), JSON.stringify(cancelled));
  spawnSync('scancel', [again.reportJob], { env: { ...process.env, ...env } });
  const third = JSON.parse(cli('study', 'run', slurmSpec, '--executor', 'slurm').stdout) as { arrayJob: string | null; reportJob: string; runs: string[] };
  if (third.arrayJob) await waitForJobs(env, [third.arrayJob, third.reportJob]);
  const after = await values('slurm', id);
  assert.equal(after.length, reference.length, 'each snapshot evaluated once');
  for (const [i, v] of after.entries()) assert.ok(Math.abs(v - reference[i]) <= 1e-5 * Math.abs(reference[i]), `${v} vs ${reference[i]}`);
});
