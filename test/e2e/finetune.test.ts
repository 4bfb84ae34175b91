// finetune on the tiny16 reference network: run directory contents, both losses, exact resume,
// ADA behaviour, constant tensor count, and bad input.
import { cli, CLI, tinyRunFlags } from '../cli_helper.js';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { finetune, type TrainingProgress } from '../../src/train/run.js';
import type { FinetuneArgs } from '../../src/records.js';
import { loadNetwork } from '../../src/io/network.js';
import { Trainer } from '../../src/train/trainer.js';
import { resolveTrainingOptions, trainerOptions } from '../../src/train/options.js';
import { UPSTREAM_CONSTANTS } from '../../src/train/defaults.js';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import { rooted } from '../../src/losses/objectives.js';
import { Rng } from '../../src/rng.js';
import { AugmentPipe } from '../../src/train/augment.js';
import { imageFolder, tempDir, tiny16Checkpoint, assertNoDeadRunDir } from '../train_helpers.js';
import { FIXTURES, testBackend, loadTiny16 } from '../helpers.js';

let dir: string;
let ckpt: string;
let data: string;
const quiet = { log: () => {} };

before(async () => {
  await testBackend();
  dir = await tempDir('finetune');
  ckpt = await tiny16Checkpoint(dir);
  data = await imageFolder(path.join(dir, 'data'), 6);
});

const base = (over: Partial<FinetuneArgs> = {}): FinetuneArgs => ({
  data,
  network: ckpt,
  outdir: path.join(dir, 'runs'),
  batch: 4,
  kimg: 0.016,
  tick: 0.008,
  snap: 1,
  grid: [4, 2],
  backend: 'cpu',
  ...over,
});

