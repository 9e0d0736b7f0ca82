/* Llama-family decoder, fp32: load from a Hugging Face folder, KV cache, and
 * the forward pass (prefill and decode are the same code: a batch of tokens
 * of any slots appended to the cache).
 *
 * Per layer: RMSNorm -> one stacked QKV GEMM -> RoPE on q and k -> k, v into
 * the cache -> grouped-query attention over the cache -> o_proj + residual
 * -> RMSNorm -> one stacked gate/up GEMM -> SwiGLU -> down_proj + residual.
 * Then the final RMSNorm on the output rows only, and the LM head and/or the
 * score head. */
#include "models/llama_impl.h"
#include "models/model_files.h"
#include "pare/quant.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ loading */

static const pare_tensor *find_tensor(const pare_llama *m, const char *name) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", m->prefix, name);
    return pare_tensor_file_find(m->file, buf);
}

static pare_status check_shape(const pare_llama *m, const pare_tensor *t, int32_t n_dims, const int64_t *shape,
                               pare_err *err) {
    if (pare_tensor_has_shape(t, n_dims, shape)) return PARE_OK;
    pare_tensor want = {.n_dims = n_dims};
    memcpy(want.shape, shape, sizeof(int64_t) * (size_t)n_dims);
    char got_s[96], want_s[96];
    return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                        pare_tensor_file_path(m->file), t->name, pare_shape_str(t, got_s, sizeof got_s),
                        pare_shape_str(&want, want_s, sizeof want_s));
}

/* Tensor `name` (under the prefix unless `bare`) as f32 of the given shape:
 * borrowed from the file mapping when it is stored as aligned f32, else
 * converted into the weights arena (or into dst when given). */
static pare_status load_f32(pare_llama *m, const char *name, bool bare, int32_t n_dims, const int64_t *shape,
                            float *dst, const float **out, pare_err *err) {
    *out = NULL;
    const pare_tensor *t = bare ? pare_tensor_file_find(m->file, name) : find_tensor(m, name);
    if (!t)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing tensor '%s%s'", pare_tensor_file_path(m->file),
                            bare ? "" : m->prefix, name);
    pare_status s = check_shape(m, t, n_dims, shape, err);
    if (s) return s;
    int64_t n = pare_tensor_nelem(t);
    m->n_params += n;
    if (!dst && t->dtype == PARE_DTYPE_F32 && ((uintptr_t)t->data & 3) == 0) {
        *out = t->data;
        m->mapped_bytes += t->nbytes;
        return PARE_OK;
    }
    size_t bytes;
    if (n < 0 || !pare_mul_size((size_t)n, sizeof(float), &bytes))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' is too large", pare_tensor_file_path(m->file), t->name);
    if (!dst) dst = pare_arena_alloc(m->weights, bytes, 64);
    if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory loading '%s' (%zu bytes)", t->name, bytes);
    s = pare_convert_to_f32(t->dtype, t->data, dst, n, err);
    if (s) return pare_err_wrap(err, "%s: tensor '%s'", pare_tensor_file_path(m->file), t->name);
    *out = dst;
    return PARE_OK;
}

typedef struct part {
    const char *name; /* e.g. "self_attn.q_proj" */
    int64_t n_out;
} part;

/* Stack the weights (and biases, when has_bias) of parts of layer il into
 * one f32 linear [sum n_out, n_in]. */
