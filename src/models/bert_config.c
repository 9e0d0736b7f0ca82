/* BERT-family config.json: the fields pare needs, checked and ranged. */
#include "pare/bert.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static pare_status parse_act(const char *path, const char *s, pare_act *out, pare_err *err) {
    if (!strcmp(s, "gelu")) *out = PARE_ACT_GELU_ERF;
    else if (!strcmp(s, "gelu_new") || !strcmp(s, "gelu_pytorch_tanh") || !strcmp(s, "gelu_fast"))
        *out = PARE_ACT_GELU_TANH;
    else if (!strcmp(s, "relu")) *out = PARE_ACT_RELU;
    else if (!strcmp(s, "silu") || !strcmp(s, "swish")) *out = PARE_ACT_SILU;
    else
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported", path, s);
    return PARE_OK;
}

/* id2label: {"0": "anger", ...}; label2id is ignored. */
static pare_status parse_labels(const char *path, const cJSON *root, pare_bert_config *cfg,
                                pare_err *err) {
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
    int64_t n = 0;
    if (map) {
        if (!cJSON_IsObject(map))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: id2label is not an object", path);
        n = cJSON_GetArraySize(map);
        if (n > PARE_MAX_LABELS)
            return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: id2label has %lld labels, at most %d",
                                path, (long long)n, PARE_MAX_LABELS);
    }
    if (cfg->n_labels == 0) cfg->n_labels = n;
    for (int64_t i = 0; i < cfg->n_labels; i++) snprintf(cfg->labels[i], sizeof cfg->labels[i], "LABEL_%lld", (long long)i);
    if (!map) return PARE_OK;
    const cJSON *it;
    cJSON_ArrayForEach(it, map) {
        char *end;
        long id = strtol(it->string, &end, 10);
        if (end == it->string || *end || id < 0 || id >= cfg->n_labels || !cJSON_IsString(it))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: id2label entry \"%s\" is not a label id below %lld with a string name",
                                path, it->string, (long long)cfg->n_labels);
        snprintf(cfg->labels[id], sizeof cfg->labels[id], "%s", it->valuestring);
    }
    return PARE_OK;
}

/* The fields of an opened config; path names it in errors. */
static pare_status config_from_json(const pare_json *j, const char *path, pare_bert_config *cfg,
                                    pare_err *err) {
    pare_status s;
    const cJSON *root = pare_json_root(j);
    char act[32];
    int64_t num_labels = 0;
#define TRY(x) do { if ((s = (x)) != PARE_OK) return s; } while (0)
    TRY(pare_json_get_str(j, "model_type", "bert", cfg->model_type, sizeof cfg->model_type, err));
    TRY(pare_json_get_int(j, "vocab_size", -1, 1, 10000000, &cfg->vocab_size, err));
    TRY(pare_json_get_int(j, "hidden_size", -1, 1, 65536, &cfg->hidden_size, err));
    TRY(pare_json_get_int(j, "num_hidden_layers", -1, 1, 1024, &cfg->n_layers, err));
    TRY(pare_json_get_int(j, "num_attention_heads", -1, 1, 1024, &cfg->n_heads, err));
    TRY(pare_json_get_int(j, "intermediate_size", -1, 1, 1 << 20, &cfg->intermediate_size, err));
    TRY(pare_json_get_int(j, "max_position_embeddings", 512, 1, 1 << 20, &cfg->max_position, err));
    TRY(pare_json_get_int(j, "type_vocab_size", 2, 1, 1 << 16, &cfg->type_vocab_size, err));
    TRY(pare_json_get_float(j, "layer_norm_eps", 1e-12, &cfg->layer_norm_eps, err));
    TRY(pare_json_get_str(j, "hidden_act", "gelu", act, sizeof act, err));
    TRY(parse_act(path, act, &cfg->hidden_act, err));
    TRY(pare_json_get_int(j, "num_labels", 0, 0, PARE_MAX_LABELS, &num_labels, err));
    const char *required[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!pare_json_has(j, required[i]))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing required key \"%s\"", path, required[i]);
    if (cfg->hidden_size % cfg->n_heads != 0)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld",
                            path, (long long)cfg->hidden_size, (long long)cfg->n_heads);
    if (!(cfg->layer_norm_eps > 0 && cfg->layer_norm_eps <= 1)) /* NaN fails too */
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: layer_norm_eps %g is out of (0, 1]", path, cfg->layer_norm_eps);
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (cJSON_IsArray(arch) && cJSON_IsString(cJSON_GetArrayItem(arch, 0)))
        snprintf(cfg->architecture, sizeof cfg->architecture, "%s", cJSON_GetArrayItem(arch, 0)->valuestring);
    cfg->n_labels = num_labels;
    TRY(parse_labels(path, root, cfg, err));
    char pt[48];
    TRY(pare_json_get_str(j, "problem_type", "", pt, sizeof pt, err));
    if (!strcmp(pt, "multi_label_classification")) cfg->problem_type = PARE_PROBLEM_MULTI_LABEL;
    else if (!strcmp(pt, "regression")) cfg->problem_type = PARE_PROBLEM_REGRESSION;
    else cfg->problem_type = PARE_PROBLEM_SINGLE_LABEL;
#undef TRY
    return PARE_OK;
}

pare_status pare_bert_config_parse(const char *text, size_t len, const char *name,
                                   pare_bert_config *cfg, pare_err *err) {
    if (!cfg) return pare_err_set(err, PARE_ERR_INVALID, "pare_bert_config_parse: cfg is NULL");
    memset(cfg, 0, sizeof *cfg);
    if (!name) name = "config.json";
    pare_json *j = NULL;
    pare_status s = pare_json_parse(text, len, name, &j, err);
    if (s) return s;
    s = config_from_json(j, name, cfg, err);
    pare_json_free(j);
    return s;
}

pare_status pare_bert_config_load(const char *path, pare_bert_config *cfg, pare_err *err) {
    if (!path || !cfg) return pare_err_set(err, PARE_ERR_INVALID, "pare_bert_config_load: NULL argument");
    memset(cfg, 0, sizeof *cfg);
    char *text = NULL;
    size_t len = 0;
    pare_status s = pare_read_file(path, (size_t)64 << 20, &text, &len, err);
    if (s) return s;
    s = pare_bert_config_parse(text, len, path, cfg, err);
    free(text);
    return s;
}
