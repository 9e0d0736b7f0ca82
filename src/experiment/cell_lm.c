/* One cell of a language-model experiment (task lm): a Llama-family GGUF
 * through a pipeline (so far: round-to-nearest requantization into one
 * ggml type), measured on a text file as llama.cpp's tools do:
 *
 *   perplexity   llama.cpp's windowing (pare_perplexity, non-overlapping
 *                windows of ctx tokens, second half scored)
 *   KL divergence and top-1 agreement of the next-token distribution against
 *                the unmodified model, on the same scored positions
 *                (llama.cpp's --kl-divergence)
 *   speed        prefill of latency.prompt tokens and greedy decode of
 *                latency.gen tokens (ms per token), repeated
 *   size         the GGUF file on disk; weights resident; peak RSS
 *
 * The requantized file is an artifact keyed by the source and the type,
 * written once and reused by later cells and resumed runs. */
#include "experiment/exp_internal.h"
#include "pare/bpe.h"
#include "pare/generate.h"
#include "pare/gguf.h"
#include "pare/llama.h"
#include "pare/quant.h"
#include "pare/prune.h"
#include "pare/qtypes.h"
#include "pare/wquant.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct lm_state {
    pare_llama *ref, *m;       /* m == ref when the pipeline has no steps */
    pare_llama_cache *kc_ref, *kc;
    int8_t *all;               /* [ctx] every position outputs */
    float *ref_logits;         /* [ctx, vocab] */
    int64_t vocab;
    pare_kld_stats kld;
} lm_state;

static pare_status ref_and_model_logits(void *ctx, const int32_t *tokens, int64_t n, float *out, pare_err *err) {
    lm_state *st = ctx;
    pare_llama_batch b = {.n_tokens = n, .tokens = tokens, .output = st->all};
    pare_llama_outputs o = {.logits = out};
    pare_llama_cache_truncate(st->kc, -1, 0);
    pare_status s = pare_llama_forward(st->m, st->kc, &b, &o, err);
    if (s || st->m == st->ref) {
        for (int64_t i = n / 2; !s && i + 1 < n; i++) pare_kld_add(&st->kld, out + i * st->vocab, out + i * st->vocab, st->vocab);
        return s;
    }
    pare_llama_cache_truncate(st->kc_ref, -1, 0);
    o.logits = st->ref_logits;
    if ((s = pare_llama_forward(st->ref, st->kc_ref, &b, &o, err))) return s;
    for (int64_t i = n / 2; i + 1 < n; i++)
        pare_kld_add(&st->kld, st->ref_logits + i * st->vocab, out + i * st->vocab, st->vocab);
    return PARE_OK;
}

/* RTN, GPTQ or AWQ onto a grid with a group size, or W8A8 SmoothQuant /
 * LLM.int8 (pare_llama_wquantize),
 * calibrated on sp->calib_file tokenized by the source's tokenizer. */
static pare_status grid_quantize(const char *src, const char *dst, const pare_exp_step *sp, pare_progress *prog,
                                 pare_err *err) {
    pare_llama_wq_opts o = {.grid = {pare_qtype_by_name(sp->type), sp->group > 0 ? sp->group : 128},
                            .gptq = {.damp = 0.01, .block = 128}, .smooth_alpha = sp->smooth};
    pare_wq_method_parse(sp->method, &o.method); /* the config allowed only these names */
    int32_t *ids = NULL;
    pare_status s = PARE_OK;
    if (pare_wq_method_calibrates(o.method)) {
        s = pare_calib_gguf_tokens(src, sp->calib_file, sp->calib_n, sp->calib_len, &ids, &o.n_seq, err);
        o.tokens = ids;
        o.seq_len = sp->calib_len;
    }
    if (!s) s = pare_llama_wquantize(src, dst, &o, prog, err);
    free(ids);
    return s;
}

