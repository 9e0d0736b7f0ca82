/* Attention for AVX-512F (see attention_body.h). */
#define AB_VL 16
#define AB_SFX avx512
#include "kernels/cpu/attention_body.h"