static pare_status load_stacked(pare_llama *m, int64_t il, const part *parts, int n_parts, int64_t n_in,
                                bool has_bias, llama_weight *w, pare_err *err) {
    int64_t n_out = 0;
    for (int p = 0; p < n_parts; p++) n_out += parts[p].n_out;
    size_t wbytes, bbytes = (size_t)n_out * sizeof(float);
    if (!pare_mul_size((size_t)n_out * (size_t)n_in, sizeof(float), &wbytes))
        return pare_err_set(err, PARE_ERR_FORMAT, "layer %lld: weight too large", (long long)il);
    float *wd = n_parts > 1 ? pare_arena_alloc(m->weights, wbytes, 64) : NULL;
    float *bd = has_bias ? pare_arena_alloc(m->weights, bbytes, 64) : NULL;
    if ((n_parts > 1 && !wd) || (has_bias && !bd))
        return pare_err_set(err, PARE_ERR_OOM, "out of memory stacking weights of layer %lld", (long long)il);
    const float *wsrc = NULL;
    int64_t row = 0;
    for (int p = 0; p < n_parts; p++) {
        char wn[200];
        const float *got;
        snprintf(wn, sizeof wn, "layers.%lld.%s.weight", (long long)il, parts[p].name);
        pare_status s = load_f32(m, wn, false, 2, (int64_t[]){parts[p].n_out, n_in}, wd ? wd + row * n_in : NULL,
                                 &got, err);
        if (s) return s;
        wsrc = wd ? wd : got;
        if (has_bias) {
            snprintf(wn, sizeof wn, "layers.%lld.%s.bias", (long long)il, parts[p].name);
            if ((s = load_f32(m, wn, false, 1, &parts[p].n_out, bd + row, &got, err))) return s;
        }
        row += parts[p].n_out;
    }
    *w = (llama_weight){.qtype = PARE_Q_F32, .n_out = n_out, .n_in = n_in, .bias = bd};
    return pare_linear_init(&w->lin, wsrc, bd, n_out, n_in, m->kernel, m->weights, err);
}

static pare_status load_layer(pare_llama *m, int64_t il, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size, D = c->head_dim, QD = c->n_heads * D, KD = c->n_kv_heads * D;
    const int64_t F = c->intermediate_size;
    llama_layer *L = &m->layers[il];
    char name[160];
    pare_status s;
    snprintf(name, sizeof name, "layers.%lld.input_layernorm.weight", (long long)il);
    if ((s = load_f32(m, name, false, 1, &H, NULL, &L->attn_norm, err))) return s;
    snprintf(name, sizeof name, "layers.%lld.post_attention_layernorm.weight", (long long)il);
    if ((s = load_f32(m, name, false, 1, &H, NULL, &L->mlp_norm, err))) return s;
    const part qkv[] = {{"self_attn.q_proj", QD}, {"self_attn.k_proj", KD}, {"self_attn.v_proj", KD}};
    const part o[] = {{"self_attn.o_proj", H}};
    const part gate_up[] = {{"mlp.gate_proj", F}, {"mlp.up_proj", F}};
    const part down[] = {{"mlp.down_proj", H}};
    if ((s = load_stacked(m, il, qkv, 3, H, c->qkv_bias, &L->qkv, err))) return s;
    if ((s = load_stacked(m, il, o, 1, QD, c->o_bias, &L->o, err))) return s;
    if ((s = load_stacked(m, il, gate_up, 2, H, c->mlp_bias, &L->gate_up, err))) return s;
    return load_stacked(m, il, down, 1, F, c->mlp_bias, &L->down, err);
}

static pare_status load_head(pare_llama *m, const char *name, const float *w, int64_t n_out, llama_weight *out,
                             pare_err *err) {
    const int64_t H = m->cfg.hidden_size;
    pare_status s = PARE_OK;
    if (!w) s = load_f32(m, name, true, 2, (int64_t[]){n_out, H}, NULL, &w, err);
    if (s) return s;
    *out = (llama_weight){.qtype = PARE_Q_F32, .n_out = n_out, .n_in = H};
    return pare_linear_init(&out->lin, w, NULL, n_out, H, m->kernel, m->weights, err);
}

