// The loss study's statistics against textbook values: Student's t tail probabilities (tables of
// the t distribution), Welch's t and degrees of freedom worked by hand, a bootstrap interval that
// covers the true difference, mean ± sd per variant and kimg, and the error-band plot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aggregate, bootstrapDiffCI, incompleteBeta, studentTwoSidedP, welch } from '../../src/metrics/study.js';
import { PLOT_COLORS, stripPlotSvg, studyPlotSvg } from '../../src/report/plots.js';
import { formatStudyTable, seedsWithRecords } from '../../src/study/report.js';
import { readMetricRecords } from '../../src/study/runs.js';
import { studyRuns } from '../../src/study/selection.js';
import { readStudySpec } from '../../src/study/spec.js';

const near = (a: number, e: number, tol: number, what: string) => assert.ok(Math.abs(a - e) <= tol, `${what}: ${a} vs ${e}`);

test("Student's t two-sided p-values match the t table", () => {
  near(studentTwoSidedP(2.228, 10), 0.05, 2e-4, 't 2.228 df 10');
  near(studentTwoSidedP(2.0, 10), 0.0734, 2e-4, 't 2.0 df 10');
  near(studentTwoSidedP(1.0, 1), 0.5, 1e-9, 't 1 df 1 (Cauchy)');
  near(studentTwoSidedP(12.706, 1), 0.05, 2e-4, 't 12.706 df 1');
  near(studentTwoSidedP(1.96, 1e6), 0.05, 2e-4, 'normal limit');
  near(studentTwoSidedP(0, 5), 1, 1e-12, 't 0');
  near(incompleteBeta(0.5, 2, 2), 0.5, 1e-12, 'I_0.5(2,2)');
  near(incompleteBeta(0.3, 1, 1), 0.3, 1e-12, 'I_x(1,1) = x');
});

test("Welch's t: worked example, symmetric, degenerate groups", () => {
  // a = 1..5, b = 2,4,..,10: diff -3, se^2 = 2.5/5 + 10/5 = 2.5, df = 2.5^2 / (0.5^2/4 + 2^2/4) = 5.882.
  const w = welch([1, 2, 3, 4, 5], [2, 4, 6, 8, 10]);
  near(w.diff, -3, 1e-12, 'diff');
  near(w.t, -3 / Math.sqrt(2.5), 1e-12, 't');
  near(w.df, 6.25 / 1.0625, 1e-9, 'df');
  assert.ok(w.p > 0.1 && w.p < 0.12, `p ${w.p}`);
  near(welch([2, 4, 6, 8, 10], [1, 2, 3, 4, 5]).p, w.p, 1e-12, 'symmetric');
  assert.equal(welch([1, 1], [1, 1]).p, 1);
  assert.throws(() => welch([1], [1, 2]), /at least 2 values/);
});

test('bootstrap CI covers the difference and narrows with more data', () => {
  const a = [10, 11, 12, 13, 14],
    b = [0, 1, 2, 3, 4];
  const [lo, hi] = bootstrapDiffCI(a, b);
  assert.ok(lo <= 10 && hi >= 10 && lo > 5, `[${lo}, ${hi}]`);
  const wide = bootstrapDiffCI([1, 9], [5, 5]);
  assert.ok(wide[1] - wide[0] > hi - lo);
  assert.deepEqual(bootstrapDiffCI(a, b), [lo, hi], 'seeded: the same interval every time');
});

test('aggregate: mean ± sample sd per variant and kimg; the plot has one band per variant', () => {
  const cells = aggregate([
    { variant: 'logistic', seed: 0, kimg: 1, value: 10, kernel: 1 },
    { variant: 'logistic', seed: 1, kimg: 1, value: 14, kernel: 3 },
    { variant: 'rooted k=2', seed: 0, kimg: 1, value: 8, kernel: null },
    { variant: 'rooted k=2', seed: 1, kimg: 1.0000001, value: 8, kernel: 2 },
  ]);
  assert.deepEqual(
    cells.map((c) => [c.variant, c.kimg, c.n, c.mean]),
    [
      ['logistic', 1, 2, 12],
      ['rooted k=2', 1, 2, 8],
    ],
  );
  near(cells[0].sd, Math.sqrt(8), 1e-12, 'sd');
  assert.equal(cells[0].kernelMean, 2);
  assert.equal(cells[1].kernelMean, null, 'a missing kernel value leaves the mean undefined');
  const svg = studyPlotSvg([...cells, ...cells.map((c) => ({ ...c, kimg: 2 }))], 'FED', 'test');
  assert.equal((svg.match(/<polygon /g) ?? []).length, 2);
  assert.equal((svg.match(/<polyline /g) ?? []).length, 2);
  // The order given (a strip plot's) decides colours and legend; whole-numbered x keeps whole ticks.
  const legend = (t: string) =>
    [...t.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="12" height="12" fill="([^"]+)"\/>\s*<text [^>]*>([^<]+)</g)].map((m) => [m[2], m[1]]);
  assert.deepEqual(legend(svg), [
    ['logistic', PLOT_COLORS[0]],
    ['rooted k=2', PLOT_COLORS[1]],
  ]);
  const epochs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].flatMap((e) => cells.map((c) => ({ ...c, kimg: e })));
  const ordered = studyPlotSvg(epochs, 'accuracy', 'test', { xLabel: 'epoch', order: ['rooted k=2', 'logistic'] });
  assert.deepEqual(legend(ordered), [
    ['rooted k=2', PLOT_COLORS[0]],
    ['logistic', PLOT_COLORS[1]],
  ]);
  const ticks = [...ordered.matchAll(/text-anchor="middle">([^<]+)</g)].map((m) => m[1]).filter((t) => t !== 'epoch' && !t.startsWith('accuracy'));
  assert.deepEqual(ticks, ['1', '3', '6', '8', '10']);
});

