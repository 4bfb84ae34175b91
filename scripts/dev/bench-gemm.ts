// GEMM benchmark: GFLOP/s of our SGEMM and of oneDNN / OpenBLAS where this machine has them, on the
// matrix products our networks run: the im2col convolutions of the StyleGAN2 blocks (3x3, 16-512
// channels, 4-64 px, batch 16), their input gradient (B transposed) and filter gradient (A
// transposed, long k), and the FID Inception's convolutions. Engines alternate within each round;
// the table shows medians. Usage: npm run bench -- gemm [--rounds 5] [--ms 150] [--settle 120] [--only TEXT] [--json]
// (--only keeps the shapes whose name contains TEXT, e.g. --only '4px 512ch').
import { arg, flag } from '../lib/args.js';
import { nativeAddon, nativeStatus } from '../../src/native/index.js';

interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
}

/** The three products of one convolution: forward, input gradient, filter gradient. */
function conv(label: string, batch: number, res: number, cin: number, cout: number, kh: number, kw: number): Shape[] {
  const m = batch * res * res,
    k = kh * kw * cin;
  return [
    { name: `${label} fwd`, m, n: cout, k, ta: false, tb: false },
    { name: `${label} dgrad`, m, n: k, k: cout, ta: false, tb: true },
    { name: `${label} wgrad`, m: k, n: cout, k: m, ta: true, tb: false },
  ];
}

export const GEMM_SHAPES: Shape[] = [
  ...conv('G/D 3x3 4px 512ch', 16, 4, 512, 512, 3, 3),
  ...conv('G/D 3x3 8px 256ch', 16, 8, 256, 256, 3, 3),
  ...conv('G/D 3x3 16px 128ch', 16, 16, 128, 128, 3, 3),
  ...conv('G/D 3x3 32px 64ch', 16, 32, 64, 64, 3, 3),
  ...conv('G/D 3x3 64px 16ch', 16, 64, 16, 16, 3, 3),
  { name: 'mapping FC 512', m: 16, n: 512, k: 512, ta: false, tb: false },
  { name: 'Inception 1x1 35px 192->64', m: 16 * 35 * 35, n: 64, k: 192, ta: false, tb: false },
  { name: 'Inception 3x3 35px 64->96', m: 16 * 35 * 35, n: 96, k: 576, ta: false, tb: false },
  { name: 'Inception 1x1 17px 768->192', m: 16 * 17 * 17, n: 192, k: 768, ta: false, tb: false },
  { name: 'Inception 1x7 17px 160->160', m: 16 * 17 * 17, n: 160, k: 1120, ta: false, tb: false },
  { name: 'Inception 3x3 8px 448->384', m: 16 * 8 * 8, n: 384, k: 4032, ta: false, tb: false },
];

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

export async function benchGemm(): Promise<void> {
  const rounds = Number(arg('rounds', '5'));
  const ms = Number(arg('ms', '150'));
  // OpenBLAS's threads spin for up to ~0.1 s after a call before they sleep; whichever engine runs
  // next would share the cores with them. Each engine's window therefore starts after a pause.
  const settle = Number(arg('settle', '120'));
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const json = flag('json');
  const only = arg('only', '');
  const shapes = GEMM_SHAPES.filter((s) => s.name.includes(only));
  if (shapes.length === 0) throw new Error(`--only ${only}: no GEMM shape's name contains it (names: ${GEMM_SHAPES.map((s) => s.name).join(', ')})`);
  const addon = nativeAddon();
  if (!addon) throw new Error(`the native addon is not loaded (${nativeStatus().hint})`);
  const engines = addon.gemmEngines().split(',');
  const names = engines.map((e) => {
    addon.gemmSelect(e);
    return addon.info().replace(/^sgemm: /, '');
  });
  // ours/oneDNN is the median of the per-round ratios: on a host whose speed drifts, two engines
  // timed back to back compare more stably than their separate medians.
  const rows: { shape: Shape; gflops: Record<string, number>; vsOnednn?: number }[] = [];
  for (const s of shapes) {
    const a = new Float32Array(s.m * s.k).map((_, i) => ((i * 7919) % 1000) / 1000 - 0.5);
    const b = new Float32Array(s.k * s.n).map((_, i) => ((i * 104729) % 1000) / 1000 - 0.5);
    const c = new Float32Array(s.m * s.n);
    const params = { m: s.m, n: s.n, k: s.k, lda: s.ta ? s.m : s.k, ldb: s.tb ? s.k : s.n, ldc: s.n, transA: Boolean(s.ta), transB: Boolean(s.tb) };
    const flops = 2 * s.m * s.n * s.k;
    const samples: Record<string, number[]> = Object.fromEntries(engines.map((e) => [e, []]));
    for (let r = 0; r < rounds; r++) {
      for (const e of engines) {
        addon.gemmSelect(e);
        Atomics.wait(pause, 0, 0, settle);
        addon.sgemm(a, b, c, params, 1, 0); // warm: scratch buffers, pages
        let reps = 0;
        const t0 = performance.now();
        do {
          addon.sgemm(a, b, c, params, 1, 0);
          reps++;
        } while (performance.now() - t0 < ms);
        samples[e].push((flops * reps) / ((performance.now() - t0) * 1e6));
      }
    }
    const vsOnednn = samples.onednn ? median(samples.ours.map((g, r) => g / samples.onednn[r])) : undefined;
    rows.push({ shape: s, gflops: Object.fromEntries(engines.map((e) => [e, median(samples[e])])), vsOnednn });
    if (!json) process.stderr.write('.');
  }
  addon.gemmSelect('ours');
  if (json) {
    console.log(JSON.stringify({ engines: Object.fromEntries(engines.map((e, i) => [e, names[i]])), rounds, rows }, null, 2));
    return;
  }
  process.stderr.write('\n');
  const geo = (e: string) => Math.exp(rows.reduce((p, r) => p + Math.log(r.gflops[e]), 0) / rows.length);
  const vsOnednn = engines.includes('onednn');
  console.log(
    `GFLOP/s, median of ${rounds} alternating rounds${vsOnednn ? ' (ours/oneDNN: median of the per-round ratios)' : ''}; ${engines.map((e, i) => `${e} = ${names[i]}`).join('; ')}`,
  );
  console.log(`| shape | m | n | k | ${engines.join(' | ')}${vsOnednn ? ' | ours/oneDNN |' : ''}`);
  console.log(`|---|---:|---:|---:|${engines.map(() => '---:').join('|')}|${vsOnednn ? '---:|' : ''}`);
  for (const r of rows) {
    const s = r.shape;
    const ratio = r.vsOnednn !== undefined ? ` ${r.vsOnednn.toFixed(2)} |` : '';
    console.log(`| ${s.name} | ${s.m} | ${s.n} | ${s.k} | ${engines.map((e) => r.gflops[e].toFixed(1)).join(' | ')} |${ratio}`);
  }
  const geoRatio = Math.exp(rows.reduce((p, r) => p + Math.log(r.vsOnednn ?? 1), 0) / rows.length);
  const ratio = vsOnednn ? ` ${geoRatio.toFixed(2)} |` : '';
  console.log(`| geometric mean | | | | ${engines.map((e) => geo(e).toFixed(1)).join(' | ')} |${ratio}`);
}
