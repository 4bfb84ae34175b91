// Preparing a training run (upstream training_loop.py's set-up, before its main loop): the
// options resolved or resumed, the backend, the networks, the data, the trainer, and the run
// directory, locked for this process. A new run, an exact resume (in place) and a branch
// (--resume with --run-dir) all come out as one RunContext that the loop in run.ts drives.
import type { FinetuneArgs, LoadedNetwork, TrainingState } from '../records.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { type BackendInfo, initBackend } from '../backend.js';
import { ImageDataset } from '../data/dataset.js';
import { checkGrid } from '../data/images.js';
import { checkOutputFolder } from '../files/inputs.js';
import { buildDiscriminator, buildGenerator, loadNetwork, widenLoadedNetwork } from '../io/network.js';
import { writeFileAtomic } from '../files/atomic.js';
import { isHistoryFile, isRunDirectory, RUN_FILES } from '../io/run_layout.js';
import { lockRunDir, type RunLock } from '../io/run_lock.js';
import { trainingStateOf } from '../io/training_state.js';
import { Discriminator } from '../networks/discriminator.js';
import { Generator } from '../networks/generator.js';
import { Rng } from '../rng.js';
import { type FeatureNetwork, loadFeatureNetwork } from '../metrics/features.js';
import { restoreAdam } from './adam.js';
import { AugmentPipe } from './augment.js';
import { describeBranchChanges } from '../report/html.js';
import { DEFAULTS } from './defaults.js';
import { resolveTrainingOptions, resumeTrainingOptions, trainerOptions } from './options.js';
import type { TrainingOptions } from '../records.js';
import { checkResumeInPlace, makeNamedRunDir, nextRunDir, resolveResume, resumeFolder, runDirTaken, tidyForResume } from './run_dir.js';
import { Trainer } from './trainer.js';
import { OptionError } from '../files/option_error.js';

/** Everything a running training loop holds; made by prepareRun, released by dispose(). */
export interface RunContext {
  options: TrainingOptions; // resolved; options.runDir is the run directory
  backend: BackendInfo;
  saved: TrainingState | null; // the snapshot's state when resuming
  dataset: ImageDataset;
  rng: Rng; // the one training stream
  G: Generator;
  D: Discriminator;
  Gema: Generator;
  augment: AugmentPipe | null;
  trainer: Trainer;
  metricNets: FeatureNetwork[];
  grid: { z: tf.Tensor2D; c: tf.Tensor2D | null }; // fixed latents of the snapshot grids (own stream)
  tick: number;
  tickStartNimg: number;
  createdRunDir: boolean; // this call made the directory (a stop before training removes it)
  lock: RunLock;
  log: (line: string) => void; // stderr only
  say: (line: string) => Promise<void>; // stderr and log.txt
  dispose: () => Promise<void>;
}

/** Where a resumed run continues: in place, in a branch (--run-dir), or in a new directory. */
type ResumeTarget = { kind: 'in-place'; dir: string } | { kind: 'branch'; dir: string } | { kind: 'new' };

/**
 * Set-up, in the order that keeps failures cheap and clean: where the run goes is checked first,
 * the run directory to resume is locked before anything in it is read, networks, metric networks
 * and data are loaded before a new directory is created (a bad input leaves nothing behind).
 */
export interface PrepareHooks {
  log: (line: string) => void;
  shouldStop?: () => boolean; // asked once everything loaded: true = stop before creating anything
  creatingRunDir?: () => void; // called just before the run directory is created or changed
}

/** The RunContext, or null when a stop was asked for while loading (nothing was created). */
export async function prepareRun(args: FinetuneArgs, hooks: PrepareHooks): Promise<RunContext | null> {
  const backendChoice = args.backend ?? process.env.STYLEGAN_RLO_BACKEND ?? 'auto';
  // Refused before anything is loaded or created: wasm has no filter-gradient kernel.
  if (backendChoice === 'wasm')
    throw new OptionError((o) => `${o('backend')} wasm cannot train (tfjs-backend-wasm has no Conv2DBackpropFilter); use cpu, or tensorflow-gpu on a GPU`);
  if (args.runDir) {
    if (await exists(args.runDir)) throw runDirTaken(args.runDir, !args.resume);
    await checkOutputFolder(args.runDir, 'runDir');
  }
  // Where a resumed run continues: a branch (--run-dir), in place (a run directory), or new.
  const folder = args.resume ? await resumeFolder(args.resume) : null;
  const target: ResumeTarget | null =
    folder === null
      ? null
      : args.runDir
        ? { kind: 'branch', dir: args.runDir }
        : (await isRunDirectory(folder))
          ? { kind: 'in-place', dir: folder }
          : { kind: 'new' };
  if (!args.runDir && target?.kind !== 'in-place') await checkOutputFolder(args.outdir ?? DEFAULTS.outdir, 'outdir');

  // ---- the run directory to resume is locked before anything in it is read
  const lock = target?.kind === 'in-place' ? await lockRunDir(target.dir, `resume ${args.resume}`) : null;
  const parts: { metricNets: FeatureNetwork[] } = { metricNets: [] };
  try {
    return await prepareLocked(args, hooks, backendChoice, target, lock, parts);
  } catch (e) {
    for (const n of parts.metricNets) n.dispose();
    await lock?.release();
    throw e;
  }
}

