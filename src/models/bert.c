/* BERT-family encoder, fp32: embeddings, post-LN layers, pooler and a
 * classification head. Weights are converted to f32 into an arena owned by
 * the model; Q, K and V are fused into one Linear so each layer runs four
 * GEMMs. */
#include "models/bert_internal.h"
#include "models/model_files.h"
#include "compress/hessian.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ loading */

const pare_tensor *bert_find_tensor(const pare_bert *m, const char *name) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s%s", m->prefix, name);
    const pare_tensor *t = pare_tensor_file_find(m->file, buf);
    if (!t && m->prefix[0]) t = pare_tensor_file_find(m->file, name);
    return t;
}

/* Look a tensor up (LayerNorm "weight"/"bias" may be the old "gamma"/"beta"),
 * check its shape, and convert it to f32 in the weights arena. */
pare_status bert_load_f32(pare_bert *m, const char *name, int32_t n_dims, const int64_t *shape,
                            bool required, const float **out, pare_err *err) {
    *out = NULL;
    const pare_tensor *t = bert_find_tensor(m, name);
    if (!t) {
        char alt[256];
        size_t n = strlen(name);
        if (n > 7 && !strcmp(name + n - 7, ".weight")) {
            snprintf(alt, sizeof alt, "%.*s.gamma", (int)(n - 7), name);
            t = bert_find_tensor(m, alt);
        } else if (n > 5 && !strcmp(name + n - 5, ".bias")) {
            snprintf(alt, sizeof alt, "%.*s.beta", (int)(n - 5), name);
            t = bert_find_tensor(m, alt);
        }
    }
    if (!t) {
        if (!required) return PARE_OK;
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: missing tensor '%s%s'",
                            pare_tensor_file_path(m->file), m->prefix, name);
    }
    pare_tensor want = {.n_dims = n_dims};
    memcpy(want.shape, shape, sizeof(int64_t) * (size_t)n_dims);
    if (!pare_tensor_has_shape(t, n_dims, shape)) {
        char got_s[96], want_s[96];
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                            pare_tensor_file_path(m->file), t->name, pare_shape_str(t, got_s, sizeof got_s),
                            pare_shape_str(&want, want_s, sizeof want_s));
    }
    int64_t n = pare_tensor_nelem(t);
    size_t bytes;
    if (n < 0 || !pare_mul_size((size_t)n, sizeof(float), &bytes))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' is too large", pare_tensor_file_path(m->file), t->name);
    float *dst = pare_arena_alloc(m->weights, bytes, 64);
    if (!dst) return pare_err_set(err, PARE_ERR_OOM, "out of memory loading '%s' (%zu bytes)", t->name, bytes);
    pare_status s = pare_convert_to_f32(t->dtype, t->data, dst, n, err);
    if (s) return pare_err_wrap(err, "%s: tensor '%s'", pare_tensor_file_path(m->file), t->name);
    m->n_params += n;
    *out = dst;
    return PARE_OK;
}

/* Quantized checkpoints (pare quantize): n_parts Linear layers of [n_out,
 * n_in] each, stacked into one, with int8 "<base>.weight", f32
 * "<base>.weight_scale" [n_out], "<base>.bias" and, for static W8A8,
 * "<base>.input_scale" [1] (the largest of the parts is used). */
