/* Decoder kernels written once with GCC vector extensions and compiled per
 * ISA: the including file defines DB_VL (floats per vector) and DB_SFX.
 *   rmsnorm rows, SwiGLU rows, and attention of query rows against a KV
 *   cache (grouped-query, online softmax over blocks of DB_KB keys). */
#include "kernels/cpu/kern_internal.h"

#define VM_LANES DB_VL
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define DB_CAT2(a, b) a##b
#define DB_CAT(a, b) DB_CAT2(a, b)
#define DB_NAME(base) DB_CAT(base, DB_SFX)
#define DB_KB 64  /* keys per block */
#define DB_MAXR 8 /* query heads of one group handled together */

static float DB_NAME(db_hsum_)(vm_v v) {
    float s = 0;
    for (int i = 0; i < DB_VL; i++) s += v[i];
    return s;
}

static inline float DB_NAME(db_dot_)(const float *a, const float *b, int64_t n) {
    vm_v s0 = {0}, s1 = {0};
    int64_t i = 0;
    for (; i + 2 * DB_VL <= n; i += 2 * DB_VL) {
        s0 += *(const vm_uv *)(a + i) * *(const vm_uv *)(b + i);
        s1 += *(const vm_uv *)(a + i + DB_VL) * *(const vm_uv *)(b + i + DB_VL);
    }
    for (; i + DB_VL <= n; i += DB_VL) s0 += *(const vm_uv *)(a + i) * *(const vm_uv *)(b + i);
    float s = DB_NAME(db_hsum_)(s0 + s1);
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y = y * alpha + p * x */
static inline void DB_NAME(db_axpby_)(float *y, float alpha, float p, const float *x, int64_t n) {
    int64_t i = 0;
    for (; i + DB_VL <= n; i += DB_VL)
        *(vm_uv *)(y + i) = *(vm_uv *)(y + i) * alpha + p * *(const vm_uv *)(x + i);
    for (; i < n; i++) y[i] = y[i] * alpha + p * x[i];
}

void DB_NAME(pare_rmsnorm_rows_)(const float *x, const float *w, float *y, int64_t r0, int64_t r1, int64_t dim,
                                 float eps) {
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * dim;
        float *yr = y + r * dim;
        float ms = DB_NAME(db_dot_)(xr, xr, dim) / (float)dim;
        float rs = 1.0f / sqrtf(ms + eps);
        int64_t i = 0;
        for (; i + DB_VL <= dim; i += DB_VL)
            *(vm_uv *)(yr + i) = *(const vm_uv *)(w + i) * (*(const vm_uv *)(xr + i) * rs);
        for (; i < dim; i++) yr[i] = w[i] * (xr[i] * rs);
    }
}

