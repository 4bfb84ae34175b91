// The fused ops of upstream's torch_utils/ops: bias_act (bias + activation + gain + clamp, with
// the gradient mask) and upfirdn2d (upsample, FIR filter, downsample) over NHWC tensors.
#include "kernels.h"
#include <math.h>
#include <stdlib.h>
#include <omp.h>

// biasAct(x, b|null, {channels, act, alpha, gain, clamp}, y, mask|null): y = clamp(act(x + b) * gain);
// mask = dy/dx (0 where clamped). act: 0 linear, 1 relu, 2 lrelu; clamp < 0 disables clamping.
napi_value rlo_bias_act(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  float *x, *b, *y, *mask;
  size_t lx, lb, ly, lm;
  int channels, act;
  double alpha, gain, clamp;
  if (!rlo_get_args(env, info, 5, argv, "biasAct") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_f32_opt(env, argv[1], &b, &lb) ||
      !rlo_get_f32(env, argv[3], &y, &ly) || !rlo_get_f32_opt(env, argv[4], &mask, &lm)) return NULL;
  if (!rlo_int_field(env, argv[2], "channels", &channels) || !rlo_int_field(env, argv[2], "act", &act) || !rlo_double_field(env, argv[2], "alpha", &alpha) ||
      !rlo_double_field(env, argv[2], "gain", &gain) || !rlo_double_field(env, argv[2], "clamp", &clamp)) return NULL;
  const int64_t C = channels;
  if (C <= 0 || lx % C != 0 || (b && lb != (size_t)C) || !rlo_check_len(env, ly, lx, "y") || (mask && !rlo_check_len(env, lm, lx, "mask"))) {
    napi_throw_range_error(env, NULL, "rlo_native: biasAct shapes do not agree");
    return NULL;
  }
  if (act < 0 || act > 2) { napi_throw_range_error(env, NULL, "rlo_native: biasAct act must be 0, 1 or 2"); return NULL; }
  const int64_t rows = (int64_t)lx / C;
  // A zero bias stands in for none, and an infinite clamp for no clamping, so that one
  // branch-free loop (compare-and-select, vectorized) serves every case.
  float* zeros = b ? NULL : (float*)calloc((size_t)C, sizeof(float));
  if (!b && !zeros) { napi_throw_error(env, NULL, "rlo_native: out of memory"); return NULL; }
  const float* bias = b ? b : zeros;
  const float fa = (float)alpha, fg = (float)gain, fc = clamp >= 0 ? (float)clamp : INFINITY;
  // One loop per activation and mask/no mask, each free of branches (compare-and-select), so that
  // the compiler vectorizes all of them. NEG is the negative side; mask = dy/dx, 0 where clamped.
  #define BIAS_ACT_LOOP(NEG, NEG_SLOPE)                                                        \
    _Pragma("omp parallel for schedule(static) if (lx > 32768)")                              \
    for (int64_t r = 0; r < rows; r++) {                                                       \
      const float* restrict xr = x + r * C;                                                    \
      float* restrict yr = y + r * C;                                                          \
      float* restrict mr = mask ? mask + r * C : NULL;                                         \
      if (mr) {                                                                                \
        for (int64_t c = 0; c < C; c++) {                                                      \
          const float v0 = xr[c] + bias[c], neg = (NEG);                                       \
          const float v = (v0 > 0.f ? v0 : neg) * fg, hi = v > fc ? fc : v;                    \
          const float d = v0 > 0.f ? fg : fg * (NEG_SLOPE);                                    \
          yr[c] = hi < -fc ? -fc : hi;                                                         \
          mr[c] = ((v > fc) | (v < -fc)) ? 0.f : d;                                            \
        }                                                                                      \
      } else {                                                                                 \
        for (int64_t c = 0; c < C; c++) {                                                      \
          const float v0 = xr[c] + bias[c], neg = (NEG);                                       \
          const float v = (v0 > 0.f ? v0 : neg) * fg, hi = v > fc ? fc : v;                    \
          yr[c] = hi < -fc ? -fc : hi;                                                         \
        }                                                                                      \
      }                                                                                        \
    }
  if (act == 0) { BIAS_ACT_LOOP(v0, 1.f) }
  else if (act == 1) { BIAS_ACT_LOOP(0.f, 0.f) }  // NaN gives 0, as upstream's CUDA kernel
  else { BIAS_ACT_LOOP(v0 * fa, fa) }
  #undef BIAS_ACT_LOOP
  free(zeros);
  return NULL;
}

// The taps that reach each output coordinate along one axis: output o reads input i = (o * down
// + k - pad0) / up with filter tap k, for the k where that is a whole number inside [0, n).
// Entries of o are [start[o], start[o + 1]) of (tap, in); computed once per call, so the inner
// loops have no divisibility or bounds tests.
typedef struct { int* start; int* tap; int* in; } AxisTaps;

