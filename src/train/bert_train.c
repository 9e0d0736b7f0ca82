/* Fine-tuning a BERT-family encoder with a classification head
 * (include/pare/train.h, pare_bert_trainer): HF's BertForSequenceClassification
 * (pooler tanh(W h_CLS + b), then the classifier) trained with the ops of
 * grad.h and AdamW, no dropout.
 *
 * Every parameter lives in one f32 buffer (and its gradient and the two
 * Adam moments in three more of the same layout), described by a table of
 * HF names, shapes and whether weight decay applies (not to biases and
 * LayerNorm, as HF's Trainer). Query, key and value are adjacent, weights
 * then biases, so one GEMM makes the stacked q|k|v. Activations of every
 * layer are kept for the backward pass in one buffer sized for the largest
 * batch; the backward runs layer by layer with shared gradient scratch. */
#include "models/model_files.h"
#include "pare/bert.h"
#include "pare/grad.h"
#include "pare/io.h"
#include "pare/prune.h"
#include "kernels/cpu/kern_internal.h"
#include "pare/train.h"
#include "train/bert_train_cuda.h"
#include "train/train_avx512.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PARE_MAX_LAYERS_PRUNE 1024

typedef struct tparam {
    char name[96];
    int64_t shape[2], n, off;
    bool decay;
} tparam;

typedef pare_bert_layer_offs layer_p; /* offsets into the parameter buffer */

typedef struct layer_a { /* activations of one layer, [BT][..] */
    float *x, *qkv, *att, *ctx, *res1, *y1, *m1, *r1, *h1, *g1, *res2, *y2, *m2, *r2;
} layer_a;

struct pare_bert_trainer {
    pare_bert_config cfg;
    pare_trainer_opts o;
    char src_dir[4096];
    tparam *p;
    int n_p;
    int64_t n_params;
    float *w, *g, *m, *v;
    int64_t step;
    uint8_t *frozen; /* keep_zeros: bit set where a weight stays 0, or NULL */
    int64_t word, pos, type, lne_g, lne_b, pool_w, pool_b, cls_w, cls_b;
    layer_p *L;
    /* activations */
    float *act;
    layer_a *A;
    float *emb, *emb_m, *emb_r, *cls_in, *pooled, *logits;
    /* gradient scratch */
    float *d_a, *d_b, *d_i1, *d_i2, *d_qkv, *d_ctx, *d_pool, *d_logits, *d_cls;
    int32_t *pos_ids, *type_ids;
    const int8_t *mask;  /* the current batch's (the caller's, during a step) */
    const pare_train_batch *batch; /* the current step's (hidden-state and attention targets) */
    float *datt;         /* attention transfer: d loss / d probabilities of one layer, or NULL until used */
    pare_pool *pool; /* every split of the step: GEMMs, attention pairs, rows, columns, AdamW */
    float *attn_scratch; /* pool size x attn_per_thread floats */
    int64_t attn_per_thread;
    pare_kernel_impl gemm; /* pare_sgemm's path: packed AVX-512 on pool, or cblas */
    float *gemm_ws;        /* its packed B */
    double prof[PARE_PROF_N], prof_mark; /* seconds per phase; the time the current phase began */
    int64_t gemm_ws_n;
    bool avx512;         /* the AVX-512 attention and GELU (train_avx512.h) */
    pare_cuda_bert *cu;  /* training on the GPU: the device holds the state */
    bool host_stale;     /* cu: the device's parameters are newer than w, m, v, g */
    bool dev_stale;      /* cu: w, m, v or the frozen set changed on the host */
};

typedef struct attn_job {
    float *out;
    const float *in, *qkv, *att_in, *datt; /* datt: attention transfer's gradient of att_in, or NULL */
    float *att;
    const int8_t *mask;
    int64_t T, C, NH, pairs;
    bool bwd, avx512;
    float *scratch; /* per_thread floats per thread */
    int64_t per_thread;
} attn_job;

static void attn_run(void *ctx, int ith, int nth) {
    const attn_job *j = ctx;
    int64_t lo, hi;
    pare_split_range(j->pairs, ith, nth, &lo, &hi);
    float *sc = j->scratch + (size_t)ith * (size_t)j->per_thread;
    if (j->bwd)
        (j->avx512 ? pare_train_attn_bwd_avx512 : pare_g_attention_bwd_range_ex)(j->out, j->in, j->qkv, j->att_in, j->datt, j->T, j->C,
                                                                                 j->NH, j->NH, lo, hi, sc);
    else
        (j->avx512 ? pare_train_attn_fwd_avx512 : pare_g_attention_fwd_range)(j->out, j->att, j->qkv, j->mask, j->T, j->C, j->NH, j->NH, 0, lo, hi, sc);
}

