/* pare generate, pare perplexity and the decoder side of pare bench. */
#include "cli.h"
#include "pare/bpe.h"
#include "pare/gguf.h"
#include "pare/llama.h"

#include <stdlib.h>
#include <string.h>

pare_status cli_load_llama(const char *path, const cli_common *c, bool dequantize, pare_llama **out,
                           pare_err *err) {
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = c->n_threads;
    p.kernel = c->kernel;
    p.dequantize = dequantize;
    p.no_sparse = c->no_sparse;
    p.sparse_min = c->sparse_min;
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
    if (pare_llama_time_pass(m, kc, P, N > 4 ? 4 : N, logits, &tp, &td, &err)) { /* warm-up */
        rc = cli_fail("bench", &err);
        goto done;
    }
    for (int64_t r = 0; r < reps; r++) {
        if (pare_llama_time_pass(m, kc, P, N, logits, &tp, &td, &err)) {
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

/* ------------------------------------------------------------ generate */

static const char *GEN_HELP =
    "usage: pare generate MODEL.gguf --prompt TEXT [--chat] [--max-tokens N] [--temperature T]\n"
    "                     [--top-k K] [--top-p P] [--repeat-penalty R] [--seed S] [--stop STR]...\n"
    "                     [--dequantize] [--threads N]\n"
    "\n"
    "Generate text after the prompt and stream it to stdout. --chat wraps the prompt as\n"
    "a user turn with the model's chat template (ChatML, Llama 3 or Llama 2). Stops at\n"
    "the end-of-sequence token, at a control token (e.g. <|im_end|>), at a --stop string,\n"
    "or after --max-tokens (default 128). Default sampling is greedy (temperature 0);\n"
    "with --temperature > 0 the repetition penalty, temperature, top-k and top-p apply in\n"
    "Hugging Face's order, seeded by --seed (default 0). --dequantize runs the exact f32\n"
    "weights instead of the file's block types. Speeds go to stderr at the end.\n"
    "\n"
    "  pare generate smollm2.gguf --chat --prompt 'Name three primary colours.'\n";

typedef struct text_arg {
    const char *v[16];
    int n;
} text_arg;

static int load_model_and_tokenizer(const char *model, const cli_common *c, bool deq, pare_llama **m, pare_bpe **tok,
                                    const char *cmd) {
    pare_err err = {0};
    if (cli_load_llama(model, c, deq, m, &err)) return cli_fail(cmd, &err);
    const pare_gguf *g = pare_llama_gguf(*m);
    /* a GGUF carries its tokenizer; an HF folder has tokenizer.json */
    if (g ? pare_bpe_from_gguf(g, tok, &err) : pare_bpe_load(model, tok, &err)) {
        pare_llama_free(*m);
        return cli_fail(cmd, &err);
    }
    return CLI_OK;
}

int cmd_generate(int argc, char **argv) {
    cli_common c = {0};
    const char *model = NULL, *prompt = NULL, *v;
    text_arg stops = {0};
    bool chat = false, deq = false;
    int64_t max_tokens = 128;
    double d;
    pare_sampler_opts so;
    pare_sampler_opts_default(&so);
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&c, argc, argv, &i, GEN_HELP);
        if (r == CLI_ARG_BAD || r == CLI_ARG_HELP) {
            return r == CLI_ARG_HELP ? CLI_OK : CLI_USAGE;
        }
        if (r) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--prompt")) {
            if (!(prompt = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--chat")) {
            chat = true;
        } else if (!strcmp(a, "--dequantize")) {
            deq = true;
        } else if (!strcmp(a, "--stop")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (stops.n < 16) stops.v[stops.n++] = v;
        } else if (!strcmp(a, "--max-tokens")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 20, &max_tokens)) return CLI_USAGE;
        } else if (!strcmp(a, "--top-k")) {
            int64_t k;
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 30, &k)) return CLI_USAGE;
            so.top_k = (int32_t)k;
        } else if (!strcmp(a, "--seed")) {
            int64_t s;
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, INT64_MAX, &s)) return CLI_USAGE;
            so.seed = (uint64_t)s;
        } else if (!strcmp(a, "--temperature") || !strcmp(a, "--top-p") || !strcmp(a, "--repeat-penalty")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &d)) return CLI_USAGE;
            if (a[2] == 't' && a[3] == 'e') so.temperature = (float)d;
            else if (a[2] == 't') so.top_p = (float)d;
            else so.repeat_penalty = (float)d;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "pare generate: unexpected argument '%s' (see --help)\n", a);
            return CLI_USAGE;
        } else {
            model = a;
        }
    }
    if (!model || !prompt) {
        fputs(GEN_HELP, stderr);
        return CLI_USAGE;
    }
    pare_llama *m;
    pare_bpe *tok;
    int rc = load_model_and_tokenizer(model, &c, deq, &m, &tok, "generate");
    if (rc) return rc;
    pare_err err = {0};
    char *text = NULL, tmpl[16384];
    int32_t *ids = NULL, *hist = NULL;
    int64_t n = 0;
    pare_sampler *smp = NULL;
    pare_llama_cache *kc = NULL;
    float *logits = NULL;
    const pare_llama_config *cfg = pare_llama_get_config(m);
    if (chat) {
        pare_chat_msg msg = {"user", prompt};
        if (pare_gguf_get_str(pare_llama_gguf(m), "tokenizer.chat_template", "", tmpl, sizeof tmpl, &err) ||
            pare_chat_apply(tmpl, &msg, 1, true, &text, &err))
            goto fail;
    }
    const char *src = text ? text : prompt;
    int64_t dropped = 0;
    if (pare_bpe_encode_ex(tok, src, strlen(src), true, &ids, &n, &dropped, &err)) goto fail;
    cli_warn_dropped("generate", "the prompt", dropped);
    if (n == 0) {
        pare_err_set(&err, PARE_ERR_INVALID, "the prompt is empty");
        goto fail;
    }
    hist = malloc(sizeof *hist * (size_t)(n + max_tokens));
    logits = malloc(sizeof *logits * (size_t)cfg->vocab_size);
    if (!hist || !logits) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        goto fail;
    }
    memcpy(hist, ids, sizeof *ids * (size_t)n);
    if (pare_sampler_create(&so, cfg->vocab_size, &smp, &err) ||
        pare_llama_cache_create(m, 1, n + max_tokens, &kc, &err))
        goto fail;
    pare_llama_outputs out = {.logits = logits};
    pare_llama_batch b = {.n_tokens = n, .tokens = ids};
    double t0 = pare_time_now();
    if (pare_llama_forward(m, kc, &b, &out, &err)) goto fail;
    double t_prefill = pare_time_now() - t0, t1 = pare_time_now();
    pare_bpe_stream st = {0};
    char piece[600], tail[512] = {0};
    size_t tail_len = 0;
    int64_t n_gen = 0, len = n;
    for (; n_gen < max_tokens; n_gen++) {
        int32_t next = pare_sampler_sample(smp, logits, hist, len);
        if (next == PARE_SAMPLER_BAD_LOGITS) {
            pare_err_set(&err, PARE_ERR_NUMERIC, "the model's logits at token %lld are NaN or infinite (a broken or "
                         "badly quantized model?)", (long long)len);
            goto fail;
        }
        if (next == pare_bpe_eos(tok) || pare_bpe_is_control(tok, next)) break;
        hist[len++] = next;
        size_t l;
        pare_bpe_stream_put(tok, &st, next, piece, sizeof piece, &l);
        fwrite(piece, 1, l, stdout);
        fflush(stdout);
        /* stop strings: look in the last bytes printed */
        if (stops.n) {
            if (tail_len + l >= sizeof tail) {
                size_t keep = sizeof tail / 2 > l ? sizeof tail / 2 - l : 0;
                memmove(tail, tail + tail_len - keep, keep);
                tail_len = keep;
            }
            memcpy(tail + tail_len, piece, l < sizeof tail - tail_len - 1 ? l : sizeof tail - tail_len - 1);
            tail_len += l < sizeof tail - tail_len - 1 ? l : sizeof tail - tail_len - 1;
            tail[tail_len] = 0;
            bool hit = false;
            for (int s = 0; s < stops.n; s++) hit = hit || strstr(tail, stops.v[s]);
            if (hit) {
                n_gen++;
                break;
            }
        }
        b = (pare_llama_batch){.n_tokens = 1, .tokens = &next};
        if (pare_llama_forward(m, kc, &b, &out, &err)) goto fail;
    }
    double t_decode = pare_time_now() - t1;
    printf("\n");
    fprintf(stderr, "pare generate: prompt %lld tokens in %.2f s (%.1f tok/s), %lld tokens generated at %.1f tok/s\n",
            (long long)n, t_prefill, n / t_prefill, (long long)n_gen, n_gen > 0 ? n_gen / t_decode : 0.0);
    goto done;
