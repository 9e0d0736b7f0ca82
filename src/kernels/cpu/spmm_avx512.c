/* AVX-512 kernel of the blocked sparse GEMM (include/pare/sparse.h,
 * pare_spmm): per output row and block of PARE_SPMM_KB inputs, the row's
 * tp partial sums (tp / 16 registers, at most 8) are loaded, each nonzero
 * adds its value times a row of x^T (a broadcast and tp / 16 FMAs from L1),
 * and the sums are stored back. */
#include "kernels/cpu/spmm_internal.h"

#include <immintrin.h>

#define INLINE static inline __attribute__((always_inline))

INLINE void rows_nv(const spmm_tile *t, int64_t r0, int64_t r1, const int NV) {
    const pare_spmm *s = t->s;
    const int64_t tp = t->tp;
    for (int64_t b = 0; b < s->nkb; b++) {
        const char *xb = (const char *)(t->xt + b * PARE_SPMM_KB * PARE_SPMM_TM);
        const int64_t *off = s->off + b * s->n;
        int64_t r = r0;
        for (; r + 2 <= r1; r += 2) { /* two rows: two independent streams of loads and FMAs */
            float *y0 = t->yt + r * tp, *y1 = y0 + tp;
            __m512 a[8], c[8];
            for (int i = 0; i < NV; i++) {
                a[i] = b ? _mm512_load_ps(y0 + 16 * i) : _mm512_setzero_ps();
                c[i] = b ? _mm512_load_ps(y1 + 16 * i) : _mm512_setzero_ps();
            }
            const pare_spmm_nz *e0 = s->nz + off[r], *end0 = s->nz + off[r + 1];
            const pare_spmm_nz *e1 = end0, *end1 = s->nz + off[r + 2];
            for (; e0 < end0 && e1 < end1; e0++, e1++) {
                const __m512 v0 = _mm512_set1_ps(e0->v), v1 = _mm512_set1_ps(e1->v);
                const float *x0 = (const float *)(xb + e0->c), *x1 = (const float *)(xb + e1->c);
                for (int i = 0; i < NV; i++) {
                    a[i] = _mm512_fmadd_ps(v0, _mm512_load_ps(x0 + 16 * i), a[i]);
                    c[i] = _mm512_fmadd_ps(v1, _mm512_load_ps(x1 + 16 * i), c[i]);
                }
            }
            for (; e0 < end0; e0++) {
                const __m512 v0 = _mm512_set1_ps(e0->v);
                const float *x0 = (const float *)(xb + e0->c);
                for (int i = 0; i < NV; i++) a[i] = _mm512_fmadd_ps(v0, _mm512_load_ps(x0 + 16 * i), a[i]);
            }
            for (; e1 < end1; e1++) {
                const __m512 v1 = _mm512_set1_ps(e1->v);
                const float *x1 = (const float *)(xb + e1->c);
                for (int i = 0; i < NV; i++) c[i] = _mm512_fmadd_ps(v1, _mm512_load_ps(x1 + 16 * i), c[i]);
            }
            for (int i = 0; i < NV; i++) {
                _mm512_store_ps(y0 + 16 * i, a[i]);
                _mm512_store_ps(y1 + 16 * i, c[i]);
            }
        }
        for (; r < r1; r++) {
            float *yr = t->yt + r * tp;
            __m512 acc[8];
            for (int i = 0; i < NV; i++) acc[i] = b ? _mm512_load_ps(yr + 16 * i) : _mm512_setzero_ps();
            const pare_spmm_nz *e = s->nz + off[r], *end = s->nz + off[r + 1];
            for (; e < end; e++) {
                const __m512 v = _mm512_set1_ps(e->v);
                const float *xr = (const float *)(xb + e->c);
                for (int i = 0; i < NV; i++) acc[i] = _mm512_fmadd_ps(v, _mm512_load_ps(xr + 16 * i), acc[i]);
            }
            for (int i = 0; i < NV; i++) _mm512_store_ps(yr + 16 * i, acc[i]);
        }
    }
}

void pare_spmm_rows_avx512(const spmm_tile *t, int64_t r0, int64_t r1) {
    switch (t->tp / 16) {
    case 1: rows_nv(t, r0, r1, 1); break;
    case 2: rows_nv(t, r0, r1, 2); break;
    case 3: rows_nv(t, r0, r1, 3); break;
    case 4: rows_nv(t, r0, r1, 4); break;
    case 5: rows_nv(t, r0, r1, 5); break;
    case 6: rows_nv(t, r0, r1, 6); break;
    case 7: rows_nv(t, r0, r1, 7); break;
    default: rows_nv(t, r0, r1, 8); break;
    }
}
