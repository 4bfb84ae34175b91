// Training-speed benchmark: per-phase wall time of one training iteration, the lazily
// regularized ms per iteration (Gmain + Dmain + Greg/4 + Dreg/16, as upstream schedules them),
// sec/kimg, and G inference images/s. Usage: npm run bench -- [--config bench32|tiny16] [--iters N] [--json] [--backend B]
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { Generator } from '../src/networks/generator.js';
import { Discriminator } from '../src/networks/discriminator.js';
import { GeneratorConfig, DiscriminatorConfig } from '../src/networks/config.js';
import { Rng } from '../src/rng.js';
import { rooted } from '../src/losses/objectives.js';
import { Trainer, TrainerOptions } from '../src/train/trainer.js';
import { nativeStatus } from '../src/native/index.js';

interface BenchConfig { G: GeneratorConfig; D: DiscriminatorConfig; batch: number; r1Gamma: number; pytorch?: Record<string, number> }

const CONFIGS: Record<string, BenchConfig> = {
  // Issue 6's peer config; PyTorch figures measured with stylegan2-ada-pytorch on Debian's torch 1.13, 2 threads.
  bench32: {
    G: { z_dim: 128, c_dim: 0, w_dim: 128, img_resolution: 32, img_channels: 3, mapping_kwargs: { num_layers: 2 }, synthesis_kwargs: { channel_base: 4096, channel_max: 128, conv_clamp: 256 } },
    D: { c_dim: 0, img_resolution: 32, img_channels: 3, channel_base: 4096, channel_max: 128, conv_clamp: 256, epilogue_kwargs: { mbstd_group_size: 4 } },
    batch: 16, r1Gamma: 0.0128,
    pytorch: { Gmain: 790, Dmain: 390, Greg: 790, Dreg: 470, msPerIter: 1410, gInferImgPerSec: 16 / 0.17, inceptionImgPerSec: 6 },
  },
  tiny16: {
    G: { z_dim: 32, c_dim: 0, w_dim: 32, img_resolution: 16, img_channels: 3, mapping_kwargs: { num_layers: 2 }, synthesis_kwargs: { channel_base: 256, channel_max: 32, conv_clamp: 256 } },
    D: { c_dim: 0, img_resolution: 16, img_channels: 3, channel_base: 256, channel_max: 32, conv_clamp: 256, epilogue_kwargs: { mbstd_group_size: 4 } },
    batch: 4, r1Gamma: 0.0128,
  },
};

function arg(name: string, def?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

/** FID Inception-v3 throughput on random-valued weights of the real shapes (timing only). */
async function inceptionSpeed(reps: number): Promise<number> {
  const { InceptionV3 } = await import('../src/metrics/inception.js');
  const shapes = inceptionShapes();
  const rng = new Rng('inception-bench');
  const sd = new Map(shapes.map(([k, s]) => {
    const n = s.reduce((a, b) => a * b, 1);
    const data = k.endsWith('running_var') || k.endsWith('bn.weight') ? new Float32Array(n).fill(1) : rng.normalArray(n).map((v) => v * 0.05);
    return [k, { shape: s, data }] as const;
  }));
  const net = new InceptionV3(sd);
  const x = tf.randomUniform([16, 299, 299, 3], -1, 1, 'float32', 2) as tf.Tensor4D;
  net.features(x).dispose();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const f = net.features(x);
    await f.data();
    f.dispose();
    times.push(performance.now() - t0);
  }
  tf.dispose(x);
  net.dispose();
  return 16 / (median(times) / 1000);
}

