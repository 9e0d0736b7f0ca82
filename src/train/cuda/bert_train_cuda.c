/* The BERT trainer's step on a CUDA GPU (src/train/bert_train_cuda.h).
 *
 * The order of operations is bert_train.c's; activations are row-major as
 * there. Attention keeps q, k, v per head ([B][NH][T][D]) so its products
 * are cuBLAS strided batches over the B * NH (sequence, head) pairs; the
 * probabilities are kept for the backward as on the CPU. Biases are added
 * by the kernel after each product (fused into LayerNorm, GELU and the
 * head layout change); their gradients are column sums by cuBLAS gemv with
 * a vector of ones. Everything runs on one stream; the only waits are the
 * logits' copy to the host and the optional norm. Row-major products go to
 * column-major cuBLAS as their transposes: C = op(A) op(B) is
 * C^T = op(B)^T op(A)^T. */
#include "train/bert_train_cuda.h"

#include "kernels/cuda/train_ops.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    float *qkvh;           /* q | k | v per head, bias added, 3 x [B][NH][T][D] */
    float *att;            /* probabilities [B][NH][T][T] */
    float *ctx, *res1, *y1, *m1, *r1, *h1, *g1, *res2, *y2, *m2, *r2;
} cu_layer;

struct pare_cuda_bert {
    pare_cuda_bert_desc d;
    pare_bert_layer_offs *lo;
    cudaStream_t st;
    cublasHandle_t blas;
    char name[256];
    void *mem; /* one allocation, carved below */
    float *w, *g, *m, *v;
    uint8_t *flags;
    cu_layer *A;
    float *e, *emb, *emb_m, *emb_r, *cls_in, *pooled, *logits;
    float *rows3, *heads, *dheads3, *dp, *dy, *dres, *d_i1, *d_i2, *d_ctx, *d_logits, *d_pooled, *d_pre, *d_cls;
    float *ln_part, *ones, *gscale;
    double *clip_part;
    int32_t *ids;
    int8_t *mask;
    int64_t B, T;   /* the last forward's batch */
    bool has_mask;
    double *tr_part;              /* transfer losses' partial sums */
    const float **tr_hid, **tr_att; /* transfer targets of the batch (device), or NULL */
    float tr_hid_coef, tr_att_coef;
    void *blas_ws;                /* cuBLAS's workspace, given so that graph capture allocates nothing */
    bool graphs;                  /* replay captured CUDA graphs (PARE_CUDA_GRAPHS=0: never) */
    struct cu_graph {
        int64_t B, T;
        int kind; /* 0 forward, 1 backward */
        bool mask;
        cudaGraphExec_t exec;
    } *gc;
    int n_gc;
};

