// scripts/emoji/pretrain-emoji.sh on a short run: from scratch it exports the full training state; on a
// "new machine" (no local runs) it continues from that committed state, not from zero; and the
// committed state in pretrained/ is a complete, resumable training state whose G_ema is the
// bundled network's.
import type { TrainingOptions } from '../../src/records.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs, existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadNetwork } from '../../src/io/network.js';
import { imageFolder, tempDir } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
let dir: string;

before(async () => {
  await testBackend();
  dir = await tempDir('pretrain');
});

function script(kimg: string, work: string, pre: string, data: string) {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'emoji', 'pretrain-emoji.sh'), kimg, work], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, PRETRAINED_DIR: pre, EMOJI_DATA: data, EXPORT: 'always', FED_CSV: path.join(pre, 'fed.csv'), FED_NUM: '64' },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `pretrain-emoji.sh ${kimg} failed: ${r.stderr.slice(-2000)}`);
  return r.stderr;
}

async function trainingKimg(file: string): Promise<number> {
  const net = await loadNetwork(file);
  return (net.training as { trainer: { curNimg: number } }).trainer.curNimg / 1000;
}

test('pretrain-emoji.sh continues from the committed state on a machine without local runs', async () => {
  const data = await imageFolder(path.join(dir, 'data'), 8);
  const pre = path.join(dir, 'pretrained');
  await fs.mkdir(pre);
  // Machine 1: from scratch, 1 iteration of batch 32; the state is exported on the way out.
  script('0.032', path.join(dir, 'machine1'), pre, data);
  assert.equal(await trainingKimg(path.join(pre, 'emoji32-state.safetensors')), 0.032);
  const exported = await loadNetwork(path.join(pre, 'emoji32.safetensors'));
  assert.ok(exported.G_ema && exported.D && !exported.G, 'the bundled export holds G_ema and D only');
  // Machine 2: nothing local; it must continue at kimg 0.032 and reach 0.064.
  const log = script('0.064', path.join(dir, 'machine2'), pre, data);
  assert.match(log, /continuing the committed state at kimg 0\.032/);
  assert.match(log, /resuming .* at kimg 0\.032/);
  assert.equal(await trainingKimg(path.join(pre, 'emoji32-state.safetensors')), 0.064);
  const runs = await fs.readdir(path.join(dir, 'machine2', 'runs'));
  assert.equal(runs.length, 1);
  const stats = await fs.readFile(path.join(dir, 'machine2', 'runs', runs[0], 'log.txt'), 'utf8');
  assert.doesNotMatch(stats, /started: from scratch/, 'machine 2 must not start over');
  // Each stop added its snapshot's FED to the curve, in kimg order.
  const curve = (await fs.readFile(path.join(pre, 'fed.csv'), 'utf8')).trim().split('\n');
  assert.equal(curve[0], 'kimg,fed,generated,real');
  assert.deepEqual(
    curve.slice(1).map((r) => r.split(',')[0]),
    ['0.032', '0.064'],
  );
  for (const r of curve.slice(1)) {
    const [, fed, generated, real] = r.split(',').map(Number);
    assert.ok(fed > 0 && Number.isFinite(fed), `FED ${fed}`);
    assert.deepEqual([generated, real], [64, 8]);
  }
  // ... and redrew the curve beside the CSV: one point per row.
  const svg = await fs.readFile(path.join(pre, 'fed.svg'), 'utf8');
  assert.equal([...svg.matchAll(/<circle /g)].length, 2);
  assert.match(svg, /FED \(64 generated images, log scale\)/);
});

test('plot-fed refuses a file that is not a FED curve, naming the line', () => {
  const run = (text: string) => {
    const csv = path.join(dir, 'bad.csv');
    writeFileSync(csv, text);
    return spawnSync('node', [path.join(ROOT, 'dist', 'scripts', 'emoji', 'plot-fed.js'), csv], { encoding: 'utf8', timeout: 30_000 });
  };
  for (const [text, want] of [
    ['kimg,fid\n1,2\n', /bad\.csv: not a FED curve \(its header must be kimg,fed,generated,real\)/],
    ['kimg,fed,generated,real\n10,250.5,5000,1845\n20,oops,5000,1845\n', /bad\.csv:3: expected kimg,fed,generated,real with numbers, got "20,oops,5000,1845"/],
    ['kimg,fed,generated,real\n', /bad\.csv: no rows to plot/],
  ] as const) {
    const r = run(text);
    assert.equal(r.status, 1);
    assert.match(r.stderr, want);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('emoji-fed.sh refuses a FED_CSV that is not a FED curve, and leaves it as it was', () => {
  const csv = path.join(dir, 'other.csv');
  const text = '919.376,49.72,5000,1845\n906.128,52.13,5000,1845\n';
  writeFileSync(csv, text);
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'emoji', 'emoji-fed.sh'), path.join(dir, 'no-such-snapshot.safetensors')], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, EMOJI_DATA: dir, FED_CSV: csv },
    timeout: 30_000,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /other\.csv is not a FED curve \(its first line must be kimg,fed,generated,real\); give another FED_CSV/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(readFileSync(csv, 'utf8'), text);
});

test('the committed pre-training state is complete, and the bundled network comes from it', {
  skip: existsSync(path.join(ROOT, 'pretrained', 'emoji32-state.safetensors')) ? false : 'no committed state',
}, async () => {
  const state = await loadNetwork(path.join(ROOT, 'pretrained', 'emoji32-state.safetensors'));
  const tr = state.training as Record<string, unknown>;
  for (const k of ['options', 'trainer', 'rng', 'sampler', 'augmentP']) assert.ok(k in tr, `state lacks ${k}`);
  assert.ok(state.G && state.D && state.G_ema, 'state holds G, D and G_ema');
  assert.ok(state.tensors && [...state.tensors.keys()].some((k) => k.startsWith('opt_G')), 'state holds the Adam moments');
  const bundled = await loadNetwork(path.join(ROOT, 'pretrained', 'emoji32.safetensors'));
  // The bundled network comes from this pre-training: its architecture is the state's, or the one
  // the state had before a widening branch (the bundled network is exported at milestones only).
  const widenings = ((tr.options as TrainingOptions).branches ?? []).filter((b) => 'cbase' in b.changed || 'cmax' in b.changed);
  const architectures = [state.G_kwargs];
  for (const b of widenings.reverse()) {
    const s = architectures.at(-1)!.synthesis_kwargs!;
    const before = (k: 'cbase' | 'cmax', now: number | undefined) => (k in b.changed ? (b.changed[k][0] as number) : now);
    architectures.push({
      ...architectures.at(-1)!,
      synthesis_kwargs: { ...s, channel_base: before('cbase', s.channel_base), channel_max: before('cmax', s.channel_max) },
    });
  }
  const match = architectures.findIndex((a) => JSON.stringify(a) === JSON.stringify(bundled.G_kwargs));
  assert.ok(match >= 0, `the bundled network's architecture is none of this pre-training's: ${JSON.stringify(bundled.G_kwargs)}`);
  if (match === 0) for (const [k, v] of bundled.G_ema!) assert.deepEqual(state.G_ema!.get(k)!.shape, v.shape, k);
});
