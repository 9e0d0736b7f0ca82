/* Llama-family decoder from a GGUF file (llama.cpp's layout).
 *
 * Hyperparameters come from the <arch>.* metadata keys, weights from the
 * blk.N.* tensors. Linear weights stay in their ggml block type, used in
 * place from the file mapping and run by pare_qmatmul; the parts of a
 * stacked weight (q/k/v, gate/up) are concatenated into the weights arena
 * when they share a type, and dequantized to f32 otherwise. With
 * params.dequantize every weight is dequantized to f32 at load and runs the
 * exact f32 path.
 *
 * llama.cpp's converter permutes the rows of attn_q and attn_k of llama
 * models for its interleaved RoPE, so those use PARE_ROPE_NORM; qwen2 files
 * are not permuted and keep HF's NEOX layout. */
#include "models/llama_impl.h"
#include "pare/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static pare_status meta_int(const pare_gguf *g, const char *arch, const char *key, int64_t def, int64_t lo,
                            int64_t hi, int64_t *out, pare_err *err) {
    char k[160];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    return pare_gguf_get_int(g, k, def, lo, hi, out, err);
}

static pare_status meta_f32(const pare_gguf *g, const char *arch, const char *key, float def, double *out,
                            pare_err *err) {
    char k[160];
    float v;
    snprintf(k, sizeof k, "%s.%s", arch, key);
    pare_status s = pare_gguf_get_f32(g, k, def, &v, err);
    *out = v;
    return s;
}

static pare_status read_config(pare_llama *m, pare_err *err) {
    const pare_gguf *g = m->gguf;
    const char *path = pare_gguf_path(g);
    pare_llama_config *c = &m->cfg;
    memset(c, 0, sizeof *c);
    char arch[32];
    pare_status s = pare_gguf_get_str(g, "general.architecture", "", arch, sizeof arch, err);
    if (s) return s;
    if (!strcmp(arch, "llama")) {
        c->arch = PARE_LLAMA_ARCH_LLAMA;
        c->rope.mode = PARE_ROPE_NORM;
    } else if (!strcmp(arch, "qwen2")) {
        c->arch = PARE_LLAMA_ARCH_QWEN2;
        c->rope.mode = PARE_ROPE_NEOX;
        c->qkv_bias = true;
    } else {
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: general.architecture '%s' is not a Llama-family decoder pare runs (llama, qwen2)", path, arch);
    }
    snprintf(c->model_type, sizeof c->model_type, "%s", arch);
    snprintf(c->architecture, sizeof c->architecture, "%s (GGUF)", arch);
    const int64_t BIG = (int64_t)1 << 24;
    int64_t key_len = 0, rope_dims = 0;
    if ((s = meta_int(g, arch, "block_count", -1, 1, 4096, &c->n_layers, err)) ||
        (s = meta_int(g, arch, "embedding_length", -1, 1, BIG, &c->hidden_size, err)) ||
        (s = meta_int(g, arch, "feed_forward_length", -1, 1, BIG, &c->intermediate_size, err)) ||
        (s = meta_int(g, arch, "attention.head_count", -1, 1, 4096, &c->n_heads, err)) ||
        (s = meta_int(g, arch, "attention.head_count_kv", 0, 0, 4096, &c->n_kv_heads, err)) ||
        (s = meta_int(g, arch, "attention.key_length", 0, 0, 4096, &key_len, err)) ||
        (s = meta_int(g, arch, "rope.dimension_count", 0, 0, 4096, &rope_dims, err)) ||
        (s = meta_int(g, arch, "context_length", 2048, 1, (int64_t)1 << 30, &c->max_position, err)) ||
        (s = meta_f32(g, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &c->rms_norm_eps, err)) ||
        (s = meta_f32(g, arch, "rope.freq_base", 10000.0f, &c->rope.theta, err)))
        return s;
    if (c->n_layers < 0 || c->hidden_size < 0 || c->intermediate_size < 0 || c->n_heads < 0)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing %s.block_count, embedding_length, feed_forward_length or attention.head_count", path, arch);
    if (c->n_kv_heads == 0) c->n_kv_heads = c->n_heads;
    c->head_dim = key_len ? key_len : c->hidden_size / c->n_heads;
    if (c->n_heads % c->n_kv_heads || c->head_dim % 2 || (!key_len && c->hidden_size % c->n_heads))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: %lld heads, %lld kv heads, hidden %lld do not give an even head size shared by the groups",
                            path, (long long)c->n_heads, (long long)c->n_kv_heads, (long long)c->hidden_size);
    if (rope_dims && rope_dims != c->head_dim)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: partial rotary (rope.dimension_count %lld of head size %lld) is not supported",
                            path, (long long)rope_dims, (long long)c->head_dim);
    char scaling[32];
    snprintf(scaling, sizeof scaling, "%s.rope.scaling.type", arch);
    if ((s = pare_gguf_get_str(g, scaling, "none", scaling, sizeof scaling, err))) return s;
    c->rope.factor = 1;
    if (!strcmp(scaling, "linear")) {
        c->rope.scaling = PARE_ROPE_SCALING_LINEAR;
        if ((s = meta_f32(g, arch, "rope.scaling.factor", 1.0f, &c->rope.factor, err))) return s;
    } else if (strcmp(scaling, "none") != 0) {
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: RoPE scaling '%s' from GGUF is not supported (none, linear)", path, scaling);
    }
    if ((s = pare_llama_config_check(c, path, err))) return s;
    const pare_gguf_tensor *emb = pare_gguf_tensor_find(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2 || emb->ne[0] != c->hidden_size)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: token_embd.weight missing or not [vocab, %lld]", path, (long long)c->hidden_size);
    c->vocab_size = emb->ne[1];
    c->tie_word_embeddings = pare_gguf_tensor_find(g, "output.weight") == NULL;
    int64_t v;
    c->pad_token_id = c->bos_token_id = c->eos_token_id = -1;
    if (!(s = pare_gguf_get_int(g, "tokenizer.ggml.bos_token_id", -1, -1, INT32_MAX, &v, err))) c->bos_token_id = v;
    if (!s && !(s = pare_gguf_get_int(g, "tokenizer.ggml.eos_token_id", -1, -1, INT32_MAX, &v, err))) c->eos_token_id = v;
    if (!s && !(s = pare_gguf_get_int(g, "tokenizer.ggml.padding_token_id", -1, -1, INT32_MAX, &v, err))) c->pad_token_id = v;
    return s;
}

