/* pare dev: developer helpers (random-weight models for tests and benches). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare dev random-bert -o DIR --vocab-from MODEL [--layers L] [--hidden H]\n"
    "                            [--heads A] [--intermediate I] [--labels N] [--seed S]\n"
    "       pare dev random-llama OUT [--arch llama|mistral|qwen2] [--layers N] [--hidden H]\n"
    "                            [--heads A] [--kv-heads B] [--head-dim D] [--ffn F] [--vocab V]\n"
    "                            [--max-position P] [--rope-theta T] [--rope-scaling TYPE:FACTOR]\n"
    "                            [--rope-original-max N] [--tie] [--attention-bias]\n"
    "                            [--labels N] [--pad-id ID] [--seed S] [--shape tinyllama]\n"
    "       pare dev tokenizer-json MODEL.gguf -o DIR\n"
    "       pare dev train-step MODEL [--batch 8] [--seq 128] [--labels 11] [--warmup 2]\n"
    "                            [--iters 5] [--threads N] [--json] [--profile]\n"
    "                            [--device cpu|cuda [--tf32]] [--recompute]\n"
    "\n"
    "random-bert: a Hugging Face BERT folder with seeded random weights (BERT init),\n"
    "for benchmarks and tests of shapes no shipped model has. The tokenizer files and\n"
    "vocabulary size come from MODEL. Defaults: MiniLM-L12 shape (12 layers, hidden\n"
    "384, 12 heads, intermediate 1536), seed 1, no head (--labels 0). BERT-base shape:\n"
    "--layers 12 --hidden 768 --heads 12 --intermediate 3072.\n"
    "\n"
    "random-llama: a Llama-family folder (config.json + model.safetensors, f32, no\n"
    "tokenizer) that transformers loads. Weights: linear N(0, 1/sqrt(fan_in)),\n"
    "embeddings N(0, 1), norms 1 + N(0, 0.1), biases N(0, 0.1). Defaults: llama,\n"
    "2 layers, hidden 64, 4 heads, 2 kv heads, ffn 128, vocab 512, max position\n"
    "2048, rope theta 10000, seed 1, untied LM head. qwen2 adds q/k/v biases;\n"
    "--attention-bias gives llama q/k/v/o biases. --rope-scaling is one of\n"
    "linear:F, dynamic:F, llama3:F (low/high freq factors 1 and 4), yarn:F; llama3\n"
    "and yarn use --rope-original-max (default max position / F). --labels N writes\n"
    "*ForSequenceClassification (score.weight, pad id --pad-id, default 0).\n"
    "--shape tinyllama: 22 layers, hidden 2048, 32 heads, 4 kv heads, ffn 5632,\n"
    "vocab 32000 (TinyLlama-1.1B; 4.4 GB of f32).\n"
    "\n"
    "train-step: the time of one fine-tuning step (forward, BCE loss over --labels,\n"
    "backward, clipping, AdamW) of a BERT folder on a batch of fixed pseudo-random\n"
    "ids, median over --iters after --warmup (bench/train.sh sets it beside\n"
    "PyTorch's). --profile prints, on stderr, the mean time per step of its phases\n"
    "(GEMMs, attention and the rest of the forward and backward; the optimizer).\n"
    "--device cuda times the step on the GPU (waiting for it to finish each time);\n"
    "--recompute with gradient checkpointing (pare finetune --recompute).\n"
    "\n"
    "tokenizer-json: the GGUF's byte-level BPE tokenizer as DIR/tokenizer.json and\n"
    "DIR/tokenizer_config.json in Hugging Face's format (HF tokenizers and pare read\n"
    "them back to the same ids). DIR is created; an existing tokenizer.json in it is\n"
    "replaced only with --force.\n"
    "\n"
    "random-bert and random-llama replace their output folder's files if it exists\n"
    "(they are test fixtures).\n";

static int tokenizer_json(int argc, char **argv) {
    const char *model = NULL, *dir = NULL;
    cli_common c = {0};
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--force")) c.force = true;
        else if (argv[i][0] != '-' && !model) model = argv[i];
        else {
            fprintf(stderr, "pare dev tokenizer-json: unexpected '%s' (see pare dev --help)\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (!model || !dir) {
        fputs("usage: pare dev tokenizer-json MODEL.gguf -o DIR [--force]\n", stderr);
        return CLI_USAGE;
    }
    if (!cli_output_ok("dev tokenizer-json", dir, &c)) return CLI_USAGE;
    pare_err err = {0};
    pare_gguf *g = NULL;
    if (pare_gguf_open(model, &g, &err) || pare_bpe_gguf_write_json(g, dir, &err)) {
        pare_gguf_close(g);
        return cli_fail("dev tokenizer-json", &err);
    }
    pare_gguf_close(g);
    fprintf(stderr, "pare dev tokenizer-json: wrote %s/tokenizer.json and tokenizer_config.json\n", dir);
    return CLI_OK;
}

static int random_bert(int argc, char **argv) {
    pare_bert_random_opts o = {.n_layers = 12, .hidden_size = 384, .n_heads = 12, .intermediate_size = 1536, .seed = 1};
    const char *dir = NULL, *v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int64_t x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(HELP, stdout);
            return CLI_OK;
        }
        if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir = v;
        else if (!strcmp(a, "--vocab-from")) o.vocab_from = v;
        else if (!cli_parse_int(a, v, 0, 1 << 20, &x)) return CLI_USAGE;
        else if (!strcmp(a, "--layers")) o.n_layers = x;
        else if (!strcmp(a, "--hidden")) o.hidden_size = x;
        else if (!strcmp(a, "--heads")) o.n_heads = x;
        else if (!strcmp(a, "--intermediate")) o.intermediate_size = x;
        else if (!strcmp(a, "--labels")) o.n_labels = x;
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)x;
        else {
            fprintf(stderr, "pare dev random-bert: unknown option '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if (!dir || !o.vocab_from) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    pare_err err = {0};
    if (pare_bert_write_random(dir, &o, &err)) return cli_fail("dev random-bert", &err);
    fprintf(stderr, "pare dev random-bert: wrote %s\n", dir);
    return CLI_OK;
}

/* "TYPE:FACTOR" */
static bool parse_rope_scaling(const char *v, pare_llama_rope *r) {
    const char *colon = strchr(v, ':');
    char *end;
    if (!colon) goto bad;
    r->factor = strtod(colon + 1, &end);
    if (*end || end == colon + 1 || !(r->factor >= 1.0) || r->factor > 1e6) goto bad;
    for (int t = PARE_ROPE_SCALING_LINEAR; t <= PARE_ROPE_SCALING_YARN; t++) {
        const char *name = pare_rope_scaling_name((pare_rope_scaling)t);
        if (strlen(name) == (size_t)(colon - v) && !strncmp(v, name, (size_t)(colon - v))) {
            r->scaling = (pare_rope_scaling)t;
            return true;
        }
    }
bad:
    fprintf(stderr, "pare dev random-llama: --rope-scaling wants linear|dynamic|llama3|yarn:FACTOR (factor >= 1), "
                    "got '%s'\n", v);
    return false;
}

