/* pare info: what a model or tensor file holds. */
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *HELP =
    "usage: pare info MODEL [--json] [--tensors]\n"
    "\n"
    "Describe a model folder (config.json + model.safetensors or pytorch_model.bin)\n"
    "or a single tensor file: architecture, shape, parameter count, dtype mix,\n"
    "size on disk and in memory once loaded by pare.\n"
    "\n"
    "A GGUF file (llama.cpp) shows general.architecture and name, the <arch>.*\n"
    "hyperparameters (blocks, embedding, heads, context, ...), the ggml type mix\n"
    "(tensors and parameters per type), sizes, and every metadata key (arrays\n"
    "longer than 8 shown by type and length). Shapes are in ggml order there:\n"
    "ne[0] is the contiguous row.\n"
    "\n"
    "  --json       one JSON object instead of text\n"
    "  --tensors    also list every tensor (name, dtype or ggml type, shape)\n"
    "\n"
    "examples:\n"
    "  pare info .cache/models/minilm-l6\n"
    "  pare info .cache/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf --tensors\n"
    "\n"
    "Exit codes: 0 ok, 2 the file is missing, malformed or unsupported, 1 other.\n";

typedef struct dtype_mix {
    int64_t tensors[PARE_DTYPE_COUNT];
    int64_t params[PARE_DTYPE_COUNT];
    int64_t total;
} dtype_mix;

static void count_dtypes(const pare_tensor_file *f, dtype_mix *mix) {
    memset(mix, 0, sizeof *mix);
    for (int64_t i = 0; i < pare_tensor_file_count(f); i++) {
        const pare_tensor *t = pare_tensor_file_get(f, i);
        int64_t n = pare_tensor_nelem(t);
        mix->tensors[t->dtype]++;
        mix->params[t->dtype] += n;
        mix->total += n;
    }
}

static size_t folder_bytes(const char *dir) {
    size_t total = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) total += (size_t)st.st_size;
    }
    closedir(d);
    return total;
}

static void print_tensors(const pare_tensor_file *f, bool json) {
    for (int64_t i = 0; i < pare_tensor_file_count(f); i++) {
        const pare_tensor *t = pare_tensor_file_get(f, i);
        char shape[128];
        pare_shape_str(t, shape, sizeof shape);
        if (json) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, t->name);
            printf(", \"dtype\": \"%s\", \"shape\": %s}", pare_dtype_get(t->dtype)->name, shape);
        } else {
            printf("  %-60s %-5s %s\n", t->name, pare_dtype_get(t->dtype)->name, shape);
        }
    }
}

static void print_mix(const dtype_mix *mix, bool json) {
    bool first = true;
    for (int d = 0; d < PARE_DTYPE_COUNT; d++) {
        if (!mix->tensors[d]) continue;
        if (json) printf("%s\"%s\": {\"tensors\": %lld, \"params\": %lld}", first ? "" : ", ",
                         pare_dtype_get((pare_dtype)d)->name, (long long)mix->tensors[d], (long long)mix->params[d]);
        else printf("%s%s %lld tensors / %.2fM params", first ? "" : ", ", pare_dtype_get((pare_dtype)d)->name,
                    (long long)mix->tensors[d], (double)mix->params[d] / 1e6);
        first = false;
    }
}

/* The closing part of both JSON objects: dtype mix and optional tensor list. */
/* Exact zeros of the encoder Linear weights (f32 tensors named
 * ...encoder.layer.N.*.weight, 2-D, not LayerNorm), overall and per layer. */
static void print_bert_sparsity(const pare_tensor_file *f, int64_t n_layers) {
    int64_t *z = calloc((size_t)(n_layers + 1), sizeof *z), *n = calloc((size_t)(n_layers + 1), sizeof *n), zt = 0, nt = 0;
    for (int64_t i = 0; z && n && i < pare_tensor_file_count(f); i++) {
        const pare_tensor *t = pare_tensor_file_get(f, i);
        const char *p = strstr(t->name, "encoder.layer.");
        if (!p || t->dtype != PARE_DTYPE_F32 || t->n_dims != 2 || strstr(t->name, "LayerNorm")) continue;
        const long layer = strtol(p + 14, NULL, 10);
        const int64_t cnt = pare_tensor_nelem(t);
        int64_t zz = 0;
        for (int64_t k = 0; k < cnt; k++) {
            float v;
            memcpy(&v, (const char *)t->data + 4 * k, 4);
            zz += v == 0;
        }
        zt += zz;
        nt += cnt;
        if (layer >= 0 && layer < n_layers) z[layer] += zz, n[layer] += cnt;
    }
    if (nt && zt) {
        printf("sparsity:     %.4f of the encoder Linear weights are zero; per layer:", (double)zt / (double)nt);
        for (int64_t l = 0; l < n_layers; l++)
            if (n[l]) printf(" %.2f", (double)z[l] / (double)n[l]);
        printf("\n");
    }
    free(z);
    free(n);
}

