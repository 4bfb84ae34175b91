// A fine-tuning (or from-scratch) training run: set-up, run directory, ticks, grids, snapshots,
// stats, exact resume, clean stop. The CLI's finetune command is a thin wrapper over finetune().
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.js';
import { ImageDataset } from '../io/dataset.js';
import { checkGrid, tileGrid, toUint8, writePng } from '../io/images.js';
import { checkOutputFolder } from '../io/files.js';
import { type CheckpointConfig, saveCheckpoint } from '../io/checkpoint.js';
import { adamTensors, restoreAdam } from './adam.js';
import { buildDiscriminator, buildGenerator, loadNetwork, type LoadedNetwork, widenLoadedNetwork } from '../io/network.js';
import { writeFileAtomic } from '../io/atomic.js';
import { Discriminator } from '../networks/discriminator.js';
import { Generator } from '../networks/generator.js';
import { Rng } from '../rng.js';
import { AugmentPipe } from './augment.js';
import { writeRunReport } from './report.js';
import {
  DEFAULTS,
  describeBranchChanges,
  type FinetuneArgs,
  resolveTrainingOptions,
  resumeTrainingOptions,
  type TrainingOptions,
  trainerOptions,
} from './options.js';
import { snapshotName, type TrainingState, trainingStateOf } from '../io/training_state.js';
import { Trainer } from './trainer.js';
import { distances, folderFeatures, generatorFeatures } from '../metrics/evaluate.js';
import { type FeatureNetwork, loadFeatureNetwork } from '../metrics/features.js';
import { metricFile } from '../metrics/compare.js';
import { cacheDir } from '../io/cache_dir.js';
import { checkResumeInPlace, fakesName, makeNamedRunDir, nextRunDir, resolveResume, tidyForResume } from './run_dir.js';

export type { FinetuneArgs } from './options.js';

export interface RunHooks {
  log?: (line: string) => void; // Progress lines (default: stderr).
  shouldStop?: () => boolean; // Polled each iteration: true = snapshot and stop.
  urgentStop?: () => boolean; // True: the stop snapshot skips its grid and metrics.
  progress?: (p: TrainingProgress) => void; // After every iteration (a progress bar on a TTY).
  maxIterations?: number; // Stop after this many iterations (tests, benchmarks).
  clock?: () => number; // Milliseconds for speed and ETA (default performance.now; tests pass their own).
}

export interface TrainingProgress {
  tick: number;
  tickImages: number; // images shown in this tick so far
  tickTotal: number; // images in a whole tick
  imagesPerSec: number; // over this tick so far
  etaSec: number; // to the end of the run at that rate
}

export interface RunResult {
  runDir: string;
  kimg: number;
  iterations: number;
  stopped: 'done' | 'requested' | 'limit';
  lastSnapshot: string | null;
}

