/* pare finetune: fine-tune a BERT-family encoder with a classification head
 * on a labelled TSV, CSV or JSONL file (optionally distilling from a teacher), report the
 * split metrics, save a Hugging Face folder. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare finetune MODEL --data FILE -o OUT [--text-column Tweet] [--labels a,b,...]\n"
    "                     [--single-label] [--split 0.6,0.3,0.1] [--seed 42] [--epochs 3] [--batch 16]\n"
    "                     [--lr 5e-5] [--warmup 0.1] [--weight-decay 0.01] [--max-len 128] [--limit N]\n"
    "                     [--teacher DIR [--kd-alpha 0.5] [--kd-temperature 2] [--kd-hidden W] [--kd-att W]]\n"
    "                     [--threads N] [--force]\n"
    "                     [--prune S [--keep-zeros]] [--checkpoint-every 200] [--resume] [--json]\n"
    "                     [--device cpu|cuda [--tf32]] [--recompute]\n"
    "\n"
    "Trains every weight of MODEL (a BERT-family Hugging Face folder) with a\n"
    "classification head, the way transformers' BertForSequenceClassification does\n"
    "(pooler on [CLS], then a linear layer; created when MODEL has none): AdamW,\n"
    "linear warm-up (--warmup: fraction of the steps) then linear decay, gradient\n"
    "norm clipped at 1, no dropout. Multi-label (every label column 0/1, BCE per\n"
    "label) unless --single-label (one column of class names, cross-entropy).\n"
    "\n"
    "FILE is TSV (a header row, tab-separated fields; .tsv, .txt and anything\n"
    "else), CSV (.csv: RFC 4180 quoting) or JSON Lines (.jsonl, .ndjson: one object\n"
    "per line, the first one's keys are the columns, labels 0/1, true/false or,\n"
    "single-label, class names). --text-column names the text column; the labels\n"
    "are --labels or every other column except ID/id.\n"
    "\n"
    "The data is split deterministically (--split train,validation,test with\n"
    "--seed, 60/30/10 as in the seed study); batches are drawn shuffled and grouped\n"
    "(--train-seed N: the order and a new head's initialisation, default --seed;\n"
    "vary it alone to repeat training over the same split)\n"
    "by length so little padding is computed. After each epoch the validation\n"
    "split is scored; at the end the test split: exact match, micro/macro F1 and\n"
    "Jaccard (multi-label) or accuracy and macro F1, with train time and examples/s.\n"
    "OUT is a Hugging Face folder (model.safetensors, config.json, tokenizer) that\n"
    "transformers and pare load (pare classify OUT --text ...). An OUT that already\n"
    "holds a model is replaced only with --force; the model is written beside it and\n"
    "moved in with config.json last, so OUT is a model only once it is whole.\n"
    "\n"
    "--prune S: first zero the fraction S of the encoder's Linear weights with the\n"
    "smallest magnitude, one threshold over all of them (the seed study's global L1\n"
    "recipe); --keep-zeros keeps zero weights at zero while training (recovery\n"
    "fine-tuning of a pruned model). --epochs 0: evaluate only (pare eval).\n"
    "\n"
    "Every --checkpoint-every steps (0: never) the whole training state goes to\n"
    "OUT/checkpoint (parameters, AdamW moments, step, data order); a killed run\n"
    "started again with the same options and --resume continues from there and\n"
    "ends with the same weights as an uninterrupted run. The checkpoint is removed\n"
    "when the run completes.\n"
    "\n"
    "--device cuda trains on the first GPU (a pare built with `make cuda`): the\n"
    "same step in fp32 with cuBLAS, the state in GPU memory; --tf32 lets cuBLAS use\n"
    "TF32 tensor cores (faster, products rounded to 10-bit mantissas). Checkpoints\n"
    "and the saved folder are the same files as on the CPU.\n"
    "\n"
    "--recompute (CPU): gradient checkpointing. Only each layer's output is kept\n"
    "and the layer is run again in the backward: about 1/20 of the activation\n"
    "memory (batch x length x hidden per layer) for about a third more compute.\n"
    "\n"
    "--teacher DIR: knowledge distillation from a fine-tuned classifier with the\n"
    "same labels: loss = a * hard + (1 - a) * T^2 * KL(teacher/T || student/T)\n"
    "(per-label sigmoid form for multi-label). --kd-hidden W adds W times the\n"
    "mean squared difference of hidden states, TinyBERT style: the student's\n"
    "embedding output and each layer's output against the teacher's embeddings and\n"
    "layer m * N / M (M student, N teacher layers; same hidden size), real tokens.\n"
    "--kd-att W adds W times the mean squared difference of each layer's\n"
    "attention probabilities against the teacher's layer m * N / M (same heads).\n"
    "\n"
    "example:\n"
    "  pare finetune .cache/models/minilm-l6 --data ../shared/data/semeval2018-ec/2018-E-c-En-train.txt \\\n"
    "      --epochs 3 -o /tmp/minilm-semeval\n";

typedef struct ft_args {
    const char *model, *data, *out, *text_col, *labels, *teacher;
    bool single, keep_zeros, resume, cuda, tf32, recompute;
    double split[3], lr, warmup, wd, kd_alpha, kd_temp, kd_hidden, kd_att, prune;
    int64_t seed, train_seed, epochs, batch, max_len, limit, ckpt_every; /* train_seed < 0: seed */
} ft_args;

