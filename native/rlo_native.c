// Native CPU kernels for stylegan-rlo: convolution (forward, input and filter gradients) as
// im2col + sgemm (gemm.c), and depthwise FIR filtering. NHWC activations, filters [kh, kw, in, out].
// Registered as tfjs cpu-backend kernels by src/native/kernels.ts.
#include <node_api.h>
#include "gemm.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <omp.h>
#include <math.h>
#include <stdbool.h>

// Rows of the im2col matrix per chunk (rows * K floats): 4 MiB stays in the L2/L3 caches between
// im2col writing it and the GEMM reading it; 32 MiB chunks made a 32x32 conv 3x slower.
#define CHUNK_FLOATS (1024 * 1024)

typedef struct {
  int n, h, w, c;          // input
  int kh, kw, o;           // filter
  int oh, ow;              // output
  int sh, sw, dh, dw;      // strides, dilations
  int pt, pl;              // padding top/left
} ConvGeom;

// ---- N-API helpers -----------------------------------------------------------------------

static int get_f32(napi_env env, napi_value v, float** data, size_t* len) {
  napi_typedarray_type type;
  size_t length;
  void* ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, &length, &ptr, &ab, &off) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, NULL, "rlo_native: expected a Float32Array");
    return 0;
  }
  *data = (float*)ptr;
  *len = length;
  return 1;
}

static int get_ints(napi_env env, napi_value arr, int* out, uint32_t n) {
  uint32_t len;
  if (napi_get_array_length(env, arr, &len) != napi_ok || len != n) {
    napi_throw_type_error(env, NULL, "rlo_native: expected an array of integers");
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, arr, i, &e);
    if (napi_get_value_int32(env, e, &out[i]) != napi_ok) {
      napi_throw_type_error(env, NULL, "rlo_native: expected an integer");
      return 0;
    }
  }
  return 1;
}

// geometry array: [n,h,w,c, kh,kw,o, oh,ow, sh,sw, dh,dw, pt,pl]
static int get_geom(napi_env env, napi_value arr, ConvGeom* g) {
  int v[15];
  if (!get_ints(env, arr, v, 15)) return 0;
  g->n = v[0]; g->h = v[1]; g->w = v[2]; g->c = v[3];
  g->kh = v[4]; g->kw = v[5]; g->o = v[6];
  g->oh = v[7]; g->ow = v[8];
  g->sh = v[9]; g->sw = v[10]; g->dh = v[11]; g->dw = v[12];
  g->pt = v[13]; g->pl = v[14];
  return 1;
}

static int check_len(napi_env env, size_t got, size_t want, const char* what) {
  if (got != want) {
    char msg[160];
    snprintf(msg, sizeof msg, "rlo_native: %s has %zu values, expected %zu", what, got, want);
    napi_throw_range_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  return rlo_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// Parses (Float32Array a, Float32Array b, geometry, Float32Array out): the shape of every
// convolution-style entry point. Returns 0 with an exception pending on bad arguments.
typedef struct { float *a, *b, *out; size_t la, lb, lo; ConvGeom g; } ConvArgs;

static int conv_args(napi_env env, napi_callback_info info, ConvArgs* c) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 4) { napi_throw_type_error(env, NULL, "rlo_native: expected 4 arguments"); return 0; }
  return get_f32(env, argv[0], &c->a, &c->la) && get_f32(env, argv[1], &c->b, &c->lb) && get_geom(env, argv[2], &c->g) && get_f32(env, argv[3], &c->out, &c->lo);
}

// ---- im2col / col2im ---------------------------------------------------------------------