static pare_status load_all(pare_llama *m, const char *dir, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size;
    pare_status s = pare_model_open_weights(dir, &m->file, err);
    if (s) return s;
    m->prefix = pare_tensor_file_find(m->file, "model.embed_tokens.weight") ? "model." : "";
    if ((s = load_f32(m, "embed_tokens.weight", false, 2, (int64_t[]){c->vocab_size, H}, NULL, &m->embed, err)) ||
        (s = load_f32(m, "norm.weight", false, 1, &H, NULL, &m->norm, err)))
        return s;
    m->layers = pare_arena_calloc(m->weights, sizeof(llama_layer) * (size_t)c->n_layers, 64);
    if (!m->layers) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t il = 0; il < c->n_layers && !s; il++) s = load_layer(m, il, err);
    if (s) return s;
    /* The LM head: lm_head.weight, or the embedding when tied (or when a
     * tied checkpoint was saved without it). A seq-cls checkpoint has none. */
    bool has_lm = pare_tensor_file_find(m->file, "lm_head.weight") != NULL;
    if (has_lm || (c->tie_word_embeddings && c->n_labels == 0)) {
        if ((s = load_head(m, "lm_head.weight", c->tie_word_embeddings ? m->embed : NULL, c->vocab_size, &m->lm_head,
                           err)))
            return s;
        m->has_lm_head = true;
    }
    if (c->n_labels > 0) {
        if ((s = load_head(m, "score.weight", NULL, c->n_labels, &m->score, err))) return s;
        m->has_score = true;
    }
    if (!m->has_lm_head && !m->has_score)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: no lm_head.weight and tie_word_embeddings is false",
                            pare_tensor_file_path(m->file));
    return PARE_OK;
}

pare_llama_params pare_llama_default_params(void) {
    return (pare_llama_params){.n_threads = 0, .kernel = PARE_KERNEL_AUTO};
}

pare_status pare_llama_load(const char *dir, const pare_llama_params *params, pare_llama **out, pare_err *err) {
    *out = NULL;
    pare_llama *m = calloc(1, sizeof *m);
    if (!m) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    m->params = params ? *params : pare_llama_default_params();
    m->kernel = pare_kernel_resolve(m->params.kernel);
    m->weights = pare_arena_create(16u << 20);
    m->scratch = pare_arena_create(4u << 20);
    pare_status s = PARE_OK;
    if (!m->weights || !m->scratch) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    /* the pool first: its kernel cap (--kernel) also decides how weights are packed */
    if (!s && !(m->pool = pare_pool_create(m->params.n_threads, err))) s = err ? err->code : PARE_ERR_INTERNAL;
    if (!s) pare_pool_cap_kernels(m->pool, m->params.kernel);
    if (!s && pare_is_gguf_file(dir)) {
        s = pare_gguf_open(dir, &m->gguf, err);
        if (!s) s = llama_gguf_load(m, err);
    } else if (!s) {
        char path[4096];
        snprintf(path, sizeof path, "%s/config.json", dir);
        s = pare_llama_config_load(path, &m->cfg, err);
        if (!s) s = load_all(m, dir, err);
    }
    if (s) {
        pare_llama_free(m);
        return s;
    }
    *out = m;
    return PARE_OK;
}

void pare_llama_free(pare_llama *m) {
    if (!m) return;
    pare_pool_free(m->pool);
    pare_arena_free(m->scratch);
    pare_arena_free(m->weights);
    pare_tensor_file_close(m->file);
    pare_gguf_close(m->gguf);
    free(m);
}

const pare_llama_config *pare_llama_get_config(const pare_llama *m) { return &m->cfg; }
const pare_tensor_file *pare_llama_weights_file(const pare_llama *m) { return m->file; }
const struct pare_gguf *pare_llama_gguf(const pare_llama *m) { return m->gguf; }

static size_t weight_bytes(const llama_weight *w) {
    size_t row = 0;
    if (w->sparse.n) return pare_sparse_bytes(&w->sparse);
    if (!w->raw) return (size_t)(w->n_out * w->n_in) * sizeof(float);
    pare_qtype_row_size((pare_qtype)w->qtype, w->n_in, &row);
    return row * (size_t)w->n_out;
}

size_t pare_llama_weight_bytes_per_token(const pare_llama *m) {
    size_t total = 0;
    for (int64_t il = 0; il < m->cfg.n_layers; il++) {
        const llama_layer *L = &m->layers[il];
        total += weight_bytes(&L->qkv) + weight_bytes(&L->o) + weight_bytes(&L->gate_up) + weight_bytes(&L->down);
    }
    if (m->has_lm_head) total += weight_bytes(&m->lm_head);
    return total;
}
pare_pool *pare_llama_pool(pare_llama *m) { return m->pool; }
bool pare_llama_has_lm_head(const pare_llama *m) { return m->has_lm_head; }
bool pare_llama_has_score(const pare_llama *m) { return m->has_score; }
int64_t pare_llama_n_params(const pare_llama *m) { return m->n_params; }
size_t pare_llama_weight_bytes(const pare_llama *m) {
    /* the arena, plus f32 tensors used in place from the file mapping */
    return pare_arena_used(m->weights) + m->mapped_bytes;
}

