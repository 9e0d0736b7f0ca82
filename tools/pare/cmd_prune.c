/* pare prune: pruning of Llama-family GGUF decoders. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare prune MODEL.gguf -o OUT.gguf [--method magnitude|wanda|sparsegpt]\n"
    "                  [--sparsity 0.5 | --nm 2:4] [--calib TEXT [--calib-seqs 32] [--calib-len 512]]\n"
    "                  [--damp 0.01] [--threads N] [--verbose]\n"
    "\n"
    "Zeroes weights of every linear layer of every decoder layer (q/k/v, o, gate/up,\n"
    "down; embeddings, norms and the output head are kept) and writes OUT.gguf with\n"
    "F16 linear weights, which pare and llama.cpp load.\n"
    "\n"
    "  magnitude  the smallest |w|, one threshold per linear (no calibration)\n"
    "  wanda      the smallest |w| * ||x_j||_2 per output row (Sun et al. 2023):\n"
    "             input norms from --calib, no weight update\n"
    "  sparsegpt  OBS-style pruning with reconstruction (Frantar & Alistarh 2023):\n"
    "             the mask chosen per block of 128 inputs from w^2 / [H^-1]_jj^2, the\n"
    "             remaining weights updated through the inverse Hessian of --calib\n"
    "  --sparsity fraction of weights zeroed (unstructured); --nm N:M zeroes N of every\n"
    "             M consecutive inputs of a row (2:4, 4:8) with any of the methods\n"
    "\n"
    "Calibration (wanda, sparsegpt) runs layer by layer: each layer sees the\n"
    "outputs of the already pruned layers before it, and memory holds one layer in\n"
    "f32 plus the calibration activations.\n"
    "\n"
    "BERT classifier folders: pare prune FOLDER --sparsity 0.2 [--scope global|local] -o OUT\n"
    "zeroes the encoder's Linear weights (q, k, v, attention output, FFN) with the\n"
    "smallest magnitude, one threshold over all of them by default (the seed\n"
    "study's recipe); recover with pare finetune OUT --keep-zeros.\n"
    "\n"
    "example:\n"
    "  pare prune $M --method sparsegpt --sparsity 0.5 --calib ../shared/data/wikitext-2/wiki.valid.tokens -o /tmp/sgpt.gguf\n"
    "  pare perplexity /tmp/sgpt.gguf ../shared/data/wikitext-2/wiki.test.tokens --chunks 20\n";

/* A BERT classifier folder: magnitude pruning of its encoder Linear weights,
 * written as a folder of the same kind (f32, zeros exact). */
static int prune_folder(const char *model, const char *out, double sparsity, bool global, const cli_common *c) {
    (void)c;
    pare_err err = {0};
    pare_bert_config cfg;
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", model);
    if (pare_bert_config_load(path, &cfg, &err)) return cli_fail("prune", &err);
    if (cfg.n_labels <= 0) {
        fprintf(stderr, "pare prune: %s has no classification head (num_labels); prune encoders in an experiment\n", model);
        return CLI_USAGE;
    }
    pare_trainer_opts to = {.n_labels = cfg.n_labels, .multi_label = cfg.problem_type == PARE_PROBLEM_MULTI_LABEL,
                            .max_batch = 1, .max_len = 2, .adamw = pare_adamw_defaults()};
    pare_bert_trainer *t = NULL;
    int64_t z = 0;
    const char *names[PARE_MAX_LABELS];
    for (int64_t l = 0; l < cfg.n_labels; l++) names[l] = cfg.labels[l];
    if (pare_bert_trainer_create(model, &to, &t, &err) || pare_bert_trainer_prune(t, sparsity, global, &z, &err) ||
        pare_bert_trainer_save(t, out, names, &err)) {
        pare_bert_trainer_free(t);
        return cli_fail("prune", &err);
    }
    pare_bert_trainer_free(t);
    fprintf(stderr, "pare prune: wrote %s (%lld encoder Linear weights zeroed, magnitude %s, %.0f%%)\n", out, (long long)z,
            global ? "global" : "local", sparsity * 100);
    return CLI_OK;
}

