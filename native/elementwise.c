// Elementwise kernels that replace tfjs' JS loops on the cpu backend (broadcasting binary ops,
// sums over axes, strided gathers for transpose/slice/tile) and the fused Adam step.
#include "kernels.h"
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>

static int64_t shape_total(const int* shape, int rank) {
  int64_t t = 1;
  for (int i = 0; i < rank; i++) t *= shape[i];
  return t;
}

// binary(op, a, b, {shape, aStrides, bStrides}, out): broadcasting
// elementwise op over an (already collapsed) output shape; strides are 0 on broadcast axes.
// op: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min, 6 squared difference.
napi_value rlo_binary(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int op;
  float *a, *b, *out;
  size_t la, lb, lo;
  int shape[RLO_MAX_RANK], sa[RLO_MAX_RANK], sb[RLO_MAX_RANK], rank, ra, rb;
  if (!rlo_get_args(env, info, 5, argv, "binary") || napi_get_value_int32(env, argv[0], &op) != napi_ok || !rlo_get_f32(env, argv[1], &a, &la) ||
      !rlo_get_f32(env, argv[2], &b, &lb) || !rlo_get_f32(env, argv[4], &out, &lo)) return NULL;
  if (!rlo_int_list_field(env, argv[3], "shape", shape, RLO_MAX_RANK, &rank) || !rlo_int_list_field(env, argv[3], "aStrides", sa, RLO_MAX_RANK, &ra) ||
      !rlo_int_list_field(env, argv[3], "bStrides", sb, RLO_MAX_RANK, &rb)) return NULL;
  if (rank < 1 || ra != rank || rb != rank) { napi_throw_range_error(env, NULL, "rlo_native: binary shape and strides must have one rank >= 1"); return NULL; }
  const int64_t total = shape_total(shape, rank);
  if (!rlo_check_len(env, lo, (size_t)total, "output")) return NULL;
  const int64_t inner = shape[rank - 1];
  const int64_t outer = total / (inner ? inner : 1);
  const int ia = sa[rank - 1], ib = sb[rank - 1];
  #pragma omp parallel for schedule(static) if (total > 32768)
  for (int64_t o = 0; o < outer; o++) {
    int64_t rem = o, offa = 0, offb = 0;
    for (int d = rank - 2; d >= 0; d--) {
      const int64_t idx = rem % shape[d];
      rem /= shape[d];
      offa += idx * sa[d];
      offb += idx * sb[d];
    }
    const float* pa = a + offa;
    const float* pb = b + offb;
    float* po = out + o * inner;
    #define LOOP(EXPR) \
      if (ia == 1 && ib == 1) { for (int64_t i = 0; i < inner; i++) { const float x = pa[i], y = pb[i]; po[i] = (EXPR); } } \
      else if (ia == 1 && ib == 0) { const float y = pb[0]; for (int64_t i = 0; i < inner; i++) { const float x = pa[i]; po[i] = (EXPR); } } \
      else if (ia == 0 && ib == 1) { const float x = pa[0]; for (int64_t i = 0; i < inner; i++) { const float y = pb[i]; po[i] = (EXPR); } } \
      else { for (int64_t i = 0; i < inner; i++) { const float x = pa[i * ia], y = pb[i * ib]; po[i] = (EXPR); } }
    switch (op) {
      case 0: LOOP(x + y) break;
      case 1: LOOP(x - y) break;
      case 2: LOOP(x * y) break;
      case 3: LOOP(x / y) break;
      case 4: LOOP((x > y || x != x) ? x : y) break;
      case 5: LOOP((x < y || x != x) ? x : y) break;
      default: LOOP((x - y) * (x - y)) break;
    }
    #undef LOOP
  }
  return NULL;
}

// reduceSum(x, {shape, outStrides}, out): out[map(i)] += x[i] in input order,
// accumulated in double; outStrides are 0 on reduced axes.
napi_value rlo_reduce_sum(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  float *x, *out;
  size_t lx, lo;
  int shape[RLO_MAX_RANK], so[RLO_MAX_RANK], rank, rs;
  if (!rlo_get_args(env, info, 3, argv, "reduceSum") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_f32(env, argv[2], &out, &lo)) return NULL;
  if (!rlo_int_list_field(env, argv[1], "shape", shape, RLO_MAX_RANK, &rank) || !rlo_int_list_field(env, argv[1], "outStrides", so, RLO_MAX_RANK, &rs)) return NULL;
  if (rank < 1 || rs != rank) { napi_throw_range_error(env, NULL, "rlo_native: reduceSum shape and strides must have one rank >= 1"); return NULL; }
  const int64_t total = shape_total(shape, rank);
  if (!rlo_check_len(env, lx, (size_t)total, "x")) return NULL;
  double* acc = (double*)calloc(lo ? lo : 1, sizeof(double));
  if (!acc) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return NULL; }
  const int64_t inner = shape[rank - 1];
  const int64_t outer = total / (inner ? inner : 1);
  const int si = so[rank - 1];
  for (int64_t o = 0; o < outer; o++) {
    int64_t rem = o, off = 0;
    for (int d = rank - 2; d >= 0; d--) {
      const int64_t idx = rem % shape[d];
      rem /= shape[d];
      off += idx * so[d];
    }
    const float* px = x + o * inner;
    if (si == 0) {
      double s = 0;
      for (int64_t i = 0; i < inner; i++) s += px[i];
      acc[off] += s;
    } else {
      double* pa = acc + off;
      for (int64_t i = 0; i < inner; i++) pa[i * si] += px[i];
    }
  }
  for (size_t i = 0; i < lo; i++) out[i] = (float)acc[i];
  free(acc);
  return NULL;
}

