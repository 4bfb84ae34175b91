// `stylegan-rlo finetune`: train from a pretrained network (or from scratch) on an image folder.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { SingleBar, Presets } from 'cli-progress';
import { finetune, type TrainingProgress } from '../train/run.js';
import type { FinetuneArgs } from '../records.js';
import { argsFromFlags, FINETUNE_OPTIONS, flagOf } from '../train/option_table.js';
import { OptionError } from '../files/option_error.js';
import { BACKEND_OPTION } from './shared_options.js';
import { resolveNetworkArg } from './network_arg.js';

type Args = Record<string, unknown>;

export const finetuneCommand: CommandModule<object, Args> = {
  command: 'finetune',
  describe: 'Train from a pretrained network (or from scratch) on a folder of images',
  builder: (y: Argv) => {
    // Every option from the one table (train/option_table.ts), with no yargs defaults: an option
    // not given stays undefined, so that the library fills the default (train/defaults.ts) and the
    // resume rule sees only what the user gave.
    for (const o of FINETUNE_OPTIONS) {
      if (o.flag === 'backend') y.option('backend', BACKEND_OPTION);
      else
        y.option(o.flag, {
          type: o.type,
          ...(o.array ? { array: true } : {}),
          ...(o.choices ? { choices: o.choices } : {}),
          ...(o.defaultDescription ? { defaultDescription: o.defaultDescription } : {}),
          describe: o.describe,
        });
    }
    return y
      .example('$0 finetune --network pretrained/emoji32.safetensors --data samples/ --loss rooted --k 2 --kimg 2', 'Fine-tune with the rooted objective')
      .example('$0 finetune --network ffhq.pkl --data faces/ --loss logistic --kimg 200 --gamma 10 --mirror', 'Fine-tune an official FFHQ pickle (GPU)')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2', 'Continue a run exactly where it stopped')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2 --run-dir runs/fork --loss logistic', 'Fork a run with other settings')
      .example('$0 finetune --resume runs/00003-faces-rooted-k2 --run-dir runs/wider --cmax 128 --cbase 4096', 'Fork a run with wider networks')
      .example('$0 finetune --data emoji/ --res 32 --cbase 4096 --cmax 128 --zdim 128 --wdim 128 --kimg 500', 'Train from scratch') as unknown as Argv<Args>;
  },
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (!a.data && !a.resume) throw new Error('--data is required: a folder of images to train on (or --resume a run)');
    const args: FinetuneArgs = argsFromFlags(a);
    if (typeof a.network === 'string') args.network = await resolveNetworkArg(a.network);
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
      .catch((e: unknown) => {
        // --lr sets both learning rates: an error about either names the flag the user typed.
        const viaLr = (k: string) => a.lr !== undefined && (k === 'glr' || k === 'dlr') && a[k] === undefined;
        if (e instanceof OptionError) throw Object.assign(new Error(e.words((k) => (viaLr(k) ? '--lr' : flagOf(k)))), { stack: e.stack });
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
