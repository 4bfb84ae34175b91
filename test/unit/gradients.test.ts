// ops/gradients.ts: the same gradients as tfjs' own, to the bit (first and second order, custom
// ops, reuse, broadcasting, a seeded dy), with the backward pass releasing what it has used: a
// chain's peak memory stays near its forward pass's, where tfjs' holds every gradient at once.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { grad, variableGrads } from '../../src/ops/gradients.js';
import { biasAct } from '../../src/ops/bias_act.js';
import { bufferPeak } from '../../scripts/lib/buffer_peak.js';
import { assertNoLeak, testBackend } from '../helpers.js';
import { randomArray } from '../reference_ops.js';

before(() => testBackend());

const tensor = (shape: number[], seed: number) =>
  tf.tensor(
    randomArray(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
    shape,
  );

/** A graph with every case the backward pass must get right. */
function graph(x: tf.Tensor, a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  const h = tf.matMul(x as tf.Tensor2D, a as tf.Tensor2D); // [4, 8]
  const act = biasAct(h, b, { act: 'lrelu', clamp: 0.8 }); // a custom op, b broadcast over rows
  const twice = act.mul(act); // one tensor as both inputs
  const same = h.clone().add(h); // an identity (clone), and h used three times
  return twice.sum().add(same.square().mean()).add(act.sin().sum()) as tf.Scalar;
}

async function values(ts: Record<string, tf.Tensor> | tf.Tensor[]): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(ts)) out[k] = Array.from(await t.data());
  return out;
}