// Rows [r0, r0+rows) of the im2col matrix (row = (img, oy, ox), col = (ky, kx, ci)).
static void im2col(const ConvGeom* g, const float* x, float* col, int64_t r0, int64_t rows) {
  const int64_t K = (int64_t)g->kh * g->kw * g->c;
  const int64_t per_img = (int64_t)g->oh * g->ow;
  #pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t row = r0 + r;
    const int64_t img = row / per_img;
    const int oy = (int)((row % per_img) / g->ow), ox = (int)(row % g->ow);
    float* dst = col + r * K;
    for (int ky = 0; ky < g->kh; ky++) {
      const int iy = oy * g->sh - g->pt + ky * g->dh;
      for (int kx = 0; kx < g->kw; kx++, dst += g->c) {
        const int ix = ox * g->sw - g->pl + kx * g->dw;
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) memset(dst, 0, sizeof(float) * g->c);
        else memcpy(dst, x + ((img * g->h + iy) * (int64_t)g->w + ix) * g->c, sizeof(float) * g->c);
      }
    }
  }
}

// Adds rows [r0, r0+rows) of a column matrix back into dx. Parallel over images so that no two
// threads write the same pixel; rows of one image stay in one thread.
static void col2im(const ConvGeom* g, const float* col, float* dx, int64_t r0, int64_t rows) {
  const int64_t K = (int64_t)g->kh * g->kw * g->c;
  const int64_t per_img = (int64_t)g->oh * g->ow;
  const int64_t img0 = r0 / per_img, img1 = (r0 + rows - 1) / per_img;
  #pragma omp parallel for schedule(static)
  for (int64_t img = img0; img <= img1; img++) {
    int64_t a = img * per_img, b = a + per_img;
    if (a < r0) a = r0;
    if (b > r0 + rows) b = r0 + rows;
    for (int64_t row = a; row < b; row++) {
      const int oy = (int)((row % per_img) / g->ow), ox = (int)(row % g->ow);
      const float* src = col + (row - r0) * K;
      for (int ky = 0; ky < g->kh; ky++) {
        const int iy = oy * g->sh - g->pt + ky * g->dh;
        for (int kx = 0; kx < g->kw; kx++, src += g->c) {
          const int ix = ox * g->sw - g->pl + kx * g->dw;
          if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) continue;
          float* d = dx + ((img * g->h + iy) * (int64_t)g->w + ix) * g->c;
          for (int ci = 0; ci < g->c; ci++) d[ci] += src[ci];
        }
      }
    }
  }
}

// A 1x1, stride-1, unpadded convolution is a plain matrix product over pixels.
static int is_pointwise(const ConvGeom* g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->oh == g->h && g->ow == g->w;
}

static int64_t chunk_rows(const ConvGeom* g) {
  const int64_t K = (int64_t)g->kh * g->kw * g->c;
  int64_t r = CHUNK_FLOATS / (K > 0 ? K : 1);
  return r < 1 ? 1 : r;
}

// ---- kernels -----------------------------------------------------------------------------

// Forward convolution into `out`; returns 0 on failure (an exception is pending).
static int conv_forward(napi_env env, const ConvGeom* g, const float* x, const float* w, float* out) {
  const int64_t M = (int64_t)g->n * g->oh * g->ow, K = (int64_t)g->kh * g->kw * g->c;
  if (is_pointwise(g)) {
    if (!sgemm('N', 'N', M, g->o, K, 1.f, x, K, w, g->o, 0.f, out, g->o)) goto fail;
    return 1;
  }
  {
    const int64_t cr = chunk_rows(g);
    float* col = (float*)malloc(sizeof(float) * (size_t)(cr < M ? cr : M) * (size_t)K);
    if (!col) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return 0; }
    for (int64_t r0 = 0; r0 < M; r0 += cr) {
      const int64_t rows = (M - r0 < cr) ? M - r0 : cr;
      im2col(g, x, col, r0, rows);
      if (!sgemm('N', 'N', rows, g->o, K, 1.f, col, K, w, g->o, 0.f, out + r0 * g->o, g->o)) { free(col); goto fail; }
    }
    free(col);
  }
  return 1;
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return 0;
}

