/* The training ops (grad_body.h) compiled for AVX-512 with reassociation
 * allowed, so the dot products and reductions of attention vectorise; the
 * trainer calls the attention ranges from here on CPUs that have AVX-512
 * (src/train/bert_train.c). Sums come out in another order than grad.c's. */
#include "pare/grad.h"

#include <math.h>

#define REAL float
#define SUF _avx512
#define GEMM cblas_sgemm
#define EXP expf
#define ERF erff
#define SQRT sqrtf
#define TANH tanhf
#define LOG logf
#define LOG1P log1pf
#include "train/grad_body.h"
