// The study command end to end on a tiny network: every (loss, seed) run, the table with Welch's
// t-test and bootstrap CI, the plots; a second invocation re-runs nothing; a missing run is redone
// alone (it resumes where it stopped).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { defaultEmojiFeaturesPath } from '../../src/metrics/features.js';
import { tinyTrainingFixture } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('study'));
});

test('compare-losses: runs, table, plots; resumes instead of redoing', {
  skip: existsSync(defaultEmojiFeaturesPath()) ? false : 'emoji feature network not built',
}, async () => {
  const out = path.join(dir, 'study');
  const run = () =>
    spawnSync(
      process.execPath,
      [
        path.resolve('dist/scripts/compare-losses.js'),
        '--out',
        out,
        '--network',
        ckpt,
        '--data',
        data,
        '--kimg',
        '0.008',
        '--snap-kimg',
        '0.004',
        '--seeds',
        '2',
        '--ks',
        '2',
        '--num',
        '8',
      ],
      { encoding: 'utf8', env: { ...process.env, STYLEGAN_RLO_BACKEND: 'cpu' }, timeout: 300_000 },
    );
  const first = run();
  assert.equal(first.status, 0, first.stderr);
  assert.deepEqual((await fs.readdir(path.join(out, 'runs'))).sort(), ['logistic-seed0', 'logistic-seed1', 'rooted-k2-seed0', 'rooted-k2-seed1']);
  assert.match(first.stdout, /\| logistic \| [\d.]+ ± 0\.00 \|/);
  assert.match(first.stdout, /\| rooted k=2 \| -?[\d.]+ \| -?[\d.]+ \([\d.]+\) \| [\d.]+ \| \[-?[\d.]+, -?[\d.]+\] \|/);
  for (const f of ['results.json', 'table.md', 'fed.png', 'fed.svg', 'ked.png', 'ked.svg']) assert.ok(existsSync(path.join(out, f)), f);
  const results = JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8'));
  assert.equal(results.points.length, 4 * 2, 'start + 1 snapshot per run (one iteration of 16 images passes 0.008 kimg)');
  assert.equal(results.tests[0].variant, 'rooted k=2');

  const again = run();
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /study: (starting|continuing)/, 'finished runs are not redone');
  assert.equal(again.stdout, first.stdout.replace(/minutes/, 'minutes'));

  await fs.rm(path.join(out, 'runs', 'rooted-k2-seed1'), { recursive: true });
  const third = run();
  assert.equal(third.status, 0, third.stderr);
  assert.deepEqual(third.stderr.match(/study: \w+ \S+/g), ['study: starting rooted-k2-seed1']);
});
