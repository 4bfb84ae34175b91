// What `compare` writes: compare.csv, compare.json, the plot (fed/fid .svg and .png), and
// compare.html: the comparison table, the plot (mean with ±1 sd bands when several runs share a
// loss and k, e.g. training seeds; one line per run otherwise) and each run's last fixed-seed
// grid side by side. Self-contained: inline SVG, grids as data URIs, no script, nothing fetched.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../files/atomic.js';
import sharp from 'sharp';
import { type CompareRow, formatTable, toCsv } from '../metrics/compare.js';
import { aggregate } from '../metrics/study.js';
import { escapeHtml } from './html.js';
import { plotSvg, studyPlotSvg } from './plots.js';
import { OptionError } from '../files/option_error.js';
import { fakesKimg } from '../io/run_layout.js';

const variantOf = (r: CompareRow) => `${r.loss}${r.k !== null ? ` k=${r.k}` : ''}`;

/** The plot of compare.html: error bands over runs that share a loss and k, else one line per run. */
export function comparisonPlotSvg(rows: CompareRow[]): string {
  const runsPerVariant = new Map<string, Set<string>>();
  for (const r of rows) runsPerVariant.set(variantOf(r), (runsPerVariant.get(variantOf(r)) ?? new Set()).add(r.run));
  if (![...runsPerVariant.values()].some((s) => s.size > 1)) return plotSvg(rows);
  const seedOf = new Map<string, number>();
  for (const r of rows) if (!seedOf.has(r.run)) seedOf.set(r.run, seedOf.size);
  const cells = aggregate(rows.map((r) => ({ variant: variantOf(r), seed: seedOf.get(r.run)!, kimg: r.kimg, value: r.value, kernel: r.kernel })));
  const n = Math.max(...[...runsPerVariant.values()].map((s) => s.size));
  return studyPlotSvg(cells, rows[0].metric, `${n} runs per loss (mean ± 1 sd), ${rows[0].num} generated images per point`);
}

/** Writes outDir/compare.html; `runDirs` give each run's last grid. */
export async function writeComparisonHtml(rows: CompareRow[], runDirs: string[], outDir: string, force = false): Promise<string> {
  const grids: string[] = [];
  for (const dir of runDirs) {
    const files = (await fs.readdir(dir)).filter((f) => fakesKimg(f) !== null).sort((a, b) => fakesKimg(a)! - fakesKimg(b)!);
    const last = files[files.length - 1];
    const r = rows.find((x) => x.run === path.basename(dir));
    const caption = `${escapeHtml(path.basename(dir))}${r ? ` (${escapeHtml(variantOf(r))})` : ''}${last ? `, kimg ${fakesKimg(last)!.toFixed(3)}` : ''}`;
    grids.push(
      last
        ? `<figure><img alt="${caption}" src="data:image/png;base64,${(await fs.readFile(path.join(dir, last))).toString('base64')}"><figcaption>${caption}</figcaption></figure>`
        : `<figure><figcaption>${caption}: no grid yet</figcaption></figure>`,
    );
  }
  const metric = rows[0]?.metric ?? 'FID';
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Comparison: ${escapeHtml(metric)} over kimg</title>
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:12px;max-width:1200px;color:#222}
h1{font-size:1.3em} svg{width:100%;height:auto;max-width:1000px;border:1px solid #ddd}
pre{overflow-x:auto;font-size:.85em;background:#f7f7f7;padding:8px}
.grids{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;max-width:100%}figure img{image-rendering:pixelated;width:100%;max-width:384px;border:1px solid #ddd}
figcaption{font-size:.85em;color:#444}
</style></head><body>
<h1>${escapeHtml(metric)} over kimg: ${escapeHtml([...new Set(rows.map(variantOf))].join(' vs '))}</h1>
${comparisonPlotSvg(rows).replace(/^<svg /, '<svg class="plot" ')}
<h2>Table</h2><pre>${escapeHtml(formatTable(rows))}</pre>
<h2>Last fixed-seed grid of each run</h2><div class="grids">${grids.join('\n')}</div>
<p>Data: compare.csv, compare.json. ${escapeHtml(metric)} values ${metric === 'FED' ? 'come from the bundled emoji feature network (not comparable with FID)' : 'use Inception-v3 (pytorch-fid weights)'}.</p>
</body></html>
`;
  const file = path.join(outDir, 'compare.html');
  await writeFileAtomic(file, html, { overwrite: force }).catch((e: Error) => {
    throw e.message.includes('already exists') ? new OptionError((o) => `${file} already exists; use ${o('force')} or another ${o('out')}`) : e;
  });
  return file;
}

/** Writes compare.csv, compare.json and the plot (fid.svg/png or fed.svg/png) into `outDir` (new files only unless `force`). */
export async function writeComparison(rows: CompareRow[], outDir: string, force = false): Promise<string[]> {
  await fs.mkdir(outDir, { recursive: true });
  const svg = plotSvg(rows);
  const plot = (rows[0]?.metric ?? 'FID').toLowerCase();
  const files: [string, string | Buffer][] = [
    ['compare.csv', toCsv(rows)],
    ['compare.json', `${JSON.stringify(rows, null, 2)}\n`],
    [`${plot}.svg`, svg],
    [`${plot}.png`, await sharp(Buffer.from(svg)).png().toBuffer()],
  ];
  const written: string[] = [];
  for (const [name, data] of files) {
    const f = path.join(outDir, name);
    await writeFileAtomic(f, data, { overwrite: force }).catch((e: Error) => {
      throw e.message.includes('already exists') ? new OptionError((o) => `${f} already exists; use ${o('force')} or another ${o('out')}`) : e;
    });
    written.push(f);
  }
  return written;
}
