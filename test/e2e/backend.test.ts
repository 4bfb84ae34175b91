// Backend selection: explicit choices that cannot load fail with one line saying what is needed;
// the cpu-js reference backend is always available.
import { CLI, cli } from '../cli_helper.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';

describe('backend selection', () => {
  test('unknown backends are one clear line; tensorflow backends load where tfjs-node does, else say what is needed', async () => {
    await assert.rejects(initBackend('cuda', false), /unknown backend 'cuda'; choose one of auto, webgpu, tensorflow-gpu, tensorflow, cpu, cpu-js, wasm/);
    // Correct whether or not tfjs-node installs on this machine (it downloads libtensorflow).
    const loads = async (pkg: string) =>
      import(pkg).then(
        () => true,
        () => false,
      );
    if (await loads('@tensorflow/tfjs-node')) {
      assert.match((await initBackend('tensorflow', false)).description, /^tensorflow \(tfjs-node, CPU\)$/);
    } else {
      await assert.rejects(initBackend('tensorflow', false), /@tensorflow\/tfjs-node did not load/);
    }
    if (await loads('@tensorflow/tfjs-node-gpu')) {
      assert.match((await initBackend('tensorflow-gpu', false)).description, /^tensorflow \(tfjs-node-gpu, /);
    } else {
      await assert.rejects(initBackend('tensorflow-gpu', false), /tfjs-node-gpu did not load .*CUDA 11\.2 and cuDNN 8\.1/);
    }
    await initBackend('cpu', false);
  });

  test('with tfjs-node present (simulated where it cannot install), auto picks it and the CLI runs on it', () => {
    const register = path.resolve('dist/test/fake_tfjs_node_register.js');
    const run = (...a: string[]) => spawnSync(process.execPath, ['--import', register, CLI, ...a], { encoding: 'utf8', timeout: 120_000 });
    const out = path.join(process.env.TMPDIR ?? '/tmp', `rlo-tfn-${process.pid}`);
    for (const backend of ['auto', 'tensorflow', 'tensorflow-gpu']) {
      const r = run('generate', '--network', path.resolve('test/fixtures/tiny16.pkl'), '--seeds', '0-1', '--outdir', `${out}-${backend}`, '--backend', backend);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, backend === 'tensorflow' ? /^backend: tensorflow \(tfjs-node, CPU\)$/m : /^backend: tensorflow \(tfjs-node(-gpu)?, /m);
    }
  });

  test('cpu-js and cpu initialize and say what runs', async () => {
    const js = await initBackend('cpu-js', false);
    assert.equal(tf.getBackend(), 'cpu-js');
    assert.match(js.description, /pure JS/);
    const cpu = await initBackend('cpu', false);
    assert.equal(tf.getBackend(), 'cpu');
    assert.match(cpu.description, /^cpu /);
  });

  test('the CLI reports the active backend once, and a bad --backend in one line', () => {
    const ok = cli(
      'generate',
      '--network',
      path.resolve('test/fixtures/tiny16.pkl'),
      '--seeds',
      '0',
      '--outdir',
      path.join(process.env.TMPDIR ?? '/tmp', `rlo-be-${process.pid}`),
      '--backend',
      'cpu',
      '--force',
    );
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.stderr.split('\n').filter((l) => l.startsWith('backend: ')).length, 1);
    const bad = cli('generate', '--network', 'x.pkl', '--outdir', '/tmp/x', '--backend', 'tensorflow-gpu');
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.match(bad.stderr, /^stylegan-rlo: backend tensorflow-gpu is not available/);
  });
});
