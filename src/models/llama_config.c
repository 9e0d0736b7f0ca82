/* Llama-family config.json (llama, mistral, qwen2): the fields pare needs,
 * checked and ranged. RoPE scaling is read from transformers 5's
 * "rope_parameters" or the older "rope_scaling" + "rope_theta". */
#include "pare/llama.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const arch_names[] = {"llama", "mistral", "qwen2"};
static const char *const scaling_names[] = {"default", "linear", "dynamic", "llama3", "yarn"};

const char *pare_llama_arch_name(pare_llama_arch a) {
    return (unsigned)a < sizeof arch_names / sizeof *arch_names ? arch_names[a] : "?";
}

const char *pare_rope_scaling_name(pare_rope_scaling s) {
    return (unsigned)s < sizeof scaling_names / sizeof *scaling_names ? scaling_names[s] : "?";
}

/* A number under key of a nested object: def when absent or null, an error
 * when not a finite number inside [lo, hi]. */
static pare_status obj_num(const cJSON *o, const char *path, const char *key, double def, double lo,
                           double hi, double *out, pare_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return PARE_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: rope scaling '%s' is not a number in [%g, %g]", path, key, lo, hi);
    *out = v->valuedouble;
    return PARE_OK;
}

/* A token id that may be null, absent, an integer or a list of integers
 * (Llama 3's eos_token_id): the first one, or -1. */
static pare_status token_id(const cJSON *root, const char *path, const char *key, int64_t vocab,
                            int64_t *out, pare_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    *out = -1;
    if (cJSON_IsArray(v)) v = cJSON_GetArrayItem(v, 0);
    if (!v || cJSON_IsNull(v)) return PARE_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble >= (double)vocab)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is not a token id below vocab_size %lld", path, key,
                            (long long)vocab);
    *out = (int64_t)v->valuedouble;
    return PARE_OK;
}

static pare_status parse_rope(const cJSON *root, const char *path, pare_llama_config *cfg, pare_err *err) {
    pare_llama_rope *r = &cfg->rope;
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "rope_parameters");
    if (!cJSON_IsObject(p)) p = cJSON_GetObjectItemCaseSensitive(root, "rope_scaling");
    if (p && !cJSON_IsNull(p) && !cJSON_IsObject(p))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: rope_scaling is not an object", path);
    if (!cJSON_IsObject(p)) p = NULL;
    pare_status s;
    double theta_root, x = 0;
    {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "rope_theta");
        theta_root = 10000.0;
        if (t && !cJSON_IsNull(t)) {
            if (!cJSON_IsNumber(t) || !(t->valuedouble > 1.0) || !isfinite(t->valuedouble))
                return pare_err_set(err, PARE_ERR_FORMAT, "%s: rope_theta is not a number > 1", path);
            theta_root = t->valuedouble;
        }
    }
    r->theta = theta_root;
    r->scaling = PARE_ROPE_SCALING_NONE;
    r->mode = PARE_ROPE_NEOX;
    r->factor = 1.0;
    r->original_max_position = cfg->max_position;
    r->beta_fast = 32;
    r->beta_slow = 1;
    r->truncate = true;
    if (!p) return PARE_OK;
    if ((s = obj_num(p, path, "rope_theta", theta_root, 1.0 + 1e-9, 1e12, &r->theta, err))) return s;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(p, "rope_type");
    if (!t) t = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *type = cJSON_IsString(t) ? t->valuestring : "default";
    if (t && !cJSON_IsString(t)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: rope_type is not a string", path);
    bool known = false;
    for (unsigned i = 0; i < sizeof scaling_names / sizeof *scaling_names; i++)
        if (!strcmp(type, scaling_names[i])) {
            r->scaling = (pare_rope_scaling)i;
            known = true;
        }
    if (!known)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: rope scaling \"%s\" is not supported (default, linear, "
                            "dynamic, llama3, yarn are)", path, type);
    if (r->scaling == PARE_ROPE_SCALING_NONE) return PARE_OK;
    if (r->scaling == PARE_ROPE_SCALING_DYNAMIC && cfg->head_dim < 4)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: dynamic rope scaling needs head_dim >= 4", path);
    const cJSON *pf = cJSON_GetObjectItemCaseSensitive(p, "partial_rotary_factor");
    if (pf && !cJSON_IsNull(pf) && !(cJSON_IsNumber(pf) && pf->valuedouble == 1.0))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: partial_rotary_factor != 1 is not supported", path);
    if (!cJSON_GetObjectItemCaseSensitive(p, "factor"))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: rope scaling \"%s\" without 'factor'", path, type);
    if ((s = obj_num(p, path, "factor", 1.0, 1.0, 1e6, &r->factor, err))) return s;
    if ((s = obj_num(p, path, "original_max_position_embeddings", (double)cfg->max_position, 1, 1 << 24, &x, err)))
        return s;
    r->original_max_position = (int64_t)x;
    if (r->scaling == PARE_ROPE_SCALING_LLAMA3) {
        if ((s = obj_num(p, path, "low_freq_factor", 1.0, 1e-6, 1e6, &r->low_freq_factor, err)) ||
            (s = obj_num(p, path, "high_freq_factor", 4.0, 1e-6, 1e6, &r->high_freq_factor, err)))
            return s;
        if (!(r->high_freq_factor > r->low_freq_factor))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: llama3 rope high_freq_factor %g is not above low_freq_factor %g",
                                path, r->high_freq_factor, r->low_freq_factor);
    }
    if (r->scaling == PARE_ROPE_SCALING_YARN) {
        if (cJSON_GetObjectItemCaseSensitive(p, "mscale") || cJSON_GetObjectItemCaseSensitive(p, "mscale_all_dim"))
            return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: yarn mscale/mscale_all_dim are not supported", path);
        if ((s = obj_num(p, path, "beta_fast", 32, 1e-6, 1e6, &r->beta_fast, err)) ||
            (s = obj_num(p, path, "beta_slow", 1, 1e-6, 1e6, &r->beta_slow, err)) ||
            (s = obj_num(p, path, "attention_factor", 0, 0, 1e3, &r->attention_factor, err)))
            return s;
        if (r->beta_fast == 0) r->beta_fast = 32; /* HF: `or 32` */
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(p, "truncate");
        if (tr && !cJSON_IsNull(tr)) {
            if (!cJSON_IsBool(tr)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: yarn 'truncate' is not a bool", path);
            r->truncate = cJSON_IsTrue(tr);
        }
    }
    return PARE_OK;
}

