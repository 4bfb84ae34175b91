// FID and KID in float64, as stylegan2-ada-pytorch and pytorch-fid compute them.
//   FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)), with tr(sqrt(S1 S2)) from the
//   eigenvalues of a symmetric PSD matrix similar to S1 S2 (the value of scipy's sqrtm route, and
//   robust for near-singular covariances: negative round-off eigenvalues are clamped to 0 instead
//   of needing pytorch-fid's eps retry); with fewer samples than dimensions, from the exact
//   low-rank identity on the centered features.
//   Covariance / (N-1) for the pytorch-fid protocol, / N for nvidia (stylegan2-ada-pytorch).
//   KID as stylegan2-ada-pytorch: subsets, unbiased MMD^2 with the kernel (x.y / d + 1)^3.
// The linear algebra is in linalg.ts.
import { symmetricEigen, traceSqrtProduct } from './linalg.js';

export interface FeatureStats {
  n: number;
  dim: number;
  mu: Float64Array;
  sigma: Float64Array; // dim x dim, row-major
}

/** Mean and covariance of features [n, dim] (float32 rows, accumulated in float64). */
export function featureStats(feats: ArrayLike<number>, n: number, dim: number, ddof: 0 | 1): FeatureStats {
  if (n < 2) throw new Error(`FID needs at least 2 images, got ${n}`);
  const mu = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mu[j] += feats[i * dim + j];
  for (let j = 0; j < dim; j++) mu[j] /= n;
  const sigma = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < dim; j++) row[j] = feats[i * dim + j] - mu[j];
    for (let a = 0; a < dim; a++) {
      const ra = row[a];
      if (ra === 0) continue;
      const off = a * dim;
      for (let b = a; b < dim; b++) sigma[off + b] += ra * row[b];
    }
  }
  const div = n - ddof;
  for (let a = 0; a < dim; a++)
    for (let b = a; b < dim; b++) {
      const v = sigma[a * dim + b] / div;
      sigma[a * dim + b] = v;
      sigma[b * dim + a] = v;
    }
  return { n, dim, mu, sigma };
}

/**
 * FID from features directly. With k = min(n1, n2) below the dimension, uses the exact low-rank
 * identity tr(sqrt(S1 S2)) = sqrt(c1 c2) * (nuclear norm of A1 A2^T), A the centered features and
 * c = 1/(n - ddof): a k x k eigenproblem instead of d x d.
 */
export function frechetDistanceFromFeatures(f1: ArrayLike<number>, n1: number, f2: ArrayLike<number>, n2: number, dim: number, ddof: 0 | 1): number {
  const s1 = featureStats(f1, n1, dim, ddof),
    s2 = featureStats(f2, n2, dim, ddof);
  if (Math.min(n1, n2) >= dim) return frechetDistance(s1, s2);
  let m = 0,
    t1 = 0,
    t2 = 0;
  for (let i = 0; i < dim; i++) {
    m += (s1.mu[i] - s2.mu[i]) ** 2;
    t1 += s1.sigma[i * dim + i];
    t2 += s2.sigma[i * dim + i];
  }
  const center = (f: ArrayLike<number>, n: number, mu: Float64Array) => {
    const a = new Float64Array(n * dim);
    for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) a[i * dim + j] = f[i * dim + j] - mu[j];
    return a;
  };
  // The centered features, the smaller set first.
  let small = center(f1, n1, s1.mu),
    large = center(f2, n2, s2.mu);
  let na = n1,
    nb = n2;
  if (na > nb) {
    [small, large] = [large, small];
    [na, nb] = [nb, na];
  }
  // K = (small large^T)(small large^T)^T, na x na.
  const M = new Float64Array(na * nb);
  for (let i = 0; i < na; i++)
    for (let j = 0; j < nb; j++) {
      let v = 0;
      for (let k = 0; k < dim; k++) v += small[i * dim + k] * large[j * dim + k];
      M[i * nb + j] = v;
    }
  const K = new Float64Array(na * na);
  for (let i = 0; i < na; i++)
    for (let j = i; j < na; j++) {
      let v = 0;
      for (let k = 0; k < nb; k++) v += M[i * nb + k] * M[j * nb + k];
      K[i * na + j] = v;
      K[j * na + i] = v;
    }
  let tr = 0;
  for (const v of symmetricEigen(K, na, false).values) tr += Math.sqrt(Math.max(v, 0));
  tr *= Math.sqrt(1 / ((n1 - ddof) * (n2 - ddof)));
  return m + t1 + t2 - 2 * tr;
}

