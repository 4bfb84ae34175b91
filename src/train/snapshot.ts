// A snapshot of a running training (upstream training_loop.py's "Save network snapshot" and
// "Evaluate metrics"): the checkpoint with the exact training state, the grid of the fixed
// latents, and the metric records, each a step that a test can call alone.
import type { TrainingState } from '../records.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type CheckpointConfig, saveCheckpoint } from '../formats/checkpoint.js';
import { tileGrid, toUint8, writePng } from '../data/images.js';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { fakesName, listSnapshots, metricFileName, RUN_FILES, snapshotName } from '../io/run_layout.js';
import type { Generator } from '../networks/generator.js';
import { cacheDir } from '../files/cache_dir.js';
import { distances, folderFeatures, generatorFeatures, smallSampleWarning } from '../metrics/evaluate.js';
import { adamTensors } from './adam.js';
import type { RunContext } from './prepare.js';

/**
 * Writes the checkpoint of the current iteration, atomically. A failure (a full disk) leaves no
 * temporary file and names the snapshot that was not saved and the last one that was.
 */
export async function writeSnapshot(ctx: RunContext): Promise<string> {
  const { options, trainer } = ctx;
  const file = path.join(options.runDir, snapshotName(trainer.curNimg));
  const state: TrainingState = {
    options,
    trainer: await trainer.state(),
    rng: ctx.rng.state(),
    sampler: ctx.dataset.samplerState(),
    augmentP: ctx.augment?.p ?? 0,
    adaSigns: await trainer.adaSignsState(),
    tick: ctx.tick,
    tickStartNimg: ctx.tickStartNimg,
  };
  const config: CheckpointConfig = { format: 'stylegan-rlo', version: 1, G_kwargs: options.G_kwargs, D_kwargs: options.D_kwargs, training: state };
  const extra = new Map([...(await adamTensors(trainer.optG, ctx.G.params, 'opt_G')), ...(await adamTensors(trainer.optD, ctx.D.params, 'opt_D'))]);
  try {
    await saveCheckpoint(file, config, { G: ctx.G.params, D: ctx.D.params, G_ema: ctx.Gema.params, extra });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOSPC' ? 'the disk is full' : err.message;
    throw new Error(`snapshot ${file} was not saved (${why}); ${await lastGoodSnapshot(options.runDir)}`);
  }
  return file;
}