static pare_status load_linear_q(pare_bert *m, const char *const *bases, int n_parts, int64_t n_out,
                                 int64_t n_in, bert_lin *lin, pare_err *err) {
    if (bert_qmode_w4(m->qmode)) return bert_w4_load_lin(m, bases, n_parts, n_out, n_in, lin, err);
    const int64_t N = n_parts * n_out;
    int8_t *w = malloc((size_t)(N * n_in));
    float *ws = pare_arena_alloc(m->weights, (size_t)N * sizeof(float), 64);
    float *b = pare_arena_alloc(m->weights, (size_t)N * sizeof(float), 64);
    if (!w || !ws || !b) {
        free(w);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory loading '%s'", bases[0]);
    }
    float in_scale = 0.0f;
    pare_status s = PARE_OK;
    for (int p = 0; p < n_parts && !s; p++) {
        char name[200];
        const float *v;
        snprintf(name, sizeof name, "%s.weight", bases[p]);
        const pare_tensor *t = bert_find_tensor(m, name);
        if (!t || t->dtype != PARE_DTYPE_I8 || !pare_tensor_has_shape(t, 2, (int64_t[]){n_out, n_in})) {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: quantized model needs an int8 [%lld, %lld] tensor '%s%s'",
                             pare_tensor_file_path(m->file), (long long)n_out, (long long)n_in, m->prefix, name);
            break;
        }
        memcpy(w + p * n_out * n_in, t->data, (size_t)(n_out * n_in));
        m->n_params += n_out * n_in;
        snprintf(name, sizeof name, "%s.weight_scale", bases[p]);
        if ((s = bert_load_f32(m, name, 1, &n_out, true, &v, err))) break;
        memcpy(ws + p * n_out, v, (size_t)n_out * sizeof(float));
        m->n_params -= n_out;
        snprintf(name, sizeof name, "%s.bias", bases[p]);
        if ((s = bert_load_f32(m, name, 1, &n_out, true, &v, err))) break;
        memcpy(b + p * n_out, v, (size_t)n_out * sizeof(float));
        if (m->qmode == PARE_BERT_W8A8_STATIC) {
            snprintf(name, sizeof name, "%s.input_scale", bases[p]);
            if ((s = bert_load_f32(m, name, 1, (int64_t[]){1}, true, &v, err))) break;
            in_scale = v[0] > in_scale ? v[0] : in_scale;
            m->n_params -= 1;
        }
    }
    if (!s && m->smooth_alpha > 0) { /* SmoothQuant: the parts share one input, so one vector */
        char name[200];
        snprintf(name, sizeof name, "%s.smooth", bases[0]);
        const float *v;
        if (!(s = bert_load_f32(m, name, 1, &n_in, true, &v, err))) {
            lin->smooth = (float *)v;
            m->n_params -= n_in;
        }
    }
    if (!s && m->qmode == PARE_BERT_W8_ONLY) {
        float *wf = pare_arena_alloc(m->weights, (size_t)(N * n_in) * sizeof(float), 64);
        if (!wf) s = pare_err_set(err, PARE_ERR_OOM, "out of memory loading '%s'", bases[0]);
        if (!s) {
            pare_dequantize_int8_rows(w, ws, N, n_in, wf);
            s = pare_linear_init(&lin->f, wf, b, N, n_in, m->kernel, m->weights, err);
        }
    } else if (!s) {
        if (m->qmode == PARE_BERT_W8A8_STATIC && !(in_scale > 0.0f))
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s.input_scale' is not positive", pare_tensor_file_path(m->file), bases[0]);
        if (!s) s = pare_qlinear_init(&lin->q, w, ws, b, N, n_in, m->qmode == PARE_BERT_W8A8_STATIC ? in_scale : 0.0f,
                                      m->params.kernel, m->weights, err);
        if (s) pare_err_wrap(err, "%s: '%s'", pare_tensor_file_path(m->file), bases[0]);
        lin->quant = s == PARE_OK;
    }
    free(w);
    return s;
}

/* fp32 always (pooler, classifier) */
static pare_status load_linear_f32(pare_bert *m, const char *base, int64_t n_out, int64_t n_in,
                                   pare_linear *lin, pare_err *err) {
    char wn[200], bn[200];
    snprintf(wn, sizeof wn, "%s.weight", base);
    snprintf(bn, sizeof bn, "%s.bias", base);
    const float *w, *b;
    pare_status s = bert_load_f32(m, wn, 2, (int64_t[]){n_out, n_in}, true, &w, err);
    if (!s) s = bert_load_f32(m, bn, 1, (int64_t[]){n_out}, true, &b, err);
    if (!s) s = pare_linear_init(lin, w, b, n_out, n_in, m->kernel, m->weights, err);
    return s;
}

