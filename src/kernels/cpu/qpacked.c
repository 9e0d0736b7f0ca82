/* Row-interleaved Q4_0 / Q4_1 / Q8_0 weights (include/pare/quant.h):
 * packing and the driver; the kernels are qpacked_avx2.c (4-bit) and
 * qpacked_vnni.c (Q8_0).
 *
 * Q8_0: a group is 16 rows. Per block of 32 it stores the quants in the
 * VNNI operand layout, 8 steps of 4 k values x 16 rows x 4 bytes (512
 * bytes: step j holds bytes 4j..4j+3 of rows 0..15), then the 16 f16 scales
 * (32 bytes), 34 bytes per row and block as in ggml.
 *
 * Q4_0 where VNNI runs: groups of 16 rows too (pack_q4_0_vnni).
 *
 * 4-bit on AVX2:
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

/* AVX-512 VNNI where the pool may use it: Q8_0 packs only there, Q4_0
 * packs into its 16-row layout; a pool capped at AVX2 gets the 8-row AVX2
 * layouts (so those kernels run, and are tested, on VNNI machines too). */
static bool vnni(const pare_pool *pool) { return pare_cpu_vnni() && pare_pool_isa(pool) >= PARE_ISA_AVX512; }

static size_t block_bytes_of(pare_qtype t, bool wide) {
    switch (t) {
    case PARE_Q_Q4_0: return wide ? 256 + 32 : 16 + 128;
    case PARE_Q_Q4_1: return 32 + 128;
    case PARE_Q_Q8_0: return 512 + 32;
    default: return 0;
    }
}

/* bytes of one block of one row in ggml's layout */
static size_t src_block_bytes(pare_qtype t) { return (size_t)pare_qtype_get((uint32_t)t)->type_size; }

static int64_t group_rows_of(pare_qtype type, bool wide) { return type == PARE_Q_Q8_0 || (type == PARE_Q_Q4_0 && wide) ? 16 : 8; }

int64_t pare_qpack_group_rows(pare_qtype type, const pare_pool *pool) { return group_rows_of(type, vnni(pool)); }

bool pare_qpack_supports(pare_qtype type, const pare_pool *pool) {
    if (!block_bytes_of(type, false) || pare_pool_isa(pool) < PARE_ISA_AVX2) return false;
    return type != PARE_Q_Q8_0 || vnni(pool);
}

size_t pare_qpack_bytes(pare_qtype type, int64_t n, int64_t k, const pare_pool *pool) {
    if (!pare_qpack_supports(type, pool) || n < 0 || k <= 0 || k % 32) return 0;
    return (size_t)(n / pare_qpack_group_rows(type, pool)) * (size_t)(k / 32) * block_bytes_of(type, vnni(pool));
}

static void pack_q8_0(const uint8_t *src, int64_t ng, int64_t nb, size_t row_bytes, uint8_t *dst) {
    for (int64_t g = 0; g < ng; g++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)b) * (512 + 32);
            for (int r = 0; r < 16; r++) {
                const uint8_t *blk = src + (size_t)(g * 16 + r) * row_bytes + (size_t)b * 34;
                memcpy(o + 512 + 2 * r, blk, 2); /* d */
                for (int j = 0; j < 8; j++) memcpy(o + 64 * j + 4 * r, blk + 2 + 4 * j, 4);
            }
        }
}

/* Q4_0 for VNNI: groups of 16 rows; per block 4 loads of 64 bytes, then the
 * 16 f16 scales. Byte 4r + t of load l holds row r's code k = 8l + t (low
 * nibble) and k = 8l + 4 + t (high nibble), so one load, masked and shifted,
 * gives vpdpbusd's operand for 4 k values of 16 rows twice. */
static void pack_q4_0_vnni(const uint8_t *src, int64_t ng, int64_t nb, size_t row_bytes, uint8_t *dst) {
    for (int64_t g = 0; g < ng; g++)
        for (int64_t b = 0; b < nb; b++) {
            uint8_t *o = dst + ((size_t)g * (size_t)nb + (size_t)b) * (256 + 32);
            for (int r = 0; r < 16; r++) {
                const uint8_t *blk = src + (size_t)(g * 16 + r) * row_bytes + (size_t)b * 18;
                uint8_t code[32];
                for (int j = 0; j < 16; j++) {
                    code[j] = blk[2 + j] & 15;
                    code[j + 16] = blk[2 + j] >> 4;
                }
                memcpy(o + 256 + 2 * r, blk, 2); /* d */
                for (int l = 0; l < 4; l++)
                    for (int t = 0; t < 4; t++)
                        o[64 * l + 4 * r + t] = (uint8_t)(code[8 * l + t] | code[8 * l + 4 + t] << 4);
            }
        }
}

