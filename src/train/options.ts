// Resolving training options: the options a new run records (training_options.json) from what a
// user gave (FinetuneArgs, records.ts) and the defaults (defaults.ts), the rule for what a resumed
// run may change (from the option table, option_table.ts), validation, and the trainer's settings.
// The CLI, the scripts and the tests all go through these functions; none repeats a default.
import type { FinetuneArgs, TrainingOptions } from '../records.js';
import { DEFAULTS, SCRATCH_DEFAULTS, UPSTREAM_CONSTANTS } from './defaults.js';
import { ARG_TO_OPTION, BRANCH_CHANGEABLE, RESUME_CHANGEABLE } from './option_table.js';
import { type DiscriminatorConfig, type GeneratorConfig, resolveDiscriminatorConfig, resolveGeneratorConfig } from '../networks/config.js';
import { widenedKwargs } from '../networks/widen.js';
import { logistic, rooted } from '../losses/objectives.js';
import type { TrainerOptions } from './trainer.js';
import { OptionError, type OptionName } from '../files/option_error.js';

const definedEntries = (o: object) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** D's config with another minibatch-stddev group size, or as it is when `group` is undefined. */
function withMbstd(D: DiscriminatorConfig, group: number | undefined): DiscriminatorConfig {
  if (group === undefined) return D;
  if (!(Number.isInteger(group) && group >= 1 && group <= 4096))
    throw new OptionError(
      (o) =>
        `${o('mbstd')} ${JSON.stringify(group)} is invalid: the minibatch-stddev group size must be a whole number from 1 to 4096 (upstream uses 4, its cifar config 32)`,
    );
  return { ...D, epilogue_kwargs: { ...(D.epilogue_kwargs ?? {}), mbstd_group_size: group } };
}

const mbstdOf = (D: DiscriminatorConfig) => resolveDiscriminatorConfig(D).epilogue_kwargs.mbstd_group_size;

/** The networks a from-scratch run builds. */
export function scratchConfigs(cfg: FinetuneArgs['cfg'] = {}): { G: GeneratorConfig; D: DiscriminatorConfig } {
  const c = { ...SCRATCH_DEFAULTS, ...definedEntries(cfg ?? {}) };
  return {
    G: {
      z_dim: c.zdim,
      c_dim: 0,
      w_dim: c.wdim,
      img_resolution: c.res,
      img_channels: c.channels,
      mapping_kwargs: { num_layers: c.map },
      synthesis_kwargs: { channel_base: c.cbase, channel_max: c.cmax, conv_clamp: 256 },
    },
    D: {
      c_dim: 0,
      img_resolution: c.res,
      img_channels: c.channels,
      channel_base: c.cbase,
      channel_max: c.cmax,
      conv_clamp: 256,
      epilogue_kwargs: { mbstd_group_size: c.mbstd },
    },
  };
}

/**
 * Resolves and validates the options of a new run: every default filled, derived ones computed
 * (gamma, ema, batch_gpu), the networks from `start` (a loaded network) or from scratch.
 */
export function resolveTrainingOptions(
  args: FinetuneArgs,
  start: { G_kwargs: GeneratorConfig; D_kwargs: DiscriminatorConfig } | null,
  backend: string,
): TrainingOptions {
  const d = DEFAULTS;
  const scratch = Object.keys(definedEntries(args.cfg ?? {}));
  if (start && scratch.length)
    throw new OptionError(
      (o) =>
        `${o(`cfg.${scratch[0]}`)} is a from-scratch architecture option; fine-tuning keeps the network's architecture: drop ${o(`cfg.${scratch[0]}`)} (or drop ${o('network')} to train from scratch)`,
    );
  const sc = start ? null : scratchConfigs(args.cfg);
  const G_kwargs = start ? start.G_kwargs : sc!.G;
  const D0 = withMbstd(start ? start.D_kwargs : sc!.D, args.mbstd);
  const res = G_kwargs.img_resolution;
  const batch = args.batch ?? d.batch;
  const freezed = args.freezed ?? D0.block_kwargs?.freeze_layers ?? d.freezed;
  const resolvedOptions: TrainingOptions = {
    network: args.network ?? null,
    data: args.data,
    outdir: args.outdir ?? d.outdir,
    runDir: args.runDir ?? '',
    loss: args.loss ?? d.loss,
    k: args.k ?? d.k,
    kimg: args.kimg ?? d.kimg,
    batch,
    batchGpu: args.batchGpu ?? batch,
    glr: args.glr ?? d.lr,
    dlr: args.dlr ?? d.lr,
    gamma: args.gamma ?? (d.gammaPerPixel * res * res) / batch,
    plWeight: args.plWeight ?? d.plWeight,
    styleMixing: args.styleMixing ?? d.styleMixing,
    emaKimg: args.ema ?? batch * d.emaPerBatch,
    emaRampup: args.emaRampup === undefined ? d.emaRampup : args.emaRampup,
    aug: args.aug ?? d.aug,
    p: args.p ?? d.p,
    target: args.target ?? d.target,
    adaKimg: args.adaKimg ?? d.adaKimg,
    augpipe: args.augpipe ?? d.augpipe,
    mirror: args.mirror ?? d.mirror,
    freezed,
    seed: args.seed ?? d.seed,
    tickKimg: args.tick ?? d.tick,
    snap: args.snap ?? d.snap,
    grid: args.grid ?? d.grid,
    resizeFilter: args.resizeFilter ?? d.resizeFilter,
    requireSquare: args.requireSquare ?? d.requireSquare,
    backend,
    G_kwargs,
    D_kwargs: { ...D0, block_kwargs: { ...(D0.block_kwargs ?? {}), freeze_layers: freezed } },
    metrics: args.metrics ?? [],
    metricsNum: args.metricsNum ?? d.metricsNum,
    inception: args.inception ?? null,
  };
  validateOptions(resolvedOptions);
  return resolvedOptions;
}

