/* One cell of a classification experiment (a model through a pipeline),
 * run in a child process of the runner:
 *
 *   load the dataset and split it (seeded) -> load the model -> apply the
 *   steps in order (prune, finetune-head, quantize) -> evaluate on the test
 *   split -> measure latency -> size on disk and in memory -> write the
 *   cell's rows in one transaction.
 *
 * finetune-head trains a linear head on frozen sentence features of the
 * train split. The trained head is an artifact keyed by everything that
 * determines it (model, data, split, the steps before it, its own
 * parameters), so pipelines sharing that prefix train it once, and a
 * resumed run reuses it. Quantized models are saved (pare_bert_save_
 * quantized) so their size on disk is measured, not estimated. */
#include "experiment/exp_internal.h"
#include "pare/bert.h"
#include "pare/dataset.h"
#include "pare/train.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct head {
    float *W, *b;
    int64_t d, L;
    bool multi;
    pare_pooling pool;
    double train_s;
    bool reused;
} head;

typedef struct cell_state {
    const exp_cell *c;
    const pare_exp_config *cfg;
    const pare_exp_model *model;
    const pare_exp_pipeline *pl;
    pare_dataset data;
    uint8_t *part;
    const char **split_texts[3];
    uint8_t *split_labels[3];
    int64_t split_n[3];
    pare_bert *m;
    head h;
    bool has_head;
    char key[4096]; /* what determines the model so far (artifact keys) */
    char steps[1024];
    char saved_dir[PARE_EXP_PATH];
    int64_t zeroed;
    double sparsity;
} cell_state;

static pare_status load_data(cell_state *st, pare_err *err) {
    const pare_exp_config *cfg = st->cfg;
    pare_dataset_opts o = {.text_column = cfg->dataset.text, .limit = cfg->dataset.limit,
                           .single_label = !strcmp(cfg->dataset.task, "single-label")};
    pare_status s = pare_dataset_load(cfg->dataset.path, &o, &st->data, err);
    if (s) return s;
    const int64_t n = st->data.n, L = st->data.n_labels;
    st->part = malloc((size_t)n);
    for (int p = 0; p < 3; p++) {
        st->split_texts[p] = malloc((size_t)n * sizeof(char *));
        st->split_labels[p] = malloc((size_t)(n * L));
        if (!st->split_texts[p] || !st->split_labels[p]) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    if (!st->part) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    pare_dataset_split(n, cfg->dataset.seed, cfg->dataset.split, st->part);
    for (int64_t i = 0; i < n; i++) {
        int p = st->part[i];
        if (p == 2 && cfg->dataset.eval_limit > 0 && st->split_n[2] >= cfg->dataset.eval_limit) continue;
        st->split_texts[p][st->split_n[p]] = st->data.texts[i];
        memcpy(st->split_labels[p] + st->split_n[p] * L, st->data.labels + i * L, (size_t)L);
        st->split_n[p]++;
    }
    if (st->split_n[0] == 0 || st->split_n[2] == 0)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: the split leaves %lld train and %lld test examples",
                            cfg->dataset.path, (long long)st->split_n[0], (long long)st->split_n[2]);
    snprintf(st->key, sizeof st->key, "model=%s|data=%s|limit=%lld|split=%g,%g,%g|seed=%llu|max_len=%lld|task=%s|text=%s",
             st->model->path, cfg->dataset.path, (long long)cfg->dataset.limit, cfg->dataset.split[0],
             cfg->dataset.split[1], cfg->dataset.split[2], (unsigned long long)cfg->dataset.seed,
             (long long)cfg->dataset.max_len, cfg->dataset.task, cfg->dataset.text);
    return PARE_OK;
}

static pare_pooling pooling_of(const char *s) {
    return !strcmp(s, "cls") ? PARE_POOL_CLS : !strcmp(s, "pooler") ? PARE_POOL_POOLER : PARE_POOL_MEAN;
}