// gather(x, {shape (of the output), inStrides, mods, base}, out):
// out[o] = x[base + sum_d ((o_d mod mods_d) * inStrides_d)]; mods_d = 0 means no modulo.
// Covers Transpose, Slice, StridedSlice (positive strides) and Tile.
napi_value rlo_gather(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  float *x, *out;
  size_t lx, lo;
  int shape[RLO_MAX_RANK], st[RLO_MAX_RANK], md[RLO_MAX_RANK], rank, rs, rm, base32;
  if (!rlo_get_args(env, info, 3, argv, "gather") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_f32(env, argv[2], &out, &lo)) return NULL;
  if (!rlo_int_list_field(env, argv[1], "shape", shape, RLO_MAX_RANK, &rank) || !rlo_int_list_field(env, argv[1], "inStrides", st, RLO_MAX_RANK, &rs) ||
      !rlo_int_list_field(env, argv[1], "mods", md, RLO_MAX_RANK, &rm) || !rlo_int_field(env, argv[1], "base", &base32)) return NULL;
  if (rank < 1 || rs != rank || rm != rank) { napi_throw_range_error(env, NULL, "rlo_native: gather shape, strides and mods must have one rank >= 1"); return NULL; }
  const int64_t base = base32;
  const int64_t total = shape_total(shape, rank);
  if (!rlo_check_len(env, lo, (size_t)total, "output")) return NULL;
  const int64_t inner = shape[rank - 1];
  const int64_t outer = total / (inner ? inner : 1);
  const int si = st[rank - 1], mi = md[rank - 1];
  #pragma omp parallel for schedule(static) if (total > 32768)
  for (int64_t o = 0; o < outer; o++) {
    int64_t rem = o, off = base;
    for (int d = rank - 2; d >= 0; d--) {
      int64_t idx = rem % shape[d];
      rem /= shape[d];
      if (md[d]) idx %= md[d];
      off += idx * st[d];
    }
    float* po = out + o * inner;
    if (mi == 0 && si == 1) memcpy(po, x + off, sizeof(float) * inner);
    else for (int64_t i = 0; i < inner; i++) po[i] = x[off + (mi ? i % mi : i) * si];
  }
  return NULL;
}

