/* Byte-level BPE from a Hugging Face tokenizer.json (include/pare/bpe.h).
 *
 * Read: model (type BPE; vocab; merges as "a b" strings or [a, b] pairs;
 * ignore_merges), added_tokens (special -> control, else user-defined;
 * matched in the text before pre-tokenization), normalizer (none or NFC),
 * pre_tokenizer (Split with a regex and behavior Isolated, Digits,
 * ByteLevel, and Sequences of them), post_processor (ByteLevel, or a
 * TemplateProcessing that puts one special token before the text: the BOS),
 * and bos/eos from tokenizer_config.json beside the file. Everything else
 * (sentencepiece-style byte_fallback BPE, prefix spaces, lstrip/rstrip
 * added tokens, other normalizers) is refused with a message naming the
 * file and the key, rather than tokenized differently from HF. */
#include "tokenize/bpe_impl.h"
#include "pare/gguf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct json_src {
    const char **text; /* [n] by id */
    size_t *len;
    uint8_t *type;
    const cJSON **merges; /* [n_merges]: cJSON's list walked once, not per merge */
    int64_t n_merges;
} json_src;

static bool json_token(const void *ctx, int64_t id, const char **s, size_t *len, int *type) {
    const json_src *c = ctx;
    *s = c->text[id], *len = c->len[id], *type = c->type[id];
    return *s != NULL;
}

static bool json_merge(const void *ctx, int64_t r, const char **a, size_t *la, const char **b, size_t *lb) {
    const json_src *c = ctx;
    const cJSON *m = c->merges[r];
    if (cJSON_IsString(m)) { /* "left right" */
        const char *s = m->valuestring, *sp = *s ? strchr(s + 1, ' ') : NULL;
        if (!sp || strchr(sp + 1, ' ')) return false;
        *a = s, *la = (size_t)(sp - s), *b = sp + 1, *lb = strlen(sp + 1);
        return *lb > 0;
    }
    if (cJSON_IsArray(m) && cJSON_GetArraySize(m) == 2 && cJSON_IsString(m->child) && cJSON_IsString(m->child->next)) {
        *a = m->child->valuestring, *la = strlen(*a);
        *b = m->child->next->valuestring, *lb = strlen(*b);
        return *la > 0 && *lb > 0;
    }
    return false;
}

typedef struct pre_acc {
    const char *re[8];
    char *owned[8];
    int n;
    bool byte_level;
} pre_acc;

static pare_status unsupported(pare_err *err, const char *name, const char *key, const char *what) {
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: %s: %s", name, key, what);
}