/* Magnitude, Wanda or SparseGPT pruning (pare_llama_prune). */
static pare_status prune_file(const char *src, const char *dst, const pare_exp_step *sp, pare_progress *prog,
                              pare_err *err) {
    pare_llama_prune_opts o = {.sparsity = sp->sparsity, .n = sp->nm_n, .m = sp->nm_m, .damp = 0.01};
    pare_prune_method_parse(sp->method, &o.method); /* the config allowed only these names */
    int32_t *ids = NULL;
    pare_status s = PARE_OK;
    if (o.method != PARE_PRUNE_MAGNITUDE) {
        s = pare_calib_gguf_tokens(src, sp->calib_file, sp->calib_n, sp->calib_len, &ids, &o.n_seq, err);
        o.tokens = ids;
        o.seq_len = sp->calib_len;
    }
    if (!s) s = pare_llama_prune(src, dst, &o, prog, err);
    free(ids);
    return s;
}

/* the model file of this pipeline: the source, or its requantized artifact */
static pare_status model_file(const exp_cell *c, char *path, size_t cap, char *steps, size_t steps_cap, pare_err *err) {
    const pare_exp_model *md = &c->cfg->models[c->model];
    const pare_exp_pipeline *pl = &c->cfg->pipelines[c->pipeline];
    snprintf(path, cap, "%s", md->path);
    snprintf(steps, steps_cap, "(none)");
    for (int i = 0; i < pl->n_steps; i++) { /* the parser allows prune and quantize here */
        const pare_exp_step *sp = &pl->steps[i];
        char key[PARE_EXP_PATH + 64], tmp[PARE_EXP_PATH + 96];
        pare_exp_step_describe(sp, steps, steps_cap);
        fprintf(stderr, "  step %d/%d: %s\n", i + 1, pl->n_steps, steps);
        const bool prune = sp->kind == PARE_STEP_PRUNE;
        const bool grid = sp->group || (sp->method[0] && strcmp(sp->method, "rtn")); /* W8A8 methods: no group */
        if (prune)
            snprintf(key, sizeof key, "%s|prune|%s|%.6f|%d:%d|%s|%lldx%lld", path, sp->method, sp->sparsity, sp->nm_n,
                     sp->nm_m, sp->calib_file, (long long)sp->calib_n, (long long)sp->calib_len);
        else if (grid)
            snprintf(key, sizeof key, "%s|%s|%s|g%lld|a%.4f|%s|%lldx%lld", path, sp->type, sp->method, (long long)sp->group,
                     sp->smooth, sp->calib_file, (long long)sp->calib_n, (long long)sp->calib_len);
        else
            snprintf(key, sizeof key, "%s|%s", path, sp->type);
        snprintf(tmp, sizeof tmp, "%s/lm-%016llx-%s.gguf", c->art_dir, (unsigned long long)pare_fnv1a64(key, strlen(key)),
                 prune ? "pruned" : sp->type);
        if (access(tmp, R_OK) == 0) {
            fprintf(stderr, "  reusing %s\n", tmp);
        } else {
            char part[PARE_EXP_PATH + 128];
            snprintf(part, sizeof part, "%s.tmp%ld", tmp, (long)getpid());
            pare_progress prog;
            pare_status s = prune       ? prune_file(path, part, sp, &prog, err)
                             : grid      ? grid_quantize(path, part, sp, &prog, err)
                                      : pare_gguf_requantize(path, part, pare_qtype_by_name(sp->type), &prog, err);
            if (!s && rename(part, tmp) != 0) s = pare_err_set(err, PARE_ERR_IO, "%s: rename: %s", tmp, strerror(errno));
            if (s) {
                unlink(part);
                return s;
            }
        }
        snprintf(path, cap, "%s", tmp);
    }
    return PARE_OK;
}

