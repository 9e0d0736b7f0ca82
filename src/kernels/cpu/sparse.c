/* Bitmap-sparse weights (include/pare/sparse.h): building, the driver and
 * the scalar kernels; the AVX2 kernel is sparse_avx2.c. */
#include "kernels/cpu/kern_internal.h"
#include "kernels/cpu/sparse_internal.h"
#include "pare/sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static float load_w(pare_qtype type, const void *w, int64_t i) {
    return type == PARE_Q_F16 ? pare_f16_to_f32(((const uint16_t *)w)[i]) : ((const float *)w)[i];
}

int64_t pare_count_zeros(pare_qtype type, const void *w, int64_t n, int64_t k) {
    int64_t z = 0;
    if (type == PARE_Q_F16) {
        const uint16_t *h = w;
        for (int64_t i = 0; i < n * k; i++) z += (h[i] & 0x7fff) == 0;
    } else if (type == PARE_Q_F32) {
        const float *f = w;
        for (int64_t i = 0; i < n * k; i++) z += f[i] == 0;
    }
    return z;
}

pare_status pare_sparse_build(pare_qtype type, const void *w, int64_t n, int64_t k, pare_arena *arena,
                              pare_sparse *out, pare_err *err) {
    memset(out, 0, sizeof *out);
    if (type != PARE_Q_F16 && type != PARE_Q_F32)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "sparse weights are built from f16 or f32 rows, not type %u", (unsigned)type);
    if (n <= 0 || k <= 0 || n > ((int64_t)1 << 32) || k > ((int64_t)1 << 32))
        return pare_err_set(err, PARE_ERR_INVALID, "sparse weights: bad shape [%lld, %lld]", (long long)n, (long long)k);
    const int64_t kb = (k + 7) / 8, nnz = n * k - pare_count_zeros(type, w, n, k);
    uint8_t *bm = pare_arena_calloc(arena, (size_t)(n * kb), 64);
    uint16_t *vals = pare_arena_alloc(arena, sizeof(uint16_t) * (size_t)(nnz + 32), 64);
    int64_t *off = pare_arena_alloc(arena, sizeof(int64_t) * (size_t)(n + 1), 64);
    if (!bm || !vals || !off) return pare_err_set(err, PARE_ERR_OOM, "out of memory for sparse weights [%lld, %lld]", (long long)n, (long long)k);
    int64_t p = 0;
    for (int64_t r = 0; r < n; r++) {
        off[r] = p;
        for (int64_t c = 0; c < k; c++) {
            const int64_t i = r * k + c;
            const uint16_t h = type == PARE_Q_F16 ? ((const uint16_t *)w)[i] : pare_f32_to_f16(((const float *)w)[i]);
            if ((type == PARE_Q_F16 ? (h & 0x7fff) : (load_w(type, w, i) != 0 ? 1 : 0)) == 0) continue;
            bm[r * kb + c / 8] |= (uint8_t)(1u << (c % 8));
            vals[p++] = h;
        }
    }
    off[n] = p;
    memset(vals + p, 0, sizeof(uint16_t) * 32);
    pare_cpu_features f;
    pare_cpu_detect(&f);
    *out = (pare_sparse){.n = n, .k = k, .nnz = p, .bitmap = bm, .vals = vals, .row_off = off,
                         .vbmi2 = f.avx512_vbmi2 && f.avx512bw && f.f16c && pare_rowops_isa() >= PARE_ISA_AVX512};
    return PARE_OK;
}

size_t pare_sparse_bytes(const pare_sparse *s) {
    return (size_t)(s->n * ((s->k + 7) / 8)) + sizeof(uint16_t) * (size_t)(s->nnz + 32) + sizeof(int64_t) * (size_t)(s->n + 1);
}

void pare_sparse_matmul_ref(const pare_sparse *s, const float *x, int64_t m, float *y, const float *bias) {
    const int64_t kb = (s->k + 7) / 8;
    for (int64_t i = 0; i < m; i++)
        for (int64_t r = 0; r < s->n; r++) {
            double acc = bias ? bias[r] : 0;
            int64_t p = s->row_off[r];
            for (int64_t c = 0; c < s->k; c++)
                if (s->bitmap[r * kb + c / 8] >> (c % 8) & 1) acc += (double)pare_f16_to_f32(s->vals[p++]) * x[i * s->k + c];
            y[i * s->n + r] = (float)acc;
        }
}

/* Scalar kernel for one range of rows. */
static void rows_generic(const sparse_job *j, int64_t r0, int64_t r1) {
    const pare_sparse *s = j->s;
    const int64_t kb = (s->k + 7) / 8;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t i = 0; i < j->m; i++) {
            float acc = 0;
            int64_t p = s->row_off[r];
            for (int64_t c = 0; c < s->k; c++)
                if (s->bitmap[r * kb + c / 8] >> (c % 8) & 1) acc += pare_f16_to_f32(s->vals[p++]) * j->x[i * s->k + c];
            j->y[i * s->n + r] = acc + (j->bias ? j->bias[r] : 0.0f);
        }
}

static void run_rows(void *ctx, int ith, int nth) {
    const sparse_job *j = ctx;
    int64_t lo, hi;
    pare_split_range(j->s->n, ith, nth, &lo, &hi);
    if (j->vbmi2) pare_sparse_rows_vbmi2(j, lo, hi);
    else if (j->avx2) pare_sparse_rows_avx2(j, lo, hi);
    else rows_generic(j, lo, hi);
}

pare_status pare_sparse_matmul(pare_pool *pool, const pare_sparse *s, const float *x, int64_t m, float *y,
                               const float *bias, pare_err *err) {
    if (!s || !x || !y || m <= 0) return pare_err_set(err, PARE_ERR_INVALID, "pare_sparse_matmul: empty or NULL argument");
    static_assert(sizeof(sparse_job) < 20000, "the job (with its tables) lives on the stack");
    const pare_isa isa = pare_pool_isa(pool);
    sparse_job j = {.s = s, .x = x, .m = m, .y = y, .bias = bias, .vbmi2 = s->vbmi2 && isa >= PARE_ISA_AVX512,
                    .avx2 = isa >= PARE_ISA_AVX2};
    /* expansion tables for the AVX2 kernel: for bitmap byte b, lane l takes
     * packed value popcount(b & ((1 << l) - 1)) when bit l is set */
    for (int b = 0; b < 256; b++)
        for (int l = 0, q = 0; l < 8; l++) {
            const bool on = b >> l & 1;
            j.idx[b][l] = on ? q : 0;
            j.lane[b][l] = on ? -1 : 0;
            q += on;
        }
    pare_pool_run(s->n * s->k * m >= 65536 ? pool : NULL, run_rows, &j);
    return PARE_OK;
}
