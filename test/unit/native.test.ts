// The native kernels (our sgemm) against tfjs' own pure-JS kernels ('cpu-js') on odd geometries:
// strides, dilations, 'same'/'valid'/explicit padding, 1x1 pointwise, transposed convolutions,
// depthwise filters and batched/transposed matrix products. Tolerance 1e-4 + 1e-4|e|: sums of up
// to ~200 float32 products in a different order.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { nativeStatus } from '../../src/native/index.js';
import { assertClose, testBackend } from '../helpers.js';
import { randomArray } from '../reference_ops.js';

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

const t4 = (shape: [number, number, number, number], seed: number) =>
  tf.tensor4d(
    randomArray(
      shape.reduce((p, q) => p * q),
      seed,
    ),
    shape,
  );

test('CI runs the native fast path', { skip: process.env.CI ? false : 'only enforced under CI, where npm ci must have built the addon' }, () => {
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
    {
      x: [1, 10, 9, 3],
      k: 5,
      cout: 2,
      stride: 2,
      pad: [
        [0, 0],
        [2, 1],
        [0, 2],
        [0, 0],
      ],
      dil: 1,
    },
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
    const r = (s: number[], seed: number) =>
      tf.tensor(
        randomArray(
          s.reduce((p, q) => p * q),
          seed,
        ),
        s,
      );
    await same('matmul', () => [
      tf.matMul(r([7, 5], 1) as tf.Tensor2D, r([5, 3], 2) as tf.Tensor2D),
      tf.matMul(r([5, 7], 3) as tf.Tensor2D, r([3, 5], 4) as tf.Tensor2D, true, true),
      tf.matMul(r([4, 7, 5], 5) as tf.Tensor3D, r([4, 5, 3], 6) as tf.Tensor3D, false, false),
      tf.matMul(r([4, 7, 5], 7) as tf.Tensor3D, r([1, 3, 5], 8) as tf.Tensor3D, false, true),
    ]);
  });

  const r = (sh: number[], seed: number) =>
    tf.tensor(
      randomArray(
        sh.reduce((p, q) => p * q, 1),
        seed,
      ),
      sh,
    );

  test('broadcasting binary ops (add, sub, mul, div, max, min, squared difference), NaN propagation', async () => {
    const pairs: [number[], number[]][] = [
      [
        [2, 3, 4, 5],
        [2, 3, 4, 5],
      ],
      [
        [2, 3, 4, 5],
        [2, 1, 1, 5],
      ],
      [
        [1, 3, 1, 5],
        [2, 1, 4, 1],
      ],
      [[2, 3], []],
      [[], [4, 1]],
      [[5], [3, 1, 5]],
    ];
    await same('binary', () =>
      pairs.flatMap(([sa, sb], i) => {
        const a = r(sa, 10 + i),
          b = r(sb, 20 + i).add(sb.length === 0 ? 3 : 0);
        return [tf.add(a, b), tf.sub(a, b), tf.mul(a, b), tf.div(a, b), tf.maximum(a, b), tf.minimum(a, b), tf.squaredDifference(a, b)];
      }),
    );
    await same('NaN', () => {
      const a = tf.tensor1d([NaN, 1, 2]),
        b = tf.tensor1d([0, NaN, 1]);
      return [tf.maximum(a, b).isNaN().cast('float32'), tf.minimum(a, b).isNaN().cast('float32'), tf.mul(a, b).isNaN().cast('float32')];
    });
  });

  test('sum and mean over any axes, keepDims', async () => {
    await same('reduce', () => {
      const x = r([3, 4, 5, 6], 30);
      return [x.sum(), x.sum([0, 1, 2]), x.sum(3), x.sum([1, 2], true), x.mean([0, 2]), x.mean(-1, true), x.sum([0, 3])];
    });
  });

  test('transpose, tile, slice', async () => {
    await same('gather', () => {
      const x = r([2, 3, 4, 5], 40);
      return [x.transpose([0, 3, 1, 2]), x.transpose([3, 2, 1, 0]), x.tile([2, 1, 3, 1]), x.slice([1, 1, 0, 2], [1, 2, 4, 3]), r([3, 1], 41).tile([2, 4])];
    });
  });

  test('unstack and split along every axis (one strided copy per piece), batch 1 included, and the gradient of concat', async () => {
    await same('unstack', () => {
      const x = r([2, 3, 4, 5], 42);
      return [...x.unstack(0), ...x.unstack(1), ...x.unstack(2), ...x.unstack(3), ...r([1, 8, 6], 43).unstack(1)];
    });
    await same('split', () => {
      const x = r([2, 3, 4, 5], 44);
      const y = r([2, 3, 1, 5], 45);
      return [
        ...tf.split(x, 2, 0),
        ...tf.split(x, [1, 2], 1),
        ...tf.split(x, [1, -1, 2], 2),
        ...tf.split(x, 5, 3),
        ...tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf
            .concat([a, b], 2)
            .mul(r([2, 3, 5, 5], 46))
            .sum(),
        )([x, y]),
      ];
    });
  });

  test('max and average pooling (same/valid, stride 1 and 2; averages count valid inputs only)', async () => {
    await same('pool', () => {
      const x = r([2, 9, 8, 5], 60);
      return [
        tf.avgPool(x as tf.Tensor4D, 3, 1, 'same'),
        tf.avgPool(x as tf.Tensor4D, 3, 2, 'valid'),
        tf.maxPool(x as tf.Tensor4D, 3, 2, 'valid'),
        tf.maxPool(x as tf.Tensor4D, 3, 1, 'same'),
        tf.avgPool(x as tf.Tensor4D, [2, 3], [2, 1], 'same'),
      ];
    });
  });

  test('the sparse map (augmentation resampling) and its transpose equal the gather/scatter path, with gradients', async () => {
    const { sparseMap, sparseMapT } = await import('../../src/ops/sparse_map.js');
    const M = 700;
    const P = 900;
    const K = 4;
    const idx = Int32Array.from(randomArray(P * K, 80), (v) => Math.floor((v + 1) * 0.5 * M) % M);
    const w = Float32Array.from(randomArray(P * K, 81));
    const { nativeAddon } = await import('../../src/native/index.js');
    const addon = nativeAddon()!;
    const params = { p: 1, k: 1, m: 2, c: 3, transpose: false };
    assert.throws(() => addon.sparseMap(new Float32Array(6), Int32Array.of(2), null, params, new Float32Array(3)), /sparseMap index out of range/);
    assert.throws(() => addon.sparseMap(new Float32Array(6), Float32Array.of(1) as never, null, params, new Float32Array(3)), /expected an Int32Array/);
    for (const weights of [w, null]) {
      const m = { idx, w: weights, P, K, M };
      await same('sparseMap', () => {
        const x = r([M, 3], 82) as tf.Tensor2D;
        const y = r([P, 3], 83) as tf.Tensor2D;
        return [
          sparseMap(x, m),
          sparseMapT(y, m),
          tf.grad((xi: tf.Tensor) =>
            sparseMap(xi as tf.Tensor2D, m)
              .square()
              .sum(),
          )(x),
          tf.grad((yi: tf.Tensor) =>
            sparseMapT(yi as tf.Tensor2D, m)
              .square()
              .sum(),
          )(y),
        ];
      });
    }
  });

  test('fused biasAct and upfirdn2d equal the composed-op path (values and gradients)', async () => {
    const { biasAct } = await import('../../src/ops/bias_act.js');
    const { upfirdn2d, setupFilter } = await import('../../src/ops/upfirdn2d.js');
    await same('fused', () => {
      const x = r([2, 5, 6, 3], 50).mul(3) as tf.Tensor4D;
      const b = r([3], 51);
      const f = setupFilter([1, 3, 3, 1]);
      const ba = (xi: tf.Tensor, bi: tf.Tensor) => biasAct(xi, bi, { act: 'lrelu', clamp: 2 });
      const uf = (xi: tf.Tensor) => upfirdn2d(xi as tf.Tensor4D, f, { up: 2, down: 1, padding: [2, 1, 1, 2], gain: 4 });
      return [
        ba(x, b),
        ...tf.grads((xi: tf.Tensor, bi: tf.Tensor) => ba(xi, bi).mul(x).sum())([x, b]),
        uf(x),
        tf.grad((xi: tf.Tensor) => uf(xi).square().sum())(x),
      ];
    });
    // 12 taps (applied separably, as the augmentation's wavelets) and a 2-D filter that is not
    // an outer product (applied as is), up and down, with crops and pads.
    const long = setupFilter([0.02, -0.06, -0.03, 0.25, 0.5, 0.6, 0.3, -0.1, -0.05, 0.04, 0.01, -0.01]);
    const plain = setupFilter(
      [
        [1, 2, 0],
        [0, 1, 3],
        [2, 0, 1],
      ],
      { normalize: false },
    );
    await same('upfirdn2d filters', () => {
      const x = r([2, 9, 7, 3], 52) as tf.Tensor4D;
      const ups = (xi: tf.Tensor) => upfirdn2d(xi as tf.Tensor4D, long, { up: 2, padding: [6, 5, 6, 5], gain: 4 });
      const downs = (xi: tf.Tensor) => upfirdn2d(xi as tf.Tensor4D, long, { down: 2, padding: [-3, -4, 2, 1], flipFilter: true });
      const twoD = (xi: tf.Tensor) => upfirdn2d(xi as tf.Tensor4D, plain, { up: [2, 1], down: [1, 2], padding: [1, 2, 2, 0] });
      const big = r([2, 24, 26, 3], 53) as tf.Tensor4D;
      // 37 channels: the kernel sums 16 channels at a time, then the remaining 5.
      const wide = r([1, 24, 26, 37], 54) as tf.Tensor4D;
      const grad = (f: (xi: tf.Tensor) => tf.Tensor, xi: tf.Tensor) => tf.grad((t: tf.Tensor) => f(t).square().sum())(xi);
      return [ups(x), downs(big), twoD(x), grad(ups, x), grad(downs, big), grad(twoD, x), ups(wide), downs(wide), twoD(wide), grad(twoD, wide)];
    });
  });
});