// conv2d(x, w, geom, out)
static napi_value conv2d(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c)) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *w = c.b, *out = c.out;
  const size_t lx = c.la, lw = c.lb, lo = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!check_len(env, lx, (size_t)g.n * g.h * g.w * g.c, "x") || !check_len(env, lw, (size_t)(K * g.o), "filter") || !check_len(env, lo, (size_t)(M * g.o), "output")) return NULL;
  conv_forward(env, &g, x, w, out);
  return NULL;
}

// conv2dBackpropInput(dy, w, geom, dx): dx = col2im(dy @ w^T)
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c)) return NULL;
  const ConvGeom g = c.g;
  float *dy = c.a, *w = c.b, *dx = c.out;
  const size_t ldy = c.la, lw = c.lb, ldx = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!check_len(env, ldy, (size_t)(M * g.o), "dy") || !check_len(env, lw, (size_t)(K * g.o), "filter") || !check_len(env, ldx, (size_t)g.n * g.h * g.w * g.c, "dx")) return NULL;
  if (is_pointwise(&g)) {
    if (!sgemm('N', 'T', M, K, g.o, 1.f, dy, g.o, w, g.o, 0.f, dx, K)) goto fail;
    return NULL;
  }
  if (g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1) {
    // Stride 1: dx is a forward correlation of dy with the spatially flipped, in/out-swapped
    // filter, padded by k-1-p: im2col + GEMM writes dx directly, no col2im scatter.
    const int64_t KO = (int64_t)g.kh * g.kw * g.o;
    float* wt = (float*)malloc(sizeof(float) * (size_t)(KO * g.c));
    if (!wt) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return NULL; }
    for (int ky = 0; ky < g.kh; ky++) for (int kx = 0; kx < g.kw; kx++) for (int ci = 0; ci < g.c; ci++) for (int o = 0; o < g.o; o++) {
      wt[(((int64_t)ky * g.kw + kx) * g.o + o) * g.c + ci] = w[(((int64_t)(g.kh - 1 - ky) * g.kw + (g.kw - 1 - kx)) * g.c + ci) * g.o + o];
    }
    ConvGeom t = g;
    t.h = g.oh; t.w = g.ow; t.c = g.o; t.o = g.c; t.oh = g.h; t.ow = g.w;
    t.pt = g.kh - 1 - g.pt; t.pl = g.kw - 1 - g.pl;
    conv_forward(env, &t, dy, wt, dx);
    free(wt);
    return NULL;
  }
  memset(dx, 0, sizeof(float) * ldx);
  {
    const int64_t cr = chunk_rows(&g);
    float* col = (float*)malloc(sizeof(float) * (size_t)(cr < M ? cr : M) * (size_t)K);
    if (!col) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return NULL; }
    for (int64_t r0 = 0; r0 < M; r0 += cr) {
      const int64_t rows = (M - r0 < cr) ? M - r0 : cr;
      if (!sgemm('N', 'T', rows, K, g.o, 1.f, dy + r0 * g.o, g.o, w, g.o, 0.f, col, K)) { free(col); goto fail; }
      col2im(&g, col, dx, r0, rows);
    }
    free(col);
  }
  return NULL;
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return NULL;
}

// conv2dBackpropFilter(x, dy, geom, dw): dw = im2col(x)^T @ dy
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c)) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *dy = c.b, *dw = c.out;
  const size_t lx = c.la, ldy = c.lb, ldw = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!check_len(env, lx, (size_t)g.n * g.h * g.w * g.c, "x") || !check_len(env, ldy, (size_t)(M * g.o), "dy") || !check_len(env, ldw, (size_t)(K * g.o), "dw")) return NULL;
  if (is_pointwise(&g)) {
    if (!sgemm('T', 'N', K, g.o, M, 1.f, x, K, dy, g.o, 0.f, dw, g.o)) goto fail;
    return NULL;
  }
  {
    const int64_t cr = chunk_rows(&g);
    float* col = (float*)malloc(sizeof(float) * (size_t)(cr < M ? cr : M) * (size_t)K);
    if (!col) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return NULL; }
    for (int64_t r0 = 0; r0 < M; r0 += cr) {
      const int64_t rows = (M - r0 < cr) ? M - r0 : cr;
      im2col(&g, x, col, r0, rows);
      if (!sgemm('T', 'N', K, g.o, rows, 1.f, col, K, dy + r0 * g.o, g.o, r0 == 0 ? 0.f : 1.f, dw, g.o)) { free(col); goto fail; }
    }
    free(col);
  }
  return NULL;
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return NULL;
}