/* ------------------------------------------------------------ KV cache */

pare_status pare_llama_cache_create(const pare_llama *m, int64_t n_seq, int64_t max_ctx, pare_llama_cache **out,
                                    pare_err *err) {
    *out = NULL;
    const pare_llama_config *c = &m->cfg;
    if (n_seq <= 0 || max_ctx <= 0 || n_seq > (1 << 20) || max_ctx > (1 << 24))
        return pare_err_set(err, PARE_ERR_INVALID, "KV cache: %lld slots x %lld positions is out of range",
                            (long long)n_seq, (long long)max_ctx);
    size_t elems;
    const int64_t kv_dim = c->n_kv_heads * c->head_dim;
    if (!pare_mul_size((size_t)c->n_layers * (size_t)n_seq, (size_t)max_ctx, &elems) ||
        !pare_mul_size(elems, (size_t)kv_dim, &elems) || elems > SIZE_MAX / sizeof(float) / 2)
        return pare_err_set(err, PARE_ERR_INVALID, "KV cache: size overflows");
    pare_llama_cache *kc = calloc(1, sizeof *kc);
    if (kc) {
        kc->k = calloc(elems, sizeof(float)); /* zero pages: only the touched ones become resident */
        kc->v = calloc(elems, sizeof(float));
        kc->len = calloc((size_t)n_seq, sizeof(int64_t));
    }
    if (!kc || !kc->k || !kc->v || !kc->len) {
        pare_llama_cache_free(kc);
        return pare_err_set(err, PARE_ERR_OOM, "KV cache: out of memory for %zu bytes", 2 * elems * sizeof(float));
    }
    kc->n_layers = c->n_layers;
    kc->n_seq = n_seq;
    kc->max_ctx = max_ctx;
    kc->kv_dim = kv_dim;
    *out = kc;
    return PARE_OK;
}

void pare_llama_cache_free(pare_llama_cache *c) {
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->len);
    free(c);
}

int64_t pare_llama_cache_n_seq(const pare_llama_cache *c) { return c->n_seq; }
int64_t pare_llama_cache_max_ctx(const pare_llama_cache *c) { return c->max_ctx; }
int64_t pare_llama_cache_seq_len(const pare_llama_cache *c, int64_t seq) {
    return seq >= 0 && seq < c->n_seq ? c->len[seq] : 0;
}
size_t pare_llama_cache_bytes(const pare_llama_cache *c) {
    return 2 * (size_t)(c->n_layers * c->n_seq * c->max_ctx * c->kv_dim) * sizeof(float);
}

void pare_llama_cache_truncate(pare_llama_cache *c, int64_t seq, int64_t len) {
    if (len < 0) len = 0;
    for (int64_t s = seq < 0 ? 0 : seq; s < (seq < 0 ? c->n_seq : seq + 1) && s < c->n_seq; s++)
        if (c->len[s] > len) c->len[s] = len;
}

/* ------------------------------------------------------------ forward */

static int32_t batch_seq(const pare_llama_batch *b, int64_t i) { return b->seq ? b->seq[i] : 0; }

/* Token i gives outputs: flagged, or (no flags) the last of its slot. */
static bool is_output(const pare_llama_batch *b, int64_t i) {
    if (b->output) return b->output[i] != 0;
    for (int64_t j = i + 1; j < b->n_tokens; j++)
        if (batch_seq(b, j) == batch_seq(b, i)) return false;
    return true;
}

int64_t pare_llama_batch_n_out(const pare_llama_batch *b) {
    int64_t n = 0;
    for (int64_t i = 0; i < b->n_tokens; i++) n += is_output(b, i);
    return n;
}

