/* BERT-family encoders (BERT, MiniLM, ...) with post-LN layers, the pooler
 * and a sequence-classification head (single- or multi-label). fp32. */
#ifndef PARE_BERT_H
#define PARE_BERT_H

#include "pare/core.h"
#include "pare/io.h"
#include "pare/kernels.h"
#include "pare/qlinear.h"
#include "pare/tokenize.h"
#include "pare/wquant.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pare_problem_type {
    PARE_PROBLEM_SINGLE_LABEL = 0, /* softmax over labels */
    PARE_PROBLEM_MULTI_LABEL = 1,  /* sigmoid per label */
    PARE_PROBLEM_REGRESSION = 2,
} pare_problem_type;

#define PARE_MAX_LABELS 256

typedef struct pare_bert_config {
    int64_t vocab_size, hidden_size, n_layers, n_heads, intermediate_size;
    int64_t max_position, type_vocab_size;
    double layer_norm_eps;
    pare_act hidden_act;
    int64_t n_labels;              /* 0: no classifier in the checkpoint */
    pare_problem_type problem_type;
    char labels[PARE_MAX_LABELS][32]; /* id2label, "LABEL_i" when absent */
    char architecture[64];         /* architectures[0] */
    char model_type[32];
} pare_bert_config;

pare_status pare_bert_config_load(const char *path, pare_bert_config *cfg, pare_err *err);
/* From config.json text in memory (len bytes, need not be NUL-terminated);
 * name (e.g. the file path) is used in error messages. */
pare_status pare_bert_config_parse(const char *text, size_t len, const char *name,
                                   pare_bert_config *cfg, pare_err *err);

typedef struct pare_bert_params {
    int n_threads;             /* <= 0: PARE_THREADS or all cores */
    pare_kernel_impl kernel;   /* AUTO by default */
    bool no_sparse;            /* run pruned fp32 Linear weights dense */
    double sparse_min;         /* Linear layers with at least this fraction of zeros
                                  run by the sparse kernel (pare_spmm); 0: 0.5, the
                                  measured crossover (bench_kernels sparse) */
} pare_bert_params;

pare_bert_params pare_bert_default_params(void);

typedef struct pare_bert pare_bert;

/* dir: a Hugging Face folder with config.json and model.safetensors (or
 * pytorch_model.bin). Tensor names with or without the "bert." prefix. */
pare_status pare_bert_load(const char *dir, const pare_bert_params *params, pare_bert **out,
                           pare_err *err);
void pare_bert_free(pare_bert *m);

const pare_bert_config *pare_bert_get_config(const pare_bert *m);
const pare_wordpiece *pare_bert_tokenizer(const pare_bert *m); /* NULL if none in the folder */
pare_pool *pare_bert_pool(pare_bert *m);
bool pare_bert_has_pooler(const pare_bert *m);
/* The checkpoint the weights were loaded from (owned by the model). */
const pare_tensor_file *pare_bert_weights_file(const pare_bert *m);

/* Install or replace the classification head: W[n_labels, hidden], b[n_labels]
 * (copied). */
pare_status pare_bert_set_classifier(pare_bert *m, const float *w, const float *b,
                                     int64_t n_labels, pare_problem_type type, pare_err *err);

/* Outputs of one forward pass; any pointer may be NULL to skip it. */
typedef struct pare_bert_outputs {
    float *hidden;  /* [B, T, hidden] last hidden state */
    float *pooled;  /* [B, hidden] tanh(dense(CLS)) */
    float *logits;  /* [B, n_labels] */
} pare_bert_outputs;

/* ids, mask, type_ids: [B, T]; mask 1 = token, 0 = padding; type_ids may be
 * NULL (all 0). */
pare_status pare_bert_forward(pare_bert *m, const int32_t *ids, const int32_t *mask,
                              const int32_t *type_ids, int64_t B, int64_t T,
                              const pare_bert_outputs *out, pare_err *err);

/* Sentence features: mean over real tokens of the last hidden state
 * (sentence-transformers), the [CLS] row, or the pooler output. */
typedef enum pare_pooling { PARE_POOL_MEAN = 0, PARE_POOL_CLS = 1, PARE_POOL_POOLER = 2 } pare_pooling;

/* Features of one row r of a forward pass (hidden [B, T, H], pooled
 * [B, H], mask [B, T]) into vec[H], L2-normalised if normalize. */
void pare_bert_pool_row(const float *hidden, const float *pooled, const int32_t *mask, int64_t T,
                        int64_t H, int64_t r, pare_pooling pool, bool normalize, float *vec);

/* Features of n texts into out[n, H]: texts are grouped by byte length into
 * batches of `batch` (padding stays short), truncated to max_len tokens.
 * prog (may be NULL) is advanced by the texts done. */
pare_status pare_bert_embed(pare_bert *m, const char *const *texts, int64_t n, int64_t max_len,
                            int64_t batch, pare_pooling pool, bool normalize, float *out,
                            pare_progress *prog, pare_err *err);

/* Bytes of weights resident after loading (f32 copies and packed layouts). */
size_t pare_bert_weight_bytes(const pare_bert *m);
/* Layer il as loaded: heads and FFN width (fewer after structured pruning)
 * and how many of its four Linear layers run by the sparse kernel. */
