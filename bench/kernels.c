/* Kernel micro-benchmark: GEMM (pare_linear_forward) on the BERT-base and
 * MiniLM shapes for each implementation, attention, layernorm; median time
 * over repeats (and the best wall and thread-0 CPU times), GFLOP/s and
 * fraction of the measured FMA peak (best of 5 short runs).
 * Usage: bench_kernels [repeats [impl]]   (threads: pare_default_threads()) */
#include "pare/pare.h"
#include "pare/qlinear.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of the calling thread (pool thread 0): unlike wall time it does
 * not count the time other processes held this core. */
static double thread_cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static float *rand_buf(int64_t n, uint64_t *st) {
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) exit(1);
    for (int64_t i = 0; i < n; i++) {
        *st ^= *st << 13;
        *st ^= *st >> 7;
        *st ^= *st << 17;
        p[i] = (float)((*st >> 40) * (1.0 / 16777216.0)) - 0.5f;
    }
    return p;
}

typedef struct {
    const char *name;
    int64_t m, n, k;
    pare_act act;
} shape;

/* Median wall time over reps runs; *best gets the fastest (the machine is
 * shared, so the minimum is the better estimate of what the kernel can do)
 * and *cpu the fastest in thread-0 CPU time. */
static double median_time(int reps, void (*fn)(void *), void *ctx, double *best, double *cpu) {
    double t[64];
    if (reps > 64) reps = 64;
    fn(ctx); /* warm up */
    *cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = pare_time_now(), c0 = thread_cpu_now();
        fn(ctx);
        double c = thread_cpu_now() - c0;
        t[r] = pare_time_now() - t0;
        if (c < *cpu) *cpu = c;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    *best = t[0];
    return t[reps / 2];
}

typedef struct {
    pare_linear *l;
    const float *x;
    float *y;
    int64_t m;
    pare_act act;
    pare_pool *pool;
} lin_ctx;

static void run_lin(void *c_) {
    lin_ctx *c = c_;
    pare_linear_forward(c->l, c->x, c->m, c->y, c->act, c->pool);
}

typedef struct {
    pare_attn_args a;
    pare_pool *pool;
} attn_ctx;

typedef struct {
    pare_qlinear *l;
    const float *x;
    float *y;
    int64_t m;
    pare_act act;
    void *scratch;
    pare_pool *pool;
} qlin_ctx;

static void run_qlin(void *c_) {
    qlin_ctx *c = c_;
    pare_qlinear_forward(c->l, c->x, c->m, c->y, c->act, c->scratch, c->pool);
}

typedef struct {
    const pare_spmm *s;
    const float *x, *b;
    float *y;
    int64_t m;
    pare_act act;
    void *scratch;
    pare_pool *pool;
} spmm_ctx;

static void run_spmm(void *c_) {
    spmm_ctx *c = c_;
    pare_spmm_matmul(c->pool, c->s, c->x, c->m, c->y, c->b, c->act, c->scratch);
}

/* `bench_kernels REPS sparse`: the blocked sparse GEMM (pare_spmm) against
 * the dense AVX-512 GEMM on the BERT-base shapes, magnitude-pruned random
 * weights at several sparsities and 2:4 (the encoder's crossover). */
static int bench_sparse(int reps, pare_pool *pool) {
    static const shape shapes[] = {
        {"bert qkv", 128, 2304, 768, PARE_ACT_NONE}, {"bert attn-out", 128, 768, 768, PARE_ACT_NONE},
        {"bert ffn1+gelu", 128, 3072, 768, PARE_ACT_GELU_ERF}, {"bert ffn2", 128, 768, 3072, PARE_ACT_NONE},
        {"bert ffn1+gelu", 1024, 3072, 768, PARE_ACT_GELU_ERF}, {"bert ffn2", 1024, 768, 3072, PARE_ACT_NONE},
    };
    static const double sp[] = {0.3, 0.5, 0.7, 0.9, -1};
    pare_err err = {0};
    uint64_t st = 7;
    printf("%-18s %5s %5s %5s  %-9s %9s %9s %7s\n", "sparse gemm", "m", "n", "k", "sparsity", "dense ms", "sparse ms", "ratio");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *sh = &shapes[i];
        float *x = rand_buf(sh->m * sh->k, &st), *w = rand_buf(sh->n * sh->k, &st), *b = rand_buf(sh->n, &st);
        float *y = rand_buf(sh->m * sh->n, &st), *wp = malloc(sizeof(float) * (size_t)(sh->n * sh->k));
        for (size_t j = 0; j < sizeof sp / sizeof sp[0]; j++) {
            memcpy(wp, w, sizeof(float) * (size_t)(sh->n * sh->k));
            if (sp[j] < 0) {
                float *score = malloc(sizeof(float) * (size_t)(sh->n * sh->k));
                for (int64_t q = 0; score && q < sh->n * sh->k; q++) score[q] = fabsf(wp[q]);
                if (score) pare_prune_by_score(wp, score, sh->n, sh->k, PARE_PRUNE_NM, 0, 2, 4);
                free(score);
            }
            else pare_prune_magnitude(&wp, (int64_t[]){sh->n * sh->k}, 1, sp[j], true);
            pare_arena *ar = pare_arena_create(0);
            pare_linear l;
            pare_spmm s;
            if (pare_linear_init(&l, wp, b, sh->n, sh->k, pare_kernel_resolve(PARE_KERNEL_AUTO), ar, &err) ||
                pare_spmm_build(wp, sh->n, sh->k, ar, &s, &err)) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            void *scratch = malloc(pare_spmm_scratch_bytes(&s, sh->m));
            lin_ctx lc = {&l, x, y, sh->m, sh->act, pool};
            spmm_ctx sc = {&s, x, b, y, sh->m, sh->act, scratch, pool};
            double best, cpu, td = median_time(reps, run_lin, &lc, &best, &cpu), ts = median_time(reps, run_spmm, &sc, &best, &cpu);
            char name[16];
            snprintf(name, sizeof name, sp[j] < 0 ? "2:4" : "%.0f%%", sp[j] * 100);
            printf("%-18s %5lld %5lld %5lld  %-9s %9.3f %9.3f %7.2f\n", sh->name, (long long)sh->m, (long long)sh->n,
                   (long long)sh->k, name, td * 1e3, ts * 1e3, td / ts);
            free(scratch);
            pare_arena_free(ar);
        }
        free(x);
        free(w);
        free(b);
        free(y);
        free(wp);
    }
    return 0;
}

