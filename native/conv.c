// Convolutions as im2col + sgemm (gemm.c): forward, input and filter gradients, depthwise FIR
// filtering, batched matmul and 2-D pooling. NHWC activations, filters [kh, kw, in, out]; the
// geometry arrives as a ConvGeom object {n, h, w, c, kh, kw, o, oh, ow, sh, sw, dh, dw, pt, pl}.
#include "kernels.h"
#include "gemm.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>

// Rows of the im2col matrix per chunk (rows * K floats): 4 MiB stays in the L2/L3 caches between
// im2col writing it and the GEMM reading it; 32 MiB chunks made a 32x32 conv 3x slower.
#define CHUNK_FLOATS (1024 * 1024)

static int sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                 const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  return rlo_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// (Float32Array a, Float32Array b, ConvGeom, Float32Array out): every convolution-style entry point.
typedef struct { float *a, *b, *out; size_t la, lb, lo; ConvGeom g; } ConvArgs;

static int conv_args(napi_env env, napi_callback_info info, ConvArgs* c, const char* fn) {
  napi_value argv[4];
  return rlo_get_args(env, info, 4, argv, fn) && rlo_get_f32(env, argv[0], &c->a, &c->la) && rlo_get_f32(env, argv[1], &c->b, &c->lb) &&
         rlo_get_conv_geom(env, argv[2], &c->g) && rlo_get_f32(env, argv[3], &c->out, &c->lo);
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

// The passes of a convolution that go through the im2col matrix, chunk by chunk of its rows.
typedef enum { PASS_FORWARD, PASS_INPUT_GRAD, PASS_FILTER_GRAD } ConvPass;

// One chunked loop for the three passes (rows of the im2col matrix = output pixels):
//   forward      out[rows]  = im2col(x)[rows] @ w                       (a = x,  b = w,  out)
//   input grad   dx        += col2im(dy[rows] @ w^T)                    (a = dy, b = w,  out = dx, zeroed by the caller)
//   filter grad  dw        += im2col(x)[rows]^T @ dy[rows]              (a = x,  b = dy, out = dw)
// Returns 0 on failure with an exception pending.
static int chunked_conv(napi_env env, const ConvGeom* g, ConvPass pass, const float* a, const float* b, float* out) {
  const int64_t M = (int64_t)g->n * g->oh * g->ow, K = (int64_t)g->kh * g->kw * g->c;
  const int64_t cr = chunk_rows(g);
  float* col = (float*)malloc(sizeof(float) * (size_t)(cr < M ? cr : M) * (size_t)K);
  if (!col) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return 0; }
  int ok = 1;
  for (int64_t r0 = 0; r0 < M && ok; r0 += cr) {
    const int64_t rows = (M - r0 < cr) ? M - r0 : cr;
    switch (pass) {
      case PASS_FORWARD:
        im2col(g, a, col, r0, rows);
        ok = sgemm('N', 'N', rows, g->o, K, 1.f, col, K, b, g->o, 0.f, out + r0 * g->o, g->o);
        break;
      case PASS_INPUT_GRAD:
        ok = sgemm('N', 'T', rows, K, g->o, 1.f, a + r0 * g->o, g->o, b, g->o, 0.f, col, K);
        if (ok) col2im(g, col, out, r0, rows);
        break;
      case PASS_FILTER_GRAD:
        im2col(g, a, col, r0, rows);
        ok = sgemm('T', 'N', K, g->o, rows, 1.f, col, K, b + r0 * g->o, g->o, r0 == 0 ? 0.f : 1.f, out, g->o);
        break;
    }
  }
  free(col);
  if (!ok) napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return ok;
}

// Forward convolution into `out`; returns 0 on failure (an exception is pending).
static int conv_forward(napi_env env, const ConvGeom* g, const float* x, const float* w, float* out) {
  const int64_t M = (int64_t)g->n * g->oh * g->ow, K = (int64_t)g->kh * g->kw * g->c;
  if (is_pointwise(g)) {
    if (!sgemm('N', 'N', M, g->o, K, 1.f, x, K, w, g->o, 0.f, out, g->o)) goto fail;
    return 1;
  }
  return chunked_conv(env, g, PASS_FORWARD, x, w, out);
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return 0;
}

// conv2d(x, w, geom, out)
napi_value rlo_conv2d(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c, "conv2d")) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *w = c.b, *out = c.out;
  const size_t lx = c.la, lw = c.lb, lo = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!rlo_check_len(env, lx, (size_t)g.n * g.h * g.w * g.c, "x") || !rlo_check_len(env, lw, (size_t)(K * g.o), "filter") || !rlo_check_len(env, lo, (size_t)(M * g.o), "output")) return NULL;
  conv_forward(env, &g, x, w, out);
  return NULL;
}

