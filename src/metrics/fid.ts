// FID and KID in float64.
//   FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr(sqrt(S1 S2)); tr(sqrt(S1 S2)) is computed as the
//   sum of sqrt(eigenvalues) of the symmetric PSD matrix sqrt(S1) S2 sqrt(S1) (the same value as
//   scipy's sqrtm route, and robust for near-singular covariances: negative round-off eigenvalues
//   are clamped to 0 instead of needing pytorch-fid's eps retry).
//   Covariance / (N-1) for the pytorch-fid protocol, / N for nvidia (stylegan2-ada-pytorch).
//   KID as stylegan2-ada-pytorch: subsets, unbiased MMD^2 with the kernel (x.y / d + 1)^3.

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

/** Eigen-decomposition of a symmetric matrix (Householder tridiagonalization + implicit QL). */
export function symmetricEigen(a: Float64Array, n: number, wantVectors = true): { values: Float64Array; vectors: Float64Array } {
  const V = Float64Array.from(a); // becomes the eigenvectors (columns)
  const d = new Float64Array(n),
    e = new Float64Array(n);
  // Householder reduction to tridiagonal form.
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0,
      h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  for (let i = 0; i < n - 1 && wantVectors; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  if (wantVectors) {
    for (let j = 0; j < n; j++) {
      d[j] = V[(n - 1) * n + j];
      V[(n - 1) * n + j] = 0;
    }
    V[(n - 1) * n + n - 1] = 1;
  } else {
    // Without accumulated transformations the diagonal is still in V's diagonal.
    for (let j = 0; j < n; j++) d[j] = V[j * n + j];
  }
  e[0] = 0;
  // Implicit QL iterations.
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0,
    tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 200) throw new Error('symmetricEigen: no convergence');
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1,
          c2 = c,
          c3 = c,
          s = 0,
          s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (wantVectors) {
            for (let k = 0; k < n; k++) {
              const vk = V[k * n + i + 1];
              V[k * n + i + 1] = s * V[k * n + i] + c * vk;
              V[k * n + i] = c * V[k * n + i] - s * vk;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  return { values: d, vectors: V };
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const ci = i * n;
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k];
      if (aik === 0) continue;
      const bk = k * n;
      for (let j = 0; j < n; j++) c[ci + j] += aik * b[bk + j];
    }
  }
  return c;
}

/** tr(sqrt(S1 S2)) for symmetric PSD S1, S2. */
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, n: number): number {
  const { values, vectors: V } = symmetricEigen(s1, n);
  // sqrt(S1) = V diag(sqrt(max(l, 0))) V^T
  const VD = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) VD[i * n + j] = V[i * n + j] * Math.sqrt(Math.max(values[j], 0));
  const Vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) Vt[j * n + i] = V[i * n + j];
  const R = matmul(VD, Vt, n);
  const M = matmul(matmul(R, s2, n), R, n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = (M[i * n + j] + M[j * n + i]) / 2;
      M[i * n + j] = v;
      M[j * n + i] = v;
    }
  const ev = symmetricEigen(M, n).values;
  let t = 0;
  for (const v of ev) t += Math.sqrt(Math.max(v, 0));
  return t;
}

/** Cholesky factor L (lower, row-major) of a symmetric matrix, or null if it is not positive definite. */
function cholesky(a: Float64Array, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) return null;
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      const li = i * n,
        lj = j * n;
      for (let k = 0; k < j; k++) s -= L[li + k] * L[lj + k];
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

/**
 * tr(sqrt(S1 S2)) for symmetric PSD matrices: with S1 = L L^T, S1 S2 is similar to the symmetric
 * L^T S2 L, so only its eigenvalues are needed; falls back to the eigenvector route when S1 is
 * singular.
 */
export function traceSqrtProductFast(s1: Float64Array, s2: Float64Array, n: number): number {
  const L = cholesky(s1, n);
  if (!L) return traceSqrtProduct(s1, s2, n);
  const Lt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) Lt[j * n + i] = L[i * n + j];
  const M = matmul(matmul(Lt, s2, n), L, n);
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const v = (M[i * n + j] + M[j * n + i]) / 2;
      M[i * n + j] = v;
      M[j * n + i] = v;
    }
  let t = 0;
  for (const v of symmetricEigen(M, n, false).values) t += Math.sqrt(Math.max(v, 0));
  return t;
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
  let A = center(f1, n1, s1.mu),
    B = center(f2, n2, s2.mu);
  let na = n1,
    nb = n2;
  if (na > nb) {
    [A, B] = [B, A];
    [na, nb] = [nb, na];
  }
  // K = (A B^T)(A B^T)^T, na x na.
  const M = new Float64Array(na * nb);
  for (let i = 0; i < na; i++)
    for (let j = 0; j < nb; j++) {
      let v = 0;
      for (let k = 0; k < dim; k++) v += A[i * dim + k] * B[j * dim + k];
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
  return m + t1 + t2 - 2 * traceSqrtProductFast(a.sigma, b.sigma, n);
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