static int axis_taps(AxisTaps* a, int on, int down, int up, int pad0, int f, int n) {
  a->start = (int*)malloc(sizeof(int) * (size_t)(on + 1));
  a->tap = (int*)malloc(sizeof(int) * (size_t)on * (size_t)f + 1);
  a->in = (int*)malloc(sizeof(int) * (size_t)on * (size_t)f + 1);
  if (!a->start || !a->tap || !a->in) return 0;
  int e = 0;
  for (int o = 0; o < on; o++) {
    a->start[o] = e;
    for (int k = 0; k < f; k++) {
      const int64_t u = (int64_t)o * down + k - pad0;
      if (u < 0 || u % up) continue;
      const int64_t i = u / up;
      if (i >= n) continue;
      a->tap[e] = k;
      a->in[e] = (int)i;
      e++;
    }
  }
  a->start[on] = e;
  return 1;
}

static void axis_taps_free(AxisTaps* a) { free(a->start); free(a->tap); free(a->in); }

// taps[ky, kx] == col[ky] * row[kx] (within float rounding) for some col, row: returns 1 and fills
// them. Upstream's filters are outer products of 1-D taps (setup_filter), so they can be applied
// along y, then along x: fh + fw taps per output instead of fh * fw.
static int separable(const float* taps, int fh, int fw, float* col, float* row) {
  int py = 0, px = 0;
  float big = 0.f;
  for (int ky = 0; ky < fh; ky++) for (int kx = 0; kx < fw; kx++) {
    const float v = fabsf(taps[ky * fw + kx]);
    if (v > big) { big = v; py = ky; px = kx; }
  }
  if (big == 0.f) return 0;
  const float pivot = taps[py * fw + px];
  for (int ky = 0; ky < fh; ky++) col[ky] = taps[ky * fw + px];
  for (int kx = 0; kx < fw; kx++) row[kx] = taps[py * fw + kx] / pivot;
  for (int ky = 0; ky < fh; ky++) for (int kx = 0; kx < fw; kx++) {
    if (fabsf(taps[ky * fw + kx] - col[ky] * row[kx]) > 1e-6f * big) return 0;
  }
  return 1;
}

// upfirdn2d(x, taps, {n,h,w,c, fh,fw, upx,upy, downx,downy, padx0,pady0, oh,ow}, out): NHWC.
// `taps` are in correlation order and already scaled: out = sum U(oy*dy+ky, ox*dx+kx) * taps[ky,kx],
// U the zero-inserted, padded input.
// Outputs are summed FIR_BLOCK channels (or row elements) at a time in registers, over all their
// taps, then stored once; each output is still 0 + the taps' products in tap order, so the
// results are bit for bit those of accumulating in memory (which cost a load and a store per tap).
#define FIR_BLOCK 16
// The last rem < FIR_BLOCK channels; RGB images (rem 3) get a loop of constant length.
#define FIR_TAIL(STMT)                                   \
  do {                                                   \
    if (rem == 3) for (int q = 0; q < 3; q++) STMT;      \
    else for (int q = 0; q < rem; q++) STMT;             \
  } while (0)

