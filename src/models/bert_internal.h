/* Internals of the BERT encoder shared by bert.c (load, forward) and
 * bert_quant.c (int8 quantization, calibration, saving). */
#ifndef PARE_BERT_INTERNAL_H
#define PARE_BERT_INTERNAL_H

#include "pare/bert.h"
#include "pare/qlinear.h"
#include "pare/sparse.h"

/* A Linear layer of the encoder: fp32, or int8 (W8A8) when quant is set. */
typedef struct bert_lin {
    pare_linear f;
    pare_qlinear q;
    bool quant;
    bool sparse;   /* fp32 weights pruned past params.sparse_min: run by sp */
    pare_spmm sp;
} bert_lin;

typedef struct bert_layer {
    int64_t n_heads, ffn; /* this layer's heads and FFN width (smaller after structured pruning) */
    bert_lin qkv;      /* [3H, H]: query, key, value stacked */
    bert_lin attn_out; /* [H, H] */
    bert_lin inter;    /* [I, H] */
    bert_lin out;      /* [H, I] */
    const float *ln1_g, *ln1_b; /* attention.output.LayerNorm [H] */
    const float *ln2_g, *ln2_b; /* output.LayerNorm [H] */
} bert_layer;

struct pare_bert {
    pare_bert_config cfg;
    pare_bert_params params;
    pare_kernel_impl kernel;
    pare_tensor_file *file;
    pare_arena *weights;  /* f32 weights and packed copies */
    pare_arena *scratch;  /* activations, reset per forward */
    pare_pool *pool;
    pare_wordpiece *tok;
    const char *prefix;   /* "" or "bert." */
    const float *word_emb;  /* [V, H] */
    const float *pos_emb;   /* [P, H] */
    const float *type_emb;  /* [type_vocab, H] or NULL */
    const float *emb_ln_g, *emb_ln_b; /* [H] */
    bert_layer *layers;     /* [n_layers] */
    bool has_pooler, has_classifier;
    pare_linear pooler;     /* [H, H] */
    pare_linear classifier; /* [n_labels, H] */
    int64_t n_params;
    pare_bert_qmode qmode;     /* PARE_BERT_FP32 unless quantized */
    pare_act_observer *obs;    /* [n_layers * 4] while calibrating, else NULL */
    float *obs_tmp;            /* scratch for percentile observers */
    void *qscratch;            /* quantized activations, per forward */
    int64_t max_inter;         /* widest FFN of any layer */
};

/* After lin->f is (re)initialised: the sparse form when its weights have
 * at least params.sparse_min zeros (and sparse execution is not off). */
pare_status bert_lin_sparsify(pare_bert *m, bert_lin *lin, pare_err *err);

/* The four Linear layers of a layer in order qkv, attn_out, inter, out. */
static inline bert_lin *bert_layer_lin(bert_layer *L, int which) {
    bert_lin *t[4] = {&L->qkv, &L->attn_out, &L->inter, &L->out};
    return t[which];
}

/* quantization_config.activations of config.json: absent -> FP32. */
pare_status bert_read_qmode(const char *config_path, pare_bert_qmode *out, pare_err *err);

#endif


