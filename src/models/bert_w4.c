/* 4-bit weight-only quantization of the BERT encoder's Linear layers
 * (include/pare/bert.h, PARE_BERT_W4_*): the codes and their scales are
 * kept beside the layer for saving, and the layer runs on the dequantized
 * f32 weights (the accuracy of the format, not a 4-bit kernel).
 *
 *   nf4, fp4  bitsandbytes semantics: blocks of 64 weights scaled by their
 *             absmax onto the 16 NormalFloat4 (or FP4 e2m1) values;
 *             "double quant": the absmax values, less their mean, as int8
 *             with one f32 scale per 256 blocks (bitsandbytes keeps them
 *             8-bit too, with its dynamic map instead of a linear one)
 *   int4      round to nearest or GPTQ on a ggml Q4_1 grid with a group
 *             size: code * d + m, d and m f16 per (row, group)
 *
 * On disk per Linear: "<base>.weight" U8 [n_out, n_in / 2] (two codes a
 * byte, the even column in the low nibble) and, for nf4/fp4,
 * "<base>.weight_absmax_q" I8 [n_in * n_out / 64], "<base>.weight_absmax_scale"
 * F32 [ceil(blocks / 256)], "<base>.weight_absmax_offset" F32 [1]; for int4
 * "<base>.weight_scale" and "<base>.weight_min" F16 [n_out, groups]. */
#include "models/bert_internal.h"
#include "pare/wquant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W4_BLOCK 64
#define W4_DQ_BLOCK 256

