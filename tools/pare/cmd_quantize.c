/* pare quantize: write an int8 copy of a BERT-family model folder. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static bool bert_qmode_4bit(pare_bert_qmode q) { return q == PARE_BERT_W4_NF4 || q == PARE_BERT_W4_FP4 || q == PARE_BERT_W4_INT; }

static const char *HELP =
    "usage: pare quantize MODEL -o OUT [--method rtn] [--bits 8] [--act dynamic|static|none]\n"
    "                     [--calib FILE [--column NAME] [--limit N] [--calib-method minmax|percentile]\n"
    "                     [--percentile P]] [--threads N] [--kernel K] [--force]\n"
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
    "Llama-family GGUF files (the result loads in pare and llama.cpp; below 8 bits\n"
    "token_embd/output stay Q8_0):\n"
    "  pare quantize MODEL.gguf --type q8_0|q5_1|q5_0|q4_1|q4_0|f16|f32 -o OUT.gguf\n"
    "      round to nearest, one scale per block of 32 (or --bits 8|5|4: q8_0, q5_0, q4_0)\n"
    "  pare quantize MODEL.gguf --method rtn|gptq|awq --bits 8|5|4 [--group 128] [--sym]\n"
    "                [--calib TEXT [--calib-seqs 32] [--calib-len 512]] [--plan] -o OUT.gguf\n"
    "      one scale (and minimum) per --group inputs of a row, stored as ggml blocks\n"
    "      (4 bits: q4_1, with --sym q4_0; 5: q5_1 / q5_0; 8: q8_0; or --type).\n"
    "      gptq: error feedback through the inverse Hessian of each layer's inputs\n"
    "            [--damp 0.01] [--act-order]; awq: activation-aware channel scales\n"
    "            folded into the norms [--awq-rows 2048]. Both calibrate layer by layer\n"
    "            on --calib (UTF-8 text, e.g. wiki.valid.tokens; or FILE.ids: token\n"
    "            ids separated by white space, for tokenizers pare does not read,\n"
    "            such as SentencePiece 'llama'): memory stays near\n"
    "            one layer in f32 plus the calibration activations; --plan prints\n"
    "            the estimate and exits. --verbose: errors per layer.\n"
    "  pare quantize MODEL.gguf --method smoothquant|llm-int8 --calib TEXT -o OUT.gguf\n"
    "      W8A8: int8 weights with one scale per row (stored as q8_0 blocks of equal\n"
    "      scale: llama.cpp loads the file as plain q8_0) and, in pare, int8 inputs\n"
    "      with one scale per token through the int8 GEMM (key pare.w8a8).\n"
    "      smoothquant [--smooth 0.5]: per input channel s = max|x|^a / max|w|^(1-a),\n"
    "            folded into the norms, the up rows and (one kv head per head) the v rows.\n"
    "      llm-int8 [--threshold 6]: input columns whose calibration max|x| reaches the\n"
    "            threshold stay f32 at run time (pare-only keys pare.llm_int8.*).\n"
    "  pare quantize MODEL.gguf --method nf4|fp4 -o OUT.gguf\n"
    "      bitsandbytes NF4 / FP4 of the linear weights (blocks of 64, double-quantized\n"
    "      absmax). No ggml type holds them, so the file keeps the 4-bit values as F16:\n"
    "      it measures the format's accuracy (perplexity), not its size.\n"
    "\n"
    "  --method smoothquant [--smooth 0.8]\n"
    "                  SmoothQuant (Xiao et al. 2023) on top of --act dynamic|static: per\n"
    "                  input channel s = max|x|^alpha / max|w|^(1-alpha) on --calib texts;\n"
    "                  int8 inputs are x / s, weights W * s (outliers move into the weights).\n"
    "                  alpha 0.8 by default: on MiniLM / SemEval the paper's 0.5 lost accuracy\n"
    "\n"
    "4-bit weight-only (BERT folders; the layers run on the dequantized weights,\n"
    "so this measures what the format costs in accuracy and on disk):\n"
    "  --method nf4|fp4           bitsandbytes NF4 / FP4: absmax per 64 weights,\n"
    "                             double-quantized (int8 absmax, scale per 256 blocks)\n"
    "  --bits 4 --method rtn|gptq int4 with a scale and minimum per --group (128)\n"
    "                             inputs; gptq calibrates on --calib texts\n"
    "\n"
    "An existing OUT is replaced only with --force; OUT is written beside its final\n"
    "name and renamed into place, so a killed run leaves no partial OUT and OUT may\n"
    "even be MODEL itself.\n"
    CLI_FORCE_HELP
    "\n"
    "example:\n"
    "  pare quantize .cache/models/minilm-l6 -o /tmp/minilm-int8\n"
    "  pare quantize .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --type q8_0 -o /tmp/smollm2-q8_0.gguf\n"
    "  pare quantize $M --method gptq --bits 4 --group 128 --calib ../shared/data/wikitext-2/wiki.valid.tokens -o /tmp/gptq.gguf\n"
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

typedef struct gguf_wq_args {
    const char *method, *type, *calib;
    int64_t bits, group, n_seq, seq_len, awq_rows;
    double damp, smooth, threshold;
    bool sym, act_order, plan, verbose;
} gguf_wq_args;

/* Estimated peak memory and time of a calibrated quantization. */
static void print_plan(const char *model, const pare_llama_config *c, const gguf_wq_args *a) {
    const double H = (double)c->hidden_size, F = (double)c->intermediate_size, D = (double)c->head_dim;
    const double QD = (double)c->n_heads * D, QKV = (double)(c->n_heads + 2 * c->n_kv_heads) * D;
    const double tokens = (double)a->n_seq * (double)a->seq_len, L = (double)c->n_layers;
    double stats = 0, flops = 2 * pare_llama_forward_flops(c, (int64_t)tokens, a->seq_len / 2);
    if (!strcmp(a->method, "gptq")) {
        const double k2 = 3 * H * H + F * F; /* x x^T of qkv, o, gate_up; down */
        stats = 8 * k2 + 4 * F * F + 8 * F * F * 2 + 4 * 2 * F * F;
        flops += L * (tokens * k2 + (QKV * H * H + H * QD * QD + 2 * F * H * H + H * F * F) * 6);
    } else if (!strcmp(a->method, "awq")) {
        const double rows = a->awq_rows > 0 ? (double)a->awq_rows : 2048;
        stats = 4 * rows * (3 * H + F);
        flops += L * 20 * 2 * rows * (QKV * H + 2 * F * H + H * F);
    }
    const double calib = (double)pare_llama_calib_bytes(c, a->n_seq, a->seq_len);
    fprintf(stderr,
            "plan: %s, %s %lld bits, group %lld, %lld calibration sequences of %lld tokens\n"
            "  memory: model file mapped (read once per layer) + %.0f MB activations and one layer in f32\n"
            "          + %.0f MB method statistics + the quantized rows (about the output size)\n"
            "  time:   about %.0f s at 100 GFLOP/s (%.1f TFLOP)\n",
            model, a->method, (long long)a->bits, (long long)a->group, (long long)a->n_seq, (long long)a->seq_len,
            calib / 1e6, stats / 1e6, flops / 1e11, flops / 1e12);
}

