/* Matrix products with block-quantized weights: argument checks, the
 * activation quantizer, the thread split, the generic fallback and the
 * double-precision reference. The per-ISA dot kernels are in
 * qmatmul_avx2.c (see qmatmul_internal.h for the activation format).
 *
 * Threads take equal ranges of weight rows. Each weight row is dotted with
 * x rows PARE_QX_TILE at a time, all tiles before the next row, so a row
 * is read from memory once and reused from L1 for every x row. */
#include "kernels/cpu/qmatmul_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool float_type(pare_qtype t) {
    return t == PARE_Q_F32 || t == PARE_Q_F16 || t == PARE_Q_BF16;
}

static bool qmatmul_type(pare_qtype t) {
    switch (t) {
    case PARE_Q_F32: case PARE_Q_F16: case PARE_Q_BF16: case PARE_Q_Q8_0: case PARE_Q_Q4_0:
    case PARE_Q_Q4_1: case PARE_Q_Q5_0: case PARE_Q_Q5_1: case PARE_Q_Q4_K: case PARE_Q_Q6_K:
        return true;
    default: return false;
    }
}

bool pare_qmatmul_supports(pare_qtype type) { return qmatmul_type(type); }

void pare_qx_quantize_generic(const float *x, int64_t k, pare_qx *q) {
    for (int64_t b = 0; b < k / 32; b++) {
        const float *xb = x + 32 * b;
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xb[j]));
        const float d = amax / 127, id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum[2] = {0, 0};
        for (int j = 0; j < 32; j++) {
            int v = (int)lrintf(xb[j] * id);
            q->qs[32 * b + j] = (int8_t)v;
            sum[j / 16] += v;
        }
        q->d[b] = d;
        q->dsum[b] = d * (float)(sum[0] + sum[1]);
        q->s16[2 * b] = (int16_t)sum[0];
        q->s16[2 * b + 1] = (int16_t)sum[1];
    }
}

typedef struct {
    pare_qtype type;
    pare_qdot_fn fn; /* NULL: generic dequantize-and-dot */
    void (*quant)(const float *, int64_t, pare_qx *);
    const uint8_t *w;
    size_t row_bytes;
    int64_t n, k, m;
    const float *x;
    pare_qx *qx;
    float *y;
    const float *bias;
} qmm_job;

/* Generic dot: dequantize the weight row 256 values at a time (a whole
 * number of blocks: every supported block size divides 256) and dot in f32. */
static void dot_generic(pare_qtype type, const void *w, const pare_qx *x, int R, int64_t k,
                        float *out) {
    float buf[256];
    const pare_qtype_info *t = pare_qtype_get((uint32_t)type);
    double acc[PARE_QX_TILE] = {0};
    for (int64_t c0 = 0; c0 < k; c0 += 256) {
        int64_t len = k - c0 < 256 ? k - c0 : 256;
        size_t off = (size_t)(c0 / t->block_size) * (size_t)t->type_size;
        pare_dequantize_row(type, (const uint8_t *)w + off, buf, len, NULL);
        for (int r = 0; r < R; r++) {
            float s = 0;
            for (int64_t i = 0; i < len; i++) s += buf[i] * x[r].x[c0 + i];
            acc[r] += s;
        }
    }
    for (int r = 0; r < R; r++) out[r] = (float)acc[r];
}

static void qmm_worker(void *ctx, int ith, int nth) {
    const qmm_job *j = ctx;
    int64_t c0, c1;
    pare_split_range(j->n, ith, nth, &c0, &c1);
    float out[PARE_QX_TILE];
    for (int64_t c = c0; c < c1; c++) {
        const uint8_t *wr = j->w + (size_t)c * j->row_bytes;
        float b = j->bias ? j->bias[c] : 0.0f;
        for (int64_t i0 = 0; i0 < j->m; i0 += PARE_QX_TILE) {
            int R = j->m - i0 < PARE_QX_TILE ? (int)(j->m - i0) : PARE_QX_TILE;
            if (j->fn)
                j->fn(wr, j->qx + i0, R, j->k, out);
            else
                dot_generic(j->type, wr, j->qx + i0, R, j->k, out);
            for (int r = 0; r < R; r++) j->y[(i0 + r) * j->n + c] = out[r] + b;
        }
    }
}

static pare_status check_args(const char *who, pare_qtype type, const void *w, int64_t n,
                              int64_t k, const float *x, int64_t m, float *y, size_t *row_bytes,
                              pare_err *err) {
    const pare_qtype_info *t = pare_qtype_get((uint32_t)type);
    if (!t || !qmatmul_type(type))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: weight type %s (id %u) not supported",
                            who, t ? t->name : "unknown", (unsigned)type);
    if (n <= 0 || k <= 0 || m < 0 || !w || (m > 0 && (!x || !y)))
        return pare_err_set(err, PARE_ERR_INVALID, "%s: bad arguments n %lld k %lld m %lld%s", who,
                            (long long)n, (long long)k, (long long)m,
                            !w || (m > 0 && (!x || !y)) ? " (NULL buffer)" : "");
    size_t total;
    if (!pare_qtype_row_size(type, k, row_bytes) || !pare_mul_size(*row_bytes, (size_t)n, &total))
        return pare_err_set(err, PARE_ERR_INVALID,
                            "%s: k %lld is not a whole number of %s blocks of %d (or [%lld, %lld] "
                            "overflows)",
                            who, (long long)k, t->name, (int)t->block_size, (long long)n,
                            (long long)k);
    return PARE_OK;
}

