// Our SGEMM (native/gemm.c) against a float64 reference, for every micro-kernel this CPU can run
// (including the AVX-512 kernel's source compiled for AVX2) and every engine the machine has:
// odd sizes, both transposes, leading dimensions wider than the matrices, tails of every block
// size, alpha/beta, and the paths a GEMM takes by shape (operands packed or read in place, one or
// two threads, rows or micro-tiles split between threads).
// Tolerance: |c - e| <= 1e-5 * sqrt(k) * scale + 1e-5 |e|, float32 sums of k products of values
// in [-0.5, 0.5] in a different order (error grows like sqrt(k) ulps).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { nativeAddon, nativeStatus } from '../../src/native/index.js';
import { randomArray } from '../reference_ops.js';

const addon = nativeAddon();

interface Case {
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
  alpha: number;
  beta: number;
  pad: number;
}

function reference(c: Case, a: Float32Array, b: Float32Array, c0: Float32Array, lda: number, ldb: number, ldc: number): Float64Array {
  const out = Float64Array.from(c0);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < c.n; j++) {
      let s = 0;
      for (let p = 0; p < c.k; p++) s += (c.ta ? a[p * lda + i] : a[i * lda + p]) * (c.tb ? b[j * ldb + p] : b[p * ldb + j]);
      out[i * ldc + j] = c.alpha * s + (c.beta === 0 ? 0 : c.beta * c0[i * ldc + j]);
    }
  }
  return out;
}

function check(engine: string, c: Case, seed: number): void {
  const lda = (c.ta ? c.m : c.k) + c.pad,
    ldb = (c.tb ? c.k : c.n) + c.pad,
    ldc = c.n + c.pad;
  const a = Float32Array.from(randomArray((c.ta ? c.k : c.m) * lda, seed), (v) => v - 0.5);
  const b = Float32Array.from(randomArray((c.tb ? c.n : c.k) * ldb, seed + 1), (v) => v - 0.5);
  const c0 = Float32Array.from(randomArray(c.m * ldc, seed + 2), (v) => v - 0.5);
  // beta == 0 must not read C: NaN there must not reach the result.
  if (c.beta === 0) for (let i = 0; i < c.m; i++) c0[i * ldc] = NaN;
  const e = reference(
    c,
    a,
    b,
    c0.map((v) => (Number.isNaN(v) ? 0 : v)),
    lda,
    ldb,
    ldc,
  );
  const out = c0.slice();
  addon!.sgemm(a, b, out, { m: c.m, n: c.n, k: c.k, lda, ldb, ldc, transA: Boolean(c.ta), transB: Boolean(c.tb) }, c.alpha, c.beta);
  const atol = 1e-5 * Math.sqrt(Math.max(c.k, 1)) * Math.max(Math.abs(c.alpha), 1);
  for (let i = 0; i < c.m; i++) {
    for (let j = 0; j < ldc; j++) {
      const idx = i * ldc + j;
      if (j >= c.n) {
        // Padding columns of C are never written.
        assert.ok(Object.is(out[idx], c0[idx]), `${engine} ${JSON.stringify(c)}: wrote C[${i}][${j}] beyond n`);
        continue;
      }
      const d = Math.abs(out[idx] - e[idx]);
      if (!(d <= atol + 1e-5 * Math.abs(e[idx]))) {
        assert.fail(`${engine} ${JSON.stringify(c)}: C[${i}][${j}] = ${out[idx]}, expected ${e[idx]} (|d| ${d})`);
      }
    }
  }
}