static pare_status load_linear(pare_bert *m, const char *base, int64_t n_out, int64_t n_in,
                               bert_lin *lin, pare_err *err) {
    if (m->qmode != PARE_BERT_FP32) return load_linear_q(m, &base, 1, n_out, n_in, lin, err);
    pare_status s = load_linear_f32(m, base, n_out, n_in, &lin->f, err);
    return s ? s : bert_lin_sparsify(m, lin, err);
}

/* Q, K and V weights stacked into one [3 Hq, H] matrix (Hq = heads x head
 * size: H unless heads were pruned). */
static pare_status load_qkv(pare_bert *m, int64_t il, bert_lin *lin, pare_err *err) {
    const int64_t H = m->cfg.hidden_size, Hq = m->layers[il].n_heads * (H / m->cfg.n_heads);
    static const char *const parts[3] = {"query", "key", "value"};
    if (m->qmode != PARE_BERT_FP32) {
        char names[3][160];
        const char *bases[3];
        for (int p = 0; p < 3; p++) {
            snprintf(names[p], sizeof names[p], "encoder.layer.%lld.attention.self.%s", (long long)il, parts[p]);
            bases[p] = names[p];
        }
        return load_linear_q(m, bases, 3, Hq, H, lin, err);
    }
    float *w = pare_arena_alloc(m->weights, (size_t)(3 * Hq * H) * sizeof(float), 64);
    float *b = pare_arena_alloc(m->weights, (size_t)(3 * Hq) * sizeof(float), 64);
    if (!w || !b) return pare_err_set(err, PARE_ERR_OOM, "out of memory fusing QKV of layer %lld", (long long)il);
    for (int p = 0; p < 3; p++) {
        char wn[160], bn[160];
        snprintf(wn, sizeof wn, "encoder.layer.%lld.attention.self.%s.weight", (long long)il, parts[p]);
        snprintf(bn, sizeof bn, "encoder.layer.%lld.attention.self.%s.bias", (long long)il, parts[p]);
        const float *pw, *pb;
        pare_status s = bert_load_f32(m, wn, 2, (int64_t[]){Hq, H}, true, &pw, err);
        if (!s) s = bert_load_f32(m, bn, 1, (int64_t[]){Hq}, true, &pb, err);
        if (s) return s;
        memcpy(w + p * Hq * H, pw, (size_t)(Hq * H) * sizeof(float));
        memcpy(b + p * Hq, pb, (size_t)Hq * sizeof(float));
    }
    pare_status s = pare_linear_init(&lin->f, w, b, 3 * Hq, H, m->kernel, m->weights, err);
    return s ? s : bert_lin_sparsify(m, lin, err);
}

pare_status bert_lin_sparsify(pare_bert *m, bert_lin *lin, pare_err *err) {
    lin->sparse = false;
    const pare_linear *f = &lin->f;
    if (m->params.no_sparse || lin->quant || !f->w) return PARE_OK;
    const double min = m->params.sparse_min > 0 ? m->params.sparse_min : 0.5;
    const double z = (double)pare_count_zeros(PARE_Q_F32, f->w, f->n_out, f->n_in) / (double)(f->n_out * f->n_in);
    if (z < min) return PARE_OK;
    pare_status s = pare_spmm_build(f->w, f->n_out, f->n_in, m->weights, &lin->sp, err);
    lin->sparse = s == PARE_OK;
    return s;
}

/* This layer's head count and FFN width, from its tensors' shapes (a
 * structurally pruned model has fewer heads, as HF's config.pruned_heads
 * says, or a narrower FFN): query rows / head size, FFN rows. */
