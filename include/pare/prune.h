/* Pruning (src/compress/prune). First slice: unstructured magnitude
 * pruning, per tensor (local) or with one threshold over many (global, as
 * the seed study's 20% of all Linear weights by L1 magnitude). */
#ifndef PARE_PRUNE_H
#define PARE_PRUNE_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The |w| below which a fraction `sparsity` of the n values lies (the
 * k-th smallest magnitude, k = floor(sparsity * total)); ties at the
 * threshold are broken by position so exactly k values go. ws[i] holds
 * ns[i] values. Returns the number of values zeroed. In place. */
int64_t pare_prune_magnitude(float *const *ws, const int64_t *ns, int n_tensors, double sparsity,
                             bool global);

/* Which weights compete for pruning. */
typedef enum pare_prune_group {
    PARE_PRUNE_MATRIX = 0, /* one threshold over the whole matrix */
    PARE_PRUNE_ROW = 1,    /* per output row (Wanda's comparison group) */
    PARE_PRUNE_NM = 2,     /* n of every m consecutive inputs of a row (2:4, 4:8) */
} pare_prune_group;

/* Zero the weights of w [rows][cols] with the lowest score (same shape):
 * a fraction `sparsity` of each group, or n of every m (m <= 64; a ragged
 * tail of a row shorter than m is kept). Ties go by position, so counts
 * are exact. Returns the number zeroed, -1 when out of memory. */
int64_t pare_prune_by_score(float *w, const float *score, int64_t rows, int64_t cols, pare_prune_group g,
                            double sparsity, int n, int m);

/* SparseGPT on one linear layer: w [R][C] pruned to `sparsity`
 * (unstructured, m == 0) or n:m, the kept weights updated to compensate,
 * using h = sum x x^T over calibration inputs ([C][C], double, diagonal
 * may be changed); damp as in GPTQ (0.01). */
pare_status pare_sparsegpt(float *w, int64_t R, int64_t C, double *h, double sparsity, int n, int m, double damp,
                           pare_err *err);

/* ---- Llama-family GGUF models (src/compress/prune/llama_prune.c)
 *
 * Every linear weight of every layer pruned by magnitude (|w|, one
 * threshold per stacked linear: q/k/v, o, gate/up, down), Wanda (|w| times
 * the input channel's L2 norm over the calibration tokens, per output row)
 * or SparseGPT, calibrated layer by layer (pare_llama_calibrate), each
 * layer seeing the outputs of the pruned layers before it. The result is
 * written with F16 linear weights (zeros exact), everything else copied. */
typedef enum pare_prune_method { PARE_PRUNE_MAGNITUDE = 0, PARE_PRUNE_WANDA = 1, PARE_PRUNE_SPARSEGPT = 2 } pare_prune_method;

typedef struct pare_llama_prune_opts {
    pare_prune_method method;
    double sparsity;        /* unstructured fraction, when m == 0 */
    int n, m;               /* n:m semi-structured (zero n of every m) when m > 0 */
    const int32_t *tokens;  /* calibration (Wanda, SparseGPT): n_seq x seq_len ids */
    int64_t n_seq, seq_len;
    double damp;            /* SparseGPT (0.01) */
    int n_threads;
    bool verbose;
} pare_llama_prune_opts;

const char *pare_prune_method_name(pare_prune_method m);
/* The method called name ("magnitude", "wanda", "sparsegpt"); false if none is. */
bool pare_prune_method_parse(const char *name, pare_prune_method *out);
pare_status pare_llama_prune(const char *in, const char *out, const pare_llama_prune_opts *o, pare_progress *prog,
                             pare_err *err);

/* Fraction of exact zeros. */
double pare_sparsity(const float *w, int64_t n);

/* ---- structured pruning of BERT-family folders
 * (src/compress/prune/bert_structured.c): whole attention heads, FFN
 * neurons or layers go, so the result is a smaller dense model. Heads are
 * recorded as Hugging Face does it (config.json "pruned_heads", original
 * head ids per layer; transformers loads the folder), neurons narrow
 * intermediate_size (the same count in every layer, as HF's config has one
 * width), layers lower num_hidden_layers. */
typedef enum pare_struct_unit { PARE_STRUCT_HEADS = 0, PARE_STRUCT_NEURONS = 1, PARE_STRUCT_LAYERS = 2 } pare_struct_unit;

const char *pare_struct_unit_name(pare_struct_unit u); /* heads, neurons, layers */

typedef struct pare_bert_struct_opts {
    pare_struct_unit unit;
    double fraction;       /* of the units removed (rounded to whole units per layer, or overall) */
    bool global;           /* heads: one ranking over all layers (at least one head stays in
                              each); else the same count in every layer. Neurons are always
                              per layer; layers always global. */
    const double *scores;  /* importance of each unit (pare_bert_struct_count order: layer
                              after layer), e.g. first-order Taylor from
                              pare_bert_trainer_taylor; NULL: weight magnitude */
} pare_bert_struct_opts;

typedef struct pare_bert_struct_result {
    int64_t units_before, units_after;
    int64_t params_before, params_after; /* encoder layers' parameters */
} pare_bert_struct_result;

/* The folder's units: heads (sum over layers), neurons or layers. */
pare_status pare_bert_struct_count(const char *dir, pare_struct_unit u, int64_t *n, pare_err *err);
/* Magnitude importance into scores[n]: a head's sum |w| over its rows of
 * Q, K, V and its columns of the attention output; a neuron's over its
 * FFN-in row and FFN-out column; a layer's mean |w| over its four Linears. */
pare_status pare_bert_struct_magnitude(const char *dir, pare_struct_unit u, double *scores, int64_t n, pare_err *err);
pare_status pare_bert_prune_structured(const char *dir, const char *out_dir, const pare_bert_struct_opts *o,
                                       pare_bert_struct_result *res, pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
