// Training-speed benchmark: per-phase wall time of one training iteration, the lazily
// regularized ms per iteration (Gmain + Dmain + Greg/4 + Dreg/16, as upstream schedules them),
// sec/kimg, G inference images/s and FID Inception images/s. With --peer it runs upstream
// stylegan2-ada-pytorch (a checkout, on Debian's python3-torch) on the same machine through
// scripts/dev/peer-bench.py, alternating rounds of ours and of the peer, and prints both medians and
// their ratio; no peer figure is ever hard-coded.
// On a GPU (--backend webgpu) it reports the GPU memory the backend holds, and --peer-device cuda runs
// the peer on PyTorch CUDA (its peak allocated and reserved memory beside ours).
//   npm run bench -- [--config tiny16|bench32|bench64|emoji32|paper256] [--batch N] [--aug P] [--rounds 5]
//                    [--iters 3] [--peer DIR] [--peer-device cpu|cuda] [--python python3] [--no-inception]
//                    [--json] [--backend B] [--profile | --memory]
//   --profile: one iteration's kernels (how many run, the bytes each kind writes) instead of timings
//   --memory: each phase's peak memory (ours: tensor buffers; the peer's: CUDA allocated, or on the
//             CPU its peak resident size) instead of timings
//   npm run bench -- gemm [--rounds 5]        (GEMM GFLOP/s; scripts/dev/bench-gemm.ts)
import { arg } from '../lib/args.js';
import { bufferPeak } from '../lib/buffer_peak.js';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend.js';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import { type GeneratorConfig, type DiscriminatorConfig, resolveDiscriminatorConfig } from '../../src/networks/config.js';
import { Rng } from '../../src/rng.js';
import { Trainer } from '../../src/train/trainer.js';
import { resolveTrainingOptions, trainerOptions } from '../../src/train/options.js';
import { AugmentPipe } from '../../src/train/augment.js';

interface BenchConfig {
  G: GeneratorConfig;
  D: DiscriminatorConfig;
  batch: number;
  r1Gamma: number;
  plWeight: number;
  styleMixing: number;
}

const net = (z: number, res: number, cbase: number, cmax: number, mbstd = 4, mappingLayers = 2): Pick<BenchConfig, 'G' | 'D'> => ({
  G: {
    z_dim: z,
    c_dim: 0,
    w_dim: z,
    img_resolution: res,
    img_channels: 3,
    mapping_kwargs: { num_layers: mappingLayers },
    synthesis_kwargs: { channel_base: cbase, channel_max: cmax, conv_clamp: 256 },
  },
  D: { c_dim: 0, img_resolution: res, img_channels: 3, channel_base: cbase, channel_max: cmax, conv_clamp: 256, epilogue_kwargs: { mbstd_group_size: mbstd } },
});

// Every config trains with upstream's defaults for fine-tuning (path length 2, style mixing 0.9,
// R1 gamma 0.0002 * res^2 / batch), on both sides; without --aug, no augmentation.
const CONFIGS: Record<string, BenchConfig> = {
  tiny16: { ...net(32, 16, 256, 32), batch: 4, r1Gamma: 0.0128, plWeight: 2, styleMixing: 0.9 },
  bench32: { ...net(128, 32, 4096, 128), batch: 16, r1Gamma: 0.0128, plWeight: 2, styleMixing: 0.9 },
  bench64: { ...net(128, 64, 4096, 128), batch: 16, r1Gamma: 0.0512, plWeight: 2, styleMixing: 0.9 },
  // The architecture pretrained/emoji32.safetensors had up to the 797.65-kimg network (64 channels);
  // the bundled network now has 128 channels, as bench32 (with z = w = 64 and minibatch-std group 32).
  emoji32: { ...net(64, 32, 2048, 64), batch: 16, r1Gamma: 0.0128, plWeight: 2, styleMixing: 0.9 },
  // Upstream's paper256 configuration (train.py --cfg paper256: channel base 16384, max 512, 8
  // mapping layers, minibatch-std group 8, R1 gamma 1): the GPU-sized network.
  paper256: { ...net(512, 256, 16384, 512, 8, 8), batch: 16, r1Gamma: 1, plWeight: 2, styleMixing: 0.9 },
};

