// The native (oneDNN) kernels against tfjs' own pure-JS kernels ('cpu-js') on odd geometries:
// strides, dilations, 'same'/'valid'/explicit padding, 1x1 pointwise, transposed convolutions,
// depthwise filters and batched/transposed matrix products. Tolerance 1e-4 + 1e-4|e|: sums of up
// to ~200 float32 products in a different order.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { nativeStatus } from '../src/native/index.js';
import { assertClose, testBackend } from './helpers.js';
import { randomArray } from './reference_ops.js';

await testBackend(); // before the skip conditions below are evaluated

/** Runs `f` on cpu (native) and cpu-js and compares every output. */
async function same(name: string, f: () => tf.Tensor | tf.Tensor[]) {
  const run = async (backend: string) => {
    await tf.setBackend(backend);
    const out = tf.tidy(f);
    const arr = Array.isArray(out) ? out : [out];
    const vals = arr.map((t) => ({ shape: t.shape, data: t.dataSync().slice() }));
    tf.dispose(arr);
    return vals;
  };
  const a = await run('cpu');
  const b = await run('cpu-js');
  await tf.setBackend('cpu');
  assert.equal(a.length, b.length);
  a.forEach((v, i) => {
    assert.deepEqual(v.shape, b[i].shape, `${name}[${i}] shape`);
    assertClose(`${name}[${i}]`, v.data, b[i].data, 1e-4, 1e-4);
  });
}

const t4 = (shape: [number, number, number, number], seed: number) => tf.tensor4d(randomArray(shape.reduce((p, q) => p * q), seed), shape);

test('CI runs the native fast path', { skip: process.env.CI ? false : 'only enforced under CI (.ci/run installs libdnnl-dev)' }, () => {
  assert.ok(nativeStatus().loaded, `native addon not loaded under CI: ${nativeStatus().detail}`);
});

// Skipped (with the reason) where the addon is not built: then 'cpu' is the pure-JS path itself.
describe('native kernels match tfjs kernels', { skip: nativeStatus().loaded ? false : `native addon not loaded (${nativeStatus().detail})` }, () => {
  type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];
  const convCases: { x: [number, number, number, number]; k: number; cout: number; stride: number; pad: Pad; dil: number }[] = [
    { x: [2, 9, 7, 5], k: 3, cout: 6, stride: 1, pad: 'same', dil: 1 },
    { x: [2, 9, 7, 5], k: 3, cout: 6, stride: 2, pad: 'valid', dil: 1 },
    { x: [1, 8, 8, 4], k: 3, cout: 3, stride: 1, pad: 'same', dil: 2 },
    { x: [3, 6, 6, 7], k: 1, cout: 4, stride: 1, pad: 'valid', dil: 1 },
    { x: [1, 10, 9, 3], k: 5, cout: 2, stride: 2, pad: [[0, 0], [2, 1], [0, 2], [0, 0]], dil: 1 },
    { x: [1, 5, 5, 2], k: 4, cout: 3, stride: 3, pad: 1, dil: 1 },
  ];
  for (const c of convCases) {
    test(`conv2d x [${c.x}] k ${c.k} stride ${c.stride} pad ${JSON.stringify(c.pad)} dilation ${c.dil}, and both gradients`, async () => {
      await same('conv2d', () => {
        const x = t4(c.x, 1);
        const w = t4([c.k, c.k, c.x[3], c.cout], 2);
        const f = (xi: tf.Tensor, wi: tf.Tensor) => tf.conv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, c.stride, c.pad, 'NHWC', c.dil);
        const y = f(x, w);
        const dy = tf.tensor(randomArray(y.size, 3), y.shape);
        const grads = c.dil === 1 ? tf.grads((xi: tf.Tensor, wi: tf.Tensor) => f(xi, wi).mul(dy).sum())([x, w]) : [];
        return [y, ...grads];
      });
    });
  }

  test('conv2dTranspose (Conv2DBackpropInput) with stride 2', async () => {
    await same('conv2dTranspose', () => tf.conv2dTranspose(t4([2, 4, 5, 3], 4), t4([3, 3, 6, 3], 5), [2, 9, 11, 6], 2, 'valid'));
  });

  test('depthwiseConv2d (channel multiplier 1) with stride and padding', async () => {
    await same('depthwise', () => [
      tf.depthwiseConv2d(t4([2, 9, 8, 5], 6), t4([4, 4, 5, 1], 7), 1, 'valid'),
      tf.depthwiseConv2d(t4([1, 7, 7, 3], 8), t4([3, 3, 3, 1], 9), 2, 'same'),
    ]);
  });

  test('matMul: plain, transposed, batched and broadcast', async () => {
    const r = (s: number[], seed: number) => tf.tensor(randomArray(s.reduce((p, q) => p * q), seed), s);
    await same('matmul', () => [
      tf.matMul(r([7, 5], 1) as tf.Tensor2D, r([5, 3], 2) as tf.Tensor2D),
      tf.matMul(r([5, 7], 3) as tf.Tensor2D, r([3, 5], 4) as tf.Tensor2D, true, true),
      tf.matMul(r([4, 7, 5], 5) as tf.Tensor3D, r([4, 5, 3], 6) as tf.Tensor3D, false, false),
      tf.matMul(r([4, 7, 5], 7) as tf.Tensor3D, r([1, 3, 5], 8) as tf.Tensor3D, false, true),
    ]);
  });
});