static pare_status check_batch(const pare_llama *m, const pare_llama_cache *kc, const pare_llama_batch *b,
                               const pare_llama_outputs *out, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    if (!kc || !b || !out || !b->tokens || b->n_tokens <= 0)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_llama_forward: empty batch or NULL argument");
    if (kc->n_layers != c->n_layers || kc->kv_dim != c->n_kv_heads * c->head_dim)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_llama_forward: the cache was made for another model shape");
    if (out->logits && !m->has_lm_head)
        return pare_err_set(err, PARE_ERR_INVALID, "the model has no LM head (a sequence-classification checkpoint)");
    if (out->scores && !m->has_score) return pare_err_set(err, PARE_ERR_INVALID, "the model has no score head");
    for (int64_t i = 0; i < b->n_tokens; i++) {
        int32_t s = batch_seq(b, i);
        if (b->tokens[i] < 0 || b->tokens[i] >= c->vocab_size)
            return pare_err_set(err, PARE_ERR_INVALID, "token id %d at batch index %lld is outside the vocabulary of %lld",
                                b->tokens[i], (long long)i, (long long)c->vocab_size);
        if (s < 0 || s >= kc->n_seq)
            return pare_err_set(err, PARE_ERR_INVALID, "slot %d at batch index %lld is outside the cache's %lld slots", s,
                                (long long)i, (long long)kc->n_seq);
    }
    return PARE_OK;
}

/* Positions: the slot's length plus the token's index among the slot's
 * tokens so far; fails (before anything is written) when a slot overflows. */
static pare_status assign_positions(const pare_llama_cache *kc, const pare_llama_batch *b, int32_t *seq,
                                    int32_t *pos, int64_t *next, pare_err *err) {
    memcpy(next, kc->len, sizeof(int64_t) * (size_t)kc->n_seq);
    for (int64_t i = 0; i < b->n_tokens; i++) {
        int32_t s = batch_seq(b, i);
        if (next[s] >= kc->max_ctx)
            return pare_err_set(err, PARE_ERR_INVALID, "slot %d is full: the cache holds %lld positions", s,
                                (long long)kc->max_ctx);
        seq[i] = s;
        pos[i] = (int32_t)next[s]++;
    }
    return PARE_OK;
}

/* W8A8: int8 inputs per token; LLM.int8's outlier columns left out of the
 * int8 product (so they do not set the token's scale) and added in f32. */
static pare_status w8a8_forward(const llama_weight *w, const float *x, int64_t m, float *y, const llama_scratch *s,
                                pare_pool *pool, pare_err *err) {
    if (!s || !s->q8 || (w->n_outl && !s->xm)) return pare_err_set(err, PARE_ERR_INVALID, "W8A8 layer without its scratch");
    const float *xin = x;
    if (w->n_outl) {
        memcpy(s->xm, x, sizeof(float) * (size_t)(m * w->n_in));
        for (int64_t r = 0; r < m; r++)
            for (int64_t o = 0; o < w->n_outl; o++) s->xm[r * w->n_in + w->outl[o]] = 0.0f;
        xin = s->xm;
    }
    pare_qlinear_forward(&w->q8, xin, m, y, PARE_ACT_NONE, s->q8, pool);
    if (w->n_outl) { /* y += x[:, outl] . w_outl^T, the gathered columns in xm */
        const int64_t no = w->n_outl;
        for (int64_t r = 0; r < m; r++)
            for (int64_t o = 0; o < no; o++) s->xm[r * no + o] = x[r * w->n_in + w->outl[o]];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)w->n_out, (int)no, 1.0f, s->xm, (int)no,
                    w->w_outl, (int)no, 1.0f, y, (int)w->n_out);
    }
    return PARE_OK;
}

static pare_status weight_forward(const llama_weight *w, const float *x, int64_t m, float *y, const llama_scratch *s,
                                  pare_pool *pool, pare_err *err) {
    if (w->w8a8) return w8a8_forward(w, x, m, y, s, pool, err);
    if (w->sparse.n && m <= 4) /* pruned, decode: bitmap-sparse f16 (prefill is faster dense, bench/sparse.sh) */
        return pare_sparse_matmul(pool, &w->sparse, x, m, y, w->bias, err);
    if (w->packed.groups) /* row-interleaved Q4_0 / Q4_1 */
        return pare_qmatmul_packed(pool, &w->packed, x, m, y, w->bias, err);
    if (w->raw) /* a ggml-typed weight (GGUF) */
        return pare_qmatmul(pool, (pare_qtype)w->qtype, w->raw, w->n_out, w->n_in, x, m, y, w->bias, err);
    pare_linear_forward(&w->lin, x, m, y, PARE_ACT_NONE, pool);
    return PARE_OK;
}