static int64_t add_param(pare_bert_trainer *t, const char *name, int64_t r, int64_t c, bool decay) {
    tparam *p = &t->p[t->n_p++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->shape[0] = r;
    p->shape[1] = c;
    p->n = r * (c ? c : 1);
    p->off = t->n_params;
    p->decay = decay;
    t->n_params += (p->n + 15) & ~(int64_t)15; /* 64-byte aligned tensors */
    return p->off;
}

static void build_table(pare_bert_trainer *t) {
    const pare_bert_config *c = &t->cfg;
    const int64_t H = c->hidden_size;
    char n[96];
    t->word = add_param(t, "embeddings.word_embeddings.weight", c->vocab_size, H, true);
    t->pos = add_param(t, "embeddings.position_embeddings.weight", c->max_position, H, true);
    t->type = add_param(t, "embeddings.token_type_embeddings.weight", c->type_vocab_size, H, true);
    t->lne_g = add_param(t, "embeddings.LayerNorm.weight", H, 0, false);
    t->lne_b = add_param(t, "embeddings.LayerNorm.bias", H, 0, false);
    const int64_t D = H / c->n_heads;
    for (int64_t l = 0; l < c->n_layers; l++) {
        layer_p *L = &t->L[l];
        const int64_t HA = L->heads * D, I = L->ffn; /* attention width and FFN width of this layer */
#define P(field, suffix, r, cc, dec)                                                   \
    snprintf(n, sizeof n, "encoder.layer.%lld.%s", (long long)l, suffix);              \
    field = add_param(t, n, r, cc, dec)
        P(L->qkv_w, "attention.self.query.weight", HA, H, true);
        add_param(t, (snprintf(n, sizeof n, "encoder.layer.%lld.attention.self.key.weight", (long long)l), n), HA, H, true);
        add_param(t, (snprintf(n, sizeof n, "encoder.layer.%lld.attention.self.value.weight", (long long)l), n), HA, H, true);
        P(L->qkv_b, "attention.self.query.bias", HA, 0, false);
        t->n_params -= ((HA + 15) & ~(int64_t)15) - HA; /* biases packed: q|k|v contiguous */
        add_param(t, (snprintf(n, sizeof n, "encoder.layer.%lld.attention.self.key.bias", (long long)l), n), HA, 0, false);
        t->n_params -= ((HA + 15) & ~(int64_t)15) - HA;
        add_param(t, (snprintf(n, sizeof n, "encoder.layer.%lld.attention.self.value.bias", (long long)l), n), HA, 0, false);
        P(L->o_w, "attention.output.dense.weight", H, HA, true);
        P(L->o_b, "attention.output.dense.bias", H, 0, false);
        P(L->ln1_g, "attention.output.LayerNorm.weight", H, 0, false);
        P(L->ln1_b, "attention.output.LayerNorm.bias", H, 0, false);
        P(L->f1_w, "intermediate.dense.weight", I, H, true);
        P(L->f1_b, "intermediate.dense.bias", I, 0, false);
        P(L->f2_w, "output.dense.weight", H, I, true);
        P(L->f2_b, "output.dense.bias", H, 0, false);
        P(L->ln2_g, "output.LayerNorm.weight", H, 0, false);
        P(L->ln2_b, "output.LayerNorm.bias", H, 0, false);
#undef P
    }
    t->pool_w = add_param(t, "pooler.dense.weight", H, H, true);
    t->pool_b = add_param(t, "pooler.dense.bias", H, 0, false);
    t->cls_w = add_param(t, "classifier.weight", t->o.n_labels, H, true);
    t->cls_b = add_param(t, "classifier.bias", t->o.n_labels, 0, false);
}

static float randn(uint64_t *s) {
    double u1 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    double u2 = ((double)(pare_splitmix64(s) >> 11) + 0.5) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Parameters from the folder's weights; pooler and classifier initialised
 * as HF does (N(0, 0.02), zero biases) when absent or of another shape. */
static pare_status load_params(pare_bert_trainer *t, pare_err *err) {
    pare_tensor_file *f;
    pare_status s = pare_model_open_weights(t->src_dir, &f, err);
    if (s) return s;
    uint64_t seed = t->o.seed ? t->o.seed : 42;
    for (int i = 0; i < t->n_p && !s; i++) {
        tparam *p = &t->p[i];
        char alt[128];
        snprintf(alt, sizeof alt, "bert.%s", p->name);
        const pare_tensor *x = pare_tensor_file_find(f, p->name);
        if (!x) x = pare_tensor_file_find(f, alt);
        const bool head = !strncmp(p->name, "pooler.", 7) || !strncmp(p->name, "classifier.", 11);
        if (x && pare_tensor_nelem(x) == p->n &&
            (x->n_dims == 1 ? p->shape[1] == 0 && x->shape[0] == p->shape[0]
                            : x->shape[0] == p->shape[0] && x->shape[1] == p->shape[1])) {
            s = pare_convert_to_f32(x->dtype, x->data, t->w + p->off, p->n, err);
            if (s) pare_err_wrap(err, "%s: tensor %s", t->src_dir, x->name);
        } else if (head) {
            for (int64_t k = 0; k < p->n; k++) t->w[p->off + k] = p->shape[1] ? 0.02f * randn(&seed) : 0.0f;
        } else {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: tensor %s missing or not [%lld, %lld]", t->src_dir, p->name,
                             (long long)p->shape[0], (long long)p->shape[1]);
        }
    }
    pare_tensor_file_close(f);
    return s;
}

/* Each layer's heads and FFN width, from the shapes of its query and FFN-in
 * weights (fewer than config.json's after structured pruning). */
static pare_status read_layer_dims(pare_bert_trainer *t, pare_err *err) {
    const pare_bert_config *c = &t->cfg;
    const int64_t D = c->hidden_size / c->n_heads;
    pare_tensor_file *f;
    pare_status s = pare_model_open_weights(t->src_dir, &f, err);
    if (s) return s;
    for (int64_t l = 0; l < c->n_layers && !s; l++) {
        layer_p *L = &t->L[l];
        L->heads = c->n_heads;
        L->ffn = c->intermediate_size;
        static const char *const parts[2] = {"attention.self.query.weight", "intermediate.dense.weight"};
        for (int k = 0; k < 2 && !s; k++) {
            char name[160];
            snprintf(name, sizeof name, "encoder.layer.%lld.%s", (long long)l, parts[k]);
            const pare_tensor *x = pare_tensor_file_find(f, name);
            if (!x) {
                char alt[170];
                snprintf(alt, sizeof alt, "bert.%s", name);
                x = pare_tensor_file_find(f, alt);
            }
            if (!x || x->n_dims != 2) continue; /* load_params names what is missing */
            const int64_t rows = x->shape[0];
            if (k == 0 && (rows <= 0 || rows % D || rows / D > c->n_heads))
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: %s has %lld rows, not a whole number (1 to %lld) of heads of %lld", t->src_dir,
                                 name, (long long)rows, (long long)c->n_heads, (long long)D);
            else if (k == 1 && (rows <= 0 || rows > c->intermediate_size))
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: %s has %lld rows (1 to %lld expected)", t->src_dir, name, (long long)rows,
                                 (long long)c->intermediate_size);
            else if (k == 0)
                L->heads = rows / D;
            else
                L->ffn = rows;
        }
    }
    pare_tensor_file_close(f);
    return s;
}

/* A large buffer on 2 MB boundaries, asking for transparent huge pages
 * (THP is often madvise-only): the step streams every buffer, and 4 KB
 * pages cost TLB misses (page walks are 2-D under a hypervisor). free()
 * releases it. zero: cleared. */
static void *alloc_big(size_t bytes, bool zero) {
    const size_t huge = (size_t)2 << 20, n = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, n ? n : huge);
    if (!p) return NULL;
    (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: failure changes nothing */
    if (zero) memset(p, 0, n);
    return p;
}

static pare_status alloc_acts(pare_bert_trainer *t, pare_err *err) {
    const pare_bert_config *c = &t->cfg;
    const int64_t H = c->hidden_size, I = c->intermediate_size, NH = c->n_heads, L = t->o.n_labels;
    const int64_t B = t->o.max_batch, T = t->o.max_len, BT = B * T;
    /* per layer: its output y2, and the rest (one set shared by all with
     * recompute), sized by config.json's heads and FFN width (structured
     * pruning only lowers them) */
    const int64_t rest = BT * (8 * H + 2 * I + 4) + B * NH * T * T, n_rest = t->o.recompute ? 1 : c->n_layers;
    const int64_t total = c->n_layers * BT * H + n_rest * rest + BT * (H + 2) + 3 * B * H + B * L;
    const int64_t scratch = BT * (2 * H + 2 * I + 3 * H + H) + 2 * B * H + 2 * B * L;
    t->act = alloc_big(sizeof(float) * (size_t)(total + scratch), false);
    t->A = calloc((size_t)c->n_layers, sizeof *t->A);
    t->pos_ids = malloc(sizeof(int32_t) * (size_t)BT);
    t->type_ids = calloc((size_t)BT, sizeof(int32_t));
    if (!t->act || !t->A || !t->pos_ids || !t->type_ids)
        return pare_err_set(err, PARE_ERR_OOM, "training: out of memory for activations of %lld x %lld tokens",
                            (long long)B, (long long)T);
    float *p = t->act;
#define TAKE(ptr, n) (ptr = p, p += (n))
    for (int64_t l = 0; l < c->n_layers; l++) {
        layer_a *a = &t->A[l];
        if (l >= n_rest) {
            *a = t->A[0];
            TAKE(a->y2, BT * H);
            continue;
        }
        TAKE(a->qkv, BT * 3 * H);
        TAKE(a->ctx, BT * H);
        TAKE(a->res1, BT * H);
        TAKE(a->y1, BT * H);
        TAKE(a->m1, BT);
        TAKE(a->r1, BT);
        TAKE(a->h1, BT * I);
        TAKE(a->g1, BT * I);
        TAKE(a->res2, BT * H);
        TAKE(a->y2, BT * H);
        TAKE(a->m2, BT);
        TAKE(a->r2, BT);
        TAKE(a->att, B * NH * T * T);
    }
    TAKE(t->emb, BT * H);
    TAKE(t->emb_m, BT);
    TAKE(t->emb_r, BT);
    TAKE(t->cls_in, B * H);
    TAKE(t->pooled, B * H);
    TAKE(t->d_cls, B * H);
    TAKE(t->logits, B * L);
    TAKE(t->d_a, BT * H);
    TAKE(t->d_b, BT * H);
    TAKE(t->d_i1, BT * I);
    TAKE(t->d_i2, BT * I);
    TAKE(t->d_qkv, BT * 3 * H);
    TAKE(t->d_ctx, BT * H);
    TAKE(t->d_pool, 2 * B * H);
    TAKE(t->d_logits, 2 * B * L);
#undef TAKE
    for (int64_t l = 0; l < c->n_layers; l++) t->A[l].x = l ? t->A[l - 1].y2 : t->emb;
    return PARE_OK;
}