// The kernel's outputs are not zero-filled and it runs its parallel loop above 32768 elements:
// a large tensor checks that every element is written, against the formula, for every
// activation with and without bias and clamp, with infinities and values past the clamp.
test('biasAct kernel: every element of value and mask, all activations, bias, clamp, infinities, NaN propagation', {
  skip: !nativeStatus().loaded && 'native addon not built',
}, async () => {
  const { nativeAddon } = await import('../../src/native/index.js');
  const addon = nativeAddon()!;
  const C = 37;
  const n = C * 1201; // 44437 elements
  const x = Float32Array.from(randomArray(n, 70), (v) => v * 8);
  x[5] = Infinity;
  x[6] = -Infinity;
  x[7] = 300;
  x[8] = -300;
  const b = Float32Array.from(randomArray(C, 71));
  for (const [act, code] of [
    ['linear', 0],
    ['relu', 1],
    ['lrelu', 2],
  ] as const) {
    for (const bias of [b, null]) {
      for (const clamp of [-1, 3]) {
        const alpha = 0.2;
        const gain = 1.5;
        const y = new Float32Array(n).fill(Number.NaN);
        const mask = new Float32Array(n).fill(Number.NaN);
        addon.biasAct(x, bias, { channels: C, act: code, alpha, gain, clamp }, y, mask);
        for (let i = 0; i < n; i++) {
          const v0 = Math.fround(x[i] + (bias ? bias[i % C] : 0));
          const slope = act === 'linear' ? 1 : act === 'relu' ? 0 : Math.fround(alpha); // float32, as the kernel
          let v = Math.fround(Math.fround(v0 > 0 ? v0 : act === 'relu' ? 0 : Math.fround(v0 * slope)) * Math.fround(gain));
          let d = v0 > 0 ? Math.fround(gain) : Math.fround(Math.fround(gain) * Math.fround(slope));
          if (clamp >= 0 && Math.abs(v) > clamp) {
            d = 0;
            v = Math.sign(v) * clamp;
          }
          const where = `${act} bias ${bias !== null} clamp ${clamp} at ${i} (x ${x[i]})`;
          assert.equal(y[i], v, `value, ${where}`);
          assert.equal(mask[i], d, `mask, ${where}`);
        }
      }
    }
  }
  const nan = new Float32Array(4096 * 4).fill(Number.NaN);
  const out = new Float32Array(nan.length);
  for (const code of [0, 2]) {
    addon.biasAct(nan, null, { channels: 4, act: code, alpha: 0.2, gain: 1, clamp: 3 }, out, null);
    assert.ok(out.every(Number.isNaN), `act ${code}: NaN in gives NaN out (divergence stays visible)`);
  }
});