/** The GPU memory the backend holds (webgpu: its buffer pool, which keeps what it once allocated), in MB; null off the GPU. */
function gpuMB(): number | null {
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number; numBytesInGPU?: number };
  const bytes = m.numBytesAllocatedInGPU ?? m.numBytesInGPU;
  return bytes === undefined ? null : Math.round(bytes / 2 ** 20);
}

/** FID Inception-v3 throughput on random-valued weights of the real shapes (timing only). */
async function inceptionSpeed(reps: number): Promise<number> {
  const { InceptionV3 } = await import('../../src/metrics/inception.js');
  const shapes = inceptionShapes();
  const rng = new Rng('inception-bench');
  const sd = new Map(
    shapes.map(([k, s]) => {
      const n = s.reduce((a, b) => a * b, 1);
      const data = k.endsWith('running_var') || k.endsWith('bn.weight') ? new Float32Array(n).fill(1) : rng.normalArray(n).map((v) => v * 0.05);
      return [k, { shape: s, data }] as const;
    }),
  );
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
    ['Conv2d_1a_3x3', 3, 32, 3, 3],
    ['Conv2d_2a_3x3', 32, 32, 3, 3],
    ['Conv2d_2b_3x3', 32, 64, 3, 3],
    ['Conv2d_3b_1x1', 64, 80, 1, 1],
    ['Conv2d_4a_3x3', 80, 192, 3, 3],
  ];
  const A = (m: string, cin: number, pool: number) =>
    convs.push(
      [`${m}.branch1x1`, cin, 64, 1, 1],
      [`${m}.branch5x5_1`, cin, 48, 1, 1],
      [`${m}.branch5x5_2`, 48, 64, 5, 5],
      [`${m}.branch3x3dbl_1`, cin, 64, 1, 1],
      [`${m}.branch3x3dbl_2`, 64, 96, 3, 3],
      [`${m}.branch3x3dbl_3`, 96, 96, 3, 3],
      [`${m}.branch_pool`, cin, pool, 1, 1],
    );
  A('Mixed_5b', 192, 32);
  A('Mixed_5c', 256, 64);
  A('Mixed_5d', 288, 64);
  convs.push(
    ['Mixed_6a.branch3x3', 288, 384, 3, 3],
    ['Mixed_6a.branch3x3dbl_1', 288, 64, 1, 1],
    ['Mixed_6a.branch3x3dbl_2', 64, 96, 3, 3],
    ['Mixed_6a.branch3x3dbl_3', 96, 96, 3, 3],
  );
  const C = (m: string, c7: number) =>
    convs.push(
      [`${m}.branch1x1`, 768, 192, 1, 1],
      [`${m}.branch7x7_1`, 768, c7, 1, 1],
      [`${m}.branch7x7_2`, c7, c7, 1, 7],
      [`${m}.branch7x7_3`, c7, 192, 7, 1],
      [`${m}.branch7x7dbl_1`, 768, c7, 1, 1],
      [`${m}.branch7x7dbl_2`, c7, c7, 7, 1],
      [`${m}.branch7x7dbl_3`, c7, c7, 1, 7],
      [`${m}.branch7x7dbl_4`, c7, c7, 7, 1],
      [`${m}.branch7x7dbl_5`, c7, 192, 1, 7],
      [`${m}.branch_pool`, 768, 192, 1, 1],
    );
  C('Mixed_6b', 128);
  C('Mixed_6c', 160);
  C('Mixed_6d', 160);
  C('Mixed_6e', 192);
  convs.push(
    ['Mixed_7a.branch3x3_1', 768, 192, 1, 1],
    ['Mixed_7a.branch3x3_2', 192, 320, 3, 3],
    ['Mixed_7a.branch7x7x3_1', 768, 192, 1, 1],
    ['Mixed_7a.branch7x7x3_2', 192, 192, 1, 7],
    ['Mixed_7a.branch7x7x3_3', 192, 192, 7, 1],
    ['Mixed_7a.branch7x7x3_4', 192, 192, 3, 3],
  );
  const E = (m: string, cin: number) =>
    convs.push(
      [`${m}.branch1x1`, cin, 320, 1, 1],
      [`${m}.branch3x3_1`, cin, 384, 1, 1],
      [`${m}.branch3x3_2a`, 384, 384, 1, 3],
      [`${m}.branch3x3_2b`, 384, 384, 3, 1],
      [`${m}.branch3x3dbl_1`, cin, 448, 1, 1],
      [`${m}.branch3x3dbl_2`, 448, 384, 3, 3],
      [`${m}.branch3x3dbl_3a`, 384, 384, 1, 3],
      [`${m}.branch3x3dbl_3b`, 384, 384, 3, 1],
      [`${m}.branch_pool`, cin, 192, 1, 1],
    );
  E('Mixed_7b', 1280);
  E('Mixed_7c', 2048);
  return convs.flatMap(
    ([n, i, o, kh, kw]) =>
      [
        [`${n}.conv.weight`, [o, i, kh, kw]],
        [`${n}.bn.weight`, [o]],
        [`${n}.bn.bias`, [o]],
        [`${n}.bn.running_mean`, [o]],
        [`${n}.bn.running_var`, [o]],
      ] as [string, number[]][],
  );
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