pare_status pare_bert_trainer_create(const char *dir, const pare_trainer_opts *o, pare_bert_trainer **out,
                                     pare_err *err) {
    *out = NULL;
    if (o->n_labels <= 0 || o->n_labels > PARE_MAX_LABELS || o->max_batch <= 0 || o->max_len <= 1)
        return pare_err_set(err, PARE_ERR_INVALID, "training: %lld labels, batch %lld, length %lld is not a training setup",
                            (long long)o->n_labels, (long long)o->max_batch, (long long)o->max_len);
    pare_bert_trainer *t = calloc(1, sizeof *t);
    if (!t) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    t->o = *o;
    snprintf(t->src_dir, sizeof t->src_dir, "%s", dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    pare_status s = pare_bert_config_load(path, &t->cfg, err);
    const pare_bert_config *c = &t->cfg;
    if (!s && (c->hidden_size % c->n_heads || c->hidden_act != PARE_ACT_GELU_ERF))
        s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: training needs hidden_size divisible by the heads and hidden_act gelu", path);
    if (!s && o->max_len > c->max_position)
        s = pare_err_set(err, PARE_ERR_INVALID, "training: length %lld exceeds max_position_embeddings %lld",
                         (long long)o->max_len, (long long)c->max_position);
    if (!s) {
        t->p = calloc((size_t)(16 * c->n_layers + 16), sizeof *t->p);
        t->L = calloc((size_t)c->n_layers, sizeof *t->L);
        if (!t->p || !t->L) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    if (!s) s = read_layer_dims(t, err);
    if (!s) {
        build_table(t);
        const size_t bytes = sizeof(float) * (size_t)t->n_params;
        t->w = alloc_big(bytes, false);
        t->g = alloc_big(bytes, false);
        t->m = alloc_big(bytes, true);
        t->v = alloc_big(bytes, true);
        if (!t->w || !t->g || !t->m || !t->v) s = pare_err_set(err, PARE_ERR_OOM, "training: out of memory for %lld parameters", (long long)t->n_params);
        else memset(t->w, 0, bytes);
    }
    if (!s) s = load_params(t, err);
    if (!s) s = alloc_acts(t, err);
    if (!s && !(t->pool = pare_pool_create(0, err))) s = err ? err->code : PARE_ERR_INTERNAL;
    if (!s) {
        t->avx512 = pare_pool_isa(t->pool) >= PARE_ISA_AVX512 && pare_train_attn_ok(c->hidden_size, c->n_heads, c->n_heads);
        t->attn_per_thread = t->avx512 ? pare_train_attn_scratch(c->hidden_size, c->n_heads, o->max_len)
                                       : (c->hidden_size / c->n_heads + 1) * o->max_len;
    }
    if (!s) { /* pare_sgemm's packed B: the largest forward and dx operands, dw's in chunks of 2048 rows */
        const int64_t H = c->hidden_size, I = c->intermediate_size, BT = o->max_batch * o->max_len;
        const int64_t shapes[][2] = {{3 * H, H}, {H, H}, {I, H}, {H, I}, {o->n_labels, H}};
        t->gemm = pare_kernel_resolve(PARE_KERNEL_AUTO);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const int64_t no = shapes[i][0], ni = shapes[i][1];
            const int64_t need[3] = {pare_sgemm_ws_full(no, ni), pare_sgemm_ws_full(ni, no),
                                     pare_sgemm_ws_full(ni, BT < 2048 ? BT : 2048)};
            for (int k = 0; k < 3; k++) t->gemm_ws_n = need[k] > t->gemm_ws_n ? need[k] : t->gemm_ws_n;
        }
        t->gemm_ws_n += pare_sgemm_ws_threads(pare_pool_size(t->pool));
        if (!(t->gemm_ws = alloc_big(sizeof(float) * (size_t)t->gemm_ws_n, false))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    if (!s && !(t->attn_scratch = malloc(sizeof(float) * (size_t)pare_pool_size(t->pool) * (size_t)t->attn_per_thread)))
        s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (!s && o->keep_zeros) s = pare_bert_trainer_freeze_zeros(t, err);
    if (!s && o->cuda && o->recompute)
        s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "training: recomputing activations is for the CPU (the GPU keeps them)");
    if (!s && o->cuda) {
        const pare_cuda_bert_desc d = {.H = c->hidden_size, .I = c->intermediate_size, .NH = c->n_heads,
                                       .n_layers = c->n_layers, .n_labels = o->n_labels, .max_batch = o->max_batch,
                                       .max_len = o->max_len, .n_params = t->n_params, .eps = (float)c->layer_norm_eps,
                                       .layers = t->L, .word = t->word, .pos = t->pos, .type = t->type,
                                       .lne_g = t->lne_g, .lne_b = t->lne_b, .pool_w = t->pool_w, .pool_b = t->pool_b,
                                       .cls_w = t->cls_w, .cls_b = t->cls_b, .tf32 = o->tf32};
        s = pare_cuda_bert_create(&d, &t->cu, err);
        t->dev_stale = true;
    }
    if (s) {
        pare_bert_trainer_free(t);
        return s;
    }
    *out = t;
    return PARE_OK;
}

void pare_bert_trainer_free(pare_bert_trainer *t) {
    if (!t) return;
    free(t->p);
    free(t->L);
    free(t->w);
    free(t->g);
    free(t->m);
    free(t->v);
    free(t->act);
    free(t->A);
    free(t->pos_ids);
    free(t->type_ids);
    free(t->frozen);
    pare_pool_free(t->pool);
    free(t->attn_scratch);
    free(t->gemm_ws);
    free(t->datt);
    pare_cuda_bert_free(t->cu);
    free(t);
}

const char *pare_bert_trainer_device(const pare_bert_trainer *t) { return t->cu ? pare_cuda_bert_device(t->cu) : "cpu"; }

pare_status pare_bert_trainer_wait(pare_bert_trainer *t, pare_err *err) { return t->cu ? pare_cuda_bert_sync(t->cu, err) : PARE_OK; }

/* Training on the GPU: bring the host's copies up to date (after steps) or
 * the device's (after the host changed parameters, moments or the frozen
 * set). The flags per parameter: bit 0 weight decay, bit 1 frozen. */
static pare_status host_sync(pare_bert_trainer *t, pare_err *err) {
    if (!t->cu || !t->host_stale) return PARE_OK;
    pare_status s = pare_cuda_bert_download(t->cu, t->w, t->m, t->v, t->g, err);
    if (!s) t->host_stale = false;
    return s;
}

static pare_status dev_sync(pare_bert_trainer *t, pare_err *err) {
    if (!t->cu || !t->dev_stale) return PARE_OK;
    uint8_t *flags = calloc((size_t)t->n_params, 1);
    if (!flags) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int i = 0; i < t->n_p; i++)
        if (t->p[i].decay) memset(flags + t->p[i].off, 1, (size_t)t->p[i].n);
    if (t->frozen)
        for (int64_t k = 0; k < t->n_params; k++)
            if (t->frozen[k / 8] >> (k % 8) & 1) flags[k] |= 2;
    pare_status s = pare_cuda_bert_upload(t->cu, t->w, t->m, t->v, flags, err);
    free(flags);
    if (!s) t->dev_stale = false;
    return s;
}

/* The encoder's Linear weights (q, k, v, attention output, FFN in and out
 * of every layer): the set the seed study prunes, as pare_bert_prune_magnitude. */
static bool is_encoder_linear(const tparam *p) {
    return !strncmp(p->name, "encoder.layer.", 14) && p->shape[1] && !strstr(p->name, "LayerNorm");
}

pare_status pare_bert_trainer_freeze_zeros(pare_bert_trainer *t, pare_err *err) {
    pare_status s = host_sync(t, err);
    if (s) return s;
    t->dev_stale = true;
    free(t->frozen);
    t->frozen = calloc((size_t)(t->n_params / 8 + 1), 1);
    if (!t->frozen) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int i = 0; i < t->n_p; i++)
        if (is_encoder_linear(&t->p[i]))
            for (int64_t k = t->p[i].off; k < t->p[i].off + t->p[i].n; k++)
                if (t->w[k] == 0) t->frozen[k / 8] |= (uint8_t)(1u << (k % 8));
    return PARE_OK;
}