static pare_status layer_shape(pare_bert *m, int64_t il, pare_err *err) {
    const pare_bert_config *c = &m->cfg;
    const int64_t H = c->hidden_size, D = H / c->n_heads;
    char name[160];
    snprintf(name, sizeof name, "encoder.layer.%lld.attention.self.query.weight", (long long)il);
    const pare_tensor *q = bert_find_tensor(m, name);
    snprintf(name, sizeof name, "encoder.layer.%lld.intermediate.dense.weight", (long long)il);
    const pare_tensor *f = bert_find_tensor(m, name);
    bert_layer *L = &m->layers[il];
    L->n_heads = c->n_heads;
    L->ffn = c->intermediate_size;
    if (q && q->n_dims == 2) {
        if (q->shape[0] <= 0 || q->shape[0] % D || q->shape[0] > H)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: query has %lld rows, not a whole number of heads of %lld (at most %lld)",
                                pare_tensor_file_path(m->file), (long long)il, (long long)q->shape[0], (long long)D, (long long)c->n_heads);
        L->n_heads = q->shape[0] / D;
    }
    if (f && f->n_dims == 2) {
        if (f->shape[0] <= 0 || f->shape[0] > ((int64_t)1 << 20))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: layer %lld: the FFN has %lld rows", pare_tensor_file_path(m->file),
                                (long long)il, (long long)f->shape[0]);
        L->ffn = f->shape[0];
    }
    if (L->ffn > m->max_inter) m->max_inter = L->ffn;
    return PARE_OK;
}

static pare_status load_layer(pare_bert *m, int64_t il, pare_err *err) {
    pare_status s = layer_shape(m, il, err);
    if (s) return s;
    bert_layer *L = &m->layers[il];
    const int64_t H = m->cfg.hidden_size, I = L->ffn, Hq = L->n_heads * (H / m->cfg.n_heads);
    char base[160];
    s = load_qkv(m, il, &L->qkv, err);
#define LAYER_NAME(fmt) (snprintf(base, sizeof base, "encoder.layer.%lld." fmt, (long long)il), base)
    if (!s) s = load_linear(m, LAYER_NAME("attention.output.dense"), H, Hq, &L->attn_out, err);
    if (!s) s = bert_load_f32(m, LAYER_NAME("attention.output.LayerNorm.weight"), 1, &H, true, &L->ln1_g, err);
    if (!s) s = bert_load_f32(m, LAYER_NAME("attention.output.LayerNorm.bias"), 1, &H, true, &L->ln1_b, err);
    if (!s) s = load_linear(m, LAYER_NAME("intermediate.dense"), I, H, &L->inter, err);
    if (!s) s = load_linear(m, LAYER_NAME("output.dense"), H, I, &L->out, err);
    if (!s) s = bert_load_f32(m, LAYER_NAME("output.LayerNorm.weight"), 1, &H, true, &L->ln2_g, err);
    if (!s) s = bert_load_f32(m, LAYER_NAME("output.LayerNorm.bias"), 1, &H, true, &L->ln2_b, err);
#undef LAYER_NAME
    return s;
}

pare_bert_params pare_bert_default_params(void) {
    return (pare_bert_params){.n_threads = 0, .kernel = PARE_KERNEL_AUTO};
}

