// Our SGEMM: the Goto/BLIS structure (pack a KC x NC block of B and an MC x KC block of A into
// contiguous micro-panels, then sweep register-blocked MR x NR micro-kernels over them), with the
// micro-kernel written once over GCC vector types and compiled per instruction set:
//   avx512   12 x 32, 16-float vectors (x86-64 with AVX-512F)
//   avx2      6 x 16,  8-float vectors with FMA (x86-64 with AVX2 + FMA)
//   generic   6 x 16,  4-float vectors (any CPU: SSE2 on x86-64, NEON on arm64)
//   avx512-shape-on-avx2: the avx512 kernel's exact source and blocking compiled for AVX2, so that
//            machines without AVX-512 still test that kernel's logic (tests only; never chosen).
// The kernel is chosen at run time from cpuid. Threads (OpenMP) share the packed B block and split
// either whole MC blocks of rows or, when there are few rows, the micro-tiles of one block.
// oneDNN's and OpenBLAS's sgemm are loaded at run time when the machine has them (blas_engines.c;
// comparisons, or STYLEGAN_RLO_GEMM=onednn); neither is needed to build or run.
#include "gemm.h"
#include "blas_engines.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- micro-kernels ------------------------------------------------------------------------

typedef float v4f __attribute__((vector_size(16)));
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));
// Unaligned, aliasing views for loads and stores of C (any row stride).
typedef float v4u __attribute__((vector_size(16), aligned(4), may_alias));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float v16u __attribute__((vector_size(64), aligned(4), may_alias));

typedef void (*UKernel)(int64_t kc, const float* restrict pa, int64_t ars, int64_t acs, const float* restrict pb, int64_t bs,
                        float* restrict c, int64_t ldc, float alpha, float beta);

// C[MR x NR] = alpha * sum over p of A(:, p) (x) B(p, :) + beta * C, where A(i, p) = pa[i * ars + p * acs]
// (a packed micro-panel: ars = 1, acs = MR; rows in place: ars = lda, acs = 1) and B(p, :) is the
// NR floats at pb + p * bs (packed: bs = NR, 64-byte aligned; in place: bs = ldb). beta == 0 never
// reads C. Every cache line of the C tile is prefetched for writing at the start, the last one too:
// a C that is not 64-byte aligned (JavaScript's arrays are 16-byte aligned) spans one more line per
// row, and with a short k its misses were not hidden (16 px input gradient: 0.87 -> 0.96 of oneDNN).
#define RLO_UKERNEL(NAME, ATTR, VT, VU, VW, MR, NV)                                                   \
  ATTR static void NAME(int64_t kc, const float* restrict pa, int64_t ars, int64_t acs, const float* restrict pb, \
                        int64_t bs, float* restrict c, int64_t ldc, float alpha, float beta) {        \
    VT acc[MR][NV];                                                                                   \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++)                                             \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] = (VT){0};                       \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                           \
      _Pragma("GCC unroll 4") for (int q = 0; q < NV * VW; q += 16) __builtin_prefetch(c + i * ldc + q, 1); \
      __builtin_prefetch(c + i * ldc + NV * VW - 1, 1);                                               \
    }                                                                                                 \
    const float* ap = pa;                                                                             \
    const float* bp = pb;                                                                             \
    _Pragma("GCC unroll 2") for (int64_t p = 0; p < kc; p++, ap += acs, bp += bs) {                   \
      __builtin_prefetch(ap + 8 * acs);                                                               \
      VT bv[NV];                                                                                      \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) bv[v] = *(const VU*)(bp + v * VW);         \
      _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                         \
        const float s = ap[i * ars];                                                                  \
        _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) acc[i][v] += bv[v] * s;                  \
      }                                                                                               \
    }                                                                                                 \
    _Pragma("GCC unroll 16") for (int i = 0; i < MR; i++) {                                           \
      _Pragma("GCC unroll 4") for (int v = 0; v < NV; v++) {                                          \
        VU* cp = (VU*)(c + i * ldc + v * VW);                                                         \
        *cp = beta == 0.f ? acc[i][v] * alpha : acc[i][v] * alpha + *cp * beta;                       \
      }                                                                                               \
    }                                                                                                 \
  }

