/* pare prune: pruning of Llama-family GGUF decoders. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare prune MODEL.gguf -o OUT.gguf [--method magnitude|wanda|sparsegpt]\n"
    "       pare prune BERT_FOLDER -o OUT [--method magnitude|heads|neurons|layers]\n"
    "                  [--sparsity 0.5 | --nm 2:4] [--calib TEXT [--calib-seqs 32] [--calib-len 512]]\n"
    "                  [--damp 0.01] [--threads N] [--verbose] [--force]\n"
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
    "study's recipe), or --nm 2:4 per row; recover with pare finetune OUT --keep-zeros.\n"
    "pare runs Linear layers with at least half zeros by its sparse kernel\n"
    "(--sparse-min, --no-sparse on pare bench / eval).\n"
    "\n"
    "Structured (BERT folders): --method heads|neurons|layers --sparsity F removes\n"
    "that fraction of attention heads, FFN neurons or whole layers with the least\n"
    "weight magnitude and writes a smaller dense model that transformers loads\n"
    "(heads: config pruned_heads). Heads and neurons go in equal numbers from\n"
    "every layer; --scope global ranks heads over all layers (one stays in each).\n"
    "--importance taylor --data FILE [--examples 256] ranks them instead by\n"
    "first-order Taylor importance, |dL/d mask| summed over batches of the training\n"
    "split (Molchanov et al. 2019; Michel et al. 2019 for heads); the folder needs a\n"
    "classification head trained on that data. transformers 4.x applies pruned_heads\n"
    "at load; for 5.x see tools/hf_pruned_bert.py.\n"
    "\n"
    "An existing OUT is replaced only with --force (written beside it, then renamed).\n"
    CLI_FORCE_HELP
    "\n"
    "example:\n"
    "  pare prune $M --method sparsegpt --sparsity 0.5 --calib ../shared/data/wikitext-2/wiki.valid.tokens -o /tmp/sgpt.gguf\n"
    "  pare perplexity /tmp/sgpt.gguf ../shared/data/wikitext-2/wiki.test.tokens --chunks 20\n"
    "  pare prune $BERT --method heads --sparsity 0.3 -o /tmp/h && pare prune /tmp/h --method neurons --sparsity 0.3 -o /tmp/hn\n";

/* First-order Taylor scores of the units over the first n examples of the
 * training split (seed 42, 60/30/10, as pare finetune) of a labelled TSV,
 * batches of 16 in file order. */
