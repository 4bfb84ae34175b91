// The native kernels' output pool (src/native/buffer_pool.ts): arrays are reused only when no
// tensor and no caller can still see them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { nativeStatus } from '../../src/native/index.js';
import { BufferPool } from '../../src/native/buffer_pool.js';
import { testBackend } from '../helpers.js';

await testBackend();
const native = nativeStatus().loaded;
const skip = native ? false : `native addon not loaded (${nativeStatus().detail})`;

/** Runs many same-shaped kernels so that any wrongly freed array would be handed out again. */
function churn(shape: number[]): void {
  for (let i = 0; i < 8; i++) {
    tf.tidy(() => {
      tf.fill(shape, 1000 + i)
        .add(tf.fill(shape, 1))
        .mul(2);
    });
  }
}

test('the pool reuses the arrays of disposed kernel outputs, and leaks no tensors', { skip }, async () => {
  const { outputPool } = await import('../../src/native/kernels/helpers.js');
  const before = tf.memory().numTensors;
  const reused0 = outputPool.stats.reused;
  churn([64, 1024]);
  assert.ok(outputPool.stats.reused > reused0, 'same-shaped outputs reuse arrays');
  assert.equal(tf.memory().numTensors, before);
});

test('an array handed out by dataSync()/data() keeps its values after the tensor is disposed', { skip }, async () => {
  const x = tf.fill([64, 1024], 3).add(tf.scalar(4)); // a native kernel output (65536 floats)
  const sync = x.dataSync() as Float32Array;
  const y = tf.fill([64, 1024], 5).mul(tf.scalar(2));
  const viaAsync = (await y.data()) as Float32Array;
  tf.dispose([x, y]);
  churn([64, 1024]);
  assert.ok(
    sync.every((v) => v === 7),
    'dataSync array intact',
  );
  assert.ok(
    viaAsync.every((v) => v === 10),
    'data() array intact',
  );
});

test('a view of a pooled array (tfjs slice kernels return views) outlives the tensor it came from', { skip }, () => {
  const x = tf.fill([2, 64, 512], 1).add(tf.range(0, 2).reshape([2, 1, 1])); // 65536 floats: [1..., 2...]
  const first = tf.stridedSlice(x, [0, 0, 0], [1, 64, 512], [1, 1, 1]); // contiguous: a subarray view
  const second = tf.stridedSlice(x, [1, 0, 0], [2, 64, 512], [1, 1, 1]);
  x.dispose();
  churn([2, 64, 512]);
  const a = first.dataSync();
  const b = second.dataSync();
  assert.ok(
    a.every((v) => v === 1),
    'first half intact',
  );
  assert.ok(
    b.every((v) => v === 2),
    'second half intact',
  );
  tf.dispose([first, second]);
});

test('the pool holds at most its limit, and a zero limit reuses nothing', () => {
  const data = new Map<object, { values?: unknown }>();
  const backend = {
    data: {
      get: (id: object) => data.get(id),
      set: (id: object, e: { values?: unknown }) => void data.set(id, e),
      has: (id: object) => data.has(id),
      delete: (id: object) => data.delete(id),
    },
    readSync: (id: object) => data.get(id)?.values,
  };
  const pool = new BufferPool(3 * 4 * 8192);
  pool.install(backend);
  const ids = Array.from({ length: 5 }, () => ({}));
  for (const id of ids) backend.data.set(id, { values: pool.take(8192) });
  for (const id of ids) backend.data.delete(id);
  assert.equal(pool.heldBytes, 3 * 4 * 8192, 'three arrays of 32 KiB held, two left to the GC');
  const again = pool.take(8192);
  assert.equal(pool.stats.reused, 1);
  assert.equal(again.length, 8192);
  const none = new BufferPool(0);
  none.install(backend);
  const id = {};
  backend.data.set(id, { values: none.take(8192) });
  backend.data.delete(id);
  assert.equal(none.heldBytes, 0);
  none.take(8192);
  assert.equal(none.stats.reused, 0);
});
