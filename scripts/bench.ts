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

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

async function main() {
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
    inceptionImgPerSec: null as number | null, // the FID network is not ported yet
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
    console.log('  Inception: not available yet');
  }
  trainer.dispose();
  tf.dispose([z, reals.img]);
  G.dispose(); D.dispose(); Gema.dispose();
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
