// A fine-tuning (or from-scratch) training run, read as upstream's training_loop.py reads: prepare
// the run (prepare.ts), then iterate; at each tick's end record it (tick.ts), and every `snap`
// ticks write a snapshot with its grid and metrics (snapshot.ts). The CLI's finetune command is a
// thin wrapper over finetune().
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { fakesName, RUN_FILES, snapshotName } from '../io/run_layout.js';
import type { FinetuneArgs } from '../records.js';
import { prepareRun, type RunContext } from './prepare.js';
import { writeRunReport } from '../report/run_page.js';
import { evaluateMissingMetrics, evaluateSnapshot, lastGoodSnapshot, redrawMissingGrids, writeGrid, writeRealsGrid, writeSnapshot } from './snapshot.js';
import { recordTick, type TickClock, tickEnds } from './tick.js';
import { OptionError } from '../files/option_error.js';

export interface RunHooks {
  log?: (line: string) => void; // Progress lines (default: stderr).
  shouldStop?: () => boolean; // Polled each iteration: true = snapshot and stop.
  urgentStop?: () => boolean; // True: the stop snapshot skips its grid and metrics.
  progress?: (p: TrainingProgress) => void; // After every iteration (a progress bar on a TTY).
  maxIterations?: number; // Stop after this many iterations (tests, benchmarks).
  clock?: () => number; // Milliseconds for speed and ETA (default performance.now; tests pass their own).
  creatingRunDir?: () => void; // Loading is over: the run directory is about to be created or changed.
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
  const ctx = await prepareRun(args, { log, shouldStop: hooks.shouldStop, creatingRunDir: hooks.creatingRunDir });
  if (!ctx) return { runDir: '', kimg: 0, iterations: 0, stopped: 'requested', lastSnapshot: null };
  try {
    return await trainingLoop(ctx, hooks);
  } catch (e) {
    // A full disk anywhere (records, grids, the report): say what was lost and what is safe.
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC')
      throw new Error(
        `the disk of ${ctx.options.runDir} is full (${(e as Error).message}); training stopped at kimg ${(ctx.trainer.curNimg / 1000).toFixed(3)} and the work since the last snapshot is lost; ${await lastGoodSnapshot(ctx.options.runDir)}`,
      );
    throw e;
  } finally {
    await ctx.dispose();
  }
}

async function trainingLoop(ctx: RunContext, hooks: RunHooks): Promise<RunResult> {
  const { options, trainer, dataset } = ctx;
  const runDir = options.runDir;
  if (!ctx.saved) {
    await writeRealsGrid(ctx);
    await writeGrid(ctx, RUN_FILES.fakesInit);
  } else {
    const redrawn = await redrawMissingGrids(ctx);
    if (redrawn.length)
      await ctx.say(`redrew ${redrawn.length} grid${redrawn.length > 1 ? 's' : ''} that an earlier stop left unwritten: ${redrawn.join(', ')}`);
    const evaluated = await evaluateMissingMetrics(ctx);
    if (evaluated.length)
      await ctx.say(
        `evaluated ${evaluated.length} snapshot${evaluated.length > 1 ? 's' : ''} whose metrics an earlier stop left unwritten: ${evaluated.join(', ')}`,
      );
  }
  const totalNimg = Math.round(options.kimg * 1000);
  const now = hooks.clock ?? (() => performance.now());
  // A resumed run continues its tick (the tick boundaries of an exact resume), but its clock
  // starts at the snapshot, so speed and ETA count from there.
  const clock: TickClock = {
    startTime: now(),
    fromNimg: trainer.curNimg,
    skippedBefore: ctx.saved ? Object.values(ctx.saved.trainer.skipped).reduce((a, b) => a + b, 0) : 0,
  };
  let iterations = 0;
  let lastSnapshot: string | null = null;
  let stopped: RunResult['stopped'] = 'done';
  const snapshot = async () => {
    const file = await writeSnapshot(ctx);
    lastSnapshot = file;
    if (hooks.urgentStop?.()) return file;
    await writeGrid(ctx, fakesName(trainer.curNimg));
    await evaluateSnapshot(ctx, file);
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
    const reals = dataset.batch(dataset.nextIndices(options.batch, ctx.rng));
    // Labels of the fakes: batch per phase, drawn at once (upstream all_gen_c).
    const genC = dataset.randomLabels(options.batch * trainer.phases.length, ctx.rng);
    await trainer.step(reals, genC);
    tf.dispose([reals.img, reals.c, genC].filter((t) => t !== null) as tf.Tensor[]);
    iterations++;
    // The first iteration carries one-time costs (kernel selection, shader compilation on a GPU):
    // say when it is done, so that a slow start is not mistaken for a hang.
    if (iterations === 1) ctx.log(`first iteration done in ${((now() - clock.startTime) / 1000).toFixed(1)} s (one-time setup included)`);
    if (hooks.progress) {
      const sec = (now() - clock.startTime) / 1000;
      const rate = (trainer.curNimg - clock.fromNimg) / Math.max(sec, 1e-9);
      hooks.progress({
        tick: ctx.tick,
        tickImages: trainer.curNimg - ctx.tickStartNimg,
        tickTotal: Math.round(options.tickKimg * 1000),
        imagesPerSec: rate,
        etaSec: (totalNimg - trainer.curNimg) / rate,
      });
    }
    // Let signal handlers run between iterations, so that a stop request acts within one
    // iteration rather than at the end of the tick (minutes on a CPU).
    await new Promise((resolve) => setImmediate(resolve));

    const done = trainer.curNimg >= totalNimg;
    if (!done && !tickEnds(trainer.curNimg, ctx.tickStartNimg, options.tickKimg)) continue;
    const t = await recordTick(ctx, clock, now(), totalNimg);
    if (t.diverged) {
      await snapshot();
      throw new OptionError(
        (o) =>
          `training diverged: ${t.skippedTick} steps with non-finite losses or gradients in the last tick; try a lower ${o('glr')}/${o('dlr')} or a higher ${o('gamma')} (snapshot saved in ${runDir})`,
      );
    }
    ctx.tick++;
    ctx.tickStartNimg = trainer.curNimg;
    Object.assign(clock, { startTime: now(), fromNimg: trainer.curNimg, skippedBefore: t.skippedNow });
    if (done || ctx.tick % options.snap === 0) await ctx.say(`snapshot: ${await snapshot()}`);
    await writeRunReport(runDir);
  }
  // Stopped before the first iteration: a run directory made for this run holds nothing to
  // resume, so it is removed rather than left behind.
  if (stopped === 'requested' && iterations === 0 && ctx.createdRunDir) {
    await ctx.lock.release();
    await fs.rm(runDir, { recursive: true, force: true });
    ctx.log(`stopped before the first iteration: removed ${runDir}`);
    return { runDir: '', kimg: trainer.curNimg / 1000, iterations: 0, stopped, lastSnapshot: null };
  }
  // A stop between ticks still leaves an exact snapshot to resume from.
  if (stopped !== 'done' && iterations > 0 && lastSnapshot !== path.join(runDir, snapshotName(trainer.curNimg))) {
    await ctx.say(`snapshot: ${await snapshot()}`);
  }
  await writeRunReport(runDir);
  await ctx.say(`${stopped === 'done' ? 'done' : 'stopped'}: ${runDir} (kimg ${(trainer.curNimg / 1000).toFixed(3)})`);
  return { runDir, kimg: trainer.curNimg / 1000, iterations, stopped, lastSnapshot };
}
