/* Decode GEMV (m = 1) with block-quantized weights on the TinyLlama-1.1B
 * shapes, 1 and 2 threads: best and median time per product, effective
 * GB/s (weight bytes / best time) beside the measured read bandwidth of the
 * same pool, and the per-token time of all of a decode step's matmuls
 * (22 x (q, k, v, o, gate, up, down) + the 32000-row output).
 *
 * Real decode streams every weight from DRAM once per token; so that the
 * small matrices do not sit in the last-level cache between repetitions,
 * each case cycles through copies of its weights totalling >= 96 MB.
 *
 * Each product is checked against pare_qmatmul_ref on its first 32 rows
 * before timing. Weights: 16 distinct rows quantized from random floats
 * (pare_quantize_row_ref), repeated; values do not change the speed.
 *
 * Usage: bench_qmatmul [seconds per case (0.25)] [TYPE ...]
 *   types default to F16 Q8_0 Q4_0 Q4_1; also F32 BF16 Q5_0 Q5_1 Q4_K Q6_K.
 * On a shared VM the numbers are indicative: run it on an idle machine. */
#include "pare/pare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    int64_t n, k;
    int per_token; /* how many of these a decode step runs */
} shape;

static const shape shapes[] = {
    {"attn_q/o 2048x2048", 2048, 2048, 44}, {"attn_k/v 256x2048", 256, 2048, 44},
    {"ffn_gate/up 5632x2048", 5632, 2048, 44}, {"ffn_down 2048x5632", 2048, 5632, 22},
    {"output 32000x2048", 32000, 2048, 1},
};
#define N_SHAPES (int)(sizeof shapes / sizeof shapes[0])

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) * (1.0 / 16777216.0)) * 2 - 1;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* n rows of k of type t; K types have no reference quantizer: random bytes
 * with small f16 scales. NULL on OOM. */
static uint8_t *make_weights(pare_qtype t, int64_t n, int64_t k, size_t *row) {
    pare_qtype_row_size(t, k, row);
    uint8_t *w = malloc(*row * (size_t)n);
    float *f = malloc((size_t)k * sizeof *f);
    if (!w || !f) {
        free(w);
        free(f);
        return NULL;
    }
    for (int64_t r = 0; r < 16 && r < n; r++) {
        uint8_t *wr = w + (size_t)r * *row;
        if (t == PARE_Q_Q4_K || t == PARE_Q_Q6_K) {
            for (size_t i = 0; i < *row; i++) wr[i] = (uint8_t)((rng = rng * 6364136223846793005ull + 1) >> 56);
            for (int64_t b = 0; b < k / PARE_QK_K; b++) {
                uint16_t d = pare_f32_to_f16(0.01f);
                if (t == PARE_Q_Q4_K) {
                    ((pare_block_q4_K *)wr)[b].d = d;
                    ((pare_block_q4_K *)wr)[b].dmin = d;
                } else {
                    ((pare_block_q6_K *)wr)[b].d = d;
                }
            }
        } else {
            for (int64_t i = 0; i < k; i++) f[i] = frand() * 0.05f;
            pare_quantize_row_ref(t, f, wr, k, NULL);
        }
    }
    for (int64_t r = 16; r < n; r++) memcpy(w + (size_t)r * *row, w + (size_t)(r % 16) * *row, *row);
    free(f);
    return w;
}

