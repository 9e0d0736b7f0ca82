/* The f32 instantiation of the training ops (grad_body.h); the includer
 * defines SUF, the suffix of the function names. */
#include "pare/grad.h"

#include <math.h>

#define REAL float
#define GEMM cblas_sgemm
#define EXP expf
#define ERF erff
#define SQRT sqrtf
#define TANH tanhf
#define LOG logf
#define LOG1P log1pf
#include "train/grad_body.h"