static const char *type_of(const cJSON *o) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static bool flag(const cJSON *o, const char *key, bool def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

/* a literal string as a regex */
static char *quote_regex(const char *s) {
    char *o = malloc(strlen(s) * 2 + 1), *p = o;
    if (!o) return NULL;
    for (; *s; s++) {
        if (strchr("\\^$.|?*+()[]{}", *s)) *p++ = '\\';
        *p++ = *s;
    }
    *p = 0;
    return o;
}

static pare_status collect_pre(const cJSON *p, const char *name, pre_acc *acc, int depth, pare_err *err) {
    const char *ty = type_of(p);
    if (!ty || depth > 4) return pare_err_set(err, PARE_ERR_FORMAT, "%s: pre_tokenizer: an entry without a type", name);
    if (!strcmp(ty, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers"), *e;
        if (!cJSON_IsArray(list)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: pre_tokenizer.pretokenizers is not a list", name);
        cJSON_ArrayForEach(e, list) {
            pare_status s = collect_pre(e, name, acc, depth + 1, err);
            if (s) return s;
        }
        return PARE_OK;
    }
    if (acc->n == 8) return unsupported(err, name, "pre_tokenizer", "more than 8 steps");
    if (!strcmp(ty, "ByteLevel")) {
        if (flag(p, "add_prefix_space", false))
            return unsupported(err, name, "pre_tokenizer.ByteLevel.add_prefix_space", "true is not supported");
        acc->byte_level = true;
        if (flag(p, "use_regex", true)) acc->re[acc->n++] = bpe_gpt2_regex();
        return PARE_OK;
    }
    if (!strcmp(ty, "Digits")) {
        acc->re[acc->n++] = flag(p, "individual_digits", false) ? "\\p{N}" : "\\p{N}+";
        return PARE_OK;
    }
    if (!strcmp(ty, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern"), *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex"), *str = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated"))
            return unsupported(err, name, "pre_tokenizer.Split.behavior", "only Isolated is supported");
        if (flag(p, "invert", false)) return unsupported(err, name, "pre_tokenizer.Split.invert", "true is not supported");
        if (cJSON_IsString(re)) {
            acc->re[acc->n++] = re->valuestring;
        } else if (cJSON_IsString(str)) {
            if (!(acc->owned[acc->n] = quote_regex(str->valuestring))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
            acc->re[acc->n] = acc->owned[acc->n];
            acc->n++;
        } else {
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: pre_tokenizer.Split.pattern is neither {Regex} nor {String}", name);
        }
        return PARE_OK;
    }
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: pre_tokenizer type '%s' is not supported (byte-level BPE: Split, Digits, ByteLevel)",
                        name, ty);
}

/* The BOS of a TemplateProcessing post-processor: a SpecialToken before the
 * sequence in "single"; a SpecialToken after it (EOS appended) is refused. */
static pare_status read_post(const cJSON *pp, const char *name, const char **bos_text, pare_err *err) {
    const char *ty = pp && !cJSON_IsNull(pp) ? type_of(pp) : NULL;
    if (!ty) return PARE_OK;
    if (!strcmp(ty, "ByteLevel")) return PARE_OK;
    if (!strcmp(ty, "Sequence")) {
        const cJSON *e, *list = cJSON_GetObjectItemCaseSensitive(pp, "processors");
        cJSON_ArrayForEach(e, list) {
            pare_status s = read_post(e, name, bos_text, err);
            if (s) return s;
        }
        return PARE_OK;
    }
    if (strcmp(ty, "TemplateProcessing"))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: post_processor type '%s' is not supported", name, ty);
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single"), *e;
    bool seen_seq = false;
    cJSON_ArrayForEach(e, single) {
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        if (cJSON_GetObjectItemCaseSensitive(e, "Sequence")) {
            seen_seq = true;
        } else if (sp) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(sp, "id");
            if (!cJSON_IsString(id)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: post_processor.single: a SpecialToken without id", name);
            if (seen_seq || *bos_text)
                return unsupported(err, name, "post_processor.single", "only one special token before the text is supported");
            *bos_text = id->valuestring;
        }
    }
    return PARE_OK;
}

/* "bos_token": "<s>" or {"content": "<s>", ...} in tokenizer_config.json */
static const char *config_token(const cJSON *cfg, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (cJSON_IsString(v)) return v->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(v, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

static pare_status read_tokens(const cJSON *root, const char *name, json_src *js, int64_t *n_out, pare_err *err) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab"), *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *e;
    if (!cJSON_IsObject(vocab)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab is not an object of token: id", name);
    if (added && !cJSON_IsNull(added) && !cJSON_IsArray(added)) return pare_err_set(err, PARE_ERR_FORMAT, "%s: added_tokens is not a list", name);
    int64_t n = 0, count = 0;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble >= INT32_MAX || e->valuedouble != (double)e->valueint)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab['%.40s'] is not an id", name, e->string);
        if (e->valueint + 1 > n) n = e->valueint + 1;
        count++;
    }
    cJSON_ArrayForEach(e, added) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= INT32_MAX || !cJSON_IsString(content) || !*content->valuestring)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: added_tokens: an entry without an id and a content", name);
        if (id->valueint + 1 > n) n = id->valueint + 1;
    }
    if (n == 0 || n > 4 * count + 1024) /* a stray huge id would make a table of nothing */
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab: %lld entries with ids up to %lld", name, (long long)count, (long long)n - 1);
    js->text = calloc((size_t)n, sizeof *js->text);
    js->len = calloc((size_t)n, sizeof *js->len);
    js->type = calloc((size_t)n, 1);
    if (!js->text || !js->len || !js->type) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    cJSON_ArrayForEach(e, vocab) {
        if (js->text[e->valueint])
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: model.vocab: id %d is given to '%.40s' and '%.40s'", name, e->valueint,
                                js->text[e->valueint], e->string);
        js->text[e->valueint] = e->string;
        js->len[e->valueint] = strlen(e->string);
        js->type[e->valueint] = BPE_TOKEN_NORMAL;
    }
    cJSON_ArrayForEach(e, added) {
        const int id = cJSON_GetObjectItemCaseSensitive(e, "id")->valueint;
        const char *content = cJSON_GetObjectItemCaseSensitive(e, "content")->valuestring;
        if (flag(e, "lstrip", false) || flag(e, "rstrip", false) || flag(e, "single_word", false))
            return unsupported(err, name, "added_tokens", "lstrip / rstrip / single_word added tokens are not supported");
        if (js->text[id] && strcmp(js->text[id], content))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: added_tokens: id %d is '%.40s' but the vocabulary has '%.40s'", name, id,
                                content, js->text[id]);
        js->text[id] = content;
        js->len[id] = strlen(content);
        js->type[id] = flag(e, "special", false) ? BPE_TOKEN_CONTROL : BPE_TOKEN_USER;
    }
    for (int64_t i = 0; i < n; i++)
        if (!js->text[i]) return pare_err_set(err, PARE_ERR_FORMAT, "%s: no token has id %lld (ids must be 0..%lld)", name, (long long)i, (long long)n - 1);
    *n_out = n;
    return PARE_OK;
}

