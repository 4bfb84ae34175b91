// Per-loss tuning: a selection study's settings scored by the kernel distance at the last kimg
// (a failed run ranks last), each loss's choice, the confirmation study built from it on fresh
// seeds, and the refusals (an unfinished selection, a reused seed, other data, multipliers given
// twice). Run directories are written by hand here: what a finished run leaves (log.txt's
// "done:" line, metric-fed.jsonl), so no training is needed. And the Fréchet distance
// extrapolated to infinitely many samples (Chong & Forsyth) against Gaussian data whose true
// distance is known.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { frechetDistanceExtrapolated, frechetDistanceFromFeatures } from '../../src/metrics/fid.js';
import { Rng } from '../../src/rng.js';
import { runThreads } from '../../src/study/local.js';
import { evaluationSchedule, failureFile, keepRecords, readMetricRecords, recordFile, runState } from '../../src/study/runs.js';
import { tickSchedule } from '../../src/train/tick.js';
import { scoreSettings, studyRuns } from '../../src/study/selection.js';
import { executionOrder, expandRuns, readStudySpec } from '../../src/study/spec.js';

const BASE = {
  network: 'net.safetensors',
  data: 'data',
  kimg: 1,
  snapKimg: 0.5,
  metrics: { features: 'emoji', num: 100 },
  losses: [{ loss: 'logistic' }, { loss: 'rooted', k: 2 }],
  options: { gamma: 1, batch: 4 }, // evaluations at 0.5 and 1 kimg
};

async function studyDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'rlo-selection-'));
}

async function writeSpec(dir: string, name: string, extra: object): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, JSON.stringify({ ...BASE, ...extra }));
  return file;
}

/** A finished run's files: its log's done line and one metric record per kimg. */
async function finishRun(runDir: string, kernelAtEnd: number): Promise<void> {
  await fs.mkdir(runDir, { recursive: true });
  await fs.writeFile(path.join(runDir, 'log.txt'), 'started\ndone: 1 kimg\n');
  const rec = (kimg: number, kernel: number) => JSON.stringify({ kimg, value: 100 + kernel, valueInf: 90 + kernel, kernel, features: 'emoji', num: 100 });
  await fs.writeFile(path.join(runDir, 'metric-fed.jsonl'), `${rec(0.5, 500)}\n${rec(1, kernelAtEnd)}\n`);
}