fail:
    rc = cli_fail("generate", &err);
done:
    free(text);
    free(ids);
    free(hist);
    free(logits);
    pare_sampler_free(smp);
    pare_llama_cache_free(kc);
    pare_bpe_free(tok);
    pare_llama_free(m);
    return rc;
}

/* ------------------------------------------------------------ perplexity */

static const char *PPL_HELP =
    "usage: pare perplexity MODEL.gguf FILE [--ctx N] [--stride S] [--chunks N] [--dequantize] [--threads N]\n"
    "\n"
    "Perplexity of the model on a text file, with llama.cpp's definition: the whole\n"
    "file is tokenized, cut into windows of --ctx tokens (default 512), and in each\n"
    "window the tokens of the second half are scored (the first half is context).\n"
    "--stride S > 0: windows start every S tokens and their last S tokens are scored.\n"
    "--chunks N: stop after N windows. Prints the running value per window like\n"
    "llama.cpp ([1]10.07,[2]14.43,...) and the final PPL with its +/- estimate.\n"
    "\n"
    "  pare perplexity smollm2.gguf ../shared/data/wikitext-2/wiki.test.tokens --chunks 20\n";

typedef struct ppl_ctx {
    pare_llama *m;
    pare_llama_cache *kc;
    int8_t *all;
} ppl_ctx;

