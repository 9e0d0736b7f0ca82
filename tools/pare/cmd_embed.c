/* pare embed / pare classify: texts in, JSON lines out. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


typedef struct run_opts {
    cli_common common;
    cli_texts texts;
    const char *model, *file, *column;
    int64_t batch, max_len, limit;
    pare_pooling pool;
    bool normalize;
    double threshold;
} run_opts;

static const char *EMBED_HELP =
    "usage: pare embed MODEL (--text TEXT ... | --file FILE [--column NAME]) [options]\n"
    "\n"
    "Sentence embeddings from a BERT-family model, one JSON line per text:\n"
    "  {\"index\": 0, \"text\": \"...\", \"tokens\": 12, \"embedding\": [...]}\n"
    "\n"
    "  --text TEXT      a text to embed (repeatable)\n"
    "  --file FILE      one text per line; with --column, a TSV whose header names NAME\n"
    "  --column NAME    TSV column holding the text (e.g. Tweet for SemEval E-c)\n"
    "  --limit N        at most N texts from the file\n"
    "  --pooling P      mean (default, sentence-transformers), cls, or pooler\n"
    "  --no-normalize   keep the raw vector (default: L2-normalised)\n"
    "  --batch N        texts per forward pass, padded to the longest (default 8)\n"
    "  --max-len N      truncate to N tokens including [CLS]/[SEP] (default 128)\n"
    "  --threads N      threads (default: $PARE_THREADS or all cores)\n"
    "  --kernel K       auto, avx512, avx2, blas or ref\n"
    "\n"
    "example: pare embed .cache/models/minilm-l6 --text \"I love this\" --text \"so sad\"\n";

static const char *CLASSIFY_HELP =
    "usage: pare classify MODEL (--text TEXT ... | --file FILE [--column NAME]) [options]\n"
    "\n"
    "Sequence classification with the model's head (BertForSequenceClassification),\n"
    "one JSON line per text:\n"
    "  {\"index\": 0, \"text\": \"...\", \"labels\": {\"joy\": 0.93, ...}, \"predicted\": [\"joy\"]}\n"
    "Multi-label models (problem_type multi_label_classification) use a sigmoid per\n"
    "label and predict every label above --threshold; others use a softmax and\n"
    "predict the argmax.\n"
    "\n"
    "  --text TEXT      a text to classify (repeatable)\n"
    "  --file FILE      one text per line; with --column, a TSV whose header names NAME\n"
    "  --column NAME    TSV column holding the text (e.g. Tweet for SemEval E-c)\n"
    "  --limit N        at most N texts from the file\n"
    "  --threshold T    multi-label decision threshold (default 0.5)\n"
    "  --batch N        texts per forward pass (default 8)\n"
    "  --max-len N      truncate to N tokens (default 128)\n"
    "  --threads N, --kernel K   as for pare embed\n";

static int parse_run_opts(int argc, char **argv, const char *help, run_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = 8;
    o->max_len = 128;
    o->normalize = true;
    o->threshold = 0.5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = cli_common_option(&o->common, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(help, stdout);
            return -1;
        } else if (!strcmp(a, "--text")) {
            if (!(v = cli_value(argc, argv, &i)) || cli_texts_add(&o->texts, v)) return CLI_USAGE;
        } else if (!strcmp(a, "--file")) {
            if (!(o->file = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--column")) {
            if (!(o->column = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--limit")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, INT64_MAX, &o->limit)) return CLI_USAGE;
        } else if (!strcmp(a, "--batch")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 4096, &o->batch)) return CLI_USAGE;
        } else if (!strcmp(a, "--max-len")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 2, 65536, &o->max_len)) return CLI_USAGE;
        } else if (!strcmp(a, "--pooling")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "mean")) o->pool = PARE_POOL_MEAN;
            else if (!strcmp(v, "cls")) o->pool = PARE_POOL_CLS;
            else if (!strcmp(v, "pooler")) o->pool = PARE_POOL_POOLER;
            else {
                fprintf(stderr, "pare: --pooling wants mean, cls or pooler, got '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--no-normalize")) {
            o->normalize = false;
        } else if (!strcmp(a, "--threshold")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o->threshold)) return CLI_USAGE;
        } else if (a[0] == '-') {
            fprintf(stderr, "pare: unknown option '%s' (see --help)\n", a);
            return CLI_USAGE;
        } else if (!o->model) {
            o->model = a;
        } else {
            fprintf(stderr, "pare: unexpected argument '%s' (see --help)\n", a);
            return CLI_USAGE;
        }
    }
    if (!o->model) {
        fputs(help, stderr);
        return CLI_USAGE;
    }
    if (o->file) {
        pare_err err = {0};
        if (cli_texts_load_file(&o->texts, o->file, o->column, o->limit, &err)) return cli_fail("input", &err);
    }
    if (o->texts.n == 0) {
        fprintf(stderr, "pare: no input texts: give --text or --file\n");
        return CLI_USAGE;
    }
    return CLI_OK;
}

typedef enum { MODE_EMBED, MODE_CLASSIFY } run_mode;

static void print_embedding(const run_opts *o, const pare_bert_config *c, const float *hidden,
                            const float *pooled, const int32_t *mask, int64_t T, int64_t row,
                            float *vec) {
    const int64_t H = c->hidden_size;
    pare_bert_pool_row(hidden, pooled, mask, T, H, row, o->pool, o->normalize, vec);
    printf(", \"embedding\": [");
    for (int64_t i = 0; i < H; i++) printf(i ? ",%.7g" : "%.7g", vec[i]);
    printf("]");
}

static void print_labels(const run_opts *o, const pare_bert_config *c, const float *logits) {
    const int64_t L = c->n_labels;
    double p[PARE_MAX_LABELS], mx = -INFINITY, sum = 0;
    int64_t best = 0;
    for (int64_t l = 0; l < L; l++) if (logits[l] > mx) { mx = logits[l]; best = l; }
    for (int64_t l = 0; l < L; l++) {
        if (c->problem_type == PARE_PROBLEM_MULTI_LABEL) p[l] = 1.0 / (1.0 + exp(-(double)logits[l]));
        else if (c->problem_type == PARE_PROBLEM_REGRESSION) p[l] = logits[l];
        else sum += (p[l] = exp((double)logits[l] - mx));
    }
    if (c->problem_type == PARE_PROBLEM_SINGLE_LABEL)
        for (int64_t l = 0; l < L; l++) p[l] /= sum;
    printf(", \"labels\": {");
    for (int64_t l = 0; l < L; l++) {
        if (l) printf(", ");
        cli_json_string(stdout, c->labels[l]);
        printf(": %.6g", p[l]);
    }
    printf("}, \"predicted\": [");
    int k = 0;
    for (int64_t l = 0; l < L; l++) {
        bool on = c->problem_type == PARE_PROBLEM_MULTI_LABEL ? p[l] >= o->threshold : l == best;
        if (!on || c->problem_type == PARE_PROBLEM_REGRESSION) continue;
        if (k++) printf(", ");
        cli_json_string(stdout, c->labels[l]);
    }
    printf("]");
}

static int run(int argc, char **argv, run_mode mode) {
    const char *cmd = mode == MODE_EMBED ? "embed" : "classify";
    run_opts o;
    int rc = parse_run_opts(argc, argv, mode == MODE_EMBED ? EMBED_HELP : CLASSIFY_HELP, &o);
    if (rc) {
        cli_texts_free(&o.texts);
        return rc < 0 ? CLI_OK : rc;
    }
    pare_err err = {0};
    pare_bert *m = NULL;
    int32_t *ids = NULL, *mask = NULL;
    float *hidden = NULL, *pooled = NULL, *logits = NULL, *vec = NULL;
    if (cli_load_bert(o.model, &o.common, &m, &err)) {
        rc = cli_fail(cmd, &err);
        goto done;
    }
    const pare_bert_config *c = pare_bert_get_config(m);
    const pare_wordpiece *tok = pare_bert_tokenizer(m);
    if (!tok) {
        pare_err_set(&err, PARE_ERR_INVALID, "%s: no tokenizer.json or vocab.txt in the model folder", o.model);
        rc = cli_fail(cmd, &err);
        goto done;
    }
    if (mode == MODE_CLASSIFY && c->n_labels == 0) {
        pare_err_set(&err, PARE_ERR_INVALID,
                     "%s has no classification head (architecture %s); use pare embed, or a fine-tuned *ForSequenceClassification model",
                     o.model, c->architecture[0] ? c->architecture : "unknown");
        rc = cli_fail(cmd, &err);
        goto done;
    }
    if (mode == MODE_EMBED && o.pool == PARE_POOL_POOLER && !pare_bert_has_pooler(m)) {
        pare_err_set(&err, PARE_ERR_INVALID, "%s has no pooler; use --pooling mean or cls", o.model);
        rc = cli_fail(cmd, &err);
        goto done;
    }
    int64_t max_len = o.max_len < c->max_position ? o.max_len : c->max_position;
    const int64_t B = o.batch, H = c->hidden_size;
    ids = malloc(sizeof *ids * (size_t)(B * max_len));
    mask = malloc(sizeof *mask * (size_t)(B * max_len));
    hidden = malloc(sizeof *hidden * (size_t)(B * max_len * H));
    pooled = malloc(sizeof *pooled * (size_t)(B * H));
    logits = malloc(sizeof *logits * (size_t)(B * (c->n_labels ? c->n_labels : 1)));
    vec = malloc(sizeof *vec * (size_t)H);
    if (!ids || !mask || !hidden || !pooled || !logits || !vec) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        rc = cli_fail(cmd, &err);
        goto done;
    }
    pare_progress prog;
    pare_progress_init(&prog, cmd, o.texts.n);
    for (int64_t start = 0; start < o.texts.n; start += B) {
        int64_t nb = o.texts.n - start < B ? o.texts.n - start : B;
        int32_t T;
        if (pare_wordpiece_encode_batch(tok, (const char *const *)o.texts.items + start, (int32_t)nb,
                                        (int32_t)max_len, false, ids, mask, &T, &err)) {
            pare_err_wrap(&err, "text %lld", (long long)start);
            rc = cli_fail(cmd, &err);
            goto done;
        }
        pare_bert_outputs out = {.hidden = mode == MODE_EMBED ? hidden : NULL,
                                 .pooled = (mode == MODE_EMBED && o.pool == PARE_POOL_POOLER) ? pooled : NULL,
                                 .logits = mode == MODE_CLASSIFY ? logits : NULL};
        if (pare_bert_forward(m, ids, mask, NULL, nb, T, &out, &err)) {
            rc = cli_fail(cmd, &err);
            goto done;
        }
        for (int64_t r = 0; r < nb; r++) {
            int64_t n_tok = 0;
            for (int64_t t = 0; t < T; t++) n_tok += mask[r * T + t];
            printf("{\"index\": %lld, \"text\": ", (long long)(start + r));
            cli_json_string(stdout, o.texts.items[start + r]);
            printf(", \"tokens\": %lld", (long long)n_tok);
            if (mode == MODE_EMBED) print_embedding(&o, c, hidden, pooled, mask, T, r, vec);
            else print_labels(&o, c, logits + r * c->n_labels);
            printf("}\n");
        }
        pare_progress_update(&prog, start + nb);
    }
    pare_progress_finish(&prog);
done:
    free(ids);
    free(mask);
    free(hidden);
    free(pooled);
    free(logits);
    free(vec);
    pare_bert_free(m);
    cli_texts_free(&o.texts);
    return rc;
}

int cmd_embed(int argc, char **argv) { return run(argc, argv, MODE_EMBED); }
int cmd_classify(int argc, char **argv) { return run(argc, argv, MODE_CLASSIFY); }