/** The options a resumed run may change in place, for messages: kimg, snap, tick, data, backend and inception. */
const inPlace = (o: OptionName) => {
  const schedFirst = ['kimg', 'snap', 'tick']; // the schedule first, then where things are
  const keys = RESUME_CHANGEABLE.filter((k) => k !== 'resume' && k !== 'runDir');
  const f = [...schedFirst.filter((k) => keys.includes(k)), ...keys.filter((k) => !schedFirst.includes(k))].map(o);
  return `${f.slice(0, -1).join(', ')} and ${f.at(-1)}`;
};

/** The refusal of a setting that only a branch may change; `was` is the run's value, as " (the run has ...)". */
const notInPlace = (key: string, was: string) =>
  new OptionError(
    (o) =>
      `${o('resume')} continues a run with its own settings; ${o(key)} cannot change in place${was}: branch with ${o('runDir')} NEW_DIR to continue with other settings`,
  );

/**
 * The options of a resumed run: the saved ones, with the schedule (kimg, snap, tick), the data
 * folder, the backend and the Inception weights as given. A branch (runDir given by --run-dir)
 * may also change the BRANCH_CHANGEABLE settings, recorded in `branches` with the kimg it starts
 * at. Any other option given with a value other than the saved one is refused: the run would no
 * longer be the run it continues.
 */