export function frechetDistance(a: FeatureStats, b: FeatureStats): number {
  if (a.dim !== b.dim) throw new Error(`feature dimensions differ: ${a.dim} vs ${b.dim}`);
  const n = a.dim;
  let m = 0,
    t1 = 0,
    t2 = 0;
  for (let i = 0; i < n; i++) {
    m += (a.mu[i] - b.mu[i]) ** 2;
    t1 += a.sigma[i * n + i];
    t2 += b.sigma[i * n + i];
  }
  return m + t1 + t2 - 2 * traceSqrtProduct(a.sigma, b.sigma, n);
}

/**
 * KID (stylegan2-ada-pytorch compute_kid): `subsets` gives, per subset, the generated and real
 * row indices (size m each).
 */
export function kernelInceptionDistance(real: ArrayLike<number>, gen: ArrayLike<number>, dim: number, subsets: { gen: number[]; real: number[] }[]): number {
  let t = 0;
  let m = 0;
  for (const s of subsets) {
    m = s.gen.length;
    if (s.real.length !== m) throw new Error('KID subsets must have equal sizes');
    const dot = (A: ArrayLike<number>, i: number, B: ArrayLike<number>, j: number) => {
      let v = 0;
      for (let k = 0; k < dim; k++) v += A[i * dim + k] * B[j * dim + k];
      return (v / dim + 1) ** 3;
    };
    let sa = 0,
      ta = 0,
      sb = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        const kxx = dot(gen, s.gen[i], gen, s.gen[j]),
          kyy = dot(real, s.real[i], real, s.real[j]);
        sa += kxx + kyy;
        if (i === j) ta += kxx + kyy;
        sb += dot(gen, s.gen[i], real, s.real[j]);
      }
    t += (sa - ta) / (m - 1) - (2 * sb) / m;
  }
  return t / subsets.length / m;
}

/** KID subsets as upstream draws them in spirit: `num` subsets of min(n_real, n_gen, maxSize), without replacement. */
export function kidSubsets(nReal: number, nGen: number, num: number, maxSize: number, rand: () => number): { gen: number[]; real: number[] }[] {
  const m = Math.min(nReal, nGen, maxSize);
  const choose = (n: number) => {
    const p = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p.slice(0, m);
  };
  return Array.from({ length: num }, () => ({ gen: choose(nGen), real: choose(nReal) }));
}

export interface ExtrapolatedFrechet {
  value: number; // the Fréchet distance extrapolated to infinitely many generated images
  slope: number; // b of FD(N) = value + b / N: the small-sample bias at N images is b / N
  sizes: number[]; // the numbers of generated images fitted
}

/**
 * The Fréchet distance extrapolated to infinitely many generated images, as Chong & Forsyth
 * ("Effectively unbiased FID and Inception Score and where to find them", CVPR 2020) do: the
 * distance against the first N of the generated features in one random order, at `points` sizes
 * evenly spaced from n/5 to n, fitted by least squares with FD(N) = value + slope / N. The real
 * side is used whole, so its own small-sample bias (a constant for a fixed real set) remains.
 */
export function frechetDistanceExtrapolated(
  real: ArrayLike<number>,
  nReal: number,
  gen: ArrayLike<number>,
  nGen: number,
  dim: number,
  ddof: 0 | 1,
  rand: () => number,
  points = 10,
): ExtrapolatedFrechet {
  const lo = Math.max(2, Math.round(nGen / 5));
  const sizes = [...new Set(Array.from({ length: points }, (_, i) => Math.round(lo + ((nGen - lo) * i) / Math.max(1, points - 1))))];
  if (sizes.length < 2) throw new Error(`the extrapolated Fréchet distance needs at least 10 generated images, got ${nGen}`);
  const order = Array.from({ length: nGen }, (_, i) => i);
  for (let i = nGen - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const shuffled = new Float64Array(nGen * dim);
  order.forEach((src, i) => {
    for (let k = 0; k < dim; k++) shuffled[i * dim + k] = gen[src * dim + k];
  });
  const x = sizes.map((n) => 1 / n);
  const y = sizes.map((n) => frechetDistanceFromFeatures(real, nReal, shuffled.subarray(0, n * dim), n, dim, ddof));
  const mx = x.reduce((a, b) => a + b) / x.length,
    my = y.reduce((a, b) => a + b) / y.length;
  let sxy = 0,
    sxx = 0;
  x.forEach((xi, i) => {
    sxy += (xi - mx) * (y[i] - my);
    sxx += (xi - mx) ** 2;
  });
  const slope = sxy / sxx;
  return { value: my - slope * mx, slope, sizes };
}