async function readStats(runDir: string): Promise<Record<string, number>[]> {
  return (await fs.readFile(path.join(runDir, 'stats.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

describe('finetune', () => {
  for (const loss of ['rooted', 'logistic'] as const) {
    test(`${loss}: writes options, grids, snapshots, stats with finite losses`, async () => {
      const r = await finetune(base({ loss, aug: 'fixed', p: 0.3 }), quiet);
      assert.equal(r.stopped, 'done');
      const files = await fs.readdir(r.runDir);
      for (const f of [
        'training_options.json',
        'reals.png',
        'fakes_init.png',
        'fakes0000.008.png',
        'fakes0000.016.png',
        'network-snapshot-0000.016.safetensors',
        'stats.jsonl',
        'log.txt',
      ]) {
        assert.ok(files.includes(f), `${f} missing from ${files}`);
      }
      const opts = JSON.parse(await fs.readFile(path.join(r.runDir, 'training_options.json'), 'utf8'));
      assert.equal(opts.loss, loss);
      assert.equal(opts.G_kwargs.img_resolution, 16);
      const stats = await readStats(r.runDir);
      assert.equal(stats.length, 2);
      for (const s of stats)
        for (const k of ['Loss/G/loss', 'Loss/D/loss', 'Loss/scores/real', 'Loss/scores/fake']) assert.ok(Number.isFinite(s[k]), `${k} = ${s[k]}`);
      const snap = await loadNetwork(path.join(r.runDir, 'network-snapshot-0000.016.safetensors'));
      assert.ok(snap.G && snap.D && snap.G_ema && snap.training);
    });
  }

  test('resume: N iterations + resume + N iterations equals 2N uninterrupted (within 1e-6)', async () => {
    const common = { aug: 'fixed' as const, p: 0.4, kimg: 1, tick: 0.012, snap: 100 };
    const a = await finetune(base({ ...common, runDir: path.join(dir, 'resume-a') }), { ...quiet, maxIterations: 5 });
    assert.equal(a.stopped, 'limit');
    // The resumed run's clock: every iteration takes exactly 1 s (shouldStop is polled as each begins).
    let now = 0;
    const seen: TrainingProgress[] = [];
    const a2 = await finetune(
      { ...base(), resume: a.runDir, kimg: 1 },
      {
        ...quiet,
        maxIterations: 5,
        clock: () => now,
        shouldStop: () => {
          now += 1000;
          return false;
        },
        progress: (p) => seen.push(p),
      },
    );
    const b = await finetune(base({ ...common, runDir: path.join(dir, 'resume-b') }), { ...quiet, maxIterations: 10 });
    assert.equal(a2.kimg, b.kimg);
    const na = await loadNetwork(a2.lastSnapshot!),
      nb = await loadNetwork(b.lastSnapshot!);
    let worst = 0;
    for (const part of ['G', 'D', 'G_ema'] as const) {
      for (const [k, v] of nb[part]!) {
        const u = na[part]!.get(k)!;
        for (let i = 0; i < v.data.length; i++) worst = Math.max(worst, Math.abs(u.data[i] - v.data[i]));
      }
    }
    assert.ok(worst <= 1e-6, `max parameter difference ${worst}`);
    for (const k of nb.tensors!.keys()) if (k.startsWith('opt_')) assert.ok(na.tensors!.has(k), k);
    // The tick the resume continued (from image 12, to 24 with the resumed run's --tick 0.008) was
    // timed from the snapshot at 20: its speed counts those 4 images, not 12 (which made the first
    // ETA after a resume far too short); the next tick counts its 8.
    const rows = (await fs.readFile(path.join(a.runDir, 'stats.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const perKimg = (kimg: number) => {
      const r = rows.find((x) => Math.abs(x.kimg - kimg) < 1e-9);
      assert.ok(r, `no row at kimg ${kimg}: ${rows.map((x) => x.kimg)}`);
      return r.sec_per_tick / r.sec_per_kimg;
    };
    assert.deepEqual(
      [0.012, 0.024, 0.032].map((k) => perKimg(k).toFixed(9)),
      ['0.012000000', '0.004000000', '0.008000000'],
    );
    // At 4 images a second, both ticks after the resume take 250 s/kimg.
    assert.deepEqual(
      [0.024, 0.032].map((k) => rows.find((x) => Math.abs(x.kimg - k) < 1e-9).sec_per_kimg),
      [250, 250],
    );
    // The progress bar's speed and ETA count from the resume too: the first iteration after it shows
    // 12 images of its tick (8 of them before the resume) at 4 images/s, not 12, and the run's
    // remaining 976 images in 244 s.
    assert.deepEqual(
      seen.slice(0, 2).map((p) => [p.tickImages, p.imagesPerSec, p.etaSec]),
      [
        [12, 4, 244],
        [4, 4, 243],
      ],
    );
  });

  test('ADA: p rises when D overfits a tiny set; stays 0 with --aug none', async () => {
    // One image, no R1 and a frozen G: D tells the real image apart at once (E[sign(D(x))] near 1,
    // far above the 0.6 target, not a borderline case), and ADA raises p.
    const tiny = await imageFolder(path.join(dir, 'tiny'), 1);
    const fast = { data: tiny, kimg: 0.064, tick: 0.016, snap: 100, glr: 1e-6, dlr: 0.002, gamma: 0, adaKimg: 0.1 };
    const r = await finetune(base({ ...fast, aug: 'ada', runDir: path.join(dir, 'ada') }), quiet);
    const stats = await readStats(r.runDir);
    assert.ok(
      stats.some((s) => s['Loss/signs/real'] > 0.6),
      `E[sign(D(reals))] never exceeded the target: ${stats.map((s) => s['Loss/signs/real'])}`,
    );
    assert.ok(Math.max(...stats.map((s) => s.augment_p)) > 0, `augment p stayed at ${stats.map((s) => s.augment_p)}`);
    const n = await finetune(base({ ...fast, aug: 'none', runDir: path.join(dir, 'noaug') }), quiet);
    assert.ok((await readStats(n.runDir)).every((s) => s.augment_p === 0));
  });

  test('ADA heuristic: p += sign(E[sign(D(x))] - target) * batch * interval / (ada_kimg * 1000)', async () => {
    const { json } = await loadTiny16();
    const rng = new Rng(2);
    const G = new Generator(json.G_kwargs, rng),
      D = new Discriminator(json.D_kwargs, rng),
      Ge = new Generator(json.G_kwargs);
    D.params.set('b4.out.bias', { shape: [1], data: Float32Array.of(1000) }); // D(x) > 0 for every x: sign = 1 > target
    const aug = new AugmentPipe('bgc', 0);
    const tr = new Trainer(
      G,
      D,
      Ge,
      {
        ...UPSTREAM_CONSTANTS,
        objective: rooted(2),
        batch: 4,
        batchGpu: 4,
        glr: 1e-9,
        dlr: 1e-9,
        r1Gamma: 0.1,
        plWeight: 0,
        styleMixingProb: 0,
        emaKimg: 1,
        emaRampup: null,
        adaTarget: 0.6,
        adaKimg: 1,
      },
      rng,
      aug,
    );
    const reals = { img: tf.zeros([4, 16, 16, 3]) as tf.Tensor4D, c: null };
    for (let i = 0; i < 8; i++) await tr.step(reals, null);
    assert.ok(Math.abs(aug.p - (2 * (4 * 4)) / 1000) < 1e-12, `p = ${aug.p}`);
    tr.dispose();
    G.dispose();
    D.dispose();
    Ge.dispose();
    reals.img.dispose();
  });

  test("each phase maps its own fakes' labels (upstream's all_gen_c: batch per phase, drawn at once); a wrong count is refused", async () => {
    const cfg = JSON.parse(await fs.readFile(path.join(FIXTURES, 'cond16.json'), 'utf8'));
    const rng = new Rng(3);
    const G = new Generator(cfg.G_kwargs, rng),
      D = new Discriminator(cfg.D_kwargs, rng),
      Ge = new Generator(cfg.G_kwargs);
    const settings = {
      ...UPSTREAM_CONSTANTS,
      objective: rooted(2),
      batch: 2,
      batchGpu: 2,
      glr: 1e-9,
      dlr: 1e-9,
      r1Gamma: 0.1,
      plWeight: 2,
      styleMixingProb: 0,
      emaKimg: 1,
      emaRampup: null,
      adaTarget: null,
      adaKimg: 1,
    };
    const tr = new Trainer(G, D, Ge, settings, rng);
    const seen: number[][] = [];
    const map = G.mapWithMixing.bind(G);
    G.mapWithMixing = (z, c, r, p, u) => {
      seen.push(Array.from(c!.argMax(1).dataSync()));
      return map(z, c, r, p, u);
    };
    const names = tr.phases.map((p) => p.name);
    assert.deepEqual(names, ['Gmain', 'Greg', 'Dmain', 'Dreg']);
    // Phase i's fakes are labelled class i mod 3.
    const genC = tf.tidy(() =>
      tf
        .oneHot(
          tf.tensor1d(
            names.flatMap((_, i) => [i % 3, i % 3]),
            'int32',
          ),
          3,
        )
        .cast('float32'),
    );
    const reals = { img: tf.zeros([2, 16, 16, 1]) as tf.Tensor4D, c: tf.tidy(() => tf.oneHot(tf.tensor1d([0, 1], 'int32'), 3).cast('float32')) };
    assert.deepEqual(await tr.step(reals, genC), names);
    // G maps in Gmain (batch), Greg (batch / pl_batch_shrink) and for Dmain's fakes; Dreg sees reals only.
    assert.deepEqual(seen, [[0, 0], [1], [2, 2]]);
    const short = genC.slice(0, 2);
    await assert.rejects(() => tr.step(reals, short), /labels need 4 phases x batch 2 rows, got 2/);
    tf.dispose([genC, short, reals.img, reals.c]);
    tr.dispose();
    G.dispose();
    D.dispose();
    Ge.dispose();
  });

  test('the run trains with the objective it names: G loss = f(-D(G(z))) exactly, for a D whose logits are known', async () => {
    const { json } = await loadTiny16();
    for (const [loss, k, expected] of [
      ['rooted', 2, 2 * Math.sqrt(1 + Math.exp(-0.5))],
      ['rooted', 4, 4 * (1 + Math.exp(-0.5)) ** 0.25],
      ['logistic', 2, Math.log1p(Math.exp(-0.5))],
    ] as const) {
      // The options a run resolves for this loss drive the trainer (no second wiring to test).
      const o = resolveTrainingOptions(
        { data: '', loss, k, batch: 4, aug: 'none', plWeight: 0, styleMixing: 0 },
        { G_kwargs: json.G_kwargs, D_kwargs: json.D_kwargs },
        'cpu',
      );
      const rng = new Rng(5);
      const G = new Generator(json.G_kwargs, rng),
        D = new Discriminator(json.D_kwargs, rng),
        Ge = new Generator(json.G_kwargs);
      // Every D weight 0 and the output bias 0.5: D(x) = 0.5 for every image.
      for (const [name, spec] of D.params.specs)
        if (!spec.buffer) D.params.set(name, { shape: spec.shape, data: new Float32Array(spec.shape.reduce((a, b) => a * b, 1)) });
      D.params.set('b4.out.bias', { shape: [1], data: Float32Array.of(0.5) });
      const tr = new Trainer(G, D, Ge, trainerOptions(o), rng);
      const reals = { img: tf.zeros([4, 16, 16, 3]) as tf.Tensor4D, c: null };
      await tr.step(reals, null); // Gmain runs first, before D changes
      const stats = await tr.stats.collect();
      assert.ok(Math.abs(stats['Loss/G/loss'].mean - expected) < 1e-5, `${loss} k=${k}: G loss ${stats['Loss/G/loss'].mean}, expected ${expected}`);
      assert.ok(Math.abs(stats['Loss/scores/fake'].mean - 0.5) < 1e-6);
      tr.dispose();
      G.dispose();
      D.dispose();
      Ge.dispose();
      reals.img.dispose();
    }
  });

  test('tf.memory().numTensors is constant across training steps', async () => {
    const { st, json } = await loadTiny16();
    void st;
    const rng = new Rng(1);
    const G = new Generator(json.G_kwargs, rng),
      D = new Discriminator(json.D_kwargs, rng),
      Ge = new Generator(json.G_kwargs);
    const tr = new Trainer(
      G,
      D,
      Ge,
      {
        ...UPSTREAM_CONSTANTS,
        objective: rooted(2),
        batch: 4,
        batchGpu: 2,
        glr: 0.002,
        dlr: 0.002,
        r1Gamma: 0.1,
        plWeight: 2,
        styleMixingProb: 0.9,
        emaKimg: 1,
        emaRampup: 0.05,
        adaTarget: 0.6,
        adaKimg: 1,
      },
      rng,
      new AugmentPipe('bgc', 0.2),
    );
    const reals = { img: tf.randomUniform([4, 16, 16, 3], -1, 1, 'float32', 3) as tf.Tensor4D, c: null };
    const counts: number[] = [];
    for (let i = 0; i < 34; i++) {
      await tr.step(reals, null);
      if (i % 16 === 1) {
        await tr.stats.collect();
        counts.push(tf.memory().numTensors);
      }
    }
    assert.equal(new Set(counts).size, 1, `tensor counts after steps 1, 17, 33: ${counts}`);
    tr.dispose();
    G.dispose();
    D.dispose();
    Ge.dispose();
    reals.img.dispose();
  });
});

/** The CLI as a user runs it, on the cpu backend. */

describe('finetune control', () => {
  test('SIGTERM: finishes the iteration, writes a snapshot, exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const rd = path.join(dir, 'sigterm');
    const child = spawn(process.execPath, [CLI, ...tinyRunFlags(ckpt, data, rd, '100', '--tick', '0.004', '--snap', '1000', '--backend', 'cpu')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '',
      out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        err += d;
        if (/tick 1 /.test(err)) resolve();
      }),
    );
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    assert.match(err, /SIGTERM: finishing this iteration, saving a snapshot/);
    const res = JSON.parse(out.trim());
    assert.equal(res.stopped, 'requested');
    assert.ok((await fs.readdir(rd)).some((f) => f.startsWith('network-snapshot-')));
    const snap = await loadNetwork(res.snapshot);
    assert.ok(snap.training, 'the snapshot can be resumed');
    // The stopped run's directory is also a network to fine-tune from: its latest snapshot.
    const next = path.join(dir, 'from-run-dir');
    const r = cli('finetune', '--network', rd, '--data', data, '--run-dir', next, '--batch', '4', '--kimg', '0.004');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(await fs.readFile(path.join(next, 'training_options.json'), 'utf8')).network, res.snapshot);
  });

  // Spawns `finetune` on tiny16 with `extra` options; resolves once stderr matches `ready`.
  async function spawnRun(name: string, extra: string[], ready: RegExp) {
    const { spawn } = await import('node:child_process');
    const rd = path.join(dir, name);
    const child = spawn(process.execPath, [CLI, ...tinyRunFlags(ckpt, data, rd, '100', '--snap', '1000', '--backend', 'cpu', ...extra)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const io = { err: '', out: '' };
    child.stdout.on('data', (d) => {
      io.out += d;
    });
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        io.err += d;
        if (ready.test(io.err)) resolve();
      }),
    );
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    return { child, rd, io, exited };
  }

  // Bound that protects users: a stop request must act within an iteration, not at the end of a
  // tick (here the tick is 100 kimg: without it the run would never stop).
  const within = <T>(p: Promise<T>, ms: number, what: string) =>
    Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms))]);

  test('SIGINT mid-tick stops within an iteration, with a snapshot', async () => {
    // Waits for the first iteration: a stop before it leaves no run (tested below), and a
    // fixed delay raced it on a loaded machine.
    const r = await spawnRun('sigint-midtick', ['--tick', '100'], /first iteration done/);
    r.child.kill('SIGINT');
    assert.equal(await within(r.exited, 60_000, 'stopping after SIGINT'), 0, r.io.err);
    const res = JSON.parse(r.io.out.trim());
    assert.equal(res.stopped, 'requested');
    assert.ok(res.kimg > 0 && res.kimg < 100);
    assert.ok((await loadNetwork(res.snapshot)).training, 'a resumable snapshot');
  });

  test('two SIGINTs still exit with a snapshot (a second Ctrl-C used to exit 130 and lose the run)', async () => {
    // Waits for the first iteration: a stop before it leaves no run (tested below), and a
    // fixed delay raced it on a loaded machine.
    const r = await spawnRun('sigint-twice', ['--tick', '100'], /first iteration done/);
    r.child.kill('SIGINT');
    await within(
      new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (/SIGINT: finishing/.test(r.io.err)) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      }),
      60_000,
      'the first SIGINT',
    );
    r.child.kill('SIGINT');
    assert.equal(await within(r.exited, 60_000, 'stopping after two SIGINTs'), 0, r.io.err);
    const res = JSON.parse(r.io.out.trim());
    assert.equal(res.stopped, 'requested');
    assert.ok((await loadNetwork(res.snapshot)).training, 'a resumable snapshot');
  });

  test('a closed stderr pipe does not stop or kill the run; log.txt keeps every line', async () => {
    const r = await spawnRun('closed-pipe', ['--tick', '0.004'], /started:/);
    r.child.stderr.destroy();
    const log = path.join(r.rd, 'log.txt');
    const ticks = async () => ((await fs.readFile(log, 'utf8')).match(/^tick \d+/gm) ?? []).length;
    const t0 = await ticks();
    while ((await ticks()) < t0 + 3) await new Promise((res) => setTimeout(res, 200));
    r.child.kill('SIGTERM');
    assert.equal(await within(r.exited, 60_000, 'stopping after SIGTERM'), 0);
    assert.ok(JSON.parse(r.io.out.trim()).snapshot, 'stopped with a snapshot');
    assert.match(await fs.readFile(log, 'utf8'), /^stopped: /m);
  });

  test('a stop while loading, or before the first iteration, leaves no run directory behind', async () => {
    const early = path.join(dir, 'stop-loading');
    const r1 = await finetune(base({ runDir: early }), { ...quiet, shouldStop: () => true });
    assert.deepEqual([r1.stopped, r1.iterations, r1.runDir, r1.lastSnapshot], ['requested', 0, '', null]);
    await assert.rejects(fs.stat(early), 'nothing was created');
    // Asked after the directory exists but before any iteration: it is removed again.
    const late = path.join(dir, 'stop-first-iteration');
    let calls = 0;
    const r2 = await finetune(base({ runDir: late }), { ...quiet, shouldStop: () => ++calls > 1 });
    assert.deepEqual([r2.stopped, r2.iterations, r2.runDir], ['requested', 0, '']);
    await assert.rejects(fs.stat(late), 'the empty run directory was removed');
    // Ctrl-C through the CLI while the data is still loading.
    const { spawn } = await import('node:child_process');
    const many = await imageFolder(path.join(dir, 'many'), 120);
    const rd = path.join(dir, 'sigint-loading');
    const child = spawn(
      process.execPath,
      [CLI, 'finetune', '--network', ckpt, '--data', many, '--run-dir', rd, '--batch', '4', '--kimg', '1', '--backend', 'cpu'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    await new Promise<void>((resolve) =>
      child.stderr.on('data', (d) => {
        err += d;
        if (/^backend: /m.test(err)) resolve();
      }),
    );
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, err);
    // Normally the signal lands while loading; on a loaded machine the first iteration may have
    // finished first. Either way no dead run directory: none at all, or one with a snapshot.
    await assertNoDeadRunDir(rd, err);
  });

  test('Freeze-D: the first N discriminator layers are not trained', async () => {
    const r = await finetune(base({ freezed: 2, kimg: 0.008, runDir: path.join(dir, 'freezed') }), quiet);
    const before = await loadNetwork(ckpt);
    const after = await loadNetwork(r.lastSnapshot!);
    const same = (k: string) => Array.from(after.D!.get(k)!.data).every((v, i) => v === before.D!.get(k)!.data[i]);
    assert.ok(same('b16.fromrgb.weight') && same('b16.conv0.weight'), 'frozen layers unchanged');
    assert.ok(!same('b16.conv1.weight') && !same('b4.fc.weight'), 'later layers trained');
  });
});

