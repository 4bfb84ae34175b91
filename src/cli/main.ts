#!/usr/bin/env node
// stylegan-rlo command line: yargs command modules only; the work is in the library.
import yargs from 'yargs';
import { releaseBackend } from '../backend.js';
import { hideBin } from 'yargs/helpers';
import { finetuneCommand } from './finetune.js';
import { convertCommand, infoCommand } from './network_cmds.js';
import { fetchCommand } from './fetch.js';
import { generateCommand } from './generate.js';
import { interpolateCommand } from './interpolate.js';
import { compareCommand, fidCommand } from './metrics_cmds.js';
import { studyCommand } from './study.js';
import { messageNaming } from '../files/option_error.js';
import { flagOf } from '../train/option_table.js';

export class UsageError extends Error {}

/** Prints one line for a failure, options named by their flags, and exits non-zero; stacks only with STYLEGAN_RLO_DEBUG=1. */
export function fail(e: unknown): never {
  const err = e as Error;
  if (process.env.STYLEGAN_RLO_DEBUG === '1' && err?.stack) process.stderr.write(`${err.stack}\n`);
  const msg = messageNaming(e, flagOf)
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join(' ');
  process.stderr.write(`stylegan-rlo: ${msg}\n`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  const parser = yargs(argv);
  await parser
    .scriptName('stylegan-rlo')
    // An option given twice arrives as an array, which every single-valued option would misread.
    .middleware((a) => {
      const arrays = new Set((parser as unknown as { getOptions(): { array: string[] } }).getOptions().array); // untyped in @types/yargs
      for (const [k, v] of Object.entries(a)) {
        if (k !== '_' && k.length > 1 && Array.isArray(v) && !arrays.has(k) && !/[A-Z]/.test(k))
          throw new UsageError(`--${k} was given ${v.length} times; give it once`);
      }
    }, true)
    .usage('$0 <command> [options]\n\nFine-tune StyleGAN2 with the rooted logistic objective (RLO).')
    .command(finetuneCommand)
    .command(generateCommand)
    .command(interpolateCommand)
    .command(fidCommand)
    .command(compareCommand)
    .command(infoCommand)
    .command(convertCommand)
    .command(fetchCommand)
    .command(studyCommand)
    .demandCommand(1, 'choose a command (see --help)')
    .strict()
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => fail(err ?? new UsageError(/\(see --help\)$/.test(msg) ? msg : `${msg} (see --help)`)))
    .help()
    .parseAsync();
}

// A closed pipe (e.g. `| head`) ends output quietly; a training run (which sets
// process.env.STYLEGAN_RLO_TRAINING) keeps going and still logs every line to its log.txt.
const closedPipe = (e: NodeJS.ErrnoException) => e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED';
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (!closedPipe(e)) throw e;
  if (!process.env.STYLEGAN_RLO_TRAINING) process.exit(0);
});
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  if (!closedPipe(e)) throw e;
});

main(hideBin(process.argv)).then(releaseBackend).catch(fail);