/** State-dict names and shapes of pytorch-fid's Inception (convs and their batch norms). */
function inceptionShapes(): [string, number[]][] {
  const convs: [string, number, number, number, number][] = [
    ['Conv2d_1a_3x3', 3, 32, 3, 3], ['Conv2d_2a_3x3', 32, 32, 3, 3], ['Conv2d_2b_3x3', 32, 64, 3, 3], ['Conv2d_3b_1x1', 64, 80, 1, 1], ['Conv2d_4a_3x3', 80, 192, 3, 3]];
  const A = (m: string, cin: number, pool: number) => convs.push([`${m}.branch1x1`, cin, 64, 1, 1], [`${m}.branch5x5_1`, cin, 48, 1, 1], [`${m}.branch5x5_2`, 48, 64, 5, 5],
    [`${m}.branch3x3dbl_1`, cin, 64, 1, 1], [`${m}.branch3x3dbl_2`, 64, 96, 3, 3], [`${m}.branch3x3dbl_3`, 96, 96, 3, 3], [`${m}.branch_pool`, cin, pool, 1, 1]);
  A('Mixed_5b', 192, 32); A('Mixed_5c', 256, 64); A('Mixed_5d', 288, 64);
  convs.push(['Mixed_6a.branch3x3', 288, 384, 3, 3], ['Mixed_6a.branch3x3dbl_1', 288, 64, 1, 1], ['Mixed_6a.branch3x3dbl_2', 64, 96, 3, 3], ['Mixed_6a.branch3x3dbl_3', 96, 96, 3, 3]);
  const C = (m: string, c7: number) => convs.push([`${m}.branch1x1`, 768, 192, 1, 1], [`${m}.branch7x7_1`, 768, c7, 1, 1], [`${m}.branch7x7_2`, c7, c7, 1, 7], [`${m}.branch7x7_3`, c7, 192, 7, 1],
    [`${m}.branch7x7dbl_1`, 768, c7, 1, 1], [`${m}.branch7x7dbl_2`, c7, c7, 7, 1], [`${m}.branch7x7dbl_3`, c7, c7, 1, 7], [`${m}.branch7x7dbl_4`, c7, c7, 7, 1], [`${m}.branch7x7dbl_5`, c7, 192, 1, 7],
    [`${m}.branch_pool`, 768, 192, 1, 1]);
  C('Mixed_6b', 128); C('Mixed_6c', 160); C('Mixed_6d', 160); C('Mixed_6e', 192);
  convs.push(['Mixed_7a.branch3x3_1', 768, 192, 1, 1], ['Mixed_7a.branch3x3_2', 192, 320, 3, 3], ['Mixed_7a.branch7x7x3_1', 768, 192, 1, 1], ['Mixed_7a.branch7x7x3_2', 192, 192, 1, 7],
    ['Mixed_7a.branch7x7x3_3', 192, 192, 7, 1], ['Mixed_7a.branch7x7x3_4', 192, 192, 3, 3]);
  const E = (m: string, cin: number) => convs.push([`${m}.branch1x1`, cin, 320, 1, 1], [`${m}.branch3x3_1`, cin, 384, 1, 1], [`${m}.branch3x3_2a`, 384, 384, 1, 3], [`${m}.branch3x3_2b`, 384, 384, 3, 1],
    [`${m}.branch3x3dbl_1`, cin, 448, 1, 1], [`${m}.branch3x3dbl_2`, 448, 384, 3, 3], [`${m}.branch3x3dbl_3a`, 384, 384, 1, 3], [`${m}.branch3x3dbl_3b`, 384, 384, 3, 1], [`${m}.branch_pool`, cin, 192, 1, 1]);
  E('Mixed_7b', 1280); E('Mixed_7c', 2048);
  return convs.flatMap(([n, i, o, kh, kw]) => [[`${n}.conv.weight`, [o, i, kh, kw]], [`${n}.bn.weight`, [o]], [`${n}.bn.bias`, [o]], [`${n}.bn.running_mean`, [o]], [`${n}.bn.running_var`, [o]]] as [string, number[]][]);
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
  if (process.argv[2] === 'gemm') {
    const { benchGemm } = await import('./bench-gemm.js');
    return benchGemm(process.argv.slice(3));
  }
  const name = arg('config', 'bench32')!;
  const cfg = CONFIGS[name];
  if (!cfg) throw new Error(`unknown config '${name}'; choose one of ${Object.keys(CONFIGS).join(', ')}`);
  const iters = Number(arg('iters', '5'));
  const json = process.argv.includes('--json');
  const backend = await initBackend(arg('backend', process.env.STYLEGAN_RLO_BACKEND ?? 'auto'), !json);

  const rng = new Rng(0);
  const G = new Generator(cfg.G, rng);
  const D = new Discriminator(cfg.D, rng);
  const Gema = new Generator(cfg.G);
  Gema.params.copyFrom(G.params);
  const opts: TrainerOptions = {
    objective: rooted(2), batch: cfg.batch, batchGpu: cfg.batch, glr: 0.0025, dlr: 0.0025, beta1: 0, beta2: 0.99, eps: 1e-8,
    r1Gamma: cfg.r1Gamma, plWeight: 2, plBatchShrink: 2, plDecay: 0.01, styleMixingProb: 0.9, gRegInterval: 4, dRegInterval: 16,
    emaKimg: 10, emaRampup: null, adaTarget: null, adaInterval: 4, adaKimg: 500,
  };
  const trainer = new Trainer(G, D, Gema, opts, rng);
  const res = cfg.G.img_resolution;
  const reals = { img: tf.randomUniform([cfg.batch, res, res, 3], -1, 1, 'float32', 1) as tf.Tensor4D, c: null };

  // Warm-up, then every phase on every measured iteration (batchIdx reset to 0).
  trainer.batchIdx = 0;
  trainer.step(reals, null);
  trainer.phaseTimes = {};
  for (let i = 0; i < iters; i++) {
    trainer.batchIdx = 0;
    trainer.step(reals, null);
  }
  const ph = Object.fromEntries(Object.entries(trainer.phaseTimes).map(([k, v]) => [k, median(v)]));
  const msPerIter = ph.Gmain + ph.Dmain + ph.Greg / 4 + ph.Dreg / 16;

  // G inference (G_ema, const noise), batch = the training batch.
  const z = rng.normal([cfg.batch, cfg.G.z_dim]);
  Gema.apply(z, null, { noise_mode: 'const' }).dispose();
  const times: number[] = [];
  for (let i = 0; i < Math.max(iters, 3); i++) {
    const t0 = performance.now();
    const img = Gema.apply(z, null, { noise_mode: 'const' });
    await img.data();
    img.dispose();
    times.push(performance.now() - t0);
  }
  const gInfer = cfg.batch / (median(times) / 1000);
  const result = {
    config: name, batch: cfg.batch, iters, backend: backend.description, native: nativeStatus().loaded ? nativeStatus().detail : null,
    phasesMs: ph, msPerIter, secPerKimg: (msPerIter / 1000) * (1000 / cfg.batch), gInferImgPerSec: gInfer,
    inceptionImgPerSec: await inceptionSpeed(Math.max(iters, 2)),
    pytorch: cfg.pytorch ?? null,
    memory: { numTensors: tf.memory().numTensors, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) },
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
  } else {
    const py = cfg.pytorch;
    const vs = (k: string, v: number) => (py && py[k] ? `  (PyTorch ${py[k].toFixed(0)} ms, x${(v / py[k]).toFixed(2)})` : '');
    console.log(`config ${name}, batch ${cfg.batch}, median of ${iters}`);
    for (const k of ['Gmain', 'Greg', 'Dmain', 'Dreg']) if (ph[k] !== undefined) console.log(`  ${k.padEnd(6)} ${ph[k].toFixed(0).padStart(7)} ms${vs(k, ph[k])}`);
    console.log(`  per iteration (Gmain + Dmain + Greg/4 + Dreg/16): ${msPerIter.toFixed(0)} ms${vs('msPerIter', msPerIter)}`);
    console.log(`  ${result.secPerKimg.toFixed(1)} sec/kimg`);
    console.log(`  G inference: ${gInfer.toFixed(1)} images/s${py ? ` (PyTorch ${py.gInferImgPerSec.toFixed(1)})` : ''}`);
    console.log(`  Inception (299x299, batch 16): ${result.inceptionImgPerSec.toFixed(1)} images/s${py ? ` (PyTorch ${py.inceptionImgPerSec.toFixed(1)})` : ''}`);
  }
  trainer.dispose();
  tf.dispose([z, reals.img]);
  G.dispose(); D.dispose(); Gema.dispose();
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