typedef struct pare_bert_layer_info {
    int64_t n_heads, ffn;
    int n_sparse;
} pare_bert_layer_info;
pare_bert_layer_info pare_bert_layer(const pare_bert *m, int64_t il);
/* Total parameters as loaded. */
int64_t pare_bert_n_params(const pare_bert *m);
/* FLOPs of one forward pass of the encoder over B x T tokens (GEMMs and
 * attention matmuls; element-wise work not counted). */
double pare_bert_forward_flops(const pare_bert_config *c, int64_t B, int64_t T);

/* Write a Hugging Face BERT folder with seeded random weights (BERT init:
 * normal, std 0.02; LayerNorm near 1/0), for tests and benchmarks of shapes
 * no shipped model has. The tokenizer files are copied from vocab_from. */
typedef struct pare_bert_random_opts {
    int64_t n_layers, hidden_size, n_heads, intermediate_size;
    int64_t max_position;   /* 512 if 0 */
    int64_t n_labels;       /* > 0: BertForSequenceClassification with a head */
    uint64_t seed;
    const char *vocab_from; /* model folder with tokenizer.json and/or vocab.txt and config.json */
} pare_bert_random_opts;

pare_status pare_bert_write_random(const char *dir, const pare_bert_random_opts *o, pare_err *err);

/* A student for distillation (src/models/bert_student.c): out_dir gets the
 * teacher's embeddings, pooler, classifier and layers 0, stride, 2 stride,
 * ... renumbered (DistilBERT's initialisation), config.json with the new
 * layer count (*n_layers), the tokenizer files. */
pare_status pare_bert_make_student(const char *teacher, const char *out_dir, int stride, int64_t *n_layers,
                                   pare_err *err);

/* ---- int8 quantization (src/models/bert_quant.c)
 *
 * Quantized: the four Linear layers of every encoder layer (Q/K/V fused,
 * attention output, FFN in and out), int8 weights per output channel,
 * symmetric, round-to-nearest. Kept in fp32: embeddings, every LayerNorm,
 * attention (QK^T, softmax, .V), GELU, the pooler and the classifier. */
typedef enum pare_bert_qmode {
    PARE_BERT_FP32 = 0,
    PARE_BERT_W8A8_DYNAMIC = 1, /* int8 inputs, one scale per token */
    PARE_BERT_W8A8_STATIC = 2,  /* int8 inputs, calibrated per-tensor scale */
    PARE_BERT_W8_ONLY = 3,      /* int8 on disk; dequantized to fp32 at load */
    PARE_BERT_W4_NF4 = 4,       /* 4-bit NormalFloat, blocks of 64, double-quantized absmax; fp32 at load */
    PARE_BERT_W4_FP4 = 5,       /* 4-bit float (e2m1), same blocks */
    PARE_BERT_W4_INT = 6,       /* int4 with a scale and minimum per group (RTN or GPTQ) */
} pare_bert_qmode;

const char *pare_bert_qmode_name(pare_bert_qmode q); /* fp32, w8a8-dynamic, w8a8-static, w8-only, w4-nf4, w4-fp4, w4-int4 */
pare_bert_qmode pare_bert_get_qmode(const pare_bert *m);

typedef struct pare_bert_quant_opts {
    pare_bert_qmode mode;
    /* static only: calibration texts run through the fp32 model first */
    pare_calib_method calib;  /* MINMAX or PERCENTILE */
    double percentile;        /* 99.99 if 0 */
    const char *const *calib_texts;
    int64_t n_calib;
    int64_t batch;            /* texts per calibration batch (8 if 0) */
    int64_t max_len;          /* tokens per text (128 if 0) */
    int64_t group;            /* W4_INT: inputs per scale (128 if 0) */
    bool gptq;                /* W4_INT: GPTQ on the calibration texts' Hessians (else round to nearest) */
    double smooth_alpha;      /* W8A8: SmoothQuant migration strength (0.5 typical) on the calibration
                                 texts; 0: none */
    pare_gptq_opts gptq_opts;
} pare_bert_quant_opts;

/* Quantize a loaded fp32 model in place (its fp32 weights stay in memory;
 * a folder written by pare_bert_save_quantized loads with int8 weights
 * only). On error the model is left fp32. */
pare_status pare_bert_quantize(pare_bert *m, const pare_bert_quant_opts *o, pare_err *err);
/* Write a quantized model as a folder pare_bert_load reads: config.json
 * (src_dir's, plus a "quantization_config" block), model.safetensors with
 * int8 "<linear>.weight", f32 "<linear>.weight_scale" [n_out] (and
 * "<linear>.input_scale" [1] for static), every other tensor as it was, and
 * the tokenizer files of src_dir. */
pare_status pare_bert_save_quantized(const pare_bert *m, const char *src_dir, const char *out_dir,
                                     pare_err *err);

/* ---- pruning (src/models/bert_prune.c): unstructured magnitude pruning of
 * the encoder's Linear weights (Q/K/V, attention output, FFN in and out),
 * one threshold over all of them (global) or per layer (local). The model
 * keeps running dense, with zeros. Before any quantization. *zeroed (may be
 * NULL) receives the number of weights set to zero. */
pare_status pare_bert_prune_magnitude(pare_bert *m, double sparsity, bool global, int64_t *zeroed,
                                      pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