static pare_status cu_fail(pare_err *err, cudaError_t e, const char *what) {
    return pare_err_set(err, e == cudaErrorMemoryAllocation ? PARE_ERR_OOM : PARE_ERR_INTERNAL, "CUDA: %s: %s", what,
                        cudaGetErrorString(e));
}
static pare_status cb_fail(pare_err *err, cublasStatus_t s, const char *what) {
    return pare_err_set(err, s == CUBLAS_STATUS_ALLOC_FAILED ? PARE_ERR_OOM : PARE_ERR_INTERNAL, "cuBLAS: %s: status %d", what,
                        (int)s);
}
#define CU(call)                                                                                                       \
    do {                                                                                                               \
        const cudaError_t e_ = (call);                                                                                 \
        if (e_ != cudaSuccess) return cu_fail(err, e_, #call);                                                         \
    } while (0)
#define CB(call)                                                                                                       \
    do {                                                                                                               \
        const cublasStatus_t s_ = (call);                                                                              \
        if (s_ != CUBLAS_STATUS_SUCCESS) return cb_fail(err, s_, #call);                                               \
    } while (0)

static cublasOperation_t op(bool t) { return t ? CUBLAS_OP_T : CUBLAS_OP_N; }

/* row-major C[M][N] = alpha op(A) op(B) + beta C, batched with strides */
static cublasStatus_t rm_gemm(const pare_cuda_bert *c, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                              const float *A, int64_t lda, int64_t sa, const float *B, int64_t ldb, int64_t sb,
                              float beta, float *C, int64_t ldc, int64_t sc, int64_t batch) {
    if (batch == 1)
        return cublasSgemm(c->blas, op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, A, (int)lda, &beta, C,
                           (int)ldc);
    return cublasSgemmStridedBatched(c->blas, op(tb), op(ta), (int)N, (int)M, (int)K, &alpha, B, (int)ldb, sb, A,
                                     (int)lda, sa, &beta, C, (int)ldc, sc, (int)batch);
}

/* y[M][N] = x[M][K] W[N][K]^T (the bias is the next kernel's) */
static pare_status lin_fwd(const pare_cuda_bert *c, float *y, const float *x, const float *w, int64_t M, int64_t K,
                           int64_t N, pare_err *err) {
    CB(rm_gemm(c, false, true, M, N, K, 1, x, K, 0, w, K, 0, 0, y, N, 0, 1));
    return PARE_OK;
}

/* dx = (acc ? dx : 0) + dy W; dw += dy^T x; db += column sums of dy */
static pare_status lin_bwd(const pare_cuda_bert *c, float *dx, bool acc, float *dw, float *db, const float *dy,
                           const float *x, const float *w, int64_t M, int64_t K, int64_t N, pare_err *err) {
    const float one = 1;
    CB(rm_gemm(c, false, false, M, K, N, 1, dy, N, 0, w, K, 0, acc ? 1.0f : 0.0f, dx, K, 0, 1));
    CB(rm_gemm(c, true, false, N, K, M, 1, dy, N, 0, x, K, 0, 1, dw, K, 0, 1));
    CB(cublasSgemv(c->blas, CUBLAS_OP_N, (int)N, (int)M, &one, dy, (int)N, c->ones, 1, &one, db, 1));
    return PARE_OK;
}

const char *pare_cuda_bert_device(const pare_cuda_bert *c) { return c->name; }

void pare_cuda_bert_free(pare_cuda_bert *c) {
    if (!c) return;
    if (c->blas) cublasDestroy(c->blas);
    if (c->mem) cudaFree(c->mem);
    if (c->st) cudaStreamDestroy(c->st);
    free(c->A);
    free(c->lo);
    free(c->tr_hid);
    free(c->tr_att);
    for (int i = 0; i < c->n_gc; i++) cudaGraphExecDestroy(c->gc[i].exec);
    free(c->gc);
    free(c);
}

const float *pare_cuda_bert_hidden(const pare_cuda_bert *c, int64_t k) {
    return k < 0 || k > c->d.n_layers ? NULL : k ? c->A[k - 1].y2 : c->emb;
}

const float *pare_cuda_bert_attention(const pare_cuda_bert *c, int64_t l) {
    return l < 0 || l >= c->d.n_layers ? NULL : c->A[l].att;
}

pare_status pare_cuda_bert_transfer(pare_cuda_bert *c, const float *const *hid, float hid_coef, const float *const *att,
                                    float att_coef, double *ss_hid, double *ss_att, pare_err *err) {
    const int64_t n = c->d.n_layers, B = c->B, T = c->T, BT = B * T;
    const int8_t *mask = c->has_mask ? c->mask : NULL;
    const int64_t ph = pare_cu_transfer_part(BT);
    int64_t off = 0, np = 0;
    for (int64_t k = 0; hid && k <= n; k++, off += ph)
        CU(pare_cu_transfer_sq(c->tr_part + off, pare_cuda_bert_hidden(c, k), hid[k], mask, BT, c->d.H, 0, T, c->st));
    for (int64_t l = 0; att && l < n; l++) {
        const int64_t rows = B * c->lo[l].heads * T;
        CU(pare_cu_transfer_sq(c->tr_part + off, c->A[l].att, att[l], mask, rows, T, c->lo[l].heads * T, T, c->st));
        off += pare_cu_transfer_part(rows);
    }
    np = off;
    double *h = np ? malloc(sizeof(double) * (size_t)np) : NULL;
    if (np && !h) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    cudaError_t e = np ? cudaMemcpyAsync(h, c->tr_part, sizeof(double) * (size_t)np, cudaMemcpyDeviceToHost, c->st) : cudaSuccess;
    if (e == cudaSuccess) e = cudaStreamSynchronize(c->st);
    if (e != cudaSuccess) {
        free(h);
        return cu_fail(err, e, "transfer losses");
    }
    off = 0;
    for (int64_t k = 0; hid && k <= n; k++) {
        ss_hid[k] = 0;
        for (int64_t i = 0; i < ph; i++) ss_hid[k] += h[off++];
    }
    for (int64_t l = 0; att && l < n; l++) {
        ss_att[l] = 0;
        for (int64_t i = 0; i < pare_cu_transfer_part(B * c->lo[l].heads * T); i++) ss_att[l] += h[off++];
    }
    free(h);
    /* remembered for the backward */
    free(c->tr_hid);
    free(c->tr_att);
    c->tr_hid = c->tr_att = NULL;
    if (hid && !(c->tr_hid = malloc(sizeof *c->tr_hid * (size_t)(n + 1)))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (att && !(c->tr_att = malloc(sizeof *c->tr_att * (size_t)n))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (hid) memcpy(c->tr_hid, hid, sizeof *c->tr_hid * (size_t)(n + 1));
    if (att) memcpy(c->tr_att, att, sizeof *c->tr_att * (size_t)n);
    c->tr_hid_coef = hid_coef;
    c->tr_att_coef = att_coef;
    return PARE_OK;
}

#define BLAS_WS ((size_t)32 << 20) /* NVIDIA's advice for Hopper */

/* Lay the buffers out (base NULL: only count); 256-byte aligned. */
static size_t carve(pare_cuda_bert *c, char *base) {
    const pare_cuda_bert_desc *d = &c->d;
    const int64_t H = d->H, I = d->I, NH = d->NH, B = d->max_batch, T = d->max_len, BT = B * T, L = d->n_labels;
    const int64_t att = B * NH * T * T;
    size_t off = 0;
#define TAKE(ptr, n, type)                                                                                             \
    do {                                                                                                               \
        if (base) ptr = (type *)(void *)(base + off);                                                                  \
        off += ((size_t)(n) * sizeof(type) + 255) & ~(size_t)255;                                                      \
    } while (0)
    TAKE(c->w, d->n_params, float);
    TAKE(c->g, d->n_params, float);
    TAKE(c->m, d->n_params, float);
    TAKE(c->v, d->n_params, float);
    TAKE(c->flags, d->n_params, uint8_t);
    for (int64_t l = 0; l < d->n_layers; l++) {
        cu_layer *a = &c->A[l];
        TAKE(a->qkvh, 3 * BT * H, float);
        TAKE(a->att, att, float);
        TAKE(a->ctx, BT * H, float);
        TAKE(a->res1, BT * H, float);
        TAKE(a->y1, BT * H, float);
        TAKE(a->m1, BT, float);
        TAKE(a->r1, BT, float);
        TAKE(a->h1, BT * I, float);
        TAKE(a->g1, BT * I, float);
        TAKE(a->res2, BT * H, float);
        TAKE(a->y2, BT * H, float);
        TAKE(a->m2, BT, float);
        TAKE(a->r2, BT, float);
    }
    TAKE(c->e, BT * H, float);
    TAKE(c->emb, BT * H, float);
    TAKE(c->emb_m, BT, float);
    TAKE(c->emb_r, BT, float);
    TAKE(c->cls_in, B * H, float);
    TAKE(c->pooled, B * H, float);
    TAKE(c->logits, B * L, float);
    TAKE(c->rows3, 3 * BT * H, float);
    TAKE(c->heads, BT * H, float);
    TAKE(c->dheads3, 3 * BT * H, float);
    TAKE(c->dp, att, float);
    TAKE(c->dy, BT * H, float);
    TAKE(c->dres, BT * H, float);
    TAKE(c->d_i1, BT * I, float);
    TAKE(c->d_i2, BT * I, float);
    TAKE(c->d_ctx, BT * H, float);
    TAKE(c->d_logits, B * L, float);
    TAKE(c->d_pooled, B * H, float);
    TAKE(c->d_pre, B * H, float);
    TAKE(c->d_cls, B * H, float);
    TAKE(c->ln_part, pare_cu_ln_bwd_part(BT, H), float);
    TAKE(c->ones, BT, float);
    TAKE(c->gscale, 1, float);
    TAKE(c->clip_part, pare_cu_clip_part(d->n_params), double);
    TAKE(c->tr_part, (d->n_layers + 1) * pare_cu_transfer_part(B * NH * T > BT ? B * NH * T : BT) * 2, double);
    TAKE(c->ids, BT, int32_t);
    TAKE(c->blas_ws, BLAS_WS, char);
    TAKE(c->mask, BT, int8_t);
#undef TAKE
    return off;
}

pare_status pare_cuda_bert_create(const pare_cuda_bert_desc *d, pare_cuda_bert **out, pare_err *err) {
    *out = NULL;
    int n_dev = 0;
    const cudaError_t de = cudaGetDeviceCount(&n_dev);
    if (de != cudaSuccess || n_dev == 0)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "CUDA: no usable GPU (%s)",
                            de != cudaSuccess ? cudaGetErrorString(de) : "no device");
    pare_cuda_bert *c = calloc(1, sizeof *c);
    if (!c) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    c->d = *d;
    c->A = calloc((size_t)d->n_layers, sizeof *c->A);
    c->lo = malloc(sizeof *c->lo * (size_t)d->n_layers);
    if (!c->A || !c->lo) {
        pare_cuda_bert_free(c);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    }
    memcpy(c->lo, d->layers, sizeof *c->lo * (size_t)d->n_layers);
    c->d.layers = c->lo;
    const char *ge = getenv("PARE_CUDA_GRAPHS");
    c->graphs = !(ge && !strcmp(ge, "0"));
    pare_status s = PARE_OK;
    struct cudaDeviceProp prop;
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e == cudaSuccess) e = cudaGetDeviceProperties(&prop, dev);
    if (e == cudaSuccess) snprintf(c->name, sizeof c->name, "%s", prop.name);
    if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&c->st, cudaStreamNonBlocking);
    const size_t bytes = carve(c, NULL);
    if (e == cudaSuccess) e = cudaMalloc(&c->mem, bytes);
    if (e != cudaSuccess) s = cu_fail(err, e, "setting up the device");
    if (!s) {
        carve(c, c->mem);
        cublasStatus_t bs = cublasCreate(&c->blas);
        if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetStream(c->blas, c->st);
        if (bs == CUBLAS_STATUS_SUCCESS) bs = cublasSetWorkspace(c->blas, c->blas_ws, BLAS_WS);
        if (bs == CUBLAS_STATUS_SUCCESS)
            bs = cublasSetMathMode(c->blas, d->tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH);
        if (bs != CUBLAS_STATUS_SUCCESS) s = cb_fail(err, bs, "cublasCreate");
    }
    if (!s) { /* the ones of the column sums */
        const int64_t BT = d->max_batch * d->max_len;
        float *ones = malloc(sizeof(float) * (size_t)BT);
        if (!ones) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int64_t i = 0; !s && i < BT; i++) ones[i] = 1;
        if (!s && (e = cudaMemcpy(c->ones, ones, sizeof(float) * (size_t)BT, cudaMemcpyHostToDevice)) != cudaSuccess)
            s = cu_fail(err, e, "copying to the device");
        free(ones);
    }
    if (s) {
        pare_err_wrap(err, "CUDA trainer (%.1f MB on the device)", (double)bytes / 1e6);
        pare_cuda_bert_free(c);
        return s;
    }
    *out = c;
    return PARE_OK;
}