#if defined(__x86_64__) || defined(__i386__)
#define RLO_X86 1
RLO_UKERNEL(ukernel_avx512, __attribute__((target("avx512f"))), v16f, v16u, 16, 12, 2)
RLO_UKERNEL(ukernel_avx2, __attribute__((target("avx2,fma"))), v8f, v8u, 8, 6, 2)
RLO_UKERNEL(ukernel_avx512_on_avx2, __attribute__((target("avx2,fma"))), v16f, v16u, 16, 12, 2)
#endif
RLO_UKERNEL(ukernel_generic, , v4f, v4u, 4, 6, 4)

typedef struct {
  const char* name;
  int mr, nr;
  int64_t kc, mc, nc;     // cache blocking: B micro-panel (kc x nr) in L1, A block (mc x kc) in L2
  UKernel fn;
  int automatic;          // may be chosen by "auto"
} Kernel;

#define MAX_MR 12
#define MAX_NR 32

static const Kernel KERNELS[] = {
#ifdef RLO_X86
  {"avx512", 12, 32, 128, 144, 4096, ukernel_avx512, 1},
  {"avx2", 6, 16, 256, 120, 4096, ukernel_avx2, 1},
  {"avx512-shape-on-avx2", 12, 32, 128, 144, 4096, ukernel_avx512_on_avx2, 0},
#endif
  {"generic", 6, 16, 256, 120, 4096, ukernel_generic, 1},
};
#define NUM_KERNELS ((int)(sizeof KERNELS / sizeof KERNELS[0]))

static int kernel_supported(const Kernel* k) {
#ifdef RLO_X86
  __builtin_cpu_init();
  if (!strcmp(k->name, "avx512")) return __builtin_cpu_supports("avx512f");
  if (!strncmp(k->name, "avx2", 4) || !strcmp(k->name, "avx512-shape-on-avx2")) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
#endif
  return 1;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// ---- packing ------------------------------------------------------------------------------

typedef int v4i __attribute__((vector_size(16)));

// Transposes four rows of four floats in place (x86: unpcklps/unpckhps/movlhps/movhlps; arm64: zip).
static inline void transpose4(v4f* x0, v4f* x1, v4f* x2, v4f* x3) {
  const v4f t0 = __builtin_shuffle(*x0, *x1, (v4i){0, 4, 1, 5}), t1 = __builtin_shuffle(*x0, *x1, (v4i){2, 6, 3, 7});
  const v4f t2 = __builtin_shuffle(*x2, *x3, (v4i){0, 4, 1, 5}), t3 = __builtin_shuffle(*x2, *x3, (v4i){2, 6, 3, 7});
  *x0 = __builtin_shuffle(t0, t2, (v4i){0, 1, 4, 5});
  *x1 = __builtin_shuffle(t0, t2, (v4i){2, 3, 6, 7});
  *x2 = __builtin_shuffle(t1, t3, (v4i){0, 1, 4, 5});
  *x3 = __builtin_shuffle(t1, t3, (v4i){2, 3, 6, 7});
}

// R rows, each contiguous (a + i * rs, i < R), interleaved into dst[p * R + i]: a full A panel
// from a row-major A, or a full B panel from a transposed B. Four columns at a time, transposing
// 4 x 4 tiles in registers, so that the reads are streams and the writes sequential (row by row,
// the writes have an R-float stride: packing A was 22% of a 1024^3 product that way, 5% now).
#define RLO_PACK_ROWS(NAME, R)                                                                        \
  static void NAME(int64_t kc, const float* a, int64_t rs, float* restrict dst) {                    \
    const float* r[R];                                                                                \
    for (int i = 0; i < R; i++) r[i] = a + i * rs;                                                    \
    int64_t p = 0;                                                                                    \
    for (; p + 4 <= kc; p += 4, dst += 4 * R) {                                                       \
      _Pragma("GCC unroll 8") for (int i = 0; i + 4 <= R; i += 4) {                                   \
        v4f x0 = *(const v4u*)(r[i] + p), x1 = *(const v4u*)(r[i + 1] + p);                           \
        v4f x2 = *(const v4u*)(r[i + 2] + p), x3 = *(const v4u*)(r[i + 3] + p);                       \
        transpose4(&x0, &x1, &x2, &x3);                                                               \
        *(v4u*)(dst + i) = x0;                                                                        \
        *(v4u*)(dst + R + i) = x1;                                                                    \
        *(v4u*)(dst + 2 * R + i) = x2;                                                                \
        *(v4u*)(dst + 3 * R + i) = x3;                                                                \
      }                                                                                               \
      _Pragma("GCC unroll 4") for (int i = R / 4 * 4; i < R; i++) {                                   \
        _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++) dst[q * R + i] = r[i][p + q];             \
      }                                                                                               \
    }                                                                                                 \
    for (; p < kc; p++, dst += R) {                                                                   \
      _Pragma("GCC unroll 32") for (int i = 0; i < R; i++) dst[i] = r[i][p];                          \
    }                                                                                                 \
  }