pare_status llama_alloc_scratch(pare_llama *m, const pare_llama_cache *kc, int64_t R, int64_t n_out,
                                llama_scratch *s, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size, D = c->head_dim, QKV = (c->n_heads + 2 * c->n_kv_heads) * D;
    pare_arena *a = m->scratch;
    pare_arena_reset(a);
#define ALLOC(ptr, n) ((ptr) = pare_arena_alloc(a, (size_t)(n) * sizeof *(ptr), 64))
    ALLOC(s->x, R * H);
    ALLOC(s->xn, R * H);
    ALLOC(s->qkv, R * QKV);
    ALLOC(s->att, R * c->n_heads * D);
    ALLOC(s->tmp, R * H);
    ALLOC(s->gu, R * 2 * c->intermediate_size);
    ALLOC(s->mid, R * c->intermediate_size);
    ALLOC(s->cos_t, R * D / 2);
    ALLOC(s->sin_t, R * D / 2);
    ALLOC(s->inv_freq, D / 2);
    ALLOC(s->xo, (n_out ? n_out : 1) * H);
    ALLOC(s->seq, R);
    ALLOC(s->pos, R);
    ALLOC(s->next, kc->n_seq);
    s->q8 = NULL;
    s->xm = NULL;
    if (m->w8a8 && m->layers) { /* the widest input of the int8 layers */
        const llama_layer *L0 = &m->layers[0];
        const pare_qlinear *ql[PARE_LIN_COUNT] = {&L0->qkv.q8, &L0->o.q8, &L0->gate_up.q8, &L0->down.q8};
        size_t qb = 0;
        int64_t kmax = 0;
        for (int l = 0; l < PARE_LIN_COUNT; l++) {
            const size_t b = pare_qlinear_scratch_bytes(ql[l], R);
            qb = b > qb ? b : qb;
            kmax = ql[l]->n_in > kmax ? ql[l]->n_in : kmax;
        }
        s->q8 = pare_arena_alloc(a, qb, 64);
        ALLOC(s->xm, R * kmax);
        if (!s->q8 || !s->xm) return pare_err_set(err, PARE_ERR_OOM, "out of memory for activations of %lld tokens", (long long)R);
    }
#undef ALLOC
    if (!s->x || !s->xn || !s->qkv || !s->att || !s->tmp || !s->gu || !s->mid || !s->cos_t || !s->sin_t ||
        !s->inv_freq || !s->xo || !s->seq || !s->pos || !s->next)
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for activations of %lld tokens", (long long)R);
    return PARE_OK;
}

typedef struct embed_ctx {
    const pare_llama *m;
    const int32_t *ids;
    int64_t n, H;
    float *x;
} embed_ctx;

static void embed_rows(void *ctx_, int ith, int nth) {
    const embed_ctx *c = ctx_;
    const pare_llama *m = c->m;
    int64_t lo, hi;
    pare_split_range(c->n, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        int64_t id = c->ids[r];
        if (m->embed_raw) /* checked at load: the type dequantizes and rows are whole blocks */
            pare_dequantize_row((pare_qtype)m->embed_qtype, (const uint8_t *)m->embed_raw + (size_t)id * m->embed_row_bytes,
                                c->x + r * c->H, c->H, NULL);
        else
            memcpy(c->x + r * c->H, m->embed + id * c->H, (size_t)c->H * sizeof(float));
    }
}

void llama_embed(const pare_llama *m, const int32_t *ids, int64_t n, float *x) {
    embed_ctx ec = {.m = m, .ids = ids, .n = n, .H = m->cfg.hidden_size, .x = x};
    pare_pool_run(n * ec.H >= 32768 ? m->pool : NULL, embed_rows, &ec);
}

