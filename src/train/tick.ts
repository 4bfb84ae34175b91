// The end of a tick (upstream training_loop.py's "Print status line" and stats collection): one
// read-back of every statistic, a stats.jsonl record, the progress line, and the divergence rule.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { RUN_FILES } from '../io/run_layout.js';
import type { RunContext } from './prepare.js';

/** The tick's clock: where its time and images are counted from. */
export interface TickClock {
  startTime: number; // ms, by the run's clock
  fromNimg: number; // images the clock covers start here (a resumed run counts from its snapshot)
  skippedBefore: number; // non-finite phase steps skipped before this tick
}

export interface TickResult {
  skippedNow: number; // all skipped phase steps so far
  diverged: boolean; // every phase step of the tick was skipped
  skippedTick: number;
}

/** Whether an iteration that brought the run to nimg ends the tick that started at startNimg (upstream: tickKimg or more since). */
export const tickEnds = (nimg: number, startNimg: number, tickKimg: number): boolean => nimg >= startNimg + tickKimg * 1000;

/**
 * The kimg at the end of every tick of a run that is not stopped on the way (each snapshot's, with
 * a snapshot every tick): the last is the run's end, the first multiple of the batch at or past kimg.
 * A resumed run keeps this schedule; a stop adds a snapshot off it.
 */
export function tickSchedule(batch: number, tickKimg: number, kimg: number): number[] {
  const total = Math.round(kimg * 1000);
  const ends: number[] = [];
  for (let nimg = 0, start = 0; nimg < total; ) {
    nimg += batch;
    if (nimg >= total || tickEnds(nimg, start, tickKimg)) {
      ends.push(nimg / 1000);
      start = nimg;
    }
  }
  return ends;
}

/** Writes the tick's stats record and log line; says whether the run diverged. */
export async function recordTick(ctx: RunContext, clock: TickClock, now: number, totalNimg: number): Promise<TickResult> {
  const { trainer, augment, options } = ctx;
  const stats = await trainer.stats.collect();
  const state = await trainer.state();
  const secTick = (now - clock.startTime) / 1000;
  const kimgTick = (trainer.curNimg - clock.fromNimg) / 1000;
  const secPerKimg = secTick / Math.max(kimgTick, 1e-9);
  const rec: Record<string, unknown> = {
    tick: ctx.tick,
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
  await fs.appendFile(path.join(options.runDir, RUN_FILES.stats), `${JSON.stringify(rec)}\n`);
  const f = (k: string) => (stats[k] ? stats[k].mean.toFixed(3) : '-');
  const eta = ((totalNimg - trainer.curNimg) / 1000) * secPerKimg;
  await ctx.say(
    `tick ${ctx.tick}  kimg ${(trainer.curNimg / 1000).toFixed(3)}  sec/kimg ${secPerKimg.toFixed(1)}  G ${f('Loss/G/loss')}  D ${f('Loss/D/loss')}  ` +
      `R1 ${f('Loss/r1_penalty')}  PL ${f('Loss/pl_penalty')}  D(x) ${f('Loss/scores/real')}  D(G(z)) ${f('Loss/scores/fake')}  p ${(augment?.p ?? 0).toFixed(3)}  ETA ${formatSec(eta)}`,
  );
  // Non-finite steps are skipped on the device; the run has diverged when they fill a tick.
  const skippedNow = Object.values(state.skipped).reduce((a, b) => a + b, 0);
  const skippedTick = skippedNow - clock.skippedBefore;
  const phaseSteps = (trainer.curNimg - clock.fromNimg) / options.batch;
  if (skippedTick > 0) await ctx.say(`warning: ${skippedTick} phase steps with non-finite losses or gradients were skipped this tick`);
  return { skippedNow, skippedTick, diverged: skippedTick >= phaseSteps && phaseSteps > 0 };
}

export function formatSec(s: number): string {
  if (!Number.isFinite(s)) return '-';
  s = Math.max(0, s); // the last tick can overshoot the target by part of a batch
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = Math.floor(s % 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
