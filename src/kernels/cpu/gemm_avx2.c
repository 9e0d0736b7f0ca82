/* Packed-weight GEMM for AVX2 + FMA: 6 x 16 micro-tile (12 ymm
 * accumulators), L1d 32 KB / L2 512 KB class caches (Zen 3): the B slice
 * KC x 16 is 24 KB of L1 (at 512 it filled all of L1 and k = 3072 ran ~10%
 * slower single-threaded), the x block MC x KC is 198 KB of L2; MC = 132
 * keeps a 128-token sequence in one block. Work items of up to 8 panels.
 * Picked by timing the BERT/MiniLM shapes (bench/kernels.c). See
 * gemm_body.h. */
#define GB_VL 8
#define GB_NV 2
#define GB_MR 6
#define GB_KC 384
#define GB_MC 132
#define GB_GROUP 8
#define GB_SFX avx2
#include "kernels/cpu/gemm_body.h"

_Static_assert(GB_NR == PARE_AVX2_NR, "panel width");