napi_value rlo_upfirdn2d(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  float *x, *taps, *out;
  size_t lx, lt, lo;
  int n, h, w, c, fh, fw, upx, upy, dnx, dny, px0, py0, oh, ow;
  if (!rlo_get_args(env, info, 4, argv, "upfirdn2d") || !rlo_get_f32(env, argv[0], &x, &lx) || !rlo_get_f32(env, argv[1], &taps, &lt) || !rlo_get_f32(env, argv[3], &out, &lo)) return NULL;
  const napi_value p = argv[2];
  if (!rlo_int_field(env, p, "n", &n) || !rlo_int_field(env, p, "h", &h) || !rlo_int_field(env, p, "w", &w) || !rlo_int_field(env, p, "c", &c) ||
      !rlo_int_field(env, p, "fh", &fh) || !rlo_int_field(env, p, "fw", &fw) || !rlo_int_field(env, p, "upx", &upx) || !rlo_int_field(env, p, "upy", &upy) ||
      !rlo_int_field(env, p, "downx", &dnx) || !rlo_int_field(env, p, "downy", &dny) || !rlo_int_field(env, p, "padx0", &px0) || !rlo_int_field(env, p, "pady0", &py0) ||
      !rlo_int_field(env, p, "oh", &oh) || !rlo_int_field(env, p, "ow", &ow)) return NULL;
  if (upx < 1 || upy < 1 || dnx < 1 || dny < 1) { napi_throw_range_error(env, NULL, "rlo_native: upfirdn2d factors must be >= 1"); return NULL; }
  if (!rlo_check_len(env, lx, (size_t)n * h * w * c, "x") || !rlo_check_len(env, lt, (size_t)fh * fw, "taps") || !rlo_check_len(env, lo, (size_t)n * oh * ow * c, "output")) return NULL;
  AxisTaps ay = {0}, ax = {0};
  float* col = (float*)malloc(sizeof(float) * (size_t)fh);
  float* row = (float*)malloc(sizeof(float) * (size_t)fw);
  float* tmp = NULL;
  const int ok = col && row && axis_taps(&ay, oh, dny, upy, py0, fh, h) && axis_taps(&ax, ow, dnx, upx, px0, fw, w);
  // As upstream: filters of 8 or more taps (the augmentation's wavelets) are applied separably,
  // shorter ones (G and D's [1, 3, 3, 1]) as the full 2-D filter. The two orders round
  // differently, and the 2-D one is what upstream computes for the networks.
  const int sep = ok && (fh >= 8 || fw >= 8) && separable(taps, fh, fw, col, row);
  if (ok && sep) tmp = (float*)malloc(sizeof(float) * ((size_t)n * oh * w * c + 1));
  if (!ok || (sep && !tmp)) {
    axis_taps_free(&ay); axis_taps_free(&ax); free(col); free(row);
    napi_throw_error(env, NULL, "rlo_native: out of memory");
    return NULL;
  }
  const int64_t rows = (int64_t)n * oh;
  const int64_t wc = (int64_t)w * c;
  if (sep) {
    // Along y: each output row is a weighted sum of whole input rows (w * c contiguous floats).
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t img = r / oh;
      const int oy = (int)(r % oh);
      float* restrict d = tmp + r * wc;
      const float* const xi = x + img * h * wc;
      int64_t j0 = 0;
      for (; j0 + FIR_BLOCK <= wc; j0 += FIR_BLOCK) {
        float acc[FIR_BLOCK] = {0};
        for (int e = ay.start[oy]; e < ay.start[oy + 1]; e++) {
          const float t = col[ay.tap[e]];
          const float* restrict src = xi + ay.in[e] * wc + j0;
          for (int q = 0; q < FIR_BLOCK; q++) acc[q] += t * src[q];
        }
        for (int q = 0; q < FIR_BLOCK; q++) d[j0 + q] = acc[q];
      }
      for (int64_t j = j0; j < wc; j++) {
        float acc = 0.f;
        for (int e = ay.start[oy]; e < ay.start[oy + 1]; e++) acc += col[ay.tap[e]] * xi[ay.in[e] * wc + j];
        d[j] = acc;
      }
    }
    // Along x, within each row.
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const float* src = tmp + r * wc;
      for (int ox = 0; ox < ow; ox++) {
        float* restrict d = out + (r * ow + ox) * c;
        int ch0 = 0;
        for (; ch0 + FIR_BLOCK <= c; ch0 += FIR_BLOCK) {
          float acc[FIR_BLOCK] = {0};
          for (int e = ax.start[ox]; e < ax.start[ox + 1]; e++) {
            const float t = row[ax.tap[e]];
            const float* restrict s = src + (int64_t)ax.in[e] * c + ch0;
            for (int q = 0; q < FIR_BLOCK; q++) acc[q] += t * s[q];
          }
          for (int q = 0; q < FIR_BLOCK; q++) d[ch0 + q] = acc[q];
        }
        if (ch0 < c) {
          const int rem = c - ch0;
          float acc[FIR_BLOCK] = {0};
          for (int e = ax.start[ox]; e < ax.start[ox + 1]; e++) {
            const float t = row[ax.tap[e]];
            const float* restrict s = src + (int64_t)ax.in[e] * c + ch0;
            FIR_TAIL(acc[q] += t * s[q]);
          }
          for (int q = 0; q < rem; q++) d[ch0 + q] = acc[q];
        }
      }
    }
  } else {
    // Runs STMT for every tap of output (oy, ox), with the tap weight t and the input channels at s
    // (from channel ch0).
    #define FOR_2D_TAPS(STMT)                                                          \
      for (int ey = ay.start[oy]; ey < ay.start[oy + 1]; ey++) {                       \
        const float* trow = taps + ay.tap[ey] * fw;                                    \
        const float* srow = x + (img * h + ay.in[ey]) * wc + ch0;                      \
        for (int ex = ax.start[ox]; ex < ax.start[ox + 1]; ex++) {                     \
          const float t = trow[ax.tap[ex]];                                            \
          const float* restrict s = srow + (int64_t)ax.in[ex] * c;                     \
          STMT;                                                                        \
        }                                                                              \
      }
    #pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; r++) {
      const int64_t img = r / oh;
      const int oy = (int)(r % oh);
      for (int ox = 0; ox < ow; ox++) {
        float* restrict d = out + (r * ow + ox) * c;
        int ch0 = 0;
        for (; ch0 + FIR_BLOCK <= c; ch0 += FIR_BLOCK) {
          float acc[FIR_BLOCK] = {0};
          FOR_2D_TAPS(for (int q = 0; q < FIR_BLOCK; q++) acc[q] += s[q] * t);
          for (int q = 0; q < FIR_BLOCK; q++) d[ch0 + q] = acc[q];
        }
        if (ch0 < c) {
          const int rem = c - ch0;
          float acc[FIR_BLOCK] = {0};
          FOR_2D_TAPS(FIR_TAIL(acc[q] += s[q] * t));
          for (int q = 0; q < rem; q++) d[ch0 + q] = acc[q];
        }
      }
    }
  }
  #undef FOR_2D_TAPS
  free(tmp);
  axis_taps_free(&ay); axis_taps_free(&ax); free(col); free(row);
  return NULL;
}
