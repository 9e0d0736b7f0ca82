/* The register tile of the packed GEMMs (gemm_body.h for inference,
 * sgemm_body.h for training), written once with GCC vector extensions and
 * compiled per ISA. The includer defines GB_VL (floats per vector), GB_NV
 * (vectors per panel, NR = VL*NV), GB_MR (rows per tile) and GB_SFX. */
#ifndef PARE_GEMM_TILE_H
#define PARE_GEMM_TILE_H
#include "kernels/cpu/kern_internal.h"

#define GB_CAT2(a, b) a##b
#define GB_CAT(a, b) GB_CAT2(a, b)
#define GB_NAME(base) GB_CAT(base, GB_SFX)
#define GB_NR (GB_VL * GB_NV)

#include <stdatomic.h>
#include <stdbool.h>

typedef float gb_vec __attribute__((vector_size(GB_VL * 4)));
typedef float gb_uvec __attribute__((vector_size(GB_VL * 4), aligned(4)));

/* One MR' x NR tile, MR' = mr <= GB_MR a compile-time constant after
 * inlining. a: rows of x at stride lda (at: A transposed, so a[k lda + i]
 * holds row i, column k); b: packed slice [kc][NR]; c: tile
 * at stride ldc; bias: start from it (first k slice), else from c; pf: a
 * packed slice [kc][NR] to prefetch into L2 on the way (the next panel's,
 * or b itself when there is nothing to fetch). */
static inline __attribute__((always_inline)) void gb_tile(const int at, const int mr, int64_t kc, const float *a,
                                                          int64_t lda, const float *b, float *c,
                                                          int64_t ldc, const float *bias,
                                                          const float *pf) {
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
        for (int j = 0; j < GB_NR; j += 16) __builtin_prefetch(pf + k * GB_NR + j, 0, 1);
#pragma GCC unroll 4
        for (int j = 0; j < GB_NV; j++) bv[j] = *(const gb_vec *)(b + k * GB_NR + j * GB_VL);
#pragma GCC unroll 16
        for (int i = 0; i < GB_MR; i++) {
            if (i >= mr) break;
            float av = at ? a[k * lda + i] : a[i * lda + k];
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
        if (r <= GB_MR) {                                                                    \
            if (at) gb_tile(1, r, kc, a, lda, b, c, ldc, bias, pf);                          \
            else gb_tile(0, r, kc, a, lda, b, c, ldc, bias, pf);                             \
        }                                                                                    \
        break;

static void gb_tile_any(int at, int mr, int64_t kc, const float *a, int64_t lda, const float *b, float *c,
                        int64_t ldc, const float *bias, const float *pf) {
    switch (mr) {
        GB_CASE(1) GB_CASE(2) GB_CASE(3) GB_CASE(4) GB_CASE(5) GB_CASE(6) GB_CASE(7)
        GB_CASE(8) GB_CASE(9) GB_CASE(10) GB_CASE(11) GB_CASE(12)
    default: break;
    }
}

/* Work items of a packed GEMM, (group of panels) x (block of rows), handed
 * out through an atomic counter so a faster thread takes more of them;
 * item it covers panels [p0, p1) and rows [r0, r1). */
typedef struct {
    int64_t n_panels, m;
    int64_t group, n_groups; /* panels per item, items along n */
    int64_t rows, n_rblocks; /* rows per item (a multiple of GB_MR), items along m */
} gb_plan;

/* Groups of up to GB_GROUP panels, at least `want` of them if possible
 * (whole: one group of every panel); then row blocks of GB_MC rows, smaller
 * when there are too few groups to balance. */
static inline gb_plan gb_plan_items(int64_t n_panels, int64_t m, int64_t want, bool whole) {
    gb_plan pl = {.n_panels = n_panels, .m = m};
    pl.group = whole ? n_panels : n_panels / want;
    pl.group = pl.group < 1 ? 1 : pl.group > GB_GROUP && !whole ? GB_GROUP : pl.group;
    pl.n_groups = (n_panels + pl.group - 1) / pl.group;
    const int64_t tiles = (m + GB_MR - 1) / GB_MR;
    int64_t rtiles = GB_MC / GB_MR;
    if (pl.n_groups < want) {
        const int64_t split = (want + pl.n_groups - 1) / pl.n_groups, t = (tiles + split - 1) / split;
        rtiles = t < rtiles ? t : rtiles;
    }
    rtiles = rtiles < 1 ? 1 : rtiles;
    pl.rows = rtiles * GB_MR;
    pl.n_rblocks = (m + pl.rows - 1) / pl.rows;
    return pl;
}

/* Item it of the plan; consecutive items share their panels (B stays in L2). */
static inline void gb_plan_item(const gb_plan *pl, int64_t it, int64_t *p0, int64_t *p1, int64_t *r0, int64_t *r1) {
    const int64_t g = it / pl->n_rblocks, rb = it % pl->n_rblocks;
    *p0 = g * pl->group;
    *p1 = *p0 + pl->group < pl->n_panels ? *p0 + pl->group : pl->n_panels;
    *r0 = rb * pl->rows;
    *r1 = *r0 + pl->rows < pl->m ? *r0 + pl->rows : pl->m;
}

/* Claim the next unclaimed item (the pool's threads share *next): false
 * when every item is taken. */
static inline bool gb_plan_next(const gb_plan *pl, atomic_llong *next, int64_t *p0, int64_t *p1, int64_t *r0, int64_t *r1) {
    const int64_t it = atomic_fetch_add_explicit(next, 1, memory_order_relaxed);
    if (it >= pl->n_groups * pl->n_rblocks) return false;
    gb_plan_item(pl, it, p0, p1, r0, r1);
    return true;
}

#endif