describe('finetune bad input', () => {
  test('missing folder: one line, exit 1, no run directory', async () => {
    const out = path.join(dir, 'bad-runs');
    const r = cli('finetune', '--network', ckpt, '--data', path.join(dir, 'nope'), '--outdir', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^stylegan-rlo: dataset folder .*nope does not exist\n$/m);
    assert.equal(
      r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('stylegan-rlo:')).length,
      1,
    );
    assert.ok(!r.stderr.includes('    at '), 'no stack trace');
    await assert.rejects(fs.stat(out));
  });

  test('empty folder', async () => {
    const empty = path.join(dir, 'empty');
    await fs.mkdir(empty, { recursive: true });
    await assert.rejects(finetune(base({ data: empty }), quiet), /has no images/);
  });

  test('corrupt images are skipped and counted in one warning; all corrupt is an error', async () => {
    const mixed = await imageFolder(path.join(dir, 'mixed'), 4);
    await fs.writeFile(path.join(mixed, 'broken.png'), 'not a png');
    await fs.writeFile(path.join(mixed, 'truncated.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16]));
    const lines: string[] = [];
    await finetune(base({ data: mixed, kimg: 0.004 }), { log: (l) => lines.push(l) });
    const warn = lines.filter((l) => l.startsWith('warning: skipped'));
    assert.equal(warn.length, 1);
    assert.match(warn[0], /skipped 2 unreadable image files/);
    const bad = path.join(dir, 'allbad');
    await fs.mkdir(bad, { recursive: true });
    await fs.writeFile(path.join(bad, 'a.png'), 'x');
    await assert.rejects(finetune(base({ data: bad }), quiet), /none of the 1 image files could be used/);
  });

  test('other channel counts are converted: RGBA and grayscale into RGB, RGB into grayscale', async () => {
    const rgba = await imageFolder(path.join(dir, 'rgba'), 2, { channels: 4 });
    const gray = await imageFolder(path.join(dir, 'gray'), 2, { channels: 1 });
    for (const d of [rgba, gray]) {
      const r = await finetune(base({ data: d, kimg: 0.004 }), quiet);
      assert.equal(r.stopped, 'done');
    }
    // From scratch, a grayscale network, trained on the RGB folder.
    const r = await finetune(base({ network: null, kimg: 0.004, cfg: { res: 16, cbase: 64, cmax: 16, zdim: 16, wdim: 16, channels: 1 } }), quiet);
    const net = await loadNetwork(r.lastSnapshot!);
    assert.equal(net.G_kwargs.img_channels, 1);
    assert.equal(net.G!.get('synthesis.b16.torgb.bias')!.shape[0], 1);
  });

  test('an existing run directory is refused; --resume is the way to continue it', async () => {
    const rd = path.join(dir, 'exists');
    await fs.mkdir(rd, { recursive: true });
    await fs.writeFile(path.join(rd, 'keep.txt'), 'user data');
    await assert.rejects(finetune(base({ runDir: rd }), quiet), /already exists; use options\.resume/);
    assert.equal(await fs.readFile(path.join(rd, 'keep.txt'), 'utf8'), 'user data');
  });

  test('a resume that names nothing is refused, in place or into a branch, and nothing is created', async () => {
    const gone = path.join(dir, 'no-such-run');
    await assert.rejects(finetune(base({ resume: gone }), quiet), new RegExp(`^OptionError: options\\.resume ${gone} does not exist$`));
    const branch = path.join(dir, 'branch-of-nothing');
    await assert.rejects(finetune(base({ resume: gone, runDir: branch }), quiet), /options\.resume .* does not exist/);
    await assert.rejects(fs.stat(branch), 'no branch directory');
  });

  test('invalid options name the option', async () => {
    await assert.rejects(finetune(base({ k: 0 }), quiet), /options\.k 0 is invalid/);
    await assert.rejects(finetune(base({ batch: 4, batchGpu: 3 }), quiet), /options\.batchGpu 3 is invalid: must divide options\.batch 4/);
    await assert.rejects(finetune(base({ network: path.join(dir, 'data', 'img000.png') }), quiet), /not a network file/);
  });
});