/* Copy the batch's k and v rows (inside the qkv buffer) into the cache. */
static void store_kv(pare_llama_cache *kc, int64_t il, const llama_scratch *s, int64_t R, int64_t QD, int64_t ld) {
    const int64_t KD = kc->kv_dim;
    for (int64_t i = 0; i < R; i++) {
        size_t off = (((size_t)il * (size_t)kc->n_seq + (size_t)s->seq[i]) * (size_t)kc->max_ctx + (size_t)s->pos[i]) *
                     (size_t)KD;
        memcpy(kc->k + off, s->qkv + i * ld + QD, (size_t)KD * sizeof(float));
        memcpy(kc->v + off, s->qkv + i * ld + QD + KD, (size_t)KD * sizeof(float));
    }
}

#define OBSERVE(which, x, k) \
    if (obs) obs->fn(obs->ud, which, x, R, k)

pare_status llama_layer_forward(pare_llama *m, pare_llama_cache *kc, const llama_layer *L, int64_t il,
                                const llama_scratch *s, int64_t R, const llama_observer *obs, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    const int64_t H = c->hidden_size, D = c->head_dim, F = c->intermediate_size;
    const int64_t QD = c->n_heads * D, KD = c->n_kv_heads * D, ld = QD + 2 * KD;
    const float eps = (float)c->rms_norm_eps;
    pare_status st;
    pare_rmsnorm_f32(s->x, L->attn_norm, s->xn, R, H, eps, m->pool);
    OBSERVE(PARE_LIN_QKV, s->xn, H);
    if ((st = weight_forward(&L->qkv, s->xn, R, s->qkv, s, m->pool, err))) return st;
    pare_rope_f32(s->qkv, ld, R, c->n_heads + c->n_kv_heads, D, s->cos_t, s->sin_t, c->rope.mode, m->pool);
    store_kv(kc, il, s, R, QD, ld);
    const size_t layer_off = (size_t)il * (size_t)kc->n_seq * (size_t)kc->max_ctx * (size_t)KD;
    pare_attn_kv_args a = {.q = s->qkv, .ldq = ld, .k = kc->k + layer_off, .v = kc->v + layer_off,
                           .seq_stride = kc->max_ctx * KD, .out = s->att, .seq = s->seq, .pos = s->pos,
                           .n = R, .H = c->n_heads, .KVH = c->n_kv_heads, .D = D,
                           .window = c->sliding_window > 0 && il >= c->sliding_from_layer ? c->sliding_window : 0,
                           .scale = 1.0f / sqrtf((float)D)};
    pare_attention_kv_f32(&a, m->pool);
    OBSERVE(PARE_LIN_O, s->att, QD);
    if ((st = weight_forward(&L->o, s->att, R, s->tmp, s, m->pool, err))) return st;
    pare_add_f32(s->x, s->tmp, R * H);
    pare_rmsnorm_f32(s->x, L->mlp_norm, s->xn, R, H, eps, m->pool);
    OBSERVE(PARE_LIN_GATE_UP, s->xn, H);
    if ((st = weight_forward(&L->gate_up, s->xn, R, s->gu, s, m->pool, err))) return st;
    pare_swiglu_f32(s->gu, s->gu + F, 2 * F, s->mid, R, F, m->pool);
    OBSERVE(PARE_LIN_DOWN, s->mid, F);
    if ((st = weight_forward(&L->down, s->mid, R, s->tmp, s, m->pool, err))) return st;
    pare_add_f32(s->x, s->tmp, R * H);
    return PARE_OK;
}