// Shapes chosen to reach every path in gemm.c: tiny (one thread), partial micro-tiles in m and n,
// k beyond one KC block (128/256), m beyond several MC blocks, n beyond one NC block (4096), n <= 256
// (A read in place) and > 256 (A packed), m <= 64 (B read in place) and > 64, few rows with many
// flops (threads split micro-tiles) and many rows (threads split row blocks); both operands packed
// across KC blocks, with B's full panels packed row by row by two threads and a partial last panel;
// few outputs over a long k (each thread takes a slice of k; the partial sums are added to C).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [5, 3, 2],
  [6, 16, 8],
  [12, 32, 8],
  [7, 17, 300],
  [13, 33, 129],
  [40, 300, 70],
  [300, 40, 70],
  [100, 64, 300],
  [250, 3, 2],
  [3, 4100, 5],
  [520, 20, 9],
  [64, 512, 100],
  [577, 65, 300],
  [70, 300, 300],
  [130, 290, 270],
  [20, 30, 2100],
  [9, 33, 4099],
];

describe('sgemm matches a float64 reference', { skip: addon ? false : `native addon not loaded (${nativeStatus().detail})` }, () => {
  const kernels = addon
    ? addon
        .gemmKernels()
        .split(',')
        .map((k) => `ours:${k}`)
    : [];
  const engines = addon
    ? addon
        .gemmEngines()
        .split(',')
        .filter((e) => e !== 'ours')
    : [];
  for (const engine of [...kernels, ...engines]) {
    test(engine, () => {
      assert.ok(addon!.gemmSelect(engine), `${engine} could not be selected`);
      try {
        let seed = 1;
        for (const [m, n, k] of SHAPES) {
          for (const ta of [false, true]) {
            for (const tb of [false, true]) {
              check(engine, { m, n, k, ta, tb, alpha: 1, beta: 0, pad: 0 }, seed++);
              check(engine, { m, n, k, ta, tb, alpha: -1.5, beta: 0.5, pad: 3 }, seed++);
            }
          }
        }
        // k = 0 scales C by beta; alpha = 0 likewise.
        check(engine, { m: 9, n: 20, k: 0, ta: false, tb: false, alpha: 1, beta: 0.5, pad: 1 }, 90);
        check(engine, { m: 9, n: 20, k: 7, ta: false, tb: false, alpha: 0, beta: 0, pad: 1 }, 91);
      } finally {
        addon!.gemmSelect('ours');
      }
    });
  }

  test('the automatic kernel is the widest this CPU runs, and the backend line names it', () => {
    addon!.gemmSelect('ours');
    const kernels = addon!.gemmKernels().split(',');
    const want = kernels.includes('avx512') ? 'avx512' : kernels.includes('avx2') ? 'avx2' : 'generic';
    assert.match(addon!.info(), new RegExp(`^sgemm: ours ${want} \\d+x\\d+, \\d+ threads?$`));
    // One thread (OMP_NUM_THREADS=1, as when two runs share two cores) is said in the singular.
    const one = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { nativeAddon } from ${JSON.stringify(pathToFileURL(path.resolve(import.meta.dirname, '../../src/native/index.js')).href)}; console.log(nativeAddon().info())`,
      ],
      {
        env: { ...process.env, OMP_NUM_THREADS: '1' },
        encoding: 'utf8',
      },
    );
    assert.match(one.stdout, /, 1 thread\n$/, one.stderr);
  });

  test('sizes that do not fit the arrays are refused before anything is read', () => {
    const a = new Float32Array(6),
      b = new Float32Array(6),
      c = new Float32Array(4);
    assert.throws(() => addon!.sgemm(a, b, c, { m: 2, n: 2, k: 4, lda: 4, ldb: 2, ldc: 2, transA: false, transB: false }, 1, 0), /sizes do not fit/);
    assert.throws(() => addon!.sgemm(a, b, c, { m: 2, n: 2, k: 3, lda: 2, ldb: 2, ldc: 2, transA: false, transB: false }, 1, 0), /sizes do not fit/);
    assert.throws(() => addon!.sgemm(a, b, c, { m: -1, n: 2, k: 3, lda: 3, ldb: 2, ldc: 2, transA: false, transB: false }, 1, 0), /sizes do not fit/);
    assert.equal(addon!.gemmSelect('no-such-engine'), false);
    assert.equal(addon!.gemmSelect('ours:no-such-kernel'), false);
  });
});
