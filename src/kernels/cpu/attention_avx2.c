/* Attention for AVX2 + FMA (see attention_body.h). */
#define AB_VL 8
#define AB_SFX avx2
#include "kernels/cpu/attention_body.h"