/** "the last good snapshot is FILE (kimg K)", for messages about what a failure lost. */
export async function lastGoodSnapshot(runDir: string): Promise<string> {
  const last = (await listSnapshots(runDir).catch(() => [])).at(-1);
  return last ? `the last good snapshot is ${last.file} (kimg ${last.kimg.toFixed(3)})` : 'the run has no snapshot yet';
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

/** The grid of `G` (default: the run's G_ema) on the run's fixed latents, as `file` in the run directory. */
export async function writeGrid(ctx: RunContext, file: string, G: Generator = ctx.Gema): Promise<void> {
  const [gw, gh] = ctx.options.grid;
  const pixels = await renderGrid(G, ctx.grid.z, ctx.grid.c, ctx.options.batch);
  const g = tileGrid(pixels, gw * gh, G.imgResolution, G.imgChannels, gw);
  await writePng(path.join(ctx.options.runDir, file), g.pixels, g.width, g.height, G.imgChannels, true);
}

/** The grid of real images a new run starts with (reals.png). */
export async function writeRealsGrid(ctx: RunContext): Promise<void> {
  const { dataset, options } = ctx;
  const [gw, gh] = options.grid;
  const n = gw * gh;
  const { img_resolution: res, img_channels: ch } = options.G_kwargs;
  const reals = new Uint8Array(n * res ** 2 * ch);
  for (let k = 0; k < n; k++) reals.set(dataset.pixels(k % dataset.length), k * res ** 2 * ch);
  const g = tileGrid(reals, n, res, ch, gw);
  await writePng(path.join(options.runDir, RUN_FILES.reals), g.pixels, g.width, g.height, ch);
}

/**
 * Redraws the grids a kill left unwritten (a snapshot whose grid is missing), from each
 * snapshot's own G_ema on the run's fixed latents. Returns the grids written.
 */
export async function redrawMissingGrids(ctx: RunContext): Promise<string[]> {
  const files = new Set(await fs.readdir(ctx.options.runDir));
  const written: string[] = [];
  for (const s of await listSnapshots(ctx.options.runDir)) {
    const name = fakesName(Math.round(s.kimg * 1000));
    if (files.has(name)) continue;
    const current = Math.round(s.kimg * 1000) === ctx.trainer.curNimg;
    const G = current ? ctx.Gema : buildGenerator(await loadNetwork(s.file));
    try {
      await writeGrid(ctx, name, G);
    } finally {
      if (!current) G.dispose();
    }
    written.push(name);
  }
  return written;
}

/** Evaluates the run's metrics on G_ema and appends one record per metric (metric-*.jsonl). */
export async function evaluateSnapshot(ctx: RunContext, file: string, G: Generator = ctx.Gema, kimg = ctx.trainer.curNimg / 1000): Promise<void> {
  const { options, dataset } = ctx;
  for (const net of ctx.metricNets) {
    const ex = { batch: options.batch, cacheDir: cacheDir() };
    const real = await folderFeatures(net, options.data, ex);
    const gen = await generatorFeatures(net, G, { num: options.metricsNum, seed: options.seed, labels: (n, r) => dataset.randomLabels(n, r) }, ex);
    const d = await distances(real, gen, net, true, options.seed, true);
    const warning = smallSampleWarning(d.n1, d.n2, d.metric);
    if (warning) ctx.log(warning);
    const rec = {
      kimg,
      snapshot: path.basename(file),
      metric: d.metric,
      value: d.distance,
      valueInf: d.distanceInf,
      kernelMetric: d.kernelMetric,
      kernel: d.kernel,
      num: options.metricsNum,
      features: net.id,
    };
    await fs.appendFile(path.join(options.runDir, metricFileName(net.distanceName)), `${JSON.stringify(rec)}\n`);
    ctx.log(
      `${d.metric} ${d.distance.toFixed(3)}${d.distanceInf === null ? '' : ` (${d.distanceInf.toFixed(3)} extrapolated)`}, ${d.kernelMetric} ${d.kernel!.toFixed(5)} (${net.kind} features, ${options.metricsNum} generated images)`,
    );
  }
}

/**
 * Evaluates the snapshots whose metric records a kill left unwritten (a stop between a snapshot
 * and its evaluation), so that every snapshot of a resumed run has its record. Returns their names.
 */
export async function evaluateMissingMetrics(ctx: RunContext): Promise<string[]> {
  if (!ctx.metricNets.length) return [];
  const recorded = new Set<string>();
  for (const net of ctx.metricNets) {
    const text = await fs.readFile(path.join(ctx.options.runDir, metricFileName(net.distanceName)), 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      try {
        const r = JSON.parse(line) as { snapshot?: string; features?: string; num?: number };
        if (r.features === net.id && r.num === ctx.options.metricsNum && r.snapshot) recorded.add(`${net.id}|${r.snapshot}`);
      } catch {}
    }
  }
  const done: string[] = [];
  for (const s of await listSnapshots(ctx.options.runDir)) {
    const name = path.basename(s.file);
    if (ctx.metricNets.every((net) => recorded.has(`${net.id}|${name}`))) continue;
    const current = Math.round(s.kimg * 1000) === ctx.trainer.curNimg;
    const G = current ? ctx.Gema : buildGenerator(await loadNetwork(s.file));
    try {
      await evaluateSnapshot(ctx, s.file, G, s.kimg);
    } finally {
      if (!current) G.dispose();
    }
    done.push(name);
  }
  return done;
}