// conv2dBackpropInput(dy, w, geom, dx): dx = col2im(dy @ w^T)
napi_value rlo_conv2d_backprop_input(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c, "conv2dBackpropInput")) return NULL;
  const ConvGeom g = c.g;
  float *dy = c.a, *w = c.b, *dx = c.out;
  const size_t ldy = c.la, lw = c.lb, ldx = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!rlo_check_len(env, ldy, (size_t)(M * g.o), "dy") || !rlo_check_len(env, lw, (size_t)(K * g.o), "filter") || !rlo_check_len(env, ldx, (size_t)g.n * g.h * g.w * g.c, "dx")) return NULL;
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
  chunked_conv(env, &g, PASS_INPUT_GRAD, dy, w, dx);
  return NULL;
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return NULL;
}

// conv2dBackpropFilter(x, dy, geom, dw): dw = im2col(x)^T @ dy
napi_value rlo_conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c, "conv2dBackpropFilter")) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *dy = c.b, *dw = c.out;
  const size_t lx = c.la, ldy = c.lb, ldw = c.lo;
  const int64_t M = (int64_t)g.n * g.oh * g.ow, K = (int64_t)g.kh * g.kw * g.c;
  if (!rlo_check_len(env, lx, (size_t)g.n * g.h * g.w * g.c, "x") || !rlo_check_len(env, ldy, (size_t)(M * g.o), "dy") || !rlo_check_len(env, ldw, (size_t)(K * g.o), "dw")) return NULL;
  if (is_pointwise(&g)) {
    if (!sgemm('T', 'N', K, g.o, M, 1.f, x, K, dy, g.o, 0.f, dw, g.o)) goto fail;
    return NULL;
  }
  chunked_conv(env, &g, PASS_FILTER_GRAD, x, dy, dw);
  return NULL;
fail:
  napi_throw_error(env, NULL, "rlo_native: sgemm failed (out of memory?)");
  return NULL;
}

// depthwiseConv2d(x, f, geom, out) with channel multiplier 1: geom.o == geom.c, f [kh, kw, c].
napi_value rlo_depthwise_conv2d(napi_env env, napi_callback_info info) {
  ConvArgs c;
  if (!conv_args(env, info, &c, "depthwiseConv2d")) return NULL;
  const ConvGeom g = c.g;
  float *x = c.a, *f = c.b, *out = c.out;
  const size_t lx = c.la, lf = c.lb, lo = c.lo;
  const int C = g.c;
  if (!rlo_check_len(env, lx, (size_t)g.n * g.h * g.w * C, "x") || !rlo_check_len(env, lf, (size_t)g.kh * g.kw * C, "filter") || !rlo_check_len(env, lo, (size_t)g.n * g.oh * g.ow * C, "output")) return NULL;
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

// matmul(a, b, {batch, m, k, n, transA, transB, aBatched, bBatched}, out): batched row-major sgemm.
napi_value rlo_matmul(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  float *a, *b, *out;
  size_t la, lb, lo;
  int batch, m, k, n, ta, tb, ab, bb;
  if (!rlo_get_args(env, info, 4, argv, "matmul") || !rlo_get_f32(env, argv[0], &a, &la) || !rlo_get_f32(env, argv[1], &b, &lb) || !rlo_get_f32(env, argv[3], &out, &lo)) return NULL;
  if (!rlo_int_field(env, argv[2], "batch", &batch) || !rlo_int_field(env, argv[2], "m", &m) || !rlo_int_field(env, argv[2], "k", &k) || !rlo_int_field(env, argv[2], "n", &n) ||
      !rlo_bool_field(env, argv[2], "transA", &ta) || !rlo_bool_field(env, argv[2], "transB", &tb) || !rlo_bool_field(env, argv[2], "aBatched", &ab) || !rlo_bool_field(env, argv[2], "bBatched", &bb)) return NULL;
  if (!rlo_check_len(env, la, (size_t)(ab ? batch : 1) * m * k, "a") || !rlo_check_len(env, lb, (size_t)(bb ? batch : 1) * k * n, "b") || !rlo_check_len(env, lo, (size_t)batch * m * n, "output")) return NULL;
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

// pool2d(x, geom, isMax, out): 2-D max or average pooling, NHWC; padded positions are skipped
// (TF semantics: the average counts valid inputs only, like torch's count_include_pad=False).
napi_value rlo_pool2d(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  ConvGeom g;
  float *x, *out;
  size_t lx, lo;
  bool isMax = false;
  if (!rlo_get_args(env, info, 4, argv, "pool2d") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_conv_geom(env, argv[1], &g) ||
      napi_get_value_bool(env, argv[2], &isMax) != napi_ok || !rlo_get_f32(env, argv[3], &out, &lo)) return NULL;
  const int C = g.c;
  if (!rlo_check_len(env, lx, (size_t)g.n * g.h * g.w * C, "x") || !rlo_check_len(env, lo, (size_t)g.n * g.oh * g.ow * C, "output")) return NULL;
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
