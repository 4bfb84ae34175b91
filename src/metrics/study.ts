// Statistics of a loss study (scripts/compare-losses.ts): per-variant mean and standard deviation of
// a metric over training seeds at each kimg, Welch's t-test and a bootstrap confidence interval for
// the difference at the end, and a plot with ±1 sd bands. Several seeds are the minimum for a loss
// comparison: seed-to-seed variation often exceeds the difference between losses (Lucic et al.,
// "Are GANs Created Equal?", 2018).
import { Rng } from '../rng.js';
import { PLOT_COLORS, textWidth } from './compare.js';

export interface StudyPoint {
  variant: string;
  seed: number;
  kimg: number;
  value: number;
  kernel: number | null;
}
export interface StudyCell {
  variant: string;
  kimg: number;
  n: number;
  mean: number;
  sd: number;
  kernelMean: number | null;
  kernelSd: number | null;
}

const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
/** Sample standard deviation (n - 1); 0 for a single value. */
const sd = (x: number[]) => (x.length < 2 ? 0 : Math.sqrt(x.reduce((a, v) => a + (v - mean(x)) ** 2, 0) / (x.length - 1)));

/** Mean ± sd per variant and kimg (kimg rounded to 1e-3 to group snapshots). */
export function aggregate(points: StudyPoint[]): StudyCell[] {
  const groups = new Map<string, StudyPoint[]>();
  for (const p of points) {
    const k = `${p.variant}|${p.kimg.toFixed(3)}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  return [...groups.values()]
    .map((g) => {
      const ks = g.map((p) => p.kernel).filter((v): v is number => v !== null);
      return {
        variant: g[0].variant,
        kimg: Number(g[0].kimg.toFixed(3)),
        n: g.length,
        mean: mean(g.map((p) => p.value)),
        sd: sd(g.map((p) => p.value)),
        kernelMean: ks.length === g.length ? mean(ks) : null,
        kernelSd: ks.length === g.length ? sd(ks) : null,
      };
    })
    .sort((a, b) => a.variant.localeCompare(b.variant) || a.kimg - b.kimg);
}

/** ln Γ(x) (Lanczos approximation, g = 7), for x > 0. */
function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incompleteBeta(1 - x, b, a);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - (lnGamma(a) + lnGamma(b) - lnGamma(a + b))) / a;
  const tiny = 1e-300;
  let f = 1,
    c = 1,
    d = 0;
  for (let i = 0; i <= 400; i++) {
    const m = Math.floor(i / 2);
    let num: number;
    if (i === 0) num = 1;
    else if (i % 2 === 0) num = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    else num = -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    if (Math.abs(d) < tiny) d = tiny;
    d = 1 / d;
    c = 1 + num / c;
    if (Math.abs(c) < tiny) c = tiny;
    const cd = c * d;
    f *= cd;
    if (Math.abs(1 - cd) < 1e-12) break;
  }
  return front * (f - 1);
}

/** Two-sided p-value of Student's t with `df` degrees of freedom. */
export function studentTwoSidedP(t: number, df: number): number {
  return incompleteBeta(df / (df + t * t), df / 2, 0.5);
}

export interface Welch {
  diff: number;
  t: number;
  df: number;
  p: number;
}

/** Welch's t-test of mean(a) - mean(b) (unequal variances). */
export function welch(a: number[], b: number[]): Welch {
  if (a.length < 2 || b.length < 2) throw new Error(`Welch's t-test needs at least 2 values per group (got ${a.length} and ${b.length})`);
  const va = sd(a) ** 2 / a.length,
    vb = sd(b) ** 2 / b.length;
  const diff = mean(a) - mean(b);
  if (va + vb === 0) return { diff, t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: a.length + b.length - 2, p: diff === 0 ? 1 : 0 };
  const t = diff / Math.sqrt(va + vb);
  const df = (va + vb) ** 2 / (va ** 2 / (a.length - 1) + vb ** 2 / (b.length - 1));
  return { diff, t, df, p: studentTwoSidedP(t, df) };
}

/** Percentile bootstrap confidence interval of mean(a) - mean(b) (resampling each group). */
export function bootstrapDiffCI(a: number[], b: number[], level = 0.95, draws = 10000, seed = 0): [number, number] {
  const rng = new Rng(`bootstrap-${seed}`);
  const pick = (x: number[]) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[Math.floor(rng.next() * x.length)];
    return s / x.length;
  };
  const d = Float64Array.from({ length: draws }, () => pick(a) - pick(b)).sort();
  const lo = d[Math.floor(((1 - level) / 2) * draws)],
    hi = d[Math.min(draws - 1, Math.ceil(((1 + level) / 2) * draws) - 1)];
  return [lo, hi];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** SVG: mean of the metric per variant against kimg, with a ±1 sd band over seeds. */
export function studyPlotSvg(cells: StudyCell[], metric: string, subtitle: string, width = 720, height = 420): string {
  const variants = [...new Set(cells.map((c) => c.variant))];
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
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.l}" y="18">${esc(subtitle)}</text>`,
    `<line x1="${m.l}" y1="${height - m.b}" x2="${W - m.r}" y2="${height - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${height - m.b}" stroke="black"/>`,
    `<text x="${(W - m.r + m.l) / 2}" y="${height - 10}" text-anchor="middle">kimg of fine-tuning</text>`,
    `<text x="15" y="${(height - m.b + m.t) / 2}" transform="rotate(-90 15 ${(height - m.b + m.t) / 2})" text-anchor="middle">${esc(metric)} (mean ± 1 sd over seeds)</text>`,
  ];
  const decimals = (span: number) => Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 4)) + 1));
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + ((x1 - x0) * i) / 4,
      yv = y0 + ((y1 - y0) * i) / 4;
    parts.push(`<text x="${X(xv)}" y="${height - m.b + 16}" text-anchor="middle">${xv.toFixed(decimals(x1 - x0))}</text>`);
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
    parts.push(`<text x="${lx + 18}" y="${m.t + 16 + i * 18}">${esc(v)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
