// The benchmark commands as a user runs them (`npm run bench -- ...`), on the smallest settings:
// they run, their JSON is complete and self-consistent, and bad options fail with one line. No
// timing is asserted: speed is measured by running the benchmarks, never by tests.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { nativeAddon, nativeStatus } from '../../src/native/index.js';

const bench = (...a: string[]) => spawnSync(process.execPath, [path.resolve('dist/scripts/dev/bench.js'), ...a], { encoding: 'utf8', timeout: 120_000 });

describe('npm run bench', () => {
  test('a training benchmark prints every phase and the lazily regularized iteration they make', () => {
    const r = bench('--config', 'tiny16', '--rounds', '1', '--iters', '1', '--no-inception', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.config, 'tiny16');
    assert.equal(out.peer, null);
    const p = out.ours.phasesMs;
    for (const phase of ['Gmain', 'Greg', 'Dmain', 'Dreg']) assert.ok(p[phase] > 0, `${phase}: ${p[phase]}`);
    const iter = p.Gmain + p.Dmain + p.Greg / 4 + p.Dreg / 16;
    assert.ok(Math.abs(out.ours.msPerIter - iter) < 1e-6 * iter, `${out.ours.msPerIter} vs ${iter}`);
    assert.ok(out.ours.gInferImgPerSec > 0);
    assert.equal(out.ours.inceptionImgPerSec, null);
  });

  test('--profile lists the kernels of one iteration: how many of each ran, the bytes they wrote, the peak of tensor memory', () => {
    const r = bench('--config', 'tiny16', '--profile', '--json', '--no-inception');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    const ks = out.kernels as { name: string; count: number; outputMB: number }[];
    assert.equal(
      ks.reduce((a, k) => a + k.count, 0),
      out.dispatches,
    );
    assert.ok(Math.abs(ks.reduce((a, k) => a + k.outputMB, 0) - out.outputMB) < 1e-9 * out.outputMB);
    for (let i = 1; i < ks.length; i++) assert.ok(ks[i - 1].outputMB >= ks[i].outputMB, 'largest writers first');
    // The peak of live tensor memory: at least the parameters of G, D and G_ema (tiny16: over 0.1 MB), at most all that was written.
    assert.ok(out.peakMB > 0.1 && out.peakMB < out.outputMB, `peak ${out.peakMB} MB of ${out.outputMB} MB written`);
    // Every phase ran: convolutions forward and backward, the fused bias/activation.
    for (const k of ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'])
      assert.ok(
        ks.some((x) => x.name === k),
        `${k} in ${ks.map((x) => x.name)}`,
      );
  });

  test('--memory gives each phase its peak of tensor buffer memory above what lives between iterations', () => {
    const r = bench('--config', 'tiny16', '--memory', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.peer, null);
    // Between iterations: G, D, G_ema, the Adam moments and the reals (tiny16: over 0.1 MB).
    assert.ok(out.ours.baselineMB > 0.1, JSON.stringify(out.ours));
    assert.deepEqual(Object.keys(out.ours.phasesMB), ['Gmain', 'Greg', 'Dmain', 'Dreg']);
    // A phase holds at least the gradients of the network it trains (tiny16: G or D, over 0.1 MB),
    // and a tiny network's phase nowhere near 100 MB.
    for (const mb of Object.values(out.ours.phasesMB) as number[]) assert.ok(mb > 0.1 && mb < 100, JSON.stringify(out.ours.phasesMB));
  });

  test('--profile with --memory is one line saying to give one', () => {
    const r = bench('--config', 'tiny16', '--profile', '--memory');
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^bench: --profile .* and --memory .* are separate runs; give one$/m);
  });

  test("--batch replaces the config's batch size, and sec/kimg follows it", () => {
    const r = bench('--config', 'tiny16', '--batch', '8', '--rounds', '1', '--iters', '1', '--no-inception', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.batch, 8);
    assert.ok(Math.abs(out.ours.secPerKimg - out.ours.msPerIter / 8) < 1e-9 * out.ours.secPerKimg);
  });

  test('--aug P times every phase with the bgc augmentation at p (each phase that upstream augments does so)', () => {
    const r = bench('--config', 'tiny16', '--aug', '0.3', '--rounds', '1', '--iters', '2', '--no-inception', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.augmentP, 0.3);
    // Gmain augments the fakes, Dmain the fakes and the reals, Dreg the reals: 4 per iteration.
    assert.equal(out.ours.augmentsPerIter, 4);
    const plain = JSON.parse(bench('--config', 'tiny16', '--rounds', '1', '--iters', '1', '--no-inception', '--json').stdout);
    assert.equal(plain.augmentP, null);
    assert.equal(plain.ours.augmentsPerIter, 0);
  });

  for (const bad of [['--aug', '1.5'], ['--aug', 'x'], ['--aug']]) {
    test(`${bad.join(' ')} is one line saying what --aug takes`, () => {
      const r = bench('--config', 'tiny16', '--rounds', '1', '--iters', '1', '--no-inception', ...bad);
      assert.notEqual(r.status, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /--aug takes the augmentation probability p, from 0 to 1/);
    });
  }

  for (const [batch, why] of [
    ['0', /--batch takes a positive integer \(got '0'\)/],
    ['6', /--batch 6: tiny16's minibatch-std group is 4; use a multiple of 4/],
  ] as const) {
    test(`--batch ${batch} is one line saying why`, () => {
      const r = bench('--config', 'tiny16', '--batch', batch, '--rounds', '1', '--iters', '1', '--no-inception');
      assert.notEqual(r.status, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], why);
    });
  }

  test('an unknown config is one line naming the choices', () => {
    const r = bench('--config', 'huge', '--rounds', '1');
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /tiny16/);
  });

  test('--peer-device other than cpu or cuda is one line saying what it takes', () => {
    const r = bench('--config', 'tiny16', '--rounds', '1', '--peer-device', 'gpu');
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /--peer-device takes cpu or cuda \(got 'gpu'\)/);
  });

  describe('gemm', { skip: nativeAddon() ? false : `native addon not loaded (${nativeStatus().detail})` }, () => {
    test('--only selects rows; each engine has GFLOP/s, and ours/oneDNN where oneDNN is installed', () => {
      const r = bench('gemm', '--rounds', '2', '--ms', '2', '--settle', '0', '--only', 'mapping FC', '--json');
      assert.equal(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.deepEqual(
        out.rows.map((row: { shape: { name: string } }) => row.shape.name),
        ['mapping FC 512'],
      );
      const engines = Object.keys(out.engines);
      assert.equal(engines[0], 'ours');
      const row = out.rows[0];
      for (const e of engines) assert.ok(row.gflops[e] > 0, `${e}: ${row.gflops[e]}`);
      if (engines.includes('onednn')) assert.ok(row.vsOnednn > 0);
      else assert.equal(row.vsOnednn, undefined);
    });

    test('--only that matches nothing is one line listing the names', () => {
      const r = bench('gemm', '--only', 'no such shape');
      assert.notEqual(r.status, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /--only no such shape: .*mapping FC 512/);
    });
  });
});
