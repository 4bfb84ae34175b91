// Resolved options of a training run: what training_options.json records. Defaults follow
// upstream's 'auto' config (train.py) unless noted.
import { DiscriminatorConfig, GeneratorConfig } from '../networks/config.js';
import { ResizeFilter } from '../io/images.js';

export type AugmentMode = 'ada' | 'fixed' | 'none';

export interface TrainingOptions {
  network: string | null;        // Pretrained network or checkpoint to start from (null = from scratch).
  data: string;                  // Image folder.
  outdir: string;                // Parent folder of run directories.
  runDir: string;                // This run's directory.
  loss: 'rooted' | 'logistic';   // Adversarial objective.
  k: number;                     // Rooted objective's k (ignored for logistic).
  kimg: number;                  // Train until this many thousand real images were shown.
  batch: number;                 // Images per iteration.
  batchGpu: number;              // Images per accumulation round.
  glr: number;                   // G learning rate (upstream auto: 0.0025).
  dlr: number;                   // D learning rate.
  gamma: number;                 // R1 weight (auto: 0.0002 * res^2 / batch).
  plWeight: number;              // Path-length weight (upstream 2).
  styleMixing: number;           // Style-mixing probability (upstream 0.9).
  emaKimg: number;               // G_ema half-life (auto: batch * 10 / 32).
  emaRampup: number | null;      // G_ema ramp-up (auto: 0.05).
  aug: AugmentMode;              // ADA, fixed p, or none.
  p: number;                     // Initial (ada) or fixed augmentation probability.
  target: number;                // ADA target for E[sign(D(reals))] (upstream 0.6).
  adaKimg: number;               // ADA speed (upstream 500).
  augpipe: string;               // Augmentation pipeline (upstream default 'bgc').
  mirror: boolean;               // Add x-flipped copies of the dataset.
  freezed: number;               // Freeze-D: freeze this many leading D layers.
  seed: number;                  // The one seed every random draw derives from.
  tickKimg: number;              // Progress/stats interval in kimg (upstream 4; smaller suits CPU runs).
  snap: number;                  // Snapshot (grid + checkpoint) every this many ticks.
  grid: [number, number];        // Sample grid columns x rows.
  resizeFilter: ResizeFilter;    // Filter for resizing dataset images.
  requireSquare: boolean;        // Refuse non-square dataset images.
  backend: string;               // Backend that ran the training.
  metrics: string[];             // Metrics at each snapshot: 'fid' (Inception, metric-fid.jsonl), 'fed' (emoji network, metric-fed.jsonl).
  metricsNum: number;            // Generated images per metric evaluation.
  inception: string | null;      // Inception weights for --metrics fid.
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig;
}

export function validateOptions(o: TrainingOptions): void {
  const bad = (name: string, v: unknown, want: string): never => {
    throw new Error(`--${name} ${JSON.stringify(v)} is invalid: ${want}`);
  };
  if (!(o.k > 0 && Number.isFinite(o.k))) bad('k', o.k, 'the rooted objective needs k > 0');
  // k (1 + e^-l)^(1/k): below ~0.05 the power overflows float32 for ordinary logits; above ~1e4 the
  // constant k swamps the value (float32 keeps ~7 digits), so the gradient is lost in rounding.
  if (o.loss === 'rooted' && (o.k < 0.05 || o.k > 1e4)) bad('k', o.k, 'use 0.05 <= k <= 10000 (the paper uses k = 2); outside it the rooted loss is not representable in float32');
  if (!(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) bad('seed', o.seed, 'must be a whole number from 0 to 4294967295');
  if (!(o.adaKimg > 0 && Number.isFinite(o.adaKimg))) bad('ada-kimg', o.adaKimg, 'must be > 0 (kimg for augment p to go from 0 to 1)');
  if (!(o.kimg > 0 && Number.isFinite(o.kimg))) bad('kimg', o.kimg, 'must be > 0');
  if (!(Number.isInteger(o.batch) && o.batch >= 1)) bad('batch', o.batch, 'must be a positive integer');
  if (!(Number.isInteger(o.batchGpu) && o.batchGpu >= 1 && o.batch % o.batchGpu === 0)) bad('batch-gpu', o.batchGpu, `must divide --batch ${o.batch}`);
  for (const [n, v] of [['glr', o.glr], ['dlr', o.dlr]] as const) if (!(v > 0)) bad(n, v, 'must be > 0');
  for (const [n, v] of [['gamma', o.gamma], ['pl-weight', o.plWeight], ['ema', o.emaKimg]] as const) if (!(v >= 0)) bad(n, v, 'must be >= 0');
  if (!(o.styleMixing >= 0 && o.styleMixing <= 1)) bad('style-mixing', o.styleMixing, 'must be in [0, 1]');
  if (!(o.p >= 0 && o.p <= 1)) bad('p', o.p, 'must be in [0, 1]');
  if (!(o.target > 0 && o.target < 1)) bad('target', o.target, 'must be in (0, 1)');
  if (!(o.tickKimg > 0)) bad('tick', o.tickKimg, 'must be > 0');
  if (!(Number.isInteger(o.snap) && o.snap >= 1)) bad('snap', o.snap, 'must be a positive integer');
  if (!(Number.isInteger(o.freezed) && o.freezed >= 0)) bad('freezed', o.freezed, 'must be an integer >= 0');
  for (const m of o.metrics) if (m !== 'fid' && m !== 'fed') bad('metrics', m, "choose fid (Inception) or fed (the bundled emoji network)");
  if (!(Number.isInteger(o.metricsNum) && o.metricsNum >= 2)) bad('metrics-num', o.metricsNum, 'must be an integer >= 2');
  const mb = o.D_kwargs.epilogue_kwargs?.mbstd_group_size;
  if (typeof mb === 'number' && o.batchGpu % Math.min(mb, o.batchGpu) !== 0) {
    bad('batch-gpu', o.batchGpu, `must be a multiple of the minibatch-stddev group size ${mb}`);
  }
}