async function prepareLocked(
  args: FinetuneArgs,
  hooks: PrepareHooks,
  backendChoice: string,
  target: ResumeTarget | null,
  heldLock: RunLock | null,
  parts: { metricNets: FeatureNetwork[] },
): Promise<RunContext | null> {
  const log = hooks.log;
  const backend = await initBackend(backendChoice, false);
  const start = await startingPoint(args, target, backend, log);
  const { options, saved } = start;
  checkGrid(options.grid, options.G_kwargs.img_resolution);
  // Metric networks load before any training: missing weights fail here, not at the first snapshot.
  for (const m of options.metrics)
    parts.metricNets.push(await loadFeatureNetwork(m === 'fid' ? { kind: 'inception', protocol: 'nvidia', inception: options.inception } : { kind: 'emoji' }));
  // Data before the run directory: a bad folder must not leave an empty run behind.
  const dataset = await loadData(options, log);
  const nets = buildTrainer(start, dataset, log);
  const gridRng = new Rng(`grid-${options.seed}`);
  const gridN = options.grid[0] * options.grid[1];
  const grid = { z: gridRng.normal([gridN, options.G_kwargs.z_dim]) as tf.Tensor2D, c: dataset.randomLabels(gridN, gridRng) };
  const disposeNets = () => {
    for (const n of parts.metricNets) n.dispose();
    nets.trainer.dispose();
    nets.G.dispose();
    nets.D.dispose();
    nets.Gema.dispose();
    grid.z.dispose();
    grid.c?.dispose();
  };

  // The run directory: created (and locked) only now that everything loaded.
  if (hooks.shouldStop?.()) {
    disposeNets();
    await heldLock?.release();
    log('stopped before training started: no run directory was created');
    return null;
  }
  hooks.creatingRunDir?.();
  const place = { lock: heldLock, createdRunDir: false };
  try {
    await openRunDirectory(args, target, start, nets.trainer.curNimg / 1000, place, log);
  } catch (e) {
    disposeNets();
    if (place.createdRunDir) await fs.rm(options.runDir, { recursive: true, force: true });
    throw e;
  }

  const logFile = path.join(options.runDir, RUN_FILES.log);
  const say = async (line: string) => {
    log(line);
    await fs.appendFile(logFile, `${line}\n`);
  };
  await say(`backend: ${backend.description}`);
  const origin = options.network ? `from ${options.network}` : 'from scratch';
  await say(
    `${saved ? `resumed at kimg ${(nets.trainer.curNimg / 1000).toFixed(3)} (the run started ${origin})` : `started: ${origin}`}, ${dataset.report.used} images from ${options.data}${options.mirror ? ' (+ x-flips)' : ''}, loss ${options.loss === 'rooted' ? `rooted k=${options.k}` : 'logistic'}, ${options.kimg} kimg, batch ${options.batch}`,
  );
  // Every file left out of the data, in log.txt (stderr had the count and the first).
  const skipped = dataset.report.skipped;
  if (skipped.length) await fs.appendFile(logFile, skipped.map((s) => `skipped: ${s.file}: ${s.reason}\n`).join(''));
  const runLock = place.lock!;
  return {
    options,
    backend,
    saved,
    dataset,
    ...nets,
    metricNets: parts.metricNets,
    grid,
    createdRunDir: place.createdRunDir,
    lock: runLock,
    log,
    say,
    dispose: async () => {
      disposeNets();
      await runLock.release();
    },
  };
}

