// The fused Adam step (src/ops/adam_update.ts) against torch.optim.Adam's formula in float64, on
// the native kernel ('cpu') and the tfjs fallback ('cpu-js'), over several steps with upstream's
// betas (0, 0.99) and with beta1 > 0; a step with apply = false changes nothing; no tensor leaks.
// Tolerance 1e-6 + 1e-5|e|: a few float32 roundings per step, over 5 steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Adam } from '../../src/train/adam.js';
import { ADAM_UPDATE_KERNEL } from '../../src/ops/kernel_names.js';
import { nativeStatus } from '../../src/native/index.js';
import { assertClose, testBackend } from '../helpers.js';
import { randomArray } from '../reference_ops.js';

await testBackend();

function torchAdam(p0: Float32Array, grads: Float32Array[], lr: number, beta1: number, beta2: number, eps: number): Float64Array {
  const p = Float64Array.from(p0),
    m = new Float64Array(p.length),
    v = new Float64Array(p.length);
  grads.forEach((g, s) => {
    const t = s + 1;
    const bc1 = 1 - beta1 ** t,
      bc2 = 1 - beta2 ** t;
    for (let i = 0; i < p.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      p[i] -= ((lr / bc1) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
    }
  });
  return p;
}

for (const backend of ['cpu', 'cpu-js']) {
  for (const [beta1, beta2] of [
    [0, 0.99],
    [0.9, 0.999],
  ]) {
    test(`Adam on ${backend}, betas (${beta1}, ${beta2}): torch's update over 5 steps; a skipped step keeps everything`, async () => {
      await tf.setBackend(backend);
      try {
        const n = 70001; // above the native kernel's threading threshold, and odd
        const p0 = randomArray(n, 1);
        const grads = [2, 3, 4, 5, 6].map((s) => randomArray(n, s).map((x) => x * 0.1));
        const before = tf.memory().numTensors;
        const w = tf.tidy(() => tf.variable(tf.tensor1d(p0)));
        const opt = new Adam(new Map([['w', w]]), { lr: 0.0025, beta1, beta2, eps: 1e-8 });
        const yes = tf.scalar(true, 'bool'),
          no = tf.scalar(false, 'bool');
        for (const g of grads) {
          const gt = tf.tensor1d(g);
          opt.update(new Map([['w', gt]]), yes);
          gt.dispose();
          // A skipped (non-finite) step: NaN gradients, apply = false.
          const bad = tf.fill([n], NaN);
          opt.update(new Map([['w', bad]]), no);
          bad.dispose();
        }
        assertClose(`Adam ${backend}`, w.dataSync(), torchAdam(p0, grads, 0.0025, beta1, beta2, 1e-8), 1e-6, 1e-5);
        assert.equal(opt.t.dataSync()[0], 5, 'skipped steps do not count');
        tf.dispose([yes, no]);
        opt.dispose();
        w.dispose();
        assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      } finally {
        await tf.setBackend('cpu');
      }
    });
  }
}

test('the fused kernel runs on cpu exactly when the native addon is loaded', () => {
  assert.equal(!!tf.getKernel(ADAM_UPDATE_KERNEL, 'cpu'), nativeStatus().loaded);
  assert.equal(!!tf.getKernel(ADAM_UPDATE_KERNEL, 'cpu-js'), false);
});

test('Adam.update leaks no tensors', async () => {
  await tf.setBackend('cpu');
  const w = tf.tidy(() => tf.variable(tf.ones([3, 4])));
  const opt = new Adam(new Map([['w', w]]), { lr: 0.01, beta1: 0, beta2: 0.99, eps: 1e-8 });
  const g = tf.onesLike(w);
  const flag = tf.scalar(true, 'bool');
  const before = tf.memory().numTensors;
  opt.update(new Map([['w', g]]), flag);
  opt.update(new Map([['w', g]]));
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([g, flag]);
  opt.dispose();
  w.dispose();
});
