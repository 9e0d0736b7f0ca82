/* Training (src/train). First slice: a linear classification head trained
 * on frozen sentence features (logistic regression with AdamW), the cheap
 * "fine-tune the head" step of the experiment runner. */
#ifndef PARE_TRAIN_H
#define PARE_TRAIN_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pare_head_opts {
    bool multi_label;     /* BCE-with-logits per label; else softmax CE */
    int64_t epochs;       /* 40 if 0 */
    int64_t batch;        /* 64 if 0 */
    double lr;            /* 3e-3 if 0 */
    double weight_decay;  /* 1e-4 if 0; < 0 for none */
    uint64_t seed;        /* shuffling */
} pare_head_opts;

/* Train W[L, d], b[L] on X[n, d] (standardised internally, the scaling is
 * folded back into W and b) against Y[n, L] 0/1. *loss (may be NULL)
 * receives the mean training loss of the last epoch. */
pare_status pare_train_linear_head(const float *X, const uint8_t *Y, int64_t n, int64_t d,
                                   int64_t L, const pare_head_opts *o, float *W, float *b,
                                   double *loss, pare_err *err);

/* probs[n, L] (sigmoid, or softmax when !multi_label) and pred[n, L] 0/1:
 * probs >= threshold (multi-label) or the argmax. Either may be NULL. */
void pare_linear_head_predict(const float *X, int64_t n, int64_t d, int64_t L, const float *W,
                              const float *b, bool multi_label, float threshold, float *probs,
                              uint8_t *pred);

/* ---- fine-tuning a BERT-family encoder with a classification head
 * (src/train/bert_train.c): HF's BertForSequenceClassification (pooler on
 * the [CLS] row, then a linear classifier; pooler and classifier start as
 * HF initialises them when the folder lacks them), every parameter
 * trained with AdamW (no decay on biases and LayerNorm), gradients clipped
 * to a global norm. No dropout. */
#include "pare/grad.h"
#include "pare/prune.h"
struct pare_bert_config;

typedef struct pare_trainer_opts {
    int64_t n_labels;
    bool multi_label;           /* BCE per label; else softmax cross-entropy */
    int64_t max_batch, max_len; /* activations are sized for these */
    pare_adamw_opts adamw;
    double clip;                /* global gradient norm (1.0 if 0; < 0: no clipping) */
    uint64_t seed;              /* head initialisation (42 if 0) */
    bool keep_zeros;            /* encoder Linear weights that are 0 at the start stay 0
                                   (recovery fine-tuning of a pruned model) */
    bool recompute;             /* gradient checkpointing (CPU): keep each layer's output only and
                                   recompute the layer's activations in the backward (about a third
                                   more compute, about 1/20 of the activation memory) */
    bool cuda;                  /* train on the first CUDA GPU (a build with PARE_CUDA) */
    bool tf32;                  /* cuda: cuBLAS may use TF32 tensor cores for the fp32 products */
} pare_trainer_opts;

typedef struct pare_train_batch {
    const int32_t *ids;         /* [B][T] */
    const int8_t *mask;         /* [B][T] 1 for real tokens (NULL: all) */
    int64_t B, T;
    const float *targets;       /* [B][L] 0/1 (multi-label) */
    const int32_t *labels;      /* [B] (multi-class) */
    const float *teacher;       /* [B][L] teacher logits: distillation loss, else NULL */
    float kd_temperature, kd_alpha; /* 2 and the given alpha (0.5 recommended) */
    /* TinyBERT-style hidden-state transfer, added to the loss when
     * teacher_hidden is set: kd_hidden * the mean over the real tokens, the
     * channels and the n_layers + 1 targets of (h_S - h_T)^2, where h_S is the
     * embedding output (k = 0) and then each layer's output (k = l + 1), and
     * teacher_hidden[k] the teacher's [B][T][hidden] for it (same width).
     * On the GPU the pointers are device memory: a teacher trainer's on the
     * same GPU (pare_bert_trainer_hidden / _attention give those). */
    const float *const *teacher_hidden;
    float kd_hidden;
    /* Attention transfer, when teacher_att is set: kd_att * the mean
     * over layers, heads, real query rows and keys of (P_S - P_T)^2 of the
     * attention probabilities; teacher_att[l] [B][heads][T][T] for student
     * layer l (the same heads). */
    const float *const *teacher_att;
    float kd_att;
} pare_train_batch;

typedef struct pare_bert_trainer pare_bert_trainer;
pare_status pare_bert_trainer_create(const char *dir, const pare_trainer_opts *o, pare_bert_trainer **out,
                                     pare_err *err);