// depthwiseConv2d(x, f, geom, out) with channel multiplier 1: geom.o == geom.c, f [kh, kw, c].
static napi_value depthwise_conv2d(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c)) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *f = c.b, *out = c.out;
  const size_t lx = c.la, lf = c.lb, lo = c.lo;
  const int C = g.c;
  if (!check_len(env, lx, (size_t)g.n * g.h * g.w * C, "x") || !check_len(env, lf, (size_t)g.kh * g.kw * C, "filter") || !check_len(env, lo, (size_t)g.n * g.oh * g.ow * C, "output")) return NULL;
  const int64_t rows = (int64_t)g.n * g.oh;
  #pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t img = r / g.oh;
    const int oy = (int)(r % g.oh);
    for (int ox = 0; ox < g.ow; ox++) {
      float* d = out + ((r * g.ow) + ox) * C;
      for (int ci = 0; ci < C; ci++) d[ci] = 0.f;
      for (int ky = 0; ky < g.kh; ky++) {
        const int iy = oy * g.sh - g.pt + ky * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int kx = 0; kx < g.kw; kx++) {
          const int ix = ox * g.sw - g.pl + kx * g.dw;
          if (ix < 0 || ix >= g.w) continue;
          const float* s = x + ((img * g.h + iy) * (int64_t)g.w + ix) * C;
          const float* fk = f + ((int64_t)ky * g.kw + kx) * C;
          for (int ci = 0; ci < C; ci++) d[ci] += s[ci] * fk[ci];
        }
      }
    }
  }
  return NULL;
}

// matmul(a, b, [batch, m, k, n, transA, transB, aBatched, bBatched], out): batched row-major sgemm.
static napi_value matmul(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int p[8];
  float *a, *b, *out;
  size_t la, lb, lo;
  if (argc != 4 || !get_f32(env, argv[0], &a, &la) || !get_f32(env, argv[1], &b, &lb) || !get_ints(env, argv[2], p, 8) || !get_f32(env, argv[3], &out, &lo)) return NULL;
  const int batch = p[0], m = p[1], k = p[2], n = p[3], ta = p[4], tb = p[5], ab = p[6], bb = p[7];
  if (!check_len(env, la, (size_t)(ab ? batch : 1) * m * k, "a") || !check_len(env, lb, (size_t)(bb ? batch : 1) * k * n, "b") || !check_len(env, lo, (size_t)batch * m * n, "output")) return NULL;
  for (int i = 0; i < batch; i++) {
    const float* ai = a + (ab ? (int64_t)i * m * k : 0);
    const float* bi = b + (bb ? (int64_t)i * k * n : 0);
    if (!sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, ai, ta ? m : k, bi, tb ? k : n, 0.f, out + (int64_t)i * m * n, n)) {
      napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
      return NULL;
    }
  }
  return NULL;
}

// ---- fused ops and elementwise kernels -------------------------------------------------

static int get_f32_opt(napi_env env, napi_value v, float** data, size_t* len) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t == napi_null || t == napi_undefined) { *data = NULL; *len = 0; return 1; }
  return get_f32(env, v, data, len);
}

static int get_double(napi_env env, napi_value v, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "rlo_native: expected a number");
    return 0;
  }
  return 1;
}