// adamUpdate(p, m, v, g, {lr, beta1, beta2, eps, t, apply}, p1, m1, v1): one Adam step of one
// variable as torch.optim.Adam computes it (src/ops/adam_update.ts), in one pass. The float32
// operations follow the tfjs fallback's order; the bias corrections are computed once, in double.
napi_value rlo_adam_update(napi_env env, napi_callback_info info) {
  napi_value argv[8];
  float *p, *m, *v, *g, *p1, *m1, *v1;
  size_t lp, lm, lv, lg, lp1, lm1, lv1;
  double h[6];
  int applied;
  if (!rlo_get_args(env, info, 8, argv, "adamUpdate") || !rlo_get_f32(env, argv[0], &p, &lp) || !rlo_get_f32(env, argv[1], &m, &lm) || !rlo_get_f32(env, argv[2], &v, &lv) ||
      !rlo_get_f32(env, argv[3], &g, &lg) || !rlo_get_f32(env, argv[5], &p1, &lp1) || !rlo_get_f32(env, argv[6], &m1, &lm1) || !rlo_get_f32(env, argv[7], &v1, &lv1)) return NULL;
  if (!rlo_double_field(env, argv[4], "lr", &h[0]) || !rlo_double_field(env, argv[4], "beta1", &h[1]) || !rlo_double_field(env, argv[4], "beta2", &h[2]) ||
      !rlo_double_field(env, argv[4], "eps", &h[3]) || !rlo_double_field(env, argv[4], "t", &h[4]) || !rlo_bool_field(env, argv[4], "apply", &applied)) return NULL;
  h[5] = applied;
  if (!rlo_check_len(env, lm, lp, "m") || !rlo_check_len(env, lv, lp, "v") || !rlo_check_len(env, lg, lp, "g") || !rlo_check_len(env, lp1, lp, "p'") ||
      !rlo_check_len(env, lm1, lp, "m'") || !rlo_check_len(env, lv1, lp, "v'")) return NULL;
  const int64_t n = (int64_t)lp;
  if (h[5] == 0) {  // not applied: everything keeps its value
    memcpy(p1, p, sizeof(float) * lp); memcpy(m1, m, sizeof(float) * lp); memcpy(v1, v, sizeof(float) * lp);
    return NULL;
  }
  const float b1 = (float)h[1], b2 = (float)h[2], eps = (float)h[3];
  const float c1 = (float)(1.0 - (double)b1), c2 = (float)(1.0 - (double)b2);
  const float t = (float)h[4];
  // As the fallback: stepSize = lr / (1 - beta1^t), sqrtBc2 = sqrt(1 - beta2^t), in float32.
  const float step = (1.f / (1.f - powf(b1, t))) * (float)h[0];
  const float sqrt_bc2 = sqrtf(1.f - powf(b2, t));
  #pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * c1;
    const float vi = v[i] * b2 + (gi * gi) * c2;
    m1[i] = mi;
    v1[i] = vi;
    p1[i] = p[i] - (mi / (sqrtf(vi) / sqrt_bc2 + eps)) * step;
  }
  return NULL;
}

// sparseMap(x, idx, w|null, {p, k, m, c, transpose}, out): the augmentation's fixed sparse linear
// maps (src/ops/sparse_map.ts) over rows of c floats. Forward: out[p] = sum_k w[p, k] * x[idx[p, k]]
// (x: m rows, out: p rows). Transposed: out[idx[p, k]] += w[p, k] * x[p] (x: p rows, out: m rows),
// in one thread, in row order (rows of out receive from many p). w = null means all ones.
napi_value rlo_sparse_map(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  float *x, *w, *out;
  int32_t* idx;
  size_t lx, li, lw, lo;
  int P, K, M, C, transpose;
  if (!rlo_get_args(env, info, 5, argv, "sparseMap") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_i32(env, argv[1], &idx, &li) ||
      !rlo_get_f32_opt(env, argv[2], &w, &lw) || !rlo_get_f32(env, argv[4], &out, &lo)) return NULL;
  if (!rlo_int_field(env, argv[3], "p", &P) || !rlo_int_field(env, argv[3], "k", &K) || !rlo_int_field(env, argv[3], "m", &M) ||
      !rlo_int_field(env, argv[3], "c", &C) || !rlo_bool_field(env, argv[3], "transpose", &transpose)) return NULL;
  if (P < 0 || K < 1 || M < 0 || C < 1) { napi_throw_range_error(env, NULL, "rlo_native: sparseMap sizes must be p, m >= 0 and k, c >= 1"); return NULL; }
  const size_t taps = (size_t)P * K, in_rows = transpose ? (size_t)P : (size_t)M, out_rows = transpose ? (size_t)M : (size_t)P;
  if (!rlo_check_len(env, li, taps, "idx") || (w && !rlo_check_len(env, lw, taps, "w")) || !rlo_check_len(env, lx, in_rows * C, "x") ||
      !rlo_check_len(env, lo, out_rows * C, "output")) return NULL;
  for (size_t t = 0; t < taps; t++) {
    if (idx[t] < 0 || idx[t] >= M) { napi_throw_range_error(env, NULL, "rlo_native: sparseMap index out of range"); return NULL; }
  }
  if (!transpose) {
    #pragma omp parallel for schedule(static) if (taps * (size_t)C > 65536)
    for (int64_t p = 0; p < P; p++) {
      float* o = out + p * C;
      for (int c = 0; c < C; c++) o[c] = 0.f;
      for (int k = 0; k < K; k++) {
        const int64_t t = p * K + k;
        const float wt = w ? w[t] : 1.f;
        const float* s = x + (int64_t)idx[t] * C;
        for (int c = 0; c < C; c++) o[c] += wt * s[c];
      }
    }
  } else {
    memset(out, 0, sizeof(float) * out_rows * (size_t)C);
    for (int64_t p = 0; p < P; p++) {
      const float* s = x + p * C;
      for (int k = 0; k < K; k++) {
        const int64_t t = p * K + k;
        const float wt = w ? w[t] : 1.f;
        float* o = out + (int64_t)idx[t] * C;
        for (int c = 0; c < C; c++) o[c] += wt * s[c];
      }
    }
  }
  return NULL;
}
