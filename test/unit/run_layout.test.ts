// The run directory's layout (src/io/run_layout.ts): every name it writes reads back to what it
// encodes, and the run page finds a run's files through it (grids in kimg order, past 9999 kimg;
// a metric chart named from its file when its records do not say).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
  fakesKimg,
  fakesName,
  isHistoryFile,
  isMetricFile,
  isRecordFile,
  metricFileName,
  metricOfFile,
  RUN_FILES,
  snapshotKimg,
  snapshotName,
} from '../../src/io/run_layout.js';
import { writeRunReport } from '../../src/report/run_page.js';
import { tempDir } from '../train_helpers.js';

test('run directory names read back to what they encode', () => {
  for (const nimg of [0, 16, 410016, 9_999_000, 10_000_000]) {
    assert.equal(snapshotKimg(snapshotName(nimg)), nimg / 1000);
    assert.equal(fakesKimg(fakesName(nimg)), nimg / 1000);
  }
  assert.equal(snapshotName(410016), 'network-snapshot-0410.016.safetensors');
  assert.equal(fakesName(410016), 'fakes0410.016.png');
  assert.equal(snapshotKimg(RUN_FILES.fakesInit), null);
  assert.equal(fakesKimg(RUN_FILES.fakesInit), null);
  assert.equal(fakesKimg('fakes0001.000.png.tmp'), null);
  assert.equal(metricOfFile(metricFileName('FED')), 'FED');
  assert.equal(metricOfFile(RUN_FILES.stats), null);
  assert.ok(isMetricFile('metric-fid.jsonl') && !isMetricFile('metric-.jsonl'));
  assert.ok(isRecordFile(RUN_FILES.stats) && isRecordFile('metric-fed.jsonl') && !isRecordFile(RUN_FILES.log));
  assert.ok(isHistoryFile(RUN_FILES.log) && !isHistoryFile(RUN_FILES.options) && !isHistoryFile(snapshotName(16)));
});

test('the run page lists grids in kimg order and names a metric chart from its file', async () => {
  const dir = await tempDir('run-page');
  const png = await fs.readFile(path.resolve('docs/demo-reals.png'));
  await fs.writeFile(path.join(dir, RUN_FILES.options), JSON.stringify({ loss: 'rooted', k: 2, kimg: 20000 }));
  await fs.writeFile(path.join(dir, RUN_FILES.stats), `${JSON.stringify({ kimg: 10000, tick: 3, 'Loss/G/loss': 1 })}\n`);
  for (const f of [RUN_FILES.fakesInit, fakesName(10_000_000), fakesName(9_999_000), RUN_FILES.reals]) await fs.writeFile(path.join(dir, f), png);
  for (const nimg of [10_000_000, 9_999_000]) await fs.writeFile(path.join(dir, snapshotName(nimg)), '');
  await fs.writeFile(path.join(dir, metricFileName('FED')), `${JSON.stringify({ kimg: 10000, value: 50, num: 2000 })}\n`);
  const html = await fs.readFile(await writeRunReport(dir), 'utf8');
  assert.match(html, /const grids = \["start","kimg 9999\.000","kimg 10000\.000"\];/);
  assert.match(html, /latest snapshot: <code>network-snapshot-10000\.000\.safetensors<\/code>/);
  assert.match(html, /FED \(2000 generated images\)/);
  assert.match(html, /All options: <code>training_options\.json<\/code>/);
});