// biasAct(x, b|null, [C, act], [alpha, gain, clamp], y, mask|null): y = clamp(act(x + b) * gain);
// mask = dy/dx (0 where clamped). act: 0 linear, 1 relu, 2 lrelu; clamp < 0 disables clamping.
static napi_value bias_act(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *b, *y, *mask;
  size_t lx, lb, ly, lm;
  int ip[2];
  napi_value e;
  double alpha, gain, clamp;
  if (argc != 6 || !get_f32(env, argv[0], &x, &lx) || !get_f32_opt(env, argv[1], &b, &lb) || !get_ints(env, argv[2], ip, 2)) return NULL;
  napi_get_element(env, argv[3], 0, &e); if (!get_double(env, e, &alpha)) return NULL;
  napi_get_element(env, argv[3], 1, &e); if (!get_double(env, e, &gain)) return NULL;
  napi_get_element(env, argv[3], 2, &e); if (!get_double(env, e, &clamp)) return NULL;
  if (!get_f32(env, argv[4], &y, &ly) || !get_f32_opt(env, argv[5], &mask, &lm)) return NULL;
  const int64_t C = ip[0];
  const int act = ip[1];
  if (C <= 0 || lx % C != 0 || (b && lb != (size_t)C) || !check_len(env, ly, lx, "y") || (mask && !check_len(env, lm, lx, "mask"))) {
    napi_throw_range_error(env, NULL, "rlo_native: biasAct shapes do not agree");
    return NULL;
  }
  const float fa = (float)alpha, fg = (float)gain, fc = (float)clamp;
  const int64_t rows = (int64_t)lx / C;
  #pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * C;
    float* yr = y + r * C;
    float* mr = mask ? mask + r * C : NULL;
    for (int64_t c = 0; c < C; c++) {
      float v = xr[c] + (b ? b[c] : 0.f);
      float d = fg;
      if (act == 1) { if (!(v > 0.f)) { v = 0.f; d = 0.f; } }
      else if (act == 2) { if (!(v > 0.f)) { v *= fa; d = fg * fa; } }
      v *= fg;
      if (fc >= 0.f) {
        if (fabsf(v) > fc) { d = 0.f; v = v > 0.f ? fc : -fc; }
      }
      yr[c] = v;
      if (mr) mr[c] = d;
    }
  }
  return NULL;
}

