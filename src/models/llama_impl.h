/* Llama-family decoder internals shared by the model files (llama.c: load and
 * forward; a GGUF loader later). */
#ifndef PARE_LLAMA_IMPL_H
#define PARE_LLAMA_IMPL_H

#include "pare/llama.h"
#include "pare/gguf.h"
#include "pare/qtypes.h"
#include "pare/quant.h"
#include "pare/sparse.h"
#include "pare/qlinear.h"

/* One linear layer, y[m, n_out] = x[m, n_in] . W^T + bias. The weight is
 * either f32 in lin (raw NULL: packed for pare_linear's GEMM) or a
 * ggml-typed tensor (raw non-NULL: n_out rows of qtype, row stride
 * pare_qtype_row_size(qtype, n_in), borrowed from the file mapping; run by
 * pare_qmatmul; lin unused).
 * Rows are independent, so stacking weights of one qtype (q/k/v, gate/up)
 * is a concatenation of their raw rows. */
typedef struct llama_weight {
    uint32_t qtype;      /* pare_qtype id */
    const void *raw;     /* [n_out] rows of qtype; NULL: f32 in lin */
    pare_qpacked packed; /* row-interleaved copy of raw (Q4_0/Q4_1 on AVX2); groups NULL if none */
    pare_sparse sparse;  /* bitmap-sparse copy of raw (pruned F16); n == 0 if none */
    int64_t n_out, n_in;
    const float *bias;   /* [n_out] or NULL */
    pare_linear lin;     /* the f32 form */
    /* pare.w8a8 files: the int8 layer (per-row weight scales, per-token
     * input scales) the forward runs instead; LLM.int8's outlier input
     * columns outl[n_outl] multiply w_outl [n_out, n_outl] in f32 */
    bool w8a8;
    pare_qlinear q8;
    const int32_t *outl;
    int64_t n_outl;
    const float *w_outl;
} llama_weight;

typedef struct llama_layer {
    const float *attn_norm; /* [H] input_layernorm */
    const float *mlp_norm;  /* [H] post_attention_layernorm */
    llama_weight qkv;       /* [(NH + 2 KVH) D, H]: q, k, v stacked */
    llama_weight o;         /* [H, NH D] */
    llama_weight gate_up;   /* [2F, H]: gate, then up */
    llama_weight down;      /* [H, F] */
} llama_layer;

struct pare_llama {
    pare_llama_config cfg;
    pare_llama_params params;
    pare_kernel_impl kernel;
    pare_tensor_file *file;   /* HF folder weights, or NULL */
    pare_gguf *gguf;          /* GGUF weights, or NULL */
    pare_arena *weights;   /* converted and stacked weights, packed copies */
    pare_arena *scratch;   /* activations, reset per forward */
    pare_pool *pool;
    const char *prefix;    /* "model." or "" */
    const float *embed;    /* [V, H] f32, or NULL when embed_raw is set */
    const void *embed_raw; /* [V] rows of embed_qtype (GGUF), dequantized per lookup */
    uint32_t embed_qtype;
    size_t embed_row_bytes;
    const float *norm;     /* [H] final norm */
    llama_layer *layers;   /* [n_layers] */
    bool has_lm_head, has_score;
    llama_weight lm_head;  /* [V, H] (the embedding when tied) */
    llama_weight score;    /* [n_labels, H] */
    int64_t n_params;
    size_t mapped_bytes;   /* f32 tensors used in place from the file mapping */
    bool w8a8;             /* the layers run as int8 W8A8 (GGUF key pare.w8a8) */
};

struct pare_llama_cache {
    int64_t n_layers, n_seq, max_ctx, kv_dim; /* kv_dim = KVH * D */
    float *k, *v;  /* [n_layers][n_seq][max_ctx][kv_dim] */
    int64_t *len;  /* [n_seq] */
};

/* Activations of one forward pass (llama.c), in the model's scratch arena. */
typedef struct llama_scratch {
    float *x, *xn, *qkv, *att, *tmp, *gu, *mid, *cos_t, *sin_t, *inv_freq, *xo;
    void *q8;  /* W8A8 models: the int8 layers' quantized input (else NULL) */
    float *xm; /* W8A8 with outliers: the input without its outlier columns */
    int32_t *seq, *pos;
    int64_t *next;
} llama_scratch;

/* Sees the input of each linear layer of a layer forward (calibration). */
typedef struct llama_observer {
    void *ud;
    void (*fn)(void *ud, pare_llama_lin which, const float *x, int64_t n, int64_t k);
} llama_observer;

/* Resets the scratch arena and carves R tokens' activations (n_out output rows). */
pare_status llama_alloc_scratch(pare_llama *m, const pare_llama_cache *kc, int64_t R, int64_t n_out,
                                llama_scratch *s, pare_err *err);
/* Embedding rows of ids into x [n, H]. */
void llama_embed(const pare_llama *m, const int32_t *ids, int64_t n, float *x);
/* One decoder layer (weights L, KV cache layer il) on s->x [R, H] in place;
 * s->seq, s->pos, s->cos_t, s->sin_t set by the caller; obs may be NULL. */
pare_status llama_layer_forward(pare_llama *m, pare_llama_cache *kc, const llama_layer *L, int64_t il,
                                const llama_scratch *s, int64_t R, const llama_observer *obs, pare_err *err);

/* llama_gguf.c: fill cfg and every weight of m from m->gguf (opened). */
pare_status llama_gguf_load(pare_llama *m, pare_err *err);

#endif
