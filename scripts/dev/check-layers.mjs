// Dependencies point one way, down this list of layers: a folder of src/ imports only folders of a
// lower rank (and itself). Run by `npm run lint`; prints each offending import and exits 1.
//   0 files (atomic writes, safe reads, the cache folder), ops (tfjs ops)
//   1 native (CPU kernels for the ops), webgpu (the GPU device and its kernels), networks (G, D), data (image folders)
//   2 losses, formats (pickle, torch zip, numpy, safetensors, TF legacy, our checkpoints)
//   3 io (network loading, downloads, run directories)
//   4 metrics (FID/FED, comparisons, study statistics)
//   5 report (plots, run and comparison pages)
//   6 train (the training loop)
//   7 study (loss studies: grids of training runs, their executors and report)
//   8 cli (yargs command modules; nothing else imports cli)
// Top-level modules (records.ts: types only; rng, backend, generate, interpolate, index) are not layers.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const SRC = path.join(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'src');
const RANK = { files: 0, ops: 0, native: 1, webgpu: 1, networks: 1, data: 1, losses: 2, formats: 2, io: 3, metrics: 4, report: 5, train: 6, study: 7, cli: 8 };
const bad = [];
for (const layer of readdirSync(SRC, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)) {
  if (!(layer in RANK)) bad.push(`src/${layer}/ is in no layer: add it to scripts/dev/check-layers.mjs`);
  for (const file of readdirSync(path.join(SRC, layer), { recursive: true }).filter((f) => String(f).endsWith('.ts'))) {
    const text = readFileSync(path.join(SRC, layer, String(file)), 'utf8');
    for (const m of text.matchAll(/from '\.\.\/([a-z_]+)\//g)) {
      if (m[1] !== layer && !(RANK[m[1]] < RANK[layer])) bad.push(`src/${layer}/${file} imports src/${m[1]}/ (not a lower layer)`);
    }
  }
}
for (const b of bad) console.error(b);
if (bad.length) process.exit(1);
console.log(`layers: ${Object.keys(RANK).join(', ')}: each imports only lower ones`);