typedef struct encoded {
    int32_t *ids;  /* [n][max_len] */
    int32_t *len;  /* [n] */
} encoded;

static int cmp_len(const void *a, const void *b, void *ctx) {
    const int32_t *len = ctx;
    return len[*(const int64_t *)a] - len[*(const int64_t *)b];
}

/* insertion sort by length (chunks are small) */
static void sort_by_len(int64_t *idx, int64_t n, const int32_t *len) {
    for (int64_t i = 1; i < n; i++) {
        int64_t v = idx[i], j = i;
        for (; j > 0 && cmp_len(&idx[j - 1], &v, (void *)len) > 0; j--) idx[j] = idx[j - 1];
        idx[j] = v;
    }
}

/* Gather a batch of examples idx[0..B) into ids/mask [B][T], T = longest. */
static int64_t gather(const encoded *e, const int64_t *idx, int64_t B, int64_t max_len, int32_t pad, int32_t *ids,
                      int8_t *mask) {
    int64_t T = 0;
    for (int64_t b = 0; b < B; b++) T = e->len[idx[b]] > T ? e->len[idx[b]] : T;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++) {
            const bool on = t < e->len[idx[b]];
            ids[b * T + t] = on ? e->ids[idx[b] * max_len + t] : pad;
            mask[b * T + t] = on;
        }
    return T;
}

/* Scores split `which` (indices idx[0..n)) with the inference model when
 * there is one (pare eval: any folder pare loads, structurally pruned,
 * sparse or int8 too), else the trainer; metrics out. */
static int evaluate(pare_bert_trainer *tr, pare_bert *inf, const pare_dataset *d, const encoded *e, const int64_t *idx, int64_t n,
                    const ft_args *a, int32_t pad, pare_cls_metrics *mt, pare_err *err) {
    const int64_t L = d->n_labels, B = a->batch;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * a->max_len));
    int8_t *mask = malloc((size_t)(B * a->max_len));
    int32_t *mask32 = malloc(sizeof(int32_t) * (size_t)(B * a->max_len));
    float *lg = malloc(sizeof(float) * (size_t)(B * L));
    uint8_t *pred = calloc((size_t)(n * L), 1), *gold = malloc((size_t)(n * L));
    int rc = ids && mask && mask32 && lg && pred && gold ? 0 : -1;
    for (int64_t s = 0; s < n && !rc; s += B) {
        const int64_t nb = n - s < B ? n - s : B, T = gather(e, idx + s, nb, a->max_len, pad, ids, mask);
        for (int64_t i = 0; i < nb * T; i++) mask32[i] = mask[i];
        if (inf ? pare_bert_forward(inf, ids, mask32, NULL, nb, T, &(pare_bert_outputs){.logits = lg}, err)
                : pare_bert_trainer_logits(tr, ids, mask, nb, T, lg, err))
            rc = -1;
        for (int64_t b = 0; b < nb && !rc; b++) {
            const int64_t ex = idx[s + b];
            memcpy(gold + (s + b) * L, d->labels + ex * L, (size_t)L);
            if (d->multi_label) {
                for (int64_t l = 0; l < L; l++) pred[(s + b) * L + l] = lg[b * L + l] > 0;
            } else {
                int64_t best = 0;
                for (int64_t l = 1; l < L; l++) best = lg[b * L + l] > lg[b * L + best] ? l : best;
                pred[(s + b) * L + best] = 1;
            }
        }
    }
    if (!rc) pare_cls_metrics_compute(pred, gold, n, L, mt);
    free(ids);
    free(mask);
    free(mask32);
    free(lg);
    free(pred);
    free(gold);
    return rc;
}

static void print_metrics(const char *what, const pare_cls_metrics *m, bool multi) {
    if (multi)
        fprintf(stderr, "  %-10s n %lld  exact match %.2f%%  micro-F1 %.4f  macro-F1 %.4f  jaccard %.4f\n", what,
                (long long)m->n, 100 * m->exact_match, m->micro_f1, m->macro_f1, m->jaccard);
    else
        fprintf(stderr, "  %-10s n %lld  accuracy %.2f%%  macro-F1 %.4f\n", what, (long long)m->n, 100 * m->accuracy,
                m->macro_f1);
}

