/* Decoder kernels: the generic-C instance of decoder_body.h, dispatch to the
 * AVX2/AVX-512 instances, RoPE, and the plain references (double sums,
 * libm) the tests hold them to. */
#define DB_VL 4
#define DB_SFX generic
#include "kernels/cpu/decoder_body.h"

#include <stdlib.h>

/* ---- dispatch */

typedef struct {
    const float *x, *w, *up;
    float *y;
    int64_t rows, dim, ld;
    float eps;
    pare_isa isa;
} rows_job;

static void rmsnorm_worker(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t r0, r1;
    pare_split_range(j->rows, ith, nth, &r0, &r1);
    switch (j->isa) {
    case PARE_ISA_AVX512: pare_rmsnorm_rows_avx512(j->x, j->w, j->y, r0, r1, j->dim, j->eps); break;
    case PARE_ISA_AVX2: pare_rmsnorm_rows_avx2(j->x, j->w, j->y, r0, r1, j->dim, j->eps); break;
    default: pare_rmsnorm_rows_generic(j->x, j->w, j->y, r0, r1, j->dim, j->eps); break;
    }
}

static void swiglu_worker(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t r0, r1;
    pare_split_range(j->rows, ith, nth, &r0, &r1);
    switch (j->isa) {
    case PARE_ISA_AVX512: pare_swiglu_rows_avx512(j->x, j->up, j->ld, j->y, r0, r1, j->dim); break;
    case PARE_ISA_AVX2: pare_swiglu_rows_avx2(j->x, j->up, j->ld, j->y, r0, r1, j->dim); break;
    default: pare_swiglu_rows_generic(j->x, j->up, j->ld, j->y, r0, r1, j->dim); break;
    }
}

/* Waking the pool costs a few microseconds: only worth it for big inputs. */
static pare_pool *pool_if_big(pare_pool *pool, int64_t rows, int64_t dim) {
    return rows < 2 || rows * dim < 32768 ? NULL : pool;
}

void pare_rmsnorm_f32(const float *x, const float *w, float *y, int64_t rows, int64_t dim, float eps,
                      pare_pool *pool) {
    rows_job j = {.x = x, .w = w, .y = y, .rows = rows, .dim = dim, .eps = eps, .isa = pare_pool_isa(pool)};
    pare_pool_run(pool_if_big(pool, rows, dim), rmsnorm_worker, &j);
}

void pare_swiglu_f32(const float *gate, const float *up, int64_t ld, float *out, int64_t rows, int64_t n,
                     pare_pool *pool) {
    rows_job j = {.x = gate, .up = up, .y = out, .rows = rows, .dim = n, .ld = ld, .isa = pare_pool_isa(pool)};
    pare_pool_run(pool_if_big(pool, rows, n), swiglu_worker, &j);
}

void pare_attention_kv_f32(const pare_attn_kv_args *a, pare_pool *pool) {
    switch (pare_pool_isa(pool)) {
    case PARE_ISA_AVX512: pare_attention_kv_avx512(a, pool); break;
    case PARE_ISA_AVX2: pare_attention_kv_avx2(a, pool); break;
    default: pare_attention_kv_generic(a, pool); break;
    }
}

/* ---- RoPE */

void pare_rope_table_f32(const int32_t *pos, int64_t rows, const float *inv_freq, int64_t half, float attn_factor,
                         float *cos_out, float *sin_out) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < half; i++) {
            float ang = (float)pos[r] * inv_freq[i];
            cos_out[r * half + i] = (float)cos((double)ang) * attn_factor;
            sin_out[r * half + i] = (float)sin((double)ang) * attn_factor;
        }
}

typedef struct {
    float *x;
    int64_t ld, rows, n_heads, D;
    const float *cos_t, *sin_t;
    pare_rope_mode mode;
} rope_job;

/* Pairs (a, b) of dimension i: NEOX (i, i + D/2), NORM (2i, 2i + 1). */
static void rope_rows(const rope_job *j, int64_t r0, int64_t r1) {
    const int64_t half = j->D / 2, stride = j->mode == PARE_ROPE_NORM ? 2 : 1;
    const int64_t off = j->mode == PARE_ROPE_NORM ? 1 : half;
    for (int64_t r = r0; r < r1; r++) {
        const float *c = j->cos_t + r * half, *s = j->sin_t + r * half;
        for (int64_t h = 0; h < j->n_heads; h++) {
            float *x = j->x + r * j->ld + h * j->D;
            for (int64_t i = 0; i < half; i++) {
                float a = x[i * stride], b = x[i * stride + off];
                x[i * stride] = a * c[i] - b * s[i];
                x[i * stride + off] = b * c[i] + a * s[i];
            }
        }
    }
}