static pare_status load_all(pare_bert *m, const char *dir, pare_err *err) {
    const pare_bert_config *c = &m->cfg;
    const int64_t H = c->hidden_size;
    pare_status s = pare_model_open_weights(dir, &m->file, err);
    if (s) return s;
    m->prefix = "";
    if (!pare_tensor_file_find(m->file, "embeddings.word_embeddings.weight") &&
        pare_tensor_file_find(m->file, "bert.embeddings.word_embeddings.weight"))
        m->prefix = "bert.";
    s = bert_load_f32(m, "embeddings.word_embeddings.weight", 2, (int64_t[]){c->vocab_size, H}, true, &m->word_emb, err);
    if (!s) s = bert_load_f32(m, "embeddings.position_embeddings.weight", 2, (int64_t[]){c->max_position, H}, true, &m->pos_emb, err);
    if (!s && c->type_vocab_size > 0)
        s = bert_load_f32(m, "embeddings.token_type_embeddings.weight", 2, (int64_t[]){c->type_vocab_size, H}, false, &m->type_emb, err);
    if (!s) s = bert_load_f32(m, "embeddings.LayerNorm.weight", 1, &H, true, &m->emb_ln_g, err);
    if (!s) s = bert_load_f32(m, "embeddings.LayerNorm.bias", 1, &H, true, &m->emb_ln_b, err);
    if (s) return s;
    m->layers = pare_arena_calloc(m->weights, sizeof(bert_layer) * (size_t)c->n_layers, 64);
    if (!m->layers) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t il = 0; il < c->n_layers && !s; il++) s = load_layer(m, il, err);
    if (s) return s;
    if (bert_find_tensor(m, "pooler.dense.weight")) {
        s = load_linear_f32(m, "pooler.dense", H, H, &m->pooler, err);
        m->has_pooler = (s == PARE_OK);
    }
    if (!s && m->has_pooler && c->n_labels > 0 && pare_tensor_file_find(m->file, "classifier.weight")) {
        /* The head is outside the "bert." prefix. */
        const char *saved = m->prefix;
        m->prefix = "";
        s = load_linear_f32(m, "classifier", c->n_labels, H, &m->classifier, err);
        m->prefix = saved;
        m->has_classifier = (s == PARE_OK);
    }
    return s;
}

