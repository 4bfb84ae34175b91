// The ADA pipeline: identity at p = 0, exact pixel-blitting transforms through the wavelet
// resampling, color transforms, and gradients (adjoint identity, second order) through it all.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AugmentPipe, type DrawSource, gridSampleBilinear, reflectPad } from '../../src/train/augment.js';
import { Rng } from '../../src/rng.js';
import { assertClose, assertNoLeak, FIXTURES, testBackend, runOnWebGpu, webgpuUnavailable } from '../helpers.js';

interface AugCase {
  name: string;
  pipe: string;
  p: number;
  shape: number[];
  x: number[];
  y: number[];
  draws: [string, number[]][];
}
const augmentRef: { cases: AugCase[] } = JSON.parse(readFileSync(path.join(FIXTURES, 'augment_ref.json'), 'utf8'));
import { randomArray } from '../reference_ops.js';

before(() => testBackend());

/**
 * Replays upstream's recorded draws through our pipe and compares the images. Tolerance
 * 2e-4 + 1e-3|e|: float32 resampling through two 12-tap wavelet filters and a 4x4 color matrix,
 * in another order.
 */
async function upstreamCase(c: AugCase): Promise<void> {
  let k = 0;
  const next = (kind: string, n: number) => {
    const [dk, vals] = c.draws[k++];
    assert.equal(dk, kind, `draw ${k - 1} kind`);
    assert.equal(vals.length, n, `draw ${k - 1} size`);
    return vals;
  };
  const src: DrawSource = { rand: (n) => next('u', n), randn: (n) => next('n', n) };
  const [n, ch, h, w] = c.shape;
  const y = tf.tidy(() => {
    const x = tf.tensor4d(c.x, [n, ch, h, w]).transpose([0, 2, 3, 1]) as tf.Tensor4D;
    return new AugmentPipe(c.pipe, c.p).apply(x, src).transpose([0, 3, 1, 2]);
  });
  assert.equal(k, c.draws.length, 'every upstream draw consumed');
  const got = await y.data();
  y.dispose();
  assertClose(c.name, got, c.y, 2e-4, 1e-3);
}

/** The pipe with fixed draws is affine in x: <x, J^T r> must equal <J x, r>; its second-order gradient is finite. */
async function adjointCase(): Promise<void> {
  const [lhs, rhs, ggSum, ggShape, rShape] = tf.tidy(() => {
    const x = img(2, 8, 3, 9);
    const pipe = new AugmentPipe('bgc', 1);
    // The same draws on every call: a fixed linear map plus an offset (color translation).
    const f = (xi: tf.Tensor) => pipe.apply(xi as tf.Tensor4D, new Rng(11)).sub(pipe.apply(tf.zerosLike(xi) as tf.Tensor4D, new Rng(11)));
    const y0 = f(x);
    const r = tf.tensor(randomArray(y0.size, 12), y0.shape);
    const g = tf.grad((xi: tf.Tensor) => f(xi).mul(r).sum())(x);
    const gg = tf.grad((rr: tf.Tensor) =>
      tf
        .grad((xi: tf.Tensor) => f(xi).mul(rr).sum())(x)
        .square()
        .sum(),
    )(r);
    return [x.mul(g).sum(), y0.mul(r).sum(), gg.sum(), gg.shape, r.shape] as const;
  });
  const [a, b, s] = await Promise.all([lhs.data(), rhs.data(), ggSum.data()]);
  tf.dispose([lhs, rhs, ggSum]);
  assertClose('adjoint', [a[0]], [b[0]], 1e-3, 1e-4);
  assert.deepEqual(ggShape, rShape);
  assert.ok(Number.isFinite(s[0]));
}
const img = (n: number, s: number, c = 3, seed = 1) => tf.tensor4d(randomArray(n * s * s * c, seed), [n, s, s, c]);

describe('augment', () => {
  test('p = 0 is the identity (no work)', () => {
    const x = img(2, 8);
    assert.equal(new AugmentPipe('bgc', 0).apply(x, new Rng(0)), x);
    x.dispose();
  });

  // Upstream's AugmentPipe with its torch.rand/randn draws recorded (test/fixtures/README.md):
  // replaying the same draws must give the same images.
  for (const c of augmentRef.cases) test(`matches upstream AugmentPipe: ${c.name} (pipe ${c.pipe}, p ${c.p})`, () => upstreamCase(c));

  test('brightness adds one offset per sample; contrast scales', () => {
    tf.tidy(() => {
      const x = img(4, 6);
      const y = new AugmentPipe({ brightness: 1 }, 1).apply(x, new Rng(5));
      const d = y.sub(x);
      for (let b = 0; b < 4; b++) {
        const v = d.slice(b, 1).dataSync();
        assert.ok(Math.max(...v) - Math.min(...v) < 1e-5, 'constant offset');
      }
      const z = new AugmentPipe({ contrast: 1 }, 1).apply(x, new Rng(6));
      for (let b = 0; b < 4; b++) {
        const r = z.slice(b, 1).div(x.slice(b, 1)).dataSync();
        assert.ok(Math.max(...r) - Math.min(...r) < 1e-3, 'one scale per sample');
      }
    });
  });

  test('grayscale images take the averaged color transform', () => {
    tf.tidy(() => {
      const y = new AugmentPipe('bgc', 0.8).apply(img(3, 8, 1), new Rng(7));
      assert.deepEqual(y.shape, [3, 8, 8, 1]);
      assert.ok(Number.isFinite(y.sum().dataSync()[0]));
    });
  });

  test('gradients: adjoint identity through the whole bgc pipeline, and second order runs', adjointCase);

  test('reflectPad matches torch reflect semantics; identity grid sample is the identity', () => {
    tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
      assert.deepEqual(Array.from(reflectPad(x, 2, 1, 0, 0).dataSync()), [3, 2, 1, 2, 3, 2, 6, 5, 4, 5, 6, 5, 9, 8, 7, 8, 9, 8]);
      assert.throws(() => reflectPad(x, 3, 0, 0, 0), /smaller than the image/);
      const y = gridSampleBilinear(
        img(2, 5),
        [
          [1, 0, 0, 0, 1, 0, 0, 0, 1],
          [1, 0, 0, 0, 1, 0, 0, 0, 1],
        ],
        5,
        5,
      );
      assertClose('identity', y.dataSync(), img(2, 5).dataSync(), 1e-6, 0);
    });
  });

  test('no leaks; unknown pipeline named', async () => {
    const x = img(2, 8);
    await assertNoLeak('AugmentPipe.apply', () => new AugmentPipe('bgc', 0.7).apply(x, new Rng(1)).dispose());
    x.dispose();
    assert.throws(() => new AugmentPipe('bgcfnc'), /unknown augmentation pipeline 'bgcfnc'/);
  });
});

// The same upstream replays and gradients on webgpu where it starts (SwiftShader without a GPU;
// CI makes sure it does: webgpu.test.ts), and no tensors left behind there.
describe('augment on webgpu', { skip: (await webgpuUnavailable()) ?? false }, () => {
  runOnWebGpu();
  for (const c of augmentRef.cases) test(`matches upstream AugmentPipe: ${c.name} (pipe ${c.pipe}, p ${c.p})`, () => upstreamCase(c));
  test('gradients: adjoint identity through the whole bgc pipeline, and second order runs', adjointCase);
  test('no leaks', async () => {
    const x = img(2, 8);
    await assertNoLeak('AugmentPipe.apply on webgpu', () => new AugmentPipe('bgc', 0.7).apply(x, new Rng(1)).dispose());
    x.dispose();
  });
});