test('selection: each loss takes the setting with the lowest mean kernel distance; a failed run ranks last', async () => {
  const dir = await studyDir();
  const sel = await readStudySpec(
    await writeSpec(dir, 'select.json', { out: 'select', lrMultipliers: [1, 0.5], gammaMultipliers: [1, 10], seeds: [100, 101] }),
  );
  const runs = await expandRuns(sel);
  assert.equal(runs.length, 2 * 2 * 2 * 2);
  // logistic: best at lr x0.5, gamma x10 (means 20); rooted: lr x1, gamma x10 would be best (5) but one of its runs failed.
  const kernel = (r: (typeof runs)[number]) => {
    const base = r.loss === 'logistic' ? { '1|1': 50, '1|10': 40, '0.5|1': 30, '0.5|10': 20 } : { '1|1': 60, '1|10': 5, '0.5|1': 25, '0.5|10': 70 };
    return (base as Record<string, number>)[`${r.lrMult}|${r.gammaMult}`] + (r.seed === 100 ? -1 : 1);
  };
  for (const r of runs) await finishRun(r.runDir, kernel(r));
  const failed = runs.find((r) => r.loss === 'rooted' && r.lrMult === 1 && r.gammaMult === 10 && r.seed === 101)!;
  await fs.writeFile(path.join(failed.runDir, 'log.txt'), 'started\n');
  await fs.mkdir(path.dirname(failureFile(sel, failed.id)), { recursive: true });
  await fs.writeFile(failureFile(sel, failed.id), 'training diverged: 4 steps with non-finite losses\n');
  // Any other failure is not a result: the selection is unfinished until the run runs again.
  const crashed = runs.find((r) => r.loss === 'logistic' && r.seed === 100)!;
  await fs.writeFile(path.join(crashed.runDir, 'log.txt'), 'started\n');
  await fs.writeFile(failureFile(sel, crashed.id), 'emoji feature network not found\n');
  await assert.rejects(scoreSettings(sel, runs), /is not finished \(1 run\(s\) without a result/);
  await fs.rm(failureFile(sel, crashed.id));
  await finishRun(crashed.runDir, kernel(crashed));
  const scores = await scoreSettings(sel, runs);
  const chosen = scores.filter((s) => s.chosen).map((s) => [s.loss, s.lrMult, s.gammaMult, s.kernel]);
  assert.deepEqual(chosen, [
    ['logistic', 0.5, 10, 20],
    ['rooted k=2', 0.5, 1, 25],
  ]);
  const bad = scores.find((s) => s.loss === 'rooted k=2' && s.lrMult === 1 && s.gammaMult === 10)!;
  assert.equal(bad.failed, 1);
  assert.equal(bad.kernel, Infinity);

  // The confirmation study: each loss at its chosen setting, on fresh seeds.
  const confirmFile = await writeSpec(dir, 'confirm.json', { out: 'confirm', tunedFrom: 'select.json', seeds: [0, 1, 2] });
  const confirm = await studyRuns(await readStudySpec(confirmFile));
  assert.deepEqual(
    confirm.map((r) => r.id),
    ['logistic-lr0p5-g10-s0', 'logistic-lr0p5-g10-s1', 'logistic-lr0p5-g10-s2', 'rooted-k2-lr0p5-g1-s0', 'rooted-k2-lr0p5-g1-s1', 'rooted-k2-lr0p5-g1-s2'],
  );
  const lr0 = confirm[0].args.glr! / 0.5;
  assert.equal(confirm[0].args.glr, lr0 * 0.5);
  assert.equal(confirm[0].args.gamma, 10);
  assert.equal(confirm[3].args.gamma, 1);
  assert.match(confirm[3].variant, /^rooted k=2 \(lr x0\.5\)$/);
  // Executors start seed by seed, each loss in the spec's order within a seed: a tuned setting is
  // in no multiplier list, and must not reorder the losses (it put rooted lr x2 before logistic).
  const confirmSpec = await readStudySpec(confirmFile);
  const run = (id: string, seed: number, lrMult: number, gammaMult: number) => ({ ...confirm[0], id, seed, lrMult, gammaMult });
  const tunedRuns = [run('logistic-s0', 0, 1, 1), run('logistic-s1', 1, 1, 1), run('rooted-s0', 0, 2, 10), run('rooted-s1', 1, 2, 10)];
  assert.deepEqual(
    executionOrder(confirmSpec, tunedRuns).map((r) => r.id),
    ['logistic-s0', 'rooted-s0', 'logistic-s1', 'rooted-s1'],
  );
});

test('selection refusals: unfinished selection, a reused seed, other data, multipliers beside tunedFrom', async () => {
  const dir = await studyDir();
  await writeSpec(dir, 'select.json', { out: 'select', lrMultipliers: [1, 2], seeds: [100] });
  const sel = await readStudySpec(path.join(dir, 'select.json'));
  const runs = await expandRuns(sel);
  for (const r of runs.slice(1)) await finishRun(r.runDir, 10);
  const confirm = await writeSpec(dir, 'confirm.json', { out: 'confirm', tunedFrom: 'select.json', seeds: [0, 1] });
  await assert.rejects(
    studyRuns(await readStudySpec(confirm)),
    /selection study .* is not finished \(1 run\(s\) without a result at 1 kimg, e\.g\. logistic-lr1-g1-s100\); run it first/,
  );
  await finishRun(runs[0].runDir, 10);
  assert.equal((await studyRuns(await readStudySpec(confirm))).length, 4);
  const reused = await writeSpec(dir, 'reused.json', { out: 'c2', tunedFrom: 'select.json', seeds: [1, 100] });
  await assert.rejects(studyRuns(await readStudySpec(reused)), /seed 100 is also a selection seed .*; confirm on fresh seeds/);
  const other = await writeSpec(dir, 'other.json', { out: 'c3', tunedFrom: 'select.json', seeds: [0, 1], data: 'elsewhere' });
  await assert.rejects(studyRuns(await readStudySpec(other)), /its data differs from its selection study's/);
  const both = await writeSpec(dir, 'both.json', { out: 'c4', tunedFrom: 'select.json', seeds: [0, 1], lrMultipliers: [1] });
  await assert.rejects(readStudySpec(both), /"lrMultipliers" cannot be given with "tunedFrom"/);
});

test('records: a finished run is finished without its run directory; a confirmation tunes from the selection report committed', async () => {
  const dir = await studyDir();
  const sel = await readStudySpec(await writeSpec(dir, 'select.json', { out: 'select', lrMultipliers: [1, 2], seeds: [100, 101] }));
  assert.equal(sel.records, path.join(dir, 'select', 'records'), 'OUT/records unless the spec names a folder');
  const runs = await expandRuns(sel);
  for (const [i, r] of runs.entries()) await finishRun(r.runDir, 10 + i);
  // One diverged (a result), one stopped at a snapshot and one crashed (not results): no record for those two.
  const [diverged, stopped, crashed] = [runs[1], runs[2], runs[3]];
  await fs.writeFile(path.join(diverged.runDir, 'log.txt'), 'started\n');
  await fs.mkdir(path.dirname(failureFile(sel, diverged.id)), { recursive: true });
  await fs.writeFile(failureFile(sel, diverged.id), 'training diverged: 4 steps with non-finite losses\n');
  await fs.writeFile(path.join(stopped.runDir, 'log.txt'), 'started\n');
  await fs.writeFile(path.join(crashed.runDir, 'log.txt'), 'started\n');
  await fs.writeFile(failureFile(sel, crashed.id), 'out of memory\n');
  const before = await Promise.all(runs.map((r) => runState(sel, r)));
  const metricsBefore = await Promise.all(runs.map((r) => readMetricRecords(sel, r, () => {})));
  assert.equal(await keepRecords(sel, runs), runs.length - 2);
  assert.equal(await keepRecords(sel, runs), 0, 'each record once');
  await fs.stat(recordFile(sel, diverged.id));
  await assert.rejects(fs.stat(recordFile(sel, crashed.id)), /ENOENT/);
  // The machine is gone: run directories and status with it; the records stay (they are committed).
  await fs.rm(path.join(dir, 'select', 'runs'), { recursive: true });
  await fs.rm(path.join(dir, 'select', 'status'), { recursive: true });
  const after = await Promise.all(runs.map((r) => runState(sel, r)));
  for (const [i, r] of runs.entries()) {
    if (r === stopped || r === crashed) assert.equal(after[i].state, 'pending', r.id);
    else assert.deepEqual(after[i], before[i], r.id);
    if (r !== stopped && r !== crashed) assert.deepEqual(await readMetricRecords(sel, r, () => {}), metricsBefore[i]);
  }
  assert.equal(after[1].state, 'failed');
  for (const r of [stopped, crashed]) await finishRun(r.runDir, 50);
  const scores = await scoreSettings(sel, runs);
  assert.deepEqual(
    scores.filter((x) => x.chosen).map((x) => [x.loss, x.lrMult]),
    [
      ['logistic', 2],
      ['rooted k=2', 1],
    ],
    'logistic lr x1 ranks last (a run diverged)',
  );
  // A record cut short, or another run's, is one line naming it and what to do.
  const good = await fs.readFile(recordFile(sel, runs[0].id), 'utf8');
  for (const bad of [good.slice(0, 40), good.replace(runs[0].id, runs[4].id), JSON.stringify({ ...JSON.parse(good), metrics: 3 }), 'null']) {
    await fs.writeFile(recordFile(sel, runs[0].id), bad);
    await assert.rejects(runState(sel, runs[0]), /is not a run record of logistic-lr1-g1-s100 \(cut or edited\?\); delete it and run the study again/);
  }
  await fs.rm(recordFile(sel, runs[0].id));
  await finishRun(runs[0].runDir, 10);

  // The selection's report (its results.json, committed elsewhere) stands in for its runs.
  const report = path.join(dir, 'committed', 'results.json');
  await fs.mkdir(path.dirname(report));
  const portable = { ...JSON.parse(await fs.readFile(path.join(dir, 'select.json'), 'utf8')), network: '../net.safetensors', data: '../data', out: '.' };
  await fs.writeFile(report, JSON.stringify({ spec: portable, missing: [], selection: scores }));
  const fromSpec = await studyRuns(await readStudySpec(await writeSpec(dir, 'c-spec.json', { out: 'c1', tunedFrom: 'select.json', seeds: [0, 1] })));
  const fromReport = await studyRuns(
    await readStudySpec(await writeSpec(dir, 'c-report.json', { out: 'c1', tunedFrom: 'committed/results.json', seeds: [0, 1] })),
  );
  assert.deepEqual(
    fromReport.map((r) => [r.id, r.args.glr, r.args.gamma]),
    fromSpec.map((r) => [r.id, r.args.glr, r.args.gamma]),
  );
  assert.equal(fromReport[0].id, 'logistic-lr2-g1-s0');
  for (const [change, want] of [
    [{ missing: ['logistic-lr1-g1-s100'] }, /reports a selection with 1 run\(s\) without a result \(e\.g\. logistic-lr1-g1-s100\); finish the selection/],
    [{ selection: null }, /is not the report of a finished selection study \(it chose no settings\)/],
    [{ spec: { ...portable, seeds: [1] } }, /seed 1 is also a selection seed/],
    [{ spec: { ...portable, data: '../other' } }, /its data differs from its selection study's/],
  ] as const) {
    await fs.writeFile(report, JSON.stringify({ ...{ spec: portable, missing: [], selection: scores }, ...change }));
    await assert.rejects(studyRuns(await readStudySpec(path.join(dir, 'c-report.json'))), want);
  }
});

test("a study's evaluation schedule: every tick end, the last the run's end; a stop snapshot's record is off it and left out", async () => {
  assert.deepEqual(tickSchedule(16, 1, 4), [1.008, 2.016, 3.024, 4]);
  assert.deepEqual(tickSchedule(16, 1, 1), [1.008], 'a run ends at the first multiple of the batch at or past its kimg');
  assert.deepEqual(tickSchedule(4, 0.008, 0.016), [0.008, 0.016]);
  assert.deepEqual(tickSchedule(16, 0.5, 1.2), [0.512, 1.024, 1.2]);
  const dir = await studyDir();
  const spec = await readStudySpec(await writeSpec(dir, 'sched.json', { out: 'sched', seeds: [0, 1] }));
  const runs = await expandRuns(spec);
  assert.deepEqual(evaluationSchedule(spec, runs[0]), [0.5, 1]);
  for (const r of runs) await finishRun(r.runDir, 10);
  // Stopped at 0.62 kimg and resumed: that snapshot was evaluated too.
  const rec = (kimg: number) => JSON.stringify({ kimg, value: 1, valueInf: 1, kernel: 1, features: 'emoji', num: 100 });
  const file = path.join(runs[0].runDir, 'metric-fed.jsonl');
  const lines = (await fs.readFile(file, 'utf8')).trim().split('\n');
  await fs.writeFile(file, `${[lines[0], rec(0.62), lines[1]].join('\n')}\n`);
  assert.deepEqual(
    (await readMetricRecords(spec, runs[0], () => {})).map((x) => x.kimg),
    [0.5, 1],
  );
  await keepRecords(spec, runs);
  assert.equal(JSON.parse(await fs.readFile(recordFile(spec, runs[0].id), 'utf8')).metrics.length, 3, 'the record keeps every evaluation');
  assert.deepEqual(
    (await readMetricRecords(spec, runs[0], () => {})).map((x) => x.kimg),
    [0.5, 1],
  );
  // A selection whose kimg is no multiple of the batch scores each run at its end (1.008 kimg here).
  const odd = await readStudySpec(
    await writeSpec(dir, 'odd.json', { out: 'odd', seeds: [5], lrMultipliers: [1, 2], snapKimg: 1, options: { gamma: 1, batch: 16 } }),
  );
  for (const r of await expandRuns(odd)) {
    await fs.mkdir(r.runDir, { recursive: true });
    await fs.writeFile(path.join(r.runDir, 'log.txt'), 'started\ndone: 1.008 kimg\n');
    await fs.writeFile(
      path.join(r.runDir, 'metric-fed.jsonl'),
      `${JSON.stringify({ kimg: 1.008, value: 1, kernel: r.lrMult, features: 'emoji', num: 100 })}\n`,
    );
  }
  assert.deepEqual(
    (await scoreSettings(odd, await expandRuns(odd))).filter((x) => x.chosen).map((x) => [x.loss, x.lrMult]),
    [
      ['logistic', 1],
      ['rooted k=2', 1],
    ],
  );
});

test('Fréchet distance extrapolated to infinitely many samples: the small-sample bias goes, the true distance stays', () => {
  // Averaged over trials, so that the check is about the bias, not one draw's noise.
  const rng = new Rng('fd-inf-test');
  const dim = 16,
    nReal = 20000,
    nGen = 400,
    trials = 12;
  const real = rng.normalArray(nReal * dim);
  for (const scale of [1, 1.5]) {
    const truth = frechetDistanceFromFeatures(
      real,
      nReal,
      Float64Array.from(rng.normalArray(nReal * dim), (v) => v * scale),
      nReal,
      dim,
      1,
    );
    let plain = 0,
      inf = 0;
    for (let t = 0; t < trials; t++) {
      const gen = Float64Array.from(rng.normalArray(nGen * dim), (v) => v * scale);
      plain += frechetDistanceFromFeatures(real, nReal, gen, nGen, dim, 1) / trials;
      const r = frechetDistanceExtrapolated(real, nReal, gen, nGen, dim, 1, () => rng.next());
      inf += r.value / trials;
      assert.deepEqual([r.sizes[0], r.sizes.at(-1), r.sizes.length], [80, 400, 10]);
    }
    const bias = plain - truth;
    assert.ok(bias > 0.03, `the plain distance at ${nGen} samples is biased upward (${plain} vs ${truth})`);
    assert.ok(Math.abs(inf - truth) < bias / 4, `extrapolated ${inf} is near the truth ${truth} (plain ${plain})`);
  }
});

test("threads: a spec fixes each run's CPU threads whatever the executor; a bad value is one line", async () => {
  const dir = await studyDir();
  const fixed = await readStudySpec(await writeSpec(dir, 'fixed.json', { out: 'a', seeds: [0, 1], threads: 2 }));
  assert.equal(runThreads(fixed, 1), '2');
  assert.equal(runThreads(fixed, 2), '2', 'two jobs at once do not change it');
  const free = await readStudySpec(await writeSpec(dir, 'free.json', { out: 'b', seeds: [0, 1] }));
  assert.equal(free.threads, null);
  const saved = process.env.OMP_NUM_THREADS;
  try {
    delete process.env.OMP_NUM_THREADS;
    assert.equal(runThreads(free, 2), String(Math.max(1, Math.floor(os.availableParallelism() / 2))), 'the cores divided among the jobs');
    process.env.OMP_NUM_THREADS = '3';
    assert.equal(runThreads(free, 2), '3', 'else the environment');
  } finally {
    if (saved === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = saved;
  }
  await assert.rejects(
    readStudySpec(await writeSpec(dir, 'bad.json', { out: 'c', seeds: [0, 1], threads: 0 })),
    /"threads" must be a whole number of CPU threads per run, 1 or more/,
  );
});