/* A GGUF decoder onto a grid with a group size, by RTN, GPTQ or AWQ. */
static int quantize_gguf_grid(const char *model, const char *out, const gguf_wq_args *a, const cli_common *common) {
    pare_llama_wq_opts o = {.grid.group = a->group, .n_threads = common->n_threads, .verbose = a->verbose,
                            .gptq = {.damp = a->damp, .act_order = a->act_order, .block = 128}, .awq_rows = a->awq_rows};
    if (!pare_wq_method_parse(a->method, &o.method)) {
        fprintf(stderr, "pare quantize: --method for GGUF models is rtn, gptq, awq, smoothquant or llm-int8, not '%s'\n", a->method);
        return CLI_USAGE;
    }
    o.smooth_alpha = a->smooth;
    o.outlier_threshold = a->threshold;
    const bool w8a8 = o.method == PARE_WQ_SMOOTHQUANT || o.method == PARE_WQ_LLM_INT8;
    if (w8a8 && (a->bits != 8 || (a->type && strcmp(a->type, "q8_0")))) {
        fprintf(stderr, "pare quantize: %s is W8A8: 8 bits (q8_0 blocks with one scale per row), not %lld bits\n",
                a->method, (long long)a->bits);
        return CLI_USAGE;
    }
    if ((a->smooth > 0 && o.method != PARE_WQ_SMOOTHQUANT) || (a->threshold > 0 && o.method != PARE_WQ_LLM_INT8)) {
        fprintf(stderr, "pare quantize: --smooth is for --method smoothquant, --threshold for --method llm-int8\n");
        return CLI_USAGE;
    }
    const char *type = a->type;
    if (!type) type = a->bits == 8 ? "q8_0" : a->bits == 5 ? (a->sym ? "q5_0" : "q5_1") : a->bits == 4 ? (a->sym ? "q4_0" : "q4_1") : "?";
    o.grid.type = pare_qtype_by_name(type);
    const char *why = o.grid.type == PARE_Q_COUNT ? "unknown type" : pare_grid_check(&o.grid);
    if (why) {
        fprintf(stderr, "pare quantize: %s (type %s, --group %lld): --bits 8, 5 or 4, or --type q8_0|q5_1|q5_0|q4_1|q4_0, --group a multiple of 32\n",
                why, type, (long long)a->group);
        return CLI_USAGE;
    }
    const bool w4 = o.method == PARE_WQ_NF4 || o.method == PARE_WQ_FP4;
    if (w4 && (a->type || a->bits != 4)) {
        fprintf(stderr, "pare quantize: %s is 4 bits (blocks of 64, double-quantized absmax), no --type\n", a->method);
        return CLI_USAGE;
    }
    if (pare_wq_method_calibrates(o.method) != (a->calib != NULL)) {
        fprintf(stderr, "pare quantize: %s\n", a->calib ? "--calib is for --method gptq, awq, smoothquant or llm-int8"
                                                       : "gptq, awq, smoothquant and llm-int8 need --calib TEXT (e.g. ../shared/data/wikitext-2/wiki.valid.tokens)");
        return CLI_USAGE;
    }
    pare_err err = {0};
    int32_t *ids = NULL;
    int rc = CLI_OK;
    if (a->plan) {
        pare_llama *m;
        pare_llama_params p = pare_llama_default_params();
        p.no_repack = true;
        if (pare_llama_load(model, &p, &m, &err)) {
            rc = cli_fail("quantize", &err);
        } else {
            print_plan(model, pare_llama_get_config(m), a);
            pare_llama_free(m);
        }
        return rc;
    }
    double t0 = pare_time_now();
    if (a->calib) {
        if (pare_calib_gguf_tokens(model, a->calib, a->n_seq, a->seq_len, &ids, &o.n_seq, &err)) {
            rc = cli_fail("quantize", &err);
            goto done;
        }
        o.tokens = ids;
        o.seq_len = a->seq_len;
        fprintf(stderr, "pare quantize: %s: %lld calibration sequences of %lld tokens\n", a->calib, (long long)o.n_seq,
                (long long)o.seq_len);
    }
    pare_progress prog;
    if (pare_llama_wquantize(model, out, &o, &prog, &err)) {
        rc = cli_fail("quantize", &err);
        goto done;
    }
    if (w8a8)
        fprintf(stderr, "pare quantize: wrote %s (%s: int8 weights, one scale per row, int8 inputs per token) in %.1f s\n",
                out, pare_wq_method_name(o.method), pare_time_now() - t0);
    else if (w4)
        fprintf(stderr, "pare quantize: wrote %s (%s values stored as F16: no ggml type holds them) in %.1f s\n", out,
                pare_wq_method_name(o.method), pare_time_now() - t0);
    else
        fprintf(stderr, "pare quantize: wrote %s (%s, %s, group %lld) in %.1f s\n", out, pare_wq_method_name(o.method),
                pare_qtype_get((uint32_t)o.grid.type)->name, (long long)o.grid.group, pare_time_now() - t0);
done:
    free(ids);
    return rc;
}