static void print_json_tail(const pare_tensor_file *f, const dtype_mix *mix, bool tensors) {
    print_mix(mix, true);
    printf("}");
    if (tensors) {
        printf(", \"tensor_list\": [");
        print_tensors(f, true);
        printf("]");
    }
    printf("}\n");
}

static int info_file(const char *path, bool json, bool tensors) {
    pare_err err = {0};
    pare_tensor_file *f = NULL;
    if (pare_tensor_file_open(path, &f, &err)) return cli_fail("info", &err);
    dtype_mix mix;
    count_dtypes(f, &mix);
    const char *fmt = pare_tensor_file_format(f) == PARE_FORMAT_SAFETENSORS ? "safetensors" : "pytorch-zip";
    if (json) {
        printf("{\"path\": ");
        cli_json_string(stdout, path);
        printf(", \"format\": \"%s\", \"tensors\": %lld, \"params\": %lld, \"disk_bytes\": %zu, \"dtypes\": {",
               fmt, (long long)pare_tensor_file_count(f), (long long)mix.total, pare_tensor_file_size(f));
        print_json_tail(f, &mix, tensors);
    } else {
        printf("file:       %s (%s)\n", path, fmt);
        printf("tensors:    %lld\n", (long long)pare_tensor_file_count(f));
        printf("parameters: %lld (%.2fM)\n", (long long)mix.total, (double)mix.total / 1e6);
        printf("dtypes:     ");
        print_mix(&mix, false);
        printf("\nsize:       %.2f MB on disk\n", (double)pare_tensor_file_size(f) / 1e6);
        if (tensors) print_tensors(f, false);
    }
    pare_tensor_file_close(f);
    return CLI_OK;
}

