// `stylegan-rlo interpolate`: latent walks between seeds (slerp in z or lerp in w, looping) and
// truncation sweeps, as an animated WebP or GIF (and optionally a folder of PNG frames).
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { BACKEND_OPTION } from './shared_options.js';
import { initBackend } from '../backend.js';
import { buildGenerator, loadNetwork } from '../io/network.js';
import { writeFileAtomic } from '../files/atomic.js';
import { checkGrid, writePng } from '../data/images.js';
import { checkOutputFolder } from '../files/inputs.js';
import { parseRange } from '../generate.js';
import { encodeAnimation, latentWalk, tileFrames, truncationSweep } from '../interpolate.js';
import { parseGrid } from '../train/option_table.js';
import { resolveNetworkArg } from './network_arg.js';

interface Args {
  network: string;
  seeds: string;
  space: 'z' | 'w';
  frames: number;
  fps: number;
  loop: boolean;
  trunc: number;
  'trunc-sweep'?: string;
  grid?: string;
  scale: number;
  out: string;
  'frames-dir'?: string;
  force: boolean;
  backend: string;
}

export const interpolateCommand: CommandModule<object, Args> = {
  command: 'interpolate',
  describe: 'Latent walks between seeds, or truncation sweeps, as an animated WebP or GIF',
  builder: (y: Argv) =>
    y
      .option('network', {
        type: 'string',
        demandOption: true,
        describe: 'Network pickle, checkpoint, run directory (its latest snapshot), or manifest name (e.g. emoji32)',
      })
      .option('seeds', { type: 'string', default: '0-3', describe: 'Keyframe seeds of the walk, in order (a sweep: one seed per grid cell)' })
      .option('space', { choices: ['z', 'w'] as const, default: 'z' as const, describe: 'Interpolate z (spherical) or w (linear, after mapping)' })
      .option('frames', { type: 'number', default: 30, describe: 'Frames from one seed to the next (a sweep: frames in all)' })
      .option('fps', { type: 'number', default: 24, describe: 'Frames per second of the animation' })
      .option('loop', { type: 'boolean', default: true, describe: 'Walk back to the first seed (--no-loop to stop at the last)' })
      .option('trunc', { type: 'number', default: 1, describe: 'Truncation psi of the walk' })
      .option('trunc-sweep', { type: 'string', describe: 'Instead of a walk: sweep truncation psi FROM:TO (e.g. 0:1) for each seed' })
      .option('grid', { type: 'string', describe: 'COLSxROWS walks side by side; cell j walks the seeds + j' })
      .option('scale', { type: 'number', default: 4, describe: 'Upscale factor of the animation (nearest neighbour)' })
      .option('out', { type: 'string', demandOption: true, describe: 'Output animation: .webp or .gif' })
      .option('frames-dir', { type: 'string', describe: 'Also write every frame as frameNNNN.png into this folder' })
      .option('force', { type: 'boolean', default: false, describe: 'Replace existing files' })
      .option('backend', BACKEND_OPTION)
      .example('$0 interpolate --network pretrained/emoji32.safetensors --seeds 0,1,2,3 --grid 4x2 --out walk.webp', 'Eight looping walks in z')
      .example('$0 interpolate --network ffhq.pkl --seeds 5,9 --space w --frames 60 --fps 30 --out walk.gif', 'A walk in w')
      .example(
        '$0 interpolate --network pretrained/emoji32.safetensors --seeds 0-7 --trunc-sweep 0:1 --frames 40 --grid 4x2 --out psi.webp',
        'Truncation sweep',
      ) as unknown as Argv<Args>,
  handler: async (a: ArgumentsCamelCase<Args>) => {
    const format = a.out.toLowerCase().endsWith('.gif') ? 'gif' : a.out.toLowerCase().endsWith('.webp') ? 'webp' : null;
    if (!format) throw new Error(`--out ${a.out}: give a .webp or .gif file`);
    if (!(Number.isInteger(a.frames) && a.frames >= 1 && a.frames <= 10000)) throw new Error(`--frames ${a.frames}: give a whole number from 1 to 10000`);
    if (!(a.fps > 0 && a.fps <= 100)) throw new Error(`--fps ${a.fps}: give a number in (0, 100]`);
    if (!(Number.isInteger(a.scale) && a.scale >= 1 && a.scale <= 16)) throw new Error(`--scale ${a.scale}: give a whole number from 1 to 16`);
    if (!Number.isFinite(a.trunc)) throw new Error(`--trunc ${a.trunc}: give a number`);
    if (existsSync(a.out) && !a.force) throw new Error(`${a.out} already exists; use --force to replace it`);
    await checkOutputFolder(path.dirname(path.resolve(a.out)), 'out');
    if (a['frames-dir']) await checkOutputFolder(a['frames-dir'], '--frames-dir');
    const seeds = parseRange(a.seeds);
    const [cols, rows] = a.grid ? parseGrid(a.grid) : [1, 1];
    let sweep: [number, number] | null = null;
    if (a['trunc-sweep'] !== undefined) {
      const m = /^(-?[\d.]+):(-?[\d.]+)$/.exec(a['trunc-sweep']);
      if (!m || !Number.isFinite(Number(m[1])) || !Number.isFinite(Number(m[2])))
        throw new Error(`--trunc-sweep ${a['trunc-sweep']}: expected FROM:TO, e.g. 0:1`);
      sweep = [Number(m[1]), Number(m[2])];
      if (seeds.length < cols * rows) throw new Error(`--trunc-sweep with --grid ${a.grid} needs ${cols * rows} seeds, got ${seeds.length}`);
    } else if (seeds.length < 2) throw new Error(`--seeds ${a.seeds}: a walk needs at least 2 seeds`);
    await initBackend(a.backend);
    const G = buildGenerator(await loadNetwork(await resolveNetworkArg(a.network)));
    try {
      checkGrid([cols, rows], G.imgResolution * a.scale);
      const walks: Uint8Array[][] = [];
      for (let j = 0; j < cols * rows; j++) {
        walks.push(
          sweep
            ? await truncationSweep(G, seeds[j], sweep[0], sweep[1], a.frames)
            : await latentWalk(
                G,
                seeds.map((s) => (s + j) % 0x100000000),
                { space: a.space, framesPerSeed: a.frames, loop: a.loop, truncationPsi: a.trunc },
              ),
        );
      }
      const res = G.imgResolution,
        ch = G.imgChannels;
      const frames = cols * rows === 1 ? walks[0] : tileFrames(walks, res, ch, cols);
      const w = cols * res,
        h = rows * res;
      if (a['frames-dir']) {
        await fs.mkdir(a['frames-dir'], { recursive: true });
        for (const [i, f] of frames.entries()) await writePng(path.join(a['frames-dir'], `frame${String(i).padStart(4, '0')}.png`), f, w, h, ch, a.force);
      }
      await writeFileAtomic(a.out, await encodeAnimation(frames, w, h, ch, a.fps, format, a.scale), { overwrite: a.force });
      process.stdout.write(`${a.out}: ${frames.length} frames of ${w * a.scale}x${h * a.scale} at ${a.fps} fps\n`);
    } finally {
      G.dispose();
    }
  },
};
