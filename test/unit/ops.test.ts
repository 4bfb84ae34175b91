// Op tests: each op against a slow reference (test/reference_ops.ts), gradients by the adjoint
// (dot-product) identity <A x, y> = <x, A^T y>, which any wrong gradient breaks, and second-order
// gradients where the op promises them. Tolerance 1e-5 + 1e-4|e|: float32 sums of <100 terms.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { upfirdn2d, setupFilter, upsample2d, downsample2d } from '../../src/ops/upfirdn2d.js';
import { conv2dResample } from '../../src/ops/conv2d_resample.js';
import { biasAct } from '../../src/ops/bias_act.js';
import { minibatchStd, normalize2ndMoment } from '../../src/ops/misc.js';
import { modulatedConv2d, demodCoefs } from '../../src/ops/modulated_conv2d.js';
import { stopGradient } from '../../src/ops/stop_gradient.js';
import { assertClose, assertNoLeak, testBackend } from '../helpers.js';
import { normalizedFilter, randomArray, refConv2dResample, refUpfirdn2d, type Shape4 } from '../reference_ops.js';

const TOL = { atol: 1e-5, rtol: 1e-4 };
before(() => testBackend());

function dotTest(name: string, op: (x: tf.Tensor4D) => tf.Tensor, xShape: Shape4, seed: number) {
  tf.tidy(() => {
    const x = tf.tensor4d(
      randomArray(
        xShape.reduce((a, b) => a * b),
        seed,
      ),
      xShape,
    );
    const y0 = op(x);
    const y = tf.tensor(randomArray(y0.size, seed + 1), y0.shape);
    const g = tf.grad((xi: tf.Tensor) =>
      op(xi as tf.Tensor4D)
        .mul(y)
        .sum(),
    )(x);
    const lhs = y0.mul(y).sum().dataSync()[0];
    const rhs = x.mul(g).sum().dataSync()[0];
    assertClose(`${name} adjoint`, [rhs], [lhs], 1e-4, 1e-4);
  });
}

describe('upfirdn2d', () => {
  const cases: { up: number; down: number; pad: number[]; flip: boolean; gain: number; taps: number[] }[] = [
    { up: 1, down: 1, pad: [1, 2, 0, 1], flip: false, gain: 1, taps: [1, 3, 3, 1] },
    { up: 2, down: 1, pad: [2, 1, 2, 1], flip: false, gain: 4, taps: [1, 3, 3, 1] },
    { up: 1, down: 2, pad: [1, 1, 1, 1], flip: false, gain: 1, taps: [1, 3, 3, 1] },
    { up: 2, down: 2, pad: [0, 0, 1, 0], flip: true, gain: 2, taps: [1, 2, 1] },
    { up: 3, down: 1, pad: [-1, 2, 1, -2], flip: false, gain: 1, taps: [1, 3, 3, 1] },
    { up: 1, down: 3, pad: [-1, 0, 0, 0], flip: true, gain: 0.5, taps: [1, 4, 6, 4, 1] },
  ];
  for (const k of cases) {
    test(`up ${k.up} down ${k.down} pad [${k.pad}] flip ${k.flip} gain ${k.gain} taps ${k.taps.length}`, () => {
      const xs: Shape4 = [2, 7, 6, 3];
      const xData = randomArray(2 * 7 * 6 * 3, 7);
      const f = normalizedFilter(k.taps);
      const exp = refUpfirdn2d(xData, xs, f, k.up, k.down, k.pad, k.flip, k.gain);
      const op = (x: tf.Tensor4D) =>
        upfirdn2d(x, setupFilter(k.taps), { up: k.up, down: k.down, padding: k.pad as [number, number, number, number], flipFilter: k.flip, gain: k.gain });
      tf.tidy(() => {
        const y = op(tf.tensor4d(xData, xs));
        assert.deepEqual(y.shape, exp.shape);
        assertClose('upfirdn2d', y.dataSync(), exp.data, TOL.atol, TOL.rtol);
      });
      dotTest('upfirdn2d', op, xs, 11);
      // The gradient map dy -> A^T dy is itself an upfirdn2d, so it can be differentiated again
      // (R1 / PL need that): check its own adjoint the same way.
      const x0 = tf.tensor4d(randomArray(2 * 7 * 6 * 3, 3), xs);
      dotTest(
        'upfirdn2d gradient',
        (dy) =>
          tf.grad((xi: tf.Tensor) =>
            op(xi as tf.Tensor4D)
              .mul(dy)
              .sum(),
          )(x0) as tf.Tensor4D,
        exp.shape,
        5,
      );
      x0.dispose();
    });
  }

  test('upsample2d / downsample2d keep a constant image constant', () => {
    tf.tidy(() => {
      const f = setupFilter([1, 3, 3, 1]);
      const up = upsample2d(tf.ones([1, 4, 4, 2]) as tf.Tensor4D, f);
      assert.deepEqual(up.shape, [1, 8, 8, 2]);
      // Interior pixels of an upsampled constant stay 1 (DC gain 1 after the up^2 gain).
      assertClose('upsample interior', up.slice([0, 2, 2, 0], [1, 4, 4, 2]).dataSync(), new Float32Array(32).fill(1), 1e-6, 0);
      const down = downsample2d(tf.ones([1, 8, 8, 2]) as tf.Tensor4D, f);
      assert.deepEqual(down.shape, [1, 4, 4, 2]);
      assertClose('downsample interior', down.slice([0, 1, 1, 0], [1, 2, 2, 2]).dataSync(), new Float32Array(8).fill(1), 1e-6, 0);
    });
  });

  test('setupFilter normalizes, flips and scales', () => {
    const f = setupFilter([1, 2], { flipFilter: true, gain: 2 });
    assert.equal(f.fh, 2);
    assertClose(
      'filter',
      f.data,
      [(((4 / 9) * 2) / 4) * 1, 2 / 9, 2 / 9, (2 / 9) * 0.5].map((_, i) => [8 / 9, 4 / 9, 4 / 9, 2 / 9][i]),
      1e-7,
      0,
    );
    assert.throws(() => setupFilter([]), /no taps/);
  });

  test('bad input: rank and empty output', () => {
    assert.throws(() => upfirdn2d(tf.zeros([2, 3]) as unknown as tf.Tensor4D, null), /rank-4/);
    assert.throws(() => tf.tidy(() => upfirdn2d(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, setupFilter([1, 3, 3, 1]), { padding: -2 })), /empty output/);
    assert.throws(() => upfirdn2d(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, null, { up: 0 }), /integers >= 1/);
  });
});

