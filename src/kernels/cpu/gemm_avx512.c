/* Packed-weight GEMM for AVX-512F: 8 x 48 micro-tile (24 zmm
 * accumulators), L1d 48 KB / L2 1 MB class caches. See gemm_body.h. */
#define GB_VL 16
#define GB_NV 3
#define GB_MR 8
#define GB_KC 192
#define GB_MC 256
#define GB_GROUP 4
#define GB_SFX avx512
#include "kernels/cpu/gemm_body.h"

_Static_assert(GB_NR == PARE_AVX512_NR, "panel width");
