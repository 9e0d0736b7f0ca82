/* Packed-weight GEMM, written once with GCC vector extensions and compiled
 * per ISA. The including file defines:
 *   GB_VL  floats per vector register   GB_NV  vectors per panel (NR = VL*NV)
 *   GB_MR  rows per micro-tile          GB_KC, GB_MC  cache blocks over k, m
 *   GB_SFX name suffix (avx2, avx512)
 *
 * y[m, n] = act(x[m, k] . W^T + bias), W packed at init (linear.c) as
 * panels of NR output columns: packed[p][kk][j] = W[p*NR + j][kk], zero
 * padded, followed by the bias padded to n_panels*NR.
 *
 * Loop nest per thread (threads own whole panels, or row ranges when there
 * are fewer panels than threads):
 *   for MC rows of x:              x block MC x KC stays in L2
 *     for KC slice of k:
 *       for each panel p:          B slice KC x NR stays in L1
 *         for each MR-row tile:    MR x NR accumulators in registers
 * The first k slice starts the accumulators from the bias; the last applies
 * the activation to the finished tile while it is in L1. */
#include "kernels/cpu/kern_internal.h"

#define GB_CAT2(a, b) a##b
#define GB_CAT(a, b) GB_CAT2(a, b)
#define GB_NAME(base) GB_CAT(base, GB_SFX)
#define GB_NR (GB_VL * GB_NV)

typedef float gb_vec __attribute__((vector_size(GB_VL * 4)));
typedef float gb_uvec __attribute__((vector_size(GB_VL * 4), aligned(4)));

/* One MR' x NR tile, MR' = mr <= GB_MR a compile-time constant after
 * inlining. a: rows of x at stride lda; b: packed slice [kc][NR]; c: tile
 * at stride ldc; bias: start from it (first k slice), else from c. */
static inline __attribute__((always_inline)) void gb_tile(const int mr, int64_t kc, const float *a,
                                                          int64_t lda, const float *b, float *c,
                                                          int64_t ldc, const float *bias) {
    gb_vec acc[GB_MR][GB_NV];
#pragma GCC unroll 16
    for (int i = 0; i < GB_MR; i++) {
        if (i >= mr) break;
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++)
            acc[i][j] = bias ? *(const gb_vec *)(bias + j * GB_VL)
                             : *(const gb_uvec *)(c + i * ldc + j * GB_VL);
    }
    for (int64_t k = 0; k < kc; k++) {
        gb_vec bv[GB_NV];
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++) bv[j] = *(const gb_vec *)(b + k * GB_NR + j * GB_VL);
#pragma GCC unroll 16
        for (int i = 0; i < GB_MR; i++) {
            if (i >= mr) break;
            float av = a[i * lda + k];
#pragma GCC unroll 4
            for (int j = 0; j < GB_NV; j++) acc[i][j] += av * bv[j];
        }
    }
#pragma GCC unroll 16
    for (int i = 0; i < GB_MR; i++) {
        if (i >= mr) break;
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++) *(gb_uvec *)(c + i * ldc + j * GB_VL) = acc[i][j];
    }
}

#define GB_CASE(r)                                                                           \
    case r:                                                                                  \
        if (r <= GB_MR) gb_tile(r, kc, a, lda, b, c, ldc, bias);                             \
        break;

static void gb_tile_any(int mr, int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, const float *bias) {
    switch (mr) {
        GB_CASE(1) GB_CASE(2) GB_CASE(3) GB_CASE(4) GB_CASE(5) GB_CASE(6) GB_CASE(7)
        GB_CASE(8) GB_CASE(9) GB_CASE(10) GB_CASE(11) GB_CASE(12)
    default: break;
    }
}

typedef struct {
    const pare_linear *l;
    const float *x;
    int64_t m;
    float *y;
    pare_act act;
} gb_job;

static void gb_worker(void *ctx, int ith, int nth) {
    const gb_job *jb = ctx;
    const int64_t n = jb->l->n_out, k = jb->l->n_in, m = jb->m;
    const int64_t n_panels = (n + GB_NR - 1) / GB_NR;
    const float *packed = jb->l->packed;
    const float *pbias = packed + n_panels * k * GB_NR;
    int64_t p0 = 0, p1 = n_panels, r0 = 0, r1 = m;
    if (n_panels >= nth) {
        pare_split_range(n_panels, ith, nth, &p0, &p1);
    } else { /* few panels: split rows, in whole tiles */
        int64_t tiles = (m + GB_MR - 1) / GB_MR;
        pare_split_range(tiles, ith, nth, &r0, &r1);
        r0 *= GB_MR;
        r1 = r1 * GB_MR < m ? r1 * GB_MR : m;
    }
    /* k slices of equal size <= GB_KC (768 -> 2 x 384, not 512 + 256) */
    const int64_t n_kslices = (k + GB_KC - 1) / GB_KC;
    const int64_t kstep = (k + n_kslices - 1) / n_kslices;
    float tmp[GB_MR * GB_NR];
    for (int64_t mc0 = r0; mc0 < r1; mc0 += GB_MC) {
        int64_t mc1 = mc0 + GB_MC < r1 ? mc0 + GB_MC : r1;
        for (int64_t kc0 = 0; kc0 < k; kc0 += kstep) {
            int64_t kc = k - kc0 < kstep ? k - kc0 : kstep;
            bool first = kc0 == 0, last = kc0 + kc == k;
            for (int64_t p = p0; p < p1; p++) {
                const float *b = packed + (p * k + kc0) * GB_NR;
                int64_t n0 = p * GB_NR, nc = n - n0 < GB_NR ? n - n0 : GB_NR;
                const float *bias = first ? pbias + n0 : NULL;
                for (int64_t i0 = mc0; i0 < mc1; i0 += GB_MR) {
                    int mr = (int)(mc1 - i0 < GB_MR ? mc1 - i0 : GB_MR);
                    const float *a = jb->x + i0 * k + kc0;
                    float *yc = jb->y + i0 * n + n0;
                    if (nc == GB_NR) {
                        gb_tile_any(mr, kc, a, k, b, yc, n, bias);
                    } else { /* ragged last panel: go through a full-width tile */
                        if (!first)
                            for (int i = 0; i < mr; i++)
                                for (int64_t j = 0; j < nc; j++) tmp[i * GB_NR + j] = yc[i * n + j];
                        gb_tile_any(mr, kc, a, k, b, tmp, GB_NR, bias);
                        for (int i = 0; i < mr; i++)
                            for (int64_t j = 0; j < nc; j++) yc[i * n + j] = tmp[i * GB_NR + j];
                    }
                    if (last && jb->act != PARE_ACT_NONE)
                        GB_NAME(pare_act_2d_)(yc, n, mr, nc, jb->act);
                }
            }
        }
    }
}

void GB_NAME(pare_gemm_)(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                         pare_pool *pool) {
    gb_job jb = {l, x, m, y, act};
    /* Tiny problems are not worth waking the pool. */
    if ((double)m * (double)l->n_out * (double)l->n_in < 65536.0) pool = NULL;
    pare_pool_run(pool, gb_worker, &jb);
}
