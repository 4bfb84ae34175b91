// The record types every layer shares, in one types-only module: what a run records
// (training_options.json), what a snapshot holds to resume exactly, what every network reader
// returns, down to a stored tensor's record. Readers check a file's shape before trusting it
// (io/training_state.ts); nothing here runs.
import type { ResizeFilter } from './data/images.js';
import type { DiscriminatorConfig, GeneratorConfig } from './networks/config.js';
import type { NamedArray } from './networks/params.js';
import type { RngState } from './rng.js';

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

/** A tensor as a safetensors file (and so a checkpoint) stores it: dtype, shape, flat data. */
export type DType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'I8' | 'BOOL';
export interface StTensor {
  dtype: DType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
}

export type NetworkFormat = 'checkpoint' | 'pytorch-pickle' | 'tensorflow-pickle';

export interface LoadedNetwork {
  format: NetworkFormat;
  source: string;
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig | null;
  G: Map<string, NamedArray> | null;
  D: Map<string, NamedArray> | null;
  G_ema: Map<string, NamedArray> | null;
  training?: unknown; // a checkpoint's training record, unchecked: see trainingStateOf
  tensors?: Map<string, StTensor>; // all checkpoint tensors (optimizer state)
}

/** What a user specifies; everything but `data` has a default (DEFAULTS, or derived as noted). */
export interface FinetuneArgs {
  data: string;
  network?: string | null; // Pretrained network (pickle or checkpoint); absent = from scratch.
  resume?: string | null; // Run directory or snapshot to resume exactly.
  outdir?: string;
  runDir?: string | null; // Explicit run directory (must not exist); default: outdir/NNNNN-<desc>. With resume: a branch.
  loss?: 'rooted' | 'logistic';
  k?: number;
  kimg?: number;
  batch?: number;
  batchGpu?: number;
  glr?: number;
  dlr?: number;
  gamma?: number;
  plWeight?: number;
  styleMixing?: number;
  ema?: number;
  emaRampup?: number | null;
  aug?: AugmentMode;
  p?: number;
  target?: number;
  adaKimg?: number;
  augpipe?: string;
  mirror?: boolean;
  freezed?: number;
  seed?: number;
  tick?: number;
  snap?: number;
  grid?: [number, number];
  resizeFilter?: ResizeFilter;
  requireSquare?: boolean;
  backend?: string;
  metrics?: string[];
  metricsNum?: number;
  inception?: string | null;
  /**
   * D's minibatch-stddev group size (upstream's cfg mbstd: 4, its cifar config 32). From scratch,
   * fine-tuning (default: the network's) or a branch; D's weights do not depend on it.
   */
  mbstd?: number;
  /** From-scratch architecture (upstream --cfg style), used when `network` is absent. */
  cfg?: { res?: number; cbase?: number; cmax?: number; map?: number; zdim?: number; wdim?: number; channels?: number };
}
