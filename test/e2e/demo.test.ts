// `npm start`, the README's main job: the bundled network fine-tuned on samples/ with the rooted
// loss, its run directory and what it prints. Shortened with DEMO_KIMG (2 iterations of batch 16)
// and put in a temporary folder with DEMO_OUTDIR.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../train_helpers.js';

test('npm start fine-tunes the bundled network on samples/ with the rooted loss and says where everything is', async () => {
  const out = await tempDir('demo');
  const r = spawnSync(process.execPath, ['dist/scripts/demo.js'], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, DEMO_KIMG: '0.032', DEMO_OUTDIR: out, STYLEGAN_RLO_BACKEND: 'cpu' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^demo: fine-tuning pretrained\/emoji32\.safetensors on samples\/ with the rooted objective \(k = 2\) for 0\.032 kimg$/m);
  const runs = await fs.readdir(out);
  assert.equal(runs.length, 1, `one run directory: ${runs}`);
  const runDir = path.join(out, runs[0]);
  assert.match(runs[0], /^\d{5}-samples-rooted-k2$/);
  const files = await fs.readdir(runDir);
  for (const want of ['reals.png', 'fakes_init.png', 'fakes0000.032.png', 'index.html', 'stats.jsonl', 'network-snapshot-0000.032.safetensors'])
    assert.ok(files.includes(want), `${want} in ${files}`);
  // What it prints names the files that are there.
  assert.match(r.stdout, new RegExp(`done: .*${runs[0]}`));
  for (const name of ['reals.png', 'fakes_init.png', 'index.html', 'network-snapshot-0000.032.safetensors'])
    assert.match(r.stdout, new RegExp(name.replace(/\./g, '\\.')));
  const options = JSON.parse(await fs.readFile(path.join(runDir, 'training_options.json'), 'utf8'));
  assert.equal(options.loss, 'rooted');
  assert.equal(options.k, 2);
  assert.equal(path.resolve(options.data), path.resolve('samples'));
});