static const float nf4_table[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                                    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                                    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                                    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
/* bitsandbytes' FP4 (e2m1) values over their largest, sign in bit 3 */
static const float fp4_table[16] = {0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f,
                                    -0.0f, -0.005208333333f, -0.66666667f, -1.0f, -0.33333333f, -0.5f, -0.16666667f, -0.25f};

const float *bert_w4_table(pare_bert_qmode mode) { return mode == PARE_BERT_W4_FP4 ? fp4_table : nf4_table; }

static int nearest(const float *table, float x) {
    int best = 0;
    for (int c = 1; c < 16; c++)
        if (fabsf(table[c] - x) < fabsf(table[best] - x)) best = c;
    return best;
}

static uint8_t code_at(const uint8_t *codes, int64_t i) { return i & 1 ? codes[i / 2] >> 4 : codes[i / 2] & 15; }

/* The absmax of each block, double-quantized. */
static void dq_absmax(const float *amax, int64_t nb, int8_t *q, float *scale, float *offset) {
    double mean = 0;
    for (int64_t k = 0; k < nb; k++) mean += amax[k];
    *offset = (float)(nb ? mean / (double)nb : 0);
    for (int64_t g = 0; g < (nb + W4_DQ_BLOCK - 1) / W4_DQ_BLOCK; g++) {
        float mx = 0;
        for (int64_t k = g * W4_DQ_BLOCK; k < nb && k < (g + 1) * W4_DQ_BLOCK; k++) mx = fmaxf(mx, fabsf(amax[k] - *offset));
        scale[g] = mx / 127.0f;
        for (int64_t k = g * W4_DQ_BLOCK; k < nb && k < (g + 1) * W4_DQ_BLOCK; k++)
            q[k] = (int8_t)(scale[g] > 0 ? lrintf((amax[k] - *offset) / scale[g]) : 0);
    }
}

static float absmax_of(const w4_part *p, int64_t k) { return (float)p->amax_q[k] * p->amax_scale[k / W4_DQ_BLOCK] + p->amax_offset; }

/* w [rows, cols] (f32) from a part. */
void bert_w4_dequant(const w4_part *p, pare_bert_qmode mode, float *w) {
    const int64_t n = p->rows * p->cols;
    if (mode == PARE_BERT_W4_INT) {
        for (int64_t r = 0; r < p->rows; r++)
            for (int64_t c = 0; c < p->cols; c++) {
                const int64_t g = r * p->n_groups + c / p->group;
                w[r * p->cols + c] = (float)code_at(p->codes, r * p->cols + c) * pare_f16_to_f32(p->d[g]) + pare_f16_to_f32(p->mn[g]);
            }
        return;
    }
    const float *t = bert_w4_table(mode);
    for (int64_t i = 0; i < n; i++) w[i] = t[code_at(p->codes, i)] * absmax_of(p, i / W4_BLOCK);
}

static pare_status part_alloc(w4_part *p, pare_bert_qmode mode, int64_t rows, int64_t cols, int64_t group, pare_arena *ar,
                              pare_err *err) {
    *p = (w4_part){.rows = rows, .cols = cols, .group = group};
    if (cols % 2 || (mode != PARE_BERT_W4_INT && cols % W4_BLOCK))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "4-bit quantization needs rows of a multiple of %d inputs, not %lld",
                            mode == PARE_BERT_W4_INT ? 2 : W4_BLOCK, (long long)cols);
    p->codes = pare_arena_calloc(ar, (size_t)(rows * cols / 2), 64);
    if (mode == PARE_BERT_W4_INT) {
        p->n_groups = (cols + group - 1) / group;
        p->d = pare_arena_alloc(ar, sizeof(uint16_t) * (size_t)(rows * p->n_groups), 64);
        p->mn = pare_arena_alloc(ar, sizeof(uint16_t) * (size_t)(rows * p->n_groups), 64);
        if (!p->codes || !p->d || !p->mn) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    } else {
        p->n_blocks = rows * cols / W4_BLOCK;
        p->amax_q = pare_arena_alloc(ar, (size_t)p->n_blocks, 64);
        p->amax_scale = pare_arena_alloc(ar, sizeof(float) * (size_t)((p->n_blocks + W4_DQ_BLOCK - 1) / W4_DQ_BLOCK + 1), 64);
        if (!p->codes || !p->amax_q || !p->amax_scale) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    return PARE_OK;
}

/* nf4 / fp4 codes of w [rows, cols] into p. */
static pare_status quantize_table(w4_part *p, pare_bert_qmode mode, const float *w, pare_err *err) {
    const float *t = bert_w4_table(mode);
    float *amax = malloc(sizeof(float) * (size_t)p->n_blocks);
    if (!amax) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t k = 0; k < p->n_blocks; k++) {
        float mx = 0;
        for (int64_t i = k * W4_BLOCK; i < (k + 1) * W4_BLOCK; i++) mx = fmaxf(mx, fabsf(w[i]));
        amax[k] = mx;
    }
    dq_absmax(amax, p->n_blocks, p->amax_q, p->amax_scale, &p->amax_offset);
    for (int64_t k = 0; k < p->n_blocks; k++) {
        const float a = absmax_of(p, k); /* the stored absmax, so the codes fit what is dequantized */
        for (int64_t i = k * W4_BLOCK; i < (k + 1) * W4_BLOCK; i++) {
            const int c = nearest(t, a > 0 ? w[i] / a : 0.0f);
            p->codes[i / 2] |= (uint8_t)(i & 1 ? c << 4 : c);
        }
    }
    free(amax);
    return PARE_OK;
}

pare_status pare_w4_roundtrip(bool fp4, float *w, int64_t rows, int64_t cols, pare_err *err) {
    const pare_bert_qmode mode = fp4 ? PARE_BERT_W4_FP4 : PARE_BERT_W4_NF4;
    pare_arena *ar = pare_arena_create(0);
    if (!ar) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    w4_part p;
    pare_status s = part_alloc(&p, mode, rows, cols, 0, ar, err);
    if (!s) s = quantize_table(&p, mode, w, err);
    if (!s) bert_w4_dequant(&p, mode, w);
    pare_arena_free(ar);
    return s;
}

/* int4 codes and params of rows [r0, r0 + p->rows) of a quantized matrix. */
static void part_from_qmat(w4_part *p, const pare_qmat *q, int64_t r0) {
    for (int64_t r = 0; r < p->rows; r++) {
        for (int64_t c = 0; c < p->cols; c++) {
            const int64_t i = r * p->cols + c;
            p->codes[i / 2] |= (uint8_t)(i & 1 ? q->codes[(r0 + r) * q->n_in + c] << 4 : q->codes[(r0 + r) * q->n_in + c]);
        }
        for (int64_t g = 0; g < p->n_groups; g++) {
            p->d[r * p->n_groups + g] = pare_f32_to_f16(q->d[(r0 + r) * q->n_groups + g]);
            p->mn[r * p->n_groups + g] = pare_f32_to_f16(q->m[(r0 + r) * q->n_groups + g]);
        }
    }
}

