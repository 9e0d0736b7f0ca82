/* Row kernels for AVX-512F (see rowops_body.h). */
#define RB_VL 16
#define RB_SFX avx512
#include "kernels/cpu/rowops_body.h"