pare_status pare_bpe_from_json(const char *json, size_t len, const char *config, size_t config_len, const char *name,
                               pare_bpe **out, pare_err *err) {
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, len), *cfg = config ? cJSON_ParseWithLength(config, config_len) : NULL;
    json_src js = {0};
    pre_acc acc = {0};
    pare_bpe *t = NULL;
    pare_status s = PARE_OK;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *mt = type_of(model);
    if (!root || !cJSON_IsObject(root)) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: not a JSON object (tokenizer.json)", name);
    } else if (!mt || strcmp(mt, "BPE")) {
        s = unsupported(err, name, "model.type", mt ? "only BPE is supported by this loader" : "missing");
    } else if (flag(model, "byte_fallback", false)) {
        s = unsupported(err, name, "model.byte_fallback", "sentencepiece-style BPE (byte fallback) is not supported yet");
    } else if (config && !cfg) {
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: tokenizer_config.json beside it is not valid JSON", name);
    }
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    bool nfc = false;
    if (!s && norm && !cJSON_IsNull(norm)) {
        const char *nt = type_of(norm);
        if (nt && !strcmp(nt, "NFC")) nfc = true;
        else if (!(nt && !strcmp(nt, "Sequence") && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(norm, "normalizers")) == 0))
            s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: normalizer '%s' is not supported (none or NFC)", name, nt ? nt : "?");
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (!s) {
        if (!pre || cJSON_IsNull(pre)) s = unsupported(err, name, "pre_tokenizer", "missing (byte-level BPE needs ByteLevel)");
        else s = collect_pre(pre, name, &acc, 0, err);
    }
    if (!s && !acc.byte_level) s = unsupported(err, name, "pre_tokenizer", "no ByteLevel step: not a byte-level BPE");
    int64_t n = 0;
    if (!s) s = read_tokens(root, name, &js, &n, err);
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!s && !cJSON_IsArray(merges)) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: model.merges is not a list", name);
    const char *bos_text = NULL;
    if (!s) s = read_post(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), name, &bos_text, err);
    if (!s) s = bpe_new(&t, err);
    if (!s) s = bpe_set_regexes(t, acc.re, acc.n, name, err);
    if (!s) {
        js.n_merges = cJSON_GetArraySize(merges);
        if (!(js.merges = malloc(sizeof *js.merges * (size_t)(js.n_merges + 1)))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        int64_t k = 0;
        for (const cJSON *m = merges->child; m && k < js.n_merges; m = m->next) js.merges[k++] = m;
    }
    if (!s) {
        bpe_src src = {.n_tokens = n, .token = json_token, .n_merges = js.n_merges, .merge = json_merge, .ctx = &js};
        s = bpe_build(t, &src, name, err);
    }
    if (!s) {
        bpe_set_flags(t, nfc, flag(model, "ignore_merges", false));
        const char *bt = bos_text ? bos_text : config_token(cfg, "bos_token"), *et = config_token(cfg, "eos_token");
        int32_t bos = bt ? bpe_find(t, bt, strlen(bt)) : -1, eos = et ? bpe_find(t, et, strlen(et)) : -1;
        if (bos_text && bos < 0) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: post_processor names '%.40s', not in the vocabulary", name, bos_text);
        else bpe_set_special_ids(t, bos, eos, bos_text != NULL);
    }
    for (int i = 0; i < acc.n; i++) free(acc.owned[i]);
    free(js.text), free(js.len), free(js.type), free(js.merges);
    cJSON_Delete(root);
    cJSON_Delete(cfg);
    if (s) {
        pare_bpe_free(t);
        return s;
    }
    *out = t;
    return PARE_OK;
}

pare_status pare_bpe_from_json_file(const char *path, pare_bpe **out, pare_err *err) {
    char *buf = NULL, *cbuf = NULL, cpath[4096];
    size_t len = 0, clen = 0;
    pare_status s = pare_read_file(path, (size_t)1 << 30, &buf, &len, err);
    if (s) return s;
    const char *slash = strrchr(path, '/');
    snprintf(cpath, sizeof cpath, "%.*s%stokenizer_config.json", slash ? (int)(slash - path) : 0, path, slash ? "/" : "");
    FILE *f = fopen(cpath, "rb");
    if (f) {
        fclose(f);
        if ((s = pare_read_file(cpath, (size_t)1 << 26, &cbuf, &clen, err))) {
            free(buf);
            return s;
        }
    }
    s = pare_bpe_from_json(buf, len, cbuf, clen, path, out, err);
    free(buf);
    free(cbuf);
    return s;
}

pare_status pare_bpe_load(const char *path, pare_bpe **out, pare_err *err) {
    *out = NULL;
    if (pare_is_gguf_file(path)) {
        pare_gguf *g;
        pare_status s = pare_gguf_open(path, &g, err);
        if (s) return s;
        s = pare_bpe_from_gguf(g, out, err);
        pare_gguf_close(g);
        return s;
    }
    struct stat st;
    if (stat(path, &st) != 0) return pare_err_set(err, PARE_ERR_IO, "%s: no such file or folder", path);
    if (S_ISDIR(st.st_mode)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/tokenizer.json", path);
        if (stat(p, &st) != 0) return pare_err_set(err, PARE_ERR_IO, "%s: no tokenizer.json in the folder", path);
        return pare_bpe_from_json_file(p, out, err);
    }
    return pare_bpe_from_json_file(path, out, err);
}