static pare_status config_from_json(const pare_json *j, const char *path, pare_llama_config *cfg, pare_err *err) {
    pare_status s;
    const cJSON *root = pare_json_root(j);
    char act[32];
    bool attention_bias, use_sliding;
    int64_t max_window_layers;
#define TRY(x) do { if ((s = (x)) != PARE_OK) return s; } while (0)
    TRY(pare_json_get_str(j, "model_type", "", cfg->model_type, sizeof cfg->model_type, err));
    bool known = false;
    for (unsigned i = 0; i < sizeof arch_names / sizeof *arch_names; i++)
        if (!strcmp(cfg->model_type, arch_names[i])) {
            cfg->arch = (pare_llama_arch)i;
            known = true;
        }
    if (!known)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not a Llama-family decoder "
                            "(llama, mistral, qwen2)", path, cfg->model_type);
    const char *required[] = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!pare_json_has(j, required[i]))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing required key \"%s\"", path, required[i]);
    TRY(pare_json_get_int(j, "vocab_size", -1, 1, 10000000, &cfg->vocab_size, err));
    TRY(pare_json_get_int(j, "hidden_size", -1, 1, 65536, &cfg->hidden_size, err));
    TRY(pare_json_get_int(j, "num_hidden_layers", -1, 1, 1024, &cfg->n_layers, err));
    TRY(pare_json_get_int(j, "num_attention_heads", -1, 1, 1024, &cfg->n_heads, err));
    TRY(pare_json_get_int(j, "num_key_value_heads", cfg->n_heads, 1, 1024, &cfg->n_kv_heads, err));
    TRY(pare_json_get_int(j, "intermediate_size", -1, 1, 1 << 20, &cfg->intermediate_size, err));
    TRY(pare_json_get_int(j, "max_position_embeddings", 2048, 1, 1 << 24, &cfg->max_position, err));
    if (cfg->hidden_size % cfg->n_heads != 0 && !pare_json_has(j, "head_dim"))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: hidden_size %lld is not a multiple of num_attention_heads %lld "
                            "and there is no head_dim", path, (long long)cfg->hidden_size, (long long)cfg->n_heads);
    TRY(pare_json_get_int(j, "head_dim", cfg->hidden_size / cfg->n_heads, 2, 1024, &cfg->head_dim, err));
    if (cfg->head_dim % 2 || cfg->head_dim < 2 || cfg->head_dim > 1024)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: head_dim %lld is odd or outside [2, 1024] (RoPE rotates pairs)",
                            path, (long long)cfg->head_dim);
    if (cfg->n_heads % cfg->n_kv_heads)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                            path, (long long)cfg->n_heads, (long long)cfg->n_kv_heads);
    TRY(pare_json_get_float(j, "rms_norm_eps", 1e-6, &cfg->rms_norm_eps, err));
    if (!(cfg->rms_norm_eps > 0 && cfg->rms_norm_eps <= 1))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: rms_norm_eps %g is out of (0, 1]", path, cfg->rms_norm_eps);
    TRY(pare_json_get_str(j, "hidden_act", "silu", act, sizeof act, err));
    if (strcmp(act, "silu") && strcmp(act, "swish"))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (SwiGLU needs silu)", path, act);
    TRY(pare_json_get_bool(j, "tie_word_embeddings", false, &cfg->tie_word_embeddings, err));
    TRY(pare_json_get_bool(j, "attention_bias", false, &attention_bias, err));
    TRY(pare_json_get_bool(j, "mlp_bias", false, &cfg->mlp_bias, err));
    cfg->qkv_bias = cfg->arch == PARE_LLAMA_ARCH_QWEN2 || attention_bias;
    cfg->o_bias = cfg->arch != PARE_LLAMA_ARCH_QWEN2 && attention_bias;
    if (cfg->arch == PARE_LLAMA_ARCH_QWEN2) cfg->mlp_bias = false;
    /* Sliding window: mistral on every layer; qwen2 only with use_sliding_window,
     * from max_window_layers on. */
    TRY(pare_json_get_int(j, "sliding_window", 0, 0, 1 << 30, &cfg->sliding_window, err));
    TRY(pare_json_get_bool(j, "use_sliding_window", false, &use_sliding, err));
    TRY(pare_json_get_int(j, "max_window_layers", 0, 0, 1 << 20, &max_window_layers, err));
    if (cfg->arch == PARE_LLAMA_ARCH_LLAMA) cfg->sliding_window = 0;
    if (cfg->arch == PARE_LLAMA_ARCH_QWEN2) {
        if (!use_sliding) cfg->sliding_window = 0;
        cfg->sliding_from_layer = max_window_layers;
    }
    TRY(parse_rope(root, path, cfg, err));
    const cJSON *arch = cJSON_GetObjectItemCaseSensitive(root, "architectures");
    if (cJSON_IsArray(arch) && cJSON_IsString(cJSON_GetArrayItem(arch, 0)))
        snprintf(cfg->architecture, sizeof cfg->architecture, "%s", cJSON_GetArrayItem(arch, 0)->valuestring);
    TRY(token_id(root, path, "pad_token_id", cfg->vocab_size, &cfg->pad_token_id, err));
    TRY(token_id(root, path, "bos_token_id", cfg->vocab_size, &cfg->bos_token_id, err));
    TRY(token_id(root, path, "eos_token_id", cfg->vocab_size, &cfg->eos_token_id, err));
    cfg->n_labels = 0;
    if (strstr(cfg->architecture, "ForSequenceClassification")) {
        int64_t n_id2label = 0;
        const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "id2label");
        if (cJSON_IsObject(map)) n_id2label = cJSON_GetArraySize(map);
        TRY(pare_json_get_int(j, "num_labels", n_id2label ? n_id2label : 2, 1, 1 << 16, &cfg->n_labels, err));
    }