RLO_PACK_ROWS(pack_rows6, 6)
RLO_PACK_ROWS(pack_rows12, 12)
RLO_PACK_ROWS(pack_rows16, 16)
RLO_PACK_ROWS(pack_rows32, 32)

// Packs a full panel of R contiguous rows when R is one of the kernels' sizes; 0 otherwise.
static int pack_rows(int r, int64_t kc, const float* a, int64_t rs, float* dst) {
  switch (r) {
    case 6: pack_rows6(kc, a, rs, dst); return 1;
    case 12: pack_rows12(kc, a, rs, dst); return 1;
    case 16: pack_rows16(kc, a, rs, dst); return 1;
    case 32: pack_rows32(kc, a, rs, dst); return 1;
    default: return 0;
  }
}

// A(i, p) = a[i * rs + p * cs]. Packs rows [0, mb) x cols [0, kc) into one MR-row micro-panel
// (MR floats per p), zero-padding rows mb..MR.
static void pack_a_panel(int mr, int mb, int64_t kc, const float* a, int64_t rs, int64_t cs, float* dst) {
  if (cs == 1 && mb == mr && pack_rows(mr, kc, a, rs, dst)) return;
  if (cs == 1) {
    for (int i = 0; i < mb; i++) {
      const float* s = a + i * rs;
      for (int64_t p = 0; p < kc; p++) dst[p * mr + i] = s[p];
    }
    for (int i = mb; i < mr; i++) for (int64_t p = 0; p < kc; p++) dst[p * mr + i] = 0.f;
  } else {
    for (int64_t p = 0; p < kc; p++) {
      const float* s = a + p * cs;
      float* d = dst + p * mr;
      int i = 0;
      for (; i < mb; i++) d[i] = s[i * rs];
      for (; i < mr; i++) d[i] = 0.f;
    }
  }
}

// The MR-row micro-panels of rows [0, mc) at dst + ir * kc, skipping full panels when `direct`
// (they are read in place). A transposed A (rs == 1) is copied row of A^T by row, so that every
// read is contiguous; panel by panel it would touch a new cache line for every MR floats.
static void pack_a_block(int mr, int64_t mc, int64_t kc, const float* a, int64_t rs, int64_t cs, int direct, float* dst) {
  if (rs == 1 && !direct) {
    const int64_t full = mc / mr * mr;
    for (int64_t p = 0; p < kc; p++) {
      const float* s = a + p * cs;
      if (mr == 6) for (int64_t ir = 0; ir < full; ir += 6) memcpy(dst + ir * kc + p * 6, s + ir, 6 * sizeof(float));
      else if (mr == 12) for (int64_t ir = 0; ir < full; ir += 12) memcpy(dst + ir * kc + p * 12, s + ir, 12 * sizeof(float));
      else for (int64_t ir = 0; ir < full; ir += mr) memcpy(dst + ir * kc + p * mr, s + ir, sizeof(float) * (size_t)mr);
    }
    if (full < mc) pack_a_panel(mr, (int)(mc - full), kc, a + full, rs, cs, dst + full * kc);
    return;
  }
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int mb = (int)(mc - ir < mr ? mc - ir : mr);
    if (!direct || mb < mr) pack_a_panel(mr, mb, kc, a + ir * rs, rs, cs, dst + ir * kc);
  }
}

