/* Decoder kernels (RMSNorm, SwiGLU, RoPE, attention over a KV cache) against
 * their plain references, for every ISA instance this CPU runs, ragged
 * shapes, and pools of 1 and 3 threads.
 *
 * Tolerances (relative to the size of the result): max|diff| <= TOL * (1 +
 * max|ref|), TOL per kernel below the includes. */
#include "testutil.h"
#include "kernels/cpu/kern_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float *rand_buf(int64_t n, uint64_t *st, float lo, float hi) {
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = tu_randf(st, lo, hi);
    return p;
}

static double max_abs(const float *a, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

/* family: the error budget it counts against (tu_err) */
static void expect_close_in(const char *family, const char *what, const float *got, const float *want, int64_t n, double tol) {
    double d = tu_max_abs_diff(got, want, n), lim = tol * (1 + max_abs(want, n));
    if (!tu_err(family, d, lim)) fail_msg("%s: max |diff| %.3g > %.3g", what, d, lim);
}
/* each about 2-3x the largest error measured over every shape, ISA and
 * pool (Sapphire Rapids, session 9; tu_err prints the share used) */
#define RMS_TOL 3e-7     /* measured 0.45 of it */
#define SWIGLU_TOL 3e-7  /* measured 0.35 */
#define ROPE_TOL 1.5e-7  /* measured 0.41 */
#define ATTN_KV_TOL 2e-7 /* measured 0.31 */

typedef struct {
    const char *name;
    bool ok;
    void (*rms)(const float *, const float *, float *, int64_t, int64_t, int64_t, float);
    void (*swiglu)(const float *, const float *, int64_t, float *, int64_t, int64_t, int64_t);
    void (*attn)(const pare_attn_kv_args *, pare_pool *);
} isa_fns;

static int isa_list(isa_fns out[3]) {
    pare_isa best = pare_rowops_isa();
    isa_fns all[3] = {
        {"generic", true, pare_rmsnorm_rows_generic, pare_swiglu_rows_generic, pare_attention_kv_generic},
        {"avx2", best >= PARE_ISA_AVX2, pare_rmsnorm_rows_avx2, pare_swiglu_rows_avx2, pare_attention_kv_avx2},
        {"avx512", best >= PARE_ISA_AVX512, pare_rmsnorm_rows_avx512, pare_swiglu_rows_avx512,
         pare_attention_kv_avx512},
    };
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (all[i].ok) out[n++] = all[i];
    return n;
}

static void test_rmsnorm_swiglu(void **state) {
    (void)state;
    uint64_t st = 7;
    isa_fns isa[3];
    int n_isa = isa_list(isa);
    static const int64_t dims[] = {1, 7, 64, 100, 2048};
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++) {
        const int64_t rows = 5, dim = dims[di], ld = dim + 3;
        float *x = rand_buf(rows * ld, &st, -3, 3), *w = rand_buf(dim, &st, 0.5f, 1.5f);
        float *ref = malloc(sizeof(float) * (size_t)(rows * ld)), *got = malloc(sizeof(float) * (size_t)(rows * ld));
        pare_rmsnorm_ref_f32(x, w, ref, rows, dim, 1e-5f);
        for (int i = 0; i < n_isa; i++) {
            isa[i].rms(x, w, got, 0, rows, dim, 1e-5f);
            expect_close_in("rmsnorm", isa[i].name, got, ref, rows * dim, RMS_TOL);
        }
        pare_rmsnorm_f32(x, w, got, rows, dim, 1e-5f, NULL);
        expect_close_in("rmsnorm", "rmsnorm", got, ref, rows * dim, RMS_TOL);
        /* swiglu: gate and up interleaved in rows of ld */
        pare_swiglu_ref_f32(x, x + 2, ld, ref, rows, dim - 2 > 0 ? dim - 2 : 1);
        int64_t n = dim - 2 > 0 ? dim - 2 : 1;
        for (int i = 0; i < n_isa; i++) {
            isa[i].swiglu(x, x + 2, ld, got, 0, rows, n);
            expect_close_in("swiglu", isa[i].name, got, ref, rows * n, SWIGLU_TOL);
        }
        free(x); free(w); free(ref); free(got);
    }
}

/* llama.cpp's converter reorders the rows of each q/k head so that
 * NORM mode (pairs 2i, 2i+1) on the permuted vector equals NEOX mode (pairs
 * i, i+D/2) on the original: perm[2i] = i, perm[2i+1] = i + D/2. */
