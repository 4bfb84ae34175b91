// The prepared GPU check (scripts/gpu-check.sh), end to end on the webgpu adapter this machine has:
// without a GPU, SwiftShader, where the check runs its steps on tiny shapes. A real GPU's figures
// come from running it there (README, GPU); here it must run through and write a complete JSON.
// Bad input is one line. Skipped with the reason where webgpu cannot start (CI makes sure it
// does: webgpu.test.ts).
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { releaseWebGpu } from '../../src/webgpu/device.js';
import { webgpuUnavailable } from '../helpers.js';
import { tempDir } from '../train_helpers.js';

const unavailable = await webgpuUnavailable();
after(releaseWebGpu);

const check = (...args: string[]) => spawnSync('bash', ['scripts/gpu-check.sh', ...args], { encoding: 'utf8', timeout: 1_500_000 });

describe('scripts/gpu-check.sh', () => {
  test('runs every step on the adapter here (SwiftShader: tiny shapes) and writes one complete JSON', { skip: unavailable ?? false }, async () => {
    const dir = await tempDir('gpu-check-test');
    const out = path.join(dir, 'check.json');
    const r = check('--quick', '--out', out, '--budget', '1200');
    assert.equal(r.status, 0, r.stderr);
    const j = JSON.parse(await fs.readFile(out, 'utf8'));
    assert.equal(j.ok, true);
    assert.equal(j.adapter.ok, true);
    assert.match(j.adapter.description, /^webgpu \(/);
    assert.equal(j.quick, true);
    // The parity suites ran on webgpu, every test of them passed.
    assert.ok(j.parity.pass >= 10 && j.parity.fail === 0, JSON.stringify(j.parity));
    const [b] = j.bench;
    assert.equal(b.ok, true, b.error);
    assert.ok(b.msPerIter > 0 && b.result.ours.phasesMs.Dreg > 0, JSON.stringify(b));
    assert.match(b.result.backend, /^webgpu/);
    assert.ok(b.gpuMB > 0, 'the GPU memory the backend holds');
    assert.equal(j.memory.ok, true, j.memory.error);
    for (const phase of ['Gmain', 'Greg', 'Dmain', 'Dreg']) assert.ok(j.memory.phasesMB[phase] > 0, JSON.stringify(j.memory));
    assert.equal(j.finetune.ok, true, j.finetune.error);
    assert.ok(j.finetune.grids.length > 0 && j.finetune.snapshot);
    assert.ok(j.finetune.secPerKimg > 0);
  });

  test('an existing --out is refused in one line (no overwrite)', async () => {
    const dir = await tempDir('gpu-check-test-out');
    const out = path.join(dir, 'check.json');
    await fs.writeFile(out, 'mine');
    const r = check('--out', out);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /exists; name another --out or move it away/);
    assert.equal(await fs.readFile(out, 'utf8'), 'mine');
  });

  test('a --budget that is not a positive number of seconds is refused in one line', async () => {
    const out = path.join(await tempDir('gpu-check-test-budget'), 'check.json');
    const r = check('--out', out, '--budget', '0');
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /--budget takes seconds > 0 \(got '0'\)/);
    await assert.rejects(fs.stat(out), 'nothing written');
  });

  for (const [what, args, why] of [
    ['a folder that is not empty', ['bundle', 'test'], /test exists and is not empty; name a new folder/],
    [
      'an upstream folder that is not a checkout',
      ['bundle', 'nowhere-new', '--upstream', 'samples'],
      /--upstream samples is not a stylegan2-ada-pytorch checkout/,
    ],
    ['no folder', ['bundle'], /name the folder to write/],
  ] as const)
    test(`bundle: ${what} is refused in one line`, () => {
      const r = check(...args);
      assert.notEqual(r.status, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, why);
    });
});
