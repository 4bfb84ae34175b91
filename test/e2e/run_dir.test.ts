// Run directories: unique run numbers under concurrency, resuming after SIGKILL (no stale
// temporary files, each kimg once in stats.jsonl), and older snapshots that would collide.
import { cli, CLI, tinyRunFlags } from '../cli_helper.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { nextRunDir, tidyForResume } from '../../src/train/run_dir.js';
import { listSnapshots } from '../../src/io/run_layout.js';
import { loadNetwork } from '../../src/io/network.js';
import { tinyTrainingFixture } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('rundir'));
});

const statsKimg = async (rd: string) =>
  (await fs.readFile(path.join(rd, 'stats.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l).kimg as number);

test('run numbers stay unique when many runs start at once', async () => {
  const out = path.join(dir, 'concurrent');
  const made = await Promise.all(Array.from({ length: 12 }, (_, i) => nextRunDir(out, `run${String.fromCharCode(97 + ((i * 7) % 12))}`)));
  const ids = made.map((d) => path.basename(d).slice(0, 5));
  assert.equal(new Set(ids).size, 12, `numbers: ${ids.sort()}`);
  assert.equal((await fs.readdir(out)).length, 12, 'no leftover directories or claims');
  // Across processes: 6 at once, 4 runs each.
  const out2 = path.join(dir, 'concurrent-procs');
  const mod = JSON.stringify(path.resolve('dist/src/train/run_dir.js'));
  await Promise.all(
    Array.from(
      { length: 6 },
      (_, p) =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, [
            '--input-type=module',
            '-e',
            `const { nextRunDir } = await import(${mod}); await Promise.all([0, 1, 2, 3].map((i) => nextRunDir(${JSON.stringify(out2)}, 'p${p}-' + i)));`,
          ]);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}`))));
        }),
    ),
  );
  const names = await fs.readdir(out2);
  assert.equal(names.length, 24, `no leftovers: ${names}`);
  assert.equal(new Set(names.map((n) => n.slice(0, 5))).size, 24, `numbers: ${names.sort()}`);
});

test('tidyForResume: removes temporary files of dead writers, drops rows after the snapshot and cut lines', async () => {
  const rd = path.join(dir, 'tidy');
  await fs.mkdir(rd);
  const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }).stdout.trim();
  await fs.writeFile(path.join(rd, `.network-snapshot-0000.008.safetensors.${dead}.1700000000000.tmp`), 'partial');
  await fs.writeFile(path.join(rd, `.stats.jsonl.${process.pid}.1700000000000.tmp`), 'a live writer'); // ours: kept
  await fs.writeFile(path.join(rd, 'stats.jsonl'), '{"kimg":0.004}\n{"kimg":0.008}\n{"kimg":0.012}\n{"kimg":0.0');
  await fs.writeFile(path.join(rd, 'metric-fed.jsonl'), '{"kimg":0.008,"value":1}\n{"kimg":0.016,"value":2}\n');
  const r = await tidyForResume(rd, 0.008);
  assert.deepEqual(r, { removedTemp: 1, droppedRows: 3 });
  assert.deepEqual(await statsKimg(rd), [0.004, 0.008]);
  assert.equal(await fs.readFile(path.join(rd, 'metric-fed.jsonl'), 'utf8'), '{"kimg":0.008,"value":1}\n');
  assert.deepEqual(
    (await fs.readdir(rd)).filter((f) => f.endsWith('.tmp')),
    [`.stats.jsonl.${process.pid}.1700000000000.tmp`],
  );
});

test('SIGKILL at varying points, then --resume: continues from the last complete snapshot, each kimg once', async () => {
  const rd = path.join(dir, 'killed');
  const run = (args: string[], killAfterTicks: number | null, delayMs: number) =>
    new Promise<void>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'finetune', ...args, '--backend', 'cpu'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '',
        killed = false;
      child.stderr.on('data', (d) => {
        err += d;
        const ticks = (err.match(/^tick \d+/gm) ?? []).length;
        if (killAfterTicks !== null && !killed && ticks >= killAfterTicks) {
          killed = true;
          setTimeout(() => child.kill('SIGKILL'), delayMs);
        }
      });
      child.on('exit', (code, signal) => {
        if (killAfterTicks === null) assert.equal(code, 0, err);
        else assert.ok(signal === 'SIGKILL' || code === 0, `exit ${code} ${signal}: ${err}`);
        resolve();
      });
    });
  await run(['--network', ckpt, '--data', data, '--run-dir', rd, '--kimg', '1', '--batch', '4', '--tick', '0.004', '--snap', '2'], 3, 0);
  for (const [ticks, delay] of [
    [2, 150],
    [1, 400],
    [3, 50],
  ] as const) {
    const before = await listSnapshots(rd);
    await run(['--resume', rd, '--kimg', '1'], ticks, delay);
    const after = await listSnapshots(rd);
    assert.ok(after.length >= before.length);
  }
  await run(['--resume', rd, '--kimg', String((await listSnapshots(rd)).at(-1)!.kimg + 0.016)], null, 0);
  const kimg = await statsKimg(rd);
  assert.deepEqual(
    kimg,
    [...kimg].sort((a, b) => a - b),
    'stats rows in order',
  );
  assert.equal(new Set(kimg).size, kimg.length, `each kimg once: ${kimg}`);
  for (let i = 1; i < kimg.length; i++) assert.ok(Math.abs(kimg[i] - kimg[i - 1] - 0.004) < 1e-9, `a tick is missing or repeated at ${kimg[i]}: ${kimg}`);
  assert.deepEqual(
    (await fs.readdir(rd)).filter((f) => f.endsWith('.tmp')),
    [],
  );
  assert.ok((await loadNetwork((await listSnapshots(rd)).at(-1)!.file)).training);
});

test('resuming an older snapshot: refused up front in place; --run-dir branches with the history up to it', async () => {
  const rd = path.join(dir, 'older');
  const r0 = cli(...tinyRunFlags(ckpt, data, rd, '0.016', '--tick', '0.004', '--snap', '1', '--backend', 'cpu'));
  assert.equal(r0.status, 0, r0.stderr);
  const old = path.join(rd, 'network-snapshot-0000.008.safetensors');
  const refused = cli('finetune', '--resume', old, '--kimg', '0.016', '--backend', 'cpu');
  assert.equal(refused.status, 1);
  assert.match(
    refused.stderr,
    /--resume .*0000\.008\.safetensors: the run directory already has 2 later snapshot\(s\), up to kimg 0\.016; .*--run-dir NEW_DIR to branch/,
  );
  assert.equal((await listSnapshots(rd)).length, 4, 'nothing written');
  const branch = path.join(dir, 'older-branch');
  const r1 = cli('finetune', '--resume', old, '--run-dir', branch, '--kimg', '0.016', '--backend', 'cpu');
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /branching .*older into .*older-branch at kimg 0\.008 \(dropped 2 log rows/);
  assert.deepEqual(await statsKimg(branch), [0.004, 0.008, 0.012, 0.016]);
  assert.deepEqual(
    (await listSnapshots(branch)).map((s) => s.kimg),
    [0.012, 0.016],
  );
  assert.deepEqual(await statsKimg(rd), [0.004, 0.008, 0.012, 0.016], 'the original run is untouched');

  // A branch may change the objective and regularization (recorded); in place it may not.
  const changed = path.join(dir, 'older-logistic');
  const r2 = cli('finetune', '--resume', old, '--run-dir', changed, '--kimg', '0.012', '--loss', 'logistic', '--style-mixing', '0', '--backend', 'cpu');
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /branching .*older into .*older-logistic at kimg 0\.008 .*; changed: loss "rooted" -> "logistic", styleMixing 0\.9 -> 0\n/);
  assert.match(r2.stderr, /loss logistic/);
  const opts = JSON.parse(await fs.readFile(path.join(changed, 'training_options.json'), 'utf8'));
  assert.deepEqual([opts.loss, opts.styleMixing], ['logistic', 0]);
  assert.deepEqual(opts.branches, [{ from: rd, kimg: 0.008, changed: { loss: ['rooted', 'logistic'], styleMixing: [0.9, 0] } }]);
  assert.match(
    await fs.readFile(path.join(changed, 'index.html'), 'utf8'),
    /Branched from <code>.*older<\/code> at kimg 0\.008: loss &quot;rooted&quot; -&gt; &quot;logistic&quot;, styleMixing 0\.9 -&gt; 0/,
  );
  // The change took effect: the unchanged branch repeats the original run's tick after the
  // snapshot exactly, the changed one does not.
  const row = async (d: string, kimg: number) =>
    (await fs.readFile(path.join(d, 'stats.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((x) => x.kimg === kimg);
  assert.equal((await row(branch, 0.012))['Loss/G/loss'], (await row(rd, 0.012))['Loss/G/loss']);
  assert.notEqual((await row(changed, 0.012))['Loss/G/loss'], (await row(rd, 0.012))['Loss/G/loss']);
  // The branch's snapshots carry its settings: resuming it in place continues them, and no new record.
  const r3 = cli('finetune', '--resume', changed, '--kimg', '0.016', '--backend', 'cpu');
  assert.equal(r3.status, 0, r3.stderr);
  assert.doesNotMatch(r3.stderr, /changed:/);
  const snapOpts = (await loadNetwork((await listSnapshots(changed)).at(-1)!.file)).training as { options: { loss: string; branches: unknown[] } };
  assert.deepEqual([snapOpts.options.loss, snapOpts.options.branches.length], ['logistic', 1]);
  const r4 = cli('finetune', '--resume', changed, '--kimg', '0.02', '--gamma', '1', '--backend', 'cpu');
  assert.equal(r4.status, 1);
  assert.match(r4.stderr, /--gamma cannot change in place \(the run has [0-9.e-]+\): branch with --run-dir NEW_DIR/);
  // A branch may also change the batch, its one-step split with it: every step now takes 8 images.
  const bigger = path.join(dir, 'older-batch8');
  const r5 = cli('finetune', '--resume', old, '--run-dir', bigger, '--kimg', '0.024', '--batch', '8', '--backend', 'cpu');
  assert.equal(r5.status, 0, r5.stderr);
  assert.match(r5.stderr, /; changed: batch 4 -> 8, batchGpu 4 -> 8\n/);
  assert.match(r5.stderr, /, batch 8\n/);
  assert.deepEqual(await statsKimg(bigger), [0.004, 0.008, 0.016, 0.024]);
  // ... and widen the networks (test/widen.test.ts: the same function, more channels), which in place it may not.
  const wider = path.join(dir, 'older-wider');
  const r6 = cli('finetune', '--resume', old, '--run-dir', wider, '--kimg', '0.016', '--cbase', '512', '--cmax', '48', '--backend', 'cpu');
  assert.equal(r6.status, 0, r6.stderr);
  assert.match(r6.stderr, /; changed: cbase 256 -> 512, cmax 32 -> 48\n/);
  const wideSnap = await loadNetwork((await listSnapshots(wider)).at(-1)!.file);
  assert.equal(wideSnap.G!.get('synthesis.b8.conv1.weight')!.shape.join(), '48,48,3,3');
  assert.equal(wideSnap.D!.get('b16.conv0.weight')!.shape.join(), '32,32,3,3');
  assert.equal(wideSnap.tensors!.get('opt_D/v/b4.conv.weight')!.shape.join(), '48,49,3,3');
  const wideOpts = JSON.parse(await fs.readFile(path.join(wider, 'training_options.json'), 'utf8'));
  assert.deepEqual([wideOpts.G_kwargs.synthesis_kwargs.channel_max, wideOpts.D_kwargs.channel_base], [48, 512]);
  assert.ok((await row(wider, 0.016))['Loss/G/loss'] !== undefined, 'the wider run trained on');
  const r7 = cli('finetune', '--resume', wider, '--kimg', '0.02', '--cmax', '64', '--backend', 'cpu');
  assert.equal(r7.status, 1);
  assert.match(r7.stderr, /^stylegan-rlo: .*--cmax cannot change in place: branch with --run-dir NEW_DIR to widen the networks\n$/);
  const r8 = cli('finetune', '--resume', old, '--run-dir', path.join(dir, 'older-narrower'), '--cmax', '16', '--backend', 'cpu');
  assert.equal(r8.status, 1);
  assert.match(r8.stderr, /^stylegan-rlo: .*would give 16 channels at 4x4, fewer than the network's 32; widening only adds channels\n$/);
  // ... and change D's minibatch-stddev group (its weights do not depend on it): D now compares
  // pairs instead of the whole batch of 4, so the tick after the snapshot differs from the
  // unchanged branch's. In place it may not.
  const pairs = path.join(dir, 'older-mbstd2');
  const rm = cli('finetune', '--resume', old, '--run-dir', pairs, '--kimg', '0.012', '--mbstd', '2', '--backend', 'cpu');
  assert.equal(rm.status, 0, rm.stderr);
  assert.match(rm.stderr, /; changed: mbstd 4 -> 2\n/);
  assert.notEqual((await row(pairs, 0.012))['Loss/G/loss'], (await row(branch, 0.012))['Loss/G/loss']);
  const pairsSnap = (await listSnapshots(pairs)).at(-1)!.file;
  assert.match(cli('info', pairsSnap).stdout, /mbstd group 2,/);
  const rm2 = cli('finetune', '--resume', pairsSnap, '--kimg', '0.016', '--mbstd', '4', '--backend', 'cpu');
  assert.equal(rm2.status, 1);
  assert.match(
    rm2.stderr,
    /^stylegan-rlo: .*--mbstd cannot change in place \(the run has 2\): branch with --run-dir NEW_DIR to continue with other settings\n$/,
  );
  const rm3 = cli('finetune', '--resume', pairsSnap, '--kimg', '0.016', '--mbstd', '2', '--backend', 'cpu');
  assert.equal(rm3.status, 0, 'the same group size in place is no change');
  const r9 = cli('finetune', '--resume', old, '--run-dir', path.join(dir, 'older-res'), '--res', '32', '--backend', 'cpu');
  assert.equal(r9.status, 1);
  assert.match(r9.stderr, /--res \(a from-scratch architecture option\) cannot change/);
});

test('--resume with a smaller --data starts a new shuffle instead of serving images that are gone', async () => {
  const rd = path.join(dir, 'smaller');
  const r0 = cli('finetune', '--network', ckpt, '--data', data, '--run-dir', rd, '--batch', '4', '--kimg', '0.006', '--tick', '0.004', '--backend', 'cpu');
  assert.equal(r0.status, 0, r0.stderr);
  const fewer = path.join(dir, 'fewer');
  await fs.mkdir(fewer);
  for (const f of (await fs.readdir(data)).slice(0, 2)) await fs.copyFile(path.join(data, f), path.join(fewer, f));
  const r1 = cli('finetune', '--resume', rd, '--data', fewer, '--kimg', '0.012', '--backend', 'cpu');
  assert.equal(r1.status, 0, r1.stderr);
  assert.match(r1.stderr, /resume: the data now has 2 images, the snapshot's order was for 4; starting a new shuffle/);
  const { ImageDataset } = await import('../../src/data/dataset.js');
  const ds = await ImageDataset.load(fewer, { resolution: 16, channels: 3 });
  assert.equal(ds.restoreSampler({ order: [3, 0, 1, 2], pos: 1 }), false);
  const { Rng } = await import('../../src/rng.js');
  const idx = ds.nextIndices(8, new Rng('x'));
  assert.ok(
    idx.every((i) => i === 0 || i === 1),
    `indices ${idx}`,
  );
  assert.equal(ds.restoreSampler({ order: [1, 0], pos: 1 }), true);
  assert.deepEqual(ds.nextIndices(1, new Rng('x')), [0]);
});
