// Optional sgemm engines loaded at run time (blas_engines.c): row-major, dnnl_sgemm's argument order.
#ifndef RLO_BLAS_ENGINES_H
#define RLO_BLAS_ENGINES_H
#include <stdint.h>

enum { BLAS_ONEDNN = 1, BLAS_OPENBLAS = 2 };

// 1 when that library was found on this machine.
int rlo_blas_available(int which);

// "oneDNN 3.1.0" or "OpenBLAS" (static storage).
const char* rlo_blas_name(int which);

// C = alpha * op(A) * op(B) + beta * C with that engine; 0 when it is missing or reports a failure.
int rlo_blas_sgemm(int which, char transa, char transb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                   const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

#endif
