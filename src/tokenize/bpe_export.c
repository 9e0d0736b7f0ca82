/* A GGUF file's byte-level BPE tokenizer written as a Hugging Face
 * tokenizer.json (+ tokenizer_config.json with bos/eos), which
 * tokenizers.Tokenizer.from_file and pare_bpe_from_json_file both read:
 * the model's vocabulary and merges, control and user-defined tokens as
 * added tokens, the pre-tokenizer's regexes (llama.cpp's, by
 * tokenizer.ggml.pre) as isolated Splits before a ByteLevel step, a BOS
 * template when add_bos_token is set. */
#include "tokenize/bpe_impl.h"
#include "pare/gguf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* ctx: the texts of tokenizer.json and tokenizer_config.json */
static pare_status write_files(const char *dir, void *ctx, pare_err *err) {
    char *const *text = ctx, path[PARE_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    pare_status s = pare_write_text(path, text[0], err);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    return s ? s : pare_write_text(path, text[1], err);
}

static char *gguf_string(const pare_gguf *g, int64_t kv, uint64_t i) {
    pare_gguf_str st;
    if (!pare_gguf_kv_arr_str(g, kv, i, &st)) return NULL;
    char *s = malloc(st.len + 1);
    if (s) memcpy(s, st.ptr, st.len), s[st.len] = 0;
    return s;
}

static cJSON *obj_type(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

pare_status pare_bpe_gguf_write_json(const struct pare_gguf *g, const char *dir, pare_err *err) {
    const char *path = pare_gguf_path(g);
    char model[32], pre[64], *tok_json = NULL, *cfg_json = NULL;
    int64_t ti, yi, mi, bos, eos;
    uint64_t n, ny, nm;
    bool add_bos;
    pare_status s;
    if ((s = pare_gguf_get_str(g, "tokenizer.ggml.model", "", model, sizeof model, err))) return s;
    if (strcmp(model, "gpt2"))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: tokenizer.ggml.model is '%s', not byte-level BPE ('gpt2')", path, model);
    if ((s = pare_gguf_get_str(g, "tokenizer.ggml.pre", "default", pre, sizeof pre, err)) ||
        (s = pare_gguf_get_arr(g, "tokenizer.ggml.tokens", PARE_GGUF_STRING, &ti, &n, err)) ||
        (s = pare_gguf_get_arr(g, "tokenizer.ggml.token_type", PARE_GGUF_I32, &yi, &ny, err)) ||
        (s = pare_gguf_get_arr(g, "tokenizer.ggml.merges", PARE_GGUF_STRING, &mi, &nm, err)) ||
        (s = pare_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1, -1, (int64_t)n - 1, &bos, err)) ||
        (s = pare_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1, -1, (int64_t)n - 1, &eos, err)) ||
        (s = pare_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", false, &add_bos, err)))
        return s;
    if (ti < 0 || (yi >= 0 && ny != n)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: tokenizer tokens / types missing or unequal", path);
    const char *re[4];
    int n_re = bpe_pre_regexes(pre, re);
    if (n_re < 0) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: pre-tokenizer '%s' is not one pare knows", path, pre);
    const int32_t *types = yi >= 0 ? pare_gguf_kv_arr_data(g, yi) : NULL;
    cJSON *root = cJSON_CreateObject(), *added = cJSON_CreateArray(), *mdl = obj_type("BPE"), *vocab = cJSON_CreateObject();
    cJSON *merges = cJSON_CreateArray(), *seq = obj_type("Sequence"), *pts = cJSON_CreateArray();
    char *bos_s = NULL, *eos_s = NULL;
    s = root && added && mdl && vocab && merges && seq && pts ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    cJSON_AddStringToObject(root, "version", "1.0");
    cJSON_AddNullToObject(root, "truncation");
    cJSON_AddNullToObject(root, "padding");
    for (uint64_t i = 0; i < n && !s; i++) {
        char *t = gguf_string(g, ti, i);
        if (!t) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: token %llu unreadable", path, (unsigned long long)i);
            break;
        }
        const int ty = types ? types[i] : BPE_TOKEN_NORMAL;
        if ((int64_t)i == bos) bos_s = strdup(t);
        if ((int64_t)i == eos) eos_s = strdup(t);
        if (!cJSON_GetObjectItemCaseSensitive(vocab, t)) cJSON_AddNumberToObject(vocab, t, (double)i);
        if (ty == BPE_TOKEN_CONTROL || ty == BPE_TOKEN_USER) {
            cJSON *a = cJSON_CreateObject();
            cJSON_AddNumberToObject(a, "id", (double)i);
            cJSON_AddStringToObject(a, "content", t);
            cJSON_AddBoolToObject(a, "single_word", 0);
            cJSON_AddBoolToObject(a, "lstrip", 0);
            cJSON_AddBoolToObject(a, "rstrip", 0);
            cJSON_AddBoolToObject(a, "normalized", ty == BPE_TOKEN_USER);
            cJSON_AddBoolToObject(a, "special", ty == BPE_TOKEN_CONTROL);
            cJSON_AddItemToArray(added, a);
        }
        free(t);
    }
    for (uint64_t r = 0; r < nm && !s; r++) {
        char *m = gguf_string(g, mi, r);
        if (!m) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: merge %llu unreadable", path, (unsigned long long)r);
        else cJSON_AddItemToArray(merges, cJSON_CreateString(m));
        free(m);
    }
    if (!s) {
        cJSON_AddItemToObject(root, "added_tokens", added), added = NULL;
        cJSON_AddNullToObject(root, "normalizer");
        for (int i = 0; i < n_re; i++) {
            cJSON *sp = obj_type("Split"), *pat = cJSON_CreateObject();
            cJSON_AddStringToObject(pat, "Regex", re[i]);
            cJSON_AddItemToObject(sp, "pattern", pat);
            cJSON_AddStringToObject(sp, "behavior", "Isolated");
            cJSON_AddBoolToObject(sp, "invert", 0);
            cJSON_AddItemToArray(pts, sp);
        }
        cJSON *bl = obj_type("ByteLevel");
        cJSON_AddBoolToObject(bl, "add_prefix_space", 0);
        cJSON_AddBoolToObject(bl, "trim_offsets", 1);
        cJSON_AddBoolToObject(bl, "use_regex", 0);
        cJSON_AddItemToArray(pts, bl);
        cJSON_AddItemToObject(seq, "pretokenizers", pts), pts = NULL;
        cJSON_AddItemToObject(root, "pre_tokenizer", seq), seq = NULL;
        cJSON *post;
        if (add_bos && bos_s) {
            post = obj_type("TemplateProcessing");
            cJSON *single = cJSON_CreateArray(), *pair = cJSON_CreateArray(), *st = cJSON_CreateObject(), *tokens = cJSON_CreateObject();
            cJSON *sp = cJSON_CreateObject(), *spi = cJSON_CreateObject(), *sq = cJSON_CreateObject(), *sqi = cJSON_CreateObject();
            cJSON_AddStringToObject(spi, "id", bos_s);
            cJSON_AddNumberToObject(spi, "type_id", 0);
            cJSON_AddItemToObject(sp, "SpecialToken", spi);
            cJSON_AddStringToObject(sqi, "id", "A");
            cJSON_AddNumberToObject(sqi, "type_id", 0);
            cJSON_AddItemToObject(sq, "Sequence", sqi);
            cJSON_AddItemToArray(single, sp);
            cJSON_AddItemToArray(single, sq);
            cJSON_AddItemToArray(pair, cJSON_Duplicate(sp, 1));
            cJSON_AddItemToArray(pair, cJSON_Duplicate(sq, 1));
            cJSON *ids = cJSON_CreateArray(), *toks = cJSON_CreateArray();
            cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)bos));
            cJSON_AddItemToArray(toks, cJSON_CreateString(bos_s));
            cJSON_AddStringToObject(st, "id", bos_s);
            cJSON_AddItemToObject(st, "ids", ids);
            cJSON_AddItemToObject(st, "tokens", toks);
            cJSON_AddItemToObject(tokens, bos_s, st);
            cJSON_AddItemToObject(post, "single", single);
            cJSON_AddItemToObject(post, "pair", pair);
            cJSON_AddItemToObject(post, "special_tokens", tokens);
        } else {
            post = obj_type("ByteLevel");
            cJSON_AddBoolToObject(post, "add_prefix_space", 1);
            cJSON_AddBoolToObject(post, "trim_offsets", 0);
            cJSON_AddBoolToObject(post, "use_regex", 1);
        }
        cJSON_AddItemToObject(root, "post_processor", post);
        cJSON *dec = obj_type("ByteLevel");
        cJSON_AddBoolToObject(dec, "add_prefix_space", 1);
        cJSON_AddBoolToObject(dec, "trim_offsets", 1);
        cJSON_AddBoolToObject(dec, "use_regex", 1);
        cJSON_AddItemToObject(root, "decoder", dec);
        cJSON_AddNullToObject(mdl, "dropout");
        cJSON_AddNullToObject(mdl, "unk_token");
        cJSON_AddNullToObject(mdl, "continuing_subword_prefix");
        cJSON_AddNullToObject(mdl, "end_of_word_suffix");
        cJSON_AddBoolToObject(mdl, "fuse_unk", 0);
        cJSON_AddBoolToObject(mdl, "byte_fallback", 0);
        cJSON_AddBoolToObject(mdl, "ignore_merges", !strcmp(pre, "llama-bpe") || !strcmp(pre, "llama3"));
        cJSON_AddItemToObject(mdl, "vocab", vocab), vocab = NULL;
        cJSON_AddItemToObject(mdl, "merges", merges), merges = NULL;
        cJSON_AddItemToObject(root, "model", mdl), mdl = NULL;
        tok_json = cJSON_Print(root);
        cJSON *cfg = cJSON_CreateObject();
        if (bos_s) cJSON_AddStringToObject(cfg, "bos_token", bos_s);
        if (eos_s) cJSON_AddStringToObject(cfg, "eos_token", eos_s);
        cJSON_AddBoolToObject(cfg, "add_bos_token", add_bos);
        cJSON_AddStringToObject(cfg, "tokenizer_class", "PreTrainedTokenizerFast");
        cfg_json = cJSON_Print(cfg);
        cJSON_Delete(cfg);
        if (!tok_json || !cfg_json) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    if (!s) s = pare_outdir_write(dir, write_files, (char *[]){tok_json, cfg_json}, err);
    free(tok_json), free(cfg_json), free(bos_s), free(eos_s);
    cJSON_Delete(root), cJSON_Delete(added), cJSON_Delete(mdl), cJSON_Delete(vocab), cJSON_Delete(merges);
    cJSON_Delete(seq), cJSON_Delete(pts);
    return s;
}