static pare_status features(cell_state *st, int split, pare_pooling pool, const char *what, float **out, pare_err *err) {
    const int64_t n = st->split_n[split], H = pare_bert_get_config(st->m)->hidden_size;
    if (!(*out = malloc((size_t)(n * H) * sizeof(float)))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    pare_progress prog;
    pare_progress_init(&prog, what, n);
    pare_status s = pare_bert_embed(st->m, st->split_texts[split], n, st->cfg->dataset.max_len, 16, pool, true, *out,
                                    &prog, err);
    pare_progress_finish(&prog);
    return s;
}

/* head artifact: safetensors with W [L, d], b [L], train_seconds [1] */
static pare_status head_load(const char *path, head *h, pare_err *err) {
    pare_tensor_file *f;
    pare_status s = pare_safetensors_open(path, &f, err);
    if (s) return s;
    const pare_tensor *w = pare_tensor_file_find(f, "W"), *b = pare_tensor_file_find(f, "b"),
                      *t = pare_tensor_file_find(f, "train_seconds");
    if (!w || !b || !t || w->dtype != PARE_DTYPE_F32 || w->n_dims != 2 || w->shape[0] != h->L || w->shape[1] != h->d ||
        b->dtype != PARE_DTYPE_F32 || pare_tensor_nelem(b) != h->L || t->dtype != PARE_DTYPE_F32)
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: not a head of [%lld, %lld] (delete it to retrain)", path,
                         (long long)h->L, (long long)h->d);
    else {
        memcpy(h->W, w->data, (size_t)(h->L * h->d) * sizeof(float));
        memcpy(h->b, b->data, (size_t)h->L * sizeof(float));
        h->train_s = *(const float *)t->data;
        h->reused = true;
    }
    pare_tensor_file_close(f);
    return s;
}

static pare_status head_save(const char *path, const head *h, pare_err *err) {
    float ts = (float)h->train_s;
    pare_tensor t[3] = {
        {.name = "W", .dtype = PARE_DTYPE_F32, .n_dims = 2, .shape = {h->L, h->d}, .data = h->W,
         .nbytes = (size_t)(h->L * h->d) * sizeof(float)},
        {.name = "b", .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {h->L}, .data = h->b, .nbytes = (size_t)h->L * sizeof(float)},
        {.name = "train_seconds", .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {1}, .data = &ts, .nbytes = sizeof ts},
    };
    return pare_safetensors_write(path, t, 3, err);
}

static pare_status step_head(cell_state *st, const pare_exp_step *sp, pare_err *err) {
    head *h = &st->h;
    h->d = pare_bert_get_config(st->m)->hidden_size;
    h->L = st->data.n_labels;
    h->multi = st->data.multi_label;
    h->pool = pooling_of(sp->pooling);
    if (!(h->W = malloc((size_t)(h->L * h->d) * sizeof(float))) || !(h->b = malloc((size_t)h->L * sizeof(float))))
        return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    char path[PARE_EXP_PATH + 64];
    snprintf(path, sizeof path, "%s/head-%016llx.safetensors", st->c->art_dir, (unsigned long long)pare_fnv1a64(st->key, strlen(st->key)));
    st->has_head = true;
    if (access(path, R_OK) == 0 && head_load(path, h, err) == PARE_OK) {
        fprintf(stderr, "  finetune-head: reusing %s (trained in %.1f s)\n", path, h->train_s);
        return PARE_OK;
    }
    float *X;
    double t0 = pare_time_now(), loss = 0;
    pare_status s = features(st, 0, h->pool, "  features (train)", &X, err);
    if (!s) {
        pare_head_opts o = {.multi_label = h->multi, .epochs = sp->epochs, .batch = sp->batch, .lr = sp->lr,
                            .seed = st->cfg->dataset.seed};
        s = pare_train_linear_head(X, st->split_labels[0], st->split_n[0], h->d, h->L, &o, h->W, h->b, &loss, err);
    }
    free(X);
    if (s) return s;
    h->train_s = pare_time_now() - t0;
    fprintf(stderr, "  finetune-head: %lld examples, final loss %.4f, %.1f s\n", (long long)st->split_n[0], loss, h->train_s);
    return head_save(path, h, err);
}