pare_status pare_bert_trainer_prune(pare_bert_trainer *t, double sparsity, bool global, int64_t *zeroed, pare_err *err) {
    if (!(sparsity >= 0 && sparsity < 1)) return pare_err_set(err, PARE_ERR_INVALID, "sparsity %g is not in [0, 1)", sparsity);
    pare_status s = host_sync(t, err);
    if (s) return s;
    t->dev_stale = true;
    float *ws[PARE_MAX_LAYERS_PRUNE];
    int64_t ns[PARE_MAX_LAYERS_PRUNE];
    int n = 0;
    for (int i = 0; i < t->n_p; i++)
        if (is_encoder_linear(&t->p[i])) {
            if (n == PARE_MAX_LAYERS_PRUNE) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "too many layers to prune");
            ws[n] = t->w + t->p[i].off;
            ns[n++] = t->p[i].n;
        }
    const int64_t z = pare_prune_magnitude(ws, ns, n, sparsity, global);
    if (z < 0) return pare_err_set(err, PARE_ERR_OOM, "out of memory while pruning");
    if (zeroed) *zeroed = z;
    return PARE_OK;
}

pare_status pare_bert_trainer_prune_nm(pare_bert_trainer *t, int n, int m, int64_t *zeroed, pare_err *err) {
    if (n <= 0 || n >= m || m > 64) return pare_err_set(err, PARE_ERR_INVALID, "%d:%d is not an n:m pattern with 0 < n < m <= 64", n, m);
    pare_status s = host_sync(t, err);
    if (s) return s;
    t->dev_stale = true;
    int64_t z = 0;
    for (int i = 0; i < t->n_p; i++) {
        const tparam *p = &t->p[i];
        if (!is_encoder_linear(p)) continue;
        float *w = t->w + p->off, *score = malloc(sizeof(float) * (size_t)p->n);
        if (!score) return pare_err_set(err, PARE_ERR_OOM, "out of memory while pruning");
        for (int64_t k = 0; k < p->n; k++) score[k] = fabsf(w[k]);
        z += pare_prune_by_score(w, score, p->shape[0], p->shape[1], PARE_PRUNE_NM, 0, n, m);
        free(score);
    }
    if (zeroed) *zeroed = z;
    return PARE_OK;
}

int64_t pare_bert_trainer_n_params(const pare_bert_trainer *t) {
    int64_t n = 0;
    for (int i = 0; i < t->n_p; i++) n += t->p[i].n;
    return n;
}
const pare_bert_config *pare_bert_trainer_config(const pare_bert_trainer *t) { return &t->cfg; }

/* Row and column work of the forward and backward split over the pool.
 * Rows are independent; the LayerNorm parameter and bias gradients are
 * sums over rows, split by columns so every column is summed in row order
 * whatever the thread count (the same floats as one thread). */
typedef enum { OP_LN_FWD, OP_LN_BWD_DX, OP_LN_BWD_PARAMS, OP_COLSUM, OP_ZERO, OP_GELU_FWD, OP_GELU_BWD } rowop;
typedef struct {
    rowop op;
    int64_t n;          /* what is split: rows, columns or floats */
    int64_t M, C;
    float *y, *mean, *rstd, *dg, *db;
    float *x;           /* LN_FWD: x += res first when res */
    const float *xc, *res, *dy, *g, *b;
    const float *cmean, *crstd;
    float eps;
    bool avx512;        /* GELU: train_avx512.h's */
} rows_job;

static void rows_worker(void *ctx, int ith, int nth) {
    const rows_job *j = ctx;
    int64_t lo, hi;
    pare_split_range(j->n, ith, nth, &lo, &hi);
    if (lo >= hi) return;
    const int64_t C = j->C;
    switch (j->op) {
    case OP_LN_FWD:
        if (j->res)
            for (int64_t i = lo * C; i < hi * C; i++) j->x[i] += j->res[i];
        pare_g_layernorm_fwd(j->y + lo * C, j->mean + lo, j->rstd + lo, j->x + lo * C, j->g, j->b, hi - lo, C, j->eps);
        break;
    case OP_LN_BWD_DX:
        pare_g_layernorm_bwd(j->y + lo * C, NULL, NULL, j->dy + lo * C, j->xc + lo * C, j->g, j->cmean + lo, j->crstd + lo,
                             hi - lo, C);
        break;
    case OP_LN_BWD_PARAMS: /* columns [lo, hi) */
        for (int64_t i = 0; i < j->M; i++) {
            const float *xi = j->xc + i * C, *dyi = j->dy + i * C, m = j->cmean[i], rs = j->crstd[i];
            for (int64_t c = lo; c < hi; c++) {
                j->db[c] += dyi[c];
                j->dg[c] += (xi[c] - m) * rs * dyi[c];
            }
        }
        break;
    case OP_COLSUM:
        for (int64_t i = 0; i < j->M; i++)
            for (int64_t c = lo; c < hi; c++) j->db[c] += j->dy[i * C + c];
        break;
    case OP_ZERO: memset(j->y + lo, 0, sizeof(float) * (size_t)(hi - lo)); break;
    case OP_GELU_FWD: (j->avx512 ? pare_train_gelu_fwd_avx512 : pare_g_gelu_fwd)(j->y + lo, j->xc + lo, hi - lo); break;
    case OP_GELU_BWD: /* y = dy gelu'(x) */
        memset(j->y + lo, 0, sizeof(float) * (size_t)(hi - lo));
        (j->avx512 ? pare_train_gelu_bwd_avx512 : pare_g_gelu_bwd)(j->y + lo, j->xc + lo, j->dy + lo, hi - lo);
        break;
    }
}

/* GELU forward (dy NULL: out = gelu(x)) or backward (out = dy * gelu'(x)),
 * element-wise over the pool. */
static void gelu_pool(const pare_bert_trainer *t, float *out, const float *x, const float *dy, int64_t n) {
    rows_job j = {.op = dy ? OP_GELU_BWD : OP_GELU_FWD, .n = n, .y = out, .xc = x, .dy = dy,
                  .avx512 = pare_pool_isa(t->pool) >= PARE_ISA_AVX512};
    pare_pool_run(t->pool, rows_worker, &j);
}

static void zero_pool(const pare_bert_trainer *t, float *p, int64_t n) {
    rows_job j = {.op = OP_ZERO, .n = n, .y = p};
    pare_pool_run(n >= 65536 ? t->pool : NULL, rows_worker, &j);
}

/* y = LayerNorm(x (+= res first when res)) over M rows of C */
static void ln_fwd(const pare_bert_trainer *t, float *y, float *mean, float *rstd, float *x, const float *res,
                   const float *g, const float *b, int64_t M, int64_t C, float eps) {
    rows_job j = {.op = OP_LN_FWD, .n = M, .C = C, .y = y, .mean = mean, .rstd = rstd, .x = x, .res = res, .g = g,
                  .b = b, .eps = eps};
    pare_pool_run(t->pool, rows_worker, &j);
}

/* dx += LayerNorm backward; dg, db += their sums over the rows */
static void ln_bwd(const pare_bert_trainer *t, float *dx, float *dg, float *db, const float *dy, const float *x,
                   const float *g, const float *mean, const float *rstd, int64_t M, int64_t C) {
    rows_job j = {.op = OP_LN_BWD_DX, .n = M, .M = M, .C = C, .y = dx, .dg = dg, .db = db, .dy = dy, .xc = x, .g = g,
                  .cmean = mean, .crstd = rstd};
    pare_pool_run(t->pool, rows_worker, &j);
    j.op = OP_LN_BWD_PARAMS;
    j.n = C;
    pare_pool_run(t->pool, rows_worker, &j);
}