// B(p, j) = b[p * rs + j * cs]. One NR-column micro-panel: NR floats per p, zero-padded.
static void pack_b_panel(int nr, int nb, int64_t kc, const float* b, int64_t rs, int64_t cs, float* dst) {
  if (cs == 1 && nb == nr && (nr == 16 || nr == 32)) {
    // Fixed-size copies compile to vector moves (a memcpy call per row costs more than the copy).
    if (nr == 16) for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 16, b + p * rs, 16 * sizeof(float));
    else for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 32, b + p * rs, 32 * sizeof(float));
  } else if (rs == 1 && nb == nr && pack_rows(nr, kc, b, cs, dst)) {
    return;
  } else if (cs == 1) {
    for (int64_t p = 0; p < kc; p++) {
      memcpy(dst + p * nr, b + p * rs, sizeof(float) * (size_t)nb);
      for (int j = nb; j < nr; j++) dst[p * nr + j] = 0.f;
    }
  } else {
    for (int j = 0; j < nb; j++) {
      const float* s = b + j * cs;
      for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = s[p * rs];
    }
    for (int j = nb; j < nr; j++) for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = 0.f;
  }
}

// Panels [lo, hi) of a KC x NC block of B (columns [0, nc)), panel jp at dst + jp * nr * kc, skipping
// full panels when `direct` (read in place). A row-major B (cs == 1) is copied row by row across
// the panels, so that every read is sequential; panel by panel it would read one cache line per row.
static void pack_b_range(int nr, int64_t lo, int64_t hi, int64_t nc, int64_t kc, const float* b, int64_t rs, int64_t cs,
                         int direct, float* dst) {
  const int64_t full_hi = min64(hi, nc / nr);  // panels before full_hi have nr columns
  if (cs == 1 && !direct && lo < full_hi && (nr == 16 || nr == 32)) {
    for (int64_t p = 0; p < kc; p++) {
      const float* s = b + p * rs;
      if (nr == 16) for (int64_t jp = lo; jp < full_hi; jp++) memcpy(dst + (jp * kc + p) * 16, s + jp * 16, 16 * sizeof(float));
      else for (int64_t jp = lo; jp < full_hi; jp++) memcpy(dst + (jp * kc + p) * 32, s + jp * 32, 32 * sizeof(float));
    }
    lo = full_hi;
  }
  for (int64_t jp = lo; jp < hi; jp++) {
    const int nb = (int)min64(nr, nc - jp * nr);
    if (!direct || nb < nr) pack_b_panel(nr, nb, kc, b + jp * nr * cs, rs, cs, dst + jp * nr * kc);
  }
}

// ---- driver -------------------------------------------------------------------------------

typedef struct {
  const Kernel* K;
  int64_t m, n, k;
  float alpha, beta;
  const float* a; int64_t ars, acs;
  const float* b; int64_t brs, bcs;
  float* c; int64_t ldc;
} Problem;

// One micro-tile; partial tiles go through a local buffer.
static inline void run_tile(const Kernel* K, int64_t kc, const float* pa, int64_t ars, int64_t acs, const float* pb, int64_t bs,
                            float* c, int64_t ldc, int mb, int nb, float alpha, float beta) {
  if (mb == K->mr && nb == K->nr) {
    K->fn(kc, pa, ars, acs, pb, bs, c, ldc, alpha, beta);
    return;
  }
  float tmp[MAX_MR * MAX_NR] __attribute__((aligned(64)));
  K->fn(kc, pa, ars, acs, pb, bs, tmp, K->nr, 1.f, 0.f);
  for (int i = 0; i < mb; i++) {
    float* ci = c + i * ldc;
    const float* ti = tmp + i * K->nr;
    if (beta == 0.f) for (int j = 0; j < nb; j++) ci[j] = alpha * ti[j];
    else for (int j = 0; j < nb; j++) ci[j] = alpha * ti[j] + beta * ci[j];
  }
}

// Block sizes no larger than the kernel's, balanced so that the last block is not a sliver.
static int64_t balanced(int64_t total, int64_t max_block, int64_t multiple) {
  const int64_t blocks = ceil_div(total, max_block);
  return round_up(ceil_div(total, blocks), multiple);
}

// Scratch per calling thread, grown on demand and kept (no allocation per call).
static _Thread_local float* scratch;
static _Thread_local size_t scratch_floats;

static float* get_scratch(size_t floats) {
  if (floats <= scratch_floats) return scratch;
  free(scratch);
  scratch = (float*)aligned_alloc(64, round_up((int64_t)floats * sizeof(float), 64));
  scratch_floats = scratch ? floats : 0;
  return scratch;
}