void pare_bert_trainer_free(pare_bert_trainer *t);
int64_t pare_bert_trainer_n_params(const pare_bert_trainer *t);
/* Seconds spent in each phase of the steps so far (`pare dev train-step
 * --profile`): GEMMs, attention, everything else of the forward and the
 * backward, and the optimizer (clipping + AdamW). */
enum { PARE_PROF_FWD_GEMM, PARE_PROF_FWD_ATTN, PARE_PROF_FWD_OTHER, PARE_PROF_BWD_GEMM, PARE_PROF_BWD_ATTN,
       PARE_PROF_BWD_OTHER, PARE_PROF_OPT, PARE_PROF_N };
const double *pare_bert_trainer_profile(const pare_bert_trainer *t);
/* "cpu", or the GPU's name when training on CUDA */
const char *pare_bert_trainer_device(const pare_bert_trainer *t);
/* On the GPU a step returns once its work is queued; this waits for it
 * (for timing). On the CPU: nothing to wait for. */
pare_status pare_bert_trainer_wait(pare_bert_trainer *t, pare_err *err);
const struct pare_bert_config *pare_bert_trainer_config(const pare_bert_trainer *t);
/* forward only: logits [B][n_labels] */
pare_status pare_bert_trainer_logits(pare_bert_trainer *t, const int32_t *ids, const int8_t *mask, int64_t B,
                                     int64_t T, float *logits, pare_err *err);
/* Magnitude pruning of the encoder's Linear weights (q, k, v, attention
 * output, FFN in and out of every layer; pare_prune_magnitude), one
 * threshold over all of them (global, the seed study's recipe) or per
 * tensor; *zeroed (may be NULL) gets the count. */
pare_status pare_bert_trainer_prune(pare_bert_trainer *t, double sparsity, bool global, int64_t *zeroed, pare_err *err);
/* The same weights pruned n:m by magnitude: the n smallest |w| of every m
 * consecutive inputs of a row (2:4, 4:8). */
pare_status pare_bert_trainer_prune_nm(pare_bert_trainer *t, int n, int m, int64_t *zeroed, pare_err *err);
/* First-order Taylor importance of structured units (Molchanov et al. 2019;
 * for heads, Michel et al. 2019): forward and backward of the batch (no
 * step), then for each unit |dL/d(its mask)| added to scores (layout of
 * pare_bert_struct_count: layer after layer). A head's mask scales its
 * context columns, so the derivative is sum(w * g) over its columns of the
 * attention output; a neuron's, over its column of the FFN output; a
 * layer's score is the sum of its heads' and neurons'. */
pare_status pare_bert_trainer_taylor(pare_bert_trainer *t, const pare_train_batch *b, pare_struct_unit unit, double *scores,
                                     pare_err *err);
/* From now on keep the encoder Linear weights that are 0 at 0. */
pare_status pare_bert_trainer_freeze_zeros(pare_bert_trainer *t, pare_err *err);
/* The last forward's hidden states, [B][T][hidden]: k = 0 the embedding
 * output, k = l + 1 layer l's output (on the GPU: device memory). */
const float *pare_bert_trainer_hidden(const pare_bert_trainer *t, int64_t k);
/* The last forward's attention probabilities of layer l, [B][heads][T][T]
 * (on the GPU: device memory; NULL on the CPU with recompute). */
const float *pare_bert_trainer_attention(const pare_bert_trainer *t, int64_t l);
/* The batch's loss without a step (no gradient). */
pare_status pare_bert_trainer_loss(pare_bert_trainer *t, const pare_train_batch *b, float *loss, pare_err *err);
/* The parameter and gradient buffers (n floats each, layout internal): for
 * tests. On the GPU: host copies, brought up to date by this call. */
void pare_bert_trainer_buffers(pare_bert_trainer *t, float **w, float **g, int64_t *n);
/* forward, loss, backward, clipping, one AdamW step at learning rate lr */
pare_status pare_bert_trainer_step(pare_bert_trainer *t, const pare_train_batch *b, double lr, float *loss,
                                   pare_err *err);
/* The whole training state (parameters, AdamW moments, step) as one
 * safetensors file, written beside and renamed into place (a crash never
 * leaves half a checkpoint); loading it into a trainer made the same way
 * continues the run exactly. */
pare_status pare_bert_trainer_save_state(pare_bert_trainer *t, const char *path, pare_err *err);
pare_status pare_bert_trainer_load_state(pare_bert_trainer *t, const char *path, pare_err *err);
/* out_dir: model.safetensors (HF names, loadable by transformers'
 * BertForSequenceClassification and by pare), config.json, tokenizer files */
pare_status pare_bert_trainer_save(pare_bert_trainer *t, const char *out_dir, const char *const *label_names,
                                   pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
