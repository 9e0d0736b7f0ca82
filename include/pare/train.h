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

#ifdef __cplusplus
}
#endif
#endif