/* A 2-D tensor [n_out rows of n_in] (ggml ne = {n_in, n_out}). */
static pare_status find_matrix(const pare_llama *m, const char *name, int64_t n_out, int64_t n_in,
                               const pare_gguf_tensor **out, pare_err *err) {
    const pare_gguf_tensor *t = pare_gguf_tensor_find(m->gguf, name);
    if (!t) return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing tensor '%s'", pare_gguf_path(m->gguf), name);
    if (t->n_dims > 2 || t->ne[0] != n_in || t->ne[1] != n_out)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' is [%lld x %lld], expected [%lld x %lld]",
                            pare_gguf_path(m->gguf), name, (long long)t->ne[1], (long long)t->ne[0], (long long)n_out,
                            (long long)n_in);
    *out = t;
    return PARE_OK;
}

/* Tensor as f32 (borrowed when it is f32 in the file, else dequantized into
 * dst or the weights arena). */
static pare_status tensor_f32(pare_llama *m, const pare_gguf_tensor *t, float *dst, const float **out, pare_err *err) {
    int64_t n = pare_gguf_tensor_nelem(t);
    if (!dst && t->type == PARE_Q_F32) {
        *out = t->data;
        m->mapped_bytes += t->nbytes;
        return PARE_OK;
    }
    if (!dst) dst = pare_arena_alloc(m->weights, (size_t)n * sizeof(float), 64);
    if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory dequantizing '%s'", t->name);
    pare_status s = pare_dequantize_row((pare_qtype)t->type, t->data, dst, n, err);
    if (s) return pare_err_wrap(err, "%s: tensor '%s'", pare_gguf_path(m->gguf), t->name);
    *out = dst;
    return PARE_OK;
}