pare_status bert_w4_quantize_lin(pare_bert *m, bert_lin *l, int n_parts, pare_bert_qmode mode, int64_t group, double *h,
                                 const pare_gptq_opts *gopt, pare_err *err) {
    const pare_linear f = l->f;
    const int64_t N = f.n_out, K = f.n_in, rows = N / n_parts;
    bert_w4 *w4 = pare_arena_calloc(m->weights, sizeof *w4, 64);
    float *wq = pare_arena_alloc(m->weights, sizeof(float) * (size_t)(N * K), 64);
    if (!w4 || !wq) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    w4->n_parts = n_parts;
    pare_status s = PARE_OK;
    for (int p = 0; p < n_parts && !s; p++) s = part_alloc(&w4->part[p], mode, rows, K, group, m->weights, err);
    if (s) return s;
    if (mode == PARE_BERT_W4_INT) {
        pare_qmat q;
        const pare_grid g = {.type = PARE_Q_Q4_1, .group = group};
        if ((s = pare_qmat_init(&q, &g, N, K, err))) return s;
        memcpy(wq, f.w, sizeof(float) * (size_t)(N * K));
        if (h) {
            pare_gptq_stats st;
            s = pare_gptq(&q, wq, h, gopt, &st, err);
        } else {
            pare_qmat_rtn(&q, f.w, wq);
        }
        for (int p = 0; p < n_parts && !s; p++) part_from_qmat(&w4->part[p], &q, p * rows);
        pare_qmat_free(&q);
    } else {
        for (int p = 0; p < n_parts && !s; p++) s = quantize_table(&w4->part[p], mode, f.w + p * rows * K, err);
    }
    for (int p = 0; p < n_parts && !s; p++) bert_w4_dequant(&w4->part[p], mode, wq + p * rows * K);
    if (!s) s = pare_linear_init(&l->f, wq, f.bias, N, K, m->kernel, m->weights, err);
    if (!s) s = bert_lin_sparsify(m, l, err);
    if (s) l->f = f;
    else l->w4 = w4;
    return s;
}

/* ---- loading */

/* The tensor "<base><suffix>" of dtype dt and shape, into *out. */
static pare_status need(const pare_bert *m, const char *base, const char *suffix, pare_dtype dt, int32_t nd, const int64_t *shape,
                        const pare_tensor **out, pare_err *err) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", base, suffix);
    const pare_tensor *t = bert_find_tensor(m, name);
    *out = t;
    if (!t || t->dtype != dt || !pare_tensor_has_shape(t, nd, shape))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: 4-bit model needs tensor '%s%s' of %s [%lld%s%lld]", pare_tensor_file_path(m->file),
                            m->prefix, name, pare_dtype_get(dt)->name, (long long)shape[0], nd > 1 ? ", " : "",
                            nd > 1 ? (long long)shape[1] : 0LL);
    return PARE_OK;
}