static pare_status step_quantize(cell_state *st, const pare_exp_step *sp, pare_err *err) {
    const bool nf4 = !strcmp(sp->method, "nf4"), fp4 = !strcmp(sp->method, "fp4");
    pare_bert_quant_opts o = {.mode = nf4 ? PARE_BERT_W4_NF4 : fp4 ? PARE_BERT_W4_FP4 : sp->bits == 4 ? PARE_BERT_W4_INT
                                      : !strcmp(sp->act, "static") ? PARE_BERT_W8A8_STATIC
                                      : !strcmp(sp->act, "none") ? PARE_BERT_W8_ONLY
                                                                 : PARE_BERT_W8A8_DYNAMIC,
                              .group = sp->group, .gptq = !strcmp(sp->method, "gptq"), .smooth_alpha = sp->smooth,
                              .calib = !strcmp(sp->calib, "percentile") ? PARE_CALIB_PERCENTILE : PARE_CALIB_MINMAX,
                              .calib_texts = st->split_texts[0],
                              .n_calib = sp->calib_n < st->split_n[0] ? sp->calib_n : st->split_n[0],
                              .max_len = st->cfg->dataset.max_len};
    pare_status s = pare_bert_quantize(st->m, &o, err);
    if (s) return s;
    /* saved so the size on disk is measured; keyed like the head */
    snprintf(st->saved_dir, sizeof st->saved_dir, "%s/model-%016llx", st->c->art_dir, (unsigned long long)pare_fnv1a64(st->key, strlen(st->key)));
    mkdir(st->saved_dir, 0755);
    return pare_bert_save_quantized(st->m, st->model->path, st->saved_dir, err);
}

static pare_status apply_steps(cell_state *st, pare_err *err) {
    for (int i = 0; i < st->pl->n_steps; i++) {
        const pare_exp_step *sp = &st->pl->steps[i];
        char d[200];
        pare_exp_step_describe(sp, d, sizeof d);
        size_t kl = strlen(st->key), sl = strlen(st->steps);
        snprintf(st->key + kl, sizeof st->key - kl, "|%s", d);
        snprintf(st->steps + sl, sizeof st->steps - sl, "%s%s", sl ? " -> " : "", d);
        fprintf(stderr, "  step %d/%d: %s\n", i + 1, st->pl->n_steps, d);
        pare_status s;
        if (sp->kind == PARE_STEP_PRUNE)
            s = pare_bert_prune_magnitude(st->m, sp->sparsity, !strcmp(sp->scope, "global"), &st->zeroed, err);
        else if (sp->kind == PARE_STEP_FINETUNE_HEAD)
            s = step_head(st, sp, err);
        else
            s = step_quantize(st, sp, err);
        if (s) return pare_err_wrap(err, "step %d (%s)", i + 1, pare_exp_step_name(sp->kind));
    }
    if (!st->steps[0]) snprintf(st->steps, sizeof st->steps, "(none)");
    if (!st->has_head) {
        const pare_bert_config *mc = pare_bert_get_config(st->m);
        if (mc->n_labels != st->data.n_labels)
            return pare_err_set(err, PARE_ERR_INVALID,
                                "pipeline '%s' has no finetune-head step and the model's classification head has %lld "
                                "labels, not the dataset's %lld",
                                st->pl->name, (long long)mc->n_labels, (long long)st->data.n_labels);
    }
    return PARE_OK;
}