static pare_status vector_f32(pare_llama *m, const char *name, int64_t n, float *dst, const float **out,
                              pare_err *err) {
    const pare_gguf_tensor *t = pare_gguf_tensor_find(m->gguf, name);
    if (!t) return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing tensor '%s'", pare_gguf_path(m->gguf), name);
    if (t->n_dims != 1 || t->ne[0] != n) {
        char shape[128] = "";
        for (int d = t->n_dims - 1, k = 0; d >= 0; d--) /* outermost first, as the matrices' messages */
            k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%lld", d == t->n_dims - 1 ? "" : " x ", (long long)t->ne[d]);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' is [%s] (%d-D), expected a vector of %lld",
                            pare_gguf_path(m->gguf), name, shape, t->n_dims, (long long)n);
    }
    m->n_params += n;
    return tensor_f32(m, t, dst, out, err);
}

typedef struct gpart {
    const char *name; /* "attn_q" */
    int64_t n_out;
} gpart;

/* Stack parts of layer il (blk.il.<name>.weight, and .bias when has_bias)
 * into one weight of n_in columns. */
static pare_status load_weight(pare_llama *m, int64_t il, const gpart *parts, int n_parts, int64_t n_in,
                               bool has_bias, llama_weight *w, pare_err *err) {
    const pare_gguf_tensor *t[4];
    int64_t n_out = 0;
    bool same = true;
    char name[96];
    pare_status s;
    for (int p = 0; p < n_parts; p++) {
        if (il >= 0) snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)il, parts[p].name);
        else snprintf(name, sizeof name, "%s", parts[p].name);
        if ((s = find_matrix(m, name, parts[p].n_out, n_in, &t[p], err))) return s;
        same = same && t[p]->type == t[0]->type;
        n_out += parts[p].n_out;
        m->n_params += parts[p].n_out * n_in;
    }
    float *bias = NULL;
    if (has_bias) {
        bias = pare_arena_alloc(m->weights, (size_t)n_out * sizeof(float), 64);
        if (!bias) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int p = 0, row = 0; p < n_parts; row += (int)parts[p].n_out, p++) {
            const float *got;
            snprintf(name, sizeof name, "blk.%lld.%s.bias", (long long)il, parts[p].name);
            if ((s = vector_f32(m, name, parts[p].n_out, bias + row, &got, err))) return s;
        }
    }
    *w = (llama_weight){.qtype = PARE_Q_F32, .n_out = n_out, .n_in = n_in, .bias = bias};
    if (il >= 0 && m->params.calib_only) return PARE_OK; /* shape and bias only */
    if (same && !m->params.dequantize && pare_qmatmul_supports((pare_qtype)t[0]->type)) {
        const pare_qtype qt = (pare_qtype)t[0]->type;
        w->qtype = qt;
        /* repacked 8 (Q8_0: 16) rows at a time for the decode kernel: the
         * original rows are then read only for a ragged tail */
        const bool pack = pare_qpack_supports(qt, m->pool) && !m->params.no_repack && !(m->w8a8 && il >= 0);
        const bool tail = n_out % pare_qpack_group_rows(qt, m->pool) != 0;
        if (n_parts == 1) {
            w->raw = t[0]->data;
            if (!pack || tail) m->mapped_bytes += t[0]->nbytes;
        } else {
            size_t total = 0;
            for (int p = 0; p < n_parts; p++) total += t[p]->nbytes;
            /* stacked: a temporary copy when packing whole groups, else kept */
            uint8_t *dst = pack && !tail ? malloc(total) : pare_arena_alloc(m->weights, total, 64);
            if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory stacking layer %lld", (long long)il);
            w->raw = dst;
            for (int p = 0; p < n_parts; p++) {
                memcpy(dst, t[p]->data, t[p]->nbytes);
                dst += t[p]->nbytes;
            }
        }
        if (qt == PARE_Q_F16 && !m->params.no_sparse) {
            const double min = m->params.sparse_min > 0 ? m->params.sparse_min : 0.3;
            const int64_t z = pare_count_zeros(qt, w->raw, n_out, n_in);
            if ((double)z >= min * (double)(n_out * n_in) &&
                (s = pare_sparse_build(qt, w->raw, n_out, n_in, m->weights, &w->sparse, err)))
                return s;
        }
        if (pack) {
            void *pk = pare_arena_alloc(m->weights, pare_qpack_bytes(qt, n_out, n_in, m->pool), 64);
            s = pk ? pare_qpack(qt, w->raw, n_out, n_in, m->pool, pk, &w->packed, err)
                   : pare_err_set(err, PARE_ERR_OOM, "out of memory repacking layer %lld", (long long)il);
            if (n_parts > 1 && !tail) {
                free((void *)w->raw);
                w->raw = pk; /* non-NULL marks a ggml-typed weight; only packed is read */
            }
            if (s) return s;
        }
        return PARE_OK;
    }
    /* f32: dequantize (or borrow a lone f32 tensor), then pack. */
    const float *src = NULL;
    float *dst = NULL;
    if (n_parts > 1 || t[0]->type != PARE_Q_F32) {
        dst = pare_arena_alloc(m->weights, (size_t)(n_out * n_in) * sizeof(float), 64);
        if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory dequantizing layer %lld", (long long)il);
    }
    for (int p = 0, row = 0; p < n_parts; row += (int)parts[p].n_out, p++)
        if ((s = tensor_f32(m, t[p], dst ? dst + (int64_t)row * n_in : NULL, &src, err))) return s;
    return pare_linear_init(&w->lin, dst ? dst : src, bias, n_out, n_in, m->kernel, m->weights, err);
}

