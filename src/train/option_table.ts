// Every finetune option, declared once: its library key, its flag, type, default (shown in
// --help; the value itself lives in DEFAULTS), description, and whether a resumed run may change it
// (in place, only in a branch with --run-dir, or never). The CLI's yargs builder and its mapping
// to FinetuneArgs, and the resume rule (options.ts), are derived from this table.
import { RESIZE_FILTERS } from '../data/images.js';
import { AUGPIPES } from './augment.js';
import type { FinetuneArgs, TrainingOptions } from '../records.js';
import { DEFAULTS as D, SCRATCH_DEFAULTS as S } from './defaults.js';
import { OptionError } from '../files/option_error.js';

/** How a resumed run treats an option: 'yes' it may change in place, 'branch' only in a branch, 'no' never. */
export type OnResume = 'yes' | 'branch' | 'no';

export interface FinetuneOption {
  key: keyof FinetuneArgs | `cfg.${keyof NonNullable<FinetuneArgs['cfg']>}` | 'lr'; // where the value goes ('cfg.res': args.cfg.res; 'lr': glr and dlr)
  flag: string; // the CLI flag, without --
  type: 'number' | 'string' | 'boolean';
  array?: boolean;
  choices?: readonly string[];
  defaultDescription?: string; // what --help shows as the default
  describe: string;
  onResume: OnResume;
  sets?: keyof TrainingOptions; // the resolved option it sets, when the resume rule compares values
  parse?: (s: string) => unknown; // a value that is not a plain number, string or boolean
}

/** COLSxROWS, e.g. 8x4. */
export function parseGrid(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new OptionError((o) => `${o('grid')} ${s}: expected COLSxROWS, e.g. 8x4`);
  return [Number(m[1]), Number(m[2])];
}

const scratch = (what: string, key: keyof typeof S): Pick<FinetuneOption, 'type' | 'defaultDescription' | 'describe'> => ({
  type: 'number',
  defaultDescription: String(S[key]),
  describe: `From scratch: ${what}`,
});