static int random_llama(int argc, char **argv) {
    pare_llama_random_opts o = {.arch = PARE_LLAMA_ARCH_LLAMA, .n_layers = 2, .hidden_size = 64, .n_heads = 4,
                                .n_kv_heads = 2, .intermediate_size = 128, .vocab_size = 512, .seed = 1,
                                .rope = {.factor = 1, .low_freq_factor = 1, .high_freq_factor = 4, .beta_fast = 32, .beta_slow = 1}};
    const char *dir = NULL, *v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int64_t x;
        double f;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(HELP, stdout);
            return CLI_OK;
        }
        if (!strcmp(a, "--tie")) { o.tie_word_embeddings = true; continue; }
        if (!strcmp(a, "--attention-bias")) { o.attention_bias = true; continue; }
        if (a[0] != '-') {
            if (dir) {
                fprintf(stderr, "pare dev random-llama: unexpected argument '%s'\n", a);
                return CLI_USAGE;
            }
            dir = a;
            continue;
        }
        if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir = v;
        else if (!strcmp(a, "--arch")) {
            if (!strcmp(v, "llama")) o.arch = PARE_LLAMA_ARCH_LLAMA;
            else if (!strcmp(v, "mistral")) o.arch = PARE_LLAMA_ARCH_MISTRAL;
            else if (!strcmp(v, "qwen2")) o.arch = PARE_LLAMA_ARCH_QWEN2;
            else {
                fprintf(stderr, "pare dev random-llama: --arch wants llama, mistral or qwen2, got '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--shape")) {
            if (strcmp(v, "tinyllama")) {
                fprintf(stderr, "pare dev random-llama: --shape knows only tinyllama, got '%s'\n", v);
                return CLI_USAGE;
            }
            o.n_layers = 22, o.hidden_size = 2048, o.n_heads = 32, o.n_kv_heads = 4, o.intermediate_size = 5632;
            o.vocab_size = 32000, o.max_position = 2048;
        } else if (!strcmp(a, "--rope-scaling")) {
            if (!parse_rope_scaling(v, &o.rope)) return CLI_USAGE;
        } else if (!strcmp(a, "--rope-theta")) {
            if (!cli_parse_float(a, v, &f) || !(f > 1.0)) return CLI_USAGE;
            o.rope_theta = f;
        } else if (!cli_parse_int(a, v, 0, 1 << 24, &x)) return CLI_USAGE;
        else if (!strcmp(a, "--layers")) o.n_layers = x;
        else if (!strcmp(a, "--hidden")) o.hidden_size = x;
        else if (!strcmp(a, "--heads")) o.n_heads = x;
        else if (!strcmp(a, "--kv-heads")) o.n_kv_heads = x;
        else if (!strcmp(a, "--head-dim")) o.head_dim = x;
        else if (!strcmp(a, "--ffn")) o.intermediate_size = x;
        else if (!strcmp(a, "--vocab")) o.vocab_size = x;
        else if (!strcmp(a, "--max-position")) o.max_position = x;
        else if (!strcmp(a, "--rope-original-max")) o.rope.original_max_position = x;
        else if (!strcmp(a, "--labels")) o.n_labels = x;
        else if (!strcmp(a, "--pad-id")) o.pad_token_id = x;
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)x;
        else {
            fprintf(stderr, "pare dev random-llama: unknown option '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if (!dir) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    if (!o.rope.original_max_position) {
        int64_t mp = o.max_position ? o.max_position : 2048;
        o.rope.original_max_position = (int64_t)((double)mp / o.rope.factor);
        if (o.rope.original_max_position < 1) o.rope.original_max_position = 1;
    }
    pare_err err = {0};
    if (pare_llama_write_random(dir, &o, &err)) return cli_fail("dev random-llama", &err);
    fprintf(stderr, "pare dev random-llama: wrote %s\n", dir);
    return CLI_OK;
}

