// `stylegan-rlo fid` and `stylegan-rlo compare`: FID/KID with Inception (--features inception, the
// default; weights supplied by the user) or FED/KED with the bundled emoji network (--features emoji).
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { BACKEND_OPTION, FEATURE_BATCH_OPTION, FEATURES_OPTION } from './shared_options.js';
import { initBackend } from '../backend.js';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { progressReporter } from '../io/fetch.js';
import { cacheDir } from '../files/cache_dir.js';
import { checkNoOverwrite, checkOutputFolder } from '../files/inputs.js';
import type { FidProtocol } from '../metrics/inception.js';
import { defaultInceptionPath } from '../metrics/weights.js';
import { type FeatureKind, loadFeatureNetwork } from '../metrics/features.js';
import { distances, type Features, folderFeatures, generatorFeatures, smallSampleWarning } from '../metrics/evaluate.js';
import { compareRuns, formatTable } from '../metrics/compare.js';
import { writeComparison } from '../report/compare_page.js';
import { writeComparisonHtml } from '../report/compare_page.js';
import { promises as fs } from 'node:fs';
import { ImageDataset, listImages } from '../data/dataset.js';
import { resolveNetworkArg } from './network_arg.js';

interface FidArgs {
  paths?: string[];
  network?: string;
  data?: string;
  features: FeatureKind;
  inception?: string;
  'emoji-features'?: string;
  num: number;
  protocol: FidProtocol;
  kid: boolean;
  json: boolean;
  batch: number;
  seed: number;
  cache: boolean;
  backend: string;
}

export const fidCommand: CommandModule<object, FidArgs> = {
  command: 'fid [paths..]',
  describe: 'FID/KID (Inception) or FED/KED (emoji network) of a network against an image folder, or between two folders',
  builder: (y: Argv) =>
    y
      .positional('paths', { type: 'string', array: true, describe: "Two image folders (as pytorch-fid's command line)" })
      .option('network', { type: 'string', describe: 'Network to evaluate (with --data): a file, run directory (its latest snapshot) or manifest name' })
      .option('data', { type: 'string', describe: 'Folder of real images' })
      .option('features', FEATURES_OPTION)
      .option('emoji-features', { type: 'string', describe: 'Emoji feature network weights (default: the bundled pretrained/emoji-features.safetensors)' })
      .option('inception', { type: 'string', describe: `pytorch-fid's pt_inception-2015-12-05-6726825d.pth (default ${defaultInceptionPath()})` })
      .option('num', { type: 'number', default: 50000, describe: 'Generated images (50000 = fid50k)' })
      .option('protocol', {
        choices: ['nvidia', 'pytorch-fid'] as const,
        default: 'nvidia' as FidProtocol,
        describe: "Inception only: nvidia = stylegan2-ada fid50k_full; pytorch-fid = pytorch-fid's preprocessing",
      })
      .option('kid', { type: 'boolean', default: false, describe: 'Also compute KID/KED (100 subsets of at most 1000)' })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' })
      .option('batch', FEATURE_BATCH_OPTION)
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the generated latents' })
      .option('cache', { type: 'boolean', default: true, describe: 'Cache real-image features (--no-cache to recompute)' })
      .option('backend', BACKEND_OPTION)
      .example('$0 fid --network runs/00001-samples-rooted-k2/network-snapshot-0001.500.safetensors --data samples/ --num 10000', '')
      .example('$0 fid real/ fake/ --protocol pytorch-fid', 'Two folders, as pytorch-fid does')
      .example(
        '$0 fid --network pretrained/emoji32.safetensors --data samples/ --features emoji --num 2000',
        'FED with the bundled emoji network (no download)',
      ) as unknown as Argv<FidArgs>,
  handler: async (a: ArgumentsCamelCase<FidArgs>) => {
    const paths = a.paths ?? [];
    if (paths.length && (a.network || a.data)) throw new Error('give either two folders or --network with --data, not both');
    if (!paths.length && !(a.network && a.data)) throw new Error('give two image folders, or --network and --data');
    if (paths.length && paths.length !== 2) throw new Error(`fid takes exactly two folders, got ${paths.length}`);
    // Both inputs are checked before either is evaluated.
    for (const f of paths.length ? paths : [a.data!]) {
      const n = (await fs.stat(f).catch(() => null))?.isDirectory() ? (await listImages(f)).length : -1;
      if (n < 0) throw new Error(`image folder ${f} does not exist`);
      if (n < 2) throw new Error(`image folder ${f} has ${n} images; a distance needs at least 2`);
    }
    if (!(Number.isInteger(a.num) && a.num >= 2)) throw new Error(`--num ${a.num}: give a whole number of at least 2 generated images`);
    await initBackend(a.backend);
    const net = await loadFeatureNetwork({ kind: a.features, protocol: a.protocol, inception: a.inception ?? null, emoji: a['emoji-features'] ?? null });
    const ex = { batch: a.batch, cacheDir: a.cache ? cacheDir() : null };
    try {
      let real: Features, gen: Features;
      if (paths.length) {
        real = await folderFeatures(net, paths[0], { ...ex, progress: progressReporter(`features ${paths[0]}`, 'images') });
        gen = await folderFeatures(net, paths[1], { ...ex, progress: progressReporter(`features ${paths[1]}`, 'images') });
      } else {
        const loaded = await loadNetwork(await resolveNetworkArg(a.network!));
        const G = buildGenerator(loaded);
        try {
          // Labels first: a bad dataset.json is reported before the features are computed.
          let labels: ((n: number, rng: import('../rng.js').Rng) => import('@tensorflow/tfjs').Tensor2D | null) | undefined;
          if (G.cDim > 0) {
            const ds = await ImageDataset.load(a.data!, { resolution: G.imgResolution, channels: G.imgChannels as 1 | 3, cDim: G.cDim });
            labels = (n, rng) => ds.randomLabels(n, rng);
          }
          real = await folderFeatures(net, a.data!, { ...ex, progress: progressReporter(`features ${a.data}`, 'images') });
          gen = await generatorFeatures(net, G, { num: a.num, seed: a.seed, labels }, { ...ex, progress: progressReporter(`generated ${a.num}`, 'images') });
        } finally {
          G.dispose();
        }
      }
      const d = await distances(real, gen, net, a.kid, a.seed);
      const warning = smallSampleWarning(d.n1, d.n2, d.metric);
      if (warning) process.stderr.write(`${warning}\n`);
      const how = net.kind === 'inception' ? `Inception, ${a.protocol} protocol` : 'emoji feature network';
      if (a.json) process.stdout.write(`${JSON.stringify(d)}\n`);
      else
        process.stdout.write(
          `${d.metric} ${d.distance.toFixed(4)}${d.kernel !== null ? `  ${d.kernelMetric} ${d.kernel.toFixed(6)}` : ''}  (${how}, ${d.n1} real vs ${d.n2} ${paths.length ? 'images' : 'generated'})\n`,
        );
    } finally {
      net.dispose();
    }
  },
};