/* Close the running phase into prof[ph] and start the next. */
static void prof_to(pare_bert_trainer *t, int ph) {
    const double now = pare_time_now();
    t->prof[ph] += now - t->prof_mark;
    t->prof_mark = now;
}

const double *pare_bert_trainer_profile(const pare_bert_trainer *t) { return t->prof; }

/* y[M][N] = x[M][K] W[N][K]^T + b */
static void lin_fwd(pare_bert_trainer *t, float *y, const float *x, const float *w, const float *b, int64_t M,
                    int64_t K, int64_t N) {
    const pare_sgemm_args g = {.tb = true, .M = M, .N = N, .K = K, .A = x, .lda = K, .B = w, .ldb = K, .bias = b,
                               .C = y, .ldc = N};
    prof_to(t, PARE_PROF_FWD_OTHER);
    pare_sgemm(&g, t->gemm, t->gemm_ws, t->gemm_ws_n, t->pool);
    prof_to(t, PARE_PROF_FWD_GEMM);
}

/* dx = (dx_acc ? dx : 0) + dy W; dw += dy^T x; db += column sums of dy */
static void lin_bwd(pare_bert_trainer *t, float *dx, bool dx_acc, float *dw, float *db, const float *dy,
                    const float *x, const float *w, int64_t M, int64_t K, int64_t N) {
    const pare_sgemm_args gx = {.accumulate = dx_acc, .M = M, .N = K, .K = N, .A = dy, .lda = N, .B = w, .ldb = K,
                                .C = dx, .ldc = K};
    const pare_sgemm_args gw = {.ta = true, .accumulate = true, .M = N, .N = K, .K = M, .A = dy, .lda = N, .B = x,
                                .ldb = K, .C = dw, .ldc = K};
    prof_to(t, PARE_PROF_BWD_OTHER);
    pare_sgemm(&gx, t->gemm, t->gemm_ws, t->gemm_ws_n, t->pool);
    pare_sgemm(&gw, t->gemm, t->gemm_ws, t->gemm_ws_n, t->pool);
    prof_to(t, PARE_PROF_BWD_GEMM);
    rows_job j = {.op = OP_COLSUM, .n = N, .M = M, .C = N, .db = db, .dy = dy};
    pare_pool_run(M * N >= 65536 ? t->pool : NULL, rows_worker, &j);
}

static pare_status check_batch(const pare_bert_trainer *t, const int32_t *ids, int64_t B, int64_t T, pare_err *err) {
    if (B <= 0 || T <= 0 || B > t->o.max_batch || T > t->o.max_len)
        return pare_err_set(err, PARE_ERR_INVALID, "training: batch %lld x %lld is outside %lld x %lld", (long long)B,
                            (long long)T, (long long)t->o.max_batch, (long long)t->o.max_len);
    for (int64_t i = 0; i < B * T; i++)
        if (ids[i] < 0 || ids[i] >= t->cfg.vocab_size)
            return pare_err_set(err, PARE_ERR_INVALID, "training: token id %d outside the vocabulary", ids[i]);
    return PARE_OK;
}

/* Encoder layer l from its input A[l].x: every activation the backward
 * needs (with recompute, in the buffers all layers share but y2). */
static void layer_fwd(pare_bert_trainer *t, int64_t l, int64_t B, int64_t T) {
    const pare_bert_config *c = &t->cfg;
    const layer_p *P = &t->L[l];
    const int64_t H = c->hidden_size, NH = P->heads, HA = NH * (H / c->n_heads), I = P->ffn, BT = B * T;
    const float eps = (float)c->layer_norm_eps, *w = t->w;
    layer_a *a = &t->A[l];
    lin_fwd(t, a->qkv, a->x, w + P->qkv_w, w + P->qkv_b, BT, H, 3 * HA);
    attn_job aj = {.out = a->ctx, .att = a->att, .qkv = a->qkv, .mask = t->mask, .T = T, .C = HA, .NH = NH, .pairs = B * NH,
                   .scratch = t->attn_scratch, .per_thread = t->attn_per_thread, .avx512 = t->avx512};
    prof_to(t, PARE_PROF_FWD_OTHER);
    pare_pool_run(t->pool, attn_run, &aj);
    prof_to(t, PARE_PROF_FWD_ATTN);
    lin_fwd(t, a->res1, a->ctx, w + P->o_w, w + P->o_b, BT, HA, H);
    ln_fwd(t, a->y1, a->m1, a->r1, a->res1, a->x, w + P->ln1_g, w + P->ln1_b, BT, H, eps);
    lin_fwd(t, a->h1, a->y1, w + P->f1_w, w + P->f1_b, BT, H, I);
    gelu_pool(t, a->g1, a->h1, NULL, BT * I);
    lin_fwd(t, a->res2, a->g1, w + P->f2_w, w + P->f2_b, BT, I, H);
    ln_fwd(t, a->y2, a->m2, a->r2, a->res2, a->y1, w + P->ln2_g, w + P->ln2_b, BT, H, eps);
}

/* The forward pass, keeping every activation (with recompute: each
 * layer's output and the last layer's rest); logits into t->logits. */
static void forward(pare_bert_trainer *t, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T) {
    const pare_bert_config *c = &t->cfg;
    const int64_t H = c->hidden_size, BT = B * T, L = t->o.n_labels;
    const float eps = (float)c->layer_norm_eps, *w = t->w;
    for (int64_t i = 0; i < BT; i++) t->pos_ids[i] = (int32_t)(i % T);
    float *e = t->d_a; /* the summed embeddings (recomputed by the backward) */
    memset(e, 0, sizeof(float) * (size_t)(BT * H));
    pare_g_embed_fwd(e, ids, w + t->word, BT, H);
    pare_g_embed_fwd(e, t->pos_ids, w + t->pos, BT, H);
    pare_g_embed_fwd(e, t->type_ids, w + t->type, BT, H);
    ln_fwd(t, t->emb, t->emb_m, t->emb_r, e, NULL, w + t->lne_g, w + t->lne_b, BT, H, eps);
    t->mask = mask;
    for (int64_t l = 0; l < c->n_layers; l++) layer_fwd(t, l, B, T);
    const float *last = t->A[c->n_layers - 1].y2;
    for (int64_t b = 0; b < B; b++) memcpy(t->cls_in + b * H, last + b * T * H, sizeof(float) * (size_t)H);
    float *pre = t->d_pool + B * H; /* the pooler's pre-activation is not needed: tanh's backward uses its output */
    lin_fwd(t, pre, t->cls_in, w + t->pool_w, w + t->pool_b, B, H, H);
    pare_g_tanh_fwd(t->pooled, pre, B * H);
    lin_fwd(t, t->logits, t->pooled, w + t->cls_w, w + t->cls_b, B, H, L);
}

/* forward() on the CPU or the GPU; the logits in t->logits either way */
static pare_status run_forward(pare_bert_trainer *t, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T,
                               pare_err *err) {
    if (!t->cu) {
        forward(t, ids, mask, B, T);
        return PARE_OK;
    }
    pare_status s = dev_sync(t, err);
    return s ? s : pare_cuda_bert_forward(t->cu, ids, mask, B, T, t->logits, err);
}

pare_status pare_bert_trainer_logits(pare_bert_trainer *t, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T,
                                     float *logits, pare_err *err) {
    pare_status s = check_batch(t, ids, B, T, err);
    if (!s) s = run_forward(t, ids, mask, B, T, err);
    if (s) return s;
    memcpy(logits, t->logits, sizeof(float) * (size_t)(B * t->o.n_labels));
    return PARE_OK;
}

