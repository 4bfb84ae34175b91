// Statistics of a loss study (`stylegan-rlo study report`): per-variant mean and standard deviation of
// a metric over training seeds at each kimg, Welch's t-test and a bootstrap confidence interval for
// the difference at the end, and a plot with ±1 sd bands. Several seeds are the minimum for a loss
// comparison: seed-to-seed variation often exceeds the difference between losses (Lucic et al.,
// "Are GANs Created Equal?", 2018).
import { Rng } from '../rng.js';

export interface StudyPoint {
  variant: string;
  seed: number;
  kimg: number;
  value: number; // the Fréchet distance
  inf?: number | null; // the Fréchet distance extrapolated to infinitely many generated images
  kernel: number | null; // the kernel distance
}
export interface StudyCell {
  variant: string;
  kimg: number;
  n: number;
  mean: number;
  sd: number;
  kernelMean: number | null;
  kernelSd: number | null;
  kernelMedian: number | null;
  infMean: number | null;
  infSd: number | null;
}

const mean = (x: number[]) => x.reduce((a, b) => a + b, 0) / x.length;
/** Sample standard deviation (n - 1); 0 for a single value. */
export const sd = (x: number[]) => (x.length < 2 ? 0 : Math.sqrt(x.reduce((a, v) => a + (v - mean(x)) ** 2, 0) / (x.length - 1)));

export const median = (x: number[]) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

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
      const inf = g.map((p) => p.inf).filter((v): v is number => typeof v === 'number');
      return {
        variant: g[0].variant,
        kimg: Number(g[0].kimg.toFixed(3)),
        n: g.length,
        mean: mean(g.map((p) => p.value)),
        sd: sd(g.map((p) => p.value)),
        kernelMean: ks.length === g.length ? mean(ks) : null,
        kernelSd: ks.length === g.length ? sd(ks) : null,
        kernelMedian: ks.length === g.length ? median(ks) : null,
        infMean: inf.length === g.length ? mean(inf) : null,
        infSd: inf.length === g.length ? sd(inf) : null,
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