pare_status pare_bert_load(const char *dir, const pare_bert_params *params, pare_bert **out,
                           pare_err *err) {
    *out = NULL;
    pare_bert *m = calloc(1, sizeof *m);
    if (!m) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    m->params = params ? *params : pare_bert_default_params();
    m->kernel = pare_kernel_resolve(m->params.kernel);
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_status s = pare_bert_config_load(path, &m->cfg, err);
    if (!s) s = bert_read_qmode(path, &m->qmode, &m->qgroup, &m->smooth_alpha, err);
    if (!s) {
        m->weights = pare_arena_create(16u << 20);
        m->scratch = pare_arena_create(16u << 20);
        if (!m->weights || !m->scratch) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    /* the pool first: its kernel cap (--kernel) also decides how weights are packed */
    if (!s && !(m->pool = pare_pool_create(m->params.n_threads, err))) s = err ? err->code : PARE_ERR_INTERNAL;
    if (!s) pare_pool_cap_kernels(m->pool, m->params.kernel);
    if (!s) s = load_all(m, dir, err);
    if (!s) {
        /* The tokenizer is optional: a folder may carry weights alone. */
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        char vpath[4096];
        snprintf(vpath, sizeof vpath, "%s/vocab.txt", dir);
        if ((pare_model_file_exists(path) || pare_model_file_exists(vpath)) && (s = pare_wordpiece_load(dir, &m->tok, err)))
            pare_err_wrap(err, "%s: tokenizer", dir);
    }
    if (s) {
        pare_bert_free(m);
        return s;
    }
    *out = m;
    return PARE_OK;
}

void pare_bert_free(pare_bert *m) {
    if (!m) return;
    pare_wordpiece_free(m->tok);
    pare_pool_free(m->pool);
    pare_arena_free(m->scratch);
    pare_arena_free(m->weights);
    pare_tensor_file_close(m->file);
    free(m);
}

const pare_bert_config *pare_bert_get_config(const pare_bert *m) { return &m->cfg; }
const pare_wordpiece *pare_bert_tokenizer(const pare_bert *m) { return m->tok; }
pare_pool *pare_bert_pool(pare_bert *m) { return m->pool; }
bool pare_bert_has_pooler(const pare_bert *m) { return m->has_pooler; }
const pare_tensor_file *pare_bert_weights_file(const pare_bert *m) { return m->file; }
int64_t pare_bert_n_params(const pare_bert *m) { return m->n_params; }
size_t pare_bert_weight_bytes(const pare_bert *m) { return pare_arena_used(m->weights); }

pare_bert_layer_info pare_bert_layer(const pare_bert *m, int64_t il) {
    pare_bert_layer_info r = {0};
    if (il < 0 || il >= m->cfg.n_layers) return r;
    bert_layer *L = &m->layers[il];
    r.n_heads = L->n_heads;
    r.ffn = L->ffn;
    for (int w = 0; w < 4; w++) r.n_sparse += bert_layer_lin(L, w)->sparse;
    return r;
}

pare_status pare_bert_set_classifier(pare_bert *m, const float *w, const float *b, int64_t n_labels,
                                     pare_problem_type type, pare_err *err) {
    const int64_t H = m->cfg.hidden_size;
    if (!m->has_pooler)
        return pare_err_set(err, PARE_ERR_INVALID, "the model has no pooler, so no classification head can sit on it");
    if (n_labels <= 0 || n_labels > PARE_MAX_LABELS)
        return pare_err_set(err, PARE_ERR_INVALID, "n_labels %lld is out of [1, %d]", (long long)n_labels, PARE_MAX_LABELS);
    size_t wb = (size_t)(n_labels * H) * sizeof(float), bb = (size_t)n_labels * sizeof(float);
    float *wc = pare_arena_alloc(m->weights, wb, 64), *bc = pare_arena_alloc(m->weights, bb, 64);
    if (!wc || !bc) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    memcpy(wc, w, wb);
    memcpy(bc, b, bb);
    pare_status s = pare_linear_init(&m->classifier, wc, bc, n_labels, H, m->kernel, m->weights, err);
    if (s) return s;
    if (m->cfg.n_labels != n_labels)
        for (int64_t i = 0; i < n_labels; i++) snprintf(m->cfg.labels[i], sizeof m->cfg.labels[i], "LABEL_%lld", (long long)i);
    m->cfg.n_labels = n_labels;
    m->cfg.problem_type = type;
    m->has_classifier = true;
    return PARE_OK;
}

/* ------------------------------------------------------------ forward */

typedef struct embed_ctx {
    const pare_bert *m;
    const int32_t *ids, *type_ids;
    int64_t B, T;
    float *x; /* [B*T, H] */
} embed_ctx;

static void embed_rows(void *ctx_, int ith, int nth) {
    const embed_ctx *c = ctx_;
    const int64_t H = c->m->cfg.hidden_size;
    int64_t lo, hi;
    pare_split_range(c->B * c->T, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) {
        const float *we = c->m->word_emb + (int64_t)c->ids[r] * H;
        const float *pe = c->m->pos_emb + (r % c->T) * H;
        float *x = c->x + r * H;
        if (c->m->type_emb) {
            const float *te = c->m->type_emb + (int64_t)(c->type_ids ? c->type_ids[r] : 0) * H;
            for (int64_t i = 0; i < H; i++) x[i] = we[i] + te[i] + pe[i];
        } else {
            for (int64_t i = 0; i < H; i++) x[i] = we[i] + pe[i];
        }
    }
}

/* One of the four Linear layers of layer il (0 qkv, 1 attn_out, 2 inter,
 * 3 out), fp32 or int8; calibration observers see its input first. */
static void lin_forward(pare_bert *m, int64_t il, int which, const float *x, int64_t R, float *y,
                        pare_act act) {
    bert_lin *l = bert_layer_lin(&m->layers[il], which);
    const int64_t K = l->quant ? l->q.n_in : l->f.n_in;
    if (m->chan_amax) { /* SmoothQuant calibration: max |x| per input channel */
        float *a = m->chan_amax[il * 4 + which];
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = 0; k < K; k++) a[k] = fmaxf(a[k], fabsf(x[r * K + k]));
    }
    const float *xs = x; /* what the int8 path (and its calibration) sees */
    if (l->smooth && (l->quant || m->obs) && m->smooth_tmp) {
        for (int64_t r = 0; r < R; r++)
            for (int64_t k = 0; k < K; k++) m->smooth_tmp[r * K + k] = x[r * K + k] * l->smooth[k];
        xs = m->smooth_tmp;
    }
    if (m->obs) pare_act_observer_add(&m->obs[il * 4 + which], xs, R * K, m->obs_tmp);
    if (m->hess) { /* GPTQ calibration: H += x^T x over the R rows (upper triangle) */
        float *tmp = malloc(sizeof(float) * (size_t)(K * K));
        if (tmp) pare_hessian_add(m->hess[il * 4 + which], tmp, x, R, K);
        free(tmp);
    }
    if (l->quant)
        pare_qlinear_forward(&l->q, xs, R, y, act, m->qscratch, m->pool);
    else if (l->sparse)
        pare_spmm_matmul(m->pool, &l->sp, x, R, y, l->f.bias, act, m->qscratch);
    else
        pare_linear_forward(&l->f, x, R, y, act, m->pool);
}