interface RoundResult {
  phasesMs: Record<string, number>;
  gpuMB?: number | null; // after the round: ours, the backend's GPU buffers; the peer, CUDA's peak reserved
  gpuAllocatedMB?: number | null; // the peer on CUDA: peak allocated
  augmentsPerIter?: number; // ours: augmentation passes per timed iteration (0 without --aug)
  gInferMs: number;
  inceptionMs?: number;
}

/** Our side: networks and trainer built once; each round times `iters` of every phase. */
async function oursRunner(
  cfg: BenchConfig,
  augP: number | null,
): Promise<{
  run: (iters: number, inception: boolean) => Promise<RoundResult>;
  profile: () => Promise<{ dispatches: number; outputMB: number; peakMB: number; kernels: { name: string; count: number; outputMB: number }[] }>;
  memory: () => Promise<{ baselineMB: number; phasesMB: Record<string, number> }>;
  dispose: () => void;
}> {
  const rng = new Rng(0);
  const G = new Generator(cfg.G, rng);
  const D = new Discriminator(cfg.D, rng);
  const Gema = new Generator(cfg.G);
  Gema.params.copyFrom(G.params);
  // The options a run would resolve for this config: upstream's defaults; with --aug, the bgc
  // pipeline at a fixed p (the ADA adjustment is a few scalars per 4 iterations, left out).
  const opts = trainerOptions(
    resolveTrainingOptions(
      {
        data: '',
        loss: 'logistic',
        batch: cfg.batch,
        gamma: cfg.r1Gamma,
        plWeight: cfg.plWeight,
        styleMixing: cfg.styleMixing,
        ema: 10,
        emaRampup: null,
        aug: augP === null ? 'none' : 'fixed',
        p: augP ?? 0,
      },
      { G_kwargs: cfg.G, D_kwargs: cfg.D },
      'bench',
    ),
  );
  // Counted, so that the JSON shows the timed phases ran the augmentation (upstream augments Gmain's
  // fakes, Dmain's fakes and reals, and Dreg's reals).
  let augments = 0;
  const pipe = augP === null ? null : new AugmentPipe('bgc', augP);
  const augment = pipe && {
    p: augP!,
    apply: (img: tf.Tensor4D, r: Rng) => {
      augments++;
      return pipe.apply(img, r);
    },
  };
  const trainer = new Trainer(G, D, Gema, opts, rng, augment);
  const res = cfg.G.img_resolution;
  const reals = { img: tf.randomUniform([cfg.batch, res, res, 3], -1, 1, 'float32', 1) as tf.Tensor4D, c: null };
  const z = rng.normal([cfg.batch, cfg.G.z_dim]);
  trainer.batchIdx = 0;
  await trainer.step(reals, null); // warm-up
  return {
    async run(iters, inception) {
      trainer.phaseTimes = {};
      augments = 0;
      for (let i = 0; i < iters; i++) {
        trainer.batchIdx = 0; // every phase on every measured iteration
        await trainer.step(reals, null);
      }
      const phasesMs = Object.fromEntries(Object.entries(trainer.phaseTimes).map(([k, v]) => [k, median(v)]));
      const augmentsPerIter = augments / iters;
      trainer.phaseTimes = null;
      const times: number[] = [];
      for (let i = 0; i < Math.max(iters, 3); i++) {
        const t0 = performance.now();
        const img = Gema.apply(z, null, { noise_mode: 'const' });
        await img.data();
        img.dispose();
        times.push(performance.now() - t0);
      }
      return {
        phasesMs,
        augmentsPerIter,
        gpuMB: gpuMB(),
        gInferMs: median(times),
        ...(inception ? { inceptionMs: 16000 / (await inceptionSpeed(Math.max(iters, 2))) } : {}),
      };
    },
    /** The kernels one whole iteration (every phase) dispatches: per kernel name, how many and the bytes they write. */
    async profile() {
      const { result: p, peakAboveBase } = await bufferPeak(() =>
        tf.profile(async () => {
          trainer.batchIdx = 0;
          await trainer.step(reals, null);
        }),
      );
      const byName = new Map<string, { count: number; outputMB: number }>();
      // tf.profile also records each custom gradient's call ('backward', 'unnamed scope'): not a
      // kernel, its work is in the kernels it ran, counted on their own.
      const backend = tf.getBackend();
      for (const k of p.kernels.filter((r) => tf.getKernel(r.name, backend))) {
        const e = byName.get(k.name) ?? { count: 0, outputMB: 0 };
        e.count++;
        e.outputMB += (k.outputShapes ?? []).reduce((a, sh) => a + (sh ?? []).reduce((x, y) => x * y, 1) * 4, 0) / 2 ** 20;
        byName.set(k.name, e);
      }
      const kernels = [...byName].map(([name, e]) => ({ name, ...e })).sort((a, b) => b.outputMB - a.outputMB);
      // peakMB: the most tensor buffer memory alive at once (any backend; webgpu's buffer pool holds
      // at least this), the networks, Adam moments and reals included.
      return {
        dispatches: kernels.reduce((a, k) => a + k.count, 0),
        outputMB: kernels.reduce((a, k) => a + k.outputMB, 0),
        peakMB: (tf.memory().numBytes + peakAboveBase) / 2 ** 20,
        kernels,
      };
    },
    /** Per phase, run alone: the most buffer memory alive at once above what lives between iterations. */
    async memory() {
      const all = trainer.phases;
      const phasesMB: Record<string, number> = {};
      for (const phase of all.filter((p) => p.active)) {
        Object.defineProperty(trainer, 'phases', { configurable: true, get: () => all.map((p) => ({ ...p, active: p.name === phase.name })) });
        trainer.batchIdx = 0;
        phasesMB[phase.name] = (await bufferPeak(() => trainer.step(reals, null))).peakAboveBase / 2 ** 20;
      }
      delete (trainer as { phases?: unknown }).phases;
      return { baselineMB: tf.memory().numBytes / 2 ** 20, phasesMB };
    },
    dispose() {
      trainer.dispose();
      tf.dispose([z, reals.img]);
      G.dispose();
      D.dispose();
      Gema.dispose();
    },
  };
}