int cmd_quantize(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *calib = NULL, *column = NULL, *type = NULL;
    const char *method = "rtn";
    int64_t bits = 8, limit = 512;
    double pct = 99.99;
    gguf_wq_args wq = {.group = 0, .n_seq = 32, .seq_len = 512, .damp = 0.01};
    bool bits_set = false;
    cli_common common = {0};
    pare_bert_quant_opts o = {.mode = PARE_BERT_W8A8_DYNAMIC, .calib = PARE_CALIB_MINMAX};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        const int r = cli_take_arg(&common, argc, argv, &i, HELP);
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_NEXT) continue;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--type")) {
            if (!(type = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--method")) {
            if (!(method = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--bits")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 64, &bits)) return CLI_USAGE;
            bits_set = true;
        } else if (!strcmp(a, "--group")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 20, &wq.group)) return CLI_USAGE;
        } else if (!strcmp(a, "--calib-seqs")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 16, &wq.n_seq)) return CLI_USAGE;
        } else if (!strcmp(a, "--calib-len")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 2, 1 << 16, &wq.seq_len)) return CLI_USAGE;
        } else if (!strcmp(a, "--awq-rows")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 24, &wq.awq_rows)) return CLI_USAGE;
        } else if (!strcmp(a, "--damp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &wq.damp)) return CLI_USAGE;
        } else if (!strcmp(a, "--threshold")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &wq.threshold)) return CLI_USAGE;
            if (!(wq.threshold > 0)) {
                fprintf(stderr, "pare quantize: --threshold takes LLM.int8's outlier magnitude (> 0), e.g. 6\n");
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--sym")) {
            wq.sym = true;
        } else if (!strcmp(a, "--act-order")) {
            wq.act_order = true;
        } else if (!strcmp(a, "--plan")) {
            wq.plan = true;
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            wq.verbose = true;
        } else if (!strcmp(a, "--act")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (!strcmp(v, "dynamic")) o.mode = PARE_BERT_W8A8_DYNAMIC;
            else if (!strcmp(v, "static")) o.mode = PARE_BERT_W8A8_STATIC;
            else if (!strcmp(v, "none")) o.mode = PARE_BERT_W8_ONLY;
            else {
                fprintf(stderr, "pare quantize: --act must be dynamic, static or none, not '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--smooth")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o.smooth_alpha)) return CLI_USAGE;
            if (!(o.smooth_alpha > 0 && o.smooth_alpha < 1)) {
                fprintf(stderr, "pare quantize: --smooth takes SmoothQuant's alpha in (0, 1), e.g. 0.5\n");
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
    if (!wq.plan && !cli_output_ok("quantize", out, &common)) return CLI_USAGE;
    if (pare_is_gguf_file(model)) {
        if (strcmp(method, "rtn") || wq.group || wq.plan) { /* the grid path */
            wq.method = method;
            wq.type = type;
            wq.calib = calib;
            const bool w8 = !strcmp(method, "smoothquant") || !strcmp(method, "llm-int8");
            wq.bits = bits_set ? bits : w8 ? 8 : 4;
            wq.smooth = o.smooth_alpha;
            if (!wq.group) wq.group = 128;
            return quantize_gguf_grid(model, out, &wq, &common);
        }
        return quantize_gguf(model, out, type, bits);
    }
    if (type) {
        fprintf(stderr, "pare quantize: --type is for GGUF models; BERT folders take --bits 8 --act ...\n");
        return CLI_USAGE;
    }
    if (!strcmp(method, "nf4") || !strcmp(method, "fp4") || (bits == 4 && (!strcmp(method, "rtn") || !strcmp(method, "gptq")))) {
        o.mode = !strcmp(method, "nf4") ? PARE_BERT_W4_NF4 : !strcmp(method, "fp4") ? PARE_BERT_W4_FP4 : PARE_BERT_W4_INT;
        o.gptq = !strcmp(method, "gptq");
        o.group = wq.group;
        o.gptq_opts.damp = wq.damp;
        o.gptq_opts.act_order = wq.act_order;
        if (o.gptq != (calib != NULL)) {
            fprintf(stderr, "pare quantize: %s\n", calib ? "--calib is for gptq (and --act static)" : "gptq needs --calib FILE (texts, or a TSV --column)");
            return CLI_USAGE;
        }
    } else if (!strcmp(method, "smoothquant")) {
        if (!(o.smooth_alpha > 0)) o.smooth_alpha = 0.8;
    } else if (strcmp(method, "rtn") != 0 || bits != 8) {
        fprintf(stderr, "pare quantize: BERT folders take --bits 8 (rtn, --act ...), --bits 4 --method rtn|gptq [--group 128], "
                        "or --method nf4|fp4 (got %s, %lld bits)\n", method, (long long)bits);
        return CLI_USAGE;
    }
    if (o.smooth_alpha > 0 && (o.mode == PARE_BERT_W8_ONLY || !calib)) {
        fprintf(stderr, "pare quantize: SmoothQuant (--method smoothquant, --smooth) is for --act dynamic|static and needs --calib FILE\n");
        return CLI_USAGE;
    }
    if (!bert_qmode_4bit(o.mode) && !(o.smooth_alpha > 0) && (o.mode == PARE_BERT_W8A8_STATIC) != (calib != NULL)) {
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