static void run_attn(void *c_) {
    attn_ctx *c = c_;
    pare_attention_f32(&c->a, c->pool);
}

int main(int argc, char **argv) {
    int reps = argc > 1 ? atoi(argv[1]) : 15;
    if (reps < 1) reps = 1;
    pare_kernel_impl only = PARE_KERNEL_AUTO;
    bool only_int8 = argc > 2 && strcmp(argv[2], "int8") == 0, sparse = argc > 2 && strcmp(argv[2], "sparse") == 0;
    if (argc > 2 && !only_int8 && !sparse && !pare_kernel_impl_parse(argv[2], &only)) {
        fprintf(stderr, "bench_kernels: unknown impl '%s'\n", argv[2]);
        return 2;
    }
    pare_err err = {0};
    int nth = pare_default_threads();
    pare_pool *pool = pare_pool_create(nth, &err);
    if (!pool) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    if (sparse) {
        int rc = bench_sparse(reps, pool);
        pare_pool_free(pool);
        return rc;
    }
    pare_cpu_features f;
    char fb[256];
    pare_cpu_detect(&f);
    /* best of a few: other processes may hold the cores for a while */
    double peak = 0;
    for (int i = 0; i < 5; i++) {
        double g = pare_measure_fma_peak(pool, 0.2);
        peak = g > peak ? g : peak;
    }
    printf("cpu: %s [%s]\nthreads: %d  measured FMA peak: %.1f GFLOP/s\n\n", f.brand,
           pare_cpu_features_str(&f, fb, sizeof fb), nth, peak);
    static const shape shapes[] = {
        {"bert qkv", 128, 2304, 768, PARE_ACT_NONE},   {"bert attn-out", 128, 768, 768, PARE_ACT_NONE},
        {"bert ffn1+gelu", 128, 3072, 768, PARE_ACT_GELU_ERF}, {"bert ffn2", 128, 768, 3072, PARE_ACT_NONE},
        {"bert qkv", 1024, 2304, 768, PARE_ACT_NONE},  {"bert attn-out", 1024, 768, 768, PARE_ACT_NONE},
        {"bert ffn1+gelu", 1024, 3072, 768, PARE_ACT_GELU_ERF}, {"bert ffn2", 1024, 768, 3072, PARE_ACT_NONE},
        {"minilm qkv", 128, 1152, 384, PARE_ACT_NONE}, {"minilm attn-out", 128, 384, 384, PARE_ACT_NONE},
        {"minilm ffn1+gelu", 128, 1536, 384, PARE_ACT_GELU_ERF}, {"minilm ffn2", 128, 384, 1536, PARE_ACT_NONE},
        {"minilm qkv", 1024, 1152, 384, PARE_ACT_NONE}, {"minilm attn-out", 1024, 384, 384, PARE_ACT_NONE},
        {"minilm ffn1+gelu", 1024, 1536, 384, PARE_ACT_GELU_ERF}, {"minilm ffn2", 1024, 384, 1536, PARE_ACT_NONE},
        {"bert ffn1 m=1", 1, 3072, 768, PARE_ACT_GELU_ERF}, {"bert qkv m=16", 16, 2304, 768, PARE_ACT_NONE},
    };
    static const pare_kernel_impl impls[] = {PARE_KERNEL_AVX512, PARE_KERNEL_AVX2, PARE_KERNEL_BLAS};
    printf("%-18s %5s %5s %5s  %-7s %8s %8s %8s %8s %7s %7s %7s\n", "gemm", "m", "n", "k",
           "impl", "med ms", "best ms", "cpu ms", "GFLOP/s", "%peak", "best%", "cpu%");
    uint64_t st = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        float *x = rand_buf(sh->m * sh->k, &st), *w = rand_buf(sh->n * sh->k, &st);
        float *b = rand_buf(sh->n, &st), *y = rand_buf(sh->m * sh->n, &st);
        for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++) {
            if (pare_kernel_resolve(impls[i]) != impls[i]) continue;
            if (only_int8 || (only != PARE_KERNEL_AUTO && only != impls[i])) continue;
            pare_arena *ar = pare_arena_create(0);
            pare_linear l;
            if (pare_linear_init(&l, w, b, sh->n, sh->k, impls[i], ar, &err) != PARE_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            lin_ctx c = {&l, x, y, sh->m, sh->act, pool};
            double best, cpu, t = median_time(reps, run_lin, &c, &best, &cpu);
            double flop = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
            printf("%-18s %5lld %5lld %5lld  %-7s %8.3f %8.3f %8.3f %8.1f %6.1f%% %6.1f%% %6.1f%%\n",
                   sh->name, (long long)sh->m, (long long)sh->n, (long long)sh->k,
                   pare_kernel_impl_name(impls[i]), t * 1e3, best * 1e3, cpu * 1e3,
                   flop / t * 1e-9, 100.0 * flop / t * 1e-9 / peak,
                   100.0 * flop / best * 1e-9 / peak, 100.0 * flop / cpu * 1e-9 / peak);
            pare_arena_free(ar);
        }
        /* W8A8 dynamic per token, same shape: the best int8 kernel, then
         * VNNI when the best is AMX */
        static const pare_kernel_impl qimpls[] = {PARE_KERNEL_AUTO, PARE_KERNEL_AVX512};
        for (int qi = 0; qi < 2 && only == PARE_KERNEL_AUTO; qi++) {
            if (qi == 1 && pare_qisa_resolve(PARE_KERNEL_AUTO) == pare_qisa_resolve(PARE_KERNEL_AVX512)) break;
            int8_t *wq = malloc((size_t)(sh->n * sh->k));
            float *ws = malloc(sizeof(float) * (size_t)sh->n);
            pare_quantize_int8_rows(w, sh->n, sh->k, wq, ws);
            pare_arena *ar = pare_arena_create(0);
            pare_qlinear l;
            if (!wq || !ws || pare_qlinear_init(&l, wq, ws, b, sh->n, sh->k, 0.0f, qimpls[qi], ar, &err) != PARE_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            void *scratch = aligned_alloc(64, (pare_qlinear_scratch_bytes(&l, sh->m) + 63) / 64 * 64);
            qlin_ctx c = {&l, x, y, sh->m, sh->act, scratch, pool};
            double best, cpu, t = median_time(reps, run_qlin, &c, &best, &cpu);
            double ops = 2.0 * (double)sh->m * (double)sh->n * (double)sh->k;
            printf("%-18s %5lld %5lld %5lld  %-7s %8.3f %8.3f %8.3f %8.1f %6.1f%% %6.1f%% %6.1f%%\n",
                   sh->name, (long long)sh->m, (long long)sh->n, (long long)sh->k,
                   l.isa == PARE_QISA_AMX ? "i8-amx" : "i8-vnni", t * 1e3, best * 1e3, cpu * 1e3, ops / t * 1e-9, 100.0 * ops / t * 1e-9 / peak,
                   100.0 * ops / best * 1e-9 / peak, 100.0 * ops / cpu * 1e-9 / peak);
            free(scratch);
            free(wq);
            free(ws);
            pare_arena_free(ar);
        }
        free(x);
        free(w);
        free(b);
        free(y);
    }
    printf("\n%-18s %3s %4s %3s %3s %8s %8s %8s %8s\n", "attention", "B", "T", "H", "D", "med ms",
           "best ms", "cpu ms", "GFLOP/s");
    static const int64_t attn[][4] = {{1, 128, 12, 64}, {8, 128, 12, 64}, {1, 128, 12, 32},
                                      {8, 128, 12, 32}};
    for (size_t i = 0; i < sizeof attn / sizeof attn[0]; i++) {
        int64_t B = attn[i][0], T = attn[i][1], H = attn[i][2], D = attn[i][3], ld = 3 * H * D;
        float *qkv = rand_buf(B * T * ld, &st), *out = rand_buf(B * T * H * D, &st);
        attn_ctx c = {{qkv, qkv + H * D, qkv + 2 * H * D, ld, out, B, T, H, D, NULL,
                       1.0f / 8.0f, false},
                      pool};
        double best, cpu, t = median_time(reps, run_attn, &c, &best, &cpu);
        double gf = 4.0 * (double)(B * H) * (double)(T * T) * (double)D / t * 1e-9;
        printf("%-18s %3lld %4lld %3lld %3lld %8.3f %8.3f %8.3f %8.1f\n", "mha", (long long)B,
               (long long)T, (long long)H, (long long)D, t * 1e3, best * 1e3, cpu * 1e3, gf);
        free(qkv);
        free(out);
    }
    pare_pool_free(pool);
    return 0;
}