static void scale_c(const Problem* P) {
  for (int64_t i = 0; i < P->m; i++) {
    float* ci = P->c + i * P->ldc;
    if (P->beta == 0.f) memset(ci, 0, sizeof(float) * (size_t)P->n);
    else for (int64_t j = 0; j < P->n; j++) ci[j] *= P->beta;
  }
}

// Packing copies each element once so that the micro-kernel streams aligned, contiguous panels; an
// operand whose elements are reused only a few times is cheaper to read in place. A (row-major, k
// contiguous, or m contiguous when transposed: the kernel takes either stride) is read in place when
// n is small: each A element then feeds at most 2 * n flops, as in the convolutions' im2col GEMMs
// with 32-128 output channels and their filter gradients. B (n contiguous) likewise when m
// is small (fully connected layers on a minibatch). Partial edge panels are always packed.
#define DIRECT_A_MAX_N 256
#define DIRECT_B_MAX_M 64
// With A read in place, a packed B block of up to 192 KiB shares a 512 KiB L2 with A's rows and C.
#define L2_BLOCK_FLOATS (48 * 1024)

static int gemm_blocked(const Problem* P, int threads) {
  const Kernel* K = P->K;
  const int64_t m = P->m, n = P->n, k = P->k;
  const int mr = K->mr, nr = K->nr;
  const int direct_a = n <= DIRECT_A_MAX_N;
  const int direct_b = P->bcs == 1 && m <= DIRECT_B_MAX_M;
  // Packed A (BLIS order): the B block (KC x NC, NC up to the kernel's 4096) lives in L3 and is
  // packed once per KC, each thread's A block (MC x KC) in L2, packed once per NC block (for most of
  // our shapes once in all), and each B micro-panel (KC x NR) stays in L1 while the A micro-panels
  // stream past it. A read in place (n small): A's rows are the operand reused from L1 (row panel
  // outer, B panels inner) and the B block (KC x NC) is reread from L2 for every row panel, so it is
  // sized to fit there, the only bound on KC: a long KC writes C fewer times. A transposed A read
  // in place touches one cache line (and soon one page) per k, so its panels stay short.
  int64_t KC, NC;
  if (direct_a && P->acs == 1) {
    NC = balanced(n, K->nc, nr);
    KC = balanced(k, L2_BLOCK_FLOATS / NC > K->kc ? L2_BLOCK_FLOATS / NC : K->kc, 1);
  } else {
    KC = balanced(k, K->kc, 1);
    NC = balanced(n, K->nc, nr);
  }
  // Row blocks: a multiple of the thread count when there are enough rows, so no thread idles.
  int64_t m_blocks = ceil_div(m, K->mc);
  if (threads > 1 && m_blocks >= threads) m_blocks = round_up(m_blocks, threads);
  const int64_t MC = round_up(ceil_div(m, m_blocks), mr);
  m_blocks = ceil_div(m, MC);
  const size_t b_floats = (size_t)(KC * NC), a_floats = (size_t)(MC * KC);
  float* buf = get_scratch(b_floats + a_floats * (size_t)(threads + 1));
  if (!buf) return 0;
  float* pb_all = buf;
  float* pa_shared = buf + b_floats;
  const int split_rows = threads == 1 || m_blocks >= threads;

  #pragma omp parallel num_threads(threads)
  {
    float* pa_own = buf + b_floats + a_floats * (size_t)(1 + omp_get_thread_num());
    for (int64_t jc = 0; jc < n; jc += NC) {
      const int64_t nc = min64(NC, n - jc);
      const int64_t b_panels = ceil_div(nc, nr);
      for (int64_t pc = 0; pc < k; pc += KC) {
        const int64_t kc = min64(KC, k - pc);
        const float beta = pc == 0 ? P->beta : 1.f;
        const float* b0 = P->b + pc * P->brs + jc * P->bcs;
        {
          // Each thread packs a contiguous range of the block's B panels.
          const int t = omp_get_thread_num(), nt = omp_get_num_threads();
          const int64_t lo = b_panels * t / nt, hi = b_panels * (t + 1) / nt;
          pack_b_range(nr, lo, hi, nc, kc, b0, P->brs, P->bcs, direct_b, pb_all);
          #pragma omp barrier
        }
        // The micro-tile at A panel ir, B panel jp of the row block at ic (A panels packed in pa).
        #define TILE(pa, ic, mc, ir, jp)                                                                      \
          do {                                                                                                \
            const int mb_ = (int)min64(mr, (mc) - (ir)), nb_ = (int)min64(nr, nc - (jp) * nr);                \
            const int da_ = direct_a && mb_ == mr, db_ = direct_b && nb_ == nr;                               \
            run_tile(K, kc, da_ ? P->a + ((ic) + (ir)) * P->ars + pc * P->acs : (pa) + (ir) * kc,              \
                     da_ ? P->ars : 1, da_ ? P->acs : mr, db_ ? b0 + (jp) * nr : pb_all + (jp) * nr * kc,      \
                     db_ ? P->brs : nr,                                                                       \
                     P->c + ((ic) + (ir)) * P->ldc + jc + (jp) * nr, P->ldc, mb_, nb_, P->alpha, beta);        \
          } while (0)
        if (split_rows) {
          // Each thread packs and computes whole MC blocks of rows.
          #pragma omp for schedule(static)
          for (int64_t ib = 0; ib < m_blocks; ib++) {
            const int64_t ic = ib * MC, mc = min64(MC, m - ic);
            pack_a_block(mr, mc, kc, P->a + ic * P->ars + pc * P->acs, P->ars, P->acs, direct_a, pa_own);
            if (direct_a) {
              for (int64_t ir = 0; ir < mc; ir += mr) for (int64_t jp = 0; jp < b_panels; jp++) TILE(pa_own, ic, mc, ir, jp);
            } else {
              for (int64_t jp = 0; jp < b_panels; jp++) for (int64_t ir = 0; ir < mc; ir += mr) TILE(pa_own, ic, mc, ir, jp);
            }
          }
        } else {
          // Few rows: the threads pack one shared A block, then split its micro-tiles.
          for (int64_t ic = 0; ic < m; ic += MC) {
            const int64_t mc = min64(MC, m - ic);
            const int64_t a_panels = ceil_div(mc, mr);
            #pragma omp for schedule(static)
            for (int64_t ap = 0; ap < a_panels; ap++) {
              const int64_t ir = ap * mr;
              const int mb = (int)min64(mr, mc - ir);
              if (!direct_a || mb < mr) pack_a_panel(mr, mb, kc, P->a + (ic + ir) * P->ars + pc * P->acs, P->ars, P->acs, pa_shared + ir * kc);
            }
            #pragma omp for schedule(static)
            for (int64_t t = 0; t < a_panels * b_panels; t++) TILE(pa_shared, ic, mc, (t % a_panels) * mr, t / a_panels);
          }
        }
        #undef TILE
      }
    }
  }
  return 1;
}