static void test_rope(void **state) {
    (void)state;
    uint64_t st = 11;
    const int64_t rows = 6, heads = 3, D = 24, half = D / 2, ld = heads * D + 5;
    float *x = rand_buf(rows * ld, &st, -2, 2), *inv = malloc(sizeof(float) * (size_t)half);
    for (int64_t i = 0; i < half; i++) inv[i] = (float)pow(10000.0, -2.0 * (double)i / (double)D);
    int32_t pos[6] = {0, 1, 5, 17, 300, 4000};
    float *c = malloc(sizeof(float) * (size_t)(rows * half)), *s = malloc(sizeof(float) * (size_t)(rows * half));
    pare_rope_table_f32(pos, rows, inv, half, 1.25f, c, s);
    for (int mode = 0; mode < 2; mode++) {
        float *a = malloc(sizeof(float) * (size_t)(rows * ld)), *b = malloc(sizeof(float) * (size_t)(rows * ld));
        memcpy(a, x, sizeof(float) * (size_t)(rows * ld));
        memcpy(b, x, sizeof(float) * (size_t)(rows * ld));
        pare_rope_ref_f32(a, ld, rows, heads, D, pos, inv, 1.25f, (pare_rope_mode)mode);
        pare_rope_f32(b, ld, rows, heads, D, c, s, (pare_rope_mode)mode, NULL);
        expect_close_in("rope", mode ? "rope norm" : "rope neox", b, a, rows * ld, ROPE_TOL);
        free(a);
        free(b);
    }
    float *neox = malloc(sizeof(float) * (size_t)(rows * ld)), *norm = malloc(sizeof(float) * (size_t)(rows * ld));
    memcpy(neox, x, sizeof(float) * (size_t)(rows * ld));
    memcpy(norm, x, sizeof(float) * (size_t)(rows * ld));
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < half; i++) {
                norm[r * ld + h * D + 2 * i] = x[r * ld + h * D + i];
                norm[r * ld + h * D + 2 * i + 1] = x[r * ld + h * D + i + half];
            }
    pare_rope_f32(neox, ld, rows, heads, D, c, s, PARE_ROPE_NEOX, NULL);
    pare_rope_f32(norm, ld, rows, heads, D, c, s, PARE_ROPE_NORM, NULL);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t h = 0; h < heads; h++)
            for (int64_t i = 0; i < half; i++) {
                assert_true(norm[r * ld + h * D + 2 * i] == neox[r * ld + h * D + i]);
                assert_true(norm[r * ld + h * D + 2 * i + 1] == neox[r * ld + h * D + i + half]);
            }
    free(neox); free(norm); free(x); free(inv); free(c); free(s);
}

static void test_attention_kv(void **state) {
    (void)state;
    uint64_t st = 13;
    pare_err err = {0};
    pare_pool *p3 = pare_pool_create(3, &err);
    assert_non_null(p3);
    isa_fns isa[3];
    int n_isa = isa_list(isa);
    /* H, KVH, D, window */
    static const int64_t shapes[][4] = {{4, 4, 16, 0}, {6, 2, 24, 0}, {32, 4, 64, 0}, {4, 1, 7, 0},
                                        {20, 2, 8, 0}, {4, 2, 16, 5}, {2, 2, 130, 0}};
    const int64_t n_seq = 3, ctx = 150;
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        const int64_t H = shapes[si][0], KVH = shapes[si][1], D = shapes[si][2];
        const int64_t KD = KVH * D, n = 9, ldq = H * D + 3;
        float *k = rand_buf(n_seq * ctx * KD, &st, -1, 1), *v = rand_buf(n_seq * ctx * KD, &st, -1, 1);
        float *q = rand_buf(n * ldq, &st, -2, 2);
        float *ref = malloc(sizeof(float) * (size_t)(n * H * D)), *got = malloc(sizeof(float) * (size_t)(n * H * D));
        int32_t seq[9] = {0, 0, 1, 2, 2, 2, 1, 0, 2}, pos[9] = {0, 1, 63, 64, 65, 149, 100, 2, 7};
        pare_attn_kv_args a = {.q = q, .ldq = ldq, .k = k, .v = v, .seq_stride = ctx * KD, .out = ref, .seq = seq,
                               .pos = pos, .n = n, .H = H, .KVH = KVH, .D = D, .window = shapes[si][3],
                               .scale = 1.0f / sqrtf((float)D)};
        pare_attention_kv_ref_f32(&a);
        a.out = got;
        for (int i = 0; i < n_isa; i++)
            for (int pool = 0; pool < 2; pool++) {
                memset(got, 0xff, sizeof(float) * (size_t)(n * H * D));
                isa[i].attn(&a, pool ? p3 : NULL);
                char what[96];
                snprintf(what, sizeof what, "attention_kv %s H%lld/%lld D%lld", isa[i].name, (long long)H,
                         (long long)KVH, (long long)D);
                expect_close_in("attention_kv", what, got, ref, n * H * D, ATTN_KV_TOL);
            }
        pare_attention_kv_f32(&a, p3);
        expect_close_in("attention_kv", "attention_kv dispatch", got, ref, n * H * D, ATTN_KV_TOL);
        free(k); free(v); free(q); free(ref); free(got);
    }
    pare_pool_free(p3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rmsnorm_swiglu),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_attention_kv),
    };
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
