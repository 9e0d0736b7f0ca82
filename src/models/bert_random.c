/* Seeded random-weight BERT folders for tests and benchmarks. */
#include "pare/bert.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct rng {
    uint64_t s;
    bool have_spare;
    float spare;
} rng;

static uint64_t rng_next(rng *r) { /* splitmix64 */
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float rng_normal(rng *r) { /* Box-Muller */
    if (r->have_spare) {
        r->have_spare = false;
        return r->spare;
    }
    double u1 = ((double)(rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    double mag = sqrt(-2.0 * log(u1));
    r->spare = (float)(mag * sin(2 * M_PI * u2));
    r->have_spare = true;
    return (float)(mag * cos(2 * M_PI * u2));
}

typedef struct builder {
    pare_arena *arena;
    pare_tensor *t;
    int64_t n, cap;
    rng r;
} builder;

/* kind: 'w' normal(0, 0.02), 'g' 1 + normal(0, 0.02), 'b' normal(0, 0.02) */
static pare_status add(builder *b, const char *name, int64_t d0, int64_t d1, char kind, pare_err *err) {
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 64;
        pare_tensor *t = realloc(b->t, sizeof *t * (size_t)cap);
        if (!t) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        b->t = t;
        b->cap = cap;
    }
    int64_t n = d0 * (d1 ? d1 : 1);
    float *data = pare_arena_alloc(b->arena, (size_t)n * sizeof(float), 64);
    char *nm = pare_arena_strdup(b->arena, name, strlen(name));
    if (!data || !nm) return pare_err_set(err, PARE_ERR_OOM, "out of memory for %s", name);
    for (int64_t i = 0; i < n; i++) data[i] = (kind == 'g' ? 1.0f : 0.0f) + 0.02f * rng_normal(&b->r);
    pare_tensor *t = &b->t[b->n++];
    memset(t, 0, sizeof *t);
    t->name = nm;
    t->dtype = PARE_DTYPE_F32;
    t->n_dims = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->data = data;
    t->nbytes = (size_t)n * sizeof(float);
    return PARE_OK;
}

static pare_status copy_file(const char *src, const char *dst, pare_err *err) {
    char *buf;
    size_t len;
    pare_status s = pare_read_file(src, 64u << 20, &buf, &len, err);
    if (s) return s;
    FILE *f = fopen(dst, "wb");
    if (!f) {
        free(buf);
        return pare_err_set(err, PARE_ERR_IO, "%s: cannot create: %s", dst, strerror(errno));
    }
    size_t w = fwrite(buf, 1, len, f);
    free(buf);
    if (fclose(f) != 0 || w != len) return pare_err_set(err, PARE_ERR_IO, "%s: write failed", dst);
    return PARE_OK;
}

static pare_status write_config(const char *dir, const pare_bert_random_opts *o, int64_t vocab,
                                pare_err *err) {
    cJSON *c = cJSON_CreateObject();
    cJSON *arch = cJSON_AddArrayToObject(c, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(o->n_labels > 0 ? "BertForSequenceClassification" : "BertModel"));
    cJSON_AddStringToObject(c, "model_type", "bert");
    cJSON_AddNumberToObject(c, "vocab_size", (double)vocab);
    cJSON_AddNumberToObject(c, "hidden_size", (double)o->hidden_size);
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)o->n_layers);
    cJSON_AddNumberToObject(c, "num_attention_heads", (double)o->n_heads);
    cJSON_AddNumberToObject(c, "intermediate_size", (double)o->intermediate_size);
    cJSON_AddNumberToObject(c, "max_position_embeddings", (double)(o->max_position ? o->max_position : 512));
    cJSON_AddNumberToObject(c, "type_vocab_size", 2);
    cJSON_AddStringToObject(c, "hidden_act", "gelu");
    cJSON_AddNumberToObject(c, "layer_norm_eps", 1e-12);
    cJSON_AddNumberToObject(c, "hidden_dropout_prob", 0.1);
    cJSON_AddNumberToObject(c, "attention_probs_dropout_prob", 0.1);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddNumberToObject(c, "pad_token_id", 0);
    cJSON_AddStringToObject(c, "position_embedding_type", "absolute");
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    if (o->n_labels > 0) {
        cJSON_AddNumberToObject(c, "num_labels", (double)o->n_labels);
        cJSON *id2 = cJSON_AddObjectToObject(c, "id2label"), *l2 = cJSON_AddObjectToObject(c, "label2id");
        for (int64_t i = 0; i < o->n_labels; i++) {
            char k[32], v[32];
            snprintf(k, sizeof k, "%lld", (long long)i);
            snprintf(v, sizeof v, "LABEL_%lld", (long long)i);
            cJSON_AddStringToObject(id2, k, v);
            cJSON_AddNumberToObject(l2, v, (double)i);
        }
    }
    char *text = cJSON_Print(c);
    cJSON_Delete(c);
    if (!text) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "wb");
    pare_status s = PARE_OK;
    if (!f) s = pare_err_set(err, PARE_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    else {
        fputs(text, f);
        fputc('\n', f);
        if (fclose(f) != 0) s = pare_err_set(err, PARE_ERR_IO, "%s: write failed", path);
    }
    free(text);
    return s;
}