static int cmp_dbl(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int train_step(int argc, char **argv) {
    const char *model = NULL;
    int64_t B = 8, T = 128, L = 11, warm = 2, iters = 5;
    bool profile = false, cuda = false, tf32 = false, recompute = false;
    cli_common common = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v;
        const int r = cli_take_arg(&common, argc, argv, &i, HELP);
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_NEXT) continue;
        if (!strcmp(a, "--profile") || !strcmp(a, "--tf32") || !strcmp(a, "--recompute")) {
            *(a[2] == 'p' ? &profile : a[2] == 't' ? &tf32 : &recompute) = true;
            continue;
        }
        if (!strcmp(a, "--device")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (strcmp(v, "cpu") && strcmp(v, "cuda")) {
                fprintf(stderr, "pare dev train-step: --device is cpu or cuda, not '%s'\n", v);
                return CLI_USAGE;
            }
            cuda = !strcmp(v, "cuda");
            continue;
        }
#define INT(opt, var, lo, hi) if (!strcmp(a, opt)) { if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, lo, hi, &var)) return CLI_USAGE; continue; }
        INT("--batch", B, 1, 4096) INT("--seq", T, 2, 512) INT("--labels", L, 1, 256) INT("--warmup", warm, 0, 1000)
        INT("--iters", iters, 1, 1000)
#undef INT
        if (a[0] == '-' || model) {
            fprintf(stderr, "pare dev train-step: unexpected argument '%s'\n", a);
            return CLI_USAGE;
        }
        model = a;
    }
    if (!model) {
        fprintf(stderr, "pare dev train-step: need MODEL\n");
        return CLI_USAGE;
    }
    pare_err err = {0};
    pare_trainer_opts to = {.n_labels = L, .multi_label = true, .max_batch = B, .max_len = T, .adamw = pare_adamw_defaults(),
                            .cuda = cuda, .tf32 = tf32, .recompute = recompute};
    pare_bert_trainer *t = NULL;
    if (pare_bert_trainer_create(model, &to, &t, &err)) return cli_fail("dev train-step", &err);
    const int64_t V = pare_bert_trainer_config(t)->vocab_size;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * T));
    float *tgt = malloc(sizeof(float) * (size_t)(B * L));
    double *ts = malloc(sizeof(double) * (size_t)iters);
    uint64_t st = 7;
    for (int64_t i = 0; ids && i < B * T; i++) ids[i] = i % T == 0 ? 101 : (int32_t)(1000 + pare_splitmix64(&st) % (uint64_t)(V - 1000));
    for (int64_t i = 0; tgt && i < B * L; i++) tgt[i] = (float)(pare_splitmix64(&st) % 4 == 0);
    pare_train_batch bt = {.ids = ids, .B = B, .T = T, .targets = tgt};
    int rc = ids && tgt && ts ? CLI_OK : CLI_FAIL;
    double prof0[PARE_PROF_N] = {0};
    for (int64_t i = 0; i < warm + iters && rc == CLI_OK; i++) {
        if (i == warm) memcpy(prof0, pare_bert_trainer_profile(t), sizeof prof0);
        const double t0 = pare_time_now();
        float loss;
        if (pare_bert_trainer_step(t, &bt, 1e-5, &loss, &err) || pare_bert_trainer_wait(t, &err)) rc = cli_fail("dev train-step", &err);
        if (i >= warm) ts[i - warm] = pare_time_now() - t0;
    }
    if (rc == CLI_OK && profile) {
        static const char *const names[PARE_PROF_N] = {"forward GEMMs", "forward attention", "forward other",
                                                       "backward GEMMs", "backward attention", "backward other",
                                                       "clipping + AdamW"};
        const double *pr = pare_bert_trainer_profile(t);
        for (int k = 0; k < PARE_PROF_N; k++)
            fprintf(stderr, "  %-20s %8.1f ms per step\n", names[k], (pr[k] - prof0[k]) * 1e3 / (double)iters);
    }
    if (rc == CLI_OK) {
        qsort(ts, (size_t)iters, sizeof *ts, cmp_dbl);
        const double med = ts[iters / 2];
        if (common.json)
            printf("{\"engine\": \"pare\", \"model\": \"%s\", \"device\": \"%s\", \"tf32\": %s, \"batch\": %lld, \"seq\": %lld, "
                   "\"iters\": %lld, \"step_ms\": %.3f, \"min_ms\": %.3f, \"params\": %lld}\n",
                   model, pare_bert_trainer_device(t), tf32 ? "true" : "false", (long long)B, (long long)T, (long long)iters,
                   med * 1e3, ts[0] * 1e3, (long long)pare_bert_trainer_n_params(t));
        else
            printf("pare train step: %s batch %lld seq %lld on %s: median %.1f ms, min %.1f ms over %lld steps\n", model,
                   (long long)B, (long long)T, pare_bert_trainer_device(t), med * 1e3, ts[0] * 1e3, (long long)iters);
    }
    free(ids);
    free(tgt);
    free(ts);
    pare_bert_trainer_free(t);
    return rc;
}

int cmd_dev(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "train-step")) return train_step(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "random-bert")) return random_bert(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "random-llama")) return random_llama(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "tokenizer-json")) return tokenizer_json(argc, argv);
    bool help = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
    fputs(HELP, help ? stdout : stderr);
    return help ? CLI_OK : CLI_USAGE;
}