test("docs/study.md's measured study is the committed one (docs/study/table.md), not an older run's", async () => {
  const { readFileSync } = await import('node:fs');
  const readme = readFileSync('docs/study.md', 'utf8');
  const table = readFileSync('docs/study/table.md', 'utf8');
  const rows = table.split('\n').filter((l) => l.startsWith('| ') || l.startsWith('KED at'));
  assert.ok(rows.length >= 8, 'docs/study/table.md has the FED table, the KED line and the tests table');
  for (const row of rows) assert.ok(readme.includes(row), `docs/study.md lacks docs/study/table.md's line: ${row}`);
  const { seeds } = JSON.parse(readFileSync('docs/study/results.json', 'utf8'));
  assert.match(readme, new RegExp(`FED \\(mean ± sd over ${seeds} seeds`));
});

test("docs/study.md's tuned confirmation is the committed one: its results.json is what the committed records give, and the page quotes its table", async () => {
  const { readFileSync } = await import('node:fs');
  const dir = 'docs/study/fair-gan-confirm';
  const results = JSON.parse(readFileSync(`${dir}/results.json`, 'utf8')) as {
    missing: string[];
    points: { variant: string; seed: number; kimg: number; value: number; kernel: number | null }[];
  };
  assert.deepEqual(results.missing, [], 'every run has records');
  const spec = await readStudySpec('docs/study-specs/fair-gan-confirm.json');
  const runs = await studyRuns(spec);
  assert.equal(runs.length, 32);
  let compared = 0;
  for (const r of runs) {
    const recs = await readMetricRecords(spec, r, () => {});
    assert.equal(recs.length, 4, `${r.id}: its four scheduled evaluations`);
    for (const x of recs) {
      const p = results.points.find((q) => q.variant === r.variant && q.seed === r.seed && q.kimg === x.kimg);
      assert.deepEqual([p?.value, p?.kernel], [x.value, x.kernel], `${r.id} at ${x.kimg} kimg`);
      compared++;
    }
  }
  assert.equal(compared, 32 * 4);
  const page = readFileSync('docs/study.md', 'utf8');
  const table = readFileSync(`${dir}/table.md`, 'utf8');
  const rows = table.split('\n').filter((l) => /^\| (logistic|rooted)/.test(l));
  assert.ok(rows.length >= 8, `${dir}/table.md has the by-kimg and the tests tables`);
  for (const row of rows) assert.ok(page.includes(row), `docs/study.md lacks ${dir}/table.md's line: ${row}`);
});

test("the strip plot puts a tuned variant's setting on a second line under its name", () => {
  const svg = stripPlotSvg(
    [
      { variant: 'logistic', values: [1, 2] },
      { variant: 'rooted k=4 (lr x2, gamma x10)', values: [3, 4] },
      { variant: 'a<b', values: [5] },
    ],
    'KED',
    'sub',
  );
  const labels = [...svg.matchAll(/<text [^>]*>((?:<tspan [^>]*>[^<]*<\/tspan>)+)<\/text>/g)].map((m) =>
    [...m[1].matchAll(/dy="(\d+)">([^<]*)</g)].map((t) => [t[1], t[2]]),
  );
  assert.deepEqual(labels, [
    [['0', 'logistic']],
    [
      ['0', 'rooted k=4'],
      ['16', '(lr x2, gamma x10)'],
    ],
    [['0', 'a&lt;b']],
  ]);
});

test('a report made while runs are missing says how many seeds it has, and one run shows no sd', () => {
  const start = (variant: string, seed: number) => ({ variant, seed, kimg: 0, value: 300, inf: null, kernel: 2000 });
  const variants = [{ variant: 'logistic' }, { variant: 'rooted k=2' }];
  // Every run has the starting point at kimg 0; only seed 0 of each has records of its own.
  const partial = [0, 1, 2].flatMap((seed) => variants.map((v) => start(v.variant, seed)));
  partial.push({ variant: 'logistic', seed: 0, kimg: 1, value: 200, inf: null, kernel: 100 });
  partial.push({ variant: 'rooted k=2', seed: 0, kimg: 1, value: 210, inf: null, kernel: 90 });
  assert.equal(seedsWithRecords(partial, variants, 3), '1 of 3 seeds (the others have no records yet)');
  partial.push({ variant: 'rooted k=2', seed: 1, kimg: 1, value: 220, inf: null, kernel: 95 });
  assert.equal(seedsWithRecords(partial, variants, 3), '1-2 of 3 seeds (the others have no records yet)');
  const full = [0, 1].flatMap((seed) => variants.flatMap((v) => [start(v.variant, seed), { ...start(v.variant, seed), kimg: 1, kernel: 50 + seed }]));
  assert.equal(seedsWithRecords(full, variants, 2), '2 seeds');
  const table = formatStudyTable({
    cells: aggregate(partial),
    tests: [],
    variants,
    metric: 'FED',
    kernelMetric: 'KED',
    finalKimg: 1,
    seeds: seedsWithRecords(partial, variants, 3),
  });
  assert.match(table, /mean ± sd over 1-2 of 3 seeds \(the others have no records yet\)/);
  assert.match(table, /\| logistic \| 1 \| 100\.00 \| 100\.00 \|/, 'one run: its value, no ± 0.00');
  assert.match(table, /\| rooted k=2 \| 2 \| 92\.50 ± 3\.54 \|/);
});