// adamUpdate(p, m, v, g, [lr, beta1, beta2, eps, t, apply], p1, m1, v1): one Adam step of one
// variable as torch.optim.Adam computes it (src/ops/adam_update.ts), in one pass. The float32
// operations follow the tfjs fallback's order; the bias corrections are computed once, in double.
static napi_value adam_update(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *p, *m, *v, *g, *p1, *m1, *v1;
  size_t lp, lm, lv, lg, lp1, lm1, lv1;
  double h[6];
  if (argc != 8 || !get_f32(env, argv[0], &p, &lp) || !get_f32(env, argv[1], &m, &lm) || !get_f32(env, argv[2], &v, &lv) ||
      !get_f32(env, argv[3], &g, &lg) || !get_f32(env, argv[5], &p1, &lp1) || !get_f32(env, argv[6], &m1, &lm1) || !get_f32(env, argv[7], &v1, &lv1)) return NULL;
  for (uint32_t i = 0; i < 6; i++) {
    napi_value e;
    if (napi_get_element(env, argv[4], i, &e) != napi_ok || !get_double(env, e, &h[i])) return NULL;
  }
  if (!check_len(env, lm, lp, "m") || !check_len(env, lv, lp, "v") || !check_len(env, lg, lp, "g") || !check_len(env, lp1, lp, "p'") ||
      !check_len(env, lm1, lp, "m'") || !check_len(env, lv1, lp, "v'")) return NULL;
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

// upfirdn2d(x, taps, [n,h,w,c, fh,fw, upx,upy, downx,downy, px0,px1,py0,py1, oh,ow], out): NHWC.
// `taps` are in correlation order and already scaled: out = sum U(oy*dy+ky, ox*dx+kx) * taps[ky,kx],
// U the zero-inserted, padded input.
static napi_value upfirdn2d(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *taps, *out;
  size_t lx, lt, lo;
  int p[16];
  if (argc != 4 || !get_f32(env, argv[0], &x, &lx) || !get_f32(env, argv[1], &taps, &lt) || !get_ints(env, argv[2], p, 16) || !get_f32(env, argv[3], &out, &lo)) return NULL;
  const int n = p[0], h = p[1], w = p[2], c = p[3], fh = p[4], fw = p[5], upx = p[6], upy = p[7], dnx = p[8], dny = p[9];
  const int px0 = p[10], py0 = p[12], oh = p[14], ow = p[15];
  if (!check_len(env, lx, (size_t)n * h * w * c, "x") || !check_len(env, lt, (size_t)fh * fw, "taps") || !check_len(env, lo, (size_t)n * oh * ow * c, "output")) return NULL;
  const int64_t rows = (int64_t)n * oh;
  #pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t img = r / oh;
    const int oy = (int)(r % oh);
    for (int ox = 0; ox < ow; ox++) {
      float* d = out + (r * ow + ox) * c;
      for (int ch = 0; ch < c; ch++) d[ch] = 0.f;
      for (int ky = 0; ky < fh; ky++) {
        const int yy = oy * dny + ky - py0;
        if (yy < 0 || yy % upy) continue;
        const int iy = yy / upy;
        if (iy >= h) continue;
        for (int kx = 0; kx < fw; kx++) {
          const int xx = ox * dnx + kx - px0;
          if (xx < 0 || xx % upx) continue;
          const int ix = xx / upx;
          if (ix >= w) continue;
          const float t = taps[ky * fw + kx];
          const float* s = x + ((img * h + iy) * (int64_t)w + ix) * c;
          for (int ch = 0; ch < c; ch++) d[ch] += s[ch] * t;
        }
      }
    }
  }
  return NULL;
}

#define MAXR 8

// Reads [rank, <lists> arrays of rank ints, <extra> ints] into p; returns the rank or 0 (an
// exception is pending).
static int get_ranked(napi_env env, napi_value arr, int lists, int extra, int* p, const char* what) {
  uint32_t plen = 0;
  if (napi_get_array_length(env, arr, &plen) != napi_ok || plen < 1 || plen > (uint32_t)(1 + lists * MAXR + extra) || !get_ints(env, arr, p, plen)) {
    if (plen < 1 || plen > (uint32_t)(1 + lists * MAXR + extra)) napi_throw_range_error(env, NULL, what);
    return 0;
  }
  const int rank = p[0];
  if (rank < 1 || rank > MAXR || plen != (uint32_t)(1 + lists * rank + extra)) { napi_throw_range_error(env, NULL, what); return 0; }
  return rank;
}

static int64_t shape_total(const int* shape, int rank) {
  int64_t t = 1;
  for (int i = 0; i < rank; i++) t *= shape[i];
  return t;
}

