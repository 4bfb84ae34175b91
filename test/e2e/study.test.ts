// `stylegan-rlo study`: a spec's grid of runs, run here by the local executor, resumed after a kill,
// skipped when done, never run twice at once; its numbers equal a hand-started finetune's; and
// the report's tables, plots and page. A tiny network and a few iterations per run.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CLI, cli } from '../cli_helper.js';
import { spawn } from 'node:child_process';
import { finetune } from '../../src/train/run.js';
import { expandRuns, readStudySpec } from '../../src/study/spec.js';
import { lockRunDir } from '../../src/io/run_lock.js';
import { evaluationSchedule, recordFile } from '../../src/study/runs.js';
import { listSnapshots } from '../../src/io/run_layout.js';
import { tinyTrainingFixture } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, specFile: string;
before(async () => {
  await testBackend();
  const f = await tinyTrainingFixture('study', 6);
  dir = f.dir;
  specFile = path.join(dir, 'spec.json');
  await fs.writeFile(
    specFile,
    JSON.stringify({
      network: path.basename(f.ckpt),
      data: 'data',
      out: 'study',
      kimg: 0.016,
      snapKimg: 0.008,
      metrics: { features: 'emoji', num: 8 },
      losses: [{ loss: 'logistic' }, { loss: 'rooted', k: 2 }],
      seeds: [0, 1],
      options: { batch: 4, grid: [2, 2], aug: 'fixed', p: 0.2 },
    }),
  );
});