interface CompareArgs {
  runs: string[];
  features: FeatureKind;
  'emoji-features'?: string;
  inception?: string;
  num: number;
  protocol: FidProtocol;
  kid: boolean;
  out: string;
  force: boolean;
  start: boolean;
  batch: number;
  seed: number;
  backend: string;
  json: boolean;
}

export const compareCommand: CommandModule<object, CompareArgs> = {
  command: 'compare <runs..>',
  describe: 'FID/KID or FED/KED over the snapshots of several runs: table, CSV/JSON and a plot',
  builder: (y: Argv) =>
    y
      .positional('runs', { type: 'string', array: true, demandOption: true, describe: 'Run directories (e.g. one rooted, one logistic)' })
      .option('features', FEATURES_OPTION)
      .option('emoji-features', { type: 'string', describe: 'Emoji feature network weights (default: the bundled pretrained/emoji-features.safetensors)' })
      .option('inception', { type: 'string', describe: `pytorch-fid's Inception weights (default ${defaultInceptionPath()})` })
      .option('num', { type: 'number', default: 5000, describe: 'Generated images per snapshot' })
      .option('protocol', { choices: ['nvidia', 'pytorch-fid'] as const, default: 'nvidia' as FidProtocol, describe: 'FID protocol' })
      .option('kid', { type: 'boolean', default: false, describe: 'Also compute KID' })
      .option('start', {
        type: 'boolean',
        default: true,
        describe: 'Include the network each run started from as kimg 0 (for a branch: the snapshot it branched from)',
      })
      .option('out', {
        type: 'string',
        default: 'compare',
        describe: 'Folder for compare.html, compare.csv, compare.json and the plot (fid.svg/png or fed.svg/png)',
      })
      .option('force', { type: 'boolean', default: false, describe: 'Replace existing output files' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the rows as JSON instead of a table' })
      .option('batch', FEATURE_BATCH_OPTION)
      .option('seed', { type: 'number', default: 0, describe: 'Seed of the generated latents (same for every snapshot)' })
      .option('backend', BACKEND_OPTION)
      .example('$0 compare runs/00000-samples-rooted-k2 runs/00001-samples-logistic --num 2000 --out cmp/', '')
      .example(
        '$0 compare runs/00000-samples-rooted-k2 runs/00001-samples-logistic --features emoji --out cmp/',
        'FED/KED with the bundled emoji network',
      ) as unknown as Argv<CompareArgs>,
  handler: async (a: ArgumentsCamelCase<CompareArgs>) => {
    if (!(Number.isInteger(a.num) && a.num >= 2)) throw new Error(`--num ${a.num}: give a whole number of at least 2 generated images`);
    await checkOutputFolder(a.out, 'out');
    await initBackend(a.backend);
    const net = await loadFeatureNetwork({ kind: a.features, protocol: a.protocol, inception: a.inception ?? null, emoji: a['emoji-features'] ?? null });
    try {
      // Refused before the evaluation, which can take hours, rather than after it.
      const plot = net.distanceName.toLowerCase();
      await checkNoOverwrite(a.out, ['compare.csv', 'compare.json', `${plot}.svg`, `${plot}.png`, 'compare.html'], a.force);
      const warning = smallSampleWarning(a.num, a.num, net.distanceName);
      if (warning) process.stderr.write(`${warning.replace(/from \d+ and /, 'from ')} (--num ${a.num} generated)\n`);
      const rows = await compareRuns(a.runs, net, { num: a.num, kid: a.kid, seed: a.seed, batch: a.batch, cacheDir: cacheDir(), includeStart: a.start });
      const files = [...(await writeComparison(rows, a.out, a.force)), await writeComparisonHtml(rows, a.runs, a.out, a.force)];
      process.stdout.write(`${a.json ? JSON.stringify(rows, null, 2) : formatTable(rows)}\n`);
      process.stderr.write(`wrote ${files.join(', ')}\n`);
    } finally {
      net.dispose();
    }
  },
};