export function resumeTrainingOptions(saved: TrainingOptions, args: FinetuneArgs, runDir: string, backend: string, atKimg: number): TrainingOptions {
  const branching = Boolean(args.runDir);
  const changed: Record<string, [unknown, unknown]> = {};
  let widen: { cbase?: number; cmax?: number } | null = null;
  let mbstd: number | undefined;
  for (const [arg, value] of Object.entries(args)) {
    if (value === undefined || RESUME_CHANGEABLE.includes(arg)) continue;
    if (arg === 'cfg') {
      const cfg = value as NonNullable<FinetuneArgs['cfg']>;
      const given = Object.entries(cfg)
        .filter(([, v]) => v !== undefined)
        .map(([k]) => k);
      const fixed = given.filter((k) => k !== 'cbase' && k !== 'cmax');
      if (fixed.length)
        throw new OptionError(
          (o) => `${o('resume')} continues a run with its own settings; ${o(`cfg.${fixed[0]}`)} (a from-scratch architecture option) cannot change`,
        );
      if (given.length && !branching)
        throw new OptionError(
          (o) =>
            `${o('resume')} continues a run with its own settings; ${o(`cfg.${given[0]}`)} cannot change in place: branch with ${o('runDir')} NEW_DIR to widen the networks`,
        );
      if (given.length) widen = { cbase: cfg.cbase, cmax: cfg.cmax };
      continue;
    }
    if (arg === 'mbstd') {
      const was = mbstdOf(saved.D_kwargs);
      if (was === value) continue;
      if (!branching) throw notInPlace('mbstd', ` (the run has ${JSON.stringify(was)})`);
      mbstd = value as number;
      continue;
    }
    const opt = ARG_TO_OPTION[arg];
    if (opt !== undefined && JSON.stringify(saved[opt]) === JSON.stringify(value)) continue;
    const was = opt !== undefined ? ` (the run has ${JSON.stringify(saved[opt])})` : '';
    const branchable = BRANCH_CHANGEABLE.includes(arg);
    if (branchable && branching) {
      changed[opt] = [saved[opt], value];
      continue;
    }
    if (branchable) throw notInPlace(arg, was);
    throw new OptionError(
      (o) =>
        `${o('resume')} continues a run with its own settings; ${o(arg)} cannot change${was}: only ${inPlace(o)} can, and a branch (${o('runDir')}) also ${BRANCH_CHANGEABLE.map(o).join(', ')}, ${o('mbstd')}, and ${o('cfg.cbase')}/${o('cfg.cmax')} to widen the networks`,
    );
  }
  // A new batch that the run split into one step (the default) stays one step.
  if (changed.batch && args.batchGpu === undefined && saved.batchGpu === saved.batch) changed.batchGpu = [saved.batchGpu, args.batch];
  const resolvedOptions: TrainingOptions = {
    ...saved,
    ...(Object.fromEntries(Object.entries(changed).map(([k, [, now]]) => [k, now])) as Partial<TrainingOptions>),
    runDir,
    backend,
    metrics: saved.metrics ?? [],
    metricsNum: saved.metricsNum ?? DEFAULTS.metricsNum,
    inception: saved.inception ?? null,
  };
  if (args.kimg !== undefined) resolvedOptions.kimg = args.kimg; // a resumed run may be extended
  if (args.snap !== undefined) resolvedOptions.snap = args.snap;
  if (args.tick !== undefined) resolvedOptions.tickKimg = args.tick;
  if (args.inception) resolvedOptions.inception = args.inception;
  if (args.data) resolvedOptions.data = args.data;
  if (widen) {
    // More channels (--cbase/--cmax): the run continues with widened networks (see networks/widen.ts).
    const s = resolveGeneratorConfig(saved.G_kwargs).synthesis_kwargs;
    const target = { channelBase: widen.cbase ?? s.channel_base, channelMax: widen.cmax ?? s.channel_max };
    const w = widenedKwargs(saved.G_kwargs, saved.D_kwargs, target);
    resolvedOptions.G_kwargs = w.G_kwargs;
    resolvedOptions.D_kwargs = w.D_kwargs!;
    if (target.channelBase !== s.channel_base) changed.cbase = [s.channel_base, target.channelBase];
    if (target.channelMax !== s.channel_max) changed.cmax = [s.channel_max, target.channelMax];
  }
  if (mbstd !== undefined) {
    changed.mbstd = [mbstdOf(resolvedOptions.D_kwargs), mbstd];
    resolvedOptions.D_kwargs = withMbstd(resolvedOptions.D_kwargs, mbstd);
  }
  if (Object.keys(changed).length) resolvedOptions.branches = [...(saved.branches ?? []), { from: saved.runDir, kimg: atKimg, changed }];
  validateOptions(resolvedOptions);
  return resolvedOptions;
}

/** The trainer's settings for a run's options. */
export function trainerOptions(resolvedOptions: TrainingOptions): TrainerOptions {
  const u = UPSTREAM_CONSTANTS;
  return {
    objective: resolvedOptions.loss === 'rooted' ? rooted(resolvedOptions.k) : logistic(),
    batch: resolvedOptions.batch,
    batchGpu: resolvedOptions.batchGpu,
    glr: resolvedOptions.glr,
    dlr: resolvedOptions.dlr,
    beta1: u.beta1,
    beta2: u.beta2,
    eps: u.eps,
    r1Gamma: resolvedOptions.gamma,
    plWeight: resolvedOptions.plWeight,
    plBatchShrink: u.plBatchShrink,
    plDecay: u.plDecay,
    styleMixingProb: resolvedOptions.styleMixing,
    gRegInterval: u.gRegInterval,
    dRegInterval: u.dRegInterval,
    emaKimg: resolvedOptions.emaKimg,
    emaRampup: resolvedOptions.emaRampup,
    adaTarget: resolvedOptions.aug === 'ada' ? resolvedOptions.target : null,
    adaInterval: u.adaInterval,
    adaKimg: resolvedOptions.adaKimg,
  };
}