const metricValues = async (runDir: string) =>
  (await fs.readFile(path.join(runDir, 'metric-fed.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { kimg: number; value: number; kernel: number });

test('a bad spec is refused in one line naming the key', async () => {
  const bad = path.join(dir, 'bad.json');
  for (const [spec, want] of [
    [{ network: 'x', data: 'd', out: 'o', kimg: 1, seeds: [0], losses: [{ loss: 'hinge' }] }, /"losses\[0\]\.loss" must be "logistic" or "rooted"/],
    [{ network: 'x', data: 'd', out: 'o', kimg: -1, seeds: [0], losses: [{ loss: 'logistic' }] }, /"kimg" must be a number > 0/],
    [
      { network: 'x', data: 'd', out: 'o', kimg: 1, seeds: [0], losses: [{ loss: 'logistic' }], options: { glr: 1 } },
      /"options\.glr" is set by the study itself/,
    ],
    [{ network: 'x', data: 'd', out: 'o', kimg: 1, seed: [0], losses: [{ loss: 'logistic' }] }, /"seed" is not a study key/],
  ] as const) {
    await fs.writeFile(bad, JSON.stringify(spec));
    const r = cli('study', 'plan', bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('plan, run (two at a time), status, run again (nothing to do); the numbers equal a hand-started finetune', async () => {
  const plan = cli('study', 'plan', specFile);
  assert.equal(plan.status, 0, plan.stderr);
  assert.match(plan.stdout, /4 runs: 0 done, 0 running, 0 stopped, 0 failed, 4 pending/);
  const run = cli('study', 'run', specFile, '--jobs', '2');
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /study: 4 ran, 0 skipped, 0 failed/);
  const status = JSON.parse(cli('study', 'status', specFile, '--json').stdout) as { id: string; state: string; kimg: number }[];
  assert.deepEqual(
    status.map((s) => [s.id, s.state, s.kimg]),
    [
      ['logistic-lr1-g1-s0', 'done', 0.016],
      ['logistic-lr1-g1-s1', 'done', 0.016],
      ['rooted-k2-lr1-g1-s0', 'done', 0.016],
      ['rooted-k2-lr1-g1-s1', 'done', 0.016],
    ],
  );
  const again = cli('study', 'run', specFile);
  assert.match(again.stderr, /study: 0 ran, 4 skipped, 0 failed/);
  // Each finished run left its record (what outlives the run directory): its end and its metric records.
  const spec = await readStudySpec(specFile);
  const runs = await expandRuns(spec);
  for (const x of runs) {
    const rec = JSON.parse(await fs.readFile(recordFile(spec, x.id), 'utf8'));
    assert.deepEqual([rec.id, rec.state, rec.kimg], [x.id, 'done', 0.016]);
    assert.equal(rec.detail, `done: ${x.id} (kimg 0.016)`, 'no path of this machine');
    assert.equal(rec.backends.length, 1, 'one start');
    assert.match(rec.backends[0], /^cpu/, 'what computed it');
    assert.deepEqual(rec.metrics, await metricValues(x.runDir));
  }
  // The same run started by hand, in this process with another thread count: the same numbers
  // (to 1e-5 relative: float sums over other thread splits differ in their last bits).
  const r = runs.find((x) => x.id === 'rooted-k2-lr1-g1-s1')!;
  const byHand = await finetune({ ...r.args, runDir: path.join(dir, 'by-hand') }, { log: () => {} });
  const [a, b] = [await metricValues(r.runDir), await metricValues(byHand.runDir)];
  assert.deepEqual(
    a.map((x) => x.kimg),
    evaluationSchedule(spec, r),
    "a run's evaluations are its study's schedule",
  );
  assert.deepEqual(
    a.map((x) => x.kimg),
    b.map((x) => x.kimg),
  );
  for (const [i, x] of a.entries()) assert.ok(Math.abs(x.value - b[i].value) <= 1e-5 * Math.abs(b[i].value), `${x.value} vs ${b[i].value}`);
});

test('a run killed mid-way resumes from its last snapshot and ends with the numbers of an uninterrupted one; a run in use is skipped', async () => {
  const spec = await readStudySpec(specFile);
  const runs = await expandRuns(spec);
  const r = runs.find((x) => x.id === 'logistic-lr1-g1-s1')!;
  const finished = await metricValues(r.runDir);
  // To run a finished run again: delete its run directory and its record.
  await fs.rm(r.runDir, { recursive: true });
  await fs.rm(recordFile(spec, r.id));
  // SIGKILL once the first snapshot is there.
  const child = spawn(process.execPath, [CLI, 'study', 'exec', specFile, r.id], { stdio: 'ignore', env: { ...process.env, STYLEGAN_RLO_BACKEND: 'cpu' } });
  let exited: number | null | undefined;
  const exit = new Promise((res) =>
    child.on('exit', (code) => {
      exited = code;
      res(code);
    }),
  );
  while (exited === undefined && !(await listSnapshots(r.runDir).catch(() => [])).length) await new Promise((res) => setTimeout(res, 50));
  assert.equal(exited, undefined, 'the run started again (it did not end before its first snapshot)');
  child.kill('SIGKILL');
  await exit;
  const mid = JSON.parse(cli('study', 'status', specFile, '--json').stdout).find((s: { id: string }) => s.id === r.id);
  assert.ok(mid.state === 'stopped' || mid.state === 'done', JSON.stringify(mid));
  // Another executor holds a run: it is left alone.
  const other = runs.find((x) => x.id === 'rooted-k2-lr1-g1-s0')!;
  const lock = await lockRunDir(other.runDir, 'test');
  const resumed = cli('study', 'run', specFile);
  await lock.release();
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /rooted-k2-lr1-g1-s0 is running \(process \d+ on .*\); skipped/);
  const after = await metricValues(r.runDir);
  assert.deepEqual(
    after.map((x) => x.kimg),
    finished.map((x) => x.kimg),
    'each snapshot evaluated once',
  );
  for (const [i, x] of after.entries())
    assert.ok(Math.abs(x.value - finished[i].value) <= 1e-5 * Math.abs(finished[i].value), `${x.value} vs ${finished[i].value}`);
});

test('report: the table, statistics against logistic, curves, the per-seed strip plot and a page', async () => {
  const r = cli('study', 'report', specFile);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\| logistic \| [\d.]+ ± 0\.00 \| [\d.]+ ± [\d.]+ \| [\d.]+ ± [\d.]+ \|$/m);
  assert.match(r.stdout, /^\| rooted k=2 \| logistic \| -?[\d.]+ \| -?[\d.]+ \([\d.]+\) \| [\d.]+ \| \[-?[\d.]+, -?[\d.]+\] \|/m);
  const out = path.join(dir, 'study');
  for (const f of ['table.md', 'results.json', 'fed.svg', 'fed.png', 'ked.svg', 'strip.svg', 'strip.png', 'index.html']) await fs.stat(path.join(out, f));
  const strip = await fs.readFile(path.join(out, 'strip.svg'), 'utf8');
  assert.equal((strip.match(/<circle /g) ?? []).length, 4, 'one dot per run');
  const results = JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8'));
  assert.equal(results.finalKimg, 0.016);
  assert.equal(results.points.length, 4 * 3, 'kimg 0 and two snapshots per run');
  // A results file is committed: its paths are relative to the study folder, naming no machine.
  assert.equal(results.spec.out, '.');
  assert.ok(!path.isAbsolute(results.spec.network) && !path.isAbsolute(results.spec.data), JSON.stringify(results.spec));
  assert.equal(path.resolve(out, results.spec.data), path.resolve(path.dirname(specFile), JSON.parse(await fs.readFile(specFile, 'utf8')).data));
});