static pare_status ppl_logits(void *ctx, const int32_t *tokens, int64_t n, float *out, pare_err *err) {
    ppl_ctx *p = ctx;
    pare_llama_cache_truncate(p->kc, -1, 0);
    pare_llama_batch b = {.n_tokens = n, .tokens = tokens, .output = p->all};
    pare_llama_outputs o = {.logits = out};
    return pare_llama_forward(p->m, p->kc, &b, &o, err);
}

static void ppl_progress(void *ctx, int64_t w, int64_t n, const pare_ppl_result *r) {
    (void)ctx;
    printf("[%lld]%.4f,", (long long)w, r->ppl);
    if (w == n) printf("\n");
    fflush(stdout);
}

int cmd_perplexity(int argc, char **argv) {
    cli_common c = {0};
    const char *model = NULL, *file = NULL, *v;
    int64_t ctx = 512, stride = 0, chunks = 0;
    bool deq = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&c, argc, argv, &i, PPL_HELP);
        if (r == CLI_ARG_BAD || r == CLI_ARG_HELP) {
            return r == CLI_ARG_HELP ? CLI_OK : CLI_USAGE;
        }
        if (r) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--ctx")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 2, 1 << 20, &ctx)) return CLI_USAGE;
        } else if (!strcmp(a, "--stride")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 20, &stride)) return CLI_USAGE;
        } else if (!strcmp(a, "--chunks")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 0, 1 << 30, &chunks)) return CLI_USAGE;
        } else if (!strcmp(a, "--dequantize")) {
            deq = true;
        } else if (a[0] == '-' || (model && file)) {
            fprintf(stderr, "pare perplexity: unexpected argument '%s' (see --help)\n", a);
            return CLI_USAGE;
        } else if (!model) {
            model = a;
        } else {
            file = a;
        }
    }
    if (!model || !file) {
        fputs(PPL_HELP, stderr);
        return CLI_USAGE;
    }
    pare_err err = {0};
    char *text = NULL;
    size_t len = 0;
    if (pare_read_file(file, (size_t)1 << 31, &text, &len, &err)) return cli_fail("perplexity", &err);
    pare_llama *m;
    pare_bpe *tok;
    int rc = load_model_and_tokenizer(model, &c, deq, &m, &tok, "perplexity");
    if (rc) {
        free(text);
        return rc;
    }
    int32_t *ids = NULL;
    int64_t n = 0;
    ppl_ctx p = {.m = m};
    pare_ppl_result res;
    double t0 = pare_time_now();
    int64_t dropped = 0;
    if (pare_bpe_encode_ex(tok, text, len, true, &ids, &n, &dropped, &err)) goto fail;
    fprintf(stderr, "pare perplexity: %s: %lld tokens (%.2f s to tokenize)\n", file, (long long)n, pare_time_now() - t0);
    cli_warn_dropped("perplexity", file, dropped);
    p.all = malloc((size_t)ctx);
    if (!p.all) {
        pare_err_set(&err, PARE_ERR_OOM, "out of memory");
        goto fail;
    }
    memset(p.all, 1, (size_t)ctx);
    if (pare_llama_cache_create(m, 1, ctx, &p.kc, &err)) goto fail;
    pare_ppl_opts o = {.ctx = ctx, .stride = stride, .max_windows = chunks, .add_bos = pare_bpe_add_bos(tok),
                       .bos = pare_bpe_bos(tok)};
    t0 = pare_time_now();
    if (pare_perplexity(ids, n, pare_bpe_vocab_size(tok), &o, ppl_logits, &p, ppl_progress, NULL, &res, &err))
        goto fail;
    printf("Final estimate: PPL = %.4f +/- %.5f\n", res.ppl, res.ppl_err);
    fprintf(stderr, "pare perplexity: %lld windows, %lld tokens scored, %.1f s\n", (long long)res.windows,
            (long long)res.scored, pare_time_now() - t0);
    goto done;