pare_status pare_qpack(pare_qtype type, const void *w, int64_t n, int64_t k, const pare_pool *pool, void *dst,
                       pare_qpacked *out, pare_err *err) {
    if (!pare_qpack_supports(type, pool))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "pare_qpack: type %u cannot be packed here", (unsigned)type);
    if (n <= 0 || k <= 0 || k % 32 || !w)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qpack: bad shape [%lld, %lld]", (long long)n, (long long)k);
    static const int rows_of[4][4] = {{0, 1, 4, 5}, {0, 1, 4, 5}, {2, 3, 6, 7}, {2, 3, 6, 7}};
    const bool wide_layout = vnni(pool);
    const size_t bb = block_bytes_of(type, wide_layout), src_bb = src_block_bytes(type), row_bytes = (size_t)(k / 32) * src_bb;
    const size_t qoff = type == PARE_Q_Q4_0 ? 2 : 4; /* codes after d (and m) in a ggml block */
    const int64_t G = group_rows_of(type, wide_layout), nb = k / 32, ng = n / G;
    const uint8_t *src = w;
    uint8_t *d = dst;
    const bool wide = G == 16;
    if (type == PARE_Q_Q8_0) pack_q8_0(src, ng, nb, row_bytes, d);
    if (type == PARE_Q_Q4_0 && wide) pack_q4_0_vnni(src, ng, nb, row_bytes, d);
    for (int64_t g = 0; g < ng && !wide; g++)
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
    *out = (pare_qpacked){.type = type, .n = n, .k = k, .n_groups = ng, .groups = dst, .vnni = G == 16,
                          .tail = n > ng * G ? src + (size_t)(ng * G) * row_bytes : NULL};
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
    const int64_t G = group_rows_of(p->type, p->vnni);
    const int64_t n = p->n, k = p->k, tail = n - p->n_groups * G;
    const size_t gbytes = (size_t)(k / 32) * block_bytes_of(p->type, p->vnni);
    const size_t row_bytes = (size_t)(k / 32) * src_block_bytes(p->type);
    /* units: the groups, then the tail rows one by one */
    int64_t u0, u1;
    pare_split_range(p->n_groups + tail, ith, nth, &u0, &u1);
    for (int64_t u = u0; u < u1; u++) {
        for (int64_t i0 = 0; i0 < j->m; i0 += PARE_QX_TILE) {
            const int R = j->m - i0 < PARE_QX_TILE ? (int)(j->m - i0) : PARE_QX_TILE;
            if (u < p->n_groups) {
                float *yo = j->y + i0 * n + u * G;
                j->fn(p->groups + (size_t)u * gbytes, j->qx + i0, R, k, yo, n);
                if (j->bias)
                    for (int r = 0; r < R; r++)
                        for (int64_t c = 0; c < G; c++) yo[r * n + c] += j->bias[u * G + c];
            } else {
                const int64_t c = p->n_groups * G + (u - p->n_groups);
                float out[PARE_QX_TILE];
                j->tail_fn(p->tail + (size_t)(u - p->n_groups) * row_bytes, j->qx + i0, R, k, out);
                for (int r = 0; r < R; r++) j->y[(i0 + r) * n + c] = out[r] + (j->bias ? j->bias[c] : 0.0f);
            }
        }
    }
}

pare_status pare_qmatmul_packed(pare_pool *pool, const pare_qpacked *p, const float *x, int64_t m,
                                float *y, const float *bias, pare_err *err) {
    if (!p || !block_bytes_of(p->type, p->vnni) || !p->groups || m < 0 || (m > 0 && (!x || !y)))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qmatmul_packed: bad arguments");
    if (pare_pool_isa(pool) < (p->vnni ? PARE_ISA_AVX512 : PARE_ISA_AVX2))
        return pare_err_set(err, PARE_ERR_INVALID, "pare_qmatmul_packed: weights packed for %s, the pool may not run it",
                            p->vnni ? "AVX-512 VNNI" : "AVX2");
    if (m == 0) return PARE_OK;
    qp_job j = {.p = p,
                .fn = group_rows_of(p->type, p->vnni) == 16 ? pare_qpacked_get_vnni(p->type) : pare_qpacked_get_avx2(p->type),
                .tail_fn = pare_qdot_get_avx2(p->type), .m = m, .y = y, .bias = bias};
    void *mem;
    pare_qx *qx;
    pare_status s = pare_qx_prepare(pool, pare_qx_quantize_avx2, x, m, p->k, &qx, &mem, err);
    if (s) return s;
    j.qx = qx;
    pare_pool_run(pool, qp_worker, &j);
    free(mem);
    return PARE_OK;
}