export const FINETUNE_OPTIONS: readonly FinetuneOption[] = [
  {
    key: 'network',
    flag: 'network',
    type: 'string',
    describe:
      'Pretrained network: official .pkl, our .safetensors checkpoint, a run directory (its latest snapshot) or a manifest name (omit to train from scratch)',
    onResume: 'no',
    sets: 'network',
  },
  { key: 'data', flag: 'data', type: 'string', describe: 'Folder of PNG/JPEG/WebP images (searched recursively); required unless --resume', onResume: 'yes' },
  {
    key: 'outdir',
    flag: 'outdir',
    type: 'string',
    defaultDescription: D.outdir,
    describe: 'Where run directories are created',
    onResume: 'no',
    sets: 'outdir',
  },
  {
    key: 'runDir',
    flag: 'run-dir',
    type: 'string',
    describe:
      'Explicit run directory (must not exist; default: OUTDIR/NNNNN-<data>-<loss>); with --resume, branch into it (a branch may change --loss, --gamma and other training settings)',
    onResume: 'yes',
  },
  { key: 'resume', flag: 'resume', type: 'string', describe: 'Resume a run exactly: its directory (latest snapshot) or a snapshot file', onResume: 'yes' },
  {
    key: 'loss',
    flag: 'loss',
    type: 'string',
    choices: ['rooted', 'logistic'],
    defaultDescription: D.loss,
    describe: 'Adversarial objective',
    onResume: 'branch',
    sets: 'loss',
  },
  { key: 'k', flag: 'k', type: 'number', defaultDescription: String(D.k), describe: 'Root k of the rooted objective (k > 0)', onResume: 'branch', sets: 'k' },
  {
    key: 'kimg',
    flag: 'kimg',
    type: 'number',
    defaultDescription: String(D.kimg),
    describe: 'Train until this many thousand real images were shown',
    onResume: 'yes',
  },
  { key: 'batch', flag: 'batch', type: 'number', defaultDescription: String(D.batch), describe: 'Images per iteration', onResume: 'branch', sets: 'batch' },
  {
    key: 'batchGpu',
    flag: 'batch-gpu',
    type: 'number',
    defaultDescription: '--batch',
    describe: 'Images per accumulation round',
    onResume: 'branch',
    sets: 'batchGpu',
  },
  { key: 'lr', flag: 'lr', type: 'number', defaultDescription: String(D.lr), describe: 'Learning rate of G and D', onResume: 'branch' },
  { key: 'glr', flag: 'glr', type: 'number', describe: 'G learning rate (overrides --lr)', onResume: 'branch', sets: 'glr' },
  { key: 'dlr', flag: 'dlr', type: 'number', describe: 'D learning rate (overrides --lr)', onResume: 'branch', sets: 'dlr' },
  {
    key: 'gamma',
    flag: 'gamma',
    type: 'number',
    defaultDescription: `${D.gammaPerPixel} * resolution^2 / batch`,
    describe: 'R1 weight',
    onResume: 'branch',
    sets: 'gamma',
  },
  {
    key: 'plWeight',
    flag: 'pl-weight',
    type: 'number',
    defaultDescription: String(D.plWeight),
    describe: 'Path-length regularization weight (0 = off)',
    onResume: 'branch',
    sets: 'plWeight',
  },
  {
    key: 'styleMixing',
    flag: 'style-mixing',
    type: 'number',
    defaultDescription: String(D.styleMixing),
    describe: 'Style-mixing probability',
    onResume: 'branch',
    sets: 'styleMixing',
  },
  { key: 'ema', flag: 'ema', type: 'number', defaultDescription: 'batch * 10 / 32', describe: 'G_ema half-life in kimg', onResume: 'branch', sets: 'emaKimg' },
  {
    key: 'emaRampup',
    flag: 'ema-rampup',
    type: 'number',
    defaultDescription: String(D.emaRampup),
    describe: 'G_ema ramp-up: its half-life is at most this fraction of the images shown so far',
    onResume: 'branch',
    sets: 'emaRampup',
  },
  {
    key: 'aug',
    flag: 'aug',
    type: 'string',
    choices: ['ada', 'fixed', 'none'],
    defaultDescription: D.aug,
    describe: 'Augmentation: adaptive, fixed --p, or none',
    onResume: 'no',
    sets: 'aug',
  },
  {
    key: 'p',
    flag: 'p',
    type: 'number',
    defaultDescription: String(D.p),
    describe: 'Initial (ada) or fixed augmentation probability',
    onResume: 'no',
    sets: 'p',
  },
  {
    key: 'target',
    flag: 'target',
    type: 'number',
    defaultDescription: String(D.target),
    describe: 'ADA target for E[sign(D(reals))]',
    onResume: 'branch',
    sets: 'target',
  },
  {
    key: 'adaKimg',
    flag: 'ada-kimg',
    type: 'number',
    defaultDescription: String(D.adaKimg),
    describe: 'ADA speed: kimg for p to go from 0 to 1',
    onResume: 'branch',
    sets: 'adaKimg',
  },
  {
    key: 'augpipe',
    flag: 'augpipe',
    type: 'string',
    choices: Object.keys(AUGPIPES),
    defaultDescription: D.augpipe,
    describe: 'Augmentation pipeline',
    onResume: 'no',
    sets: 'augpipe',
  },
  {
    key: 'mirror',
    flag: 'mirror',
    type: 'boolean',
    defaultDescription: String(D.mirror),
    describe: 'Add x-flipped copies of the images',
    onResume: 'no',
    sets: 'mirror',
  },
  {
    key: 'freezed',
    flag: 'freezed',
    type: 'number',
    defaultDescription: String(D.freezed),
    describe: 'Freeze-D: freeze this many leading D layers',
    onResume: 'no',
    sets: 'freezed',
  },
  {
    key: 'seed',
    flag: 'seed',
    type: 'number',
    defaultDescription: String(D.seed),
    describe: 'Random seed (every draw derives from it)',
    onResume: 'no',
    sets: 'seed',
  },
  { key: 'tick', flag: 'tick', type: 'number', defaultDescription: String(D.tick), describe: 'Progress and stats every this many kimg', onResume: 'yes' },
  { key: 'snap', flag: 'snap', type: 'number', defaultDescription: String(D.snap), describe: 'Grid and snapshot every this many ticks', onResume: 'yes' },
  {
    key: 'grid',
    flag: 'grid',
    type: 'string',
    defaultDescription: D.grid.join('x'),
    describe: 'Sample grid COLSxROWS',
    onResume: 'no',
    sets: 'grid',
    parse: parseGrid,
  },
  {
    key: 'resizeFilter',
    flag: 'resize-filter',
    type: 'string',
    choices: RESIZE_FILTERS,
    defaultDescription: D.resizeFilter,
    describe: 'Filter for resizing images to the network resolution (after a center crop)',
    onResume: 'no',
    sets: 'resizeFilter',
  },
  {
    key: 'requireSquare',
    flag: 'require-square',
    type: 'boolean',
    defaultDescription: String(D.requireSquare),
    describe: 'Refuse non-square images instead of center-cropping them',
    onResume: 'no',
    sets: 'requireSquare',
  },
  {
    key: 'metrics',
    flag: 'metrics',
    type: 'string',
    array: true,
    choices: ['fid', 'fed'],
    describe: 'Evaluate G_ema at each snapshot against --data: fid (Inception weights, metric-fid.jsonl), fed (bundled emoji network, metric-fed.jsonl)',
    onResume: 'branch',
    sets: 'metrics',
  },
  {
    key: 'metricsNum',
    flag: 'metrics-num',
    type: 'number',
    defaultDescription: String(D.metricsNum),
    describe: 'Generated images per metric evaluation',
    onResume: 'branch',
    sets: 'metricsNum',
  },
  { key: 'inception', flag: 'inception', type: 'string', describe: 'Inception weights for --metrics fid (pytorch-fid .pth)', onResume: 'yes' },
  { key: 'cfg.res', flag: 'res', ...scratch('resolution', 'res'), onResume: 'no' },
  {
    key: 'cfg.cbase',
    flag: 'cbase',
    type: 'number',
    defaultDescription: String(S.cbase),
    describe: 'From scratch, or a branch that widens the networks: channel base',
    onResume: 'branch',
  },
  {
    key: 'cfg.cmax',
    flag: 'cmax',
    type: 'number',
    defaultDescription: String(S.cmax),
    describe: 'From scratch, or a branch that widens the networks: maximum channels',
    onResume: 'branch',
  },
  { key: 'cfg.map', flag: 'map', ...scratch('mapping layers', 'map'), onResume: 'no' },
  { key: 'cfg.zdim', flag: 'zdim', ...scratch('z dimension', 'zdim'), onResume: 'no' },
  { key: 'cfg.wdim', flag: 'wdim', ...scratch('w dimension', 'wdim'), onResume: 'no' },
  {
    key: 'mbstd',
    flag: 'mbstd',
    type: 'number',
    describe:
      "D's minibatch-stddev group size (default: 4 from scratch, the network's when fine-tuning; upstream's cifar config uses 32); a branch may change it",
    onResume: 'branch',
  },
  { key: 'cfg.channels', flag: 'channels', ...scratch('image channels (1 or 3)', 'channels'), onResume: 'no' },
  { key: 'backend', flag: 'backend', type: 'string', describe: 'Compute backend', onResume: 'yes' },
];

