/* int8 GEMM driver, compiled once per ISA (int8_gemm_avx2.c,
 * int8_gemm_vnni.c). The including file defines
 *   I8_MR, I8_NR    micro-tile rows and panel width (columns)
 *   I8_KC, I8_MC    cache blocks over k (bytes, a multiple of 4) and rows
 *   I8_GROUP        panels per work item
 *   I8_SFX          name suffix; I8_ACT_SFX: that of the row kernels
 * and before including this file
 *   i8_tile(mr, kq, u, q, ld, b, c, ldc, first): the mr x NR tile of int32
 *     accumulators at c (stride ldc) += rows of the input (u/q at stride ld,
 *     kq groups of 4 k values) . the packed slice b [kq][NR][4]; first:
 *     start from 0 instead of c.
 *
 * Same scheme as the fp32 GEMM (gemm_body.h): work items of (group of
 * panels) x (block of rows) claimed through an atomic counter; per item
 * MC rows x KC slice x panel x MR-row tiles. The int32 accumulators live in
 * y itself (a float has the size of an int32) until the last k slice, which
 * turns the tile into floats while it is in L1:
 *   y = (acc - comp[j]) * sx[i] * sw[j] + bias[j], then the activation.
 * With no input scales (pare_qlinear_gemm_i32) y keeps acc - comp[j]. */
#include "kernels/cpu/int8_internal.h"
#include "kernels/cpu/kern_internal.h"

#include <stdatomic.h>
#include <string.h>

#define I8_CAT2(a, b) a##b
#define I8_CAT(a, b) I8_CAT2(a, b)
#define I8_NAME(base) I8_CAT(base, I8_SFX)

#define I8_CASE(r)                                                                           \
    case r:                                                                                  \
        if (r <= I8_MR) i8_tile(r, kq, u, q, ld, b, c, ldc, first);                           \
        break;

static void i8_tile_any(int mr, int64_t kq, const uint8_t *u, const int8_t *q, int64_t ld,
                        const int8_t *b, int32_t *c, int64_t ldc, bool first) {
    switch (mr) {
        I8_CASE(1) I8_CASE(2) I8_CASE(3) I8_CASE(4) I8_CASE(5) I8_CASE(6) I8_CASE(7) I8_CASE(8)
    default: break;
    }
}

/* The finished int32 tile at c (mr rows x NR, stride ldc) into floats (or
 * compensated int32 when sx is NULL); sw, bias, comp start at its column. */
static void i8_epilogue(int32_t *c, int64_t ldc, int mr, const float *sx, const float *sw,
                        const float *bias, const int32_t *comp) {
    for (int i = 0; i < mr; i++) {
        int32_t *row = c + i * ldc;
        int32_t acc[I8_NR];
        memcpy(acc, row, sizeof acc);
        if (comp)
            for (int j = 0; j < I8_NR; j++) acc[j] -= comp[j];
        if (!sx) {
            memcpy(row, acc, sizeof acc);
            continue;
        }
        float out[I8_NR];
        const float s = sx[i];
        for (int j = 0; j < I8_NR; j++) out[j] = (float)acc[j] * (s * sw[j]) + (bias ? bias[j] : 0.0f);
        memcpy(row, out, sizeof out);
    }
}

typedef pare_i8_job i8_job;

