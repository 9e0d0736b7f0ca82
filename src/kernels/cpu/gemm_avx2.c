/* Packed-weight GEMM for AVX2 + FMA: 6 x 16 micro-tile (12 ymm
 * accumulators), L1d 32 KB / L2 512 KB class caches (Zen 3): the B slice
 * KC x 16 fills L1 (32 KB), the x block MC x KC is 192 KB of L2. KC and MC
 * were picked by timing the BERT/MiniLM shapes (bench/kernels.c). See
 * gemm_body.h. */
#define GB_VL 8
#define GB_NV 2
#define GB_MR 6
#define GB_KC 512
#define GB_MC 96
#define GB_SFX avx2
#include "kernels/cpu/gemm_body.h"

_Static_assert(GB_NR == PARE_AVX2_NR, "panel width");