// binary(op, a, b, [rank, shape[rank], aStrides[rank], bStrides[rank]], out): broadcasting
// elementwise op over an (already collapsed) output shape; strides are 0 on broadcast axes.
// op: 0 add, 1 sub, 2 mul, 3 div, 4 max, 5 min, 6 squared difference.
static napi_value binary(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int op;
  float *a, *b, *out;
  size_t la, lb, lo;
  int p[1 + 3 * MAXR];
  if (argc != 5 || napi_get_value_int32(env, argv[0], &op) != napi_ok || !get_f32(env, argv[1], &a, &la) || !get_f32(env, argv[2], &b, &lb)) return NULL;
  const int rank = get_ranked(env, argv[3], 3, 0, p, "rlo_native: binary rank");
  if (!rank || !get_f32(env, argv[4], &out, &lo)) return NULL;
  const int* shape = p + 1;
  const int* sa = p + 1 + rank;
  const int* sb = p + 1 + 2 * rank;
  const int64_t total = shape_total(shape, rank);
  if (!check_len(env, lo, (size_t)total, "output")) return NULL;
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

// reduceSum(x, [rank, shape[rank], outStrides[rank]], out): out[map(i)] += x[i] in input order,
// accumulated in double; outStrides are 0 on reduced axes.
static napi_value reduce_sum(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *out;
  size_t lx, lo;
  int p[1 + 2 * MAXR];
  if (argc != 3 || !get_f32(env, argv[0], &x, &lx)) return NULL;
  const int rank = get_ranked(env, argv[1], 2, 0, p, "rlo_native: reduce rank");
  if (!rank || !get_f32(env, argv[2], &out, &lo)) return NULL;
  const int* shape = p + 1;
  const int* so = p + 1 + rank;
  const int64_t total = shape_total(shape, rank);
  if (!check_len(env, lx, (size_t)total, "x")) return NULL;
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

// gather(x, [rank, outShape[rank], inStrides[rank], mods[rank], base], out):
// out[o] = x[base + sum_d ((o_d mod mods_d) * inStrides_d)]; mods_d = 0 means no modulo.
// Covers Transpose, Slice, StridedSlice (positive strides) and Tile.
static napi_value gather(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *x, *out;
  size_t lx, lo;
  int p[2 + 3 * MAXR];
  if (argc != 3 || !get_f32(env, argv[0], &x, &lx)) return NULL;
  const int rank = get_ranked(env, argv[1], 3, 1, p, "rlo_native: gather rank");
  if (!rank || !get_f32(env, argv[2], &out, &lo)) return NULL;
  const int* shape = p + 1;
  const int* st = p + 1 + rank;
  const int* md = p + 1 + 2 * rank;
  const int64_t base = p[1 + 3 * rank];
  const int64_t total = shape_total(shape, rank);
  if (!check_len(env, lo, (size_t)total, "output")) return NULL;
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

// pool2d(x, geom, isMax, out): 2-D max or average pooling, NHWC; padded positions are skipped
// (TF semantics: the average counts valid inputs only, like torch's count_include_pad=False).
static napi_value pool2d(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  ConvGeom g;
  float *x, *out;
  size_t lx, lo;
  bool isMax = false;
  if (argc != 4 || !get_f32(env, argv[0], &x, &lx) || !get_geom(env, argv[1], &g) || napi_get_value_bool(env, argv[2], &isMax) != napi_ok || !get_f32(env, argv[3], &out, &lo)) return NULL;
  const int C = g.c;
  if (!check_len(env, lx, (size_t)g.n * g.h * g.w * C, "x") || !check_len(env, lo, (size_t)g.n * g.oh * g.ow * C, "output")) return NULL;
  const int64_t rows = (int64_t)g.n * g.oh;
  #pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    const int64_t img = r / g.oh;
    const int oy = (int)(r % g.oh);
    for (int ox = 0; ox < g.ow; ox++) {
      float* d = out + (r * g.ow + ox) * C;
      for (int ci = 0; ci < C; ci++) d[ci] = isMax ? -INFINITY : 0.f;
      int count = 0;
      for (int ky = 0; ky < g.kh; ky++) {
        const int iy = oy * g.sh - g.pt + ky * g.dh;
        if (iy < 0 || iy >= g.h) continue;
        for (int kx = 0; kx < g.kw; kx++) {
          const int ix = ox * g.sw - g.pl + kx * g.dw;
          if (ix < 0 || ix >= g.w) continue;
          const float* s = x + ((img * g.h + iy) * (int64_t)g.w + ix) * C;
          if (isMax) { for (int ci = 0; ci < C; ci++) if (s[ci] > d[ci] || s[ci] != s[ci]) d[ci] = s[ci]; }
          else { for (int ci = 0; ci < C; ci++) d[ci] += s[ci]; }
          count++;
        }
      }
      if (!isMax) { const float inv = count ? 1.f / count : 0.f; for (int ci = 0; ci < C; ci++) d[ci] *= inv; }
    }
  }
  return NULL;
}

static napi_value make_string(napi_env env, const char* s) {
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value info_fn(napi_env env, napi_callback_info info) {
  (void)info;
  char s[160];
  snprintf(s, sizeof s, "sgemm: %s, %d threads", rlo_gemm_describe(), omp_get_max_threads());
  return make_string(env, s);
}

// gemmSelect(engine): "ours", "ours:<kernel>", "onednn", "openblas"; returns whether it was selected.
static napi_value gemm_select(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char name[64];
  size_t len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc != 1 || napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "rlo_native: gemmSelect expects an engine name");
    return NULL;
  }
  napi_value r;
  napi_get_boolean(env, rlo_gemm_select(name), &r);
  return r;
}

static napi_value gemm_kernels(napi_env env, napi_callback_info info) { (void)info; return make_string(env, rlo_gemm_kernels()); }
static napi_value gemm_engines(napi_env env, napi_callback_info info) { (void)info; return make_string(env, rlo_gemm_engines()); }

// sgemm(a, b, c, [m, n, k, lda, ldb, ldc, transA, transB], alpha, beta): the raw GEMM, row-major,
// for tests and the GEMM benchmark. Sizes are checked against the arrays before anything is read.
static napi_value sgemm_fn(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  float *a, *b, *c;
  size_t la, lb, lc;
  int p[8];
  double alpha, beta;
  if (argc != 6 || !get_f32(env, argv[0], &a, &la) || !get_f32(env, argv[1], &b, &lb) || !get_f32(env, argv[2], &c, &lc) ||
      !get_ints(env, argv[3], p, 8) || !get_double(env, argv[4], &alpha) || !get_double(env, argv[5], &beta)) return NULL;
  const int64_t m = p[0], n = p[1], k = p[2], lda = p[3], ldb = p[4], ldc = p[5];
  const int ta = p[6], tb = p[7];
  const int64_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < acols || ldb < bcols || ldc < n || (arows > 0 && (size_t)((arows - 1) * lda + acols) > la) ||
      (brows > 0 && (size_t)((brows - 1) * ldb + bcols) > lb) || (m > 0 && (size_t)((m - 1) * ldc + n) > lc)) {
    napi_throw_range_error(env, NULL, "rlo_native: sgemm sizes do not fit the arrays");
    return NULL;
  }
  if (!rlo_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, (float)alpha, a, lda, b, ldb, (float)beta, c, ldc)) {
    napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  }
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int n = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc == 1 && napi_get_value_int32(env, argv[0], &n) == napi_ok && n > 0) omp_set_num_threads(n);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropInput", NULL, conv2d_backprop_input, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropFilter", NULL, conv2d_backprop_filter, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseConv2d", NULL, depthwise_conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"matmul", NULL, matmul, NULL, NULL, NULL, napi_default, NULL},
    {"biasAct", NULL, bias_act, NULL, NULL, NULL, napi_default, NULL},
    {"upfirdn2d", NULL, upfirdn2d, NULL, NULL, NULL, napi_default, NULL},
    {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
    {"reduceSum", NULL, reduce_sum, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, gather, NULL, NULL, NULL, napi_default, NULL},
    {"pool2d", NULL, pool2d, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, info_fn, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
    {"adamUpdate", NULL, adam_update, NULL, NULL, NULL, napi_default, NULL},
    {"sgemm", NULL, sgemm_fn, NULL, NULL, NULL, napi_default, NULL},
    {"gemmSelect", NULL, gemm_select, NULL, NULL, NULL, napi_default, NULL},
    {"gemmKernels", NULL, gemm_kernels, NULL, NULL, NULL, napi_default, NULL},
    {"gemmEngines", NULL, gemm_engines, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
