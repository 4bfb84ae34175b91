// The training record a run keeps: its resolved options (training_options.json) and, in every
// snapshot, the complete state to resume it exactly. One set of types for the trainer, the run
// loop, `info` and `compare`; readers check the shape before trusting a file.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { DiscriminatorConfig, GeneratorConfig } from '../networks/config.js';
import type { ResizeFilter } from './images.js';
import type { RngState } from '../rng.js';
import { RUN_FILES } from './run_layout.js';

export type AugmentMode = 'ada' | 'fixed' | 'none';

export interface TrainingOptions {
  network: string | null; // Pretrained network or checkpoint to start from (null = from scratch).
  data: string; // Image folder.
  outdir: string; // Parent folder of run directories.
  runDir: string; // This run's directory.
  loss: 'rooted' | 'logistic'; // Adversarial objective.
  k: number; // Rooted objective's k (ignored for logistic).
  kimg: number; // Train until this many thousand real images were shown.
  batch: number; // Images per iteration.
  batchGpu: number; // Images per accumulation round.
  glr: number; // G learning rate (upstream auto: 0.0025).
  dlr: number; // D learning rate.
  gamma: number; // R1 weight (auto: 0.0002 * res^2 / batch).
  plWeight: number; // Path-length weight (upstream 2).
  styleMixing: number; // Style-mixing probability (upstream 0.9).
  emaKimg: number; // G_ema half-life (auto: batch * 10 / 32).
  emaRampup: number | null; // G_ema ramp-up (auto: 0.05).
  aug: AugmentMode; // ADA, fixed p, or none.
  p: number; // Initial (ada) or fixed augmentation probability.
  target: number; // ADA target for E[sign(D(reals))] (upstream 0.6).
  adaKimg: number; // ADA speed (upstream 500).
  augpipe: string; // Augmentation pipeline (upstream default 'bgc').
  mirror: boolean; // Add x-flipped copies of the dataset.
  freezed: number; // Freeze-D: freeze this many leading D layers.
  seed: number; // The one seed every random draw derives from.
  tickKimg: number; // Progress/stats interval in kimg (upstream 4; smaller suits CPU runs).
  snap: number; // Snapshot (grid + checkpoint) every this many ticks.
  grid: [number, number]; // Sample grid columns x rows.
  resizeFilter: ResizeFilter; // Filter for resizing dataset images.
  requireSquare: boolean; // Refuse non-square dataset images.
  backend: string; // Backend that ran the training.
  metrics: string[]; // Metrics at each snapshot: 'fid' (Inception, metric-fid.jsonl), 'fed' (emoji network, metric-fed.jsonl).
  metricsNum: number; // Generated images per metric evaluation.
  inception: string | null; // Inception weights for --metrics fid.
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig;
  /** The branches (--resume with --run-dir) this run's history went through that changed a setting. */
  branches?: BranchRecord[];
}

/** A branch that changed settings: where it started and what changed (option: [before, after]). */
export interface BranchRecord {
  from: string;
  kimg: number;
  changed: Record<string, [unknown, unknown]>;
}

export type PhaseName = 'Gmain' | 'Greg' | 'Dmain' | 'Dreg';

/** The trainer's host-side counters. */
export interface TrainerState {
  curNimg: number;
  batchIdx: number;
  plMean: number;
  skipped: Record<PhaseName, number>;
}

/** Everything a snapshot needs to continue exactly (with the parameters and Adam state). */
export interface TrainingState {
  options: TrainingOptions;
  trainer: TrainerState;
  rng: RngState;
  sampler: { order: number[]; pos: number };
  augmentP: number;
  adaSigns: { sum: number; n: number };
  tick: number;
  tickStartNimg: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A checkpoint's training record, or null when it has none (an exported network); refuses a malformed one. */
export function trainingStateOf(training: unknown, source: string): TrainingState | null {
  if (training === undefined || training === null) return null;
  const t = training as Record<string, unknown>;
  const ok =
    isObject(t) &&
    isObject(t.options) &&
    isObject(t.trainer) &&
    typeof (t.trainer as Record<string, unknown>).curNimg === 'number' &&
    t.rng !== undefined &&
    isObject(t.sampler) &&
    Array.isArray((t.sampler as Record<string, unknown>).order);
  if (!ok) throw new Error(`${source}: the checkpoint's training state is incomplete or malformed`);
  return t as unknown as TrainingState;
}

/** The options a run directory was started with (training_options.json). */
export async function readTrainingOptions(runDir: string): Promise<TrainingOptions> {
  const f = path.join(runDir, RUN_FILES.options);
  let o: unknown;
  try {
    o = JSON.parse(await fs.readFile(f, 'utf8'));
  } catch {
    throw new Error(`${runDir} is not a run directory (no readable training_options.json)`);
  }
  if (!isObject(o) || typeof o.loss !== 'string' || typeof o.data !== 'string') throw new Error(`${f}: not the options of a training run`);
  return o as unknown as TrainingOptions;
}