describe('conv2dResample', () => {
  const cases: { k: number; up: number; down: number; pad: number }[] = [
    { k: 3, up: 1, down: 1, pad: 1 },
    { k: 3, up: 2, down: 1, pad: 1 },
    { k: 3, up: 1, down: 2, pad: 1 },
    { k: 1, up: 2, down: 1, pad: 0 },
    { k: 1, up: 1, down: 2, pad: 0 },
    { k: 3, up: 1, down: 1, pad: 0 },
    { k: 3, up: 2, down: 2, pad: 1 },
    { k: 5, up: 2, down: 1, pad: 2 },
  ];
  for (const c of cases) {
    test(`k ${c.k} up ${c.up} down ${c.down} pad ${c.pad} matches upstream's generic path`, () => {
      const xs: Shape4 = [2, 6, 6, 3];
      const wsh: Shape4 = [c.k, c.k, 3, 4];
      const xData = randomArray(2 * 6 * 6 * 3, 1);
      const wData = randomArray(c.k * c.k * 12, 2);
      const exp = refConv2dResample(xData, xs, wData, wsh, normalizedFilter([1, 3, 3, 1]), c.up, c.down, c.pad);
      const op = (x: tf.Tensor4D) => conv2dResample(x, tf.tensor4d(wData, wsh), { f: setupFilter([1, 3, 3, 1]), up: c.up, down: c.down, padding: c.pad });
      tf.tidy(() => {
        const y = op(tf.tensor4d(xData, xs));
        assert.deepEqual(y.shape, exp.shape);
        assertClose('conv2dResample', y.dataSync(), exp.data, 1e-4, 1e-4);
      });
      dotTest('conv2dResample', op, xs, 3);
    });
  }

  test('flipWeight false is convolution (flipped kernel)', () => {
    tf.tidy(() => {
      const x = tf.tensor4d(randomArray(1 * 5 * 5 * 2, 4), [1, 5, 5, 2]);
      const w = tf.tensor4d(randomArray(3 * 3 * 2 * 2, 5), [3, 3, 2, 2]);
      const a = conv2dResample(x, w, { padding: 1, flipWeight: false });
      const b = conv2dResample(x, tf.reverse(w, [0, 1]) as tf.Tensor4D, { padding: 1 });
      assertClose('flip', a.dataSync(), b.dataSync(), 1e-6, 1e-6);
    });
  });

  test('bad input: channel mismatch', () => {
    assert.throws(
      () => tf.tidy(() => conv2dResample(tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, tf.zeros([3, 3, 2, 4]) as tf.Tensor4D)),
      /3 channels but the weight expects 2/,
    );
  });
});

