/* Blocked sparse GEMM for many input rows (include/pare/sparse.h,
 * pare_spmm): building, the driver (transpose a tile of x in, the kernel
 * over output rows, transpose y out with bias and activation, each step
 * split over the pool), the generic kernel and the reference. The AVX-512
 * kernel is spmm_avx512.c. */
#include "kernels/cpu/kern_internal.h"
#include "kernels/cpu/spmm_internal.h"

#include <stdlib.h>
#include <string.h>

pare_status pare_spmm_build(const float *w, int64_t n, int64_t k, pare_arena *arena, pare_spmm *out, pare_err *err) {
    memset(out, 0, sizeof *out);
    if (n <= 0 || k <= 0 || n > ((int64_t)1 << 31) || k > ((int64_t)1 << 31))
        return pare_err_set(err, PARE_ERR_INVALID, "sparse weights: bad shape [%lld, %lld]", (long long)n, (long long)k);
    const int64_t nkb = (k + PARE_SPMM_KB - 1) / PARE_SPMM_KB, nnz = n * k - pare_count_zeros(PARE_Q_F32, w, n, k);
    pare_spmm_nz *nz = pare_arena_alloc(arena, sizeof *nz * (size_t)(nnz ? nnz : 1), 64);
    int64_t *off = pare_arena_alloc(arena, sizeof *off * (size_t)(nkb * n + 1), 64);
    if (!nz || !off) return pare_err_set(err, PARE_ERR_OOM, "out of memory for sparse weights [%lld, %lld]", (long long)n, (long long)k);
    int64_t p = 0;
    for (int64_t b = 0; b < nkb; b++)
        for (int64_t r = 0; r < n; r++) {
            off[b * n + r] = p;
            const int64_t c1 = (b + 1) * PARE_SPMM_KB < k ? (b + 1) * PARE_SPMM_KB : k;
            for (int64_t c = b * PARE_SPMM_KB; c < c1; c++)
                if (w[r * k + c] != 0) nz[p++] = (pare_spmm_nz){.v = w[r * k + c], .c = (int32_t)((c - b * PARE_SPMM_KB) * PARE_SPMM_TM * sizeof(float))};
        }
    off[nkb * n] = p;
    *out = (pare_spmm){.n = n, .k = k, .nnz = p, .nkb = nkb, .nz = nz, .off = off};
    return PARE_OK;
}

size_t pare_spmm_bytes(const pare_spmm *s) {
    return sizeof(pare_spmm_nz) * (size_t)s->nnz + sizeof(int64_t) * (size_t)(s->nkb * s->n + 1);
}

static int64_t tile_pad(int64_t m) {
    const int64_t t = m < PARE_SPMM_TM ? m : PARE_SPMM_TM;
    return (t + 15) / 16 * 16;
}

size_t pare_spmm_scratch_bytes(const pare_spmm *s, int64_t m) {
    const int64_t kp = s->nkb * PARE_SPMM_KB; /* x^T padded to whole blocks */
    return sizeof(float) * (size_t)(kp * PARE_SPMM_TM + s->n * tile_pad(m)) + 64;
}

void pare_spmm_matmul_ref(const pare_spmm *s, const float *x, int64_t m, float *y, const float *bias) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < s->n; r++) {
            double acc = bias ? bias[r] : 0;
            for (int64_t b = 0; b < s->nkb; b++)
                for (int64_t p = s->off[b * s->n + r]; p < s->off[b * s->n + r + 1]; p++)
                    acc += (double)s->nz[p].v * x[i * s->k + b * PARE_SPMM_KB + s->nz[p].c / (int32_t)(PARE_SPMM_TM * sizeof(float))];
            y[i * s->n + r] = (float)acc;
        }
}