type PeerRound = RoundResult & { torch: string; threads: number; gpu?: string; customOps?: boolean };
type PeerMemory = { phasesMB: Record<string, number>; torch: string; how: string };

/** The peer: scripts/dev/peer-bench.py over an upstream checkout, kept running between rounds. */
function peerRunner(
  checkout: string,
  python: string,
  cfg: BenchConfig,
  augP: number | null,
  inception: boolean,
  device: 'cpu' | 'cuda',
  env: Record<string, string> = {},
): { run: (iters: number) => Promise<PeerRound>; memory: () => Promise<PeerMemory>; close: () => void } {
  const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'scripts', 'dev', 'peer-bench.py');
  // The same thread count as our OpenMP kernels: OMP_NUM_THREADS, else every core.
  const threads = Number(process.env.OMP_NUM_THREADS) || os.availableParallelism();
  const peerCfg = {
    G: cfg.G,
    D: cfg.D,
    batch: cfg.batch,
    r1_gamma: cfg.r1Gamma,
    pl_weight: cfg.plWeight,
    style_mixing: cfg.styleMixing,
    lr: 0.0025,
    augment_p: augP,
    threads,
    inception,
    device,
  };
  const child: ChildProcessWithoutNullStreams = spawn(python, [script, checkout, JSON.stringify(peerCfg)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += String(d);
  });
  const lines = createInterface({ input: child.stdout });
  const pending: ((l: string) => void)[] = [];
  lines.on('line', (l) => pending.shift()?.(l));
  const exited = new Promise<never>((_, reject) =>
    child.on('exit', (code) => {
      reject(
        new Error(
          `the PyTorch peer exited with ${code}: ${stderr.trim().split('\n').slice(-1)[0] ?? ''} (is ${checkout} a stylegan2-ada-pytorch checkout, and does '${python} -c "import torch"' work?)`,
        ),
      );
    }),
  );
  exited.catch(() => undefined);
  const ask = (line: string) =>
    Promise.race([
      exited,
      new Promise<string>((resolve) => {
        pending.push(resolve);
        child.stdin.write(`${line}\n`);
      }),
    ]).then((l) => JSON.parse(l));
  return {
    run: (iters) => ask(`run ${iters}`),
    memory: () => ask('memory'),
    close: () => {
      child.stdin.end();
      child.kill();
    },
  };
}

