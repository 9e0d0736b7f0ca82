/* pare generate, pare perplexity and the decoder side of pare bench. */
#include "cli.h"
#include "pare/llama.h"

#include <stdlib.h>
#include <string.h>

pare_status cli_load_llama(const char *path, const cli_common *c, bool dequantize, pare_llama **out,
                           pare_err *err) {
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = c->n_threads;
    p.kernel = c->kernel;
    p.dequantize = dequantize;
    pare_status s = pare_llama_load(path, &p, out, err);
    if (s) pare_err_wrap(err, "loading %s", path);
    return s;
}

bool cli_is_decoder(const char *path) {
    if (pare_is_gguf_file(path)) return true;
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", path);
    pare_llama_config c;
    return pare_llama_config_load(cfg, &c, NULL) == PARE_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prefill of P tokens and decode of N tokens into a fresh cache; returns the
 * two times in seconds. Token ids are fixed pseudo-random, decode feeds the
 * argmax back (the path generation takes). */
static pare_status time_pass(pare_llama *m, pare_llama_cache *kc, int64_t P, int64_t N, float *logits,
                             double *t_prefill, double *t_decode, pare_err *err) {
    const pare_llama_config *cfg = pare_llama_get_config(m);
    int32_t *ids = malloc(sizeof *ids * (size_t)P);
    if (!ids) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    uint64_t st = 0x9e3779b9;
    for (int64_t i = 0; i < P; i++) {
        st = st * 6364136223846793005ull + 1442695040888963407ull;
        ids[i] = (int32_t)((st >> 33) % (uint64_t)cfg->vocab_size);
    }
    pare_llama_cache_truncate(kc, -1, 0);
    pare_llama_outputs out = {.logits = logits};
    double t0 = pare_time_now();
    pare_llama_batch b = {.n_tokens = P, .tokens = ids};
    pare_status s = pare_llama_forward(m, kc, &b, &out, err);
    *t_prefill = pare_time_now() - t0;
    int32_t tok = ids[P - 1];
    t0 = pare_time_now();
    for (int64_t i = 0; i < N && !s; i++) {
        int64_t best = 0;
        for (int64_t v = 1; v < cfg->vocab_size; v++)
            if (logits[v] > logits[best]) best = v;
        tok = (int32_t)best;
        b = (pare_llama_batch){.n_tokens = 1, .tokens = &tok};
        s = pare_llama_forward(m, kc, &b, &out, err);
    }
    *t_decode = pare_time_now() - t0;
    free(ids);
    return s;
}

int cli_bench_llama(const char *model, const cli_common *c, int64_t P, int64_t N, int64_t reps) {
    pare_err err = {0};
    pare_llama *m = NULL;
    if (cli_load_llama(model, c, false, &m, &err)) return cli_fail("bench", &err);
    const pare_llama_config *cfg = pare_llama_get_config(m);
    pare_llama_cache *kc = NULL;
    float *logits = malloc(sizeof *logits * (size_t)cfg->vocab_size);
    double *pp = malloc(sizeof *pp * (size_t)reps), *tg = malloc(sizeof *tg * (size_t)reps);
    int rc = CLI_OK;
    if (!logits || !pp || !tg) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        rc = cli_fail("bench", &err);
        goto done;
    }
    if (pare_llama_cache_create(m, 1, P + N + 1, &kc, &err)) {
        rc = cli_fail("bench", &err);
        goto done;
    }
    double tp, td;
    if (time_pass(m, kc, P, N > 4 ? 4 : N, logits, &tp, &td, &err)) { /* warm-up */
        rc = cli_fail("bench", &err);
        goto done;
    }
    for (int64_t r = 0; r < reps; r++) {
        if (time_pass(m, kc, P, N, logits, &tp, &td, &err)) {
            rc = cli_fail("bench", &err);
            goto done;
        }
        pp[r] = (double)P / tp;
        tg[r] = (double)N / td;
    }
    qsort(pp, (size_t)reps, sizeof *pp, cmp_double);
    qsort(tg, (size_t)reps, sizeof *tg, cmp_double);
    double ppm = pp[reps / 2], tgm = tg[reps / 2];
    size_t wb = pare_llama_weight_bytes_per_token(m);
    int threads = pare_pool_size(pare_llama_pool(m));
    if (c->json) {
        printf("{\"engine\": \"pare\", \"model\": ");
        cli_json_string(stdout, model);
        printf(", \"prompt\": %lld, \"gen\": %lld, \"reps\": %lld, \"threads\": %d, \"prefill_tok_s\": %.3f, "
               "\"decode_tok_s\": %.3f, \"weight_bytes_per_token\": %zu, \"params\": %lld}\n",
               (long long)P, (long long)N, (long long)reps, threads, ppm, tgm, wb, (long long)pare_llama_n_params(m));
    } else {
        printf("%s: %lld layers, hidden %lld, %.1fM parameters, %d threads\n", model, (long long)cfg->n_layers,
               (long long)cfg->hidden_size, pare_llama_n_params(m) / 1e6, threads);
        printf("  prefill %lld tokens: %.1f tok/s   decode %lld tokens: %.2f tok/s (median of %lld)\n", (long long)P,
               ppm, (long long)N, tgm, (long long)reps);
        printf("  weights read per decoded token: %.1f MB\n", wb / 1e6);
    }
done:
    pare_llama_cache_free(kc);
    free(logits);
    free(pp);
    free(tg);
    pare_llama_free(m);
    return rc;
}