const byKey = new Map(FINETUNE_OPTIONS.map((o) => [o.key as string, o]));

/** The flag of a library key ('batchGpu' -> '--batch-gpu'; a key of no finetune option, e.g. 'styleMix', -> '--style-mix'). */
export function flagOf(key: string): string {
  return `--${byKey.get(key)?.flag ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Library keys a resumed run may change in place, and in a branch. */
export const RESUME_CHANGEABLE: readonly string[] = FINETUNE_OPTIONS.filter((o) => o.onResume === 'yes').map((o) => o.key);
export const BRANCH_CHANGEABLE: readonly string[] = FINETUNE_OPTIONS.filter(
  (o) => o.onResume === 'branch' && !o.key.startsWith('cfg.') && o.key !== 'lr' && o.key !== 'mbstd',
).map((o) => o.key);

/** The resolved option each FinetuneArgs key sets, where the resume rule compares values. */
export const ARG_TO_OPTION: Readonly<Record<string, keyof TrainingOptions>> = Object.fromEntries(
  FINETUNE_OPTIONS.filter((o) => o.sets).map((o) => [o.key, o.sets!]),
);

/**
 * FinetuneArgs from parsed CLI values keyed by flag (undefined where not given, so that the library
 * fills its defaults and the resume rule sees only what the user gave). --lr sets both rates
 * unless --glr / --dlr say otherwise.
 */
export function argsFromFlags(values: Record<string, unknown>): FinetuneArgs {
  const args: Record<string, unknown> = { cfg: {} };
  for (const o of FINETUNE_OPTIONS) {
    let v = values[o.flag];
    if (v === undefined) continue;
    if (o.parse) v = o.parse(v as string);
    if (o.key.startsWith('cfg.')) (args.cfg as Record<string, unknown>)[o.key.slice(4)] = v;
    else if (o.key !== 'lr') args[o.key] = v;
  }
  if (values.lr !== undefined) {
    args.glr ??= values.lr;
    args.dlr ??= values.lr;
  }
  const cfg = args.cfg as Record<string, unknown>;
  for (const k of ['res', 'cbase', 'cmax', 'map', 'zdim', 'wdim', 'channels']) cfg[k] ??= undefined;
  args.data ??= '';
  return args as unknown as FinetuneArgs;
}
