// stylegan-rlo's native addon: N-API registration of the CPU kernels (conv.c: convolutions and
// matmul as im2col + sgemm; fir.c: bias_act and upfirdn2d; elementwise.c: broadcasting ops,
// reductions, gathers, the fused Adam step) and of the GEMM itself (gemm.c) for tests and the
// benchmark. src/native/kernels.ts registers them as tfjs cpu-backend kernels;
// src/native/contracts.ts declares every parameter object.
#include "kernels.h"
#include "gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <omp.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value make_string(napi_env env, const char* s) {
  napi_value r;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &r);
  return r;
}

static napi_value info_fn(napi_env env, napi_callback_info info) {
  (void)info;
  char s[160];
  const int threads = omp_get_max_threads();
  snprintf(s, sizeof s, "sgemm: %s, %d thread%s", rlo_gemm_describe(), threads, threads == 1 ? "" : "s");
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

// sgemm(a, b, c, {m, n, k, lda, ldb, ldc, transA, transB}, alpha, beta): the raw GEMM, row-major,
// for tests and the GEMM benchmark. Sizes are checked against the arrays before anything is read.
static napi_value sgemm_fn(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  float *a, *b, *c;
  size_t la, lb, lc;
  int p[6], ta, tb;
  double alpha, beta;
  if (!rlo_get_args(env, info, 6, argv, "sgemm") || !rlo_get_f32(env, argv[0], &a, &la) || !rlo_get_f32(env, argv[1], &b, &lb) || !rlo_get_f32(env, argv[2], &c, &lc) ||
      !rlo_get_double(env, argv[4], &alpha) || !rlo_get_double(env, argv[5], &beta)) return NULL;
  const char* names[6] = {"m", "n", "k", "lda", "ldb", "ldc"};
  for (int i = 0; i < 6; i++) if (!rlo_int_field(env, argv[3], names[i], &p[i])) return NULL;
  if (!rlo_bool_field(env, argv[3], "transA", &ta) || !rlo_bool_field(env, argv[3], "transB", &tb)) return NULL;
  const int64_t m = p[0], n = p[1], k = p[2], lda = p[3], ldb = p[4], ldc = p[5];
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

// Every kernel output is a fresh multi-megabyte ArrayBuffer, and so is each im2col chunk. glibc
// serves blocks over 128 KiB-32 MiB (its adaptive threshold) with mmap and unmaps them on free,
// so each one came back as fresh pages: a page fault and a kernel zero-fill per 4 KiB, which cost
// more than the arithmetic (a 4 MB multiply: 0.3 ms into a reused buffer, 1.6-4.4 ms into a new
// one). Keeping blocks up to 64 MiB in the heap, and 256 MiB of free heap before trimming,
// reuses warm pages instead. glibc's own MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_
// environment variables take precedence.
static void keep_large_blocks_in_heap(void) {
#ifdef __GLIBC__
  if (!getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 64 << 20);
  if (!getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
}

static napi_value init(napi_env env, napi_value exports) {
  keep_large_blocks_in_heap();
  napi_property_descriptor props[] = {
    {"conv2d", NULL, rlo_conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropInput", NULL, rlo_conv2d_backprop_input, NULL, NULL, NULL, napi_default, NULL},
    {"conv2dBackpropFilter", NULL, rlo_conv2d_backprop_filter, NULL, NULL, NULL, napi_default, NULL},
    {"depthwiseConv2d", NULL, rlo_depthwise_conv2d, NULL, NULL, NULL, napi_default, NULL},
    {"matmul", NULL, rlo_matmul, NULL, NULL, NULL, napi_default, NULL},
    {"biasAct", NULL, rlo_bias_act, NULL, NULL, NULL, napi_default, NULL},
    {"upfirdn2d", NULL, rlo_upfirdn2d, NULL, NULL, NULL, napi_default, NULL},
    {"binary", NULL, rlo_binary, NULL, NULL, NULL, napi_default, NULL},
    {"reduceSum", NULL, rlo_reduce_sum, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, rlo_gather, NULL, NULL, NULL, napi_default, NULL},
    {"pool2d", NULL, rlo_pool2d, NULL, NULL, NULL, napi_default, NULL},
    {"info", NULL, info_fn, NULL, NULL, NULL, napi_default, NULL},
    {"adamUpdate", NULL, rlo_adam_update, NULL, NULL, NULL, napi_default, NULL},
    {"sparseMap", NULL, rlo_sparse_map, NULL, NULL, NULL, napi_default, NULL},
    {"sgemm", NULL, sgemm_fn, NULL, NULL, NULL, napi_default, NULL},
    {"gemmSelect", NULL, gemm_select, NULL, NULL, NULL, napi_default, NULL},
    {"gemmKernels", NULL, gemm_kernels, NULL, NULL, NULL, napi_default, NULL},
    {"gemmEngines", NULL, gemm_engines, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