static char *config_json(const exp_cell *c, const char *file, const char *steps) {
    const pare_exp_config *cfg = c->cfg;
    cJSON *j = cJSON_CreateObject(), *ds = cJSON_CreateObject(), *lat = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "model_path", cfg->models[c->model].path);
    cJSON_AddStringToObject(j, "model_file", file);
    cJSON_AddStringToObject(j, "steps", steps);
    cJSON_AddStringToObject(ds, "path", cfg->dataset.path);
    cJSON_AddStringToObject(ds, "task", "lm");
    cJSON_AddNumberToObject(ds, "ctx", (double)cfg->dataset.ctx);
    cJSON_AddNumberToObject(ds, "chunks", (double)cfg->dataset.chunks);
    cJSON_AddNumberToObject(lat, "prompt", (double)cfg->latency.prompt);
    cJSON_AddNumberToObject(lat, "gen", (double)cfg->latency.gen);
    cJSON_AddNumberToObject(lat, "reps", (double)cfg->latency.reps);
    return exp_config_json_finish(j, ds, lat);
}

typedef struct pass_ctx {
    lm_state *st;
    pare_llama_cache *kc;
    int64_t P, N;
    float *logits;
} pass_ctx;

/* ms[0]: decode per token, ms[1]: prefill */
static pare_status one_pass(void *ctx, double *ms, pare_err *err) {
    const pass_ctx *p = ctx;
    double tp, td;
    pare_status s = pare_llama_time_pass(p->st->m, p->kc, p->P, p->N, p->logits, &tp, &td, err);
    ms[0] = td * 1e3 / (double)p->N;
    ms[1] = tp * 1e3;
    return s;
}

static pare_status measure(lm_state *st, const pare_exp_config *cfg, exp_cell_out *r, pare_err *err) {
    const int64_t P = cfg->latency.prompt, N = cfg->latency.gen, reps = cfg->latency.reps;
    pare_llama_cache *kc = NULL;
    float *logits = malloc(sizeof(float) * (size_t)st->vocab);
    double *pre = malloc(sizeof(double) * (size_t)reps), *dec = malloc(sizeof(double) * (size_t)reps);
    pare_status s = !logits || !pre || !dec ? pare_err_set(err, PARE_ERR_OOM, "out of memory") : PARE_OK;
    if (!s) s = pare_llama_cache_create(st->m, 1, P + N + 1, &kc, err);
    pass_ctx pc = {st, kc, P, N, logits};
    exp_timing tm = {.fn = one_pass, .ctx = &pc, .n_values = 2, .warmup_min = cfg->latency.warmup, .reps = reps,
                     .samples = {dec, pre}};
    if (!s) s = exp_time(&tm, err);
    pare_llama_cache_free(kc);
    free(logits);
    if (s) {
        free(pre), free(dec);
        return s;
    }
    /* decode first: the report's first latency row is the per-token one */
    r->lat[0] = (exp_latency){.batch = 1, .seq = 1};
    exp_latency_stats(dec, reps, &r->lat[0]);
    r->lat[1] = (exp_latency){.batch = 1, .seq = P};
    exp_latency_stats(pre, reps, &r->lat[1]);
    r->lat[1].throughput = r->lat[1].p50 > 0 ? (double)P * 1e3 / r->lat[1].p50 : 0;
    for (int i = 0; i < 2; i++) r->lat[i].warmup = tm.warmup, r->lat[i].others_cpu = tm.others_cpu;
    r->n_lat = 2;
    return PARE_OK;
}