static void rope_worker(void *ctx, int ith, int nth) {
    const rope_job *j = ctx;
    int64_t r0, r1;
    pare_split_range(j->rows, ith, nth, &r0, &r1);
    rope_rows(j, r0, r1);
}

void pare_rope_f32(float *x, int64_t ld, int64_t rows, int64_t n_heads, int64_t D, const float *cos_t,
                   const float *sin_t, pare_rope_mode mode, pare_pool *pool) {
    rope_job j = {x, ld, rows, n_heads, D, cos_t, sin_t, mode};
    pare_pool_run(pool_if_big(pool, rows, n_heads * D), rope_worker, &j);
}

/* ---- references */

void pare_rmsnorm_ref_f32(const float *x, const float *w, float *y, int64_t rows, int64_t dim, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        double sq = 0;
        for (int64_t i = 0; i < dim; i++) sq += (double)x[r * dim + i] * x[r * dim + i];
        double rs = 1.0 / sqrt(sq / (double)dim + eps);
        for (int64_t i = 0; i < dim; i++) y[r * dim + i] = (float)(w[i] * (x[r * dim + i] * rs));
    }
}

void pare_swiglu_ref_f32(const float *gate, const float *up, int64_t ld, float *out, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n; i++) {
            double g = gate[r * ld + i];
            out[r * n + i] = (float)(g / (1.0 + exp(-g)) * up[r * ld + i]);
        }
}

void pare_rope_ref_f32(float *x, int64_t ld, int64_t rows, int64_t n_heads, int64_t D, const int32_t *pos,
                       const float *inv_freq, float attn_factor, pare_rope_mode mode) {
    const int64_t half = D / 2;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < n_heads; h++) {
            float *v = x + r * ld + h * D;
            for (int64_t i = 0; i < half; i++) {
                int64_t ia = mode == PARE_ROPE_NORM ? 2 * i : i;
                int64_t ib = mode == PARE_ROPE_NORM ? 2 * i + 1 : i + half;
                double ang = (double)((float)pos[r] * inv_freq[i]);
                double c = cos(ang) * attn_factor, s = sin(ang) * attn_factor;
                double a = v[ia], b = v[ib];
                v[ia] = (float)(a * c - b * s);
                v[ib] = (float)(b * c + a * s);
            }
        }
}

/* One query head at a time, the score row in double (malloc'd: the
 * reference is for tests, not speed). */
void pare_attention_kv_ref_f32(const pare_attn_kv_args *a) {
    const int64_t D = a->D, HD = a->H * D, KD = a->KVH * D, rep = a->H / a->KVH;
    int64_t max_p = 0;
    for (int64_t t = 0; t < a->n; t++) max_p = a->pos[t] > max_p ? a->pos[t] : max_p;
    double *p = malloc((size_t)(max_p + 1) * sizeof *p);
    if (!p) return;
    for (int64_t t = 0; t < a->n; t++) {
        const int64_t pos = a->pos[t];
        const int64_t lo = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;
        for (int64_t h = 0; h < a->H; h++) {
            const float *q = a->q + t * a->ldq + h * D;
            const float *kb = a->k + (int64_t)a->seq[t] * a->seq_stride + (h / rep) * D;
            const float *vb = a->v + (int64_t)a->seq[t] * a->seq_stride + (h / rep) * D;
            double mx = -INFINITY, sum = 0;
            for (int64_t j = lo; j <= pos; j++) {
                double s = 0;
                for (int64_t d = 0; d < D; d++) s += (double)q[d] * kb[j * KD + d];
                p[j] = s * a->scale;
                mx = p[j] > mx ? p[j] : mx;
            }
            for (int64_t j = lo; j <= pos; j++) sum += (p[j] = exp(p[j] - mx));
            for (int64_t d = 0; d < D; d++) {
                double o = 0;
                for (int64_t j = lo; j <= pos; j++) o += p[j] * vb[j * KD + d];
                a->out[t * HD + h * D + d] = (float)(o / sum);
            }
        }
    }
    free(p);
}