test('the addon reads parameter objects by name: a missing or mistyped field is a TypeError naming it', {
  skip: !nativeStatus().loaded && 'native addon not built',
}, async () => {
  const { nativeAddon } = await import('../../src/native/index.js');
  const addon = nativeAddon()!;
  const geom = { n: 1, h: 2, w: 2, c: 1, kh: 1, kw: 1, o: 1, oh: 2, ow: 2, sh: 1, sw: 1, dh: 1, dw: 1, pt: 0, pl: 0 };
  const x = Float32Array.of(1, 2, 3, 4),
    w = Float32Array.of(2),
    out = new Float32Array(4);
  addon.conv2d(x, w, geom, out);
  assert.deepEqual(Array.from(out), [2, 4, 6, 8]);
  const { pl: _pl, ...noPl } = geom;
  assert.throws(() => addon.conv2d(x, w, noPl as typeof geom, out), { name: 'TypeError', message: /parameter 'pl' is missing/ });
  assert.throws(() => addon.conv2d(x, w, { ...geom, n: 'one' } as unknown as typeof geom, out), {
    name: 'TypeError',
    message: /parameter 'n' must be an integer/,
  });
  assert.throws(() => addon.conv2d(x, w, geom, new Float32Array(3)), /output has 3 values, expected 4/);
  assert.throws(() => addon.binary(0, x, x, { shape: [4], aStrides: [1], bStrides: [] }, out), /binary shape and strides must have one rank/);
  assert.throws(() => (addon.gather as (...a: unknown[]) => void)(x, { shape: [4], inStrides: [1], mods: [0], base: 0 }), /gather expects 3 arguments, got 2/);
});
