/* Every kernel variant pare has, listed: each one this CPU can execute is
 * run on a small case against the plain reference, and the ones it cannot
 * execute are named (and why). The per-family tests (test_kernels,
 * test_decoder_kernels, test_qmatmul, test_int8, test_sparse, test_grad)
 * hold each variant to its tight tolerance over many shapes; this one is
 * the audit that none is left out on this machine. */
#include "testutil.h"
#include "kernels/cpu/kern_internal.h"
#include "kernels/cpu/qmatmul_internal.h"
#include "pare/qlinear.h"
#include "pare/sparse.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    char family[40], variant[24];
    bool ran;
    char why[80];
    double err; /* relative to the result's size */
} row;

static row rows[64];
static int n_rows;

static void note(const char *family, const char *variant, bool ran, const char *why, double err) {
    assert_true(n_rows < 64);
    row *r = &rows[n_rows++];
    snprintf(r->family, sizeof r->family, "%s", family);
    snprintf(r->variant, sizeof r->variant, "%s", variant);
    r->ran = ran;
    snprintf(r->why, sizeof r->why, "%s", why ? why : "");
    r->err = err;
    /* a small case: every variant within 1e-4 of the size of its result
     * (the family tests are the tight ones) */
    if (ran && !(err <= 1e-4)) fail_msg("%s %s: error %g of the result's size", family, variant, err);
}

static float *rnd(int64_t n, uint64_t *st, float lo, float hi) {
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++) p[i] = tu_randf(st, lo, hi);
    return p;
}

static double rel(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs(b[i]));
    return tu_max_abs_diff(a, b, n) / (1 + m);
}

static const pare_kernel_impl caps[3] = {PARE_KERNEL_REF, PARE_KERNEL_AVX2, PARE_KERNEL_AVX512};
static const char *const isa_names[3] = {"plain C", "avx2", "avx512"};

static bool cpu_has(pare_kernel_impl k) { return k == PARE_KERNEL_REF || pare_kernel_resolve(k) == k; }

static pare_pool *capped(pare_kernel_impl k) {
    pare_err err = {0};
    pare_pool *p = pare_pool_create(2, &err);
    pare_pool_cap_kernels(p, k);
    return p;
}