const float *pare_bert_trainer_hidden(const pare_bert_trainer *t, int64_t k) {
    if (t->cu) return pare_cuda_bert_hidden(t->cu, k);
    if (k < 0 || k > t->cfg.n_layers) return NULL;
    return k ? t->A[k - 1].y2 : t->emb;
}

const float *pare_bert_trainer_attention(const pare_bert_trainer *t, int64_t l) {
    if (t->cu) return pare_cuda_bert_attention(t->cu, l);
    if (t->o.recompute || l < 0 || l >= t->cfg.n_layers) return NULL;
    return t->A[l].att;
}

/* The counts the transfer losses are means over: real tokens x channels x
 * targets (hidden states), real query rows x keys x heads x layers
 * (attention; the heads of layer 0, which every layer shares then). */
static void transfer_counts(const pare_bert_trainer *t, const pare_train_batch *bt, double *n_hidden, double *n_att) {
    int64_t real = 0;
    for (int64_t i = 0; i < bt->B * bt->T; i++) real += !bt->mask || bt->mask[i];
    *n_hidden = (double)real * (double)t->cfg.hidden_size * (double)(t->cfg.n_layers + 1);
    *n_att = (double)real * (double)bt->T * (double)t->L[0].heads * (double)t->cfg.n_layers;
}

/* Attention transfer: layer l's term (pare_train_batch.kd_att), and when
 * E is given its gradient of the layer's probabilities into E (0 on
 * padded query rows). */
static double att_term(const pare_bert_trainer *t, const pare_train_batch *bt, int64_t l, float *E) {
    const int64_t NH = t->L[l].heads, B = bt->B, T = bt->T;
    double nh, n;
    transfer_counts(t, bt, &nh, &n);
    const float *ps = t->A[l].att, *pt = bt->teacher_att[l];
    const float coef = (float)(2.0 * bt->kd_att / n);
    double ss = 0;
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < NH; h++)
            for (int64_t i = 0; i < T; i++) {
                const int64_t row = ((b * NH + h) * T + i) * T;
                const bool on = !bt->mask || bt->mask[b * T + i];
                for (int64_t j = 0; j < T; j++) {
                    const float d = on ? ps[row + j] - pt[row + j] : 0.0f;
                    ss += (double)d * d;
                    if (E) E[row + j] = coef * d;
                }
            }
    return bt->kd_att * ss / n;
}

/* Hidden-state transfer: the loss term (pare_train_batch.kd_hidden), and
 * when dy is given its gradient for target k added to dy. */
static double hidden_term(const pare_bert_trainer *t, const pare_train_batch *bt, int64_t k, float *dy) {
    const int64_t H = t->cfg.hidden_size, BT = bt->B * bt->T;
    double n, na;
    transfer_counts(t, bt, &n, &na);
    const float *hs = pare_bert_trainer_hidden(t, k), *ht = bt->teacher_hidden[k];
    const float coef = (float)(2.0 * bt->kd_hidden / n);
    double ss = 0;
    for (int64_t i = 0; i < BT; i++) {
        if (bt->mask && !bt->mask[i]) continue;
        for (int64_t c = 0; c < H; c++) {
            const float d = hs[i * H + c] - ht[i * H + c];
            ss += (double)d * d;
            if (dy) dy[i * H + c] += coef * d;
        }
    }
    return bt->kd_hidden * ss / n;
}

static void backward(pare_bert_trainer *t, const int32_t *ids, int64_t B, int64_t T) {
    const pare_bert_config *c = &t->cfg;
    const int64_t H = c->hidden_size, D = H / c->n_heads, BT = B * T, L = t->o.n_labels;
    const float *w = t->w;
    float *g = t->g;
    zero_pool(t, g, t->n_params);
    /* head */
    float *d_pooled = t->d_pool, *d_pre = t->d_pool + B * H;
    memset(d_pooled, 0, sizeof(float) * (size_t)(2 * B * H));
    lin_bwd(t, d_pooled, false, g + t->cls_w, g + t->cls_b, t->d_logits, t->pooled, w + t->cls_w, B, H, L);
    pare_g_tanh_bwd(d_pre, t->pooled, d_pooled, B * H);
    lin_bwd(t, t->d_cls, false, g + t->pool_w, g + t->pool_b, d_pre, t->cls_in, w + t->pool_w, B, H, H);
    /* d of the last layer's output: only the CLS rows */
    float *dy = t->d_a;
    memset(dy, 0, sizeof(float) * (size_t)(BT * H));
    for (int64_t b = 0; b < B; b++) memcpy(dy + b * T * H, t->d_cls + b * H, sizeof(float) * (size_t)H);
    float *dres = t->d_b;
    for (int64_t l = c->n_layers - 1; l >= 0; l--) {
        const layer_p *P = &t->L[l];
        const layer_a *a = &t->A[l];
        const int64_t NH = P->heads, HA = NH * D, I = P->ffn;
        if (t->batch && t->batch->teacher_hidden) hidden_term(t, t->batch, l + 1, dy);
        if (t->o.recompute && l < c->n_layers - 1) { /* the last layer's are still there */
            prof_to(t, PARE_PROF_BWD_OTHER);
            layer_fwd(t, l, B, T);
            prof_to(t, PARE_PROF_FWD_OTHER);
        }
        /* dy: gradient of y2. LN2 -> res2 = y1 + f2 */
        zero_pool(t, dres, BT * H);
        ln_bwd(t, dres, g + P->ln2_g, g + P->ln2_b, dy, a->res2, w + P->ln2_g, a->m2, a->r2, BT, H);
        /* dy1 starts as dres (residual); ffn2 and ffn1 add to it */
        memcpy(dy, dres, sizeof(float) * (size_t)(BT * H));
        lin_bwd(t, t->d_i1, false, g + P->f2_w, g + P->f2_b, dres, a->g1, w + P->f2_w, BT, I, H);
        gelu_pool(t, t->d_i2, a->h1, t->d_i1, BT * I);
        lin_bwd(t, dy, true, g + P->f1_w, g + P->f1_b, t->d_i2, a->y1, w + P->f1_w, BT, H, I);
        /* LN1 -> res1 = x + o(ctx) */
        zero_pool(t, dres, BT * H);
        ln_bwd(t, dres, g + P->ln1_g, g + P->ln1_b, dy, a->res1, w + P->ln1_g, a->m1, a->r1, BT, H);
        memcpy(dy, dres, sizeof(float) * (size_t)(BT * H)); /* dx starts as the residual */
        lin_bwd(t, t->d_ctx, false, g + P->o_w, g + P->o_b, dres, a->ctx, w + P->o_w, BT, HA, H);
        zero_pool(t, t->d_qkv, BT * 3 * HA);
        const bool at = t->batch && t->batch->teacher_att;
        if (at) att_term(t, t->batch, l, t->datt);
        attn_job aj = {.out = t->d_qkv, .in = t->d_ctx, .qkv = a->qkv, .att_in = a->att, .datt = at ? t->datt : NULL, .T = T,
                       .C = HA, .NH = NH, .pairs = B * NH, .bwd = true, .scratch = t->attn_scratch,
                       .per_thread = t->attn_per_thread, .avx512 = t->avx512};
        prof_to(t, PARE_PROF_BWD_OTHER);
        pare_pool_run(t->pool, attn_run, &aj);
        prof_to(t, PARE_PROF_BWD_ATTN);
        lin_bwd(t, dy, true, g + P->qkv_w, g + P->qkv_b, t->d_qkv, a->x, w + P->qkv_w, BT, H, 3 * HA);
    }
    if (t->batch && t->batch->teacher_hidden) hidden_term(t, t->batch, 0, dy);
    /* embeddings: recompute their sum (the forward's copy was overwritten) */
    float *e = dres;
    memset(e, 0, sizeof(float) * (size_t)(BT * H));
    pare_g_embed_fwd(e, ids, w + t->word, BT, H);
    pare_g_embed_fwd(e, t->pos_ids, w + t->pos, BT, H);
    pare_g_embed_fwd(e, t->type_ids, w + t->type, BT, H);
    zero_pool(t, t->d_ctx, BT * H);
    ln_bwd(t, t->d_ctx, g + t->lne_g, g + t->lne_b, dy, e, w + t->lne_g, t->emb_m, t->emb_r, BT, H);
    pare_g_embed_bwd(g + t->word, ids, t->d_ctx, BT, H);
    pare_g_embed_bwd(g + t->pos, t->pos_ids, t->d_ctx, BT, H);
    pare_g_embed_bwd(g + t->type, t->type_ids, t->d_ctx, BT, H);
}

