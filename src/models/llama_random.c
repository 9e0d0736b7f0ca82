/* Seeded random-weight Llama-family folders (config.json + model.safetensors)
 * that transformers loads, for tests and benchmarks. No tokenizer files. */
#include "pare/llama.h"
#include "models/random_weights.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

static const char *arch_class(const pare_llama_random_opts *o) {
    static const char *const causal[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};
    static const char *const cls[] = {"LlamaForSequenceClassification", "MistralForSequenceClassification",
                                      "Qwen2ForSequenceClassification"};
    return o->n_labels > 0 ? cls[o->arch] : causal[o->arch];
}

static void add_rope(cJSON *c, const pare_llama_random_opts *o) {
    const pare_llama_rope *r = &o->rope;
    if (r->scaling == PARE_ROPE_SCALING_NONE) {
        cJSON_AddNullToObject(c, "rope_scaling");
        return;
    }
    cJSON *rs = cJSON_AddObjectToObject(c, "rope_scaling");
    cJSON_AddStringToObject(rs, "rope_type", pare_rope_scaling_name(r->scaling));
    cJSON_AddNumberToObject(rs, "factor", r->factor);
    if (r->scaling == PARE_ROPE_SCALING_LLAMA3 || r->scaling == PARE_ROPE_SCALING_YARN)
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", (double)r->original_max_position);
    if (r->scaling == PARE_ROPE_SCALING_LLAMA3) {
        cJSON_AddNumberToObject(rs, "low_freq_factor", r->low_freq_factor);
        cJSON_AddNumberToObject(rs, "high_freq_factor", r->high_freq_factor);
    }
    if (r->scaling == PARE_ROPE_SCALING_YARN) {
        cJSON_AddNumberToObject(rs, "beta_fast", r->beta_fast);
        cJSON_AddNumberToObject(rs, "beta_slow", r->beta_slow);
    }
}

static pare_status write_config(const char *dir, const pare_llama_random_opts *o, pare_err *err) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(c, "architectures"), cJSON_CreateString(arch_class(o)));
    cJSON_AddStringToObject(c, "model_type", pare_llama_arch_name(o->arch));
    cJSON_AddNumberToObject(c, "vocab_size", (double)o->vocab_size);
    cJSON_AddNumberToObject(c, "hidden_size", (double)o->hidden_size);
    cJSON_AddNumberToObject(c, "intermediate_size", (double)o->intermediate_size);
    cJSON_AddNumberToObject(c, "num_hidden_layers", (double)o->n_layers);
    cJSON_AddNumberToObject(c, "num_attention_heads", (double)o->n_heads);
    cJSON_AddNumberToObject(c, "num_key_value_heads", (double)o->n_kv_heads);
    if (o->head_dim) cJSON_AddNumberToObject(c, "head_dim", (double)o->head_dim);
    cJSON_AddStringToObject(c, "hidden_act", "silu");
    cJSON_AddNumberToObject(c, "max_position_embeddings", (double)(o->max_position ? o->max_position : 2048));
    cJSON_AddNumberToObject(c, "rms_norm_eps", 1e-5);
    cJSON_AddNumberToObject(c, "rope_theta", o->rope_theta > 0 ? o->rope_theta : 10000.0);
    add_rope(c, o);
    cJSON_AddBoolToObject(c, "tie_word_embeddings", o->tie_word_embeddings);
    if (o->arch != PARE_LLAMA_ARCH_QWEN2) {
        cJSON_AddBoolToObject(c, "attention_bias", o->attention_bias);
        cJSON_AddBoolToObject(c, "mlp_bias", false);
    }
    if (o->arch == PARE_LLAMA_ARCH_MISTRAL) cJSON_AddNullToObject(c, "sliding_window");
    if (o->arch == PARE_LLAMA_ARCH_QWEN2) cJSON_AddBoolToObject(c, "use_sliding_window", false);
    cJSON_AddNumberToObject(c, "initializer_range", 0.02);
    cJSON_AddNumberToObject(c, "bos_token_id", 1);
    cJSON_AddNumberToObject(c, "eos_token_id", 2);
    if (o->n_labels > 0) {
        cJSON_AddNumberToObject(c, "pad_token_id", (double)o->pad_token_id);
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
    cJSON_AddStringToObject(c, "torch_dtype", "float32");
    pare_status s = pare_write_json_file(dir, "config.json", c, err);
    cJSON_Delete(c);
    return s;
}

