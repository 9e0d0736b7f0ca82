/* pare quantize: write an int8 copy of a BERT-family model folder. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare quantize MODEL -o OUT [--method rtn] [--bits 8] [--act dynamic|static|none]\n"
    "                     [--calib FILE [--column NAME] [--limit N] [--calib-method minmax|percentile]\n"
    "                     [--percentile P]] [--threads N] [--kernel K]\n"
    "\n"
    "Writes OUT, a model folder pare loads like any other (pare embed/classify/info/bench):\n"
    "config.json with a quantization_config block, model.safetensors with int8 weights\n"
    "(round to nearest, symmetric, one f32 scale per output channel) for the Linear\n"
    "layers of every encoder layer (Q, K, V, attention output, FFN in and out), and\n"
    "the tokenizer files. Embeddings, LayerNorms, softmax, the pooler and the\n"
    "classifier stay fp32.\n"
    "\n"
    "  --act dynamic   (default) int8 inputs with one scale per token, computed on the fly\n"
    "  --act static    int8 inputs with one scale per tensor, calibrated on --calib texts\n"
    "                  (one per line, or a TSV column with --column); min-max by default,\n"
    "                  --calib-method percentile clips at --percentile (99.99)\n"
    "  --act none      weight-only: int8 on disk, dequantized to fp32 when loaded\n"
    "\n"
    "Llama-family GGUF files (round to nearest into one ggml block type; the result\n"
    "loads in pare and llama.cpp; below 8 bits token_embd/output stay Q8_0):\n"
    "  pare quantize MODEL.gguf --type q8_0|q5_1|q5_0|q4_1|q4_0|f16|f32 -o OUT.gguf\n"
    "  (or --bits 8|5|4: q8_0, q5_0, q4_0)\n"
    "\n"
    "example:\n"
    "  pare quantize .cache/models/minilm-l6 -o /tmp/minilm-int8\n"
    "  pare quantize .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --type q8_0 -o /tmp/smollm2-q8_0.gguf\n"
    "  pare quantize .cache/models/minilm-l6 --act static --calib tweets.tsv --column Tweet --limit 256 -o /tmp/minilm-s8\n";

/* A GGUF decoder into one block type. */
static int quantize_gguf(const char *model, const char *out, const char *type, int64_t bits) {
    if (!type) type = bits == 8 ? "q8_0" : bits == 5 ? "q5_0" : bits == 4 ? "q4_0" : "?";
    const pare_qtype t = pare_qtype_by_name(type);
    if (t == PARE_Q_COUNT || !pare_requant_supports(t)) {
        fprintf(stderr, "pare quantize: --type must be one of q8_0 q5_1 q5_0 q4_1 q4_0 f16 bf16 f32 (or --bits 8, 5, 4), not '%s'\n", type);
        return CLI_USAGE;
    }
    pare_err err = {0};
    pare_progress prog;
    double t0 = pare_time_now();
    if (pare_gguf_requantize(model, out, t, &prog, &err)) return cli_fail("quantize", &err);
    fprintf(stderr, "pare quantize: wrote %s (%s, round to nearest) in %.1f s\n", out, pare_qtype_get((uint32_t)t)->name,
            pare_time_now() - t0);
    return CLI_OK;
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *calib = NULL, *column = NULL, *type = NULL;
    const char *method = "rtn";
    int64_t bits = 8, limit = 512;
    double pct = 99.99;
    cli_common common = {0};
    pare_bert_quant_opts o = {.mode = PARE_BERT_W8A8_DYNAMIC, .calib = PARE_CALIB_MINMAX};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = cli_common_option(&common, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(HELP, stdout);
            return CLI_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--type")) {
            if (!(type = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--method")) {
            if (!(method = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--bits")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 64, &bits)) return CLI_USAGE;
        } else if (!strcmp(a, "--act")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "dynamic")) o.mode = PARE_BERT_W8A8_DYNAMIC;
            else if (!strcmp(v, "static")) o.mode = PARE_BERT_W8A8_STATIC;
            else if (!strcmp(v, "none")) o.mode = PARE_BERT_W8_ONLY;
            else {
                fprintf(stderr, "pare quantize: --act must be dynamic, static or none, not '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--calib")) {
            if (!(calib = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--column")) {
            if (!(column = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--limit")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 24, &limit)) return CLI_USAGE;
        } else if (!strcmp(a, "--calib-method")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "minmax")) o.calib = PARE_CALIB_MINMAX;
            else if (!strcmp(v, "percentile")) o.calib = PARE_CALIB_PERCENTILE;
            else {
                fprintf(stderr, "pare quantize: --calib-method must be minmax or percentile, not '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--percentile")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &pct)) return CLI_USAGE;
            if (!(pct > 0 && pct <= 100)) {
                fprintf(stderr, "pare quantize: --percentile must be in (0, 100]\n");
                return CLI_USAGE;
            }
        } else if (a[0] == '-') {
            fprintf(stderr, "pare quantize: unknown option '%s' (pare quantize --help)\n", a);
            return CLI_USAGE;
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "pare quantize: unexpected argument '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "pare quantize: need MODEL and -o OUT (pare quantize --help)\n");
        return CLI_USAGE;
    }
    if (pare_is_gguf_file(model)) {
        if (strcmp(method, "rtn")) {
            fprintf(stderr, "pare quantize: GGUF models take --method rtn so far (got %s)\n", method);
            return CLI_USAGE;
        }
        return quantize_gguf(model, out, type, bits);
    }
    if (type) {
        fprintf(stderr, "pare quantize: --type is for GGUF models; BERT folders take --bits 8 --act ...\n");
        return CLI_USAGE;
    }
    if (strcmp(method, "rtn") != 0 || bits != 8) {
        fprintf(stderr, "pare quantize: only --method rtn --bits 8 exists so far (got %s, %lld bits)\n", method, (long long)bits);
        return CLI_USAGE;
    }
    if ((o.mode == PARE_BERT_W8A8_STATIC) != (calib != NULL)) {
        fprintf(stderr, "pare quantize: %s\n", calib ? "--calib is only used with --act static" : "--act static needs --calib FILE");
        return CLI_USAGE;
    }
    o.percentile = pct;
    pare_err err = {0};
    cli_texts texts = {0};
    pare_bert *m = NULL;
    int rc = CLI_OK;
    if (calib) {
        if (cli_texts_load_file(&texts, calib, column, limit, &err)) {
            rc = cli_fail("quantize", &err);
            goto done;
        }
        if (texts.n == 0) {
            pare_err_set(&err, PARE_ERR_FORMAT, "%s: no calibration texts", calib);
            rc = cli_fail("quantize", &err);
            goto done;
        }
        o.calib_texts = (const char *const *)texts.items;
        o.n_calib = texts.n;
    }
    if (cli_load_bert(model, &common, &m, &err) || pare_bert_quantize(m, &o, &err) ||
        pare_bert_save_quantized(m, model, out, &err)) {
        rc = cli_fail("quantize", &err);
        goto done;
    }
    fprintf(stderr, "pare quantize: wrote %s (%s%s%s)\n", out, pare_bert_qmode_name(o.mode),
            calib ? ", calibrated on " : "", calib ? calib : "");
done:
    pare_bert_free(m);
    cli_texts_free(&texts);
    return rc;
}