/* predictions for n texts: the trained head on features, or the model's own head */
static pare_status predict(cell_state *st, const char *const *texts, int64_t n, uint8_t *pred, pare_err *err) {
    const int64_t L = st->data.n_labels, H = pare_bert_get_config(st->m)->hidden_size;
    const float thr = (float)st->cfg->dataset.threshold;
    if (st->has_head) {
        float *X = malloc((size_t)(n * H) * sizeof(float));
        if (!X) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        pare_status s = pare_bert_embed(st->m, texts, n, st->cfg->dataset.max_len, 16, st->h.pool, true, X, NULL, err);
        if (!s) pare_linear_head_predict(X, n, H, L, st->h.W, st->h.b, st->h.multi, thr, NULL, pred);
        free(X);
        return s;
    }
    /* the checkpoint's own classifier */
    const int64_t ML = st->cfg->dataset.max_len;
    int32_t *ids = malloc((size_t)(16 * ML) * sizeof *ids), *mask = malloc((size_t)(16 * ML) * sizeof *mask);
    float *logits = malloc((size_t)(16 * L) * sizeof *logits);
    pare_status s = !ids || !mask || !logits ? pare_err_set(err, PARE_ERR_OOM, "out of memory") : PARE_OK;
    for (int64_t s0 = 0; s0 < n && !s; s0 += 16) {
        int64_t nb = n - s0 < 16 ? n - s0 : 16;
        int32_t T;
        if ((s = pare_wordpiece_encode_batch(pare_bert_tokenizer(st->m), texts + s0, (int32_t)nb, (int32_t)ML, false,
                                             ids, mask, &T, err)))
            break;
        pare_bert_outputs o = {.logits = logits};
        if ((s = pare_bert_forward(st->m, ids, mask, NULL, nb, T, &o, err))) break;
        for (int64_t r = 0; r < nb; r++) {
            int64_t best = 0;
            for (int64_t l = 0; l < L; l++) {
                if (logits[r * L + l] > logits[r * L + best]) best = l;
                pred[(s0 + r) * L + l] = (uint8_t)(st->data.multi_label ? 1.0 / (1.0 + exp(-logits[r * L + l])) >= thr : 0);
            }
            if (!st->data.multi_label) pred[(s0 + r) * L + best] = 1;
        }
    }
    free(ids), free(mask), free(logits);
    return s;
}

typedef struct pass_ctx {
    cell_state *st;
    const int32_t *ids, *mask;
    int64_t B, seq, H;
    float *hidden, *pooled, *logits, *vec;
} pass_ctx;

static pare_status one_pass(void *ctx, double *ms, pare_err *err) {
    const pass_ctx *p = ctx;
    cell_state *st = p->st;
    const int64_t L = st->data.n_labels;
    double t0 = pare_time_now();
    pare_bert_outputs o = st->has_head ? (pare_bert_outputs){.hidden = p->hidden, .pooled = st->h.pool == PARE_POOL_POOLER ? p->pooled : NULL}
                                       : (pare_bert_outputs){.logits = p->logits};
    pare_status s = pare_bert_forward(st->m, p->ids, p->mask, NULL, p->B, p->seq, &o, err);
    if (s) return s;
    if (st->has_head)
        for (int64_t b = 0; b < p->B; b++) {
            pare_bert_pool_row(p->hidden, p->pooled, p->mask, p->seq, p->H, b, st->h.pool, true, p->vec);
            pare_linear_head_predict(p->vec, 1, p->H, L, st->h.W, st->h.b, st->h.multi, 0.5f, p->logits, NULL);
        }
    ms[0] = (pare_time_now() - t0) * 1e3;
    return PARE_OK;
}