pare_status pare_qmatmul(pare_pool *pool, pare_qtype type, const void *w, int64_t n, int64_t k,
                         const float *x, int64_t m, float *y, const float *bias, pare_err *err) {
    return pare_qmatmul_isa(pare_pool_isa(pool), pool, type, w, n, k, x, m, y, bias, err);
}

pare_status pare_qmatmul_isa(pare_isa isa, pare_pool *pool, pare_qtype type, const void *w,
                             int64_t n, int64_t k, const float *x, int64_t m, float *y,
                             const float *bias, pare_err *err) {
    qmm_job j = {.type = type, .w = w, .n = n, .k = k, .m = m, .x = x, .y = y, .bias = bias};
    pare_status s = check_args("pare_qmatmul", type, w, n, k, x, m, y, &j.row_bytes, err);
    if (s || m == 0) return s;
    if (isa > pare_rowops_isa()) isa = pare_rowops_isa();
    j.fn = isa >= PARE_ISA_AVX2 ? pare_qdot_get_avx2(type) : NULL;
    j.quant = isa >= PARE_ISA_AVX2 ? pare_qx_quantize_avx2 : pare_qx_quantize_generic;
    bool quantize = j.fn && !float_type(type);
    void *mem;
    pare_status st = pare_qx_prepare(pool, quantize ? j.quant : NULL, x, m, k, &j.qx, &mem, err);
    if (st) return st;
    pare_pool_run(pool, qmm_worker, &j);
    free(mem);
    return PARE_OK;
}

typedef struct {
    void (*quant)(const float *, int64_t, pare_qx *);
    const float *x;
    int64_t k, m;
    pare_qx *qx;
} qx_job;

static void qx_worker(void *ctx, int ith, int nth) {
    qx_job *j = ctx;
    int64_t r0, r1;
    pare_split_range(j->m, ith, nth, &r0, &r1);
    for (int64_t r = r0; r < r1; r++) j->quant(j->x + r * j->k, j->k, &j->qx[r]);
}

pare_status pare_qx_prepare(pare_pool *pool, void (*quant)(const float *, int64_t, pare_qx *),
                            const float *x, int64_t m, int64_t k, pare_qx **rows, void **mem_out,
                            pare_err *err) {
    /* one allocation: m row descriptors, then per row qs[k], d, dsum, s16 */
    size_t per_row = quant ? ((size_t)k + (size_t)k / 32 * 8 + (size_t)k / 16 * 2 + 63) & ~(size_t)63 : 0;
    size_t head = ((size_t)m * sizeof(pare_qx) + 63) & ~(size_t)63, bytes;
    if ((size_t)m > SIZE_MAX / 2 / sizeof(pare_qx) || !pare_mul_size(per_row, (size_t)m, &bytes) ||
        !pare_add_size(bytes, head, &bytes))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qmatmul: %lld x %lld activations overflow",
                            (long long)m, (long long)k);
    uint8_t *mem = aligned_alloc(64, bytes);
    if (!mem)
        return pare_err_set(err, PARE_ERR_OOM, "pare_qmatmul: no memory for %zu bytes", bytes);
    pare_qx *qx = (pare_qx *)mem;
    for (int64_t r = 0; r < m; r++) {
        uint8_t *p = mem + head + (size_t)r * per_row;
        qx[r] = (pare_qx){.x = x + r * k};
        if (!quant) continue;
        qx[r].qs = (int8_t *)p;
        qx[r].d = (float *)(p + k);
        qx[r].dsum = qx[r].d + k / 32;
        qx[r].s16 = (int16_t *)(qx[r].dsum + k / 32);
    }
    if (quant) {
        qx_job j = {.quant = quant, .x = x, .k = k, .m = m, .qx = qx};
        /* a decode row is ~1 us of work: not worth waking the pool for */
        pare_pool_run(m >= 4 ? pool : NULL, qx_worker, &j);
    }
    *rows = qx;
    *mem_out = mem;
    return PARE_OK;
}

pare_status pare_qmatmul_ref(pare_qtype type, const void *w, int64_t n, int64_t k,
                             const float *x, int64_t m, float *y, const float *bias,
                             pare_err *err) {
    size_t row_bytes;
    const pare_qtype_info *t = pare_qtype_get((uint32_t)type);
    if (!t || n <= 0 || k <= 0 || m < 0 || !pare_qtype_row_size(type, k, &row_bytes))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qmatmul_ref: bad type %u or shape",
                            (unsigned)type);
    float *wr = malloc((size_t)k * sizeof *wr);
    if (!wr) return pare_err_set(err, PARE_ERR_OOM, "pare_qmatmul_ref: no memory");
    for (int64_t c = 0; c < n; c++) {
        pare_status s = pare_dequantize_row(type, (const uint8_t *)w + (size_t)c * row_bytes, wr,
                                            k, err);
        if (s) {
            free(wr);
            return s;
        }
        for (int64_t r = 0; r < m; r++) {
            double acc = bias ? bias[c] : 0.0;
            for (int64_t i = 0; i < k; i++) acc += (double)wr[i] * x[r * k + i];
            y[r * n + c] = (float)acc;
        }
    }
    free(wr);
    return PARE_OK;
}
