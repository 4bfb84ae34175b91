// The toolkit's plots, drawn as SVG here (a few lines and labels need no charting library, and a
// page that embeds them stays one file with nothing to fetch): a run's curves (lineChartSvg), a
// comparison of runs (plotSvg) and a study's means with ±1 sd bands (studyPlotSvg). One colour
// table and one escaper for all of them.
import type { CompareRow } from '../metrics/compare.js';
import type { StudyCell } from '../metrics/study.js';
import { escapeHtml } from './html.js';

export const PLOT_COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** Width in pixels of `text` at 12 px DejaVu Sans (an upper bound per character, so it never clips). */
export function textWidth(text: string): number {
  return Math.ceil(text.length * 7.2);
}

/** What a plot needs of a row: one point of one run's curve. */
export type PlotPoint = Pick<CompareRow, 'run' | 'loss' | 'k' | 'kimg' | 'metric' | 'value' | 'num'>;

export interface PlotOptions {
  width?: number;
  height?: number;
  /** A logarithmic distance axis (for curves from scratch, which fall by orders of magnitude). */
  logY?: boolean;
}

/**
 * SVG line plot of the distance against kimg, one line (and legend entry) per run. The legend sits
 * right of the plot area, as wide as its longest label.
 */
export function plotSvg(rows: PlotPoint[], o: PlotOptions = {}): string {
  const { width = 720, height = 420, logY = false } = o;
  if (logY && rows.some((r) => !(r.value > 0))) throw new Error('a logarithmic axis needs distances > 0');
  const runs = [...new Set(rows.map((r) => r.run))];
  const label = (run: string) => {
    const r0 = rows.find((r) => r.run === run)!;
    return `${run} (${r0.loss}${r0.k !== null ? ` k=${r0.k}` : ''})`;
  };
  const legendW = Math.max(...runs.map((r) => textWidth(label(r)))) + 30;
  const m = { l: 60, r: 20 + legendW, t: 30, b: 45 };
  const W = width + legendW;
  // The vertical axis runs over t(value): the value itself, or its logarithm.
  const t = logY ? Math.log10 : (v: number) => v;
  const xs = rows.map((r) => r.kimg),
    ys = rows.map((r) => t(r.value));
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const ylo = Math.min(...ys),
    yhi = Math.max(...ys);
  const pad = (yhi - ylo) * 0.08 || (logY ? 0.1 : 1);
  const y0 = ylo - pad,
    y1 = yhi + pad;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v: number) => height - m.b - ((t(v) - y0) / (y1 - y0)) * (height - m.t - m.b);
  const metric = rows[0]?.metric ?? 'FID';
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${W - m.r}" y2="${height - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="black"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="${height - 10}" text-anchor="middle">kimg</text>`,
    `<text x="15" y="${(height - m.b + m.t) / 2}" transform="rotate(-90 15 ${(height - m.b + m.t) / 2})" text-anchor="middle">${metric} (${rows[0]?.num ?? ''} generated images${logY ? ', log scale' : ''})</text>`,
  ];
  // Enough decimals that the five tick labels differ.
  const decimals = (span: number) => Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 4)) + 1));
  const dx = decimals(x1 - x0),
    dy = decimals(y1 - y0);
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + ((x1 - x0) * i) / 4,
      tv = y0 + ((y1 - y0) * i) / 4;
    // On a log axis the ticks are evenly spaced in log(value) and labelled with 3 significant digits.
    const yv = logY ? 10 ** tv : tv;
    parts.push(`<text x="${X(xv)}" y="${height - m.b + 16}" text-anchor="middle">${xv.toFixed(dx)}</text>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${logY ? String(Number(yv.toPrecision(3))) : yv.toFixed(dy)}</text>`);
  }
  runs.forEach((run, i) => {
    const pts = rows.filter((r) => r.run === run).sort((a, b) => a.kimg - b.kimg);
    const color = PLOT_COLORS[i % PLOT_COLORS.length];
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${X(p.kimg).toFixed(1)},${Y(p.value).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) parts.push(`<circle cx="${X(p.kimg).toFixed(1)}" cy="${Y(p.value).toFixed(1)}" r="3" fill="${color}"/>`);
    const lx = W - m.r + 16;
    parts.push(`<rect x="${lx}" y="${m.t + 6 + i * 18}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${lx + 18}" y="${m.t + 16 + i * 18}">${escapeHtml(label(run))}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** The opening of a study plot: the svg element, a white page, the subtitle, both axes and the vertical axis' label. */
function titledFrame(width: number, height: number, m: { l: number; r: number; t: number; b: number }, subtitle: string, yLabel: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="18">${escapeHtml(subtitle)}</text>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${width - m.r}" y2="${height - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="black"/>`,
    `<text x="15" y="${(height - m.b + m.t) / 2}" transform="rotate(-90 15 ${(height - m.b + m.t) / 2})" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
  ];
}

/**
 * SVG: mean of the metric per variant against kimg, with a ±1 sd band over seeds. `order` gives the
 * variants' order (their colours and legend), as a strip plot of the same study takes it.
 */
export function studyPlotSvg(
  cells: StudyCell[],
  metric: string,
  subtitle: string,
  { width = 720, height = 420, xLabel = 'kimg of fine-tuning', order = [] as string[] } = {},
): string {
  const present = new Set(cells.map((c) => c.variant));
  const variants = [...new Set([...order.filter((v) => present.has(v)), ...present])];
  const legendW = Math.max(...variants.map((v) => textWidth(v))) + 30;
  const m = { l: 60, r: 20 + legendW, t: 34, b: 45 };
  const W = width + legendW;
  const xs = cells.map((c) => c.kimg),
    lo = cells.map((c) => c.mean - c.sd),
    hi = cells.map((c) => c.mean + c.sd);
  const x0 = Math.min(...xs),
    x1 = Math.max(...xs) === x0 ? x0 + 1 : Math.max(...xs);
  const pad = (Math.max(...hi) - Math.min(...lo)) * 0.08 || 1;
  const y0 = Math.min(...lo) - pad,
    y1 = Math.max(...hi) + pad;
  const X = (v: number) => m.l + ((v - x0) / (x1 - x0)) * (W - m.l - m.r);
  const Y = (v: number) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
  const parts = [
    ...titledFrame(W, height, m, subtitle, `${metric} (mean ± 1 sd over seeds)`),
    `<text x="${(W - m.r + m.l) / 2}" y="${height - 10}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
  ];
  const decimals = (span: number) => Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 4)) + 1));
  // Whole-numbered x (epochs) keeps whole-numbered ticks, each at its own place.
  const whole = xs.every(Number.isInteger) && x1 - x0 >= 4;
  for (let i = 0; i <= 4; i++) {
    const xv = whole ? Math.round(x0 + ((x1 - x0) * i) / 4) : x0 + ((x1 - x0) * i) / 4,
      yv = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<text x="${X(xv)}" y="${height - m.b + 16}" text-anchor="middle">${whole ? String(xv) : xv.toFixed(decimals(x1 - x0))}</text>`);
    parts.push(`<text x="${m.l - 6}" y="${Y(yv) + 4}" text-anchor="end">${yv.toFixed(decimals(y1 - y0))}</text>`);
  }
  variants.forEach((v, i) => {
    const pts = cells.filter((c) => c.variant === v).sort((a, b) => a.kimg - b.kimg);
    const color = PLOT_COLORS[i % PLOT_COLORS.length];
    const band = [
      ...pts.map((p) => `${X(p.kimg).toFixed(1)},${Y(p.mean + p.sd).toFixed(1)}`),
      ...[...pts].reverse().map((p) => `${X(p.kimg).toFixed(1)},${Y(p.mean - p.sd).toFixed(1)}`),
    ];
    parts.push(`<polygon points="${band.join(' ')}" fill="${color}" fill-opacity="0.18" stroke="none"/>`);
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${X(p.kimg).toFixed(1)},${Y(p.mean).toFixed(1)}`).join(' ')}"/>`,
    );
    for (const p of pts) parts.push(`<circle cx="${X(p.kimg).toFixed(1)}" cy="${Y(p.mean).toFixed(1)}" r="3" fill="${color}"/>`);
    const lx = W - m.r + 16;
    parts.push(`<rect x="${lx}" y="${m.t + 6 + i * 18}" width="12" height="12" fill="${color}"/>`);
    parts.push(`<text x="${lx + 18}" y="${m.t + 16 + i * 18}">${escapeHtml(v)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Series {
  name: string;
  points: [number, number][];
}

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
    `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg" font-size="11">`,
    `<text x="${m.l}" y="14" font-weight="bold">${escapeHtml(title)}</text>`,
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
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${color}"/><text x="${lx + 14}" y="${ly}">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

/** SVG strip plot: each run's final value per variant (one dot per training seed), with the mean as a bar. */
export function stripPlotSvg(groups: { variant: string; values: number[] }[], metric: string, subtitle: string, width = 720, height = 360): string {
  const all = groups.flatMap((g) => g.values).filter(Number.isFinite);
  if (!all.length) return '';
  const m = { l: 60, r: 20, t: 34, b: 70 };
  const lo = Math.min(...all),
    hi = Math.max(...all);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.1 || 1;
  const y0 = lo - pad,
    y1 = hi + pad;
  const slot = (width - m.l - m.r) / Math.max(1, groups.length);
  const Y = (v: number) => height - m.b - ((v - y0) / (y1 - y0)) * (height - m.t - m.b);
  const parts = titledFrame(width, height, m, subtitle, `${metric} per training seed`);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v.toFixed(Math.abs(y1 - y0) < 4 ? 3 : 1)}</text>`);
  }
  groups.forEach((g, i) => {
    const cx = m.l + slot * (i + 0.5);
    const color = PLOT_COLORS[i % PLOT_COLORS.length];
    // Dots spread a little sideways, in seed order, so that equal values stay visible.
    g.values.forEach((v, j) => {
      const dx = (j - (g.values.length - 1) / 2) * Math.min(6, (slot * 0.5) / Math.max(1, g.values.length));
      parts.push(`<circle cx="${(cx + dx).toFixed(1)}" cy="${Y(v).toFixed(1)}" r="4" fill="${color}" fill-opacity="0.75"/>`);
    });
    const mean = g.values.reduce((a, b) => a + b, 0) / g.values.length;
    parts.push(
      `<line x1="${(cx - slot * 0.3).toFixed(1)}" y1="${Y(mean).toFixed(1)}" x2="${(cx + slot * 0.3).toFixed(1)}" y2="${Y(mean).toFixed(1)}" stroke="black" stroke-width="2"/>`,
    );
    // A tuned variant's setting goes on a second line ("rooted k=4" / "(lr x2, gamma x10)"): on one,
    // neighbouring labels ran into each other.
    const [name, setting] = g.variant.split(/ (?=\()/);
    const line = (text: string, dy: number) => `<tspan x="${cx.toFixed(1)}" dy="${dy}">${escapeHtml(text)}</tspan>`;
    parts.push(`<text x="${cx.toFixed(1)}" y="${height - m.b + 18}" text-anchor="middle">${line(name, 0)}${setting ? line(setting, 16) : ''}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
