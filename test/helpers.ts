// Shared test helpers: fixtures, tolerance checks, layout conversions.
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { releaseWebGpu } from '../src/webgpu/device.js';
import { readSafetensors } from '../src/formats/safetensors.js';
import type { StTensor } from '../src/records.js';

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');

/** Debian's chromium package ships SwiftShader, a CPU Vulkan driver: a real (slow) WebGPU adapter without a GPU. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let webgpu: Promise<string | null> | null = null;
/**
 * Starts the webgpu backend once in this test process (a hardware adapter, else SwiftShader) and
 * switches back to the backend that was active. Null when it runs, else why not (to skip with).
 * A file that uses it releases the device in an after() hook (releaseWebGpu), or Node cannot exit.
 */
export function webgpuUnavailable(): Promise<string | null> {
  webgpu ??= (async () => {
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    const prev = tf.getBackend();
    try {
      await initBackend('webgpu', false);
      return null;
    } catch (e) {
      return (e as Error).message.split('\n')[0];
    } finally {
      if (prev) await tf.setBackend(prev);
    }
  })();
  return webgpu;
}

/**
 * Hooks for a describe block whose tests run on webgpu: switch to it before them; after them switch
 * back and release the device (or Node cannot exit). Skip the block with webgpuUnavailable().
 */
export function runOnWebGpu(): void {
  let prev = '';
  before(async () => {
    prev = tf.getBackend();
    assert.ok(await tf.setBackend('webgpu'));
    assert.equal(tf.getBackend(), 'webgpu');
  });
  after(async () => {
    await tf.setBackend(prev);
    await releaseWebGpu();
  });
}

let ready: Promise<unknown> | null = null;
/** The backend tests run on: STYLEGAN_RLO_BACKEND, default cpu (native kernels when built). */
export function testBackend(): Promise<unknown> {
  ready ??= initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'cpu', false);
  return ready;
}

export interface Closeness {
  maxAbs: number; // max |a - e|
  worst: number; // max |a - e| / (atol + rtol |e|): <= 1 passes
  index: number;
}

/** Elementwise |a - e| <= atol + rtol * |e|; reports the worst ratio. NaN anywhere fails. */
export function closeness(a: ArrayLike<number>, e: ArrayLike<number>, atol: number, rtol: number): Closeness {
  if (a.length !== e.length) throw new Error(`length mismatch: ${a.length} vs ${e.length}`);
  let maxAbs = 0,
    worst = 0,
    index = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    const r = Number.isNaN(d) ? Infinity : d / (atol + rtol * Math.abs(e[i]));
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (r > worst) {
      worst = r;
      index = i;
    }
  }
  return { maxAbs, worst, index };
}

export function assertClose(name: string, a: ArrayLike<number>, e: ArrayLike<number>, atol: number, rtol: number): Closeness {
  const c = closeness(a, e, atol, rtol);
  if (!(c.worst <= 1)) {
    throw new Error(`${name}: |a-e| <= ${atol} + ${rtol}|e| fails at index ${c.index}: got ${a[c.index]}, expected ${e[c.index]} (max abs error ${c.maxAbs})`);
  }
  return c;
}

/** NCHW data -> NHWC tensor. */
export function nchwToNhwc(t: StTensor): tf.Tensor4D {
  const [n, c, h, w] = t.shape;
  return tf.tidy(() => tf.tensor4d(t.data as Float32Array, [n, c, h, w]).transpose([0, 2, 3, 1]) as tf.Tensor4D);
}

/** NHWC tensor -> NCHW flat array. */
/** NHWC -> NCHW values (read asynchronously: a GPU backend has no synchronous read). */
export async function nhwcToNchwArray(t: tf.Tensor4D): Promise<Float32Array> {
  const n = t.transpose([0, 3, 1, 2]);
  try {
    return (await n.data()) as Float32Array;
  } finally {
    n.dispose();
  }
}

export async function loadTiny16() {
  const st = await readSafetensors(path.join(FIXTURES, 'tiny16.safetensors'));
  const json = JSON.parse(await (await import('node:fs/promises')).readFile(path.join(FIXTURES, 'tiny16.json'), 'utf8'));
  return { st, json };
}

/** Tensors under `prefix/` as an upstream state dict. */
export function stateDict(st: Map<string, StTensor>, prefix: string): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [k, v] of st) if (k.startsWith(`${prefix}/`)) out.set(k.slice(prefix.length + 1), { shape: v.shape, data: v.data as Float32Array });
  return out;
}

/** Asserts that `fn` leaves no tensors behind. */
export async function assertNoLeak(name: string, fn: () => unknown | Promise<unknown>): Promise<void> {
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${name} leaked ${after - before} tensors`);
}
