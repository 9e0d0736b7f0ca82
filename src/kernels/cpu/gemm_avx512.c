/* Packed GEMMs for AVX-512F: 8 x 48 micro-tile (24 zmm accumulators),
 * L1d 48 KB / L2 1 MB class caches. The inference GEMM on weights packed at
 * load (gemm_body.h) and the training GEMM packing per call (sgemm_body.h)
 * share the tile. */
#define GB_VL 16
#define GB_NV 3
#define GB_MR 8
#define GB_KC 192
#define GB_MC 256
#define GB_GROUP 4
#define GB_SFX avx512
#include "kernels/cpu/gemm_body.h"
#include "kernels/cpu/sgemm_body.h"

_Static_assert(GB_NR == PARE_AVX512_NR && GB_NR == PARE_SGEMM_NR, "panel width");