static void rows_generic(const spmm_tile *t, int64_t r0, int64_t r1) {
    const pare_spmm *s = t->s;
    const int64_t tp = t->tp;
    for (int64_t r = r0; r < r1; r++) memset(t->yt + r * tp, 0, sizeof(float) * (size_t)tp);
    for (int64_t b = 0; b < s->nkb; b++)
        for (int64_t r = r0; r < r1; r++) {
            float *yr = t->yt + r * tp;
            for (int64_t p = s->off[b * s->n + r]; p < s->off[b * s->n + r + 1]; p++) {
                const float v = s->nz[p].v, *xr = (const float *)((const char *)(t->xt + b * PARE_SPMM_KB * PARE_SPMM_TM) + s->nz[p].c);
                for (int64_t i = 0; i < tp; i++) yr[i] += v * xr[i];
            }
        }
}

typedef struct spmm_job {
    spmm_tile t;
    const float *x;  /* the tile's first token */
    float *y;
    int64_t mt;      /* tokens in the tile */
    const float *bias;
    pare_act act;
    int step;        /* 0: transpose in, 1: kernel, 2: transpose out */
    bool avx512;
} spmm_job;

static void run_step(void *ctx, int ith, int nth) {
    const spmm_job *j = ctx;
    const pare_spmm *s = j->t.s;
    const int64_t tp = j->t.tp, k = s->k, n = s->n;
    int64_t lo, hi;
    if (j->step == 0) { /* xt[c][i] = x[i][c], zero padding; 16 x 16 blocks stay in L1 */
        const int64_t kp = s->nkb * PARE_SPMM_KB;
        pare_split_range(kp / 16, ith, nth, &lo, &hi);
        float *xt = (float *)j->t.xt;
        for (int64_t c0 = lo * 16; c0 < hi * 16; c0 += 16) {
            const int64_t c1 = c0 + 16 < k ? c0 + 16 : k;
            for (int64_t i0 = 0; i0 < tp; i0 += 16)
                for (int64_t c = c0; c < c0 + 16; c++) {
                    float *dst = xt + c * PARE_SPMM_TM + i0;
                    for (int64_t i = 0; i < 16; i++) dst[i] = c < c1 && i0 + i < j->mt ? j->x[(i0 + i) * k + c] : 0.0f;
                }
        }
    } else if (j->step == 1) {
        pare_split_range(n, ith, nth, &lo, &hi);
        if (j->avx512) pare_spmm_rows_avx512(&j->t, lo, hi);
        else rows_generic(&j->t, lo, hi);
    } else { /* y[i][r] = yt[r][i] + bias[r], in 16 x 16 blocks */
        pare_split_range((j->mt + 15) / 16, ith, nth, &lo, &hi);
        for (int64_t i0 = lo * 16; i0 < hi * 16 && i0 < j->mt; i0 += 16) {
            const int64_t i1 = i0 + 16 < j->mt ? i0 + 16 : j->mt;
            for (int64_t r0 = 0; r0 < n; r0 += 16) {
                const int64_t r1 = r0 + 16 < n ? r0 + 16 : n;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t r = r0; r < r1; r++) j->y[i * n + r] = j->t.yt[r * tp + i] + (j->bias ? j->bias[r] : 0.0f);
            }
            if (j->act != PARE_ACT_NONE)
                for (int64_t i = i0; i < i1; i++) pare_act_f32(j->y + i * n, n, j->act);
        }
    }
}

void pare_spmm_matmul(pare_pool *pool, const pare_spmm *s, const float *x, int64_t m, float *y, const float *bias,
                      pare_act act, void *scratch) {
    float *base = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    const int64_t kp = s->nkb * PARE_SPMM_KB;
    spmm_job j = {.t = {.s = s, .xt = base, .yt = base + kp * PARE_SPMM_TM}, .bias = bias, .act = act,
                  .avx512 = !s->generic && pare_pool_isa(pool) >= PARE_ISA_AVX512};
    for (int64_t i0 = 0; i0 < m; i0 += PARE_SPMM_TM) {
        j.mt = m - i0 < PARE_SPMM_TM ? m - i0 : PARE_SPMM_TM;
        j.t.tp = (j.mt + 15) / 16 * 16;
        j.x = x + i0 * s->k;
        j.y = y + i0 * s->n;
        for (j.step = 0; j.step < 3; j.step++) pare_pool_run(pool, run_step, &j);
    }
}