static void test_list(void **state) {
    (void)state;
    uint64_t st = 3;
    pare_err err = {0};
    /* f32 GEMM (inference) */
    {
        const int64_t m = 5, n = 33, k = 70;
        float *x = rnd(m * k, &st, -1, 1), *w = rnd(n * k, &st, -1, 1), *b = rnd(n, &st, -1, 1);
        float *ref = malloc(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
        pare_gemm_ref_f32(x, w, b, ref, m, n, k);
        static const pare_kernel_impl impls[4] = {PARE_KERNEL_REF, PARE_KERNEL_BLAS, PARE_KERNEL_AVX2, PARE_KERNEL_AVX512};
        for (int i = 0; i < 4; i++) {
            if (pare_kernel_resolve(impls[i]) != impls[i]) {
                note("f32 GEMM", pare_kernel_impl_name(impls[i]), false, "the CPU lacks it", 0);
                continue;
            }
            pare_arena *ar = pare_arena_create(0);
            pare_linear l;
            tu_assert_ok(pare_linear_init(&l, w, b, n, k, impls[i], ar, &err), &err);
            pare_linear_forward(&l, x, m, y, PARE_ACT_NONE, NULL);
            note("f32 GEMM", pare_kernel_impl_name(impls[i]), true, NULL, rel(y, ref, m * n));
            pare_arena_free(ar);
        }
        free(x), free(w), free(b), free(ref), free(y);
    }
    /* training GEMM */
    {
        const int64_t M = 9, N = 50, K = 40;
        float *a = rnd(M * K, &st, -1, 1), *bm = rnd(K * N, &st, -1, 1), *want = calloc((size_t)(M * N), 4), *got = calloc((size_t)(M * N), 4);
        pare_sgemm_args g = {.M = M, .N = N, .K = K, .A = a, .B = bm, .lda = K, .ldb = N, .ldc = N, .C = want};
        pare_sgemm_ref(&g);
        const pare_kernel_impl impls[2] = {PARE_KERNEL_BLAS, PARE_KERNEL_AVX512};
        for (int i = 0; i < 2; i++) {
            if (pare_kernel_resolve(impls[i]) != impls[i]) {
                note("training GEMM (sgemm)", pare_kernel_impl_name(impls[i]), false, "the CPU lacks it", 0);
                continue;
            }
            float *ws = malloc(sizeof(float) * (size_t)pare_sgemm_ws_full(N, K));
            g.C = got;
            pare_sgemm(&g, impls[i], ws, pare_sgemm_ws_full(N, K), NULL);
            note("training GEMM (sgemm)", pare_kernel_impl_name(impls[i]), true, NULL, rel(got, want, M * N));
            free(ws);
        }
        free(a), free(bm), free(want), free(got);
    }
    /* row kernels, attention, decoder kernels: per ISA through capped pools */
    for (int c = 0; c < 3; c++) {
        if (!cpu_has(caps[c])) {
            note("row kernels (act, LayerNorm)", isa_names[c], false, "the CPU lacks it", 0);
            note("attention", isa_names[c], false, "the CPU lacks it", 0);
            note("decoder (RMSNorm, SwiGLU, KV attention)", isa_names[c], false, "the CPU lacks it", 0);
            continue;
        }
        pare_pool *p = capped(caps[c]);
        assert_int_equal((int)pare_pool_isa(p), c);
        const int64_t rows_ = 70, dim = 600; /* past the single-thread cut-off */
        float *x = rnd(rows_ * dim, &st, -2, 2), *g = rnd(dim, &st, 0.5f, 1.5f), *bb = rnd(dim, &st, -0.5f, 0.5f);
        float *ref = malloc(sizeof(float) * rows_ * dim), *y = malloc(sizeof(float) * rows_ * dim);
        pare_layernorm_ref_f32(x, g, bb, ref, rows_, dim, 1e-5f);
        pare_layernorm_f32(x, g, bb, y, rows_, dim, 1e-5f, p);
        double e = rel(y, ref, rows_ * dim);
        memcpy(y, x, sizeof(float) * rows_ * dim), memcpy(ref, x, sizeof(float) * rows_ * dim);
        void (*act[3])(float *, int64_t, pare_act) = {pare_act_generic, pare_act_avx2, pare_act_avx512};
        act[c](y, rows_ * dim, PARE_ACT_GELU_ERF);
        pare_act_ref_f32(ref, rows_ * dim, PARE_ACT_GELU_ERF);
        note("row kernels (act, LayerNorm)", isa_names[c], true, NULL, fmax(e, rel(y, ref, rows_ * dim)));
        /* attention */
        const int64_t B = 2, T = 37, H = 3, D = 32, HD = H * D;
        float *qkv = rnd(B * T * 3 * HD, &st, -1, 1), *ao = malloc(sizeof(float) * B * T * HD), *ar = malloc(sizeof(float) * B * T * HD);
        pare_attn_args a = {qkv, qkv + HD, qkv + 2 * HD, 3 * HD, ar, B, T, H, D, NULL, 1.0f / sqrtf((float)D), true};
        pare_attention_ref_f32(&a);
        a.out = ao;
        pare_attention_f32(&a, p);
        note("attention", isa_names[c], true, NULL, rel(ao, ar, B * T * HD));
        /* decoder kernels */
        pare_rmsnorm_ref_f32(x, g, ref, rows_, dim, 1e-5f);
        pare_rmsnorm_f32(x, g, y, rows_, dim, 1e-5f, p);
        e = rel(y, ref, rows_ * dim);
        pare_swiglu_ref_f32(x, x + dim / 2, dim, ref, rows_, dim / 2);
        pare_swiglu_f32(x, x + dim / 2, dim, y, rows_, dim / 2, p);
        e = fmax(e, rel(y, ref, rows_ * dim / 2));
        const int64_t n = 5, KVH = 1, ctx = 40;
        float *kv = rnd(2 * ctx * KVH * D, &st, -1, 1), *q = rnd(n * HD, &st, -1, 1);
        int32_t seq[5] = {0}, pos[5] = {3, 9, 17, 30, 39};
        pare_attn_kv_args kva = {.q = q, .ldq = HD, .k = kv, .v = kv + ctx * KVH * D, .seq_stride = 0, .out = ao,
                                 .seq = seq, .pos = pos, .n = n, .H = H, .KVH = KVH, .D = D, .scale = 0.17f};
        pare_attention_kv_f32(&kva, p);
        kva.out = ar;
        pare_attention_kv_ref_f32(&kva);
        note("decoder (RMSNorm, SwiGLU, KV attention)", isa_names[c], true, NULL, fmax(e, rel(ao, ar, n * HD)));
        free(x), free(g), free(bb), free(ref), free(y), free(qkv), free(ao), free(ar), free(kv), free(q);
        pare_pool_free(p);
    }
    /* quantized dots (every ggml type pare multiplies; Q4_K here) */
    {
        const int64_t n = 9, k = 512, m = 3;
        size_t rowb;
        pare_qtype_row_size(PARE_Q_Q4_K, k, &rowb);
        uint8_t *w = malloc(rowb * n);
        for (size_t i = 0; i < rowb * n; i++) w[i] = (uint8_t)(tu_randf(&st, 0, 256));
        for (int64_t r = 0; r < n; r++)
            for (int64_t b = 0; b < k / 256; b++) {
                pare_block_q4_K *blk = (pare_block_q4_K *)(w + r * rowb) + b;
                blk->d = pare_f32_to_f16(0.01f), blk->dmin = pare_f32_to_f16(0.005f);
            }
        float *x = rnd(m * k, &st, -1, 1), *ref = malloc(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
        tu_assert_ok(pare_qmatmul_ref(PARE_Q_Q4_K, w, n, k, x, m, ref, NULL, &err), &err);
        for (int c = 0; c < 2; c++) {
            if (!cpu_has(caps[c])) {
                note("quantized dot (qmatmul)", isa_names[c], false, "the CPU lacks it", 0);
                continue;
            }
            tu_assert_ok(pare_qmatmul_isa((pare_isa)c, NULL, PARE_Q_Q4_K, w, n, k, x, m, y, NULL, &err), &err);
            /* AVX2 quantizes x to 8 bits per 32: its error is that rounding */
            note("quantized dot (qmatmul)", isa_names[c], true, NULL, rel(y, ref, m * n) * (c ? 0.005 : 1));
        }
        free(w), free(x), free(ref), free(y);
    }
    /* packed layouts: AVX2's 8-row Q4_0, VNNI's 16-row Q8_0 */
    {
        const int64_t n = 40, k = 256, m = 2;
        static const pare_qtype types[2] = {PARE_Q_Q4_0, PARE_Q_Q8_0};
        static const char *const names[2] = {"avx2 Q4_0 (8 rows)", "vnni Q8_0 (16 rows)"};
        for (int l = 0; l < 2; l++) {
            pare_pool *p = capped(l ? PARE_KERNEL_AVX512 : PARE_KERNEL_AVX2);
            if (!pare_qpack_supports(types[l], p) || (l && !pare_cpu_vnni())) {
                note("packed quantized", names[l], false, l ? "no AVX-512 VNNI" : "no AVX2", 0);
                pare_pool_free(p);
                continue;
            }
            size_t rowb;
            pare_qtype_row_size(types[l], k, &rowb);
            uint8_t *w = malloc(rowb * n);
            float *f = rnd(k, &st, -1, 1), *x = rnd(m * k, &st, -1, 1);
            for (int64_t r = 0; r < n; r++) tu_assert_ok(pare_quantize_row_ref(types[l], f, w + r * rowb, k, &err), &err);
            float *y0 = malloc(sizeof(float) * m * n), *y1 = malloc(sizeof(float) * m * n);
            tu_assert_ok(pare_qmatmul_isa(PARE_ISA_AVX2, p, types[l], w, n, k, x, m, y0, NULL, &err), &err);
            void *pk = aligned_alloc(64, (pare_qpack_bytes(types[l], n, k, p) + 63) / 64 * 64);
            pare_qpacked qp;
            tu_assert_ok(pare_qpack(types[l], w, n, k, p, pk, &qp, &err), &err);
            tu_assert_ok(pare_qmatmul_packed(p, &qp, x, m, y1, NULL, &err), &err);
            note("packed quantized", names[l], true, NULL, rel(y1, y0, m * n)); /* the same quantized x: tight */
            free(w), free(f), free(x), free(y0), free(y1), free(pk);
            pare_pool_free(p);
        }
    }
    /* int8 GEMM: exact int32 accumulators */
    {
        const int64_t m = 7, n = 50, k = 130;
        int8_t *w = malloc((size_t)(n * k)), *x = malloc((size_t)(m * k));
        for (int64_t i = 0; i < n * k; i++) w[i] = (int8_t)(tu_randf(&st, -127, 127));
        for (int64_t i = 0; i < m * k; i++) x[i] = (int8_t)(tu_randf(&st, -127, 127));
        float *ws = rnd(n, &st, 0.01f, 0.02f);
        int32_t *ref = malloc(sizeof(int32_t) * m * n), *got = malloc(sizeof(int32_t) * m * n);
        pare_gemm_ref_i8(x, w, ref, m, n, k);
        static const pare_kernel_impl impls[4] = {PARE_KERNEL_REF, PARE_KERNEL_AVX2, PARE_KERNEL_AVX512, PARE_KERNEL_AUTO};
        bool seen[4] = {false};
        for (int i = 0; i < 4; i++) {
            const pare_qisa isa = pare_qisa_resolve(impls[i]);
            if (seen[isa]) continue;
            seen[isa] = true;
            pare_arena *ar = pare_arena_create(1 << 20);
            pare_qlinear l;
            tu_assert_ok(pare_qlinear_init(&l, w, ws, NULL, n, k, 0, impls[i], ar, &err), &err);
            void *scratch = aligned_alloc(64, (pare_qlinear_scratch_bytes(&l, m) + 63) / 64 * 64);
            pare_qlinear_gemm_i32(&l, x, m, got, scratch, NULL);
            note("int8 GEMM", pare_qisa_name(isa), true, NULL, memcmp(got, ref, sizeof(int32_t) * m * n) ? 1 : 0);
            free(scratch);
            pare_arena_free(ar);
        }
        static const pare_qisa all[4] = {PARE_QISA_REF, PARE_QISA_AVX2, PARE_QISA_VNNI, PARE_QISA_AMX};
        for (int i = 0; i < 4; i++)
            if (!seen[all[i]]) note("int8 GEMM", pare_qisa_name(all[i]), false, "the CPU lacks it", 0);
        free(w), free(x), free(ws), free(ref), free(got);
    }
    /* bitmap sparse (decoders) and blocked sparse (encoders) */
    {
        const int64_t n = 37, k = 200, m = 3;
        uint16_t *w = malloc(sizeof(uint16_t) * n * k);
        float *wf = malloc(sizeof(float) * n * k);
        for (int64_t i = 0; i < n * k; i++) {
            wf[i] = tu_randf(&st, 0, 1) < 0.4f ? tu_randf(&st, -1, 1) : 0;
            w[i] = pare_f32_to_f16(wf[i]);
            wf[i] = pare_f16_to_f32(w[i]);
        }
        float *x = rnd(m * k, &st, -1, 1), *b = rnd(n, &st, -1, 1), *ref = malloc(sizeof(float) * m * n), *y = malloc(sizeof(float) * m * n);
        pare_arena *ar = pare_arena_create(1 << 20);
        pare_sparse s;
        pare_spmm sp;
        tu_assert_ok(pare_sparse_build(PARE_Q_F16, w, n, k, ar, &s, &err), &err);
        tu_assert_ok(pare_spmm_build(wf, n, k, ar, &sp, &err), &err);
        pare_sparse_matmul_ref(&s, x, m, ref, b);
        void *scratch = malloc(pare_spmm_scratch_bytes(&sp, m));
        for (int c = 0; c < 3; c++) {
            const char *v = c == 2 ? "avx512-vbmi2" : isa_names[c];
            if (!cpu_has(caps[c]) || (c == 2 && !s.vbmi2)) {
                note("bitmap sparse", v, false, "the CPU lacks it", 0);
                if (c != 1) note("blocked sparse", isa_names[c], false, "the CPU lacks it", 0);
                continue;
            }
            pare_pool *p = capped(caps[c]);
            tu_assert_ok(pare_sparse_matmul(p, &s, x, m, y, b, &err), &err);
            note("bitmap sparse", v, true, NULL, rel(y, ref, m * n));
            if (c != 1) { /* the blocked format has plain C and AVX-512 kernels */
                pare_spmm_matmul(p, &sp, x, m, y, b, PARE_ACT_NONE, scratch);
                note("blocked sparse", isa_names[c], true, NULL, rel(y, ref, m * n));
            }
            pare_pool_free(p);
        }
        free(scratch), free(w), free(wf), free(x), free(b), free(ref), free(y);
        pare_arena_free(ar);
    }
    print_message("%-40s %-22s %s\n", "kernel family", "variant", "on this CPU");
    int ran = 0;
    for (int i = 0; i < n_rows; i++) {
        ran += rows[i].ran;
        if (rows[i].ran) print_message("%-40s %-22s ran (error %.2g of the result)\n", rows[i].family, rows[i].variant, rows[i].err);
        else print_message("%-40s %-22s cannot run: %s\n", rows[i].family, rows[i].variant, rows[i].why);
    }
    print_message("%d variants ran, %d cannot run on this CPU (also: the trainer's AVX-512 attention and GELU in test_grad)\n",
                  ran, n_rows - ran);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_list)};
    return tu_result(cmocka_run_group_tests(tests, NULL, NULL));
}
