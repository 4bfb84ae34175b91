// Backend selection: explicit choices that cannot load fail with one line saying what is needed;
// the cpu-js reference backend is always available.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';

describe('backend selection', () => {
  test('unknown and unavailable backends are one clear line', async () => {
    await assert.rejects(initBackend('cuda', false), /unknown backend 'cuda'; choose one of auto, tensorflow-gpu, tensorflow, cpu, cpu-js, wasm/);
    // tfjs-node cannot install on this kind of machine (its install downloads libtensorflow).
    await assert.rejects(initBackend('tensorflow-gpu', false), /tfjs-node-gpu did not load .*CUDA 11\.2 and cuDNN 8\.1/);
    await assert.rejects(initBackend('tensorflow', false), /@tensorflow\/tfjs-node did not load/);
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
    const cli = (...a: string[]) => spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), ...a], { encoding: 'utf8' });
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
