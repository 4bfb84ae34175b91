// `stylegan-rlo generate`: images per seed, grids, style-mixing grids.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { BACKEND_OPTION } from './shared_options.js';
import { initBackend } from '../backend.js';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { resolveNetworkArg } from './network_arg.js';
import { checkGrid, tileGrid, writePng } from '../data/images.js';
import { checkOutputFolder } from '../files/inputs.js';
import { generateImages, parseRange, styleMix } from '../generate.js';
import { parseGrid } from '../train/option_table.js';
import type { NoiseMode } from '../networks/synthesis.js';

interface Args {
  network: string;
  seeds: string;
  trunc: number;
  'trunc-cutoff'?: number;
  'noise-mode': NoiseMode;
  class?: number;
  outdir: string;
  grid?: string;
  images: boolean;
  'style-mix': boolean;
  rows: string;
  cols: string;
  styles: string;
  force: boolean;
  backend: string;
}

export const generateCommand: CommandModule<object, Args> = {
  command: 'generate',
  describe: 'Generate images from seeds (PNG per seed and/or a grid), or a style-mixing grid',
  builder: (y: Argv) =>
    y
      .option('network', {
        type: 'string',
        demandOption: true,
        describe: 'Network pickle, checkpoint, run directory (its latest snapshot), or manifest name (e.g. emoji32)',
      })
      .option('seeds', { type: 'string', default: '0-7', describe: 'Seeds: 0-63, 1,5,9 or 0-3,10' })
      .option('trunc', { type: 'number', default: 1, describe: 'Truncation psi (1 = none)' })
      .option('trunc-cutoff', { type: 'number', describe: 'Truncate only the first N ws' })
      .option('noise-mode', { choices: ['const', 'random', 'none'] as const, default: 'const' as NoiseMode, describe: 'Noise inputs' })
      .option('class', { type: 'number', describe: 'Class label for conditional networks' })
      .option('outdir', { type: 'string', demandOption: true, describe: 'Output folder' })
      .option('grid', { type: 'string', describe: 'Also write grid.png, COLSxROWS (e.g. 8x8)' })
      .option('images', { type: 'boolean', default: true, describe: 'Write seedNNNN.png per seed (--no-images for the grid only)' })
      .option('style-mix', { type: 'boolean', default: false, describe: 'Style-mixing grid (upstream style_mixing.py) instead' })
      .option('rows', { type: 'string', default: '0-4', describe: 'Style mixing: row seeds' })
      .option('cols', { type: 'string', default: '5-9', describe: 'Style mixing: column seeds' })
      .option('styles', { type: 'string', default: '0-3', describe: 'Style mixing: layers taken from the column seeds' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace existing files' })
      .option('backend', BACKEND_OPTION)
      .example('$0 generate --network pretrained/emoji32.safetensors --seeds 0-63 --grid 8x8 --outdir out', '64 images and a grid')
      .example('$0 generate --network ffhq.pkl --seeds 0-3 --trunc 0.7 --outdir out', 'Truncated samples')
      .example('$0 generate --network emoji32 --style-mix --rows 0-3 --cols 10-13 --styles 0-3 --outdir mix', 'Style mixing') as unknown as Argv<Args>,
  handler: async (a: ArgumentsCamelCase<Args>) => {
    await checkOutputFolder(a.outdir, 'outdir');
    await initBackend(a.backend);
    const net = await loadNetwork(await resolveNetworkArg(a.network));
    const G = buildGenerator(net);
    const res = G.imgResolution,
      ch = G.imgChannels;
    if (!Number.isFinite(a.trunc)) throw new Error(`--trunc ${a.trunc}: give a number (1 = no truncation, 0.7 is typical)`);
    const cutoff = a['trunc-cutoff'];
    if (cutoff !== undefined && !(Number.isInteger(cutoff) && cutoff >= 1)) throw new Error(`--trunc-cutoff ${cutoff}: give a whole number of ws >= 1`);
    if (a.class !== undefined && !(Number.isInteger(a.class) && a.class >= 0)) throw new Error(`--class ${a.class}: give a class index >= 0`);
    const opts = { truncationPsi: a.trunc, truncationCutoff: cutoff ?? null, noiseMode: a['noise-mode'], classIdx: a.class ?? null };
    if (a.grid) checkGrid(parseGrid(a.grid), res);
    if (a['style-mix']) checkGrid([parseRange(a.cols, 'cols').length + 1, parseRange(a.rows, 'rows').length + 1], res, ['rows', 'cols']);
    await fs.mkdir(a.outdir, { recursive: true });
    const written: string[] = [];
    try {
      if (a['style-mix']) {
        const rowSeeds = parseRange(a.rows, 'rows'),
          colSeeds = parseRange(a.cols, 'cols'),
          styles = parseRange(a.styles, 'styles');
        const r = await styleMix(G, rowSeeds, colSeeds, styles, opts);
        // Grid: blank corner, column images across the top, row images down the left.
        const per = res * res * ch;
        const tiles = new Uint8Array((rowSeeds.length + 1) * (colSeeds.length + 1) * per).fill(255);
        const put = (k: number, px: Uint8Array) => tiles.set(px, k * per);
        r.cols.forEach((px, j) => {
          put(j + 1, px);
        });
        r.rows.forEach((px, i) => {
          put((i + 1) * (colSeeds.length + 1), px);
          r.cells[i].forEach((c, j) => {
            put((i + 1) * (colSeeds.length + 1) + j + 1, c);
          });
        });
        const g = tileGrid(tiles, (rowSeeds.length + 1) * (colSeeds.length + 1), res, ch, colSeeds.length + 1);
        const file = path.join(a.outdir, 'grid.png');
        await writePng(file, g.pixels, g.width, g.height, ch, a.force);
        written.push(file);
        for (const [i, rs] of rowSeeds.entries())
          for (const [j, cs] of colSeeds.entries()) {
            const f = path.join(a.outdir, `${rs}-${cs}.png`);
            await writePng(f, r.cells[i][j], res, res, ch, a.force);
            written.push(f);
          }
      } else {
        const seeds = parseRange(a.seeds);
        const imgs = await generateImages(G, seeds, opts);
        if (a.images) {
          for (const [i, s] of seeds.entries()) {
            const f = path.join(a.outdir, `seed${String(s).padStart(4, '0')}.png`);
            await writePng(f, imgs[i], res, res, ch, a.force);
            written.push(f);
          }
        }
        if (a.grid) {
          const [gw, gh] = parseGrid(a.grid);
          if (gw * gh < seeds.length) throw new Error(`--grid ${a.grid} holds ${gw * gh} images, but ${seeds.length} seeds were given`);
          const all = new Uint8Array(gw * gh * res * res * ch).fill(255);
          imgs.forEach((px, i) => {
            all.set(px, i * px.length);
          });
          const g = tileGrid(all, gw * gh, res, ch, gw);
          const f = path.join(a.outdir, 'grid.png');
          await writePng(f, g.pixels, g.width, g.height, ch, a.force);
          written.push(f);
        }
      }
    } catch (e) {
      const m = (e as Error).message;
      throw m.includes('already exists') ? new Error(`${m.split(';')[0]}; use --force to replace, or another --outdir`) : e;
    } finally {
      G.dispose();
    }
    process.stdout.write(`${written.length} files written to ${a.outdir}\n`);
  },
};
