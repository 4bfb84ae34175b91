#!/usr/bin/env node
// stylegan-rlo command line: yargs command modules only; the work is in the library.
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { finetuneCommand } from './finetune.js';
import { convertCommand, infoCommand } from './network_cmds.js';
import { fetchCommand } from './fetch.js';
import { generateCommand } from './generate.js';
import { compareCommand, fidCommand } from './metrics_cmds.js';

export class UsageError extends Error {}

/** Prints one line for a failure and exits non-zero; stacks only with STYLEGAN_RLO_DEBUG=1. */
export function fail(e: unknown): never {
  const err = e as Error;
  if (process.env.STYLEGAN_RLO_DEBUG === '1' && err?.stack) process.stderr.write(err.stack + '\n');
  const msg = (err?.message ?? String(e)).split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
  process.stderr.write(`stylegan-rlo: ${msg}\n`);
  process.exit(1);
}

export async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('stylegan-rlo')
    .usage('$0 <command> [options]\n\nFine-tune StyleGAN2 with the rooted logistic objective (RLO).')
    .command(finetuneCommand)
    .command(generateCommand)
    .command(fidCommand)
    .command(compareCommand)
    .command(infoCommand)
    .command(convertCommand)
    .command(fetchCommand)
    .demandCommand(1, 'choose a command (see --help)')
    .strict()
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns || 110))
    .fail((msg, err) => fail(err ?? new UsageError(`${msg} (see --help)`)))
    .help()
    .parseAsync();
}

// A closed pipe (e.g. `| head`) ends output quietly.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

main(hideBin(process.argv)).catch(fail);