/* pare.w8a8: linear `lin` of layer il, Q8_0 with one scale along each row,
 * into an int8 layer; LLM.int8's outlier columns (key
 * pare.llm_int8.<il>.<lin>) get an f32 copy of their weights. */
static pare_status w8a8_convert(pare_llama *m, int64_t il, int lin, llama_weight *w, pare_err *err) {
    const char *path = pare_gguf_path(m->gguf);
    if (w->qtype != PARE_Q_Q8_0 || !w->raw)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: pare.w8a8 needs Q8_0 linear weights (layer %lld)", path, (long long)il);
    const int64_t R = w->n_out, C = w->n_in, nb = C / 32;
    int8_t *q = malloc((size_t)(R * C));
    float *sc = malloc(sizeof(float) * (size_t)R);
    pare_status s = q && sc ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t r = 0; r < R && !s; r++) {
        const pare_block_q8_0 *bl = (const pare_block_q8_0 *)w->raw + r * nb;
        for (int64_t b = 0; b < nb && !s; b++) {
            if (bl[b].d != bl[0].d)
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: pare.w8a8 but row %lld has more than one scale", path,
                                 (long long)il, (long long)r);
            for (int j = 0; j < 32 && !s; j++) {
                if (bl[b].qs[j] == INT8_MIN)
                    s = pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: pare.w8a8 weight of -128", path, (long long)il);
                q[r * C + 32 * b + j] = bl[b].qs[j];
            }
        }
        const float d = pare_f16_to_f32(bl[0].d);
        sc[r] = d > 0 && isfinite(d) ? d : 1.0f;
        if (!(d > 0)) memset(q + r * C, 0, (size_t)C); /* an all-zero row */
    }
    char key[64];
    snprintf(key, sizeof key, "pare.llm_int8.%lld.%d", (long long)il, lin);
    const int64_t ki = pare_gguf_find_key(m->gguf, key);
    pare_gguf_type et;
    uint64_t n = 0;
    if (!s && ki >= 0 && (!pare_gguf_kv_arr(m->gguf, ki, &et, &n) || et != PARE_GGUF_I32 || n > (uint64_t)C))
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: %s is not an int32 array of at most %lld columns", path, key, (long long)C);
    if (!s && n) {
        const int32_t *src = pare_gguf_kv_arr_data(m->gguf, ki);
        int32_t *idx = pare_arena_alloc(m->weights, sizeof(int32_t) * n, 64);
        float *wo = pare_arena_alloc(m->weights, sizeof(float) * (size_t)R * n, 64);
        if (!src || !idx || !wo) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (uint64_t o = 0; o < n && !s; o++) {
            if (src[o] < 0 || src[o] >= C || (o && src[o] <= src[o - 1]))
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: %s: column %lld is out of range or out of order", path, key,
                                 (long long)src[o]);
            idx[o] = src[o];
        }
        for (int64_t r = 0; r < R && !s; r++)
            for (uint64_t o = 0; o < n; o++) wo[r * (int64_t)n + (int64_t)o] = (float)q[r * C + idx[o]] * sc[r];
        w->outl = idx;
        w->n_outl = (int64_t)n;
        w->w_outl = wo;
    }
    if (!s) s = pare_qlinear_init(&w->q8, q, sc, w->bias, R, C, 0.0f, m->params.kernel, m->weights, err);
    if (!s) w->w8a8 = true;
    free(q);
    free(sc);
    return s;
}

