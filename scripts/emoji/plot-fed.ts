// The bundled network's FED curve as a picture: reads the CSV that scripts/emoji/emoji-fed.sh keeps
// (kimg,fed,generated,real) and writes an SVG line plot of FED against kimg on a log axis (the
// curve of a run from scratch falls by an order of magnitude) beside it, replacing the last one.
//   node dist/scripts/emoji/plot-fed.js [CSV] [OUT.svg]
// Defaults: docs/emoji32-milestones/fed.csv and fed.svg in the CSV's folder.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PlotPoint, plotSvg } from '../../src/report/plots.js';
import { writeFileAtomic } from '../../src/files/atomic.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The points of a FED curve CSV; throws naming the first bad line. */
function parseFedCsv(text: string, file: string): PlotPoint[] {
  const lines = text.trim().split('\n');
  if (lines[0]?.trim() !== 'kimg,fed,generated,real') throw new Error(`${file}: not a FED curve (its header must be kimg,fed,generated,real)`);
  const rows = lines.slice(1).map((line, i) => {
    const [kimg, fed, generated] = line.split(',').map(Number);
    if (!(kimg >= 0) || !(fed > 0) || !(generated > 0)) throw new Error(`${file}:${i + 2}: expected kimg,fed,generated,real with numbers, got "${line}"`);
    return { run: 'emoji32 pre-training', loss: 'logistic', k: null, kimg, metric: 'FED', value: fed, num: generated };
  });
  if (!rows.length) throw new Error(`${file}: no rows to plot`);
  return rows;
}

async function main() {
  const csv = path.resolve(process.argv[2] ?? path.join(root, 'docs', 'emoji32-milestones', 'fed.csv'));
  const out = path.resolve(process.argv[3] ?? path.join(path.dirname(csv), 'fed.svg'));
  const text = await fs.readFile(csv, 'utf8').catch(() => {
    throw new Error(`${csv} cannot be read; give the FED curve CSV that scripts/emoji/emoji-fed.sh writes`);
  });
  await writeFileAtomic(out, plotSvg(parseFedCsv(text, csv), { logY: true }), { overwrite: true });
  process.stderr.write(`plot-fed: ${out}\n`);
}

main().catch((e) => {
  process.stderr.write(`plot-fed: ${(e as Error).message}\n`);
  process.exit(1);
});