export function validateOptions(resolvedOptions: TrainingOptions): void {
  // A number as the user typed it (NaN, Infinity; JSON would print them as null).
  const bad = (key: string, v: unknown, want: string | ((o: OptionName) => string)): never => {
    throw new OptionError((o) => `${o(key)} ${typeof v === 'number' ? String(v) : JSON.stringify(v)} is invalid: ${typeof want === 'string' ? want : want(o)}`);
  };
  if (!(resolvedOptions.k > 0 && Number.isFinite(resolvedOptions.k))) bad('k', resolvedOptions.k, 'the rooted objective needs k > 0');
  // k (1 + e^-l)^(1/k): below ~0.05 the power overflows float32 for ordinary logits; above ~1e4 the
  // constant k swamps the value (float32 keeps ~7 digits), so the gradient is lost in rounding.
  if (resolvedOptions.loss === 'rooted' && (resolvedOptions.k < 0.05 || resolvedOptions.k > 1e4))
    bad('k', resolvedOptions.k, 'use 0.05 <= k <= 10000 (the paper uses k = 2); outside it the rooted loss is not representable in float32');
  if (!(Number.isInteger(resolvedOptions.seed) && resolvedOptions.seed >= 0 && resolvedOptions.seed <= 0xffffffff))
    bad('seed', resolvedOptions.seed, 'must be a whole number from 0 to 4294967295');
  if (!(resolvedOptions.adaKimg > 0 && Number.isFinite(resolvedOptions.adaKimg)))
    bad('adaKimg', resolvedOptions.adaKimg, 'must be > 0 (kimg for augment p to go from 0 to 1)');
  if (!(resolvedOptions.kimg > 0 && Number.isFinite(resolvedOptions.kimg))) bad('kimg', resolvedOptions.kimg, 'must be > 0');
  if (!(Number.isInteger(resolvedOptions.batch) && resolvedOptions.batch >= 1)) bad('batch', resolvedOptions.batch, 'must be a positive integer');
  if (!(Number.isInteger(resolvedOptions.batchGpu) && resolvedOptions.batchGpu >= 1 && resolvedOptions.batch % resolvedOptions.batchGpu === 0))
    bad('batchGpu', resolvedOptions.batchGpu, (o) => `must divide ${o('batch')} ${resolvedOptions.batch}`);
  for (const [n, v] of [
    ['glr', resolvedOptions.glr],
    ['dlr', resolvedOptions.dlr],
  ] as const)
    if (!(v > 0 && Number.isFinite(v))) bad(n, v, 'must be a finite number > 0');
  for (const [n, v] of [
    ['gamma', resolvedOptions.gamma],
    ['plWeight', resolvedOptions.plWeight],
    ['ema', resolvedOptions.emaKimg],
  ] as const)
    if (!(v >= 0 && Number.isFinite(v))) bad(n, v, 'must be a finite number >= 0');
  if (!(resolvedOptions.styleMixing >= 0 && resolvedOptions.styleMixing <= 1)) bad('styleMixing', resolvedOptions.styleMixing, 'must be in [0, 1]');
  if (!(resolvedOptions.p >= 0 && resolvedOptions.p <= 1)) bad('p', resolvedOptions.p, 'must be in [0, 1]');
  if (!(resolvedOptions.target > 0 && resolvedOptions.target < 1)) bad('target', resolvedOptions.target, 'must be in (0, 1)');
  if (!(resolvedOptions.tickKimg > 0 && Number.isFinite(resolvedOptions.tickKimg))) bad('tick', resolvedOptions.tickKimg, 'must be a finite number > 0');
  if (!(Number.isInteger(resolvedOptions.snap) && resolvedOptions.snap >= 1)) bad('snap', resolvedOptions.snap, 'must be a positive integer');
  if (!(Number.isInteger(resolvedOptions.freezed) && resolvedOptions.freezed >= 0)) bad('freezed', resolvedOptions.freezed, 'must be an integer >= 0');
  for (const m of resolvedOptions.metrics) if (m !== 'fid' && m !== 'fed') bad('metrics', m, 'choose fid (Inception) or fed (the bundled emoji network)');
  if (!(Number.isInteger(resolvedOptions.metricsNum) && resolvedOptions.metricsNum >= 2))
    bad('metricsNum', resolvedOptions.metricsNum, 'must be an integer >= 2');
  const mb = resolveDiscriminatorConfig(resolvedOptions.D_kwargs).epilogue_kwargs.mbstd_group_size; // null: the whole batch
  if (mb !== null && resolvedOptions.batchGpu % Math.min(mb, resolvedOptions.batchGpu) !== 0) {
    bad('batchGpu', resolvedOptions.batchGpu, `must be a multiple of the minibatch-stddev group size ${mb}`);
  }
}