int cmd_prune(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *calib = NULL, *method = "magnitude";
    int64_t n_seq = 32, seq_len = 512;
    cli_common common = {0};
    pare_llama_prune_opts o = {.sparsity = 0.5, .damp = 0.01};
    bool global = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        const int r = cli_take_arg(&common, argc, argv, &i, HELP);
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_NEXT) continue;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--method")) {
            if (!(method = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--sparsity")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o.sparsity)) return CLI_USAGE;
            if (!(o.sparsity >= 0 && o.sparsity < 1)) {
                fprintf(stderr, "pare prune: --sparsity must be in [0, 1)\n");
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--nm")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (sscanf(v, "%d:%d", &o.n, &o.m) != 2 || o.n <= 0 || o.n >= o.m || o.m > 64) {
                fprintf(stderr, "pare prune: --nm takes N:M with 0 < N < M <= 64 (2:4, 4:8), not '%s'\n", v);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--calib")) {
            if (!(calib = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--calib-seqs")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, 1 << 16, &n_seq)) return CLI_USAGE;
        } else if (!strcmp(a, "--calib-len")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 2, 1 << 16, &seq_len)) return CLI_USAGE;
        } else if (!strcmp(a, "--damp")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_float(a, v, &o.damp)) return CLI_USAGE;
        } else if (!strcmp(a, "--scope")) {
            if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (strcmp(v, "global") && strcmp(v, "local")) {
                fprintf(stderr, "pare prune: --scope is global or local, not '%s'\n", v);
                return CLI_USAGE;
            }
            global = !strcmp(v, "global");
        } else if (!strcmp(a, "--verbose") || !strcmp(a, "-v")) {
            o.verbose = true;
        } else if (a[0] == '-') {
            fprintf(stderr, "pare prune: unknown option '%s' (pare prune --help)\n", a);
            return CLI_USAGE;
        } else if (!model) {
            model = a;
        } else {
            fprintf(stderr, "pare prune: unexpected argument '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if (!model || !out) {
        fprintf(stderr, "pare prune: need MODEL.gguf and -o OUT.gguf (pare prune --help)\n");
        return CLI_USAGE;
    }
    if (!pare_prune_method_parse(method, &o.method)) {
        fprintf(stderr, "pare prune: --method is magnitude, wanda or sparsegpt, not '%s'\n", method);
        return CLI_USAGE;
    }
    if ((o.method != PARE_PRUNE_MAGNITUDE) != (calib != NULL)) {
        fprintf(stderr, "pare prune: %s\n", calib ? "--calib is for wanda and sparsegpt" : "wanda and sparsegpt need --calib TEXT (e.g. ../shared/data/wikitext-2/wiki.valid.tokens)");
        return CLI_USAGE;
    }
    if (!pare_is_gguf_file(model)) {
        if (o.method != PARE_PRUNE_MAGNITUDE || o.m) {
            fprintf(stderr, "pare prune: %s: BERT folders take --method magnitude with --sparsity (wanda, sparsegpt, --nm: GGUF decoders)\n", model);
            return CLI_USAGE;
        }
        return prune_folder(model, out, o.sparsity, global, &common);
    }
    o.n_threads = common.n_threads;
    pare_err err = {0};
    int32_t *ids = NULL;
    int rc = CLI_OK;
    double t0 = pare_time_now();
    if (calib) {
        if (pare_calib_gguf_tokens(model, calib, n_seq, seq_len, &ids, &o.n_seq, &err)) {
            rc = cli_fail("prune", &err);
            goto done;
        }
        o.tokens = ids;
        o.seq_len = seq_len;
    }
    pare_progress prog;
    if (pare_llama_prune(model, out, &o, &prog, &err)) {
        rc = cli_fail("prune", &err);
        goto done;
    }
    if (o.m) fprintf(stderr, "pare prune: wrote %s (%s, %d:%d) in %.1f s\n", out, method, o.n, o.m, pare_time_now() - t0);
    else fprintf(stderr, "pare prune: wrote %s (%s, %.0f%%) in %.1f s\n", out, method, o.sparsity * 100, pare_time_now() - t0);
done:
    free(ids);
    return rc;
}