describe('biasAct', () => {
  const x = randomArray(4 * 5, 9).map((v) => v * 3);
  const b = randomArray(5, 10);
  const cases: { act: 'linear' | 'relu' | 'lrelu'; gain?: number; clamp?: number; f: (v: number) => number }[] = [
    { act: 'linear', f: (v) => v },
    { act: 'linear', gain: 2, clamp: 1, f: (v) => Math.max(-1, Math.min(1, 2 * v)) },
    { act: 'relu', f: (v) => Math.SQRT2 * Math.max(v, 0) },
    { act: 'lrelu', f: (v) => Math.SQRT2 * (v > 0 ? v : 0.2 * v) },
    { act: 'lrelu', clamp: 1.5, f: (v) => Math.max(-1.5, Math.min(1.5, Math.SQRT2 * (v > 0 ? v : 0.2 * v))) },
  ];
  for (const c of cases) {
    test(`${c.act} gain ${c.gain ?? 'default'} clamp ${c.clamp ?? 'none'}: values, gradient and second order`, () => {
      tf.tidy(() => {
        const xt = tf.tensor2d(x, [4, 5]);
        const bt = tf.tensor1d(b);
        const y = biasAct(xt, bt, { act: c.act, gain: c.gain, clamp: c.clamp });
        const exp = Array.from(x, (v, i) => c.f(v + b[i % 5]));
        assertClose('biasAct', y.dataSync(), exp, 1e-6, 1e-6);
        // Gradient by central differences of the reference (x stays clear of the kinks).
        const [gx, gb] = tf.grads((xi: tf.Tensor, bi: tf.Tensor) => biasAct(xi, bi, { act: c.act, gain: c.gain, clamp: c.clamp }).sum())([xt, bt]);
        const h = 1e-3;
        const num = Array.from(x, (v, i) => (c.f(v + b[i % 5] + h) - c.f(v + b[i % 5] - h)) / (2 * h));
        assertClose('dx', gx.dataSync(), num, 1e-3, 1e-3);
        const numB = [0, 1, 2, 3, 4].map((j) => num.filter((_, i) => i % 5 === j).reduce((p, q) => p + q, 0));
        assertClose('db', gb.dataSync(), numB, 1e-3, 1e-3);
        // d/dy of sum((d sum(y * r)/dx)^2): the mask is constant, so this is 2 * mask^2 * r summed.
        const r = tf.tensor2d(randomArray(20, 12), [4, 5]);
        const gg = tf.grad((rr: tf.Tensor) =>
          tf
            .grad((xi: tf.Tensor) => biasAct(xi, bt, { act: c.act, gain: c.gain, clamp: c.clamp }).mul(rr).sum())(xt)
            .square()
            .sum(),
        )(r);
        const expGG = Array.from(x, (_, i) => 2 * num[i] * num[i] * r.dataSync()[i]);
        assertClose('second order', gg.dataSync(), expGG, 1e-3, 1e-3);
      });
    });
  }
  test('bad input', () => {
    assert.throws(() => biasAct(tf.zeros([2, 3]), tf.zeros([4]), { act: 'lrelu' }), /bias shape \[4\] does not match/);
    assert.throws(() => biasAct(tf.zeros([2, 3]), null, { act: 'gelu' as never }), /unknown activation 'gelu'/);
    assert.throws(() => biasAct(tf.zeros([2, 3]), null, { clamp: -1 }), /clamp must be >= 0/);
  });
});