static pare_status build_tensors(pare_tensor_builder *b, const pare_llama_random_opts *o, pare_err *err) {
    const int64_t H = o->hidden_size, F = o->intermediate_size, V = o->vocab_size;
    const int64_t D = o->head_dim ? o->head_dim : H / o->n_heads, QD = o->n_heads * D, KD = o->n_kv_heads * D;
    const bool qkv_bias = o->arch == PARE_LLAMA_ARCH_QWEN2 || o->attention_bias;
    const bool o_bias = o->arch != PARE_LLAMA_ARCH_QWEN2 && o->attention_bias;
    char n[200];
    pare_status s = PARE_OK;
    /* linear [d0, d1]: N(0, 1/sqrt(d1)); vector [d0]: mean + N(0, std) */
#define LIN(d0, d1, ...) \
    if (!s) { snprintf(n, sizeof n, __VA_ARGS__); s = pare_tensor_builder_add(b, n, d0, d1, 0.0f, (float)(1.0 / sqrt((double)(d1))), err); }
#define VEC(d0, mean, std, ...) \
    if (!s) { snprintf(n, sizeof n, __VA_ARGS__); s = pare_tensor_builder_add(b, n, d0, 0, mean, std, err); }
    if (!s) s = pare_tensor_builder_add(b, "model.embed_tokens.weight", V, H, 0.0f, 1.0f, err);
    for (int64_t l = 0; l < o->n_layers; l++) {
        long long il = (long long)l;
        VEC(H, 1.0f, 0.1f, "model.layers.%lld.input_layernorm.weight", il);
        LIN(QD, H, "model.layers.%lld.self_attn.q_proj.weight", il);
        LIN(KD, H, "model.layers.%lld.self_attn.k_proj.weight", il);
        LIN(KD, H, "model.layers.%lld.self_attn.v_proj.weight", il);
        if (qkv_bias) {
            VEC(QD, 0.0f, 0.1f, "model.layers.%lld.self_attn.q_proj.bias", il);
            VEC(KD, 0.0f, 0.1f, "model.layers.%lld.self_attn.k_proj.bias", il);
            VEC(KD, 0.0f, 0.1f, "model.layers.%lld.self_attn.v_proj.bias", il);
        }
        LIN(H, QD, "model.layers.%lld.self_attn.o_proj.weight", il);
        if (o_bias) VEC(H, 0.0f, 0.1f, "model.layers.%lld.self_attn.o_proj.bias", il);
        VEC(H, 1.0f, 0.1f, "model.layers.%lld.post_attention_layernorm.weight", il);
        LIN(F, H, "model.layers.%lld.mlp.gate_proj.weight", il);
        LIN(F, H, "model.layers.%lld.mlp.up_proj.weight", il);
        LIN(H, F, "model.layers.%lld.mlp.down_proj.weight", il);
    }
    VEC(H, 1.0f, 0.1f, "model.norm.weight");
    if (o->n_labels > 0) {
        LIN(o->n_labels, H, "score.weight");
    } else if (!o->tie_word_embeddings) {
        LIN(V, H, "lm_head.weight");
    }
#undef LIN
#undef VEC
    return s;
}

static pare_status write_files(const char *dir, void *ctx, pare_err *err);

pare_status pare_llama_write_random(const char *dir, const pare_llama_random_opts *o, pare_err *err) {
    const int64_t D = o->head_dim ? o->head_dim : (o->n_heads > 0 ? o->hidden_size / o->n_heads : 0);
    if (o->n_layers <= 0 || o->hidden_size <= 0 || o->n_heads <= 0 || o->n_kv_heads <= 0 ||
        o->intermediate_size <= 0 || o->vocab_size <= 0 || o->n_heads % o->n_kv_heads || D <= 0 || D % 2 ||
        (!o->head_dim && o->hidden_size % o->n_heads) || o->n_labels < 0 || (unsigned)o->arch > PARE_LLAMA_ARCH_QWEN2 ||
        (o->n_labels > 0 && (o->pad_token_id < 0 || o->pad_token_id >= o->vocab_size)))
        return pare_err_set(err, PARE_ERR_INVALID, "random llama: bad shape (layers %lld, hidden %lld, heads %lld, "
                            "kv heads %lld, head_dim %lld, ffn %lld, vocab %lld, labels %lld)", (long long)o->n_layers,
                            (long long)o->hidden_size, (long long)o->n_heads, (long long)o->n_kv_heads, (long long)D,
                            (long long)o->intermediate_size, (long long)o->vocab_size, (long long)o->n_labels);
    return pare_outdir_write(dir, write_files, (void *)o, err);
}

static pare_status write_files(const char *dir, void *ctx, pare_err *err) {
    const pare_llama_random_opts *o = ctx;
    pare_status s = write_config(dir, o, err);
    if (s) return s;
    pare_tensor_builder b;
    if ((s = pare_tensor_builder_init(&b, o->seed, err))) return s;
    s = build_tensors(&b, o, err);
    if (!s) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        s = pare_tensor_builder_write(&b, path, err);
    }
    pare_tensor_builder_free(&b);
    return s;
}