const perIter = (ph: Record<string, number>) => ph.Gmain + ph.Dmain + (ph.Greg ?? 0) / 4 + (ph.Dreg ?? 0) / 16;

async function main() {
  if (process.argv[2] === 'gemm') {
    const { benchGemm } = await import('./bench-gemm.js');
    return benchGemm();
  }
  const name = arg('config', 'bench32')!;
  if (!CONFIGS[name]) throw new Error(`unknown config '${name}'; choose one of ${Object.keys(CONFIGS).join(', ')}`);
  const batch = Number(arg('batch', String(CONFIGS[name].batch)));
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`--batch takes a positive integer (got '${arg('batch')}')`);
  const group = resolveDiscriminatorConfig(CONFIGS[name].D).epilogue_kwargs.mbstd_group_size; // null: the whole batch
  if (group !== null && batch > group && batch % group !== 0)
    throw new Error(`--batch ${batch}: ${name}'s minibatch-std group is ${group}; use a multiple of ${group}`);
  const cfg = { ...CONFIGS[name], batch };
  const augArg = process.argv.includes('--aug') ? (arg('aug') ?? '') : undefined;
  const augP = augArg === undefined ? null : Number(augArg);
  if (augP !== null && !(augArg !== '' && augP >= 0 && augP <= 1)) throw new Error(`--aug takes the augmentation probability p, from 0 to 1 (got '${augArg}')`);
  const rounds = Number(arg('rounds', '5'));
  const iters = Number(arg('iters', '3'));
  if (!(Number.isInteger(rounds) && rounds >= 1 && Number.isInteger(iters) && iters >= 1)) throw new Error('--rounds and --iters take positive integers');
  const json = process.argv.includes('--json');
  const withInception = !process.argv.includes('--no-inception');
  const peerDir = arg('peer');
  const peerDevice = arg('peer-device', 'cpu');
  if (peerDevice !== 'cpu' && peerDevice !== 'cuda') throw new Error(`--peer-device takes cpu or cuda (got '${peerDevice}')`);
  if (process.argv.includes('--profile') && process.argv.includes('--memory'))
    throw new Error('--profile (kernels and bytes written) and --memory (peak memory per phase) are separate runs; give one');
  const backend = await initBackend(arg('backend', process.env.STYLEGAN_RLO_BACKEND ?? 'auto'), !json);

  const ours = await oursRunner(cfg, augP);
  if (process.argv.includes('--profile')) {
    // What decides a memory-bound op's cost on a GPU: how many kernels run and the bytes they write.
    const prof = await ours.profile();
    ours.dispose();
    if (json) console.log(JSON.stringify({ config: name, batch: cfg.batch, backend: backend.description, ...prof }, null, 2));
    else {
      console.log(
        `config ${name}, batch ${cfg.batch}, one iteration with every phase; ${backend.description}: ${prof.dispatches} kernels, ${prof.outputMB.toFixed(1)} MB written, peak tensor memory ${prof.peakMB.toFixed(1)} MB`,
      );
      console.log('| kernel | runs | MB written | share of bytes |');
      console.log('|---|---:|---:|---:|');
      for (const k of prof.kernels.slice(0, 25))
        console.log(`| ${k.name} | ${k.count} | ${k.outputMB.toFixed(1)} | ${((100 * k.outputMB) / prof.outputMB).toFixed(1)}% |`);
    }
    return;
  }
  if (process.argv.includes('--memory')) {
    const mem = await ours.memory();
    ours.dispose();
    // On the CPU the peer's figure is its resident size, which counts freed memory only where glibc
    // returns it to the system: a fixed mmap threshold makes every large tensor its own mapping.
    const env: Record<string, string> = peerDevice === 'cpu' ? { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '0' } : {};
    const peer = peerDir ? peerRunner(peerDir, arg('python', 'python3')!, cfg, augP, false, peerDevice, env) : null;
    let peerMem: PeerMemory | null = null;
    try {
      peerMem = peer ? await peer.memory() : null;
    } finally {
      peer?.close();
    }
    if (json) {
      console.log(JSON.stringify({ config: name, batch: cfg.batch, backend: backend.description, ours: mem, peer: peerMem }, null, 2));
      return;
    }
    const mbText = (mb: number) => `${mb.toFixed(mb >= 100 ? 0 : 1)} MB`;
    console.log(
      `config ${name}, batch ${cfg.batch}: each phase's peak memory above what lives between iterations (ours ${mbText(mem.baselineMB)}: networks, G_ema, Adam moments, reals); ours: tensor buffers, ${backend.description}${peerMem ? `; PyTorch ${peerMem.torch} on ${peerDevice}: ${peerMem.how}` : ''}`,
    );
    console.log('| phase | ours | PyTorch | ours/PyTorch |');
    console.log('|---|---:|---:|---:|');
    for (const [phase, mb] of Object.entries(mem.phasesMB)) {
      const theirs = peerMem?.phasesMB[phase];
      console.log(`| ${phase} | ${mbText(mb)} | ${theirs != null ? mbText(theirs) : '-'} | ${theirs ? (mb / theirs).toFixed(2) : '-'} |`);
    }
    return;
  }
  const peer = peerDir ? peerRunner(peerDir, arg('python', 'python3')!, cfg, augP, withInception, peerDevice) : null;
  const oursRounds: RoundResult[] = [];
  const peerRounds: PeerRound[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // Alternate which side goes first, so that a drift in machine load hits both alike.
      const order = r % 2 === 0 ? ['ours', 'peer'] : ['peer', 'ours'];
      for (const side of order) {
        if (side === 'ours') oursRounds.push(await ours.run(iters, withInception));
        else if (peer) peerRounds.push(await peer.run(iters));
      }
      if (!json) process.stderr.write(`round ${r + 1}/${rounds}\n`);
    }
  } finally {
    ours.dispose();
    peer?.close();
  }
  const summarize = (rs: RoundResult[]) => {
    const phases = Object.keys(rs[0].phasesMs);
    const phasesMs = Object.fromEntries(phases.map((p) => [p, median(rs.map((x) => x.phasesMs[p]))]));
    const inc = rs.filter((x) => x.inceptionMs !== undefined).map((x) => x.inceptionMs!);
    const most = (k: 'gpuMB' | 'gpuAllocatedMB') => {
      const v = rs.map((x) => x[k]).filter((m): m is number => typeof m === 'number');
      return v.length ? Math.max(...v) : null;
    };
    return {
      gpuMB: most('gpuMB'),
      gpuAllocatedMB: most('gpuAllocatedMB'),
      phasesMs,
      msPerIter: median(rs.map((x) => perIter(x.phasesMs))),
      gInferImgPerSec: median(rs.map((x) => cfg.batch / (x.gInferMs / 1000))),
      inceptionImgPerSec: inc.length ? median(inc.map((ms) => 16000 / ms)) : null,
    };
  };
  const o = summarize(oursRounds);
  const p = peer ? summarize(peerRounds) : null;
  const result = {
    config: name,
    batch: cfg.batch,
    augmentP: augP,
    rounds,
    itersPerRound: iters,
    backend: backend.description,
    ours: { ...o, secPerKimg: (o.msPerIter / 1000) * (1000 / cfg.batch), augmentsPerIter: median(oursRounds.map((x) => x.augmentsPerIter ?? 0)) },
    peer: p
      ? {
          ...p,
          what: `stylegan2-ada-pytorch on torch ${peerRounds[0].torch}, ${
            peerDevice === 'cuda'
              ? `CUDA (${peerRounds[0].gpu}; upstream's fused CUDA ops ${peerRounds[0].customOps ? 'built' : 'not built, so its reference ops'})`
              : `${peerRounds[0].threads} threads`
          }`,
          secPerKimg: (p.msPerIter / 1000) * (1000 / cfg.batch),
        }
      : null,
    memory: { numTensors: tf.memory().numTensors, rssMB: Math.round(process.memoryUsage().rss / 2 ** 20) },
  };
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(
    `config ${name}, batch ${cfg.batch}${augP === null ? '' : `, bgc augmentation at p ${augP}`}: medians of ${rounds} alternating rounds of ${iters} iterations; ${backend.description}${p ? `; peer ${result.peer!.what}` : ''}`,
  );
  const row = (label: string, a: number, b: number | null | undefined, unit: string) =>
    console.log(`| ${label} | ${a.toFixed(1)} ${unit} | ${b != null ? `${b.toFixed(1)} ${unit}` : '-'} | ${b != null ? (a / b).toFixed(2) : '-'} |`);
  console.log(`| | ours | PyTorch | ours/PyTorch |`);
  console.log(`|---|---:|---:|---:|`);
  for (const k of ['Gmain', 'Greg', 'Dmain', 'Dreg']) if (o.phasesMs[k] !== undefined) row(k, o.phasesMs[k], p?.phasesMs[k], 'ms');
  row('iteration (Gmain + Dmain + Greg/4 + Dreg/16)', o.msPerIter, p?.msPerIter, 'ms');
  row('G inference', o.gInferImgPerSec, p?.gInferImgPerSec, 'img/s');
  if (o.inceptionImgPerSec !== null) row('Inception-v3 features (299x299, batch 16)', o.inceptionImgPerSec, p?.inceptionImgPerSec, 'img/s');
  if (o.gpuMB !== null) row('GPU memory (ours: buffers held; PyTorch: peak reserved)', o.gpuMB, p?.gpuMB, 'MB');
  console.log(`ours: ${result.ours.secPerKimg.toFixed(1)} sec/kimg${p ? `; PyTorch ${result.peer!.secPerKimg.toFixed(1)} sec/kimg` : ''}`);
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