/* ---- checkpoints: OUT/checkpoint/state-<step>.safetensors (the trainer's
 * state) and OUT/checkpoint/run.json naming it with where the loop was: the
 * epoch, the next batch, the shuffling RNG at the epoch's start and the
 * epoch's loss so far. run.json is renamed into place after the state, and
 * the older state removed after that, so a kill at any point leaves a
 * consistent pair. */
typedef struct ckpt {
    int64_t epoch, batch, step;
    uint64_t rng;
    double loss_sum;
    char state[4300];
} ckpt;

static void run_key(const ft_args *a, char *key, size_t cap) {
    snprintf(key, cap, "%s|%s|%s|%lld/%lld|%lld|%lld|%lld|%lld|%.9g|%.9g|%.9g|%.9g|%.9g/%.9g/%.9g|%.9g|%d|%g,%g,%g", a->model, a->data,
             a->teacher ? a->teacher : "", (long long)a->seed, (long long)a->train_seed, (long long)a->epochs, (long long)a->batch, (long long)a->max_len,
             (long long)a->limit, a->lr, a->warmup, a->wd, a->kd_alpha, a->kd_temp, a->kd_hidden, a->kd_att, a->prune, a->keep_zeros, a->split[0], a->split[1],
             a->split[2]);
}

static pare_status ckpt_save(pare_bert_trainer *tr, const ft_args *a, const ckpt *c, const char *prev_state, pare_err *err) {
    char dir[4200], path[4300], tmp[4400], key[8192];
    snprintf(dir, sizeof dir, "%s/checkpoint", a->out);
    pare_status s = pare_mkdir_p(dir, err);
    snprintf(path, sizeof path, "%s/state-%lld.safetensors", dir, (long long)c->step);
    if (!s) s = pare_bert_trainer_save_state(tr, path, err);
    if (s) return s;
    run_key(a, key, sizeof key);
    snprintf(path, sizeof path, "%s/run.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "epoch", (double)c->epoch);
    cJSON_AddNumberToObject(j, "batch", (double)c->batch);
    cJSON_AddNumberToObject(j, "step", (double)c->step);
    char rng[32];
    snprintf(rng, sizeof rng, "%llu", (unsigned long long)c->rng);
    cJSON_AddStringToObject(j, "rng", rng);
    cJSON_AddNumberToObject(j, "loss_sum", c->loss_sum);
    snprintf(tmp, sizeof tmp, "state-%lld.safetensors", (long long)c->step);
    cJSON_AddStringToObject(j, "state", tmp);
    cJSON_AddStringToObject(j, "run", key);
    char *text = cJSON_Print(j);
    cJSON_Delete(j);
    s = text ? pare_write_text(path, text, err) : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    cJSON_free(text);
    if (!s && prev_state[0] && strcmp(prev_state, c->state)) remove(prev_state);
    return s;
}

/* true when OUT/checkpoint/run.json exists (then *c is filled or *err set) */
static bool ckpt_find(const ft_args *a, ckpt *c, pare_status *st, pare_err *err) {
    char path[4300], key[8192];
    snprintf(path, sizeof path, "%s/checkpoint/run.json", a->out);
    *st = PARE_OK;
    if (access(path, F_OK) != 0) return false;
    pare_json *j;
    if ((*st = pare_json_open(path, &j, err))) return true;
    const cJSON *r = pare_json_root(j);
    const cJSON *ep = cJSON_GetObjectItemCaseSensitive(r, "epoch"), *b = cJSON_GetObjectItemCaseSensitive(r, "batch");
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(r, "step"), *rng = cJSON_GetObjectItemCaseSensitive(r, "rng");
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(r, "loss_sum"), *state = cJSON_GetObjectItemCaseSensitive(r, "state");
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(r, "run");
    run_key(a, key, sizeof key);
    if (!cJSON_IsNumber(ep) || !cJSON_IsNumber(b) || !cJSON_IsNumber(sp) || !cJSON_IsString(rng) || !cJSON_IsNumber(ls) ||
        !cJSON_IsString(state) || !cJSON_IsString(run) || strchr(state->valuestring, '/'))
        *st = pare_err_set(err, PARE_ERR_FORMAT, "%s: not a pare finetune checkpoint", path);
    else if (strcmp(run->valuestring, key))
        *st = pare_err_set(err, PARE_ERR_INVALID, "%s is from a run with other options or inputs; remove it or rerun as it was started", path);
    else {
        *c = (ckpt){.epoch = (int64_t)ep->valuedouble, .batch = (int64_t)b->valuedouble, .step = (int64_t)sp->valuedouble,
                    .rng = strtoull(rng->valuestring, NULL, 10), .loss_sum = ls->valuedouble};
        snprintf(c->state, sizeof c->state, "%s/checkpoint/%s", a->out, state->valuestring);
    }
    pare_json_free(j);
    return true;
}

static int run(const ft_args *a, const cli_common *c) {
    pare_err err = {0};
    pare_dataset d = {0};
    pare_wordpiece *tok = NULL;
    pare_bert_trainer *tr = NULL;
    pare_bert *teacher = NULL, *inf = NULL;
    pare_bert_trainer *tteacher = NULL; /* the teacher as a trainer (forward only): on the GPU with --device
                                           cuda, on the CPU for its hidden states with --kd-hidden */
    const float **hid = NULL;          /* --kd-hidden: the teacher's hidden states for each student target */
    const float **att = NULL;          /* --kd-att: the teacher's attention for each student layer */
    encoded e = {0};
    int64_t *idx[3] = {0}, nsplit[3] = {0};
    uint8_t *part = NULL;
    int rc = CLI_FAIL;
    bool made_out = false;
    char *labels_buf = NULL;
    const char *cols[PARE_DATASET_MAX_LABELS];
    int64_t n_cols = 0;
    if (a->labels) { /* comma list */
        labels_buf = strdup(a->labels);
        for (char *p = strtok(labels_buf, ","); p && n_cols < PARE_DATASET_MAX_LABELS; p = strtok(NULL, ",")) cols[n_cols++] = p;
    }
    pare_dataset_opts dopt = {.text_column = a->text_col, .label_columns = a->labels ? cols : NULL,
                              .n_label_columns = n_cols, .single_label = a->single, .limit = a->limit};
    /* the output folder first: a long run must not end unable to save (a
     * failed run removes it again when it made it and it is still empty) */
    made_out = a->out && access(a->out, F_OK) != 0;
    if ((a->out && pare_mkdir_p(a->out, &err)) || pare_dataset_load(a->data, &dopt, &d, &err) ||
        pare_wordpiece_load(a->model, &tok, &err))
        goto fail;
    fprintf(stderr, "pare finetune: %s: %lld examples, %lld %s\n", a->data, (long long)d.n, (long long)d.n_labels,
            d.multi_label ? "labels (multi-label)" : "classes");
    part = malloc((size_t)d.n);
    e.ids = malloc(sizeof(int32_t) * (size_t)(d.n * a->max_len));
    e.len = malloc(sizeof(int32_t) * (size_t)d.n);
    for (int k = 0; k < 3; k++) idx[k] = malloc(sizeof(int64_t) * (size_t)(d.n ? d.n : 1));
    if (!part || !e.ids || !e.len || !idx[0] || !idx[1] || !idx[2]) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        goto fail;
    }
    pare_dataset_split(d.n, (uint64_t)a->seed, a->split, part);
    for (int64_t i = 0; i < d.n; i++) {
        idx[part[i]][nsplit[part[i]]++] = i;
        if (pare_wordpiece_encode(tok, d.texts[i], strlen(d.texts[i]), (int32_t)a->max_len, e.ids + i * a->max_len,
                                  &e.len[i], &err))
            goto fail;
    }
    if (nsplit[0] == 0) {
        pare_err_set(&err, PARE_ERR_INVALID, "the training split is empty (%lld examples, --split %g,%g,%g)", (long long)d.n,
                     a->split[0], a->split[1], a->split[2]);
        goto fail;
    }
    pare_trainer_opts to = {.n_labels = d.n_labels, .multi_label = d.multi_label, .max_batch = a->batch,
                            .max_len = a->max_len, .adamw = pare_adamw_defaults(), .seed = (uint64_t)a->train_seed};
    to.adamw.weight_decay = a->wd;
    to.keep_zeros = a->keep_zeros;
    to.cuda = a->cuda;
    to.tf32 = a->tf32;
    to.recompute = a->recompute;
    if (a->teacher) { /* the inference engine, or a forward-only trainer (on the GPU, or for its activations) */
        int64_t tl;
        if (a->cuda || a->kd_hidden > 0 || a->kd_att > 0) {
            pare_trainer_opts tto = to;
            tto.recompute = !a->cuda && !(a->kd_att > 0); /* the layer outputs are all it keeps */
            if (pare_bert_trainer_create(a->teacher, &tto, &tteacher, &err)) goto fail;
            tl = pare_bert_trainer_config(tteacher)->n_labels;
        } else {
            pare_bert_params tp = pare_bert_default_params();
            tp.n_threads = c->n_threads;
            if (pare_bert_load(a->teacher, &tp, &teacher, &err)) goto fail;
            tl = pare_bert_get_config(teacher)->n_labels;
        }
        if (tl != d.n_labels) {
            pare_err_set(&err, PARE_ERR_INVALID, "%s: the teacher has %lld labels, the data %lld", a->teacher, (long long)tl,
                         (long long)d.n_labels);
            goto fail;
        }
    }
    if (a->epochs == 0 && a->prune == 0 && !a->cuda) { /* pare eval: the inference engine */
        if (cli_load_bert(a->model, c, &inf, &err)) goto fail;
        if (pare_bert_get_config(inf)->n_labels != d.n_labels) {
            pare_err_set(&err, PARE_ERR_INVALID, "%s has %lld labels, the data %lld", a->model,
                         (long long)pare_bert_get_config(inf)->n_labels, (long long)d.n_labels);
            goto fail;
        }
        fprintf(stderr, "pare eval: %s: %.2fM parameters, %s\n", a->model, (double)pare_bert_n_params(inf) / 1e6,
                pare_bert_qmode_name(pare_bert_get_qmode(inf)));
    } else if (pare_bert_trainer_create(a->model, &to, &tr, &err)) {
        goto fail;
    } else if (a->epochs == 0 && pare_bert_trainer_config(tr)->n_labels != d.n_labels) { /* pare eval --device cuda */
        pare_err_set(&err, PARE_ERR_INVALID, "%s has %lld labels, the data %lld", a->model,
                     (long long)pare_bert_trainer_config(tr)->n_labels, (long long)d.n_labels);
        goto fail;
    }
    if (a->prune > 0) {
        int64_t z;
        if (pare_bert_trainer_prune(tr, a->prune, true, &z, &err) || (a->keep_zeros && pare_bert_trainer_freeze_zeros(tr, &err)))
            goto fail;
        fprintf(stderr, "pare finetune: pruned %lld encoder Linear weights (global magnitude, %.0f%%)\n", (long long)z, 100 * a->prune);
    }
    int64_t n_stu = 0, n_tea = 0;
    if (tr && tteacher && (a->kd_hidden > 0 || a->kd_att > 0)) {
        const pare_bert_config *cs = pare_bert_trainer_config(tr), *ct = pare_bert_trainer_config(tteacher);
        n_stu = cs->n_layers;
        n_tea = ct->n_layers;
        bool heads_ok = cs->n_heads == ct->n_heads; /* attention transfer: the teacher's heads in every layer */
        for (int64_t l = 0; a->kd_att > 0 && l < n_stu; l++) heads_ok = heads_ok && pare_bert_trainer_attention(tr, l);
        if (a->kd_att > 0 && !heads_ok) {
            pare_err_set(&err, PARE_ERR_INVALID, "--kd-att: the student needs the teacher's heads (%lld) in every layer and no --recompute",
                         (long long)ct->n_heads);
            goto fail;
        }
        if (cs->hidden_size != ct->hidden_size || n_tea % n_stu) {
            pare_err_set(&err, PARE_ERR_INVALID, "--kd-hidden: the student (%lld layers of %lld) must have the teacher's width and "
                         "a divisor of its %lld layers (of %lld)", (long long)n_stu, (long long)cs->hidden_size, (long long)n_tea,
                         (long long)ct->hidden_size);
            goto fail;
        }
        if (!(hid = calloc((size_t)n_stu + 1, sizeof *hid)) || !(att = calloc((size_t)n_stu, sizeof *att))) {
            pare_err_set(&err, PARE_ERR_OOM, "out of memory");
            goto fail;
        }
    }
    if (tr) fprintf(stderr, "pare finetune: %s: %.2fM parameters; split %lld / %lld / %lld; %lld epochs of %lld steps; on %s\n", a->model,
            (double)pare_bert_trainer_n_params(tr) / 1e6, (long long)nsplit[0], (long long)nsplit[1], (long long)nsplit[2],
            (long long)a->epochs, (long long)((nsplit[0] + a->batch - 1) / a->batch), pare_bert_trainer_device(tr));
    const int64_t B = a->batch, L = d.n_labels, steps_per = (nsplit[0] + B - 1) / B, total = steps_per * a->epochs;
    const int64_t warm = (int64_t)(a->warmup * (double)total);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * a->max_len)), *lab = malloc(sizeof(int32_t) * (size_t)B),
            *mask32 = malloc(sizeof(int32_t) * (size_t)(B * a->max_len));
    int8_t *mask = malloc((size_t)(B * a->max_len));
    float *tgt = malloc(sizeof(float) * (size_t)(B * L)), *tlog = malloc(sizeof(float) * (size_t)(B * L));
    int64_t *order = malloc(sizeof(int64_t) * (size_t)nsplit[0]), *starts = malloc(sizeof(int64_t) * (size_t)steps_per);
    if (!ids || !lab || !mask32 || !mask || !tgt || !tlog || !order || !starts) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        free(ids), free(lab), free(mask32), free(mask), free(tgt), free(tlog), free(order), free(starts);
        goto fail;
    }
    uint64_t rng = (uint64_t)a->train_seed * 7919 + 1;
    int64_t step = 0;
    ckpt ck = {0};
    bool resumed = false;
    if (tr && a->epochs > 0) {
        pare_status cs;
        if (ckpt_find(a, &ck, &cs, &err)) {
            if (cs || !a->resume) {
                if (!cs) pare_err_set(&err, PARE_ERR_INVALID, "%s/checkpoint holds an unfinished run: add --resume to continue it, or remove it", a->out);
                free(ids), free(lab), free(mask32), free(mask), free(tgt), free(tlog), free(order), free(starts);
                goto fail;
            }
            if (pare_bert_trainer_load_state(tr, ck.state, &err)) {
                free(ids), free(lab), free(mask32), free(mask), free(tgt), free(tlog), free(order), free(starts);
                goto fail;
            }
            step = ck.step;
            rng = ck.rng;
            resumed = true;
            fprintf(stderr, "pare finetune: resuming from %s: epoch %lld, batch %lld, step %lld\n", ck.state, (long long)ck.epoch + 1,
                    (long long)ck.batch, (long long)step);
        }
    }
    const int64_t step_start = step;
    int64_t ex_run = 0; /* examples trained on by this process */
    const char *kill_at = getenv("PARE_FINETUNE_KILL_AT_STEP"); /* tests: a crash after this step */
    char prev_state[4300] = "";
    if (resumed) snprintf(prev_state, sizeof prev_state, "%s", ck.state);
    const double t0 = pare_time_now();
    bool failed = false;
    for (int64_t ep = resumed ? ck.epoch : 0; ep < a->epochs && !failed; ep++) {
        const uint64_t rng_epoch = rng;
        /* shuffle, sort chunks of 50 batches by length, shuffle the batches */
        memcpy(order, idx[0], sizeof(int64_t) * (size_t)nsplit[0]);
        for (int64_t i = nsplit[0] - 1; i > 0; i--) {
            int64_t j = (int64_t)(pare_splitmix64(&rng) % (uint64_t)(i + 1)), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        for (int64_t s = 0; s < nsplit[0]; s += 50 * B)
            sort_by_len(order + s, nsplit[0] - s < 50 * B ? nsplit[0] - s : 50 * B, e.len);
        for (int64_t k = 0; k < steps_per; k++) starts[k] = k * B;
        for (int64_t k = steps_per - 1; k > 0; k--) {
            int64_t j = (int64_t)(pare_splitmix64(&rng) % (uint64_t)(k + 1)), tmp = starts[k];
            starts[k] = starts[j];
            starts[j] = tmp;
        }
        pare_progress prog;
        char label[48];
        snprintf(label, sizeof label, "epoch %lld/%lld", (long long)ep + 1, (long long)a->epochs);
        pare_progress_init(&prog, label, steps_per);
        const bool first = resumed && ep == ck.epoch;
        double loss_sum = first ? ck.loss_sum : 0;
        for (int64_t k = first ? ck.batch : 0; k < steps_per && !failed; k++) {
            const int64_t s = starts[k], nb = nsplit[0] - s < B ? nsplit[0] - s : B;
            const int64_t T = gather(&e, order + s, nb, a->max_len, pare_wordpiece_pad_id(tok), ids, mask);
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *y = d.labels + order[s + b] * L;
                lab[b] = 0;
                for (int64_t l = 0; l < L; l++) {
                    tgt[b * L + l] = y[l];
                    if (y[l]) lab[b] = (int32_t)l;
                }
            }
            if (tteacher) {
                if (pare_bert_trainer_logits(tteacher, ids, mask, nb, T, tlog, &err)) {
                    failed = true;
                    break;
                }
                for (int64_t h = 0; hid && h <= n_stu; h++) hid[h] = pare_bert_trainer_hidden(tteacher, h * n_tea / n_stu);
                for (int64_t h = 0; att && h < n_stu; h++) att[h] = pare_bert_trainer_attention(tteacher, (h + 1) * n_tea / n_stu - 1);
            } else if (teacher) {
                for (int64_t i = 0; i < nb * T; i++) mask32[i] = mask[i];
                pare_bert_outputs bo = {.logits = tlog};
                if (pare_bert_forward(teacher, ids, mask32, NULL, nb, T, &bo, &err)) {
                    failed = true;
                    break;
                }
            }
            pare_train_batch bt = {.ids = ids, .mask = mask, .B = nb, .T = T, .targets = tgt, .labels = lab,
                                   .teacher = teacher || tteacher ? tlog : NULL, .kd_temperature = (float)a->kd_temp,
                                   .kd_alpha = (float)a->kd_alpha, .teacher_hidden = a->kd_hidden > 0 ? hid : NULL,
                                   .kd_hidden = (float)a->kd_hidden, .teacher_att = a->kd_att > 0 ? att : NULL,
                                   .kd_att = (float)a->kd_att};
            float loss;
            /* the rate of the step's index before it, as transformers'
             * LambdaLR: 0 on the first step of a warm-up */
            const double lr = pare_lr_linear(a->lr, step, warm, total);
            step++;
            if (pare_bert_trainer_step(tr, &bt, lr, &loss, &err)) {
                failed = true;
                break;
            }
            loss_sum += loss;
            ex_run += nb;
            pare_progress_update(&prog, k + 1);
            if (a->ckpt_every > 0 && step % a->ckpt_every == 0) {
                ckpt now = {.epoch = ep, .batch = k + 1, .step = step, .rng = rng_epoch, .loss_sum = loss_sum};
                snprintf(now.state, sizeof now.state, "%s/checkpoint/state-%lld.safetensors", a->out, (long long)step);
                if (ckpt_save(tr, a, &now, prev_state, &err)) {
                    failed = true;
                    break;
                }
                snprintf(prev_state, sizeof prev_state, "%s", now.state);
            }
            if (kill_at && step == strtoll(kill_at, NULL, 10)) raise(SIGKILL);
        }
        pare_progress_finish(&prog);
        if (failed) break;
        pare_cls_metrics mv;
        fprintf(stderr, "epoch %lld: mean training loss %.4f, %.1f s so far\n", (long long)ep + 1, loss_sum / (double)steps_per,
                pare_time_now() - t0);
        if (nsplit[1] && !evaluate(tr, inf, &d, &e, idx[1], nsplit[1], a, pare_wordpiece_pad_id(tok), &mv, &err))
            print_metrics("validation", &mv, d.multi_label);
    }
    const double train_s = pare_time_now() - t0;
    free(ids), free(lab), free(mask32), free(mask), free(tgt), free(tlog), free(order), free(starts);
    if (failed) goto fail;
    if (step) fprintf(stderr, "pare finetune: trained %lld steps%s in %.1f s (%.1f examples/s)\n", (long long)(step - step_start),
                      resumed ? " after resuming" : "", train_s, (double)ex_run / train_s);
    pare_cls_metrics mt;
    if (nsplit[2]) {
        if (evaluate(tr, inf, &d, &e, idx[2], nsplit[2], a, pare_wordpiece_pad_id(tok), &mt, &err)) goto fail;
        print_metrics("test", &mt, d.multi_label);
    }
    const char *names[PARE_DATASET_MAX_LABELS];
    for (int64_t l = 0; l < d.n_labels; l++) names[l] = d.label_names[l];
    if (a->out && tr && pare_bert_trainer_save(tr, a->out, names, &err)) goto fail;
    if (a->out && tr && a->epochs > 0) { /* the run is complete: its checkpoint goes */
        char path[4300];
        if (prev_state[0]) remove(prev_state);
        snprintf(path, sizeof path, "%s/checkpoint/run.json", a->out);
        remove(path);
        snprintf(path, sizeof path, "%s/checkpoint", a->out);
        rmdir(path);
    }
    if (c->json && nsplit[2])
        printf("{\"train_seconds\": %.3f, \"examples_per_second\": %.2f, \"test\": {\"n\": %lld, \"exact_match\": %.6f, "
               "\"micro_f1\": %.6f, \"macro_f1\": %.6f, \"jaccard\": %.6f, \"accuracy\": %.6f}}\n",
               train_s, step > step_start ? (double)ex_run / train_s : 0.0, (long long)mt.n, mt.exact_match, mt.micro_f1,
               mt.macro_f1, mt.jaccard, mt.accuracy);
    if (a->out) fprintf(stderr, "pare finetune: wrote %s\n", a->out);
    rc = CLI_OK;