pare_status pare_llama_forward(pare_llama *m, pare_llama_cache *kc, const pare_llama_batch *b,
                               const pare_llama_outputs *out, pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    if (m->params.calib_only)
        return pare_err_set(err, PARE_ERR_INVALID, "the model was loaded for calibration only (no layer weights)");
    pare_status st = check_batch(m, kc, b, out, err);
    if (st) return st;
    const int64_t R = b->n_tokens, H = c->hidden_size, D = c->head_dim, n_out = pare_llama_batch_n_out(b);
    llama_scratch s;
    if ((st = llama_alloc_scratch(m, kc, R, n_out, &s, err))) return st;
    if ((st = assign_positions(kc, b, s.seq, s.pos, s.next, err))) return st;

    int32_t max_pos = 0;
    for (int64_t i = 0; i < R; i++) max_pos = s.pos[i] > max_pos ? s.pos[i] : max_pos;
    float attn_factor;
    pare_llama_rope_freqs(c, max_pos, s.inv_freq, &attn_factor);
    pare_rope_table_f32(s.pos, R, s.inv_freq, D / 2, attn_factor, s.cos_t, s.sin_t);

    llama_embed(m, b->tokens, R, s.x);
    for (int64_t il = 0; il < c->n_layers; il++)
        if ((st = llama_layer_forward(m, kc, &m->layers[il], il, &s, R, NULL, err))) {
            /* nothing is committed: the rows written past the slots' lengths are garbage */
            return st;
        }
    memcpy(kc->len, s.next, sizeof(int64_t) * (size_t)kc->n_seq);

    int64_t k = 0;
    for (int64_t i = 0; i < R; i++)
        if (is_output(b, i)) memcpy(s.xo + (k++) * H, s.x + i * H, (size_t)H * sizeof(float));
    pare_rmsnorm_f32(s.xo, m->norm, s.xo, n_out, H, (float)c->rms_norm_eps, m->pool);
    if (out->hidden) memcpy(out->hidden, s.xo, (size_t)(n_out * H) * sizeof(float));
    if (out->logits && (st = weight_forward(&m->lm_head, s.xo, n_out, out->logits, &s, m->pool, err))) return st;
    if (out->scores && (st = weight_forward(&m->score, s.xo, n_out, out->scores, &s, m->pool, err))) return st;
    return PARE_OK;
}

/* ------------------------------------------------------------ classification */

pare_status pare_llama_classify(pare_llama *m, const int32_t *ids, int64_t B, int64_t T, float *scores,
                                pare_err *err) {
    const pare_llama_config *c = &m->cfg;
    if (m->params.calib_only)
        return pare_err_set(err, PARE_ERR_INVALID, "the model was loaded for calibration only (no layer weights)");
    if (!m->has_score) return pare_err_set(err, PARE_ERR_INVALID, "the model has no score head");
    if (B <= 0 || T <= 0) return pare_err_set(err, PARE_ERR_INVALID, "batch %lld x %lld is empty", (long long)B, (long long)T);
    if (c->pad_token_id < 0 && B != 1)
        return pare_err_set(err, PARE_ERR_INVALID, "the config has no pad_token_id, so a batch must hold one sequence");
    int64_t n = 0;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(B * T));
    int32_t *tok = malloc(sizeof(int32_t) * (size_t)(B * T));
    pare_status st = PARE_OK;
    if (!seq || !tok) st = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t r = 0; r < B && !st; r++) {
        int64_t last = T - 1;
        if (c->pad_token_id >= 0) { /* HF: argmax(index * (id != pad)); 0 when all are padding */
            last = 0;
            for (int64_t t = 0; t < T; t++)
                if (ids[r * T + t] != c->pad_token_id) last = t;
        }
        for (int64_t t = 0; t <= last; t++) {
            tok[n] = ids[r * T + t];
            seq[n++] = (int32_t)r;
        }
    }
    pare_llama_cache *kc = NULL;
    if (!st) st = pare_llama_cache_create(m, B, T, &kc, err);
    if (!st) {
        pare_llama_batch b = {.n_tokens = n, .tokens = tok, .seq = seq};
        pare_llama_outputs o = {.scores = scores};
        st = pare_llama_forward(m, kc, &b, &o, err);
    }
    pare_llama_cache_free(kc);
    free(seq);
    free(tok);
    return st;
}

double pare_llama_forward_flops(const pare_llama_config *c, int64_t n_tokens, int64_t ctx) {
    double H = (double)c->hidden_size, D = (double)c->head_dim, F = (double)c->intermediate_size;
    double QD = (double)c->n_heads * D, KD = (double)c->n_kv_heads * D, R = (double)n_tokens;
    double per_layer = 2 * R * (H * (QD + 2 * KD) + QD * H + 3 * H * F) + 2 * 2 * R * (double)ctx * QD;
    return per_layer * (double)c->n_layers + 2 * R * H * (double)c->vocab_size;
}
