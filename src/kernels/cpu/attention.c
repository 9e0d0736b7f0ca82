/* Attention: the plain-loop reference, the generic-C instance of
 * attention_body.h and dispatch to the AVX2/AVX-512 instances. */
#define AB_VL 4
#define AB_SFX generic
#include "kernels/cpu/attention_body.h"

#include <stdlib.h>

void pare_attention_f32(const pare_attn_args *a, pare_pool *pool) {
    switch (pare_pool_isa(pool)) {
    case PARE_ISA_AVX512: pare_attention_avx512(a, pool); break;
    case PARE_ISA_AVX2: pare_attention_avx2(a, pool); break;
    default: pare_attention_generic(a, pool); break;
    }
}

/* One query row at a time with a T-long score row in double. The score row
 * is malloc'd here: the reference is for tests, not speed. */
void pare_attention_ref_f32(const pare_attn_args *a) {
    const int64_t T = a->T, D = a->D, ld = a->ld, HD = a->H * a->D;
    double *p = malloc((size_t)(T > 0 ? T : 1) * sizeof *p);
    if (!p) return;
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->H; h++)
            for (int64_t i = 0; i < T; i++) {
                const float *q = a->q + (b * T + i) * ld + h * D;
                float *o = a->out + (b * T + i) * HD + h * D;
                double mx = -INFINITY;
                for (int64_t j = 0; j < T; j++) {
                    bool on = (!a->mask || a->mask[b * T + j]) && (!a->causal || j <= i);
                    double s = -INFINITY;
                    if (on) {
                        const float *k = a->k + (b * T + j) * ld + h * D;
                        s = 0;
                        for (int64_t d = 0; d < D; d++) s += (double)q[d] * k[d];
                        s *= a->scale;
                    }
                    p[j] = s;
                    if (s > mx) mx = s;
                }
                double sum = 0;
                for (int64_t j = 0; j < T; j++) {
                    p[j] = p[j] == -INFINITY ? 0.0 : exp(p[j] - mx);
                    sum += p[j];
                }
                for (int64_t d = 0; d < D; d++) {
                    double s = 0;
                    for (int64_t j = 0; j < T; j++)
                        if (p[j] != 0.0) s += p[j] * a->v[(b * T + j) * ld + h * D + d];
                    o[d] = sum > 0 ? (float)(s / sum) : 0.0f;
                }
            }
    free(p);
}
