// `npm start`: the main job on the embedded default. Fine-tunes the bundled pretrained emoji
// network on samples/ (a category held out from pre-training) with the rooted objective, k = 2,
// for a short CPU-sized run, and says where the grids are. DEMO_KIMG sets the length, DEMO_OUTDIR
// where its run directory goes (default: runs/ in the repository).
import * as path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { finetune } from '../src/train/run.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const network = path.join(root, 'pretrained', 'emoji32.safetensors');
const data = path.join(root, 'samples');

async function main() {
  if (!existsSync(network)) throw new Error(`${network} is missing; the repository ships it (git lfs is not used): check your checkout`);
  const kimg = Number(process.env.DEMO_KIMG ?? 1); // about 2 minutes on 2 CPU cores with the native kernels (README, Quick start)
  process.stderr.write(
    `demo: fine-tuning ${path.relative(root, network)} on ${path.relative(root, data)}/ with the rooted objective (k = 2) for ${kimg} kimg\n`,
  );
  const r = await finetune({
    network,
    data,
    outdir: process.env.DEMO_OUTDIR ?? path.join(root, 'runs'),
    loss: 'rooted',
    k: 2,
    kimg,
    batch: 16,
    tick: 0.25,
    snap: 2,
    aug: 'ada',
    mirror: true,
    grid: [8, 4],
    seed: 0,
    backend: process.env.STYLEGAN_RLO_BACKEND ?? 'auto',
  });
  const rel = path.relative(process.cwd(), r.runDir) || r.runDir;
  process.stdout.write(
    [
      '',
      `done: ${rel}`,
      `  ${rel}/reals.png        the fine-tuning images`,
      `  ${rel}/fakes_init.png   the pretrained network before fine-tuning (fixed seeds)`,
      `  ${rel}/fakes*.png       the same seeds during fine-tuning`,
      `  ${rel}/stats.jsonl      losses, D scores, augment p per tick`,
      `  ${rel}/index.html       all of it on one page: curves, grids over time, options`,
      `  ${rel}/${path.basename(r.lastSnapshot ?? '')}  snapshot (stylegan-rlo generate --network <it> ...)`,
      '',
    ].join('\n'),
  );
}

main().catch((e) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exit(1);
});
