/* Packed-weight GEMM for AVX2 + FMA: 6 x 16 micro-tile (12 ymm
 * accumulators), L1d 32 KB / L2 512 KB class caches. See gemm_body.h. */
#define GB_VL 8
#define GB_NV 2
#define GB_MR 6
#define GB_KC 256
#define GB_MC 192
#define GB_SFX avx2
#include "kernels/cpu/gemm_body.h"

_Static_assert(GB_NR == PARE_AVX2_NR, "panel width");
