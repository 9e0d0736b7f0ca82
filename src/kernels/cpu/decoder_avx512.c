/* Decoder kernels for AVX-512F (see decoder_body.h). */
#define DB_VL 16
#define DB_SFX avx512
#include "kernels/cpu/decoder_body.h"
