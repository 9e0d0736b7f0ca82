/* The training ops (grad_body.h) compiled for AVX-512 with reassociation
 * allowed (CMakeLists.txt), so their loops vectorise; the trainer calls the
 * attention ranges from here on CPUs that have AVX-512
 * (src/train/bert_train.c). Sums may come out in another order than
 * grad.c's. */
#define SUF _avx512
#include "train/grad_f32.h"
