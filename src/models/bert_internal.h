/* Internals of the BERT encoder shared by bert.c (load, forward) and
 * bert_quant.c (int8 quantization, calibration, saving). */
#ifndef PARE_BERT_INTERNAL_H
#define PARE_BERT_INTERNAL_H

#include "pare/bert.h"
#include "pare/qlinear.h"
#include "pare/sparse.h"

/* 4-bit weight-only codes of one saved tensor's rows (src/models/bert_w4.c). */
typedef struct w4_part {
    int64_t rows, cols;
    uint8_t *codes;                 /* [rows][cols / 2], even column in the low nibble */
    int64_t n_blocks;               /* nf4 / fp4: absmax per 64 weights, double-quantized */
    int8_t *amax_q;
    float *amax_scale, amax_offset;
    int64_t group, n_groups;        /* int4: code * d + m per (row, group), f16 */
    uint16_t *d, *mn;
} w4_part;

typedef struct bert_w4 {
    int n_parts;                    /* 3 for the fused Q/K/V */
    w4_part part[3];
} bert_w4;

/* A Linear layer of the encoder: fp32, or int8 (W8A8) when quant is set. */
typedef struct bert_lin {
    pare_linear f;
    pare_qlinear q;
    bool quant;
    bool sparse;   /* fp32 weights pruned past params.sparse_min: run by sp */
    pare_spmm sp;
    bert_w4 *w4;   /* 4-bit weight-only: the codes behind f's dequantized weights */
    float *smooth; /* SmoothQuant: [n_in] 1/s, the int8 path's input is x * smooth
                      (its weights W * s), or NULL */
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
    int64_t qgroup;            /* int4: inputs per scale */
    double **hess;             /* [n_layers * 4] sum of x x^T of each Linear's input while calibrating GPTQ */
    float **chan_amax;         /* [n_layers * 4][n_in] max |x| per input channel while calibrating SmoothQuant */
    float *smooth_tmp;         /* x * smooth, per forward */
    double smooth_alpha;       /* as saved in quantization_config (0: none) */
};

const pare_tensor *bert_find_tensor(const pare_bert *m, const char *name);
/* A tensor of the checkpoint as f32 in the weights arena, shape checked
 * (LayerNorm "weight"/"bias" may be "gamma"/"beta"); counted in n_params. */
pare_status bert_load_f32(pare_bert *m, const char *name, int32_t n_dims, const int64_t *shape, bool required,
                          const float **out, pare_err *err);

/* 4-bit weight-only (bert_w4.c) */
#include "pare/wquant.h"
const float *bert_w4_table(pare_bert_qmode mode);
void bert_w4_dequant(const w4_part *p, pare_bert_qmode mode, float *w);
/* Quantize l (n_parts stacked tensors) to mode, by GPTQ when h (its input
 * Hessian, destroyed) is given; l then runs on the dequantized weights. */
pare_status bert_w4_quantize_lin(pare_bert *m, bert_lin *l, int n_parts, pare_bert_qmode mode, int64_t group, double *h,
                                 const pare_gptq_opts *gopt, pare_err *err);
pare_status bert_w4_load_lin(pare_bert *m, const char *const *bases, int n_parts, int64_t n_out, int64_t n_in, bert_lin *lin,
                             pare_err *err);
/* The tensors of part `part` (weight_name is its "<base>.weight"); returns how many (<= 4). */
int bert_w4_tensors(const bert_lin *l, pare_bert_qmode mode, int part, const char *weight_name, pare_arena *ar, pare_tensor *out);
static inline bool bert_qmode_w4(pare_bert_qmode q) { return q == PARE_BERT_W4_NF4 || q == PARE_BERT_W4_FP4 || q == PARE_BERT_W4_INT; }

/* After lin->f is (re)initialised: the sparse form when its weights have
 * at least params.sparse_min zeros (and sparse execution is not off). */
pare_status bert_lin_sparsify(pare_bert *m, bert_lin *lin, pare_err *err);

/* The four Linear layers of a layer in order qkv, attn_out, inter, out. */
static inline bert_lin *bert_layer_lin(bert_layer *L, int which) {
    bert_lin *t[4] = {&L->qkv, &L->attn_out, &L->inter, &L->out};
    return t[which];
}

/* quantization_config.activations of config.json: absent -> FP32. */
pare_status bert_read_qmode(const char *config_path, pare_bert_qmode *out, int64_t *group, double *smooth_alpha, pare_err *err);

#endif