static pare_status taylor_scores(const char *model, const char *data, int64_t n_ex, pare_struct_unit u, double *scores,
                                 pare_err *err) {
    enum { B = 16, T_MAX = 128 };
    pare_dataset d = {0};
    pare_wordpiece *tok = NULL;
    pare_bert_trainer *tr = NULL;
    uint8_t *part = NULL;
    pare_dataset_opts dopt = {0};
    pare_status s = pare_dataset_load(data, &dopt, &d, err);
    if (!s) s = pare_wordpiece_load(model, &tok, err);
    pare_trainer_opts to = {.n_labels = d.n_labels, .multi_label = d.multi_label, .max_batch = B, .max_len = T_MAX,
                            .adamw = pare_adamw_defaults()};
    if (!s) s = pare_bert_trainer_create(model, &to, &tr, err);
    if (!s && !(part = malloc((size_t)d.n))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (!s) pare_dataset_split(d.n, 42, (const double[]){0.6, 0.3, 0.1}, part);
    int32_t ids[B * T_MAX], lens[B], lab[B];
    int8_t mask[B * T_MAX];
    float tgt[B * PARE_DATASET_MAX_LABELS];
    pare_progress prog;
    pare_progress_init(&prog, "taylor", n_ex);
    for (int64_t i = 0, done = 0; !s && i < d.n && done < n_ex;) {
        int64_t nb = 0, T = 1;
        for (; i < d.n && nb < B && done + nb < n_ex; i++) {
            if (part[i] != 0) continue;
            if ((s = pare_wordpiece_encode(tok, d.texts[i], strlen(d.texts[i]), T_MAX, ids + nb * T_MAX, &lens[nb], err))) break;
            lab[nb] = 0;
            for (int64_t l = 0; l < d.n_labels; l++) {
                tgt[nb * d.n_labels + l] = d.labels[i * d.n_labels + l];
                if (d.labels[i * d.n_labels + l]) lab[nb] = (int32_t)l;
            }
            T = lens[nb] > T ? lens[nb] : T;
            nb++;
        }
        if (s || !nb) break;
        int32_t packed[B * T_MAX]; /* [nb][T] */
        for (int64_t b = 0; b < nb; b++)
            for (int64_t t = 0; t < T; t++) {
                packed[b * T + t] = t < lens[b] ? ids[b * T_MAX + t] : pare_wordpiece_pad_id(tok);
                mask[b * T + t] = t < lens[b];
            }
        pare_train_batch bt = {.ids = packed, .mask = mask, .B = nb, .T = T, .targets = tgt, .labels = lab};
        s = pare_bert_trainer_taylor(tr, &bt, u, scores, err);
        done += nb;
        pare_progress_update(&prog, done);
    }
    pare_progress_finish(&prog);
    free(part);
    pare_bert_trainer_free(tr);
    pare_wordpiece_free(tok);
    pare_dataset_free(&d);
    return s;
}

/* Structured pruning of a BERT folder: heads, neurons or layers. */
static int prune_structured(const char *model, const char *out, pare_struct_unit u, double fraction, bool global,
                            const char *data, int64_t n_ex) {
    pare_err err = {0};
    pare_bert_struct_opts so = {.unit = u, .fraction = fraction, .global = global && u != PARE_STRUCT_LAYERS};
    pare_bert_struct_result r;
    double *scores = NULL;
    int64_t n = 0;
    if (data) {
        if (pare_bert_struct_count(model, u, &n, &err)) return cli_fail("prune", &err);
        if (!(scores = calloc((size_t)n, sizeof *scores))) return cli_fail("prune", &(pare_err){.code = PARE_ERR_OOM, .msg = "out of memory"});
        if (taylor_scores(model, data, n_ex, u, scores, &err)) {
            free(scores);
            return cli_fail("prune", &err);
        }
        so.scores = scores;
    }
    pare_status st = pare_bert_prune_structured(model, out, &so, &r, &err);
    free(scores);
    if (st) return cli_fail("prune", &err);
    fprintf(stderr, "pare prune: wrote %s (%s by %s: %lld of %lld kept; encoder layers %.1fM -> %.1fM parameters)\n", out,
            pare_struct_unit_name(u), data ? "first-order Taylor" : "magnitude", (long long)r.units_after, (long long)r.units_before,
            (double)r.params_before / 1e6, (double)r.params_after / 1e6);
    return CLI_OK;
}

/* A BERT classifier folder: magnitude pruning of its encoder Linear weights,
 * written as a folder of the same kind (f32, zeros exact). */
static int prune_folder(const char *model, const char *out, double sparsity, bool global, int nm_n, int nm_m) {
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
    if (pare_bert_trainer_create(model, &to, &t, &err) ||
        (nm_m ? pare_bert_trainer_prune_nm(t, nm_n, nm_m, &z, &err) : pare_bert_trainer_prune(t, sparsity, global, &z, &err)) ||
        pare_bert_trainer_save(t, out, names, &err)) {
        pare_bert_trainer_free(t);
        return cli_fail("prune", &err);
    }
    pare_bert_trainer_free(t);
    if (nm_m)
        fprintf(stderr, "pare prune: wrote %s (%lld encoder Linear weights zeroed, magnitude %d:%d)\n", out, (long long)z, nm_n, nm_m);
    else
        fprintf(stderr, "pare prune: wrote %s (%lld encoder Linear weights zeroed, magnitude %s, %.0f%%)\n", out, (long long)z,
                global ? "global" : "local", sparsity * 100);
    return CLI_OK;
}

int cmd_prune(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *calib = NULL, *method = "magnitude", *importance = "magnitude", *data = NULL;
    int64_t n_seq = 32, seq_len = 512, n_ex = 256;
    cli_common common = {0};
    pare_llama_prune_opts o = {.sparsity = 0.5, .damp = 0.01};
    bool global = true, scope_set = false;
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
        } else if (!strcmp(a, "--importance")) {
            if (!(importance = cli_value(argc, argv, &i))) return CLI_USAGE;
            if (strcmp(importance, "magnitude") && strcmp(importance, "taylor")) {
                fprintf(stderr, "pare prune: --importance is magnitude or taylor, not '%s'\n", importance);
                return CLI_USAGE;
            }
        } else if (!strcmp(a, "--data")) {
            if (!(data = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--examples")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 1, INT64_MAX, &n_ex)) return CLI_USAGE;
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
            scope_set = true;
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
    if (!cli_output_ok("prune", out, &common)) return CLI_USAGE;
    static const char *const units[] = {"heads", "neurons", "layers"};
    for (int u = 0; u < 3; u++)
        if (!strcmp(method, units[u])) {
            if (!model || !out || pare_is_gguf_file(model) || o.m || calib) {
                fprintf(stderr, "pare prune: --method %s takes a BERT folder, --sparsity F (the fraction of %s removed) and -o OUT\n", method, method);
                return CLI_USAGE;
            }
            if (!strcmp(importance, "taylor") != (data != NULL)) {
                fprintf(stderr, "pare prune: --importance taylor needs --data FILE (labelled, as pare finetune reads it), and --data is for it\n");
                return CLI_USAGE;
            }
            return prune_structured(model, out, (pare_struct_unit)u, o.sparsity, global && scope_set, data, n_ex);
        }
    if (!pare_prune_method_parse(method, &o.method)) {
        fprintf(stderr, "pare prune: --method is magnitude, wanda, sparsegpt, heads, neurons or layers, not '%s'\n", method);
        return CLI_USAGE;
    }
    if ((o.method != PARE_PRUNE_MAGNITUDE) != (calib != NULL)) {
        fprintf(stderr, "pare prune: %s\n", calib ? "--calib is for wanda and sparsegpt" : "wanda and sparsegpt need --calib TEXT (e.g. ../shared/data/wikitext-2/wiki.valid.tokens)");
        return CLI_USAGE;
    }
    if (!pare_is_gguf_file(model)) {
        if (o.method != PARE_PRUNE_MAGNITUDE) {
            fprintf(stderr, "pare prune: %s: BERT folders take --method magnitude, heads, neurons or layers (wanda, sparsegpt: GGUF decoders)\n", model);
            return CLI_USAGE;
        }
        return prune_folder(model, out, o.sparsity, global, o.n, o.m);
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