static pare_status run_lm(const exp_cell *c, lm_state *st, exp_cell_out *r, char *file, size_t file_cap, char *steps,
                          size_t steps_cap, pare_err *err) {
    const pare_exp_config *cfg = c->cfg;
    pare_llama_params lp = pare_llama_default_params();
    lp.n_threads = (int)c->threads;
    pare_status s = model_file(c, file, file_cap, steps, steps_cap, err);
    if (s) return s;
    if ((s = pare_llama_load(cfg->models[c->model].path, &lp, &st->ref, err))) return s;
    st->m = st->ref;
    if (strcmp(file, cfg->models[c->model].path) && (s = pare_llama_load(file, &lp, &st->m, err))) return s;
    st->vocab = pare_llama_get_config(st->ref)->vocab_size;
    if (c->remeasure) return measure(st, cfg, r, err); /* speed only */
    const pare_gguf *g = pare_llama_gguf(st->ref);
    pare_bpe *tok = NULL;
    char *text = NULL;
    size_t len;
    int32_t *ids = NULL;
    int64_t n = 0;
    const int64_t ctx = cfg->dataset.ctx;
    st->vocab = pare_llama_get_config(st->ref)->vocab_size;
    if (!g) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: not a GGUF model", cfg->models[c->model].path);
    if ((s = pare_bpe_from_gguf(g, &tok, err))) return s;
    if (!(s = pare_read_file(cfg->dataset.path, (size_t)1 << 31, &text, &len, err)))
        s = pare_bpe_encode(tok, text, len, true, &ids, &n, err);
    free(text);
    st->all = malloc((size_t)ctx);
    st->ref_logits = st->m != st->ref ? malloc(sizeof(float) * (size_t)(ctx * st->vocab)) : NULL;
    if (!s && (!st->all || (st->m != st->ref && !st->ref_logits))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (!s) memset(st->all, 1, (size_t)ctx);
    if (!s) s = pare_llama_cache_create(st->m, 1, ctx, &st->kc, err);
    if (!s && st->m != st->ref) s = pare_llama_cache_create(st->ref, 1, ctx, &st->kc_ref, err);
    pare_ppl_result res = {0};
    if (!s) {
        pare_ppl_opts o = {.ctx = ctx, .max_windows = cfg->dataset.chunks, .add_bos = pare_bpe_add_bos(tok), .bos = pare_bpe_bos(tok)};
        fprintf(stderr, "  perplexity and KL divergence: %lld tokens, windows of %lld\n", (long long)n, (long long)ctx);
        s = pare_perplexity(ids, n, st->vocab, &o, ref_and_model_logits, st, NULL, NULL, &res, err);
    }
    free(ids);
    pare_bpe_free(tok);
    if (s) return s;
    const double cnt = st->kld.count > 0 ? (double)st->kld.count : 1;
    const exp_metric ms[] = {{"perplexity", res.ppl},
                             {"ppl_err", res.ppl_err},
                             {"kld_mean", st->kld.kl_sum / cnt},
                             {"kld_max", st->kld.kl_max},
                             {"top1", (double)st->kld.same_top1 / cnt},
                             {"n", (double)res.scored}};
    memcpy(r->metrics, ms, sizeof ms);
    r->n_metrics = (int)(sizeof ms / sizeof ms[0]);
    fprintf(stderr, "  perplexity %.4f, KLD %.5f, top-1 %.2f%%\n", res.ppl, st->kld.kl_sum / cnt, 100.0 * st->kld.same_top1 / cnt);
    fprintf(stderr, "  speed: prefill %lld, decode %lld tokens, %lld reps\n", (long long)cfg->latency.prompt,
            (long long)cfg->latency.gen, (long long)cfg->latency.reps);
    if ((s = measure(st, cfg, r, err))) return s;
    r->disk = exp_file_size(file);
    r->weights = (int64_t)pare_llama_weight_bytes(st->m);
    r->n_params = pare_llama_n_params(st->m);
    r->threads = pare_pool_size(pare_llama_pool(st->m));
    r->rss = exp_peak_rss();
    r->steps = steps;
    r->artifact = file;
    r->config_json = config_json(c, file, steps);
    return PARE_OK;
}

int exp_cell_lm(const exp_cell *c) {
    double t0 = pare_time_now();
    lm_state st = {0};
    exp_cell_out r = {0};
    char file[PARE_EXP_PATH + 128], steps[256];
    pare_err err = {0};
    pare_status s = run_lm(c, &st, &r, file, sizeof file, steps, sizeof steps, &err);
    r.wall_s = pare_time_now() - t0;
    int rc = exp_cell_finish(c, s, &err, &r);
    pare_llama_cache_free(st.kc);
    pare_llama_cache_free(st.kc_ref);
    if (st.m && st.m != st.ref) pare_llama_free(st.m);
    pare_llama_free(st.ref);
    free(st.all);
    free(st.ref_logits);
    return rc;
}