static int info_model(const char *dir, const cli_common *c, bool tensors) {
    pare_err err = {0};
    pare_bert *m = NULL;
    if (cli_load_bert(dir, c, &m, &err)) return cli_fail("info", &err);
    const pare_bert_config *cfg = pare_bert_get_config(m);
    /* The checkpoint as stored, for the dtype mix and size on disk. */
    const pare_tensor_file *f = pare_bert_weights_file(m);
    const char *path = pare_tensor_file_path(f);
    dtype_mix mix;
    count_dtypes(f, &mix);
    const pare_wordpiece *tok = pare_bert_tokenizer(m);
    if (c->json) {
        printf("{\"path\": ");
        cli_json_string(stdout, dir);
        printf(", \"architecture\": ");
        cli_json_string(stdout, cfg->architecture[0] ? cfg->architecture : "BertModel");
        printf(", \"model_type\": ");
        cli_json_string(stdout, cfg->model_type);
        printf(", \"layers\": %lld, \"hidden\": %lld, \"heads\": %lld, \"intermediate\": %lld, \"vocab\": %lld, "
               "\"max_position\": %lld, \"labels\": %lld, \"pooler\": %s, \"params\": %lld, \"params_loaded\": %lld, "
               "\"weights_file\": ",
               (long long)cfg->n_layers, (long long)cfg->hidden_size, (long long)cfg->n_heads,
               (long long)cfg->intermediate_size, (long long)cfg->vocab_size, (long long)cfg->max_position,
               (long long)cfg->n_labels, pare_bert_has_pooler(m) ? "true" : "false", (long long)mix.total,
               (long long)pare_bert_n_params(m));
        cli_json_string(stdout, path);
        printf(", \"quantization\": \"%s\", \"disk_bytes\": %zu, \"folder_bytes\": %zu, \"memory_bytes\": %zu, \"tokenizer_vocab\": %d, \"dtypes\": {",
               pare_bert_qmode_name(pare_bert_get_qmode(m)), pare_tensor_file_size(f), folder_bytes(dir), pare_bert_weight_bytes(m),
               tok ? pare_wordpiece_vocab_size(tok) : 0);
        print_json_tail(f, &mix, tensors);
    } else {
        printf("model:        %s\n", dir);
        printf("architecture: %s (%s)\n", cfg->architecture[0] ? cfg->architecture : "BertModel", cfg->model_type);
        printf("shape:        %lld layers, hidden %lld, %lld heads, intermediate %lld, vocab %lld, max positions %lld\n",
               (long long)cfg->n_layers, (long long)cfg->hidden_size, (long long)cfg->n_heads,
               (long long)cfg->intermediate_size, (long long)cfg->vocab_size, (long long)cfg->max_position);
        bool pruned = false;
        int n_sparse = 0;
        for (int64_t l = 0; l < cfg->n_layers; l++) {
            const pare_bert_layer_info li = pare_bert_layer(m, l);
            pruned |= li.n_heads != cfg->n_heads || li.ffn != cfg->intermediate_size;
            n_sparse += li.n_sparse;
        }
        if (pruned) { /* structured pruning: per-layer heads / FFN width */
            printf("per layer:    heads");
            for (int64_t l = 0; l < cfg->n_layers; l++) printf(" %lld", (long long)pare_bert_layer(m, l).n_heads);
            printf("; FFN");
            for (int64_t l = 0; l < cfg->n_layers; l++) printf(" %lld", (long long)pare_bert_layer(m, l).ffn);
            printf("\n");
        }
        if (n_sparse)
            printf("sparse:       %d of %lld encoder Linear layers run by the sparse kernel (>= %.0f%% zeros)\n", n_sparse,
                   (long long)(4 * cfg->n_layers), 100 * (c->sparse_min > 0 ? c->sparse_min : 0.5));
        if (cfg->n_labels) {
            printf("head:         %lld labels (%s):", (long long)cfg->n_labels,
                   cfg->problem_type == PARE_PROBLEM_MULTI_LABEL ? "multi-label" : "single-label");
            for (int64_t l = 0; l < cfg->n_labels && l < 16; l++) printf(" %s", cfg->labels[l]);
            printf("%s\n", cfg->n_labels > 16 ? " ..." : "");
        } else {
            printf("head:         none (encoder only%s)\n", pare_bert_has_pooler(m) ? ", with pooler" : "");
        }
        printf("parameters:   %lld (%.2fM); %lld used by the encoder\n", (long long)mix.total,
               (double)mix.total / 1e6, (long long)pare_bert_n_params(m));
        printf("dtypes:       ");
        print_mix(&mix, false);
        printf("\nsize on disk: %.2f MB weights (%s), %.2f MB folder\n", (double)pare_tensor_file_size(f) / 1e6,
               path, (double)folder_bytes(dir) / 1e6);
        pare_bert_qmode qm = pare_bert_get_qmode(m);
        if (qm == PARE_BERT_W8A8_DYNAMIC || qm == PARE_BERT_W8A8_STATIC)
            printf("in memory:    %.2f MB of weights as loaded by pare (%s: encoder Linears int8 packed for %s, the rest f32)\n",
                   (double)pare_bert_weight_bytes(m) / 1e6, pare_bert_qmode_name(qm), pare_qisa_name(pare_qisa_resolve(c->kernel)));
        else
            printf("in memory:    %.2f MB of weights as loaded by pare (%sf32, packed for %s)\n",
                   (double)pare_bert_weight_bytes(m) / 1e6, qm == PARE_BERT_W8_ONLY ? "int8 on disk, dequantized to " : "",
                   pare_kernel_impl_name(pare_kernel_resolve(c->kernel)));
        print_bert_sparsity(f, cfg->n_layers);
        if (tok) printf("tokenizer:    WordPiece, %d tokens, lowercase %s\n", pare_wordpiece_vocab_size(tok),
                        pare_wordpiece_options(tok)->lowercase ? "yes" : "no");
        if (tensors) print_tensors(f, false);
    }
    pare_bert_free(m);
    return CLI_OK;
}

/* model_type of dir/config.json is a Llama-family decoder. */
static bool is_llama_folder(const char *dir) {
    char path[4096], mt[32];
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_json *j = NULL;
    if (pare_json_open(path, &j, NULL)) return false;
    bool yes = !pare_json_get_str(j, "model_type", "", mt, sizeof mt, NULL) &&
               (!strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "qwen2"));
    pare_json_free(j);
    return yes;
}

