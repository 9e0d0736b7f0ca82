/* Packed-weight GEMM, written once with GCC vector extensions and compiled
 * per ISA. The including file defines:
 *   GB_VL  floats per vector register   GB_NV  vectors per panel (NR = VL*NV)
 *   GB_MR  rows per micro-tile          GB_KC, GB_MC  cache blocks over k, m
 *   GB_GROUP  panels per work item      GB_SFX name suffix (avx2, avx512)
 *
 * y[m, n] = act(x[m, k] . W^T + bias), W packed at init (linear.c) as
 * panels of NR output columns: packed[p][kk][j] = W[p*NR + j][kk], zero
 * padded, followed by the bias padded to n_panels*NR.
 *
 * Work is cut into items of (up to GB_GROUP panels) x (up to GB_MC rows),
 * claimed dynamically by the threads; per item:
 *   for MC rows of x:              x block MC x KC stays in L2
 *     for KC slice of k:
 *       for each panel p:          B slice KC x NR stays in L1
 *         for each MR-row tile:    MR x NR accumulators in registers
 * The first k slice starts the accumulators from the bias; the last applies
 * the activation to the finished tile while it is in L1. */
#include "kernels/cpu/gemm_tile.h"

#include <stdatomic.h>

/* Work items: (group of panels, block of rows), handed out through an
 * atomic counter so a thread that runs faster (the other core is shared
 * with another process, or sits on a slower clock) takes more of them;
 * the result does not depend on which thread computes an item. */
typedef struct {
    const pare_linear *l;
    const float *x;
    int64_t m;
    float *y;
    pare_act act;
    gb_plan plan;
    atomic_llong next;        /* next unclaimed item */
} gb_job;

/* rows [r0, r1) x panels [p0, p1) of y, all of k */
static void gb_block(const gb_job *jb, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
    const int64_t n = jb->l->n_out, k = jb->l->n_in;
    const int64_t n_panels = (n + GB_NR - 1) / GB_NR;
    const float *packed = jb->l->packed;
    const float *pbias = packed + n_panels * k * GB_NR;
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
                /* the first tile pulls the next B slice into L2: the next
                 * panel's, else the first panel's next k slice */
                const float *pf = p + 1 < p1 ? b + k * GB_NR
                                  : !last  ? packed + (p0 * k + kc0 + kc) * GB_NR
                                           : b;
                for (int64_t i0 = mc0; i0 < mc1; i0 += GB_MR, pf = b) {
                    int mr = (int)(mc1 - i0 < GB_MR ? mc1 - i0 : GB_MR);
                    const float *a = jb->x + i0 * k + kc0;
                    float *yc = jb->y + i0 * n + n0;
                    if (nc == GB_NR) {
                        gb_tile_any(0, mr, kc, a, k, b, yc, n, bias, pf);
                    } else { /* ragged last panel: go through a full-width tile */
                        if (!first)
                            for (int i = 0; i < mr; i++)
                                for (int64_t j = 0; j < nc; j++) tmp[i * GB_NR + j] = yc[i * n + j];
                        gb_tile_any(0, mr, kc, a, k, b, tmp, GB_NR, bias, pf);
                        for (int i = 0; i < mr; i++)
                            for (int64_t j = 0; j < nc; j++) yc[i * n + j] = tmp[i * GB_NR + j];
                    }
                }
                /* the panel's block of y is still in L1 */
                if (last && jb->act != PARE_ACT_NONE)
                    GB_NAME(pare_act_2d_)(jb->y + mc0 * n + n0, n, mc1 - mc0, nc, jb->act);
            }
        }
    }
}

static void gb_worker(void *ctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    gb_job *jb = ctx;
    int64_t p0, p1, r0, r1;
    while (gb_plan_next(&jb->plan, &jb->next, &p0, &p1, &r0, &r1)) gb_block(jb, r0, r1, p0, p1);
}

void GB_NAME(pare_gemm_)(const pare_linear *l, const float *x, int64_t m, float *y, pare_act act,
                         pare_pool *pool) {
    /* Tiny problems are not worth waking the pool. */
    if ((double)m * (double)l->n_out * (double)l->n_in < 65536.0) pool = NULL;
    const int64_t nth = pare_pool_size(pool), want = 4 * nth; /* items to balance over */
    const int64_t n_panels = (l->n_out + GB_NR - 1) / GB_NR;
    gb_job jb = {.l = l, .x = x, .m = m, .y = y, .act = act, .plan = gb_plan_items(n_panels, m, want, false)};
    atomic_init(&jb.next, 0);
    pare_pool_run(pool, gb_worker, &jb);
}
