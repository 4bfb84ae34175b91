// index.html of a run directory: the resolved options, curves over kimg (G/D losses, R1 and path
// length, D scores on reals and fakes, augment p, and any FID/FED records), the fixed-seed grids
// over time (a slider), and the latest snapshot. One self-contained file: charts are inline SVG
// drawn here (no charting library, nothing fetched), grids are embedded as data URIs, and a few
// lines of inline script drive the slider. Rewritten atomically at every tick.
import type { BranchRecord } from '../records.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../files/atomic.js';
import { fakesKimg, isMetricFile, metricOfFile, RUN_FILES, snapshotKimg } from '../io/run_layout.js';
import { describeBranchChanges, escapeHtml } from './html.js';
import { lineChartSvg, type Series } from './plots.js';

async function readJsonl(file: string): Promise<Record<string, unknown>[]> {
  const txt = await fs.readFile(file, 'utf8').catch(() => '');
  return txt
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return []; // a line cut by a crash: skipped
      }
    });
}

/** Writes `runDir/index.html` from what the run directory holds now; returns its path. */
export async function writeRunReport(runDir: string): Promise<string> {
  const opts = JSON.parse(await fs.readFile(path.join(runDir, RUN_FILES.options), 'utf8').catch(() => '{}')) as Record<string, unknown>;
  const stats = await readJsonl(path.join(runDir, RUN_FILES.stats));
  const files = await fs.readdir(runDir);
  const series = (pairs: [string, string][]): Series[] =>
    pairs
      .map(([name, key]) => ({
        name,
        points: stats.map((s) => [Number(s.kimg), Number(s[key])] as [number, number]).filter(([, y]) => Number.isFinite(y)),
      }))
      .filter((s) => s.points.length);
  const charts = [
    lineChartSvg(
      'Losses',
      series([
        ['G loss', 'Loss/G/loss'],
        ['D loss', 'Loss/D/loss'],
      ]),
    ),
    lineChartSvg(
      'Regularizers',
      series([
        ['R1 penalty', 'Loss/r1_penalty'],
        ['path-length penalty', 'Loss/pl_penalty'],
      ]),
    ),
    lineChartSvg(
      'D scores',
      series([
        ['D(x), reals', 'Loss/scores/real'],
        ['D(G(z)), fakes', 'Loss/scores/fake'],
      ]),
    ),
    lineChartSvg('Augmentation p', series([['augment p', 'augment_p']])),
    lineChartSvg('Speed', series([['sec/kimg', 'sec_per_kimg']])),
  ];
  for (const f of files.filter(isMetricFile).sort()) {
    const recs = await readJsonl(path.join(runDir, f));
    const name = String(recs[0]?.metric ?? metricOfFile(f));
    charts.push(
      lineChartSvg(`${name} (${recs[0]?.num ?? '?'} generated images)`, [
        { name, points: recs.map((r) => [Number(r.kimg), Number(r.value ?? r.fid)] as [number, number]) },
      ]),
    );
  }
  const grids = files.filter((f) => fakesKimg(f) !== null).sort((a, b) => fakesKimg(a)! - fakesKimg(b)!);
  if (files.includes(RUN_FILES.fakesInit)) grids.unshift(RUN_FILES.fakesInit);
  const uri = async (f: string) => `data:image/png;base64,${(await fs.readFile(path.join(runDir, f))).toString('base64')}`;
  const gridData = await Promise.all(
    grids.map(async (f) => ({ label: f === RUN_FILES.fakesInit ? 'start' : `kimg ${fakesKimg(f)!.toFixed(3)}`, src: await uri(f) })),
  );
  const reals = files.includes(RUN_FILES.reals) ? await uri(RUN_FILES.reals) : null;
  const snaps = files.filter((f) => snapshotKimg(f) !== null).sort((a, b) => snapshotKimg(a)! - snapshotKimg(b)!);
  const last = stats[stats.length - 1];
  const title = `${path.basename(runDir)}: ${opts.loss === 'rooted' ? `rooted k=${String(opts.k)}` : String(opts.loss ?? '?')}`;
  const branches = Array.isArray(opts.branches) ? (opts.branches as BranchRecord[]) : [];
  const keyOpts = [
    'network',
    'data',
    'loss',
    'k',
    'kimg',
    'batch',
    'glr',
    'dlr',
    'gamma',
    'plWeight',
    'styleMixing',
    'emaKimg',
    'aug',
    'target',
    'mirror',
    'freezed',
    'seed',
    'backend',
  ];
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:12px;max-width:1200px;color:#222}
h1{font-size:1.3em;margin:.2em 0} h2{font-size:1.1em;margin:1em 0 .4em}
.charts{display:flex;flex-wrap:wrap;gap:8px}.chart{width:100%;max-width:360px;height:auto;border:1px solid #ddd;border-radius:4px;background:#fff}
.grid img{image-rendering:pixelated;width:100%;max-width:512px;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td{border-bottom:1px solid #eee;padding:2px 8px;vertical-align:top;word-break:break-all}
input[type=range]{width:100%;max-width:512px}.muted{color:#666}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${last ? `kimg ${Number(last.kimg).toFixed(3)} of ${escapeHtml(String(opts.kimg ?? '?'))}, tick ${escapeHtml(String(last.tick))}` : 'no tick yet'}; latest snapshot: ${snaps.length ? `<code>${escapeHtml(snaps[snaps.length - 1])}</code>` : 'none yet'}; updated ${new Date().toISOString()}</p>
<h2>Curves <span class="muted">(x: kimg)</span></h2><div class="charts">${charts.filter(Boolean).join('\n')}</div>
<h2>Fixed-seed samples over time</h2>
<div class="grid">${
    gridData.length
      ? `<img id="grid" alt="generated samples" src="${gridData[gridData.length - 1].src}"><br>
<input id="slider" type="range" min="0" max="${gridData.length - 1}" value="${gridData.length - 1}" aria-label="snapshot"> <span id="gridLabel">${escapeHtml(gridData[gridData.length - 1].label)}</span>`
      : '<p>no grids yet</p>'
  }</div>
${reals ? `<h2>Training images</h2><div class="grid"><img alt="training images" src="${reals}"></div>` : ''}
<h2>Options</h2><table>${keyOpts
    .filter((k) => k in opts)
    .map((k) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(JSON.stringify(opts[k]))}</td></tr>`)
    .join('')}</table>
${branches.map((b) => `<p>Branched from <code>${escapeHtml(b.from)}</code> at kimg ${b.kimg.toFixed(3)}: ${escapeHtml(describeBranchChanges(b.changed))}</p>`).join('\n')}
<p class="muted">All options: <code>${RUN_FILES.options}</code>; per tick: <code>${RUN_FILES.stats}</code>.</p>
${gridData.map((g) => `<template class="g" data-src="${g.src}"></template>`).join('\n')}
<script>
const grids = ${JSON.stringify(gridData.map((g) => g.label))};
const slider = document.getElementById('slider');
if (slider) {
  const imgs = [...document.querySelectorAll('template.g')].map((t) => t.dataset.src);
  slider.addEventListener('input', () => {
    document.getElementById('grid').src = imgs[slider.value];
    document.getElementById('gridLabel').textContent = grids[slider.value];
  });
}
</script>
</body></html>
`;
  const file = path.join(runDir, RUN_FILES.report);
  await writeFileAtomic(file, html, { overwrite: true });
  return file;
}