describe('misc ops', () => {
  test('minibatchStd matches its definition (groups are samples i, i + N/G)', () => {
    const [n, h, w, c] = [4, 2, 3, 4];
    const x = randomArray(n * h * w * c, 21);
    const G = 2,
      F = 2,
      cc = c / F,
      groups = n / G;
    tf.tidy(() => {
      const y = minibatchStd(tf.tensor4d(x, [n, h, w, c]), G, F);
      assert.deepEqual(y.shape, [n, h, w, c + F]);
      const yd = y.dataSync();
      for (let j = 0; j < groups; j++)
        for (let f = 0; f < F; f++) {
          let acc = 0;
          for (let yy = 0; yy < h; yy++)
            for (let xx = 0; xx < w; xx++)
              for (let k = 0; k < cc; k++) {
                const vals = [0, 1].map((g) => x[(((g * groups + j) * h + yy) * w + xx) * c + f * cc + k]);
                const m = (vals[0] + vals[1]) / 2;
                acc += Math.sqrt(((vals[0] - m) ** 2 + (vals[1] - m) ** 2) / 2 + 1e-8);
              }
          const s = acc / (h * w * cc);
          for (const g of [0, 1]) assertClose('mbstd', [yd[(((g * groups + j) * h + 1) * w + 2) * (c + F) + c + f]], [s], 1e-6, 1e-5);
        }
    });
    assert.throws(() => tf.tidy(() => minibatchStd(tf.zeros([3, 2, 2, 4]) as tf.Tensor4D, 2)), /not divisible by the group size 2/);
  });

  test('normalize2ndMoment gives unit mean square', () => {
    tf.tidy(() => {
      const y = normalize2ndMoment(tf.tensor2d(randomArray(3 * 8, 3), [3, 8]));
      assertClose('ms', y.square().mean(1).dataSync(), [1, 1, 1], 1e-5, 0);
    });
  });

  test('demodCoefs equals the per-sample weight formula', () => {
    tf.tidy(() => {
      const w = tf.tensor4d(randomArray(3 * 3 * 4 * 5, 1), [3, 3, 4, 5]);
      const s = tf.tensor2d(randomArray(2 * 4, 2), [2, 4]);
      const direct = w
        .expandDims(0)
        .mul(s.reshape([2, 1, 1, 4, 1]))
        .square()
        .sum([1, 2, 3])
        .add(1e-8)
        .rsqrt();
      assertClose('dcoefs', demodCoefs(w, s).dataSync(), direct.dataSync(), 1e-6, 1e-5);
      assert.throws(() => modulatedConv2d(tf.zeros([2, 4, 4, 3]) as tf.Tensor4D, w, s), /shapes do not agree/);
    });
  });

  test('stopGradient passes values and blocks gradients', () => {
    tf.tidy(() => {
      const g = tf.grad((x: tf.Tensor) => stopGradient(x).mul(x).sum())(tf.tensor1d([1, 2, 3]));
      assertClose('stop', g.dataSync(), [1, 2, 3], 0, 0);
    });
  });

  test('ops leak no tensors', async () => {
    await assertNoLeak('ops', () =>
      tf.tidy(() => {
        const x = tf.ones([2, 8, 8, 3]) as tf.Tensor4D;
        const f = setupFilter([1, 3, 3, 1]);
        tf.grad((xi: tf.Tensor) => upsample2d(downsample2d(xi as tf.Tensor4D, f), f).sum())(x);
        tf.grad((xi: tf.Tensor) => biasAct(xi, tf.zeros([3]), { act: 'lrelu', clamp: 1 }).sum())(x);
        tf.grad((xi: tf.Tensor) => conv2dResample(xi as tf.Tensor4D, tf.ones([3, 3, 3, 2]) as tf.Tensor4D, { f, up: 2, padding: 1 }).sum())(x);
        minibatchStd(x, 2);
      }),
    );
  });
});

test('biasAct outside any gradient tape (inference) computes no mask and gives the same values as under a tape', async () => {
  for (const [act, clamp] of [
    ['lrelu', 0.3],
    ['relu', null],
    ['linear', 0.5],
  ] as const) {
    const x = tf.tensor4d(randomArray(2 * 4 * 4 * 5, 11), [2, 4, 4, 5]),
      b = tf.tensor1d(randomArray(5, 12));
    const plain = biasAct(x, b, { act, clamp });
    let taped: Float32Array | null = null;
    tf.grad((xi: tf.Tensor) => {
      const y = biasAct(xi, b, { act, clamp });
      taped = y.dataSync() as Float32Array;
      return y.sum();
    })(x).dispose();
    assert.deepEqual(Array.from(plain.dataSync()), Array.from(taped!), `${act}, clamp ${clamp}`);
    await assertNoLeak(`biasAct ${act} no tape`, () => biasAct(x, b, { act, clamp }).dispose());
    tf.dispose([x, b, plain]);
  }
});