pare_status pare_cuda_bert_upload(pare_cuda_bert *c, const float *w, const float *m, const float *v, const uint8_t *flags,
                                  pare_err *err) {
    const size_t n = (size_t)c->d.n_params, fb = sizeof(float) * n;
    if (w) CU(cudaMemcpyAsync(c->w, w, fb, cudaMemcpyHostToDevice, c->st));
    if (m) CU(cudaMemcpyAsync(c->m, m, fb, cudaMemcpyHostToDevice, c->st));
    if (v) CU(cudaMemcpyAsync(c->v, v, fb, cudaMemcpyHostToDevice, c->st));
    if (flags) CU(cudaMemcpyAsync(c->flags, flags, n, cudaMemcpyHostToDevice, c->st));
    CU(cudaStreamSynchronize(c->st));
    return PARE_OK;
}

pare_status pare_cuda_bert_download(pare_cuda_bert *c, float *w, float *m, float *v, float *g, pare_err *err) {
    const size_t fb = sizeof(float) * (size_t)c->d.n_params;
    if (w) CU(cudaMemcpyAsync(w, c->w, fb, cudaMemcpyDeviceToHost, c->st));
    if (m) CU(cudaMemcpyAsync(m, c->m, fb, cudaMemcpyDeviceToHost, c->st));
    if (v) CU(cudaMemcpyAsync(v, c->v, fb, cudaMemcpyDeviceToHost, c->st));
    if (g) CU(cudaMemcpyAsync(g, c->g, fb, cudaMemcpyDeviceToHost, c->st));
    CU(cudaStreamSynchronize(c->st));
    return PARE_OK;
}

