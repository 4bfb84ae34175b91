// oneDNN's and OpenBLAS's sgemm, loaded with dlopen when the machine has them: for comparisons
// (the GEMM benchmark) or STYLEGAN_RLO_GEMM=onednn|openblas. Neither is needed to build or run.
#include "blas_engines.h"
#include <dlfcn.h>
#include <stdio.h>

typedef int (*DnnlSgemm)(char, char, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float,
                         float*, int64_t);
typedef struct { int major, minor, patch; } DnnlVersion;  // leading fields of dnnl_version_t
typedef const DnnlVersion* (*DnnlVersionFn)(void);
typedef void (*CblasSgemm)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);

static DnnlSgemm dnnl_sgemm_fn;
static CblasSgemm cblas_sgemm_fn;
static char dnnl_name[64], openblas_name[64];

static void* open_first(const char* const* names) {
  for (int i = 0; names[i]; i++) {
    void* h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
  }
  return NULL;
}

static void load_engines(void) {
  static int loaded;
  if (loaded) return;
  loaded = 1;
  static const char* const dnnl_libs[] = {"libdnnl.so.3", "libdnnl.so.2", "libdnnl.so", NULL};
  void* h = open_first(dnnl_libs);
  if (h) {
    dnnl_sgemm_fn = (DnnlSgemm)dlsym(h, "dnnl_sgemm");
    DnnlVersionFn ver = (DnnlVersionFn)dlsym(h, "dnnl_version");
    if (ver) snprintf(dnnl_name, sizeof dnnl_name, "oneDNN %d.%d.%d", ver()->major, ver()->minor, ver()->patch);
    else snprintf(dnnl_name, sizeof dnnl_name, "oneDNN");
  }
  static const char* const blas_libs[] = {"libopenblas.so.0", "libopenblas.so", NULL};
  h = open_first(blas_libs);
  if (h) {
    cblas_sgemm_fn = (CblasSgemm)dlsym(h, "cblas_sgemm");
    snprintf(openblas_name, sizeof openblas_name, "OpenBLAS");
  }
}

int rlo_blas_available(int which) {
  load_engines();
  return which == BLAS_ONEDNN ? dnnl_sgemm_fn != NULL : which == BLAS_OPENBLAS ? cblas_sgemm_fn != NULL : 0;
}

const char* rlo_blas_name(int which) {
  load_engines();
  return which == BLAS_ONEDNN ? dnnl_name : openblas_name;
}

int rlo_blas_sgemm(int which, char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!rlo_blas_available(which)) return 0;
  if (which == BLAS_ONEDNN) return dnnl_sgemm_fn(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == 0;
  if (m > 0x7fffffff || n > 0x7fffffff || k > 0x7fffffff) return 0;  // cblas takes int sizes
  cblas_sgemm_fn(101 /* row major */, ta == 'T' ? 112 : 111, tb == 'T' ? 112 : 111, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                 (int)ldb, beta, c, (int)ldc);
  return 1;
}