/** Where training starts: the resolved options, and the network (and its training state) to start from. */
interface StartingPoint {
  options: TrainingOptions;
  net: LoadedNetwork | null; // null: from scratch
  saved: TrainingState | null; // the snapshot's state when resuming
  resumeFile: string; // the snapshot resumed ('' for a new run)
}

/** The options of a new run, or a snapshot's options with the changes a resume may make. */
async function startingPoint(args: FinetuneArgs, target: ResumeTarget | null, backend: BackendInfo, log: (line: string) => void): Promise<StartingPoint> {
  if (!args.resume) {
    const net = args.network ? await loadNetwork(args.network) : null;
    if (net && !net.D_kwargs) throw new Error(`${args.network}: has no discriminator; fine-tuning needs a network that includes D`);
    const options = resolveTrainingOptions(args, net ? { G_kwargs: net.G_kwargs, D_kwargs: net.D_kwargs! } : null, backend.description);
    return { options, net, saved: null, resumeFile: '' };
  }
  const resumeFile = await resolveResume(args.resume);
  let net = await loadNetwork(resumeFile);
  const saved = trainingStateOf(net.training, resumeFile);
  if (!saved)
    throw new OptionError((o) => `${o('resume')} ${resumeFile}: this checkpoint has no training state (it was exported, not snapshotted by finetune)`);
  if (target?.kind === 'in-place') await checkResumeInPlace(resumeFile, saved.trainer.curNimg / 1000);
  if (args.data && path.resolve(args.data) !== path.resolve(saved.options.data))
    log(`resume: using the data folder ${args.data} instead of ${saved.options.data}`);
  // Continued in a new run directory: --outdir says where that goes, and changes no setting.
  const newDir = target?.kind === 'new';
  const options = resumeTrainingOptions(
    saved.options,
    newDir ? { ...args, outdir: undefined } : args,
    args.runDir ?? path.dirname(resumeFile),
    backend.description,
    saved.trainer.curNimg / 1000,
  );
  if (newDir) options.outdir = args.outdir ?? DEFAULTS.outdir;
  // A branch with --cbase/--cmax continues with wider networks that compute what these did.
  if (options.G_kwargs !== saved.options.G_kwargs)
    net = await widenLoadedNetwork(net, { G_kwargs: options.G_kwargs, D_kwargs: options.D_kwargs }, new Rng(`widen-${options.seed}`));
  return { options, net, saved, resumeFile };
}

/** The training images at the networks' resolution and channels; skipped files are warned about. */
async function loadData(options: TrainingOptions, log: (line: string) => void): Promise<ImageDataset> {
  const G_kwargs = options.G_kwargs;
  if (G_kwargs.img_channels !== 1 && G_kwargs.img_channels !== 3)
    throw new Error(`networks with ${G_kwargs.img_channels} channels cannot be trained on image files (1 or 3 channels)`);
  const dataset = await ImageDataset.load(options.data, {
    resolution: G_kwargs.img_resolution,
    channels: G_kwargs.img_channels as 1 | 3,
    filter: options.resizeFilter,
    requireSquare: options.requireSquare,
    mirror: options.mirror,
    cDim: G_kwargs.c_dim,
  });
  const skipped = dataset.report.skipped;
  if (skipped.length)
    log(`warning: ${describeSkipped(skipped)} in ${options.data} (first: ${skipped[0].file}: ${skipped[0].reason}; all are listed in log.txt)`);
  return dataset;
}

/** The networks, the augmentation pipe and the trainer; a resume restores their state and the data order. */
function buildTrainer({ options, net, saved }: StartingPoint, dataset: ImageDataset, log: (line: string) => void) {
  const rng = saved ? new Rng(options.seed, saved.rng) : new Rng(options.seed);
  let G: Generator, D: Discriminator, Gema: Generator;
  if (net) {
    G = buildGenerator(net, net.G ? 'G' : 'G_ema');
    Gema = buildGenerator(net, 'G_ema');
    D = buildDiscriminator(net, options.D_kwargs); // the network's, with the run's freeze_layers and mbstd group
  } else {
    G = new Generator(options.G_kwargs, rng);
    D = new Discriminator(options.D_kwargs, rng);
    Gema = new Generator(options.G_kwargs);
    Gema.params.copyFrom(G.params);
  }
  const augment = options.aug === 'none' ? null : new AugmentPipe(options.augpipe, options.p);
  const trainer = new Trainer(G, D, Gema, trainerOptions(options), rng, augment);
  let tick = 0;
  let tickStartNimg = 0;
  if (saved && net?.tensors) {
    trainer.restore(saved.trainer);
    restoreAdam(trainer.optG, G.params, net.tensors, 'opt_G');
    restoreAdam(trainer.optD, D.params, net.tensors, 'opt_D');
    if (!dataset.restoreSampler(saved.sampler)) {
      log(
        `resume: the data now has ${dataset.length} images${options.mirror ? ' (with x-flips)' : ''}, the snapshot's order was for ${saved.sampler.order.length}; starting a new shuffle (the run is no longer an exact continuation)`,
      );
    }
    if (augment) augment.p = saved.augmentP;
    trainer.restoreAdaSigns(saved.adaSigns);
    tick = saved.tick;
    tickStartNimg = saved.tickStartNimg;
  }
  return { rng, G, D, Gema, augment, trainer, tick, tickStartNimg };
}

