/* Seeded random-weight BERT folders for tests and benchmarks. */
#include "pare/bert.h"
#include "models/model_files.h"
#include "models/random_weights.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* kind: 'w' normal(0, 0.02), 'g' 1 + normal(0, 0.02), 'b' normal(0, 0.02) */
static pare_status add(pare_tensor_builder *b, const char *name, int64_t d0, int64_t d1, char kind, pare_err *err) {
    return pare_tensor_builder_add(b, name, d0, d1, kind == 'g' ? 1.0f : 0.0f, 0.02f, err);
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
    pare_status s = pare_write_json_file(dir, "config.json", c, err);
    cJSON_Delete(c);
    return s;
}

static pare_status build_tensors(pare_tensor_builder *b, const pare_bert_random_opts *o, int64_t V, pare_err *err) {
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

static pare_status write_files(const char *dir, void *ctx, pare_err *err);

pare_status pare_bert_write_random(const char *dir, const pare_bert_random_opts *o, pare_err *err) {
    if (o->n_layers <= 0 || o->hidden_size <= 0 || o->n_heads <= 0 || o->intermediate_size <= 0 ||
        o->hidden_size % o->n_heads || o->n_labels < 0 || o->n_labels > PARE_MAX_LABELS || !o->vocab_from)
        return pare_err_set(err, PARE_ERR_INVALID, "random BERT: bad shape (layers %lld, hidden %lld, heads %lld, intermediate %lld)",
                            (long long)o->n_layers, (long long)o->hidden_size, (long long)o->n_heads, (long long)o->intermediate_size);
    return pare_outdir_write(dir, write_files, (void *)o, err);
}

static pare_status write_files(const char *dir, void *ctx, pare_err *err) {
    const pare_bert_random_opts *o = ctx;
    char path[4096], src[4096];
    snprintf(src, sizeof src, "%s/config.json", o->vocab_from);
    pare_bert_config vc;
    pare_status s = pare_bert_config_load(src, &vc, err);
    if (s) return pare_err_wrap(err, "random BERT: vocabulary source");
    if ((s = pare_model_copy_tokenizer(o->vocab_from, dir, err))) return s;
    if ((s = write_config(dir, o, vc.vocab_size, err))) return s;
    pare_tensor_builder b;
    if ((s = pare_tensor_builder_init(&b, o->seed, err))) return s;
    s = build_tensors(&b, o, vc.vocab_size, err);
    if (!s) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        s = pare_tensor_builder_write(&b, path, err);
    }
    pare_tensor_builder_free(&b);
    return s;
}

double pare_bert_forward_flops(const pare_bert_config *c, int64_t B, int64_t T) {
    double H = (double)c->hidden_size, I = (double)c->intermediate_size, R = (double)(B * T);
    double per_layer = 2 * R * (4 * H * H + 2 * H * I) + 2 * 2 * (double)B * (double)T * (double)T * H;
    return per_layer * (double)c->n_layers;
}
