// `stylegan-rlo info` and `stylegan-rlo convert`.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { initBackend } from '../backend.js';
import { convertNetwork, describeNetwork, formatInfo } from '../io/inspect.js';
import { loadNetwork } from '../io/network.js';
import { resolveNetworkArg } from './network_arg.js';

export const infoCommand: CommandModule<object, { network: string; json: boolean }> = {
  command: 'info <network>',
  describe: 'Describe a network file: format, architecture, dimensions, parameter counts',
  builder: (y: Argv) =>
    y
      .positional('network', {
        type: 'string',
        demandOption: true,
        describe: 'Network pickle (.pkl), checkpoint (.safetensors), run directory (its latest snapshot) or manifest name',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' })
      .example('$0 info pretrained/emoji32.safetensors', '')
      .example('$0 info ffhq.pkl --json', '')
      .example('$0 info runs/00000-samples-rooted-k2', 'The latest snapshot of a run') as unknown as Argv<{ network: string; json: boolean }>,
  handler: async (a: ArgumentsCamelCase<{ network: string; json: boolean }>) => {
    await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'cpu', false);
    const info = describeNetwork(await loadNetwork(await resolveNetworkArg(a.network)));
    process.stdout.write(`${a.json ? JSON.stringify(info, null, 2) : formatInfo(info)}\n`);
  },
};

type ConvertArgs = { source: string; dest: string; force: boolean; networks: string };

export const convertCommand: CommandModule<object, ConvertArgs> = {
  command: 'convert <source> <dest>',
  describe: 'Convert an official network pickle (PyTorch or TensorFlow) to a stylegan-rlo checkpoint',
  builder: (y: Argv) =>
    y
      .positional('source', {
        type: 'string',
        demandOption: true,
        describe: 'Network pickle, checkpoint, run directory (its latest snapshot) or manifest name',
      })
      .positional('dest', { type: 'string', demandOption: true, describe: 'Output .safetensors checkpoint' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace dest if it exists' })
      .option('networks', { type: 'string', default: 'G,D,G_ema', describe: 'Which networks to keep, e.g. G_ema,D for a smaller file to fine-tune from' })
      .example('$0 convert ffhq.pkl ffhq.safetensors', '')
      .example(
        '$0 convert runs/00000-x/network-snapshot-0100.000.safetensors model.safetensors --networks G_ema,D',
        'Export a snapshot without optimizer state',
      ) as unknown as Argv<ConvertArgs>,
  handler: async (a: ArgumentsCamelCase<ConvertArgs>) => {
    await initBackend(process.env.STYLEGAN_RLO_BACKEND ?? 'cpu', false);
    const parts = a.networks.split(',').map((s) => s.trim());
    const bad = parts.filter((p) => !['G', 'D', 'G_ema'].includes(p));
    if (bad.length || !parts.length) throw new Error(`--networks ${a.networks}: choose from G, D, G_ema`);
    const source = await resolveNetworkArg(a.source);
    const info = await convertNetwork(source, a.dest, a.force, parts as ('G' | 'D' | 'G_ema')[]).catch((e: Error) => {
      throw e.message.includes('already exists') ? new Error(`${a.dest} already exists; use --force to replace it`) : e;
    });
    process.stdout.write(`${source} -> ${a.dest}\n${formatInfo(info)}\n`);
  },
};