void pare_bert_trainer_buffers(pare_bert_trainer *t, float **w, float **g, int64_t *n) {
    pare_err err;
    if (host_sync(t, &err)) fprintf(stderr, "pare: %s\n", err.msg); /* tests only */
    t->dev_stale = t->cu != NULL; /* the caller may write w: upload before the next use */
    *w = t->w;
    *g = t->g;
    *n = t->n_params;
}

/* Forward and loss; the loss gradient into t->d_logits. */
static pare_status forward_loss(pare_bert_trainer *t, const pare_train_batch *bt, float *loss, pare_err *err) {
    const int64_t B = bt->B, T = bt->T, L = t->o.n_labels;
    pare_status s = check_batch(t, bt->ids, B, T, err);
    if (s) return s;
    if (t->o.multi_label ? !bt->targets : !bt->labels)
        return pare_err_set(err, PARE_ERR_INVALID, "training: the batch has no %s", t->o.multi_label ? "targets" : "labels");
    if ((s = run_forward(t, bt->ids, bt->mask, B, T, err))) return s;
    float l;
    if (bt->teacher)
        l = pare_g_distill_loss(t->d_logits, t->logits, bt->teacher, bt->targets, bt->labels, B, L, t->o.multi_label,
                                bt->kd_temperature > 0 ? bt->kd_temperature : 2.0f, bt->kd_alpha);
    else if (t->o.multi_label)
        l = pare_g_bce_logits(t->d_logits, t->logits, bt->targets, B * L);
    else
        l = pare_g_softmax_ce(t->d_logits, t->logits, bt->labels, B, L);
    t->batch = bt;
    if ((bt->teacher_hidden || bt->teacher_att) && t->cu) { /* device pointers: a teacher trainer's on the GPU */
        const int64_t n = t->cfg.n_layers;
        for (int64_t k = 0; bt->teacher_att && k < n; k++)
            if (t->L[k].heads != t->cfg.n_heads)
                return pare_err_set(err, PARE_ERR_UNSUPPORTED, "training: attention transfer needs every layer's heads");
        double nh, na;
        transfer_counts(t, bt, &nh, &na);
        double *ss = calloc((size_t)(2 * n + 1), sizeof *ss);
        if (!ss) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        s = pare_cuda_bert_transfer(t->cu, bt->teacher_hidden, (float)(2 * bt->kd_hidden / nh), bt->teacher_att,
                                    (float)(2 * bt->kd_att / na), ss, ss + n + 1, err);
        for (int64_t k = 0; !s && k <= 2 * n; k++) l += (float)(ss[k] * (k <= n ? bt->kd_hidden / nh : bt->kd_att / na));
        free(ss);
        if (s) return s;
    } else if (bt->teacher_hidden)
        for (int64_t k = 0; k <= t->cfg.n_layers; k++) l += (float)hidden_term(t, bt, k, NULL);
    if (bt->teacher_att && !t->cu) {
        if (t->o.recompute) return pare_err_set(err, PARE_ERR_UNSUPPORTED, "training: attention transfer needs every layer's attention (no recompute)");
        if (!t->datt && !(t->datt = malloc(sizeof(float) * (size_t)(t->o.max_batch * t->cfg.n_heads * t->o.max_len * t->o.max_len))))
            return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int64_t k = 0; k < t->cfg.n_layers; k++) l += (float)att_term(t, bt, k, NULL);
    }
    if (!isfinite(l)) return pare_err_set(err, PARE_ERR_INVALID, "training: the loss is %g (diverged); lower the learning rate", (double)l);
    *loss = l;
    return PARE_OK;
}

pare_status pare_bert_trainer_loss(pare_bert_trainer *t, const pare_train_batch *bt, float *loss, pare_err *err) {
    return forward_loss(t, bt, loss, err);
}

/* The global gradient norm clipped to: opts.clip, 1 when 0; 0 (none) when negative. */
static double max_norm(const pare_bert_trainer *t) { return t->o.clip < 0 ? 0 : t->o.clip > 0 ? t->o.clip : 1.0; }

typedef struct {
    pare_bert_trainer *t;
    double lr;
    float gscale; /* the clipping factor */
} adamw_job;

/* Every parameter tensor split between the threads (element-wise: the
 * result does not depend on the split). */
static void adamw_worker(void *ctx, int ith, int nth) {
    const adamw_job *j = ctx;
    pare_bert_trainer *t = j->t;
    for (int i = 0; i < t->n_p; i++) {
        const tparam *p = &t->p[i];
        int64_t lo, hi;
        pare_split_range(p->n, ith, nth, &lo, &hi);
        if (lo < hi)
            pare_adamw_step(t->w + p->off + lo, t->g + p->off + lo, t->m + p->off + lo, t->v + p->off + lo, hi - lo,
                            &t->o.adamw, t->step, j->lr, p->decay, j->gscale);
    }
}

pare_status pare_bert_trainer_step(pare_bert_trainer *t, const pare_train_batch *bt, double lr, float *loss,
                                   pare_err *err) {
    float l = 0;
    t->prof_mark = pare_time_now();
    pare_status s = forward_loss(t, bt, &l, err);
    if (s) return s;
    prof_to(t, PARE_PROF_FWD_OTHER);
    if (t->cu) { /* the backward, clipping and AdamW queued on the GPU */
        t->step++;
        s = pare_cuda_bert_backward(t->cu, t->d_logits, err);
        if (!s) s = pare_cuda_bert_adamw(t->cu, &t->o.adamw, pare_adamw_consts_at(&t->o.adamw, t->step, lr), max_norm(t), err);
        t->host_stale = true;
        prof_to(t, PARE_PROF_BWD_OTHER);
        if (!s && loss) *loss = l;
        return s;
    }
    backward(t, bt->ids, bt->B, bt->T);
    prof_to(t, PARE_PROF_BWD_OTHER);
    float *gp = t->g;
    const int64_t n_all = t->n_params;
    const float gscale = max_norm(t) > 0 ? pare_clip_factor(pare_grad_norm_pool(gp, n_all, t->pool), max_norm(t)) : 1.0f;
    t->step++;
    adamw_job aj = {.t = t, .lr = lr, .gscale = gscale};
    pare_pool_run(t->pool, adamw_worker, &aj);
    if (t->frozen) /* pruned weights stay pruned (recovery fine-tuning) */
        for (int64_t k = 0; k < t->n_params; k += 8)
            if (t->frozen[k / 8])
                for (int b = 0; b < 8 && k + b < t->n_params; b++)
                    if (t->frozen[k / 8] >> b & 1) t->w[k + b] = 0;
    prof_to(t, PARE_PROF_OPT);
    if (loss) *loss = l;
    return PARE_OK;
}