/** Trains as `args` says; returns when done, stopped or at the iteration limit. */
export async function finetune(args: FinetuneArgs, hooks: RunHooks = {}): Promise<RunResult> {
  const log = hooks.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const backendChoice = args.backend ?? process.env.STYLEGAN_RLO_BACKEND ?? 'auto';
  // Refused before anything is loaded or created: wasm has no filter-gradient kernel.
  if (backendChoice === 'wasm')
    throw new Error('--backend wasm cannot train (tfjs-backend-wasm has no Conv2DBackpropFilter); use cpu, or tensorflow-gpu on a GPU');
  // Where the run will go is checked before anything slow happens.
  if (args.runDir) {
    if (
      await fs.stat(args.runDir).then(
        () => true,
        () => false,
      )
    ) {
      throw new Error(
        `run directory ${args.runDir} already exists; ${args.resume ? '' : `use --resume ${args.runDir} to continue it, or `}choose another --run-dir`,
      );
    }
    await checkOutputFolder(args.runDir, '--run-dir');
  } else if (!args.resume) {
    await checkOutputFolder(args.outdir ?? DEFAULTS.outdir, '--outdir');
  }
  const backend = await initBackend(backendChoice, false);

  // ---- options and starting point
  let net: LoadedNetwork | null = null;
  let saved: TrainingState | null = null;
  let resumeFrom = '';
  let runOptions: TrainingOptions;
  if (args.resume) {
    const file = await resolveResume(args.resume);
    resumeFrom = path.dirname(file);
    net = await loadNetwork(file);
    const tr = trainingStateOf(net.training, file);
    if (!tr) throw new Error(`--resume ${file}: this checkpoint has no training state (it was exported, not snapshotted by finetune)`);
    saved = tr;
    // In place, unless --run-dir branches the run into a new directory.
    if (!args.runDir) await checkResumeInPlace(file, tr.trainer.curNimg / 1000);
    if (args.data && path.resolve(args.data) !== path.resolve(tr.options.data)) log(`resume: using --data ${args.data} instead of ${tr.options.data}`);
    runOptions = resumeTrainingOptions(tr.options, args, args.runDir ?? path.dirname(file), backend.description, tr.trainer.curNimg / 1000);
    // A branch with --cbase/--cmax continues with wider networks that compute what these did.
    if (runOptions.G_kwargs !== tr.options.G_kwargs)
      net = widenLoadedNetwork(net, { G_kwargs: runOptions.G_kwargs, D_kwargs: runOptions.D_kwargs }, new Rng(`widen-${runOptions.seed}`));
  } else {
    if (args.network) net = await loadNetwork(args.network);
    if (net && !net.D_kwargs) throw new Error(`${args.network}: has no discriminator; fine-tuning needs a network that includes D`);
    runOptions = resolveTrainingOptions(args, net ? { G_kwargs: net.G_kwargs, D_kwargs: net.D_kwargs! } : null, backend.description);
  }
  checkGrid(runOptions.grid, runOptions.G_kwargs.img_resolution);
  // Metric networks load before any training: missing weights fail here, not at the first snapshot.
  const metricNets: FeatureNetwork[] = [];
  for (const m of runOptions.metrics)
    metricNets.push(await loadFeatureNetwork(m === 'fid' ? { kind: 'inception', protocol: 'nvidia', inception: runOptions.inception } : { kind: 'emoji' }));

  // ---- data (before creating the run directory: a bad folder must not leave an empty run behind)
  const G_kwargs = runOptions.G_kwargs;
  const dataset = await ImageDataset.load(runOptions.data, {
    resolution: G_kwargs.img_resolution,
    channels: G_kwargs.img_channels as 1 | 3,
    filter: runOptions.resizeFilter,
    requireSquare: runOptions.requireSquare,
    mirror: runOptions.mirror,
    cDim: G_kwargs.c_dim,
  });
  if (dataset.report.skipped.length) {
    const s = dataset.report.skipped;
    log(`warning: skipped ${s.length} unreadable image file${s.length > 1 ? 's' : ''} in ${runOptions.data} (first: ${s[0].file}: ${s[0].reason})`);
  }
  if (G_kwargs.img_channels !== 1 && G_kwargs.img_channels !== 3)
    throw new Error(`networks with ${G_kwargs.img_channels} channels cannot be trained on image files (1 or 3 channels)`);

  // ---- networks
  const rng = saved ? new Rng(runOptions.seed, saved.rng) : new Rng(runOptions.seed);
  let G: Generator, D: Discriminator, Gema: Generator;
  if (net) {
    G = buildGenerator(net, net.G ? 'G' : 'G_ema');
    Gema = buildGenerator(net, 'G_ema');
    D = buildDiscriminator(net, runOptions.D_kwargs); // the network's, with the run's freeze_layers and mbstd group
  } else {
    G = new Generator(runOptions.G_kwargs, rng);
    D = new Discriminator(runOptions.D_kwargs, rng);
    Gema = new Generator(runOptions.G_kwargs);
    Gema.params.copyFrom(G.params);
  }
  const augment = runOptions.aug === 'none' ? null : new AugmentPipe(runOptions.augpipe, runOptions.p);
  const trainer = new Trainer(G, D, Gema, trainerOptions(runOptions), rng, augment);

  let tick = 0;
  let tickStartNimg = 0;
  const dispose = () => {
    for (const n of metricNets) n.dispose();
    trainer.dispose();
    G.dispose();
    D.dispose();
    Gema.dispose();
  };
  try {
    // A stop requested while the network and data were loading: nothing has been created yet.
    if (hooks.shouldStop?.()) {
      log('stopped before training started: no run directory was created');
      return { runDir: '', kimg: saved ? saved.trainer.curNimg / 1000 : 0, iterations: 0, stopped: 'requested', lastSnapshot: null };
    }
    const createdRunDir = !saved || Boolean(args.runDir);
    if (saved && net?.tensors) {
      trainer.restore(saved.trainer);
      restoreAdam(trainer.optG, G.params, net.tensors, 'opt_G');
      restoreAdam(trainer.optD, D.params, net.tensors, 'opt_D');
      if (!dataset.restoreSampler(saved.sampler)) {
        log(
          `resume: the data now has ${dataset.length} images${runOptions.mirror ? ' (with x-flips)' : ''}, the snapshot's order was for ${saved.sampler.order.length}; starting a new shuffle (the run is no longer an exact continuation)`,
        );
      }
      if (augment) augment.p = saved.augmentP;
      trainer.restoreAdaSigns(saved.adaSigns);
      tick = saved.tick;
      tickStartNimg = saved.tickStartNimg;
      const from = resumeFrom;
      if (args.runDir) {
        // A branch: a new run directory that starts with the history up to this snapshot.
        await makeNamedRunDir(args.runDir, false);
        for (const f of await fs.readdir(from)) {
          if (f === 'stats.jsonl' || f === 'log.txt' || /^metric-.*\.jsonl$/.test(f)) await fs.copyFile(path.join(from, f), path.join(args.runDir, f));
        }
        await writeFileAtomic(path.join(runOptions.runDir, 'training_options.json'), `${JSON.stringify(runOptions, null, 2)}\n`);
      }
      const tidy = await tidyForResume(runOptions.runDir, trainer.curNimg / 1000);
      const newBranch = (runOptions.branches?.length ?? 0) > (saved.options.branches?.length ?? 0) ? runOptions.branches!.at(-1)! : null;
      const changes = newBranch ? `; changed: ${describeBranchChanges(newBranch.changed)}` : '';
      log(
        `${args.runDir ? `branching ${from} into ${runOptions.runDir}` : `resuming ${runOptions.runDir}`} at kimg ${(trainer.curNimg / 1000).toFixed(3)}` +
          (tidy.droppedRows ? ` (dropped ${tidy.droppedRows} log rows written after that snapshot)` : '') +
          changes,
      );
    } else {
      if (args.runDir) {
        await makeNamedRunDir(args.runDir, true);
        runOptions.runDir = args.runDir;
      } else {
        runOptions.runDir = await nextRunDir(
          runOptions.outdir,
          `${path.basename(path.resolve(runOptions.data))}-${runOptions.loss}${runOptions.loss === 'rooted' ? `-k${runOptions.k}` : ''}`,
        );
      }
      await writeFileAtomic(path.join(runOptions.runDir, 'training_options.json'), `${JSON.stringify(runOptions, null, 2)}\n`);
    }
    const logFile = path.join(runOptions.runDir, 'log.txt');
    const say = async (line: string) => {
      log(line);
      await fs.appendFile(logFile, `${line}\n`);
    };
    await say(`backend: ${backend.description}`);
    const origin = runOptions.network ? `from ${runOptions.network}` : 'from scratch';
    await say(
      `${saved ? `resumed at kimg ${(trainer.curNimg / 1000).toFixed(3)} (the run started ${origin})` : `started: ${origin}`}, ${dataset.report.used} images from ${runOptions.data}${runOptions.mirror ? ' (+ x-flips)' : ''}, loss ${runOptions.loss === 'rooted' ? `rooted k=${runOptions.k}` : 'logistic'}, ${runOptions.kimg} kimg, batch ${runOptions.batch}`,
    );

    // ---- fixed grids (their own streams: the training stream does not depend on grid size)
    const [gw, gh] = runOptions.grid;
    const gridN = gw * gh;
    const gridRng = new Rng(`grid-${runOptions.seed}`);
    const gridZ = gridRng.normal([gridN, G_kwargs.z_dim]);
    const gridC = dataset.randomLabels(gridN, gridRng);
    const writeFakes = async (file: string) => {
      const pixels = await renderGrid(Gema, gridZ, gridC, runOptions.batch);
      const g = tileGrid(pixels, gridN, G_kwargs.img_resolution, G_kwargs.img_channels, gw);
      await writePng(path.join(runOptions.runDir, file), g.pixels, g.width, g.height, G_kwargs.img_channels);
    };
    if (!saved) {
      const idx = Array.from({ length: gridN }, (_, i) => i % dataset.length);
      const reals = new Uint8Array(gridN * G_kwargs.img_resolution ** 2 * G_kwargs.img_channels);
      idx.forEach((i, k) => {
        reals.set(dataset.pixels(i), k * dataset.pixels(i).length);
      });
      const g = tileGrid(reals, gridN, G_kwargs.img_resolution, G_kwargs.img_channels, gw);
      await writePng(path.join(runOptions.runDir, 'reals.png'), g.pixels, g.width, g.height, G_kwargs.img_channels);
      await writeFakes('fakes_init.png');
    }

    // ---- the loop
    const totalNimg = Math.round(runOptions.kimg * 1000);
    let iterations = 0;
    let lastSnapshot: string | null = null;
    const clock = hooks.clock ?? (() => performance.now());
    let tickStartTime = clock();
    // The images the tick's clock covers: a resumed run continues its tick (the tick boundaries of an
    // exact resume), but its clock starts at the snapshot, so speed and ETA count from there.
    let timedFromNimg = trainer.curNimg;
    let stopped: RunResult['stopped'] = 'done';
    let lastSkipped = saved ? Object.values(saved.trainer.skipped).reduce((a, b) => a + b, 0) : 0;
    const snapshot = async () => {
      const file = path.join(runOptions.runDir, snapshotName(trainer.curNimg));
      const st: TrainingState = {
        options: runOptions,
        trainer: await trainer.state(),
        rng: rng.state(),
        sampler: dataset.samplerState(),
        augmentP: augment?.p ?? 0,
        adaSigns: await trainer.adaSignsState(),
        tick,
        tickStartNimg,
      };
      const config: CheckpointConfig = { format: 'stylegan-rlo', version: 1, G_kwargs: runOptions.G_kwargs, D_kwargs: runOptions.D_kwargs, training: st };
      const extra = new Map([...(await adamTensors(trainer.optG, G.params, 'opt_G')), ...(await adamTensors(trainer.optD, D.params, 'opt_D'))]);
      await saveCheckpoint(file, config, { G: G.params, D: D.params, G_ema: Gema.params, extra });
      lastSnapshot = file;
      if (hooks.urgentStop?.()) return file;
      await writeFakes(fakesName(trainer.curNimg));
      for (const net of metricNets) {
        const ex = { batch: runOptions.batch, cacheDir: cacheDir() };
        const real = await folderFeatures(net, runOptions.data, ex);
        const gen = await generatorFeatures(net, Gema, { num: runOptions.metricsNum, seed: runOptions.seed, labels: (n, r) => dataset.randomLabels(n, r) }, ex);
        const d = distances(real, gen, net, true, runOptions.seed);
        const rec = {
          kimg: trainer.curNimg / 1000,
          snapshot: path.basename(file),
          metric: d.metric,
          value: d.distance,
          kernelMetric: d.kernelMetric,
          kernel: d.kernel,
          num: runOptions.metricsNum,
          features: net.id,
        };
        await fs.appendFile(path.join(runOptions.runDir, metricFile(net)), `${JSON.stringify(rec)}\n`);
        log(
          `${d.metric} ${d.distance.toFixed(3)}, ${d.kernelMetric} ${d.kernel!.toFixed(5)} (${net.kind} features, ${runOptions.metricsNum} generated images)`,
        );
      }
      return file;
    };

    while (trainer.curNimg < totalNimg) {
      if (hooks.shouldStop?.()) {
        stopped = 'requested';
        break;
      }
      if (hooks.maxIterations !== undefined && iterations >= hooks.maxIterations) {
        stopped = 'limit';
        break;
      }
      const idx = dataset.nextIndices(runOptions.batch, rng);
      const reals = dataset.batch(idx);
      // Labels of the fakes: batch per phase, drawn at once (upstream all_gen_c).
      const genC = dataset.randomLabels(runOptions.batch * trainer.phases.length, rng);
      trainer.step(reals, genC);
      tf.dispose([reals.img, reals.c, genC].filter((t) => t !== null) as tf.Tensor[]);
      iterations++;
      if (hooks.progress) {
        const sec = (clock() - tickStartTime) / 1000,
          shown = trainer.curNimg - tickStartNimg;
        const rate = (trainer.curNimg - timedFromNimg) / Math.max(sec, 1e-9);
        hooks.progress({
          tick,
          tickImages: shown,
          tickTotal: Math.round(runOptions.tickKimg * 1000),
          imagesPerSec: rate,
          etaSec: (totalNimg - trainer.curNimg) / rate,
        });
      }
      // Let signal handlers run between iterations, so that a stop request acts within one
      // iteration rather than at the end of the tick (minutes on a CPU).
      await new Promise((resolve) => setImmediate(resolve));

      const done = trainer.curNimg >= totalNimg;
      if (!done && trainer.curNimg < tickStartNimg + runOptions.tickKimg * 1000) continue;
      // ---- tick: one read-back of every statistic
      const stats = await trainer.stats.collect();
      const state = await trainer.state();
      const now = clock();
      const secTick = (now - tickStartTime) / 1000;
      const kimgTick = (trainer.curNimg - timedFromNimg) / 1000;
      const secPerKimg = secTick / Math.max(kimgTick, 1e-9);
      const rec: Record<string, unknown> = {
        tick,
        kimg: trainer.curNimg / 1000,
        timestamp: Date.now() / 1000,
        sec_per_tick: secTick,
        sec_per_kimg: secPerKimg,
        augment_p: augment?.p ?? 0,
        pl_mean: state.plMean,
        skipped_steps: state.skipped,
        memory: { num_tensors: tf.memory().numTensors, num_bytes: tf.memory().numBytes, rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20) },
      };
      for (const [k, v] of Object.entries(stats)) rec[k] = v.mean;
      await fs.appendFile(path.join(runOptions.runDir, 'stats.jsonl'), `${JSON.stringify(rec)}\n`);
      const f = (k: string) => (stats[k] ? stats[k].mean.toFixed(3) : '-');
      const eta = ((totalNimg - trainer.curNimg) / 1000) * secPerKimg;
      await say(
        `tick ${tick}  kimg ${(trainer.curNimg / 1000).toFixed(3)}  sec/kimg ${secPerKimg.toFixed(1)}  G ${f('Loss/G/loss')}  D ${f('Loss/D/loss')}  ` +
          `R1 ${f('Loss/r1_penalty')}  PL ${f('Loss/pl_penalty')}  D(x) ${f('Loss/scores/real')}  D(G(z)) ${f('Loss/scores/fake')}  p ${(augment?.p ?? 0).toFixed(3)}  ETA ${formatSec(eta)}`,
      );
      // Non-finite steps are skipped on the device; stop when they dominate a tick.
      const skippedNow = Object.values(state.skipped).reduce((a, b) => a + b, 0);
      const skippedTick = skippedNow - lastSkipped;
      lastSkipped = skippedNow;
      const phaseSteps = (trainer.curNimg - timedFromNimg) / runOptions.batch; // since lastSkipped was counted
      if (skippedTick > 0) await say(`warning: ${skippedTick} phase steps with non-finite losses or gradients were skipped this tick`);
      if (skippedTick >= phaseSteps && phaseSteps > 0) {
        await snapshot();
        throw new Error(
          `training diverged: ${skippedTick} steps with non-finite losses or gradients in the last tick; try a lower --glr/--dlr or a higher --gamma (snapshot saved in ${runOptions.runDir})`,
        );
      }
      tick++;
      tickStartNimg = trainer.curNimg;
      timedFromNimg = trainer.curNimg;
      tickStartTime = clock();
      if (done || tick % runOptions.snap === 0) await say(`snapshot: ${await snapshot()}`);
      await writeRunReport(runOptions.runDir);
    }
    // Stopped before the first iteration: a run directory made for this run holds nothing to
    // resume, so it is removed rather than left behind.
    if (stopped === 'requested' && iterations === 0 && createdRunDir) {
      tf.dispose(gridC ? [gridZ, gridC] : [gridZ]);
      await fs.rm(runOptions.runDir, { recursive: true, force: true });
      log(`stopped before the first iteration: removed ${runOptions.runDir}`);
      return { runDir: '', kimg: trainer.curNimg / 1000, iterations: 0, stopped, lastSnapshot: null };
    }
    // A stop between ticks still leaves an exact snapshot to resume from.
    if (stopped !== 'done' && iterations > 0 && lastSnapshot !== path.join(runOptions.runDir, snapshotName(trainer.curNimg))) {
      await say(`snapshot: ${await snapshot()}`);
    }
    tf.dispose(gridC ? [gridZ, gridC] : [gridZ]);
    await writeRunReport(runOptions.runDir);
    await say(`${stopped === 'done' ? 'done' : 'stopped'}: ${runOptions.runDir} (kimg ${(trainer.curNimg / 1000).toFixed(3)})`);
    return { runDir: runOptions.runDir, kimg: trainer.curNimg / 1000, iterations, stopped, lastSnapshot };
  } finally {
    dispose();
  }
}

/** G_ema on fixed latents (const noise), in batches, as uint8 NHWC. */
export async function renderGrid(G: Generator, z: tf.Tensor, c: tf.Tensor | null, batch: number): Promise<Uint8Array> {
  const n = z.shape[0];
  const out = new Uint8Array(n * G.imgResolution ** 2 * G.imgChannels);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const img = tf.tidy(() => G.apply(z.slice(i, m), c ? c.slice(i, m) : null, { noise_mode: 'const' }));
    out.set(toUint8(await img.data()), i * G.imgResolution ** 2 * G.imgChannels);
    img.dispose();
  }
  return out;
}

function formatSec(s: number): string {
  if (!Number.isFinite(s)) return '-';
  s = Math.max(0, s); // the last tick can overshoot the target by part of a batch
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = Math.floor(s % 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