static void i8_block(const i8_job *jb, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
    const pare_qlinear *l = jb->l;
    const int64_t n = l->n_out, kp = l->k_pad, KQ = kp / 4;
    const int64_t ld = jb->in->ld;
    const float *sxs = jb->in->scale;
    /* k slices of equal size <= I8_KC, in groups of 4 */
    const int64_t kq_max = I8_KC / 4;
    const int64_t n_slices = (KQ + kq_max - 1) / kq_max;
    const int64_t kstep = (KQ + n_slices - 1) / n_slices;
    int32_t tmp[I8_MR * I8_NR];
    for (int64_t mc0 = r0; mc0 < r1; mc0 += I8_MC) {
        int64_t mc1 = mc0 + I8_MC < r1 ? mc0 + I8_MC : r1;
        for (int64_t kq0 = 0; kq0 < KQ; kq0 += kstep) {
            int64_t kq = KQ - kq0 < kstep ? KQ - kq0 : kstep;
            bool first = kq0 == 0, last = kq0 + kq == KQ;
            for (int64_t p = p0; p < p1; p++) {
                const int8_t *b = l->packed + (p * KQ + kq0) * 4 * I8_NR;
                int64_t n0 = p * I8_NR, nc = n - n0 < I8_NR ? n - n0 : I8_NR;
                const float *sw = l->w_scale + n0, *bias = l->bias ? l->bias + n0 : NULL;
                const int32_t *comp = l->comp ? l->comp + n0 : NULL;
                for (int64_t i0 = mc0; i0 < mc1; i0 += I8_MR) {
                    int mr = (int)(mc1 - i0 < I8_MR ? mc1 - i0 : I8_MR);
                    const uint8_t *u = jb->in->u ? jb->in->u + i0 * ld + kq0 * 4 : NULL;
                    const int8_t *q = jb->in->q ? jb->in->q + i0 * ld + kq0 * 4 : NULL;
                    int32_t *yc = jb->y + i0 * n + n0;
                    const float *sx = sxs ? sxs + i0 : NULL;
                    if (nc == I8_NR) {
                        i8_tile_any(mr, kq, u, q, ld, b, yc, n, first);
                        if (last) i8_epilogue(yc, n, mr, sx, sw, bias, comp);
                    } else { /* ragged last panel: through a full-width tile */
                        if (!first)
                            for (int i = 0; i < mr; i++)
                                memcpy(tmp + i * I8_NR, yc + i * n, (size_t)nc * sizeof(int32_t));
                        i8_tile_any(mr, kq, u, q, ld, b, tmp, I8_NR, first);
                        if (last) i8_epilogue(tmp, I8_NR, mr, sx, sw, bias, comp);
                        for (int i = 0; i < mr; i++)
                            memcpy(yc + i * n, tmp + i * I8_NR, (size_t)nc * sizeof(int32_t));
                    }
                }
                if (last && sxs && jb->act != PARE_ACT_NONE)
                    I8_CAT(pare_act_2d_, I8_ACT_SFX)((float *)(void *)(jb->y + mc0 * n + n0), n, mc1 - mc0, nc,
                                          jb->act);
            }
        }
    }
}

static void i8_worker(void *ctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    i8_job *jb = ctx;
    const int64_t n_panels = (jb->l->n_out + I8_NR - 1) / I8_NR;
    const int64_t n_items = jb->n_groups * jb->n_rblocks;
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed);
        if (it >= n_items) break;
        int64_t g = it / jb->n_rblocks, rb = it % jb->n_rblocks;
        int64_t p0 = g * jb->group, p1 = p0 + jb->group < n_panels ? p0 + jb->group : n_panels;
        int64_t r0 = rb * jb->rows, r1 = r0 + jb->rows < jb->m ? r0 + jb->rows : jb->m;
        i8_block(jb, r0, r1, p0, p1);
    }
}

void I8_NAME(pare_i8_gemm_)(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                            pare_act act, pare_pool *pool) {
    if ((double)m * (double)l->n_out * (double)l->n_in < 65536.0) pool = NULL;
    const int64_t nth = pare_pool_size(pool), want = 4 * nth;
    const int64_t n_panels = (l->n_out + I8_NR - 1) / I8_NR;
    const int64_t tiles = (m + I8_MR - 1) / I8_MR;
    i8_job jb = {.l = l, .in = in, .m = m, .y = y, .act = act};
    jb.group = n_panels / want;
    jb.group = jb.group < 1 ? 1 : jb.group > I8_GROUP ? I8_GROUP : jb.group;
    jb.n_groups = (n_panels + jb.group - 1) / jb.group;
    int64_t rtiles = I8_MC / I8_MR;
    if (jb.n_groups < want) {
        int64_t split = (want + jb.n_groups - 1) / jb.n_groups;
        int64_t t = (tiles + split - 1) / split;
        rtiles = t < rtiles ? t : rtiles;
    }
    rtiles = rtiles < 1 ? 1 : rtiles;
    jb.rows = rtiles * I8_MR;
    jb.n_rblocks = (m + jb.rows - 1) / jb.rows;
    atomic_init(&jb.next, 0);
    pare_pool_run(pool, i8_worker, &jb);
}
