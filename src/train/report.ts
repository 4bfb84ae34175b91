// index.html of a run directory: the resolved options, curves over kimg (G/D losses, R1 and path
// length, D scores on reals and fakes, augment p, and any FID/FED records), the fixed-seed grids
// over time (a slider), and the latest snapshot. One self-contained file: charts are inline SVG
// drawn here (no charting library, nothing fetched), grids are embedded as data URIs, and a few
// lines of inline script drive the slider. Rewritten atomically at every tick.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { PLOT_COLORS } from '../metrics/compare.js';
import type { BranchRecord } from '../io/training_state.js';
import { describeBranchChanges } from './options.js';

export interface Series {
  name: string;
  points: [number, number][];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A small line chart: one polyline per series, axes with 3 ticks, legend below. */
export function lineChartSvg(title: string, series: Series[], width = 360, height = 220): string {
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (!all.length) return '';
  const m = { l: 52, r: 24, t: 22, b: 30 + 16 * Math.ceil(series.length / 2) };
  const xs = all.map((p) => p[0]),
    ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs) > x0 ? Math.max(...xs) : x0 + 1;
  const pad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || Math.abs(ys[0]) * 0.1 || 1;
  const y0 = Math.min(...ys) - pad,
    y1 = Math.max(...ys) + pad;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (width - m.l - m.r);
  const Y = (v: number) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
  const fmt = (v: number) =>
    v === 0 ? '0' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : Math.abs(v) >= 0.01 ? v.toFixed(3) : v.toExponential(1);
  const parts = [
    `<svg class="chart" role="img" aria-label="${esc(title)}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" font-size="11">`,
    `<text x="${m.l}" y="14" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" stroke="#444"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="#444"/>`,
  ];
  for (let i = 0; i <= 2; i++) {
    const xv = x0 + ((x1 - x0) * i) / 2,
      yv = y0 + ((y1 - y0) * i) / 2;
    parts.push(`<text x="${X(xv).toFixed(1)}" y="${height - m.b + 13}" text-anchor="middle">${fmt(xv)}</text>`);
    parts.push(`<text x="${m.l - 4}" y="${(Y(yv) + 4).toFixed(1)}" text-anchor="end">${fmt(yv)}</text>`);
  }
  series.forEach((s, i) => {
    const color = PLOT_COLORS[i % PLOT_COLORS.length];
    const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (pts.length > 1)
      parts.push(
        `<polyline class="series" fill="none" stroke="${color}" stroke-width="1.8" points="${pts.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(' ')}"/>`,
      );
    for (const [x, y] of pts.length === 1 ? pts : [])
      parts.push(`<circle class="series" cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const lx = m.l + (i % 2) * 150,
      ly = height - m.b + 28 + Math.floor(i / 2) * 16;
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

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

const kimgOfGrid = (f: string) => Number(/^fakes(\d+\.\d+)\.png$/.exec(f)?.[1] ?? NaN);

/** Writes `runDir/index.html` from what the run directory holds now; returns its path. */
export async function writeRunReport(runDir: string): Promise<string> {
  const opts = JSON.parse(await fs.readFile(path.join(runDir, 'training_options.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
  const stats = await readJsonl(path.join(runDir, 'stats.jsonl'));
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
  for (const f of files.filter((x) => /^metric-\w+\.jsonl$/.test(x)).sort()) {
    const recs = await readJsonl(path.join(runDir, f));
    const name = String(recs[0]?.metric ?? f.replace(/^metric-|\.jsonl$/g, '').toUpperCase());
    charts.push(
      lineChartSvg(`${name} (${recs[0]?.num ?? '?'} generated images)`, [
        { name, points: recs.map((r) => [Number(r.kimg), Number(r.value ?? r.fid)] as [number, number]) },
      ]),
    );
  }
  const grids = files.filter((f) => /^fakes\d+\.\d+\.png$/.test(f)).sort((a, b) => kimgOfGrid(a) - kimgOfGrid(b));
  if (files.includes('fakes_init.png')) grids.unshift('fakes_init.png');
  const uri = async (f: string) => `data:image/png;base64,${(await fs.readFile(path.join(runDir, f))).toString('base64')}`;
  const gridData = await Promise.all(
    grids.map(async (f) => ({ label: f === 'fakes_init.png' ? 'start' : `kimg ${kimgOfGrid(f).toFixed(3)}`, src: await uri(f) })),
  );
  const reals = files.includes('reals.png') ? await uri('reals.png') : null;
  const snaps = files
    .filter((f) => /^network-snapshot-.*\.safetensors$/.test(f))
    .sort((a, b) => Number(/(\d+\.\d+)/.exec(a)![1]) - Number(/(\d+\.\d+)/.exec(b)![1]));
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
<title>${esc(title)}</title>
<style>
body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:0 auto;padding:12px;max-width:1200px;color:#222}
h1{font-size:1.3em;margin:.2em 0} h2{font-size:1.1em;margin:1em 0 .4em}
.charts{display:flex;flex-wrap:wrap;gap:8px}.chart{width:100%;max-width:360px;height:auto;border:1px solid #ddd;border-radius:4px;background:#fff}
.grid img{image-rendering:pixelated;width:100%;max-width:512px;height:auto;border:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td{border-bottom:1px solid #eee;padding:2px 8px;vertical-align:top;word-break:break-all}
input[type=range]{width:100%;max-width:512px}.muted{color:#666}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="muted">${last ? `kimg ${Number(last.kimg).toFixed(3)} of ${esc(String(opts.kimg ?? '?'))}, tick ${esc(String(last.tick))}` : 'no tick yet'}; latest snapshot: ${snaps.length ? `<code>${esc(snaps[snaps.length - 1])}</code>` : 'none yet'}; updated ${new Date().toISOString()}</p>
<h2>Curves <span class="muted">(x: kimg)</span></h2><div class="charts">${charts.filter(Boolean).join('\n')}</div>
<h2>Fixed-seed samples over time</h2>
<div class="grid">${
    gridData.length
      ? `<img id="grid" alt="generated samples" src="${gridData[gridData.length - 1].src}"><br>
<input id="slider" type="range" min="0" max="${gridData.length - 1}" value="${gridData.length - 1}" aria-label="snapshot"> <span id="gridLabel">${esc(gridData[gridData.length - 1].label)}</span>`
      : '<p>no grids yet</p>'
  }</div>
${reals ? `<h2>Training images</h2><div class="grid"><img alt="training images" src="${reals}"></div>` : ''}
<h2>Options</h2><table>${keyOpts
    .filter((k) => k in opts)
    .map((k) => `<tr><td>${esc(k)}</td><td>${esc(JSON.stringify(opts[k]))}</td></tr>`)
    .join('')}</table>
${branches.map((b) => `<p>Branched from <code>${esc(b.from)}</code> at kimg ${b.kimg.toFixed(3)}: ${esc(describeBranchChanges(b.changed))}</p>`).join('\n')}
<p class="muted">All options: <code>training_options.json</code>; per tick: <code>stats.jsonl</code>.</p>
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
  const file = path.join(runDir, 'index.html');
  await writeFileAtomic(file, html, { overwrite: true });
  return file;
}
