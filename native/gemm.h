// Single-precision GEMM for the native kernels: C = alpha * op(A) * op(B) + beta * C, row-major,
// op(X) = X or X^T ('N' / 'T'), the argument order of dnnl_sgemm. Our own packed, register-blocked
// implementation (gemm.c), with oneDNN and OpenBLAS as optional engines loaded at run time.
#ifndef RLO_GEMM_H
#define RLO_GEMM_H
#include <stdint.h>

// Returns 1 on success, 0 when the selected engine reports a failure (or memory runs out).
int rlo_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Engines: "ours" (auto kernel for this CPU), "ours:<kernel>" (one of rlo_gemm_kernels()),
// "onednn", "openblas". Returns 1 when selected, 0 when that engine or kernel is unavailable here.
int rlo_gemm_select(const char* engine);

// What runs now, e.g. "ours avx2 6x16" or "oneDNN 3.1.0" (static storage).
const char* rlo_gemm_describe(void);

// Comma-separated kernels of ours that this CPU can run (static storage).
const char* rlo_gemm_kernels(void);

// Comma-separated engines available on this machine (static storage).
const char* rlo_gemm_engines(void);

#endif
