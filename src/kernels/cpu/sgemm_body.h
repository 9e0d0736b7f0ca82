/* The training GEMM (pare_sgemm in pare/kernels.h) on the packed tile of
 * gemm_tile.h. The includer defines GB_VL, GB_NV, GB_MR, GB_KC, GB_MC,
 * GB_GROUP and GB_SFX as for gemm_body.h.
 *
 * Per call: B (op(B) [K, N]) is packed into ws as panels of NR columns,
 * packed[p][kk][j] = op(B)[kk][p*NR + j] zero padded, followed by the bias
 * padded to n_panels*NR (zeros without one); the panels are split over the
 * pool. Then the items of gb_plan_items are claimed as in gemm_body.h; a
 * row-major A is read in place, a transposed one is copied per (row block,
 * k slice) into a per-thread block of ws (sg_block). When ws cannot hold
 * all of K, K is cut into chunks and every chunk after the first
 * accumulates. */
#include "kernels/cpu/gemm_tile.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const pare_sgemm_args *g;
    int64_t k0, kn;  /* the chunk of K */
    bool from_c;     /* start from C (accumulate), else from the packed bias */
    float *packed;
    gb_plan plan;     /* the items, and the panel count */
    float *apack;     /* A^T: SG_APACK floats per thread, or NULL (sg_block allocates) */
    atomic_llong next;
} sg_job;

/* floats of one thread's packed A^T block: a row block by a k slice */
#define SG_APACK ((GB_MC + GB_MR) * GB_KC)

static void sg_pack(void *ctx, int ith, int nth) {
    const sg_job *jb = ctx;
    const pare_sgemm_args *g = jb->g;
    const int64_t N = g->N, kn = jb->kn;
    int64_t p0, p1;
    pare_split_range(jb->plan.n_panels, ith, nth, &p0, &p1);
    for (int64_t p = p0; p < p1; p++) {
        float *panel = jb->packed + p * kn * GB_NR;
        const int64_t n0 = p * GB_NR, nc = N - n0 < GB_NR ? N - n0 : GB_NR;
        if (g->tb) { /* B [N, K]: 16 k at a time, so the writes stay in 16 lines */
            for (int64_t kb = 0; kb < kn; kb += 16) {
                const int64_t kc = kn - kb < 16 ? kn - kb : 16;
                for (int64_t j = 0; j < GB_NR; j++) {
                    const float *src = g->B + (n0 + j) * g->ldb + jb->k0 + kb;
                    for (int64_t t = 0; t < kc; t++) panel[(kb + t) * GB_NR + j] = j < nc ? src[t] : 0.0f;
                }
            }
        } else { /* B [K, N]: rows of NR */
            for (int64_t kk = 0; kk < kn; kk++) {
                const float *src = g->B + (jb->k0 + kk) * g->ldb + n0;
                float *dst = panel + kk * GB_NR;
                memcpy(dst, src, sizeof(float) * (size_t)nc);
                if (nc < GB_NR) memset(dst + nc, 0, sizeof(float) * (size_t)(GB_NR - nc));
            }
        }
        float *pb = jb->packed + jb->plan.n_panels * kn * GB_NR + n0;
        for (int64_t j = 0; j < GB_NR; j++) pb[j] = g->bias && j < nc ? g->bias[n0 + j] : 0.0f;
    }
}

