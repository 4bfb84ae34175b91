// Every default of a training run and every upstream constant, in one place, each with why.
import type { ResizeFilter } from '../data/images.js';
import type { AugmentMode } from '../records.js';

/** Defaults of what a user may set; upstream's 'auto' config (train.py) unless noted. */
export const DEFAULTS = {
  outdir: 'runs',
  loss: 'rooted' as const,
  k: 2, // the paper's k
  kimg: 10,
  batch: 16,
  lr: 0.0025, // glr and dlr
  gammaPerPixel: 0.0002, // R1 gamma = 0.0002 * res^2 / batch
  plWeight: 2,
  styleMixing: 0.9,
  emaPerBatch: 10 / 32, // G_ema half-life in kimg = batch * 10 / 32
  emaRampup: 0.05,
  aug: 'ada' as AugmentMode,
  p: 0,
  target: 0.6,
  adaKimg: 500,
  augpipe: 'bgc',
  mirror: false,
  freezed: 0,
  seed: 0,
  tick: 1, // kimg per tick (upstream 4; smaller suits CPU runs)
  snap: 5,
  grid: [8, 4] as [number, number],
  resizeFilter: 'lanczos3' as ResizeFilter,
  requireSquare: false,
  metricsNum: 1000,
};

/** From-scratch architecture defaults (when no network is given). */
export const SCRATCH_DEFAULTS = { res: 32, cbase: 16384, cmax: 512, map: 2, zdim: 512, wdim: 512, channels: 3, mbstd: 4 };

/** Upstream constants no option changes (training_loop.py, loss.py). */
export const UPSTREAM_CONSTANTS = {
  beta1: 0,
  beta2: 0.99,
  eps: 1e-8, // Adam
  plBatchShrink: 2,
  plDecay: 0.01, // path length
  gRegInterval: 4,
  dRegInterval: 16, // lazy regularization
  adaInterval: 4, // iterations between ADA adjustments
};