int main(int argc, char **argv) {
    double budget = argc > 1 ? atof(argv[1]) : 0.25;
    if (!(budget > 0)) budget = 0.25;
    pare_qtype types[16];
    int n_types = 0;
    for (int a = 2; a < argc && n_types < 16; a++) {
        int id = -1;
        for (int t = 0; t < PARE_Q_COUNT; t++)
            if (pare_qtype_get((uint32_t)t) && !strcmp(pare_qtype_get((uint32_t)t)->name, argv[a])) id = t;
        if (id < 0 || !pare_qmatmul_supports((pare_qtype)id)) {
            fprintf(stderr, "bench_qmatmul: unknown or unsupported type '%s'\n", argv[a]);
            return 2;
        }
        types[n_types++] = (pare_qtype)id;
    }
    if (!n_types) {
        const pare_qtype def[] = {PARE_Q_F16, PARE_Q_Q8_0, PARE_Q_Q4_0, PARE_Q_Q4_1};
        memcpy(types, def, sizeof def);
        n_types = 4;
    }
    pare_cpu_features f;
    pare_cpu_detect(&f);
    char feats[256];
    printf("cpu: %s [%s]; numbers are indicative on a shared machine\n", f.brand,
           pare_cpu_features_str(&f, feats, sizeof feats));

    pare_err err = {0};
    float *x = malloc(5632 * sizeof *x), *y = malloc(32000 * sizeof *y), *yr = malloc(32 * sizeof *yr);
    if (!x || !y || !yr) return 1;
    for (int i = 0; i < 5632; i++) x[i] = frand();

    for (int threads = 1; threads <= 2; threads++) {
        pare_pool *pool = pare_pool_create(threads, &err);
        double bw = 0;
        if (!pool || pare_measure_read_bandwidth(pool, (size_t)256 << 20, 5, &bw, &err)) {
            fprintf(stderr, "bench_qmatmul: %s\n", err.msg);
            return 1;
        }
        printf("\nthreads %d, measured read bandwidth %.1f GB/s\n", threads, bw);
        printf("%-6s %-22s %9s %9s %8s %7s\n", "type", "shape", "best us", "med us", "GB/s",
               "of bw");
        for (int ti = 0; ti < n_types; ti++) {
            pare_qtype t = types[ti];
            double token_s = 0, token_bytes = 0;
            for (int s = 0; s < N_SHAPES; s++) {
                const shape *sh = &shapes[s];
                size_t row;
                uint8_t *w = make_weights(t, sh->n, sh->k, &row);
                if (!w) {
                    fprintf(stderr, "bench_qmatmul: no memory for %s %s\n",
                            pare_qtype_get(t)->name, sh->name);
                    return 1;
                }
                /* check the first 32 rows against the reference */
                if (pare_qmatmul(pool, t, w, sh->n, sh->k, x, 1, y, NULL, &err) ||
                    pare_qmatmul_ref(t, w, 32, sh->k, x, 1, yr, NULL, &err)) {
                    fprintf(stderr, "bench_qmatmul: %s\n", err.msg);
                    return 1;
                }
                for (int i = 0; i < 32; i++)
                    if (fabsf(y[i] - yr[i]) > 0.02f * (1 + fabsf(yr[i]))) {
                        fprintf(stderr, "bench_qmatmul: %s %s row %d: %g vs ref %g\n",
                                pare_qtype_get(t)->name, sh->name, i, y[i], yr[i]);
                        return 1;
                    }
                size_t wbytes = row * (size_t)sh->n, copies = ((size_t)96 << 20) / wbytes + 1;
                uint8_t *cw = copies > 1 ? malloc(wbytes * copies) : NULL;
                for (size_t c = 0; cw && c < copies; c++) memcpy(cw + c * wbytes, w, wbytes);
                if (!cw) copies = 1;
                double times[256];
                int reps = 0;
                double t_start = pare_time_now();
                while (reps < 256 && (reps < 5 || pare_time_now() - t_start < budget)) {
                    const uint8_t *wc = cw ? cw + (size_t)reps % copies * wbytes : w;
                    double t0 = pare_time_now();
                    pare_qmatmul(pool, t, wc, sh->n, sh->k, x, 1, y, NULL, NULL);
                    times[reps++] = pare_time_now() - t0;
                }
                free(cw);
                qsort(times, (size_t)reps, sizeof times[0], cmp_double);
                double bytes = (double)row * (double)sh->n, gbs = bytes / times[0] * 1e-9;
                printf("%-6s %-22s %9.1f %9.1f %8.1f %6.0f%%\n", pare_qtype_get(t)->name,
                       sh->name, times[0] * 1e6, times[reps / 2] * 1e6, gbs, 100 * gbs / bw);
                token_s += sh->per_token * times[0];
                token_bytes += sh->per_token * bytes;
                free(w);
            }
            printf("%-6s %-22s %9.2f ms/token (matmuls only, %.0f MB: %.1f GB/s, %.0f%% of bw; %.1f "
                   "tok/s)\n",
                   pare_qtype_get(t)->name, "decode step", token_s * 1e3, token_bytes * 1e-6,
                   token_bytes / token_s * 1e-9, 100 * token_bytes / token_s * 1e-9 / bw,
                   1 / token_s);
        }
        pare_pool_free(pool);
    }
    free(x);
    free(y);
    free(yr);
    return 0;
}