void DB_NAME(pare_swiglu_rows_)(const float *gate, const float *up, int64_t ld, float *out, int64_t r0, int64_t r1,
                                int64_t n) {
    for (int64_t r = r0; r < r1; r++) {
        const float *g = gate + r * ld, *u = up + r * ld;
        float *o = out + r * n;
        int64_t i = 0;
        for (; i + DB_VL <= n; i += DB_VL) *(vm_uv *)(o + i) = vm_silu(*(const vm_uv *)(g + i)) * *(const vm_uv *)(u + i);
        for (; i < n; i++) o[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

typedef struct {
    const pare_attn_kv_args *a;
    int64_t n_rchunks; /* chunks of DB_MAXR query heads per kv head */
    atomic_llong next;
} DB_NAME(db_job_);

/* Query row t, kv head g, query heads [r0, r0 + rn) of the group. The output
 * rows accumulate in place (each belongs to one item). */
static void DB_NAME(db_item_)(const pare_attn_kv_args *a, int64_t t, int64_t g, int64_t r0, int64_t rn) {
    const int64_t D = a->D, HD = a->H * D, KD = a->KVH * D, rep = a->H / a->KVH;
    const int64_t p = a->pos[t];
    const int64_t lo = a->window > 0 && p - a->window + 1 > 0 ? p - a->window + 1 : 0;
    const float *kb = a->k + (int64_t)a->seq[t] * a->seq_stride + g * D;
    const float *vb = a->v + (int64_t)a->seq[t] * a->seq_stride + g * D;
    const float *q[DB_MAXR];
    float *o[DB_MAXR], m[DB_MAXR], l[DB_MAXR];
    _Alignas(64) float s[DB_MAXR][DB_KB];
    for (int64_t r = 0; r < rn; r++) {
        int64_t h = g * rep + r0 + r;
        q[r] = a->q + t * a->ldq + h * D;
        o[r] = a->out + t * HD + h * D;
        memset(o[r], 0, (size_t)D * sizeof(float));
        m[r] = -INFINITY;
        l[r] = 0.0f;
    }
    for (int64_t j0 = lo; j0 <= p; j0 += DB_KB) {
        const int64_t kn = p + 1 - j0 < DB_KB ? p + 1 - j0 : DB_KB;
        for (int64_t j = 0; j < kn; j++) {
            const float *kr = kb + (j0 + j) * KD;
            for (int64_t r = 0; r < rn; r++) s[r][j] = DB_NAME(db_dot_)(q[r], kr, D) * a->scale;
        }
        for (int64_t r = 0; r < rn; r++) {
            for (int64_t j = kn; j < DB_KB; j++) s[r][j] = -INFINITY;
            vm_v mx = VM_SPLAT(-INFINITY);
            for (int64_t j = 0; j < kn; j += DB_VL) mx = vm_max(mx, *(vm_v *)&s[r][j]);
            float mnew = m[r];
            for (int i = 0; i < DB_VL; i++) mnew = mx[i] > mnew ? mx[i] : mnew;
            float alpha = expf(m[r] - mnew); /* 0 on the first block */
            vm_v sum = {0};
            for (int64_t j = 0; j < kn; j += DB_VL) {
                vm_v e = vm_exp(*(vm_v *)&s[r][j] - mnew); /* -inf tail -> 0 */
                *(vm_v *)&s[r][j] = e;
                sum += e;
            }
            l[r] = l[r] * alpha + DB_NAME(db_hsum_)(sum);
            m[r] = mnew;
            if (alpha != 1.0f)
                for (int64_t d = 0; d < D; d++) o[r][d] *= alpha;
        }
        for (int64_t j = 0; j < kn; j++) {
            const float *vr = vb + (j0 + j) * KD;
            for (int64_t r = 0; r < rn; r++) DB_NAME(db_axpby_)(o[r], 1.0f, s[r][j], vr, D);
        }
    }
    for (int64_t r = 0; r < rn; r++) {
        float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
        for (int64_t d = 0; d < D; d++) o[r][d] *= inv;
    }
}

static void DB_NAME(db_worker_)(void *ctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    DB_NAME(db_job_) *jb = ctx;
    const pare_attn_kv_args *a = jb->a;
    const int64_t rep = a->H / a->KVH, per_row = a->KVH * jb->n_rchunks, n_items = a->n * per_row;
    for (;;) {
        int64_t w = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed);
        if (w >= n_items) break;
        int64_t t = w / per_row, rest = w % per_row, g = rest / jb->n_rchunks, c = rest % jb->n_rchunks;
        int64_t r0 = c * DB_MAXR, rn = rep - r0 < DB_MAXR ? rep - r0 : DB_MAXR;
        DB_NAME(db_item_)(a, t, g, r0, rn);
    }
}

void DB_NAME(pare_attention_kv_)(const pare_attn_kv_args *a, pare_pool *pool) {
    if (a->n <= 0 || a->H <= 0 || a->KVH <= 0 || a->D <= 0 || a->H % a->KVH) return;
    DB_NAME(db_job_) jb = {.a = a, .n_rchunks = (a->H / a->KVH + DB_MAXR - 1) / DB_MAXR};
    atomic_init(&jb.next, 0);
    pare_pool_run(pool, DB_NAME(db_worker_), &jb);
}