static int info_llama(const char *dir, const cli_common *c, bool tensors) {
    pare_err err = {0};
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = c->n_threads;
    p.kernel = c->kernel;
    pare_llama *m = NULL;
    if (pare_llama_load(dir, &p, &m, &err)) return cli_fail("info", &err);
    const pare_llama_config *cfg = pare_llama_get_config(m);
    const pare_tensor_file *f = pare_llama_weights_file(m);
    const char *path = pare_tensor_file_path(f);
    const char *arch = cfg->architecture[0] ? cfg->architecture : cfg->model_type;
    dtype_mix mix;
    count_dtypes(f, &mix);
    char rope[128];
    snprintf(rope, sizeof rope, "theta %g, scaling %s", cfg->rope.theta, pare_rope_scaling_name(cfg->rope.scaling));
    if (cfg->rope.scaling != PARE_ROPE_SCALING_NONE)
        snprintf(rope + strlen(rope), sizeof rope - strlen(rope), " x%g", cfg->rope.factor);
    if (c->json) {
        printf("{\"path\": ");
        cli_json_string(stdout, dir);
        printf(", \"architecture\": ");
        cli_json_string(stdout, arch);
        printf(", \"model_type\": ");
        cli_json_string(stdout, cfg->model_type);
        printf(", \"layers\": %lld, \"hidden\": %lld, \"heads\": %lld, \"kv_heads\": %lld, \"head_dim\": %lld, "
               "\"intermediate\": %lld, \"vocab\": %lld, \"max_position\": %lld, \"tied_embeddings\": %s, "
               "\"labels\": %lld, \"rope\": ",
               (long long)cfg->n_layers, (long long)cfg->hidden_size, (long long)cfg->n_heads,
               (long long)cfg->n_kv_heads, (long long)cfg->head_dim, (long long)cfg->intermediate_size,
               (long long)cfg->vocab_size, (long long)cfg->max_position, cfg->tie_word_embeddings ? "true" : "false",
               (long long)cfg->n_labels);
        cli_json_string(stdout, rope);
        printf(", \"params\": %lld, \"params_loaded\": %lld, \"weights_file\": ", (long long)mix.total,
               (long long)pare_llama_n_params(m));
        cli_json_string(stdout, path);
        printf(", \"disk_bytes\": %zu, \"folder_bytes\": %zu, \"memory_bytes\": %zu, \"dtypes\": {",
               pare_tensor_file_size(f), folder_bytes(dir), pare_llama_weight_bytes(m));
        print_json_tail(f, &mix, tensors);
    } else {
        printf("model:        %s\n", dir);
        printf("architecture: %s (%s)\n", arch, cfg->model_type);
        printf("shape:        %lld layers, hidden %lld, %lld heads (%lld kv, head dim %lld), intermediate %lld, "
               "vocab %lld, max positions %lld\n",
               (long long)cfg->n_layers, (long long)cfg->hidden_size, (long long)cfg->n_heads,
               (long long)cfg->n_kv_heads, (long long)cfg->head_dim, (long long)cfg->intermediate_size,
               (long long)cfg->vocab_size, (long long)cfg->max_position);
        printf("rope:         %s\n", rope);
        if (cfg->n_labels) printf("head:         sequence classification, %lld labels (pad id %lld)\n",
                                  (long long)cfg->n_labels, (long long)cfg->pad_token_id);
        else printf("head:         LM head%s\n", cfg->tie_word_embeddings ? " (tied to the embeddings)" : "");
        printf("parameters:   %lld (%.2fM) in the file; %lld loaded\n", (long long)mix.total, (double)mix.total / 1e6,
               (long long)pare_llama_n_params(m));
        printf("dtypes:       ");
        print_mix(&mix, false);
        printf("\nsize on disk: %.2f MB weights (%s), %.2f MB folder\n", (double)pare_tensor_file_size(f) / 1e6,
               path, (double)folder_bytes(dir) / 1e6);
        printf("in memory:    %.2f MB of weights as loaded by pare (f32, packed for %s)\n",
               (double)pare_llama_weight_bytes(m) / 1e6, pare_kernel_impl_name(pare_kernel_resolve(c->kernel)));
        if (tensors) print_tensors(f, false);
    }
    pare_llama_free(m);
    return CLI_OK;
}

int cmd_info(int argc, char **argv) {
    cli_common c = {0};
    const char *target = NULL;
    bool tensors = false;
    for (int i = 1; i < argc; i++) {
        int r = cli_common_option(&c, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(HELP, stdout);
            return CLI_OK;
        } else if (!strcmp(argv[i], "--tensors")) {
            tensors = true;
        } else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "pare info: unexpected argument '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    struct stat st;
    if (stat(target, &st) != 0) {
        fprintf(stderr, "pare info: %s: no such file or folder\n", target);
        return CLI_USAGE;
    }
    if (!S_ISDIR(st.st_mode))
        return pare_is_gguf_file(target) ? cli_info_gguf(target, c.json, tensors) : info_file(target, c.json, tensors);
    return is_llama_folder(target) ? info_llama(target, &c, tensors) : info_model(target, &c, tensors);
}
