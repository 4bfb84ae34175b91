// Dense symmetric linear algebra in float64 for the Fréchet distance: eigen-decomposition
// (Householder + implicit QL), Cholesky, and tr(sqrt(S1 S2)) for PSD S1, S2 (one route: via
// Cholesky of S1, or the eigenvector route when S1 is singular).

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

/** tr(sqrt(S1 S2)) through sqrt(S1) S2 sqrt(S1) from a full eigen-decomposition: the route for singular S1. */
function traceSqrtProductEigen(s1: Float64Array, s2: Float64Array, n: number): number {
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
export function traceSqrtProduct(s1: Float64Array, s2: Float64Array, n: number): number {
  const L = cholesky(s1, n);
  if (!L) return traceSqrtProductEigen(s1, s2, n);
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