static pare_status load_layer(pare_llama *m, int64_t il, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size, D = c->head_dim, QD = c->n_heads * D, KD = c->n_kv_heads * D;
    const int64_t F = c->intermediate_size;
    llama_layer *L = &m->layers[il];
    char name[96];
    pare_status s;
    snprintf(name, sizeof name, "blk.%lld.attn_norm.weight", (long long)il);
    if ((s = vector_f32(m, name, H, NULL, &L->attn_norm, err))) return s;
    snprintf(name, sizeof name, "blk.%lld.ffn_norm.weight", (long long)il);
    if ((s = vector_f32(m, name, H, NULL, &L->mlp_norm, err))) return s;
    const gpart qkv[] = {{"attn_q", QD}, {"attn_k", KD}, {"attn_v", KD}};
    const gpart o[] = {{"attn_output", H}};
    const gpart gate_up[] = {{"ffn_gate", F}, {"ffn_up", F}};
    const gpart down[] = {{"ffn_down", H}};
    if ((s = load_weight(m, il, qkv, 3, H, c->qkv_bias, &L->qkv, err)) ||
        (s = load_weight(m, il, o, 1, QD, false, &L->o, err)) ||
        (s = load_weight(m, il, gate_up, 2, H, false, &L->gate_up, err)) ||
        (s = load_weight(m, il, down, 1, F, false, &L->down, err)))
        return s;
    llama_weight *w[PARE_LIN_COUNT] = {&L->qkv, &L->o, &L->gate_up, &L->down};
    for (int l = 0; l < PARE_LIN_COUNT && m->w8a8 && !m->params.calib_only && !m->params.dequantize; l++)
        if ((s = w8a8_convert(m, il, l, w[l], err))) return s;
    return PARE_OK;
}

pare_status llama_gguf_load(pare_llama *m, pare_err *err) {
    pare_status s = read_config(m, err);
    if (s) return s;
    char w8[16];
    if ((s = pare_gguf_get_str(m->gguf, "pare.w8a8", "", w8, sizeof w8, err))) return s;
    if (w8[0] && strcmp(w8, "dynamic"))
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: pare.w8a8 is '%s'; pare runs 'dynamic'", pare_gguf_path(m->gguf), w8);
    m->w8a8 = w8[0] && !m->params.dequantize;
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size, V = c->vocab_size;
    const pare_gguf_tensor *emb = pare_gguf_tensor_find(m->gguf, "token_embd.weight");
    m->n_params += V * H;
    if (emb->type == PARE_Q_F32 || m->params.dequantize) {
        if ((s = tensor_f32(m, emb, NULL, &m->embed, err))) return s;
    } else {
        if (!pare_qtype_row_size((pare_qtype)emb->type, H, &m->embed_row_bytes))
            return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: token_embd.weight of type %u has rows of %lld elements that are not whole blocks",
                                pare_gguf_path(m->gguf), emb->type, (long long)H);
        /* the lookup dequantizes without an error path: try row 0 now */
        float *probe = pare_arena_alloc(m->scratch, (size_t)H * sizeof(float), 64);
        if (!probe) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        if ((s = pare_dequantize_row((pare_qtype)emb->type, emb->data, probe, H, err)))
            return pare_err_wrap(err, "%s: token_embd.weight", pare_gguf_path(m->gguf));
        m->embed_raw = emb->data;
        m->embed_qtype = emb->type;
        m->mapped_bytes += emb->nbytes;
    }
    if ((s = vector_f32(m, "output_norm.weight", H, NULL, &m->norm, err))) return s;
    m->layers = pare_arena_calloc(m->weights, sizeof(llama_layer) * (size_t)c->n_layers, 64);
    if (!m->layers) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t il = 0; il < c->n_layers && !s; il++) s = load_layer(m, il, err);
    if (s) return s;
    const gpart head[] = {{c->tie_word_embeddings ? "token_embd.weight" : "output.weight", V}};
    int64_t before = m->n_params;
    if ((s = load_weight(m, -1, head, 1, H, false, &m->lm_head, err))) return s;
    if (c->tie_word_embeddings) m->n_params = before; /* counted once */
    m->has_lm_head = true;
    return PARE_OK;
}