pare_status pare_cuda_bert_sync(pare_cuda_bert *c, pare_err *err) {
    CU(cudaStreamSynchronize(c->st));
    return PARE_OK;
}

static pare_status fwd_body(pare_cuda_bert *c, pare_err *err);
static pare_status bwd_body(pare_cuda_bert *c, pare_err *err);

/* Run a body directly, or as a CUDA graph captured at its first run for
 * this batch shape (one launch instead of hundreds; the buffers are the
 * same every step, the batch's ids, mask and d-logits are copied in
 * before). If capture fails for any reason the trainer stops using graphs
 * and runs the body directly. */
static pare_status run_body(pare_cuda_bert *c, int kind, pare_status (*body)(pare_cuda_bert *, pare_err *), pare_err *err) {
    if (!c->graphs || (kind == 1 && (c->tr_hid || c->tr_att))) return body(c, err);
    for (int i = 0; i < c->n_gc; i++) {
        const struct cu_graph *g = &c->gc[i];
        if (g->B == c->B && g->T == c->T && g->kind == kind && g->mask == c->has_mask) {
            CU(cudaGraphLaunch(g->exec, c->st));
            return PARE_OK;
        }
    }
    struct cu_graph *gc = realloc(c->gc, sizeof *gc * (size_t)(c->n_gc + 1));
    if (!gc) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
    c->gc = gc;
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    pare_err cap_err = {0};
    cudaError_t e = cudaStreamBeginCapture(c->st, cudaStreamCaptureModeThreadLocal);
    pare_status s = e == cudaSuccess ? body(c, &cap_err) : PARE_ERR_INTERNAL;
    if (e == cudaSuccess) e = cudaStreamEndCapture(c->st, &graph);
    if (!s && e == cudaSuccess) e = cudaGraphInstantiate(&exec, graph, 0);
    if (graph) cudaGraphDestroy(graph);
    if (s || e != cudaSuccess) {
        (void)cudaGetLastError(); /* clear it: run directly from now on */
        c->graphs = false;
        return body(c, err);
    }
    c->gc[c->n_gc++] = (struct cu_graph){.B = c->B, .T = c->T, .kind = kind, .mask = c->has_mask, .exec = exec};
    CU(cudaGraphLaunch(exec, c->st));
    return PARE_OK;
}