/* time one batch of B test texts padded to seq: forward + pooling + head */
static pare_status measure(cell_state *st, int64_t B, exp_latency *lat, pare_err *err) {
    const pare_exp_config *cfg = st->cfg;
    const int64_t T = cfg->latency.seq, H = pare_bert_get_config(st->m)->hidden_size, L = st->data.n_labels;
    const int64_t reps = cfg->latency.reps, n_test = st->split_n[2];
    int32_t *ids = malloc((size_t)(B * T) * sizeof *ids), *mask = malloc((size_t)(B * T) * sizeof *mask);
    float *hidden = malloc((size_t)(B * T * H) * sizeof *hidden), *pooled = malloc((size_t)(B * H) * sizeof *pooled);
    float *logits = malloc((size_t)(B * (L > H ? L : H)) * sizeof *logits), *vec = malloc((size_t)H * sizeof *vec);
    const char **bt = malloc((size_t)B * sizeof *bt);
    double *samples = malloc((size_t)reps * sizeof *samples);
    pare_status s = !ids || !mask || !hidden || !pooled || !logits || !vec || !bt || !samples
                        ? pare_err_set(err, PARE_ERR_OOM, "out of memory") : PARE_OK;
    for (int64_t i = 0; i < B && !s; i++) bt[i] = st->split_texts[2][i % n_test];
    int32_t seq = 0;
    if (!s) s = pare_wordpiece_encode_batch(pare_bert_tokenizer(st->m), bt, (int32_t)B, (int32_t)T, true, ids, mask, &seq, err);
    pass_ctx pc = {st, ids, mask, B, seq, H, hidden, pooled, logits, vec};
    exp_timing tm = {.fn = one_pass, .ctx = &pc, .n_values = 1, .warmup_min = cfg->latency.warmup, .reps = reps,
                     .samples = {samples}};
    if (!s) s = exp_time(&tm, err);
    free(ids), free(mask), free(hidden), free(pooled), free(logits), free(vec), free(bt);
    if (s) {
        free(samples);
        return s;
    }
    lat->batch = B;
    lat->seq = seq;
    exp_latency_stats(samples, reps, lat);
    lat->warmup = tm.warmup;
    lat->others_cpu = tm.others_cpu;
    return PARE_OK;
}

static char *cell_config_json(const cell_state *st) {
    const pare_exp_config *cfg = st->cfg;
    cJSON *j = cJSON_CreateObject(), *lat = cJSON_CreateObject(), *ds = cJSON_CreateObject(), *b = cJSON_CreateArray();
    cJSON_AddStringToObject(j, "model_path", st->model->path);
    cJSON_AddStringToObject(j, "steps", st->steps);
    cJSON_AddStringToObject(ds, "path", cfg->dataset.path);
    cJSON_AddStringToObject(ds, "task", cfg->dataset.task);
    cJSON_AddNumberToObject(ds, "seed", (double)cfg->dataset.seed);
    cJSON_AddNumberToObject(ds, "limit", (double)cfg->dataset.limit);
    cJSON_AddNumberToObject(ds, "max_len", (double)cfg->dataset.max_len);
    cJSON_AddNumberToObject(ds, "threshold", cfg->dataset.threshold);
    cJSON_AddNumberToObject(ds, "n_train", (double)st->split_n[0]);
    cJSON_AddNumberToObject(ds, "n_validation", (double)st->split_n[1]);
    cJSON_AddNumberToObject(ds, "n_test", (double)st->split_n[2]);
    for (int i = 0; i < cfg->latency.n_batch; i++) cJSON_AddItemToArray(b, cJSON_CreateNumber((double)cfg->latency.batch[i]));
    cJSON_AddItemToObject(lat, "batch", b);
    cJSON_AddNumberToObject(lat, "seq", (double)cfg->latency.seq);
    cJSON_AddNumberToObject(lat, "warmup", (double)cfg->latency.warmup);
    cJSON_AddNumberToObject(lat, "reps", (double)cfg->latency.reps);
    return exp_config_json_finish(j, ds, lat);
}