pare_status pare_bert_trainer_taylor(pare_bert_trainer *t, const pare_train_batch *bt, pare_struct_unit unit, double *scores,
                                     pare_err *err) {
    float l;
    t->prof_mark = pare_time_now();
    pare_status s = forward_loss(t, bt, &l, err);
    if (s) return s;
    prof_to(t, PARE_PROF_FWD_OTHER);
    if (t->cu) { /* the gradients on the GPU, then the host's copies */
        t->host_stale = true;
        if ((s = pare_cuda_bert_backward(t->cu, t->d_logits, err)) || (s = host_sync(t, err))) return s;
    } else {
        backward(t, bt->ids, bt->B, bt->T);
    }
    prof_to(t, PARE_PROF_BWD_OTHER);
    const pare_bert_config *c = &t->cfg;
    const int64_t H = c->hidden_size, D = H / c->n_heads;
    int64_t base_h = 0, base_n = 0; /* each layer's first unit in scores (pare_bert_struct_count's order) */
    for (int64_t ly = 0; ly < c->n_layers; ly++) {
        const layer_p *P = &t->L[ly];
        const int64_t A = P->heads, HA = A * D, I = P->ffn;
        double layer = 0;
        /* dL/d(mask of head h) = sum of w * g over the head's columns of the attention output */
        for (int64_t h = 0; h < A && unit != PARE_STRUCT_NEURONS; h++) {
            double a = 0;
            for (int64_t i = 0; i < H; i++)
                for (int64_t j = h * D; j < (h + 1) * D; j++) a += (double)t->w[P->o_w + i * HA + j] * t->g[P->o_w + i * HA + j];
            if (unit == PARE_STRUCT_HEADS) scores[base_h + h] += fabs(a);
            layer += fabs(a);
        }
        /* a neuron's: over its column of the FFN output */
        for (int64_t n = 0; n < I && unit != PARE_STRUCT_HEADS; n++) {
            double a = 0;
            for (int64_t i = 0; i < H; i++) a += (double)t->w[P->f2_w + i * I + n] * t->g[P->f2_w + i * I + n];
            if (unit == PARE_STRUCT_NEURONS) scores[base_n + n] += fabs(a);
            layer += fabs(a);
        }
        base_h += A;
        base_n += I;
        if (unit == PARE_STRUCT_LAYERS) scores[ly] += layer;
    }
    return PARE_OK;
}

/* ---- training state (checkpoints): parameters, AdamW moments and step */
pare_status pare_bert_trainer_save_state(pare_bert_trainer *t, const char *path, pare_err *err) {
    pare_status s = host_sync(t, err);
    if (s) return s;
    int64_t step = t->step;
    const pare_tensor ts[4] = {
        {.name = "params", .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {t->n_params}, .data = t->w, .nbytes = sizeof(float) * (size_t)t->n_params},
        {.name = "adam_m", .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {t->n_params}, .data = t->m, .nbytes = sizeof(float) * (size_t)t->n_params},
        {.name = "adam_v", .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {t->n_params}, .data = t->v, .nbytes = sizeof(float) * (size_t)t->n_params},
        {.name = "step", .dtype = PARE_DTYPE_I64, .n_dims = 1, .shape = {1}, .data = &step, .nbytes = sizeof step},
    };
    return pare_safetensors_write(path, ts, 4, err);
}

pare_status pare_bert_trainer_load_state(pare_bert_trainer *t, const char *path, pare_err *err) {
    pare_tensor_file *f;
    pare_status s = pare_tensor_file_open(path, &f, err);
    if (s) return s;
    float *dst[3] = {t->w, t->m, t->v};
    static const char *const names[3] = {"params", "adam_m", "adam_v"};
    for (int i = 0; i < 3 && !s; i++) {
        const pare_tensor *x = pare_tensor_file_find(f, names[i]);
        if (!x || x->dtype != PARE_DTYPE_F32 || !pare_tensor_has_shape(x, 1, &t->n_params))
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is missing or not %lld f32 values (a checkpoint of another model?)", path,
                             names[i], (long long)t->n_params);
        else
            memcpy(dst[i], x->data, sizeof(float) * (size_t)t->n_params);
    }
    const pare_tensor *st = s ? NULL : pare_tensor_file_find(f, "step");
    if (!s && (!st || st->dtype != PARE_DTYPE_I64 || !pare_tensor_has_shape(st, 1, (int64_t[]){1})))
        s = pare_err_set(err, PARE_ERR_FORMAT, "%s: no 'step'", path);
    if (!s) memcpy(&t->step, st->data, sizeof t->step);
    pare_tensor_file_close(f);
    t->host_stale = false;
    t->dev_stale = true;
    return s;
}

/* ---- saving: model.safetensors with HF names (encoder under "bert.") and
 * a config.json for BertForSequenceClassification, tokenizer files copied. */
typedef struct save_ctx {
    pare_bert_trainer *t;
    const char *const *label_names;
} save_ctx;

static pare_status save_files(const char *out_dir, void *ctx, pare_err *err) {
    pare_bert_trainer *t = ((save_ctx *)ctx)->t;
    const char *const *label_names = ((save_ctx *)ctx)->label_names;
    pare_status s;
    pare_tensor *ts = calloc((size_t)t->n_p, sizeof *ts);
    char (*names)[112] = calloc((size_t)t->n_p, sizeof *names);
    if (!ts || !names) {
        free(ts);
        free(names);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    for (int i = 0; i < t->n_p; i++) {
        const tparam *p = &t->p[i];
        snprintf(names[i], sizeof names[i], "%s%s", strncmp(p->name, "classifier.", 11) ? "bert." : "", p->name);
        ts[i] = (pare_tensor){.name = names[i], .dtype = PARE_DTYPE_F32, .n_dims = p->shape[1] ? 2 : 1,
                              .shape = {p->shape[0], p->shape[1]}, .data = t->w + p->off,
                              .nbytes = sizeof(float) * (size_t)p->n};
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    s = pare_safetensors_write(path, ts, t->n_p, err);
    free(ts);
    free(names);
    /* config: the source's, as a sequence classifier */
    char *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/config.json", t->src_dir);
    if (!s) s = pare_read_file(path, (size_t)16 << 20, &text, &len, err);
    cJSON *root = s ? NULL : cJSON_ParseWithLength(text, len);
    free(text);
    if (!s && !cJSON_IsObject(root)) s = pare_err_set(err, PARE_ERR_FORMAT, "%s: not a JSON object", path);
    if (!s) {
        const char *const drop[] = {"architectures", "id2label", "label2id", "num_labels", "problem_type", "_name_or_path"};
        for (size_t i = 0; i < sizeof drop / sizeof *drop; i++) cJSON_DeleteItemFromObjectCaseSensitive(root, drop[i]);
        cJSON *arch = cJSON_AddArrayToObject(root, "architectures");
        cJSON_AddItemToArray(arch, cJSON_CreateString("BertForSequenceClassification"));
        cJSON_AddStringToObject(root, "problem_type", t->o.multi_label ? "multi_label_classification" : "single_label_classification");
        cJSON *i2l = cJSON_AddObjectToObject(root, "id2label"), *l2i = cJSON_AddObjectToObject(root, "label2id");
        for (int64_t l = 0; l < t->o.n_labels; l++) {
            char k[24], nm[64];
            snprintf(k, sizeof k, "%lld", (long long)l);
            if (label_names && label_names[l]) snprintf(nm, sizeof nm, "%s", label_names[l]);
            else snprintf(nm, sizeof nm, "LABEL_%lld", (long long)l);
            cJSON_AddStringToObject(i2l, k, nm);
            cJSON_AddNumberToObject(l2i, nm, (double)l);
        }
        char *out = cJSON_Print(root);
        snprintf(path, sizeof path, "%s/config.json", out_dir);
        s = out ? pare_write_text(path, out, err) : pare_err_set(err, PARE_ERR_OOM, "out of memory");
        cJSON_free(out);
    }
    cJSON_Delete(root);
    if (!s) s = pare_model_copy_tokenizer(t->src_dir, out_dir, err);
    return s;
}

pare_status pare_bert_trainer_save(pare_bert_trainer *t, const char *out_dir, const char *const *label_names,
                                   pare_err *err) {
    pare_status s = host_sync(t, err);
    if (s) return s;
    return pare_outdir_write(out_dir, save_files, &(save_ctx){t, label_names}, err);
}