pare_status pare_cuda_bert_forward(pare_cuda_bert *c, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T,
                                   float *logits, pare_err *err) {
    const int64_t BT = B * T, L = c->d.n_labels;
    pare_status s;
    c->B = B;
    c->T = T;
    c->has_mask = mask != NULL;
    free(c->tr_hid);
    free(c->tr_att);
    c->tr_hid = c->tr_att = NULL; /* a later pare_cuda_bert_transfer sets this batch's */
    CU(cudaMemcpyAsync(c->ids, ids, sizeof(int32_t) * (size_t)BT, cudaMemcpyHostToDevice, c->st));
    if (mask) CU(cudaMemcpyAsync(c->mask, mask, (size_t)BT, cudaMemcpyHostToDevice, c->st));
    if ((s = run_body(c, 0, fwd_body, err))) return s;
    CU(cudaMemcpyAsync(logits, c->logits, sizeof(float) * (size_t)(B * L), cudaMemcpyDeviceToHost, c->st));
    CU(cudaStreamSynchronize(c->st));
    return PARE_OK;
}

/* The forward's kernels and products, from the ids and mask in device
 * memory to the logits (captured once per batch shape as a CUDA graph). */
static pare_status fwd_body(pare_cuda_bert *c, pare_err *err) {
    const pare_cuda_bert_desc *d = &c->d;
    const int64_t H = d->H, D = H / d->NH, B = c->B, T = c->T, BT = B * T, L = d->n_labels;
    const float *w = c->w;
    const float scale = 1.0f / sqrtf((float)D);
    pare_status s;
    const int8_t *dmask = c->has_mask ? c->mask : NULL;
    CU(pare_cu_embed_ln(c->emb, c->emb_m, c->emb_r, c->e, c->ids, w + d->word, w + d->pos, w + d->type, w + d->lne_g,
                        w + d->lne_b, BT, T, H, d->eps, c->st));
    for (int64_t l = 0; l < d->n_layers; l++) {
        const pare_bert_layer_offs *P = &c->lo[l];
        const int64_t NH = P->heads, HA = NH * D, I = P->ffn; /* fewer after structured pruning */
        cu_layer *a = &c->A[l];
        const float *x = l ? c->A[l - 1].y2 : c->emb;
        if ((s = lin_fwd(c, c->rows3, x, w + P->qkv_w, BT, H, 3 * HA, err))) return s;
        CU(pare_cu_rows_to_heads(a->qkvh, c->rows3, w + P->qkv_b, 3, B, T, NH, D, c->st));
        const float *q = a->qkvh, *k = q + BT * HA, *v = k + BT * HA;
        CB(rm_gemm(c, false, true, T, T, D, scale, q, D, T * D, k, D, T * D, 0, a->att, T, T * T, B * NH));
        CU(pare_cu_softmax_mask(a->att, dmask, B * NH * T, NH, T, c->st));
        CB(rm_gemm(c, false, false, T, D, T, 1, a->att, T, T * T, v, D, T * D, 0, c->heads, D, T * D, B * NH));
        CU(pare_cu_heads_to_rows(a->ctx, c->heads, 1, B, T, NH, D, c->st));
        if ((s = lin_fwd(c, a->res1, a->ctx, w + P->o_w, BT, HA, H, err))) return s;
        CU(pare_cu_ln_fwd(a->y1, a->m1, a->r1, a->res1, w + P->o_b, x, w + P->ln1_g, w + P->ln1_b, BT, H, d->eps, c->st));
        if ((s = lin_fwd(c, a->h1, a->y1, w + P->f1_w, BT, H, I, err))) return s;
        CU(pare_cu_bias_gelu(a->g1, a->h1, w + P->f1_b, BT, I, c->st));
        if ((s = lin_fwd(c, a->res2, a->g1, w + P->f2_w, BT, I, H, err))) return s;
        CU(pare_cu_ln_fwd(a->y2, a->m2, a->r2, a->res2, w + P->f2_b, a->y1, w + P->ln2_g, w + P->ln2_b, BT, H, d->eps,
                          c->st));
    }
    CU(pare_cu_gather_rows(c->cls_in, c->A[d->n_layers - 1].y2, B, T * H, H, c->st));
    if ((s = lin_fwd(c, c->pooled, c->cls_in, w + d->pool_w, B, H, H, err))) return s;
    CU(pare_cu_bias_act(c->pooled, w + d->pool_b, B, H, 1, c->st));
    if ((s = lin_fwd(c, c->logits, c->pooled, w + d->cls_w, B, H, L, err))) return s;
    CU(pare_cu_bias_act(c->logits, w + d->cls_b, B, L, 0, c->st));
    return PARE_OK;
}

