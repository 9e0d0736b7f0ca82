/* Block-type grids with a group size (include/pare/wquant.h): the
 * parameters of a group as ggml's reference quantizers find them (scale
 * rounded to f16 first), round to nearest, and encoding into ggml blocks
 * whose scales are shared by the blocks of a group. */
#include "pare/wquant.h"
#include "pare/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool pare_grid_has_min(pare_qtype type) { return type == PARE_Q_Q4_1 || type == PARE_Q_Q5_1; }

/* Largest code, and the code of zero for the symmetric types. */
static int grid_qmax(pare_qtype t) {
    return t == PARE_Q_Q8_0 ? 255 : (t == PARE_Q_Q5_0 || t == PARE_Q_Q5_1) ? 31 : 15;
}
static int grid_zero(pare_qtype t) {
    return t == PARE_Q_Q8_0 ? 128 : t == PARE_Q_Q5_0 ? 16 : t == PARE_Q_Q4_0 ? 8 : 0;
}

const char *pare_grid_check(const pare_grid *g) {
    switch (g->type) {
    case PARE_Q_Q8_0: case PARE_Q_Q5_0: case PARE_Q_Q5_1: case PARE_Q_Q4_0: case PARE_Q_Q4_1: break;
    default: return "the block type must be one of q8_0 q5_0 q5_1 q4_0 q4_1";
    }
    if (g->group < 32 || g->group % 32 || g->group > (1 << 20)) return "the group size must be a positive multiple of 32";
    return NULL;
}

static float f16_round(float x) { return pare_f16_to_f32(pare_f32_to_f16(x)); }

void pare_grid_params(pare_qtype type, const float *x, int64_t n, float *d, float *m) {
    float lo = INFINITY, hi = -INFINITY, amax = 0, vmax = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            vmax = x[i];
        }
    }
    *m = 0;
    switch (type) {
    case PARE_Q_Q8_0: *d = f16_round(amax / 127.0f); break;
    case PARE_Q_Q5_0: *d = f16_round(vmax / -16.0f); break;
    case PARE_Q_Q4_0: *d = f16_round(vmax / -8.0f); break;
    default: /* Q4_1, Q5_1 */
        *d = f16_round((hi - lo) / (float)grid_qmax(type));
        *m = f16_round(lo);
        break;
    }
}

float pare_grid_round(pare_qtype type, float x, float d, float m, int *code) {
    const int qmax = grid_qmax(type), z = grid_zero(type);
    int c;
    if (pare_grid_has_min(type)) {
        c = d != 0 ? (int)lrintf((x - m) / d) : 0;
        c = c < 0 ? 0 : c > qmax ? qmax : c;
        if (code) *code = c;
        return (float)c * d + m;
    }
    c = d != 0 ? (int)lrintf(x / d) + z : z;
    c = c < (type == PARE_Q_Q8_0 ? 1 : 0) ? (type == PARE_Q_Q8_0 ? 1 : 0) : c > qmax ? qmax : c;
    if (code) *code = c;
    return (float)(c - z) * d;
}

pare_status pare_qmat_init(pare_qmat *q, const pare_grid *g, int64_t n_out, int64_t n_in, pare_err *err) {
    memset(q, 0, sizeof *q);
    const char *why = pare_grid_check(g);
    if (why) return pare_err_set(err, PARE_ERR_INVALID, "grid %s g%lld: %s", pare_qtype_get((uint32_t)g->type)->name,
                                 (long long)g->group, why);
    if (n_out <= 0 || n_in <= 0 || n_in % 32 || n_out > (1 << 28) || n_in > (1 << 28))
        return pare_err_set(err, PARE_ERR_INVALID, "a [%lld x %lld] matrix does not fit a grid of 32-blocks",
                            (long long)n_out, (long long)n_in);
    q->grid = *g;
    q->n_out = n_out;
    q->n_in = n_in;
    q->n_groups = (n_in + g->group - 1) / g->group;
    q->codes = malloc((size_t)(n_out * n_in));
    q->d = calloc((size_t)(n_out * q->n_groups), sizeof(float));
    q->m = calloc((size_t)(n_out * q->n_groups), sizeof(float));
    if (!q->codes || !q->d || !q->m) {
        pare_qmat_free(q);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for a [%lld x %lld] quantized matrix", (long long)n_out,
                            (long long)n_in);
    }
    return PARE_OK;
}