fail:
    if (rc != CLI_OK) rc = cli_fail("finetune", &err);
    if (rc != CLI_OK && made_out) rmdir(a->out); /* only if empty: a checkpoint stays */
    pare_bert_trainer_free(tr);
    pare_bert_free(teacher);
    pare_bert_trainer_free(tteacher);
    free(hid);
    free(att);
    pare_bert_free(inf);
    pare_wordpiece_free(tok);
    pare_dataset_free(&d);
    free(e.ids);
    free(e.len);
    free(part);
    for (int k = 0; k < 3; k++) free(idx[k]);
    free(labels_buf);
    return rc;
}

int cmd_finetune(int argc, char **argv) {
    ft_args a = {.split = {0.6, 0.3, 0.1}, .lr = 5e-5, .warmup = 0.1, .wd = 0.01, .kd_alpha = 0.5, .kd_temp = 2,
                 .seed = 42, .train_seed = -1, .epochs = 3, .batch = 16, .max_len = 128, .ckpt_every = 200};
    cli_common common = {0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        const int r = cli_take_arg(&common, argc, argv, &i, HELP);
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_NEXT) continue;
        if (!strcmp(o, "--data")) {
            if (!(a.data = cli_value(argc, argv, &i))) return CLI_USAGE;
        }
#define STR(opt, field) else if (!strcmp(o, opt)) { if (!(a.field = cli_value(argc, argv, &i))) return CLI_USAGE; }
#define INT(opt, field, lo, hi) else if (!strcmp(o, opt)) { if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(o, v, lo, hi, &a.field)) return CLI_USAGE; }
#define NUM(opt, field) else if (!strcmp(o, opt)) { if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(o, v, &a.field)) return CLI_USAGE; }
        STR("-o", out) STR("--output", out) STR("--text-column", text_col) STR("--labels", labels)
        STR("--teacher", teacher)
        INT("--seed", seed, 0, INT64_MAX) INT("--train-seed", train_seed, 0, INT64_MAX) INT("--epochs", epochs, 0, 10000) INT("--batch", batch, 1, 4096)
        INT("--max-len", max_len, 2, 4096) INT("--limit", limit, 1, INT64_MAX) INT("--checkpoint-every", ckpt_every, 0, INT64_MAX)
        NUM("--lr", lr) NUM("--warmup", warmup) NUM("--weight-decay", wd) NUM("--kd-alpha", kd_alpha)
        NUM("--kd-temperature", kd_temp) NUM("--kd-hidden", kd_hidden) NUM("--kd-att", kd_att) NUM("--prune", prune)
#undef STR
#undef INT
#undef NUM
        else if (!strcmp(o, "--single-label")) a.single = true;
        else if (!strcmp(o, "--keep-zeros")) a.keep_zeros = true;
        else if (!strcmp(o, "--resume")) a.resume = true;
        else if (!strcmp(o, "--tf32")) a.tf32 = true;
        else if (!strcmp(o, "--recompute")) a.recompute = true;
        else if (!strcmp(o, "--device")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (strcmp(v, "cpu") && strcmp(v, "cuda")) {
                fprintf(stderr, "pare finetune: --device is cpu or cuda, not '%s'\n", v);
                return CLI_USAGE;
            }
            a.cuda = !strcmp(v, "cuda");
        }
        else if (!strcmp(o, "--split")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (sscanf(v, "%lf,%lf,%lf", &a.split[0], &a.split[1], &a.split[2]) != 3 || a.split[0] <= 0 || a.split[1] < 0 ||
                a.split[2] < 0 || fabs(a.split[0] + a.split[1] + a.split[2] - 1) > 1e-6) {
                fprintf(stderr, "pare finetune: --split wants three fractions summing to 1, e.g. 0.6,0.3,0.1, not '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (o[0] == '-') {
            fprintf(stderr, "pare finetune: unknown option '%s' (pare finetune --help)\n", o);
            return CLI_USAGE;
        } else if (!a.model) {
            a.model = o;
        } else {
            fprintf(stderr, "pare finetune: unexpected argument '%s'\n", o);
            return CLI_USAGE;
        }
    }
    if (a.train_seed < 0) a.train_seed = a.seed;
    if (!a.model || !a.data || (!a.out && a.epochs > 0)) {
        fprintf(stderr, "pare finetune: need MODEL, --data FILE and -o OUT (pare finetune --help)\n");
        return CLI_USAGE;
    }
    if (!(a.prune >= 0 && a.prune < 1)) {
        fprintf(stderr, "pare finetune: --prune wants a fraction in [0, 1)\n");
        return CLI_USAGE;
    }
    if ((a.kd_hidden > 0 || a.kd_att > 0) && !a.teacher) {
        fprintf(stderr, "pare finetune: --kd-hidden and --kd-att need --teacher\n");
        return CLI_USAGE;
    }
    if (!(a.lr > 0 && a.lr < 1) || !(a.warmup >= 0 && a.warmup < 1) || !(a.kd_alpha >= 0 && a.kd_alpha <= 1) || !(a.kd_temp > 0)) {
        fprintf(stderr, "pare finetune: --lr in (0, 1), --warmup in [0, 1), --kd-alpha in [0, 1], --kd-temperature > 0\n");
        return CLI_USAGE;
    }
    if (a.out && a.epochs > 0 && !cli_output_ok("finetune", a.out, &common)) return CLI_USAGE;
    return run(&a, &common);
}

int cmd_eval(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs("usage: pare eval MODEL --data FILE [--text-column Tweet] [--labels a,b,...] [--single-label]\n"
                  "                 [--split 0.6,0.3,0.1] [--seed 42] [--max-len 128] [--prune S] [--json]\n"
                  "                 [--device cpu|cuda]\n"
                  "\n"
                  "Scores a classifier folder on the test split of FILE (the split pare\n"
                  "finetune uses): exact match, micro/macro F1 and Jaccard for\n"
                  "multi-label data, accuracy and macro F1 for single-label. --prune S scores it\n"
                  "after global magnitude pruning of S of its encoder Linear weights.\n"
                  "--device cuda scores it on the GPU (a dense fp32 folder; a pare built\n"
                  "with `make cuda`).\n",
                  stdout);
            return CLI_OK;
        }
    char **v = calloc((size_t)argc + 3, sizeof *v);
    if (!v) return CLI_FAIL;
    v[0] = "finetune";
    for (int i = 1; i < argc; i++) v[i] = argv[i];
    v[argc] = "--epochs";
    v[argc + 1] = "0";
    int rc = cmd_finetune(argc + 2, v);
    free(v);
    return rc;
}