static pare_status check_inputs(const pare_bert *m, const int32_t *ids, const int32_t *type_ids,
                                int64_t B, int64_t T, pare_err *err) {
    const pare_bert_config *c = &m->cfg;
    if (B <= 0 || T <= 0)
        return pare_err_set(err, PARE_ERR_INVALID, "batch %lld x sequence %lld is empty", (long long)B, (long long)T);
    if (T > c->max_position)
        return pare_err_set(err, PARE_ERR_INVALID, "sequence length %lld exceeds max_position_embeddings %lld",
                            (long long)T, (long long)c->max_position);
    for (int64_t i = 0; i < B * T; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return pare_err_set(err, PARE_ERR_INVALID, "token id %d at position %lld is outside the vocabulary of %lld",
                                ids[i], (long long)i, (long long)c->vocab_size);
        if (type_ids && (type_ids[i] < 0 || type_ids[i] >= (c->type_vocab_size ? c->type_vocab_size : 1)))
            return pare_err_set(err, PARE_ERR_INVALID, "token type %d at position %lld is out of range", type_ids[i], (long long)i);
    }
    return PARE_OK;
}

pare_status pare_bert_forward(pare_bert *m, const int32_t *ids, const int32_t *mask,
                              const int32_t *type_ids, int64_t B, int64_t T,
                              const pare_bert_outputs *out, pare_err *err) {
    const pare_bert_config *c = &m->cfg;
    const int64_t H = c->hidden_size, I = m->max_inter, R = B * T;
    pare_status s = check_inputs(m, ids, type_ids, B, T, err);
    if (s) return s;
    if (out->logits && !m->has_classifier)
        return pare_err_set(err, PARE_ERR_INVALID, "the model has no classification head");
    if (out->pooled && !m->has_pooler)
        return pare_err_set(err, PARE_ERR_INVALID, "the model has no pooler");

    pare_arena_reset(m->scratch);
    float *x = pare_arena_alloc(m->scratch, (size_t)(R * H) * sizeof(float), 64);
    float *qkv = pare_arena_alloc(m->scratch, (size_t)(R * 3 * H) * sizeof(float), 64);
    float *ctx = pare_arena_alloc(m->scratch, (size_t)(R * H) * sizeof(float), 64);
    float *tmp = pare_arena_alloc(m->scratch, (size_t)(R * H) * sizeof(float), 64);
    float *mid = pare_arena_alloc(m->scratch, (size_t)(R * I) * sizeof(float), 64);
    const int64_t K = H > I ? H : I;
    m->qscratch = NULL;
    m->obs_tmp = NULL;
    size_t qs = 0; /* scratch of the int8 and sparse kernels: the most any Linear needs */
    for (int64_t il = 0; il < c->n_layers; il++)
        for (int w = 0; w < 4; w++) {
            const bert_lin *l = bert_layer_lin(&m->layers[il], w);
            const size_t b = l->quant ? pare_qlinear_scratch_bytes(&l->q, R) : l->sparse ? pare_spmm_scratch_bytes(&l->sp, R) : 0;
            qs = b > qs ? b : qs;
        }
    if (qs && !(m->qscratch = pare_arena_alloc(m->scratch, qs, 64)))
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for quantized or sparse activations");
    m->smooth_tmp = NULL;
    for (int64_t il = 0; il < c->n_layers && !m->smooth_tmp; il++)
        for (int w = 0; w < 4; w++)
            if (bert_layer_lin(&m->layers[il], w)->smooth) {
                if (!(m->smooth_tmp = pare_arena_alloc(m->scratch, sizeof(float) * (size_t)(R * (H > I ? H : I)), 64)))
                    return pare_err_set(err, PARE_ERR_OOM, "out of memory for smoothed activations");
                break;
            }
    if (m->obs && !(m->obs_tmp = pare_arena_alloc(m->scratch, (size_t)(R * K) * sizeof(float), 64)))
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for calibration");
    if (!x || !qkv || !ctx || !tmp || !mid)
        return pare_err_set(err, PARE_ERR_OOM, "out of memory for activations of batch %lld x %lld", (long long)B, (long long)T);

    embed_ctx ec = {.m = m, .ids = ids, .type_ids = type_ids, .B = B, .T = T, .x = x};
    pare_pool_run(m->pool, embed_rows, &ec);
    const float eps = (float)c->layer_norm_eps;
    pare_layernorm_f32(x, m->emb_ln_g, m->emb_ln_b, x, R, H, eps, m->pool);

    const int64_t D = H / c->n_heads;
    for (int64_t il = 0; il < c->n_layers; il++) {
        const bert_layer *L = &m->layers[il];
        const int64_t Hq = L->n_heads * D;
        lin_forward(m, il, 0, x, R, qkv, PARE_ACT_NONE);
        pare_attn_args a = {.q = qkv, .k = qkv + Hq, .v = qkv + 2 * Hq, .ld = 3 * Hq, .out = ctx,
                            .B = B, .T = T, .H = L->n_heads, .D = D, .mask = mask,
                            .scale = 1.0f / sqrtf((float)D), .causal = false};
        pare_attention_f32(&a, m->pool);
        lin_forward(m, il, 1, ctx, R, tmp, PARE_ACT_NONE);
        pare_add_layernorm_f32(tmp, x, L->ln1_g, L->ln1_b, x, R, H, eps, m->pool);
        lin_forward(m, il, 2, x, R, mid, c->hidden_act);
        lin_forward(m, il, 3, mid, R, tmp, PARE_ACT_NONE);
        pare_add_layernorm_f32(tmp, x, L->ln2_g, L->ln2_b, x, R, H, eps, m->pool);
    }
    if (out->hidden) memcpy(out->hidden, x, (size_t)(R * H) * sizeof(float));
    if (out->pooled || out->logits) {
        /* pooled = tanh(dense(hidden of the first token)) */
        for (int64_t b = 0; b < B; b++) memcpy(ctx + b * H, x + b * T * H, (size_t)H * sizeof(float));
        pare_linear_forward(&m->pooler, ctx, B, tmp, PARE_ACT_NONE, m->pool);
        for (int64_t i = 0; i < B * H; i++) tmp[i] = tanhf(tmp[i]);
        if (out->pooled) memcpy(out->pooled, tmp, (size_t)(B * H) * sizeof(float));
        if (out->logits) pare_linear_forward(&m->classifier, tmp, B, out->logits, PARE_ACT_NONE, m->pool);
    }
    return PARE_OK;
}