pare_status bert_w4_load_lin(pare_bert *m, const char *const *bases, int n_parts, int64_t n_out, int64_t n_in, bert_lin *lin,
                             pare_err *err) {
    const pare_bert_qmode mode = m->qmode;
    bert_w4 *w4 = pare_arena_calloc(m->weights, sizeof *w4, 64);
    float *w = pare_arena_alloc(m->weights, sizeof(float) * (size_t)(n_parts * n_out * n_in), 64);
    float *b = pare_arena_alloc(m->weights, sizeof(float) * (size_t)(n_parts * n_out), 64);
    if (!w4 || !w || !b) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    w4->n_parts = n_parts;
    pare_status s = PARE_OK;
    for (int p = 0; p < n_parts && !s; p++) {
        w4_part *q = &w4->part[p];
        if ((s = part_alloc(q, mode, n_out, n_in, m->qgroup, m->weights, err))) break;
        const pare_tensor *t, *d, *mn, *aq, *as, *ao;
        if ((s = need(m, bases[p], ".weight", PARE_DTYPE_U8, 2, (int64_t[]){n_out, n_in / 2}, &t, err))) return s;
        memcpy(q->codes, t->data, (size_t)(n_out * n_in / 2));
        if (mode == PARE_BERT_W4_INT) {
            const int64_t sh[2] = {n_out, q->n_groups};
            if ((s = need(m, bases[p], ".weight_scale", PARE_DTYPE_F16, 2, sh, &d, err)) ||
                (s = need(m, bases[p], ".weight_min", PARE_DTYPE_F16, 2, sh, &mn, err)))
                return s;
            memcpy(q->d, d->data, d->nbytes);
            memcpy(q->mn, mn->data, mn->nbytes);
        } else {
            const int64_t ng = (q->n_blocks + W4_DQ_BLOCK - 1) / W4_DQ_BLOCK;
            if ((s = need(m, bases[p], ".weight_absmax_q", PARE_DTYPE_I8, 1, &q->n_blocks, &aq, err)) ||
                (s = need(m, bases[p], ".weight_absmax_scale", PARE_DTYPE_F32, 1, &ng, &as, err)) ||
                (s = need(m, bases[p], ".weight_absmax_offset", PARE_DTYPE_F32, 1, (int64_t[]){1}, &ao, err)))
                return s;
            memcpy(q->amax_q, aq->data, aq->nbytes);
            memcpy(q->amax_scale, as->data, as->nbytes);
            memcpy(&q->amax_offset, ao->data, sizeof(float));
            for (int64_t g = 0; g < ng; g++)
                if (!isfinite(q->amax_scale[g]))
                    return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s.weight_absmax_scale' is not finite", pare_tensor_file_path(m->file), bases[p]);
        }
        bert_w4_dequant(q, mode, w + p * n_out * n_in);
        m->n_params += n_out * n_in;
        char bn[256];
        const float *bv;
        snprintf(bn, sizeof bn, "%s.bias", bases[p]);
        if ((s = bert_load_f32(m, bn, 1, &n_out, true, &bv, err))) return s;
        memcpy(b + p * n_out, bv, sizeof(float) * (size_t)n_out);
    }
    if (!s) s = pare_linear_init(&lin->f, w, b, n_parts * n_out, n_in, m->kernel, m->weights, err);
    if (!s) s = bert_lin_sparsify(m, lin, err);
    if (!s) lin->w4 = w4;
    return s;
}

/* ---- saving: the tensors of one part */
int bert_w4_tensors(const bert_lin *l, pare_bert_qmode mode, int part, const char *weight_name, pare_arena *ar, pare_tensor *out) {
    const w4_part *p = &l->w4->part[part];
    const size_t blen = strlen(weight_name) - strlen(".weight");
    int n = 0;
#define NAME(suffix) (snprintf(nm = pare_arena_alloc(ar, blen + 32, 1), blen + 32, "%.*s%s", (int)blen, weight_name, suffix), nm)
    char *nm;
    out[n++] = (pare_tensor){.name = weight_name, .dtype = PARE_DTYPE_U8, .n_dims = 2, .shape = {p->rows, p->cols / 2},
                             .data = p->codes, .nbytes = (size_t)(p->rows * p->cols / 2)};
    if (mode == PARE_BERT_W4_INT) {
        const size_t nb = sizeof(uint16_t) * (size_t)(p->rows * p->n_groups);
        out[n++] = (pare_tensor){.name = NAME(".weight_scale"), .dtype = PARE_DTYPE_F16, .n_dims = 2, .shape = {p->rows, p->n_groups},
                                 .data = p->d, .nbytes = nb};
        out[n++] = (pare_tensor){.name = NAME(".weight_min"), .dtype = PARE_DTYPE_F16, .n_dims = 2, .shape = {p->rows, p->n_groups},
                                 .data = p->mn, .nbytes = nb};
    } else {
        const int64_t ng = (p->n_blocks + W4_DQ_BLOCK - 1) / W4_DQ_BLOCK;
        out[n++] = (pare_tensor){.name = NAME(".weight_absmax_q"), .dtype = PARE_DTYPE_I8, .n_dims = 1, .shape = {p->n_blocks},
                                 .data = p->amax_q, .nbytes = (size_t)p->n_blocks};
        out[n++] = (pare_tensor){.name = NAME(".weight_absmax_scale"), .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {ng},
                                 .data = p->amax_scale, .nbytes = sizeof(float) * (size_t)ng};
        out[n++] = (pare_tensor){.name = NAME(".weight_absmax_offset"), .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {1},
                                 .data = (void *)&p->amax_offset, .nbytes = sizeof(float)};
    }
#undef NAME
    return n;
}
