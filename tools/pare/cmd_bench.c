/* pare bench (encoder latency) and pare peak (the machine's FMA peak). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *BENCH_HELP =
    "usage: pare bench ENCODER [--batch B] [--seq T] [--warmup W] [--iters N] [--threads N] [--json]\n"
    "       pare bench DECODER [--prompt P] [--gen N] [--reps R] [--threads N] [--json]\n"
    "\n"
    "Encoder (BERT family): latency of one forward pass (last hidden state) over B\n"
    "sequences of T real tokens (fixed pseudo-random ids, no padding). Runs W\n"
    "warm-up passes, then N timed ones, and reports p50/p90/p99/mean/min in ms and\n"
    "GFLOP/s at p50. Defaults: --batch 1 --seq 128 --warmup 3 --iters 20.\n"
    "\n"
    "Decoder (a GGUF file or a Llama-family folder): prefill of P tokens and greedy\n"
    "decode of N more into a fresh KV cache, R times after a warm-up; prints the\n"
    "median tokens/s of each and the bytes of weights one decoded token reads (the\n"
    "memory-bandwidth bound is read bandwidth / that; see pare peak).\n"
    "Defaults: --prompt 64 --gen 32 --reps 3 (llama-bench's -p/-n).\n";

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double percentile(const double *sorted, int64_t n, double q) {
    double pos = q * (double)(n - 1);
    int64_t i = (int64_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[n - 1];
}

int cmd_bench(int argc, char **argv) {
    cli_common c = {0};
    const char *model = NULL, *v;
    int64_t B = 1, T = 128, warmup = 3, iters = 20, prompt = 64, gen = 32, reps = 3;
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&c, argc, argv, &i, BENCH_HELP);
        if (r == CLI_ARG_BAD || r == CLI_ARG_HELP) {
            return r == CLI_ARG_HELP ? CLI_OK : CLI_USAGE;
        }
        if (r) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--batch")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 4096, &B)) return CLI_USAGE;
        } else if (!strcmp(a, "--seq")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 65536, &T)) return CLI_USAGE;
        } else if (!strcmp(a, "--warmup")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 100000, &warmup)) return CLI_USAGE;
        } else if (!strcmp(a, "--prompt")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 20, &prompt)) return CLI_USAGE;
        } else if (!strcmp(a, "--gen")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 20, &gen)) return CLI_USAGE;
        } else if (!strcmp(a, "--reps")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1000, &reps)) return CLI_USAGE;
        } else if (!strcmp(a, "--iters")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1000000, &iters)) return CLI_USAGE;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "pare bench: unexpected argument '%s' (see --help)\n", a);
            return CLI_USAGE;
        } else {
            model = a;
        }
    }
    if (!model) {
        fputs(BENCH_HELP, stderr);
        return CLI_USAGE;
    }
    if (cli_is_decoder(model)) return cli_bench_llama(model, &c, prompt, gen, reps);
    pare_err err = {0};
    pare_bert *m = NULL;
    if (cli_load_bert(model, &c, &m, &err)) return cli_fail("bench", &err);
    const pare_bert_config *cfg = pare_bert_get_config(m);
    int32_t *ids = malloc(sizeof *ids * (size_t)(B * T)), *mask = malloc(sizeof *mask * (size_t)(B * T));
    float *hidden = malloc(sizeof *hidden * (size_t)(B * T * cfg->hidden_size));
    double *ms = malloc(sizeof *ms * (size_t)iters);
    int rc = CLI_OK;
    if (!ids || !mask || !hidden || !ms) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        rc = cli_fail("bench", &err);
        goto done;
    }
    uint64_t st = 0x1234567;
    for (int64_t i = 0; i < B * T; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        int64_t lo = cfg->vocab_size > 2000 ? 1000 : 0;
        ids[i] = (int32_t)(lo + (int64_t)((st >> 33) % (uint64_t)(cfg->vocab_size - lo)));
        mask[i] = 1;
    }
    pare_bert_outputs out = {.hidden = hidden};
    for (int64_t i = 0; i < warmup + iters; i++) {
        double t0 = pare_time_now();
        if (pare_bert_forward(m, ids, mask, NULL, B, T, &out, &err)) {
            rc = cli_fail("bench", &err);
            goto done;
        }
        if (i >= warmup) ms[i - warmup] = (pare_time_now() - t0) * 1e3;
    }
    double mean = 0;
    for (int64_t i = 0; i < iters; i++) mean += ms[i] / (double)iters;
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    double p50 = percentile(ms, iters, 0.5), gflop = pare_bert_forward_flops(cfg, B, T) / 1e9;
    int threads = pare_pool_size(pare_bert_pool(m));
    if (c.json) {
        printf("{\"engine\": \"pare\", \"kernel\": \"%s\", \"model\": ", pare_kernel_impl_name(pare_kernel_resolve(c.kernel)));
        cli_json_string(stdout, model);
        printf(", \"batch\": %lld, \"seq\": %lld, \"threads\": %d, \"iters\": %lld, \"p50_ms\": %.4f, \"p90_ms\": %.4f, "
               "\"p99_ms\": %.4f, \"mean_ms\": %.4f, \"min_ms\": %.4f, \"gflop\": %.4f, \"gflops\": %.2f}\n",
               (long long)B, (long long)T, threads, (long long)iters, p50, percentile(ms, iters, 0.9),
               percentile(ms, iters, 0.99), mean, ms[0], gflop, gflop / (p50 / 1e3));
    } else {
        printf("%s: batch %lld x seq %lld, %d threads, %s kernels, %lld iterations\n", model, (long long)B,
               (long long)T, threads, pare_kernel_impl_name(pare_kernel_resolve(c.kernel)), (long long)iters);
        printf("  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  mean %.3f ms  min %.3f ms\n", p50,
               percentile(ms, iters, 0.9), percentile(ms, iters, 0.99), mean, ms[0]);
        printf("  %.2f GFLOP per pass, %.1f GFLOP/s at p50\n", gflop, gflop / (p50 / 1e3));
    }
done:
    free(ids);
    free(mask);
    free(hidden);
    free(ms);
    pare_bert_free(m);
    return rc;
}

int cmd_peak(int argc, char **argv) {
    cli_common c = {0};
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--seconds")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || !cli_parse_float("--seconds", v, &seconds) || seconds <= 0) return CLI_USAGE;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: pare peak [--seconds S] [--threads N] [--json]\n\n"
                   "Measure this machine's sustained fp32 FMA throughput (GFLOP/s) on N threads,\n"
                   "the ceiling that pare bench's GFLOP/s are compared with, and its memory read\n"
                   "bandwidth (GB/s, best of 10 passes over 512 MB), the ceiling of decoding\n"
                   "(each token reads every weight once).\n");
            return CLI_OK;
        } else {
            fprintf(stderr, "pare peak: unexpected argument '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        }
    }
    pare_err err = {0};
    pare_pool *pool = pare_pool_create(c.n_threads, &err);
    if (!pool) return cli_fail("peak", &err);
    double g = pare_measure_fma_peak(pool, seconds), bw = 0;
    pare_qisa qisa;
    double g8 = pare_measure_int8_peak(pool, seconds, &qisa);
    if (pare_measure_read_bandwidth(pool, (size_t)512 << 20, 10, &bw, &err)) {
        pare_pool_free(pool);
        return cli_fail("peak", &err);
    }
    pare_cpu_features f;
    pare_cpu_detect(&f);
    char feats[256];
    pare_cpu_features_str(&f, feats, sizeof feats);
    if (c.json) {
        printf("{\"fma_gflops\": %.2f, \"int8_gops\": %.2f, \"int8_isa\": \"%s\", \"read_gbps\": %.2f, \"threads\": %d, \"cpu\": ",
               g, g8, pare_qisa_name(qisa), bw, pare_pool_size(pool));
        cli_json_string(stdout, f.brand);
        printf(", \"features\": ");
        cli_json_string(stdout, feats);
        printf("}\n");
    } else {
        printf("fp32 FMA peak: %.1f GFLOP/s on %d threads\nint8 peak:     %.1f GOP/s (%s)\nmemory read: %.1f GB/s\ncpu: %s\nfeatures: %s\n",
               g, pare_pool_size(pool), g8, pare_qisa_name(qisa), bw, f.brand, feats);
    }
    pare_pool_free(pool);
    return CLI_OK;
}