/**
 * Makes the run directory ready: an in-place resume tidies it back to the snapshot, a branch copies
 * its history into a new one, a new run gets a new one. `place` records the lock and whether a
 * directory was created (so that a failure here can remove it).
 */
async function openRunDirectory(
  args: FinetuneArgs,
  target: ResumeTarget | null,
  { options, saved, resumeFile }: StartingPoint,
  kimg: number,
  place: { lock: RunLock | null; createdRunDir: boolean },
  log: (line: string) => void,
): Promise<void> {
  if (target?.kind === 'in-place') {
    const tidy = await tidyForResume(options.runDir, kimg);
    log(
      `resuming ${options.runDir} at kimg ${kimg.toFixed(3)}${tidy.droppedRows ? ` (dropped ${tidy.droppedRows} log rows written after that snapshot)` : ''}`,
    );
  } else if (target?.kind === 'branch') {
    // A branch: a new run directory that starts with the history up to this snapshot.
    await makeNamedRunDir(target.dir, false);
    place.createdRunDir = true;
    place.lock = await lockRunDir(target.dir, 'branch into it');
    const from = path.dirname(resumeFile);
    for (const f of await fs.readdir(from)) if (isHistoryFile(f)) await fs.copyFile(path.join(from, f), path.join(target.dir, f));
    await writeOptions(options);
    const tidy = await tidyForResume(options.runDir, kimg);
    const newBranch = (options.branches?.length ?? 0) > (saved!.options.branches?.length ?? 0) ? options.branches!.at(-1)! : null;
    log(
      `branching ${from} into ${options.runDir} at kimg ${kimg.toFixed(3)}` +
        (tidy.droppedRows ? ` (dropped ${tidy.droppedRows} log rows written after that snapshot)` : '') +
        (newBranch ? `; changed: ${describeBranchChanges(newBranch.changed)}` : ''),
    );
  } else {
    // A new run, or a snapshot resumed from a folder that is not a run directory (its files
    // are the user's, not a run's records: they are left alone).
    if (args.runDir && !args.resume) {
      await makeNamedRunDir(args.runDir, true);
      options.runDir = args.runDir;
    } else {
      const desc = `${path.basename(path.resolve(options.data))}-${options.loss}${options.loss === 'rooted' ? `-k${options.k}` : ''}`;
      options.runDir = await nextRunDir(options.outdir, desc);
    }
    place.createdRunDir = true;
    place.lock = await lockRunDir(options.runDir, 'train in it');
    await writeOptions(options);
    if (saved)
      log(
        `resuming ${resumeFile} in a new run directory ${options.runDir}: ${path.dirname(resumeFile)} is not a run directory (no ${RUN_FILES.options}), so nothing in it is changed`,
      );
  }
}

/** "2 unreadable image files and 1 other entry": what the data folder's skipped entries were. */
function describeSkipped(skipped: { reason: string }[]): string {
  // Entries the listing left out (FIFOs, sockets, devices, broken links, link loops), never opened.
  const other = skipped.filter((s) => /^(not a regular file|a broken symbolic link|a link back)/.test(s.reason)).length;
  const images = skipped.length - other;
  const n = (k: number, one: string, many: string) => `${k} ${k > 1 ? many : one}`;
  const parts = [images ? n(images, 'unreadable image file', 'unreadable image files') : '', other ? n(other, 'other entry', 'other entries') : ''];
  return `skipped ${parts.filter(Boolean).join(' and ')}`;
}

async function writeOptions(options: TrainingOptions): Promise<void> {
  await writeFileAtomic(path.join(options.runDir, RUN_FILES.options), `${JSON.stringify(options, null, 2)}\n`, { overwrite: true });
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    () => false,
  );
}