static pare_status run_cell(cell_state *st, exp_cell_out *r, uint8_t **pred, pare_err *err) {
    const pare_exp_config *cfg = st->cfg;
    pare_status s = load_data(st, err);
    if (s) return s;
    pare_bert_params bp = pare_bert_default_params();
    bp.n_threads = (int)st->c->threads;
    if ((s = pare_bert_load(st->model->path, &bp, &st->m, err))) return s;
    if (!pare_bert_tokenizer(st->m)) return pare_err_set(err, PARE_ERR_INVALID, "%s: no tokenizer in the model folder", st->model->path);
    if ((s = apply_steps(st, err))) return s;
    if (st->c->remeasure) { /* the first latency row only */
        r->n_lat = 1;
        return measure(st, cfg->latency.batch[0], &r->lat[0], err);
    }
    const int64_t n = st->split_n[2], L = st->data.n_labels;
    if (!(*pred = malloc((size_t)(n * L)))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    fprintf(stderr, "  evaluating %lld test examples\n", (long long)n);
    if ((s = predict(st, st->split_texts[2], n, *pred, err))) return s;
    pare_cls_metrics test;
    pare_cls_metrics_compute(*pred, st->split_labels[2], n, L, &test);
    const exp_metric ms[] = {{"exact_match", test.exact_match}, {"micro_f1", test.micro_f1}, {"macro_f1", test.macro_f1},
                             {"jaccard", test.jaccard}, {"n", (double)test.n}};
    memcpy(r->metrics, ms, sizeof ms);
    r->n_metrics = (int)(sizeof ms / sizeof ms[0]);
    r->pred = *pred, r->pred_n = n, r->pred_L = L;
    for (int i = 0; i < cfg->latency.n_batch; i++) {
        fprintf(stderr, "  latency: batch %lld x %lld tokens, %lld reps\n", (long long)cfg->latency.batch[i],
                (long long)cfg->latency.seq, (long long)cfg->latency.reps);
        if ((s = measure(st, cfg->latency.batch[i], &r->lat[r->n_lat], err))) return s;
        r->n_lat++;
    }
    /* size: the weights as stored (the saved quantized folder, or the
     * checkpoint), plus the trained head in f32 */
    if (st->saved_dir[0]) {
        char p[PARE_EXP_PATH + 32];
        snprintf(p, sizeof p, "%s/model.safetensors", st->saved_dir);
        r->disk = exp_file_size(p);
    } else {
        r->disk = (int64_t)pare_tensor_file_size(pare_bert_weights_file(st->m));
    }
    if (st->has_head) r->disk += (st->h.L * st->h.d + st->h.L) * 4;
    r->weights = (int64_t)pare_bert_weight_bytes(st->m);
    /* sparsity over the encoder's Linear weights (what pruning touches) */
    const pare_bert_config *mc = pare_bert_get_config(st->m);
    const double lin = (double)mc->n_layers * (4.0 * mc->hidden_size * mc->hidden_size +
                                               2.0 * mc->hidden_size * mc->intermediate_size);
    st->sparsity = (double)st->zeroed / lin;
    r->sparsity = st->sparsity;
    r->rss = exp_peak_rss();
    r->n_params = pare_bert_n_params(st->m);
    r->threads = pare_pool_size(pare_bert_pool(st->m));
    r->has_train = st->has_head;
    r->train_s = st->h.train_s;
    r->steps = st->steps;
    r->artifact = st->saved_dir;
    r->config_json = cell_config_json(st);
    return PARE_OK;
}

int exp_cell_classify(const exp_cell *c) {
    double t0 = pare_time_now();
    cell_state st = {.c = c, .cfg = c->cfg, .model = &c->cfg->models[c->model], .pl = &c->cfg->pipelines[c->pipeline]};
    exp_cell_out r = {0};
    uint8_t *pred = NULL;
    pare_err err = {0};
    pare_status s = run_cell(&st, &r, &pred, &err);
    r.wall_s = pare_time_now() - t0;
    int rc = exp_cell_finish(c, s, &err, &r);
    free(pred);
    free(st.h.W), free(st.h.b);
    for (int p = 0; p < 3; p++) free(st.split_texts[p]), free(st.split_labels[p]);
    free(st.part);
    if (st.m) pare_bert_free(st.m);
    pare_dataset_free(&st.data);
    return rc;
}
