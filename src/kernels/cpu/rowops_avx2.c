/* Row kernels for AVX2 + FMA (see rowops_body.h). */
#define RB_VL 8
#define RB_SFX avx2
#include "kernels/cpu/rowops_body.h"
