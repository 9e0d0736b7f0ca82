/* The training GEMM for AVX-512F: the 8 x 48 tile of gemm_avx512.c. See
 * sgemm_body.h. */
#define GB_VL 16
#define GB_NV 3
#define GB_MR 8
#define GB_KC 192


#define GB_MC 256
#define GB_GROUP 4
#define GB_SFX avx512
#include "kernels/cpu/sgemm_body.h"

_Static_assert(GB_NR == PARE_SGEMM_NR, "panel width");