static pare_status build_tensors(builder *b, const pare_bert_random_opts *o, int64_t V, pare_err *err) {
    const int64_t H = o->hidden_size, I = o->intermediate_size, P = o->max_position ? o->max_position : 512;
    const char *pre = o->n_labels > 0 ? "bert." : "";
    char n[200];
    pare_status s = PARE_OK;
#define ADD(d0, d1, kind, ...) \
    if (!s) { snprintf(n, sizeof n, __VA_ARGS__); s = add(b, n, d0, d1, kind, err); }
    ADD(V, H, 'w', "%sembeddings.word_embeddings.weight", pre);
    ADD(P, H, 'w', "%sembeddings.position_embeddings.weight", pre);
    ADD(2, H, 'w', "%sembeddings.token_type_embeddings.weight", pre);
    ADD(H, 0, 'g', "%sembeddings.LayerNorm.weight", pre);
    ADD(H, 0, 'b', "%sembeddings.LayerNorm.bias", pre);
    for (int64_t l = 0; l < o->n_layers; l++) {
        const char *qkv[3] = {"query", "key", "value"};
        for (int p = 0; p < 3; p++) {
            ADD(H, H, 'w', "%sencoder.layer.%lld.attention.self.%s.weight", pre, (long long)l, qkv[p]);
            ADD(H, 0, 'b', "%sencoder.layer.%lld.attention.self.%s.bias", pre, (long long)l, qkv[p]);
        }
        ADD(H, H, 'w', "%sencoder.layer.%lld.attention.output.dense.weight", pre, (long long)l);
        ADD(H, 0, 'b', "%sencoder.layer.%lld.attention.output.dense.bias", pre, (long long)l);
        ADD(H, 0, 'g', "%sencoder.layer.%lld.attention.output.LayerNorm.weight", pre, (long long)l);
        ADD(H, 0, 'b', "%sencoder.layer.%lld.attention.output.LayerNorm.bias", pre, (long long)l);
        ADD(I, H, 'w', "%sencoder.layer.%lld.intermediate.dense.weight", pre, (long long)l);
        ADD(I, 0, 'b', "%sencoder.layer.%lld.intermediate.dense.bias", pre, (long long)l);
        ADD(H, I, 'w', "%sencoder.layer.%lld.output.dense.weight", pre, (long long)l);
        ADD(H, 0, 'b', "%sencoder.layer.%lld.output.dense.bias", pre, (long long)l);
        ADD(H, 0, 'g', "%sencoder.layer.%lld.output.LayerNorm.weight", pre, (long long)l);
        ADD(H, 0, 'b', "%sencoder.layer.%lld.output.LayerNorm.bias", pre, (long long)l);
    }
    ADD(H, H, 'w', "%spooler.dense.weight", pre);
    ADD(H, 0, 'b', "%spooler.dense.bias", pre);
    if (o->n_labels > 0) {
        ADD(o->n_labels, H, 'w', "classifier.weight");
        ADD(o->n_labels, 0, 'b', "classifier.bias");
    }
#undef ADD
    return s;
}

pare_status pare_bert_write_random(const char *dir, const pare_bert_random_opts *o, pare_err *err) {
    if (o->n_layers <= 0 || o->hidden_size <= 0 || o->n_heads <= 0 || o->intermediate_size <= 0 ||
        o->hidden_size % o->n_heads || o->n_labels < 0 || o->n_labels > PARE_MAX_LABELS || !o->vocab_from)
        return pare_err_set(err, PARE_ERR_INVALID, "random BERT: bad shape (layers %lld, hidden %lld, heads %lld, intermediate %lld)",
                            (long long)o->n_layers, (long long)o->hidden_size, (long long)o->n_heads, (long long)o->intermediate_size);
    char path[4096], src[4096];
    snprintf(src, sizeof src, "%s/config.json", o->vocab_from);
    pare_bert_config vc;
    pare_status s = pare_bert_config_load(src, &vc, err);
    if (s) return pare_err_wrap(err, "random BERT: vocabulary source");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return pare_err_set(err, PARE_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
    static const char *const tok_files[] = {"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"};
    for (size_t i = 0; i < sizeof tok_files / sizeof *tok_files; i++) {
        struct stat st;
        snprintf(src, sizeof src, "%s/%s", o->vocab_from, tok_files[i]);
        snprintf(path, sizeof path, "%s/%s", dir, tok_files[i]);
        if (stat(src, &st) == 0 && (s = copy_file(src, path, err))) return s;
    }
    if ((s = write_config(dir, o, vc.vocab_size, err))) return s;
    builder b = {.arena = pare_arena_create(64u << 20), .r = {.s = o->seed}};
    if (!b.arena) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    s = build_tensors(&b, o, vc.vocab_size, err);
    if (!s) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        s = pare_safetensors_write(path, b.t, b.n, err);
    }
    free(b.t);
    pare_arena_free(b.arena);
    return s;
}

double pare_bert_forward_flops(const pare_bert_config *c, int64_t B, int64_t T) {
    double H = (double)c->hidden_size, I = (double)c->intermediate_size, R = (double)(B * T);
    double per_layer = 2 * R * (4 * H * H + 2 * H * I) + 2 * 2 * (double)B * (double)T * (double)T * H;
    return per_layer * (double)c->n_layers;
}
