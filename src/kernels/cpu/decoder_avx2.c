/* Decoder kernels for AVX2 + FMA (see decoder_body.h). */
#define DB_VL 8
#define DB_SFX avx2
#include "kernels/cpu/decoder_body.h"