pare_status pare_cuda_bert_backward(pare_cuda_bert *c, const float *d_logits, pare_err *err) {
    CU(cudaMemcpyAsync(c->d_logits, d_logits, sizeof(float) * (size_t)(c->B * c->d.n_labels), cudaMemcpyHostToDevice, c->st));
    return run_body(c, 1, bwd_body, err);
}

/* The backward's kernels and products, from d-logits in device memory to
 * every gradient (a graph per batch shape, as the forward's). */
static pare_status bwd_body(pare_cuda_bert *c, pare_err *err) {
    const pare_cuda_bert_desc *d = &c->d;
    const int64_t H = d->H, D = H / d->NH, B = c->B, T = c->T, BT = B * T, L = d->n_labels;
    const float *w = c->w;
    float *g = c->g;
    const float scale = 1.0f / sqrtf((float)D);
    pare_status s;
    CU(cudaMemsetAsync(g, 0, sizeof(float) * (size_t)d->n_params, c->st));
    /* head */
    if ((s = lin_bwd(c, c->d_pooled, false, g + d->cls_w, g + d->cls_b, c->d_logits, c->pooled, w + d->cls_w, B, H, L, err)))
        return s;
    CU(pare_cu_tanh_bwd(c->d_pre, c->pooled, c->d_pooled, B * H, c->st));
    if ((s = lin_bwd(c, c->d_cls, false, g + d->pool_w, g + d->pool_b, c->d_pre, c->cls_in, w + d->pool_w, B, H, H, err)))
        return s;
    CU(cudaMemsetAsync(c->dy, 0, sizeof(float) * (size_t)(BT * H), c->st));
    CU(pare_cu_scatter_rows(c->dy, c->d_cls, B, T * H, H, c->st));
    for (int64_t l = d->n_layers - 1; l >= 0; l--) {
        const pare_bert_layer_offs *P = &c->lo[l];
        const int64_t NH = P->heads, HA = NH * D, I = P->ffn;
        const cu_layer *a = &c->A[l];
        const float *x = l ? c->A[l - 1].y2 : c->emb;
        const int8_t *dmask = c->has_mask ? c->mask : NULL;
        if (c->tr_hid) /* hidden-state transfer into d y2 */
            CU(pare_cu_transfer_grad(c->dy, a->y2, c->tr_hid[l + 1], dmask, BT, H, 0, T, c->tr_hid_coef, c->st));
        /* LN2: dres = d res2, and dy (d y1) starts as it (the residual) */
        CU(pare_cu_ln_bwd(c->dres, c->dy, g + P->ln2_g, g + P->ln2_b, c->dy, a->res2, w + P->ln2_g, a->m2, a->r2, BT, H,
                          c->ln_part, c->st));
        if ((s = lin_bwd(c, c->d_i1, false, g + P->f2_w, g + P->f2_b, c->dres, a->g1, w + P->f2_w, BT, I, H, err))) return s;
        CU(pare_cu_gelu_bwd(c->d_i2, a->h1, c->d_i1, BT * I, c->st));
        if ((s = lin_bwd(c, c->dy, true, g + P->f1_w, g + P->f1_b, c->d_i2, a->y1, w + P->f1_w, BT, H, I, err))) return s;
        /* LN1 */
        CU(pare_cu_ln_bwd(c->dres, c->dy, g + P->ln1_g, g + P->ln1_b, c->dy, a->res1, w + P->ln1_g, a->m1, a->r1, BT, H,
                          c->ln_part, c->st));
        if ((s = lin_bwd(c, c->d_ctx, false, g + P->o_w, g + P->o_b, c->dres, a->ctx, w + P->o_w, BT, HA, H, err))) return s;
        /* attention: dO per head; dP = dO V^T; dV = P^T dO; dS = softmax'; dQ = dS K; dK = dS^T Q */
        const float *q = a->qkvh, *k = q + BT * HA, *v = k + BT * HA;
        float *dq = c->dheads3, *dk = dq + BT * HA, *dv = dk + BT * HA;
        CU(pare_cu_rows_to_heads(c->heads, c->d_ctx, NULL, 1, B, T, NH, D, c->st));
        CB(rm_gemm(c, false, true, T, T, D, 1, c->heads, D, T * D, v, D, T * D, 0, c->dp, T, T * T, B * NH));
        if (c->tr_att) /* attention transfer into d P */
            CU(pare_cu_transfer_grad(c->dp, a->att, c->tr_att[l], dmask, B * NH * T, T, NH * T, T, c->tr_att_coef, c->st));
        CB(rm_gemm(c, true, false, T, D, T, 1, a->att, T, T * T, c->heads, D, T * D, 0, dv, D, T * D, B * NH));
        CU(pare_cu_softmax_bwd(c->dp, a->att, B * NH * T, T, scale, c->st));
        CB(rm_gemm(c, false, false, T, D, T, 1, c->dp, T, T * T, k, D, T * D, 0, dq, D, T * D, B * NH));
        CB(rm_gemm(c, true, false, T, D, T, 1, c->dp, T, T * T, q, D, T * D, 0, dk, D, T * D, B * NH));
        CU(pare_cu_heads_to_rows(c->rows3, c->dheads3, 3, B, T, NH, D, c->st));
        if ((s = lin_bwd(c, c->dy, true, g + P->qkv_w, g + P->qkv_b, c->rows3, x, w + P->qkv_w, BT, H, 3 * HA, err)))
            return s;
    }
    /* embeddings */
    if (c->tr_hid)
        CU(pare_cu_transfer_grad(c->dy, c->emb, c->tr_hid[0], c->has_mask ? c->mask : NULL, BT, H, 0, T, c->tr_hid_coef, c->st));
    CU(pare_cu_ln_bwd(c->d_ctx, NULL, g + d->lne_g, g + d->lne_b, c->dy, c->e, w + d->lne_g, c->emb_m, c->emb_r, BT, H,
                      c->ln_part, c->st));
    CU(pare_cu_embed_bwd(g + d->word, c->ids, c->d_ctx, BT, 0, H, c->st));
    CU(pare_cu_embed_bwd(g + d->pos, NULL, c->d_ctx, BT, T, H, c->st));
    CU(pare_cu_embed_bwd(g + d->type, NULL, c->d_ctx, BT, 0, H, c->st));
    return PARE_OK;
}

pare_status pare_cuda_bert_adamw(pare_cuda_bert *c, const pare_adamw_opts *o, pare_adamw_consts k, double clip,
                                 pare_err *err) {
    const int64_t n = c->d.n_params;
    if (clip > 0) {
        CU(pare_cu_clip_factor(c->gscale, c->clip_part, c->g, n, clip, c->st));
    } else {
        const float one = 1;
        CU(cudaMemcpyAsync(c->gscale, &one, sizeof one, cudaMemcpyHostToDevice, c->st));
    }
    CU(pare_cu_adamw(c->w, c->g, c->m, c->v, c->flags, n, (float)o->beta1, (float)o->beta2, (float)o->eps, k.keep,
                     k.step_size, k.inv_c2s, c->gscale, c->st));
    return PARE_OK;
}
