/* Row-interleaved Q4_0 / Q4_1 weights (include/pare/quant.h): packing and
 * the driver; the AVX2 kernel is qpacked_avx2.c.
 *
 * A group is 8 weight rows. Per block of 32 it stores
 *   d[8] (f16, rows 0..7) [, m[8] (f16) for Q4_1], then 128 bytes of codes:
 *   A0: bytes 0-7 of rows 0,1,4,5   A1: bytes 8-15 of rows 0,1,4,5
 *   B0: bytes 0-7 of rows 2,3,6,7   B1: bytes 8-15 of rows 2,3,6,7
 * ggml's block byte j holds code j (low nibble) and code j+16 (high), so
 * the low nibbles of A0 are codes 0-7 of four rows (x chunk 0), the high
 * nibbles codes 16-23 (chunk 2); A1 gives chunks 1 and 3. An x chunk of 8
 * int8 broadcast to the four 64-bit lanes then meets four rows at once, and
 * hadd(A sums, B sums) leaves rows 0..7 in lane order. */
#include "kernels/cpu/qmatmul_internal.h"

#include <stdlib.h>
#include <string.h>

static size_t block_bytes(pare_qtype t) {
    return t == PARE_Q_Q4_0 ? 16 + 128 : t == PARE_Q_Q4_1 ? 32 + 128 : 0;
}

bool pare_qpack_supports(pare_qtype type) {
    return block_bytes(type) && pare_rowops_isa() >= PARE_ISA_AVX2;
}

size_t pare_qpack_bytes(pare_qtype type, int64_t n, int64_t k) {
    if (!pare_qpack_supports(type) || n < 0 || k <= 0 || k % 32) return 0;
    return (size_t)(n / 8) * (size_t)(k / 32) * block_bytes(type);
}

pare_status pare_qpack(pare_qtype type, const void *w, int64_t n, int64_t k, void *dst,
                       pare_qpacked *out, pare_err *err) {
    if (!pare_qpack_supports(type))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "pare_qpack: type %u cannot be packed here", (unsigned)type);
    if (n <= 0 || k <= 0 || k % 32 || !w)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qpack: bad shape [%lld, %lld]", (long long)n, (long long)k);
    static const int rows_of[4][4] = {{0, 1, 4, 5}, {0, 1, 4, 5}, {2, 3, 6, 7}, {2, 3, 6, 7}};
    const size_t bb = block_bytes(type), src_bb = type == PARE_Q_Q4_0 ? 18 : 20, row_bytes = (size_t)(k / 32) * src_bb;
    const size_t qoff = type == PARE_Q_Q4_0 ? 2 : 4; /* codes after d (and m) in a ggml block */
    const int64_t nb = k / 32, ng = n / 8;
    const uint8_t *src = w;
    uint8_t *d = dst;
    for (int64_t g = 0; g < ng; g++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *o = d + ((size_t)g * (size_t)nb + (size_t)b) * bb;
            const uint8_t *blk[8];
            for (int r = 0; r < 8; r++) blk[r] = src + (size_t)(g * 8 + r) * row_bytes + (size_t)b * src_bb;
            for (int r = 0; r < 8; r++) {
                memcpy(o + 2 * r, blk[r], 2); /* d */
                if (type == PARE_Q_Q4_1) memcpy(o + 16 + 2 * r, blk[r] + 2, 2); /* m */
            }
            uint8_t *q = o + (type == PARE_Q_Q4_0 ? 16 : 32);
            for (int part = 0; part < 4; part++)     /* A0 A1 B0 B1 */
                for (int j = 0; j < 4; j++)          /* four rows of the part */
                    memcpy(q + part * 32 + j * 8, blk[rows_of[part][j]] + qoff + (part & 1) * 8, 8);
        }
    *out = (pare_qpacked){.type = type, .n = n, .k = k, .n_groups = ng, .groups = dst,
                          .tail = n > ng * 8 ? src + (size_t)(ng * 8) * row_bytes : NULL};
    return PARE_OK;
}

typedef struct {
    const pare_qpacked *p;
    pare_qpacked_fn fn;
    pare_qdot_fn tail_fn;
    const pare_qx *qx;
    int64_t m;
    float *y;
    const float *bias;
} qp_job;

static void qp_worker(void *ctx, int ith, int nth) {
    const qp_job *j = ctx;
    const pare_qpacked *p = j->p;
    const int64_t n = p->n, k = p->k, tail = n - p->n_groups * 8;
    const size_t gbytes = (size_t)(k / 32) * block_bytes(p->type);
    const size_t row_bytes = (size_t)(k / 32) * (p->type == PARE_Q_Q4_0 ? 18 : 20);
    /* units: the groups, then the tail rows one by one */
    int64_t u0, u1;
    pare_split_range(p->n_groups + tail, ith, nth, &u0, &u1);
    for (int64_t u = u0; u < u1; u++) {
        for (int64_t i0 = 0; i0 < j->m; i0 += PARE_QX_TILE) {
            const int R = j->m - i0 < PARE_QX_TILE ? (int)(j->m - i0) : PARE_QX_TILE;
            if (u < p->n_groups) {
                float *yo = j->y + i0 * n + u * 8;
                j->fn(p->groups + (size_t)u * gbytes, j->qx + i0, R, k, yo, n);
                if (j->bias)
                    for (int r = 0; r < R; r++)
                        for (int c = 0; c < 8; c++) yo[r * n + c] += j->bias[u * 8 + c];
            } else {
                const int64_t c = p->n_groups * 8 + (u - p->n_groups);
                float out[PARE_QX_TILE];
                j->tail_fn(p->tail + (size_t)(u - p->n_groups) * row_bytes, j->qx + i0, R, k, out);
                for (int r = 0; r < R; r++) j->y[(i0 + r) * n + c] = out[r] + (j->bias ? j->bias[c] : 0.0f);
            }
        }
    }
}

pare_status pare_qmatmul_packed(pare_pool *pool, const pare_qpacked *p, const float *x, int64_t m,
                                float *y, const float *bias, pare_err *err) {
    if (!p || !pare_qpack_supports(p->type) || m < 0 || (m > 0 && (!x || !y)))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qmatmul_packed: bad arguments");
    if (m == 0) return PARE_OK;
    qp_job j = {.p = p, .fn = pare_qpacked_get_avx2(p->type), .tail_fn = pare_qdot_get_avx2(p->type), .m = m, .y = y,
                .bias = bias};
    void *mem;
    pare_qx *qx;
    pare_status s = pare_qx_prepare(pool, pare_qx_quantize_avx2, x, m, p->k, &qx, &mem, err);
    if (s) return s;
    j.qx = qx;
    pare_pool_run(pool, qp_worker, &j);
    free(mem);
    return PARE_OK;
}