describe('gradients that release memory (ops/gradients.ts)', () => {
  const x = tensor([4, 6], 1);
  const vars = { a: tf.variable(tensor([6, 8], 2), true, 'grad-test-a'), b: tf.variable(tensor([8], 3), true, 'grad-test-b') };
  const unused = tf.variable(tensor([3], 4), true, 'grad-test-unused');
  const frozen = tf.variable(tensor([3], 5), false, 'grad-test-frozen');

  test('variableGrads equals tf.variableGrads to the bit; a variable the loss does not use gets none', async () => {
    const list = [vars.a, vars.b, unused, frozen];
    const ours = variableGrads(() => graph(x, vars.a, vars.b), list);
    const theirs = tf.variableGrads(() => graph(x, vars.a, vars.b), list);
    assert.deepEqual(Object.keys(ours.grads).sort(), ['grad-test-a', 'grad-test-b']);
    assert.deepEqual(await values(ours.grads), await values({ 'grad-test-a': theirs.grads['grad-test-a'], 'grad-test-b': theirs.grads['grad-test-b'] }));
    assert.equal(ours.value.dataSync()[0], theirs.value.dataSync()[0]);
    tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads).filter((g) => g !== null)]);
    assert.equal((tf.engine() as unknown as { state: { activeTape: unknown } }).state.activeTape, null, 'the tape is closed');
  });

  test('second order (the gradient of a gradient norm, as R1 and path length) equals tfjs to the bit', async () => {
    const penalty = (g: typeof grad | typeof tf.grad) => () => {
      const gx = g((xi: tf.Tensor) => graph(xi, vars.a, vars.b))(x);
      return gx.square().sum() as tf.Scalar;
    };
    const ours = variableGrads(penalty(grad), [vars.a, vars.b]);
    const theirs = tf.variableGrads(penalty(tf.grad), [vars.a, vars.b]);
    assert.deepEqual(await values(ours.grads), await values(theirs.grads as Record<string, tf.Tensor>));
    // The same kernels: nothing of the inner pass (its seed, say) joins the outer tape as extra work.
    const kernels = async (f: () => { value: tf.Tensor; grads: Record<string, tf.Tensor | null> }) =>
      (await tf.profile(() => tf.dispose(tf.tidy(() => Object.values(f().grads).filter((g) => g !== null))))).kernels.map((k) => k.name);
    assert.deepEqual(
      await kernels(() => variableGrads(penalty(grad), [vars.a, vars.b])),
      await kernels(() => tf.variableGrads(penalty(tf.grad), [vars.a, vars.b])),
    );
    assert.equal(ours.value.dataSync()[0], theirs.value.dataSync()[0]);
    tf.dispose([ours.value, theirs.value, ...Object.values(ours.grads), ...Object.values(theirs.grads).filter((g) => g !== null)]);
  });

  test('grad with a seeded dy equals tf.grad; a dy of another shape is refused', async () => {
    const dy = tensor([4, 8], 6);
    const f = (xi: tf.Tensor) => biasAct(tf.matMul(xi as tf.Tensor2D, vars.a), vars.b, { act: 'relu' });
    const ours = grad(f)(x, dy);
    const theirs = tf.grad(f)(x, dy);
    assert.deepEqual(await values([ours]), await values([theirs]));
    assert.throws(() => grad(f)(x, tensor([4, 7], 7)), /dy \[4,7\] must have the shape of f's value \[4,8\]/);
    tf.dispose([dy, ours, theirs]);
  });

  test('bad input: a loss that depends on no variable, a loss that is not a scalar, an f that does not use x', () => {
    assert.throws(() => variableGrads(() => x.sum(), [vars.a]), /the loss depends on none of the variables/);
    assert.throws(() => variableGrads(() => vars.a.sum(), [frozen]), /none of the variables is trainable/);
    assert.throws(() => variableGrads(() => vars.a.mul(2) as tf.Scalar, [vars.a]), /must return a scalar, not a rank-2 tensor/);
    assert.throws(() => grad(() => vars.a.sum())(x), /f\(x\) does not depend on x/);
  });

  test('a chain of 24 ops: the peak stays near the forward pass (tf.variableGrads: every gradient at once)', async () => {
    const n = 24;
    const v = tf.variable(tensor([128, 128], 8), true, 'grad-test-chain');
    const size = 128 * 128 * 4;
    const chain = () => {
      let h: tf.Tensor = v;
      for (let i = 0; i < n; i++) h = h.mul(1.01).sin();
      return h.sum() as tf.Scalar;
    };
    const peak = async (f: () => tf.TensorContainer) => {
      const { result, peakAboveBase } = await bufferPeak(f);
      tf.dispose(result);
      return peakAboveBase / size;
    };
    const forward = await peak(() => tf.tidy(chain));
    const ours = await peak(() => variableGrads(chain, [v]));
    const theirs = await peak(() => tf.variableGrads(chain, [v]));
    // In buffers of the chain's size: the forward pass holds its 2n intermediates until it ends
    // (tfjs' tidy; what the tape saves shares them); our backward pass then needs a few more at a
    // time, as it releases the saved ones. tfjs' keeps every gradient besides, 2n more.
    assert.ok(ours <= forward + 4, `ours ${ours.toFixed(1)} buffers at the peak, the forward pass ${forward.toFixed(1)}`);
    assert.ok(theirs >= forward + n, `tf.variableGrads ${theirs.toFixed(1)}: the comparison measures what it should`);
    v.dispose();
  });

  test('no tensors left: first order, second order, a seeded grad, and an f that throws (the tape is closed after it)', async () => {
    await assertNoLeak('variableGrads', () => {
      const r = variableGrads(() => graph(x, vars.a, vars.b), [vars.a, vars.b]);
      tf.dispose([r.value, ...Object.values(r.grads)]);
    });
    await assertNoLeak('second order', () => {
      const r = variableGrads(
        () =>
          grad((xi) => graph(xi, vars.a, vars.b))(x)
            .square()
            .sum() as tf.Scalar,
        [vars.a, vars.b],
      );
      tf.dispose([r.value, ...Object.values(r.grads)]);
    });
    await assertNoLeak('grad', () => tf.dispose(tf.tidy(() => grad((xi) => xi.square())(x, tf.onesLike(x)))));
    await assertNoLeak('a throwing f', () =>
      assert.throws(
        () =>
          variableGrads(() => {
            vars.a.square();
            throw new Error('planted');
          }, [vars.a]),
        /planted/,
      ),
    );
    const after = variableGrads(() => vars.a.sum() as tf.Scalar, [vars.a]);
    assert.deepEqual(await after.grads['grad-test-a'].data(), new Float32Array(48).fill(1));
    tf.dispose([after.value, ...Object.values(after.grads)]);
  });
});