#undef TRY
    return pare_llama_config_check(cfg, path, err);
}

/* One rule for both loaders (config.json and GGUF metadata): every float
 * hyper-parameter finite and in range, so a NaN or negative value in a file
 * is refused at load instead of turning every logit into NaN. */
pare_status pare_llama_config_check(const pare_llama_config *c, const char *path, pare_err *err) {
    const pare_llama_rope *r = &c->rope;
    struct {
        const char *name;
        double v, lo, hi;
    } const f[] = {
        {"rms_norm_eps", c->rms_norm_eps, 1e-30, 1},
        {"rope theta (freq_base)", r->theta, 1 + 1e-9, 1e12},
        {"rope scaling factor", r->factor, 1, 1e6},
        {"rope low_freq_factor", r->low_freq_factor, 0, 1e6},
        {"rope high_freq_factor", r->high_freq_factor, 0, 1e6},
        {"rope beta_fast", r->beta_fast, 0, 1e6},
        {"rope beta_slow", r->beta_slow, 0, 1e6},
        {"rope attention_factor", r->attention_factor, 0, 1e3},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!(f[i].v >= f[i].lo && f[i].v <= f[i].hi)) /* NaN fails too */
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: %s %g is not a finite number in [%g, %g]", path, f[i].name, f[i].v,
                                f[i].lo, f[i].hi);
    return PARE_OK;
}

pare_status pare_llama_config_parse(const char *text, size_t len, const char *name, pare_llama_config *cfg,
                                    pare_err *err) {
    if (!cfg) return pare_err_set(err, PARE_ERR_INVALID, "pare_llama_config_parse: cfg is NULL");
    memset(cfg, 0, sizeof *cfg);
    if (!name) name = "config.json";
    pare_json *j = NULL;
    pare_status s = pare_json_parse(text, len, name, &j, err);
    if (s) return s;
    s = config_from_json(j, name, cfg, err);
    pare_json_free(j);
    return s;
}

pare_status pare_llama_config_load(const char *path, pare_llama_config *cfg, pare_err *err) {
    if (!path || !cfg) return pare_err_set(err, PARE_ERR_INVALID, "pare_llama_config_load: NULL argument");
    memset(cfg, 0, sizeof *cfg);
    char *text = NULL;
    size_t len = 0;
    pare_status s = pare_read_file(path, (size_t)64 << 20, &text, &len, err);
    if (s) return s;
    s = pare_llama_config_parse(text, len, path, cfg, err);
    free(text);
    return s;
}