// Few outputs and a long k (the filter gradients of the high-resolution layers: 144 x 16 outputs
// over k = 65536): the blocked loop would synchronize the threads twice per KC for little work
// each time. Instead each thread multiplies its own slice of k, thread 0 into C and the others
// into private buffers, which are then added to C. (The sum's order depends on the thread count,
// as everywhere in a threaded GEMM.)
#define SPLIT_K_MAX_MN (64 * 1024)

static int gemm_split_k(const Problem* P, int threads) {
  const int64_t m = P->m, n = P->n;
  float* part = (float*)malloc(sizeof(float) * (size_t)(m * n) * (size_t)(threads - 1));
  if (!part) return 0;
  int ok = 1;
  #pragma omp parallel num_threads(threads) reduction(&& : ok)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t k0 = P->k * t / nt, k1 = P->k * (t + 1) / nt;
    Problem S = *P;
    S.k = k1 - k0;
    S.a = P->a + k0 * P->acs;
    S.b = P->b + k0 * P->brs;
    if (t > 0) {
      S.c = part + (size_t)(t - 1) * (size_t)(m * n);
      S.ldc = n;
      S.beta = 0.f;
    }
    ok = gemm_blocked(&S, 1);  // S.k >= 4 * KC: gemm_ours splits only long k
    #pragma omp barrier
    #pragma omp for schedule(static)
    for (int64_t i = 0; i < m; i++) {
      float* ci = P->c + i * P->ldc;
      for (int u = 0; u < nt - 1; u++) {
        const float* pi = part + (size_t)u * (size_t)(m * n) + (size_t)(i * n);
        for (int64_t j = 0; j < n; j++) ci[j] += pi[j];
      }
    }
  }
  free(part);
  return ok;
}