void pare_qmat_free(pare_qmat *q) {
    free(q->codes);
    free(q->d);
    free(q->m);
    memset(q, 0, sizeof *q);
}

void pare_qmat_rtn(pare_qmat *q, const float *w, float *wout) {
    const int64_t G = q->grid.group, K = q->n_in;
    for (int64_t r = 0; r < q->n_out; r++)
        for (int64_t g = 0; g < q->n_groups; g++) {
            const int64_t c0 = g * G, n = c0 + G <= K ? G : K - c0;
            float *d = &q->d[r * q->n_groups + g], *m = &q->m[r * q->n_groups + g];
            pare_grid_params(q->grid.type, w + r * K + c0, n, d, m);
            for (int64_t c = c0; c < c0 + n; c++) {
                int code;
                float v = pare_grid_round(q->grid.type, w[r * K + c], *d, *m, &code);
                q->codes[r * K + c] = (uint8_t)code;
                if (wout) wout[r * K + c] = v;
            }
        }
}

size_t pare_qmat_bytes(const pare_qmat *q) {
    size_t row = 0;
    pare_qtype_row_size(q->grid.type, q->n_in, &row);
    return row * (size_t)q->n_out;
}

/* One block of 32 codes with scale d (and minimum m) in ggml's layout. */
static size_t encode_block(pare_qtype t, const uint8_t *c, float d, float m, uint8_t *dst) {
    const uint16_t dh = pare_f32_to_f16(d), mh = pare_f32_to_f16(m);
    uint8_t qs[16];
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((c[j] & 15) | (c[j + 16] & 15) << 4);
        qh |= (uint32_t)((c[j] >> 4) & 1) << j | (uint32_t)((c[j + 16] >> 4) & 1) << (j + 16);
    }
    switch (t) {
    case PARE_Q_Q8_0: {
        pare_block_q8_0 b = {.d = dh};
        for (int j = 0; j < 32; j++) b.qs[j] = (int8_t)(c[j] - 128);
        memcpy(dst, &b, sizeof b);
        return sizeof b;
    }
    case PARE_Q_Q4_0: {
        pare_block_q4_0 b = {.d = dh};
        memcpy(b.qs, qs, 16);
        memcpy(dst, &b, sizeof b);
        return sizeof b;
    }
    case PARE_Q_Q4_1: {
        pare_block_q4_1 b = {.d = dh, .m = mh};
        memcpy(b.qs, qs, 16);
        memcpy(dst, &b, sizeof b);
        return sizeof b;
    }
    case PARE_Q_Q5_0: {
        pare_block_q5_0 b = {.d = dh};
        memcpy(b.qh, &qh, 4);
        memcpy(b.qs, qs, 16);
        memcpy(dst, &b, sizeof b);
        return sizeof b;
    }
    default: { /* Q5_1 */
        pare_block_q5_1 b = {.d = dh, .m = mh};
        memcpy(b.qh, &qh, 4);
        memcpy(b.qs, qs, 16);
        memcpy(dst, &b, sizeof b);
        return sizeof b;
    }
    }
}

void pare_qmat_encode(const pare_qmat *q, void *dst) {
    uint8_t *p = dst;
    const int64_t K = q->n_in, G = q->grid.group;
    for (int64_t r = 0; r < q->n_out; r++)
        for (int64_t c0 = 0; c0 < K; c0 += 32) {
            const int64_t g = r * q->n_groups + c0 / G;
            p += encode_block(q->grid.type, q->codes + r * K + c0, q->d[g], q->m[g], p);
        }
}