static void sg_block(const sg_job *jb, int ith, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
    const pare_sgemm_args *g = jb->g;
    const int64_t n = g->N, k = jb->kn, ldc = g->ldc, lda = g->lda;
    const float *packed = jb->packed, *pbias = packed + jb->plan.n_panels * k * GB_NR;
    const int64_t n_kslices = (k + GB_KC - 1) / GB_KC, kstep = (k + n_kslices - 1) / n_kslices;
    /* A^T: each (row block, k slice) is copied as [tile][kk][MR], the MR
     * consecutive floats of a k row side by side, so a tile streams its A
     * instead of reading kc strided lines (without memory: read in place) */
    float *own = g->ta && !jb->apack ? malloc(sizeof(float) * SG_APACK) : NULL;
    float *apack = !g->ta ? NULL : jb->apack ? jb->apack + (size_t)ith * SG_APACK : own;
    const int at = g->ta;
    float tmp[GB_MR * GB_NR];
    for (int64_t mc0 = r0; mc0 < r1; mc0 += GB_MC) {
        const int64_t mc1 = mc0 + GB_MC < r1 ? mc0 + GB_MC : r1;
        for (int64_t kc0 = 0; kc0 < k; kc0 += kstep) {
            const int64_t kc = k - kc0 < kstep ? k - kc0 : kstep;
            const bool first = kc0 == 0, last = kc0 + kc == k;
            if (apack)
                for (int64_t i0 = mc0; i0 < mc1; i0 += GB_MR) {
                    const int64_t mr = mc1 - i0 < GB_MR ? mc1 - i0 : GB_MR;
                    float *dst = apack + (i0 - mc0) * kc;
                    const float *src = g->A + (jb->k0 + kc0) * lda + i0;
                    if (mr == GB_MR)
                        for (int64_t kk = 0; kk < kc; kk++) memcpy(dst + kk * GB_MR, src + kk * lda, sizeof(float) * GB_MR);
                    else
                        for (int64_t kk = 0; kk < kc; kk++) memcpy(dst + kk * GB_MR, src + kk * lda, sizeof(float) * (size_t)mr);
                }
            for (int64_t p = p0; p < p1; p++) {
                const float *b = packed + (p * k + kc0) * GB_NR;
                const int64_t n0 = p * GB_NR, nc = n - n0 < GB_NR ? n - n0 : GB_NR;
                const float *bias = first && !jb->from_c ? pbias + n0 : NULL;
                const float *pf = p + 1 < p1 ? b + k * GB_NR : !last ? packed + (p0 * k + kc0 + kc) * GB_NR : b;
                for (int64_t i0 = mc0; i0 < mc1; i0 += GB_MR, pf = b) {
                    const int mr = (int)(mc1 - i0 < GB_MR ? mc1 - i0 : GB_MR);
                    const int64_t kg = jb->k0 + kc0; /* column of A */
                    const float *a = apack ? apack + (i0 - mc0) * kc : at ? g->A + kg * lda + i0 : g->A + i0 * lda + kg;
                    const int64_t la = apack ? GB_MR : lda;
                    float *c = g->C + i0 * ldc + n0;
                    if (nc == GB_NR) {
                        gb_tile_any(at, mr, kc, a, la, b, c, ldc, bias, pf);
                    } else {
                        if (!bias)
                            for (int i = 0; i < mr; i++) memcpy(tmp + i * GB_NR, c + i * ldc, sizeof(float) * (size_t)nc);
                        gb_tile_any(at, mr, kc, a, la, b, tmp, GB_NR, bias, pf);
                        for (int i = 0; i < mr; i++) memcpy(c + i * ldc, tmp + i * GB_NR, sizeof(float) * (size_t)nc);
                    }
                }
            }
        }
    }
    free(own);
}

static void sg_worker(void *ctx, int ith, int nth) {
    (void)nth;
    sg_job *jb = ctx;
    int64_t p0, p1, r0, r1;
    while (gb_plan_next(&jb->plan, &jb->next, &p0, &p1, &r0, &r1)) sg_block(jb, ith, r0, r1, p0, p1);
}

void GB_NAME(pare_sgemm_)(const pare_sgemm_args *g, float *ws, int64_t ws_floats, pare_pool *pool) {
    const int64_t n_panels = (g->N + GB_NR - 1) / GB_NR, cols = n_panels * GB_NR;
    if ((double)g->M * (double)g->N * (double)g->K < 65536.0) pool = NULL;
    const int64_t nth = pare_pool_size(pool), want = 4 * nth;
    /* A^T blocks at the end of ws when it has room (pare_sgemm_ws_threads) */
    float *apack = NULL;
    if (g->ta && ws_floats - nth * SG_APACK >= 2 * cols) {
        ws_floats -= nth * SG_APACK;
        apack = ws + ws_floats;
    }
    /* K per chunk: what ws holds beside the bias row */
    int64_t kchunk = ws_floats / cols - 1;
    kchunk = kchunk > g->K ? g->K : kchunk;
    /* A^T is packed per item: items of whole rows of panels, so it is packed once */
    const gb_plan plan = gb_plan_items(n_panels, g->M, want, g->ta);
    for (int64_t k0 = 0; k0 < g->K; k0 += kchunk) {
        sg_job jb = {.g = g, .k0 = k0, .kn = g->K - k0 < kchunk ? g->K - k0 : kchunk, .packed = ws, .plan = plan,
                     .apack = apack};
        jb.from_c = g->accumulate || k0 > 0;
        pare_pool_run(pool, sg_pack, &jb);
        atomic_init(&jb.next, 0);
        pare_pool_run(pool, sg_worker, &jb);
    }
}

int64_t GB_NAME(pare_sgemm_apack_)(void) { return SG_APACK; }