static int gemm_ours(const Problem* P) {
  // Below about 2 MFLOP a second thread costs more than it saves.
  const double flops = 2.0 * (double)P->m * (double)P->n * (double)P->k;
  const int threads = flops < 2e6 ? 1 : omp_get_max_threads();
  if (threads > 1 && P->m * P->n <= SPLIT_K_MAX_MN && P->k >= (int64_t)threads * 4 * P->K->kc) return gemm_split_k(P, threads);
  return gemm_blocked(P, threads);
}

// ---- engines ------------------------------------------------------------------------------

enum { ENGINE_OURS, ENGINE_ONEDNN, ENGINE_OPENBLAS };
static int engine = ENGINE_OURS;
static const Kernel* kernel;  // ours: NULL until first use (then auto)
static char description[96];

static const Kernel* auto_kernel(void) {
  for (int i = 0; i < NUM_KERNELS; i++) if (KERNELS[i].automatic && kernel_supported(&KERNELS[i])) return &KERNELS[i];
  return &KERNELS[NUM_KERNELS - 1];
}

int rlo_gemm_select(const char* name) {
  if (!strcmp(name, "ours") || !strcmp(name, "auto")) { engine = ENGINE_OURS; kernel = auto_kernel(); return 1; }
  if (!strncmp(name, "ours:", 5)) {
    for (int i = 0; i < NUM_KERNELS; i++) {
      if (!strcmp(KERNELS[i].name, name + 5) && kernel_supported(&KERNELS[i])) { engine = ENGINE_OURS; kernel = &KERNELS[i]; return 1; }
    }
    return 0;
  }
  if (!strcmp(name, "onednn") && rlo_blas_available(BLAS_ONEDNN)) { engine = ENGINE_ONEDNN; return 1; }
  if (!strcmp(name, "openblas") && rlo_blas_available(BLAS_OPENBLAS)) { engine = ENGINE_OPENBLAS; return 1; }
  return 0;
}

const char* rlo_gemm_describe(void) {
  if (!kernel) kernel = auto_kernel();
  if (engine == ENGINE_ONEDNN) return rlo_blas_name(BLAS_ONEDNN);
  if (engine == ENGINE_OPENBLAS) return rlo_blas_name(BLAS_OPENBLAS);
  snprintf(description, sizeof description, "ours %s %dx%d", kernel->name, kernel->mr, kernel->nr);
  return description;
}

const char* rlo_gemm_kernels(void) {
  static char list[128];
  list[0] = 0;
  for (int i = 0; i < NUM_KERNELS; i++) {
    if (!kernel_supported(&KERNELS[i])) continue;
    if (list[0]) strncat(list, ",", sizeof list - strlen(list) - 1);
    strncat(list, KERNELS[i].name, sizeof list - strlen(list) - 1);
  }
  return list;
}

const char* rlo_gemm_engines(void) {
  static char list[64];
  snprintf(list, sizeof list, "ours%s%s", rlo_blas_available(BLAS_ONEDNN) ? ",onednn" : "", rlo_blas_available(BLAS_OPENBLAS) ? ",openblas" : "");
  return list;
}

int rlo_sgemm(char ta, char tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda, const float* b,
              int64_t ldb, float beta, float* c, int64_t ldc) {
  if (!kernel) kernel = auto_kernel();
  const int at = ta == 'T' || ta == 't', bt = tb == 'T' || tb == 't';
  const Problem P = {
    kernel, m, n, k, alpha, beta,
    a, at ? 1 : lda, at ? lda : 1,
    b, bt ? 1 : ldb, bt ? ldb : 1,
    c, ldc,
  };
  // Degenerate sizes behave the same with every engine (oneDNN refuses k = 0).
  if (m <= 0 || n <= 0) return 1;
  if (k <= 0 || alpha == 0.f) { scale_c(&P); return 1; }
  if (engine == ENGINE_ONEDNN) return rlo_blas_sgemm(BLAS_ONEDNN, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  if (engine == ENGINE_OPENBLAS) return rlo_blas_sgemm(BLAS_OPENBLAS, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  return gemm_ours(&P);
}
