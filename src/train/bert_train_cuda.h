/* The BERT trainer's CUDA backend (src/train/cuda/bert_train_cuda.c): the
 * same step as the CPU's (src/train/bert_train.c) on the GPU, with the
 * parameters, gradients, AdamW moments and activations in device memory.
 * The matrix products are cuBLAS fp32 (TF32 tensor cores on request), the
 * rest src/kernels/cuda/train_ops.cu. The host keeps the parameter table
 * and computes the loss from the logits (a few floats per example), so the
 * losses are the CPU's code. Built with PARE_CUDA (`make cuda`); without
 * it, pare_cuda_bert_create says so. */
#ifndef PARE_TRAIN_BERT_TRAIN_CUDA_H
#define PARE_TRAIN_BERT_TRAIN_CUDA_H

#include "pare/core.h"
#include "pare/grad.h"

/* offsets of one encoder layer's tensors in the parameter buffer */
typedef struct pare_bert_layer_offs {
    int64_t qkv_w, qkv_b, o_w, o_b, ln1_g, ln1_b, f1_w, f1_b, f2_w, f2_b, ln2_g, ln2_b;
    int64_t heads, ffn; /* this layer's (fewer after structured pruning) */
} pare_bert_layer_offs;

typedef struct pare_cuda_bert_desc {
    int64_t H, I, NH, n_layers, n_labels, max_batch, max_len, n_params;
    float eps;
    const pare_bert_layer_offs *layers;
    int64_t word, pos, type, lne_g, lne_b, pool_w, pool_b, cls_w, cls_b;
    bool tf32; /* cuBLAS may use TF32 tensor cores (10-bit mantissa products) */
} pare_cuda_bert_desc;

typedef struct pare_cuda_bert pare_cuda_bert;

pare_status pare_cuda_bert_create(const pare_cuda_bert_desc *d, pare_cuda_bert **out, pare_err *err);
void pare_cuda_bert_free(pare_cuda_bert *c);
/* The device's name, for messages. */
const char *pare_cuda_bert_device(const pare_cuda_bert *c);
/* Host -> device: parameters, moments (NULL: leave) and the per-parameter
 * flags (bit 0: weight decay, bit 1: frozen at 0). */
pare_status pare_cuda_bert_upload(pare_cuda_bert *c, const float *w, const float *m, const float *v, const uint8_t *flags,
                                  pare_err *err);
/* Device -> host; any may be NULL. */
pare_status pare_cuda_bert_download(pare_cuda_bert *c, float *w, float *m, float *v, float *g, pare_err *err);
/* Forward of the batch keeping the activations; logits [B][n_labels] to the host. */
pare_status pare_cuda_bert_forward(pare_cuda_bert *c, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T,
                                   float *logits, pare_err *err);
/* Gradients (overwritten) of the last forward's batch given d loss / d logits. */
pare_status pare_cuda_bert_backward(pare_cuda_bert *c, const float *d_logits, pare_err *err);
/* Clipping to the global norm clip (<= 0: none) and one AdamW step. */
pare_status pare_cuda_bert_adamw(pare_cuda_bert *c, const pare_adamw_opts *o, pare_adamw_consts k, double clip,
                                 pare_err *err);
/* The last forward's activations in device memory: k = 0 the embedding
 * output, k = l + 1 layer l's output ([B][T][H]); layer l's attention
 * probabilities ([B][heads][T][T]). */
const float *pare_cuda_bert_hidden(const pare_cuda_bert *c, int64_t k);
const float *pare_cuda_bert_attention(const pare_cuda_bert *c, int64_t l);
/* Transfer targets of the last forward's batch, as device pointers (a
 * teacher trainer's on the same GPU): hid[n_layers + 1] against
 * pare_cuda_bert_hidden(k), att[n_layers] against the attention (either
 * NULL). ss_hid[k], ss_att[l] get the sums of squared differences over real
 * tokens (a synchronisation); the next backward adds hid_coef (a - b) and
 * att_coef (a - b) to the gradients of those activations. */
pare_status pare_cuda_bert_transfer(pare_cuda_bert *c, const float *const *hid, float hid_coef, const float *const *att,
                                    float att_coef, double *ss_hid, double *ss_att, pare_err *err);
/* Wait for the queued work (for timing). */
pare_status pare_cuda_bert_sync(pare_cuda_bert *c, pare_err *err);

#endif
