// generate: latents equal numpy's RandomState(seed).randn (as upstream generate.py draws them),
// the same seed always gives the same image (also across batch sizes and noise modes), files
// are written from the tiny16 pickle, style mixing, conditional labels, leaks.
import { CLI } from '../cli_helper.js';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { NumpyRandomState } from '../../src/numpy_random.js';
import { generateImages, parseRange, styleMix } from '../../src/generate.js';
import { buildGenerator, loadNetwork } from '../../src/io/network.js';
import { Generator } from '../../src/networks/generator.js';
import { Rng } from '../../src/rng.js';
import { assertNoLeak, FIXTURES, testBackend } from '../helpers.js';
import { tempDir } from '../train_helpers.js';

let G: Generator;
before(async () => {
  await testBackend();
  G = buildGenerator(await loadNetwork(path.join(FIXTURES, 'tiny16.pkl')));
});

describe('generate', () => {
  test('numpy RandomState(seed).randn, bit for bit (values from numpy 1.24)', () => {
    assert.deepEqual(Array.from(new NumpyRandomState(0).randn(3)), [1.764052345967664, 0.4001572083672233, 0.9787379841057392]);
    assert.deepEqual(Array.from(new NumpyRandomState(42).randn(3)), [0.4967141530112327, -0.13826430117118466, 0.6476885381006925]);
    assert.deepEqual(Array.from(new NumpyRandomState(4294967295).randn(2)), [0.6484086742306527, 0.6693235306338161]);
    assert.throws(() => new NumpyRandomState(-1), /seed must be an integer/);
  });

  test('the same seed gives the same image, whatever the batch; different seeds differ', async () => {
    for (const noiseMode of ['const', 'random'] as const) {
      const a = await generateImages(G, [3, 5, 7], { noiseMode, batch: 3, truncationPsi: 0.7 });
      const b = await generateImages(G, [7, 3], { noiseMode, batch: 1, truncationPsi: 0.7 });
      assert.deepEqual(a[0], b[1]);
      assert.deepEqual(a[2], b[0]);
      assert.notDeepEqual(a[0], a[1]);
    }
  });

  test('CLI writes one PNG per seed and a grid from tiny16.pkl; refuses to overwrite', async () => {
    const out = await tempDir('gen');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [CLI, 'generate', '--network', path.join(FIXTURES, 'tiny16.pkl'), '--outdir', out, '--backend', 'cpu', ...args], {
        encoding: 'utf8',
      });
    const r = run('--seeds', '0-5', '--grid', '3x2', '--trunc', '0.5');
    assert.equal(r.status, 0, r.stderr);
    const files = (await fs.readdir(out)).sort();
    assert.deepEqual(files, ['grid.png', 'seed0000.png', 'seed0001.png', 'seed0002.png', 'seed0003.png', 'seed0004.png', 'seed0005.png']);
    const again = run('--seeds', '0');
    assert.equal(again.status, 1);
    assert.match(again.stderr, /seed0000\.png already exists; use --force to replace/);
    assert.match(run('--seeds', 'x-1').stderr, /--seeds 'x-1': expected numbers and ranges/);
  });

  test('style mixing: rows keep their coarse styles only where not taken from the columns', async () => {
    const r = await styleMix(G, [1, 2], [3, 4, 5], [0, 1, 2], { noiseMode: 'const' });
    assert.equal(r.cells.length, 2);
    assert.equal(r.cells[0].length, 3);
    const all = await styleMix(
      G,
      [1],
      [3],
      Array.from({ length: G.numWs }, (_, i) => i),
    );
    assert.deepEqual(all.cells[0][0], all.cols[0]); // every layer from the column: the column image
    const none = await styleMix(G, [1], [3], []);
    assert.deepEqual(none.cells[0][0], none.rows[0]);
    await assert.rejects(styleMix(G, [1], [2], [99]), /layer 99 is out of range 0\.\.5/);
    assert.deepEqual(parseRange('0-2,5'), [0, 1, 2, 5]);
  });

  test('conditional networks need a class in range', async () => {
    const C = new Generator(
      {
        z_dim: 8,
        c_dim: 3,
        w_dim: 8,
        img_resolution: 8,
        img_channels: 3,
        mapping_kwargs: { num_layers: 1 },
        synthesis_kwargs: { channel_base: 64, channel_max: 8 },
      },
      new Rng(1),
    );
    await assert.rejects(generateImages(C, [0]), /conditional \(3 classes\): give options\.class 0\.\.2/);
    await assert.rejects(generateImages(C, [0], { classIdx: 3 }), /options\.class 3 is out of range 0\.\.2/);
    const [a] = await generateImages(C, [0], { classIdx: 0 });
    const [b] = await generateImages(C, [0], { classIdx: 2 });
    assert.notDeepEqual(a, b);
    C.dispose();
  });

  test('no tensor leaks', async () => {
    await assertNoLeak('generateImages', () => generateImages(G, [0, 1, 2], { noiseMode: 'random', batch: 2 }));
    await assertNoLeak('styleMix', () => styleMix(G, [0], [1, 2], [0, 1]));
    void tf;
  });
});

test('--backend wasm generates the same images as cpu (inference only)', async () => {
  const dir = await tempDir('wasm');
  const run = (backend: string) => {
    const out = path.join(dir, backend);
    const r = spawnSync(
      process.execPath,
      [CLI, 'generate', '--network', path.join(FIXTURES, 'tiny16.pkl'), '--seeds', '0-2', '--trunc', '0.7', '--outdir', out, '--backend', backend],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    return { out, stderr: r.stderr };
  };
  const wasm = run('wasm'),
    cpu = run('cpu');
  assert.match(wasm.stderr, /^backend: wasm/m);
  const sharp = (await import('sharp')).default;
  for (const f of await fs.readdir(cpu.out)) {
    const [a, b] = await Promise.all([wasm.out, cpu.out].map((d) => sharp(path.join(d, f)).raw().toBuffer()));
    assert.equal(a.length, b.length);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    assert.ok(worst <= 2, `${f}: wasm and cpu differ by ${worst} levels`);
  }
});
