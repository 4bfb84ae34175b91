// `stylegan-rlo finetune`: train from a pretrained network (or from scratch) on an image folder.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { SingleBar, Presets } from 'cli-progress';
import { finetune, type TrainingProgress } from '../train/run.js';
import type { FinetuneArgs } from '../train/options.js';
import { RESIZE_FILTERS, type ResizeFilter } from '../data/images.js';
import { AUGPIPES } from '../train/augment.js';
import { BACKEND_CHOICES } from '../backend.js';
import { DEFAULTS as D, SCRATCH_DEFAULTS as S } from '../train/options.js';
import { resolveNetworkArg } from './network_arg.js';

interface Args {
  network?: string;
  data?: string;
  outdir?: string;
  'run-dir'?: string;
  resume?: string;
  loss?: 'rooted' | 'logistic';
  k?: number;
  kimg?: number;
  batch?: number;
  'batch-gpu'?: number;
  lr?: number;
  glr?: number;
  dlr?: number;
  gamma?: number;
  'pl-weight'?: number;
  'style-mixing'?: number;
  ema?: number;
  aug?: 'ada' | 'fixed' | 'none';
  p?: number;
  target?: number;
  'ada-kimg'?: number;
  augpipe?: string;
  mirror?: boolean;
  freezed?: number;
  seed?: number;
  tick?: number;
  snap?: number;
  grid?: string;
  'resize-filter'?: ResizeFilter;
  'require-square'?: boolean;
  backend?: string;
  metrics?: string[];
  'metrics-num'?: number;
  inception?: string;
  res?: number;
  cbase?: number;
  cmax?: number;
  map?: number;
  zdim?: number;
  wdim?: number;
  channels?: number;
  mbstd?: number;
}