fail:
    rc = cli_fail("perplexity", &err);
done:
    free(text);
    free(ids);
    free(p.all);
    pare_llama_cache_free(p.kc);
    pare_bpe_free(tok);
    pare_llama_free(m);
    return rc;
}

/* ------------------------------------------------------------ tokenize */

static const char *TOK_HELP =
    "usage: pare tokenize TOKENIZER (--text T ... | --file F [--column NAME]) [--special]\n"
    "\n"
    "Byte-level BPE ids of each text as JSON lines {\"n\": N, \"ids\": [...]}.\n"
    "TOKENIZER: a GGUF file (its tokenizer metadata), a Hugging Face tokenizer.json,\n"
    "or a model folder holding one (special tokens written in the text become their\n"
    "ids). --special also adds BOS when the vocabulary asks for it. --file reads one\n"
    "text per line, or a TSV column with --column (the first row is the header).\n";

int cmd_tokenize(int argc, char **argv) {
    cli_common c = {0};
    cli_texts texts = {0};
    const char *model = NULL, *file = NULL, *column = NULL, *v;
    bool special = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&c, argc, argv, &i, TOK_HELP);
        if (r == CLI_ARG_BAD || r == CLI_ARG_HELP) {
            cli_texts_free(&texts);
            return r == CLI_ARG_HELP ? CLI_OK : CLI_USAGE;
        }
        if (r) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--text")) {
            if (!(v = cli_value(argc, argv, &i)) || cli_texts_add(&texts, v)) return CLI_USAGE;
        } else if (!strcmp(a, "--file")) {
            if (!(file = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--column")) {
            if (!(column = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--special")) {
            special = true;
        } else if (a[0] == '-' || model) {
            fprintf(stderr, "pare tokenize: unexpected argument '%s' (see --help)\n", a);
            cli_texts_free(&texts);
            return CLI_USAGE;
        } else {
            model = a;
        }
    }
    pare_err err = {0};
    if (!model || (!texts.n && !file)) {
        fputs(TOK_HELP, stderr);
        cli_texts_free(&texts);
        return CLI_USAGE;
    }
    if (file && cli_texts_load_file(&texts, file, column, 0, &err)) {
        cli_texts_free(&texts);
        return cli_fail("tokenize", &err);
    }
    pare_bpe *tok = NULL;
    int rc = CLI_OK;
    if (pare_bpe_load(model, &tok, &err)) {
        rc = cli_fail("tokenize", &err);
        goto done;
    }
    int64_t dropped = 0;
    for (int64_t t = 0; t < texts.n; t++) {
        int32_t *ids;
        int64_t n, d;
        if (pare_bpe_encode_ex(tok, texts.items[t], strlen(texts.items[t]), special, &ids, &n, &d, &err)) {
            rc = cli_fail("tokenize", &err);
            goto done;
        }
        dropped += d;
        printf("{\"n\": %lld, \"ids\": [", (long long)n);
        for (int64_t i = 0; i < n; i++) printf("%s%d", i ? ", " : "", ids[i]);
        printf("]}\n");
        free(ids);
    }
    cli_warn_dropped("tokenize", "the texts", dropped);
done:
    pare_bpe_free(tok);
    cli_texts_free(&texts);
    return rc;
}