export function parseGrid(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--grid ${s}: expected COLSxROWS, e.g. 8x4`);
  return [Number(m[1]), Number(m[2])];
}

export const finetuneCommand: CommandModule<object, Args> = {
  command: 'finetune',
  describe: 'Train from a pretrained network (or from scratch) on a folder of images',
  builder: (y: Argv) =>
    y
      // No yargs defaults: an option not given stays undefined, so that the library fills the
      // default (DEFAULTS, one place) and the resume rule sees only what the user gave.
      .option('network', {
        type: 'string',
        describe:
          'Pretrained network: official .pkl, our .safetensors checkpoint, a run directory (its latest snapshot) or a manifest name (omit to train from scratch)',
      })
      .option('data', { type: 'string', describe: 'Folder of PNG/JPEG/WebP images (searched recursively); required unless --resume' })
      .option('outdir', { type: 'string', defaultDescription: D.outdir, describe: 'Where run directories are created' })
      .option('run-dir', {
        type: 'string',
        describe:
          'Explicit run directory (must not exist; default: OUTDIR/NNNNN-<data>-<loss>); with --resume, branch into it (a branch may change --loss, --gamma and other training settings)',
      })
      .option('resume', { type: 'string', describe: 'Resume a run exactly: its directory (latest snapshot) or a snapshot file' })
      .option('loss', { choices: ['rooted', 'logistic'] as const, defaultDescription: D.loss, describe: 'Adversarial objective' })
      .option('k', { type: 'number', defaultDescription: String(D.k), describe: 'Root k of the rooted objective (k > 0)' })
      .option('kimg', { type: 'number', defaultDescription: String(D.kimg), describe: 'Train until this many thousand real images were shown' })
      .option('batch', { type: 'number', defaultDescription: String(D.batch), describe: 'Images per iteration' })
      .option('batch-gpu', { type: 'number', defaultDescription: '--batch', describe: 'Images per accumulation round' })
      .option('lr', { type: 'number', defaultDescription: String(D.lr), describe: 'Learning rate of G and D' })
      .option('glr', { type: 'number', describe: 'G learning rate (overrides --lr)' })
      .option('dlr', { type: 'number', describe: 'D learning rate (overrides --lr)' })
      .option('gamma', { type: 'number', defaultDescription: `${D.gammaPerPixel} * resolution^2 / batch`, describe: 'R1 weight' })
      .option('pl-weight', { type: 'number', defaultDescription: String(D.plWeight), describe: 'Path-length regularization weight (0 = off)' })
      .option('style-mixing', { type: 'number', defaultDescription: String(D.styleMixing), describe: 'Style-mixing probability' })
      .option('ema', { type: 'number', defaultDescription: 'batch * 10 / 32', describe: 'G_ema half-life in kimg' })
      .option('aug', { choices: ['ada', 'fixed', 'none'] as const, defaultDescription: D.aug, describe: 'Augmentation: adaptive, fixed --p, or none' })
      .option('p', { type: 'number', defaultDescription: String(D.p), describe: 'Initial (ada) or fixed augmentation probability' })
      .option('target', { type: 'number', defaultDescription: String(D.target), describe: 'ADA target for E[sign(D(reals))]' })
      .option('ada-kimg', { type: 'number', defaultDescription: String(D.adaKimg), describe: 'ADA speed: kimg for p to go from 0 to 1' })
      .option('augpipe', { choices: Object.keys(AUGPIPES), defaultDescription: D.augpipe, describe: 'Augmentation pipeline' })
      .option('mirror', { type: 'boolean', defaultDescription: String(D.mirror), describe: 'Add x-flipped copies of the images' })
      .option('freezed', { type: 'number', defaultDescription: String(D.freezed), describe: 'Freeze-D: freeze this many leading D layers' })
      .option('seed', { type: 'number', defaultDescription: String(D.seed), describe: 'Random seed (every draw derives from it)' })
      .option('tick', { type: 'number', defaultDescription: String(D.tick), describe: 'Progress and stats every this many kimg' })
      .option('snap', { type: 'number', defaultDescription: String(D.snap), describe: 'Grid and snapshot every this many ticks' })
      .option('grid', { type: 'string', defaultDescription: D.grid.join('x'), describe: 'Sample grid COLSxROWS' })
      .option('resize-filter', {
        choices: RESIZE_FILTERS,
        defaultDescription: D.resizeFilter,
        describe: 'Filter for resizing images to the network resolution (after a center crop)',
      })
      .option('require-square', {
        type: 'boolean',
        defaultDescription: String(D.requireSquare),
        describe: 'Refuse non-square images instead of center-cropping them',
      })
      .option('backend', { choices: BACKEND_CHOICES, defaultDescription: '$STYLEGAN_RLO_BACKEND or auto', describe: 'Compute backend' })
      .option('metrics', {
        type: 'string',
        array: true,
        choices: ['fid', 'fed'],
        describe: 'Evaluate G_ema at each snapshot against --data: fid (Inception weights, metric-fid.jsonl), fed (bundled emoji network, metric-fed.jsonl)',
      })
      .option('metrics-num', { type: 'number', defaultDescription: String(D.metricsNum), describe: 'Generated images per metric evaluation' })
      .option('inception', { type: 'string', describe: 'Inception weights for --metrics fid (pytorch-fid .pth)' })
      .option('res', { type: 'number', defaultDescription: String(S.res), describe: 'From scratch: resolution' })
      .option('cbase', { type: 'number', defaultDescription: String(S.cbase), describe: 'From scratch, or a branch that widens the networks: channel base' })
      .option('cmax', { type: 'number', defaultDescription: String(S.cmax), describe: 'From scratch, or a branch that widens the networks: maximum channels' })
      .option('map', { type: 'number', defaultDescription: String(S.map), describe: 'From scratch: mapping layers' })
      .option('zdim', { type: 'number', defaultDescription: String(S.zdim), describe: 'From scratch: z dimension' })
      .option('wdim', { type: 'number', defaultDescription: String(S.wdim), describe: 'From scratch: w dimension' })
      .option('mbstd', {
        type: 'number',
        describe:
          "D's minibatch-stddev group size (default: 4 from scratch, the network's when fine-tuning; upstream's cifar config uses 32); a branch may change it",
      })
      .option('channels', { type: 'number', defaultDescription: String(S.channels), describe: 'From scratch: image channels (1 or 3)' })
      .example('$0 finetune --network pretrained/emoji32.safetensors --data samples/ --loss rooted --k 2 --kimg 2', 'Fine-tune with the rooted objective')
      .example('$0 finetune --network ffhq.pkl --data faces/ --loss logistic --kimg 200 --gamma 10 --mirror', 'Fine-tune an official FFHQ pickle (GPU)')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2', 'Continue a run exactly where it stopped')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2 --run-dir runs/fork --loss logistic', 'Fork a run with other settings')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2 --run-dir runs/wider --cmax 128 --cbase 4096', 'Fork a run with wider networks')
      .example('$0 finetune --data emoji/ --res 32 --cbase 4096 --cmax 128 --zdim 128 --wdim 128 --kimg 500', 'Train from scratch') as unknown as Argv<Args>,
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!a.data && !a.resume) throw new Error('--data is required: a folder of images to train on (or --resume a run)');
    const args: FinetuneArgs = {
      data: a.data ?? '',
      network: a.network === undefined ? undefined : await resolveNetworkArg(a.network),
      resume: a.resume,
      outdir: a.outdir,
      runDir: a['run-dir'],
      loss: a.loss,
      k: a.k,
      kimg: a.kimg,
      batch: a.batch,
      batchGpu: a['batch-gpu'],
      glr: a.glr ?? a.lr,
      dlr: a.dlr ?? a.lr,
      gamma: a.gamma,
      plWeight: a['pl-weight'],
      styleMixing: a['style-mixing'],
      ema: a.ema,
      aug: a.aug,
      p: a.p,
      target: a.target,
      adaKimg: a['ada-kimg'],
      augpipe: a.augpipe,
      mirror: a.mirror,
      freezed: a.freezed,
      seed: a.seed,
      tick: a.tick,
      snap: a.snap,
      grid: a.grid === undefined ? undefined : parseGrid(a.grid),
      resizeFilter: a['resize-filter'],
      requireSquare: a['require-square'],
      backend: a.backend,
      metrics: a.metrics,
      metricsNum: a['metrics-num'],
      inception: a.inception,
      mbstd: a.mbstd,
      cfg: { res: a.res, cbase: a.cbase, cmax: a.cmax, map: a.map, zdim: a.zdim, wdim: a.wdim, channels: a.channels },
    };
    // First SIGINT/SIGTERM/SIGHUP: finish the iteration, write a snapshot with its grid and
    // metrics, stop. Second: stop at once with a bare snapshot of the last finished iteration.
    // Third: exit without one.
    // While networks and data load, nothing exists yet that a snapshot could keep: a signal
    // then exits at once (loading a large folder can take minutes), releasing any lock taken.
    let signals = 0;
    let loading = true;
    const onSignal = (sig: string) => {
      signals++;
      const say = (l: string) => {
        if (!process.stderr.destroyed) process.stderr.write(l);
      };
      if (loading) {
        say(`\n${sig}: stopped before training started: no run directory was created\n`);
        process.stdout.write(`${JSON.stringify({ runDir: '', kimg: 0, stopped: 'requested', snapshot: null })}\n`);
        process.exit(0);
      }
      if (signals >= 3) process.exit(130);
      if (signals === 1) say(`\n${sig}: finishing this iteration, saving a snapshot, then stopping (again to skip grids and metrics)\n`);
      else say(`\n${sig}: stopping now with a snapshot of the last finished iteration (again to abort without one)\n`);
    };
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => onSignal(sig));
    process.env.STYLEGAN_RLO_TRAINING = '1';
    // On a terminal, a progress bar within each tick (cli-progress); otherwise one line per tick.
    const bar = process.stderr.isTTY
      ? new SingleBar(
          {
            format: 'tick {tick} {bar} {value}/{total} img | {speed} img/s | ETA {etaRun}',
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
            barsize: 24,
            etaBuffer: 20,
          },
          Presets.shades_classic,
        )
      : null;
    let barTick = -1;
    const log = (l: string) => {
      if (bar && barTick >= 0) {
        bar.stop();
        barTick = -1;
      }
      if (!process.stderr.destroyed) process.stderr.write(`${l}\n`);
    };
    const progress = (p: TrainingProgress) => {
      if (!bar || process.stderr.destroyed) return;
      const payload = { tick: p.tick, speed: p.imagesPerSec.toFixed(1), etaRun: formatDuration(p.etaSec) };
      if (barTick !== p.tick) {
        bar.start(p.tickTotal, Math.min(p.tickImages, p.tickTotal), payload);
        barTick = p.tick;
      } else bar.update(Math.min(p.tickImages, p.tickTotal), payload);
    };
    const creatingRunDir = () => {
      loading = false;
    };
    const r = await finetune(args, { shouldStop: () => signals > 0, urgentStop: () => signals > 1, log, progress, creatingRunDir })
      .catch((e: Error) => {
        // --lr sets both learning rates: an error about either names the flag the user typed.
        if (a.lr !== undefined) for (const k of ['glr', 'dlr'] as const) if (a[k] === undefined) e.message = e.message.replace(`--${k} `, '--lr ');
        throw e;
      })
      .finally(() => bar?.stop());
    process.stdout.write(`${JSON.stringify({ runDir: r.runDir, kimg: r.kimg, stopped: r.stopped, snapshot: r.lastSnapshot })}\n`);
  },
};

function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '-';
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60),
    sec = Math.floor(s % 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}
