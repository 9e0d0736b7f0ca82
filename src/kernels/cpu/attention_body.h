/* Multi-head attention written once with GCC vector extensions and compiled
 * per ISA. The including file defines AB_VL (floats per vector) and AB_SFX.
 *
 * Work item = (batch, head, block of QB = 2*VL queries), split over the
 * pool (claimed through an atomic counter). Per item, keys are visited in
 * blocks of KB, flash-attention style:
 *   S^T[j][i] = scale * k_j . q_i     (queries along vector lanes: q block
 *                                       transposed once per key block)
 *   running max m_i, running sum l_i, out_i rescaled by exp(m_old - m_new)
 *   out_i += sum_j p_ij v_j          (head dims along vector lanes)
 * out rows live in the caller's output buffer, so scratch is a fixed
 * <= 64 KB of stack whatever T and D are (no malloc in the hot path): the
 * transposed q block, the score block and a dense copy of a K or V block.
 * Masked keys score -inf; a row whose keys are all masked outputs 0. */
#include "kernels/cpu/kern_internal.h"

#define VM_LANES AB_VL
#include "kernels/cpu/vmath.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define AB_CAT2(a, b) a##b
#define AB_CAT(a, b) AB_CAT2(a, b)
#define AB_NAME(base) AB_CAT(base, AB_SFX)
#define AB_QB (2 * AB_VL)
#define AB_KB 64
#define AB_DC 128

typedef float ab_vec __attribute__((vector_size(AB_VL * 4)));
typedef float ab_uvec __attribute__((vector_size(AB_VL * 4), aligned(4)));

typedef struct {
    const pare_attn_args *a;
    int64_t n_qblocks;
    atomic_llong next; /* next unclaimed item: the faster thread takes more */
} ab_job;

/* Register tile of NU rows x AB_QB lanes:
 * c[u][:] = c[u][:] * (s0|s1) + sum_k a[u*ars + k*aks] * bm[k][:]
 * (c treated as 0 when !load). Both products of attention have this shape:
 *   scores  st[j][:] = sum_d K[j][d] * qt[d][:]   (u = key, k = head dim)
 *   output  ot[d][:] = ot[d][:] * alpha + sum_j V[j][d] * st[j][:]
 *                                                  (u = head dim, k = key)
 * Per k: 2 vector loads and NU broadcasts for 2*NU FMAs. */
static inline __attribute__((always_inline)) void ab_mm_tile(const int NU, float (*c)[AB_QB], const float *a,
                                                             int64_t ars, int64_t aks,
                                                             float (*bm)[AB_QB], int64_t kn, bool load,
                                                             ab_vec s0, ab_vec s1) {
    ab_vec acc[6][2];
    for (int u = 0; u < NU; u++) {
        acc[u][0] = load ? *(ab_vec *)&c[u][0] * s0 : (ab_vec){0};
        acc[u][1] = load ? *(ab_vec *)&c[u][AB_VL] * s1 : (ab_vec){0};
    }
    for (int64_t k = 0; k < kn; k++) {
        ab_vec b0 = *(ab_vec *)&bm[k][0], b1 = *(ab_vec *)&bm[k][AB_VL];
        const float *ak = a + k * aks;
        for (int u = 0; u < NU; u++) {
            float av = ak[u * ars];
            acc[u][0] += av * b0;
            acc[u][1] += av * b1;
        }
    }
    for (int u = 0; u < NU; u++) {
        *(ab_vec *)&c[u][0] = acc[u][0];
        *(ab_vec *)&c[u][AB_VL] = acc[u][1];
    }
}

/* ab_mm_tile over rows [0, rows). */
static void ab_mm(float (*c)[AB_QB], int64_t rows, const float *a, int64_t ars, int64_t aks,
                  float (*bm)[AB_QB], int64_t kn, bool load, ab_vec s0, ab_vec s1) {
    int64_t r = 0;
    for (; r + 6 <= rows; r += 6) ab_mm_tile(6, c + r, a + r * ars, ars, aks, bm, kn, load, s0, s1);
    for (; r + 2 <= rows; r += 2) ab_mm_tile(2, c + r, a + r * ars, ars, aks, bm, kn, load, s0, s1);
    if (r < rows) ab_mm_tile(1, c + r, a + r * ars, ars, aks, bm, kn, load, s0, s1);
}

/* Rows of K or V sit ld floats apart inside the fused QKV buffer; with ld a
 * multiple of 1 KB they alias in L1, so copy the block [kn][dn] dense. */
#if defined(__clang__)
#define AB_NO_MEMCPY_IDIOM
#else
#define AB_NO_MEMCPY_IDIOM __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
AB_NO_MEMCPY_IDIOM static void ab_pack(float *dst, const float *src, int64_t ld, int64_t kn, int64_t dn) {
    for (int64_t j = 0; j < kn; j++) {
        const float *s = src + j * ld;
        float *t = dst + j * dn;
        int64_t d = 0; /* not memcpy: GCC inlines that as rep movs, slow for short rows */
        for (; d + AB_VL <= dn; d += AB_VL) *(ab_uvec *)(t + d) = *(const ab_uvec *)(s + d);
        for (; d < dn; d++) t[d] = s[d];
    }
}

static void ab_transpose_q(float qt[AB_DC][AB_QB], const float *q, int64_t ld, int64_t qn,
                           int64_t d0, int64_t dn, float scale) {
    for (int64_t d = 0; d < dn; d++)
        for (int i = 0; i < AB_QB; i++) qt[d][i] = 0.0f;
    for (int64_t i = 0; i < qn; i++)
        for (int64_t d = 0; d < dn; d++) qt[d][i] = q[i * ld + d0 + d] * scale;
}

static void ab_item(const pare_attn_args *a, int64_t b, int64_t h, int64_t i0) {
    const int64_t T = a->T, D = a->D, ld = a->ld, HD = a->H * a->D;
    const int64_t qn = T - i0 < AB_QB ? T - i0 : AB_QB;
    const float *qb = a->q + b * T * ld + h * D;
    const float *kb = a->k + b * T * ld + h * D;
    const float *vb = a->v + b * T * ld + h * D;
    float *ob = a->out + b * T * HD + h * D;
    const int32_t *mask = a->mask ? a->mask + b * T : NULL;
    _Alignas(64) float qt[AB_DC][AB_QB];
    _Alignas(64) float st[AB_KB][AB_QB];
    _Alignas(64) float ot[AB_DC][AB_QB];  /* output chunk, transposed */
    _Alignas(64) float kvp[AB_KB * AB_DC]; /* packed K or V chunk [kn][dn] */
    const ab_vec one = (ab_vec){0} + 1.0f;
    if (D <= AB_DC) ab_transpose_q(qt, qb + i0 * ld, ld, qn, 0, D, a->scale);
    int64_t kend = a->causal && i0 + qn < T ? i0 + qn : T;
    /* output head dims in chunks of AB_DC (one chunk unless D > AB_DC:
     * then the scores are recomputed per chunk) */
    for (int64_t o0 = 0; o0 < D; o0 += AB_DC) {
        int64_t on = D - o0 < AB_DC ? D - o0 : AB_DC;
        /* query lanes: two vm_v halves of AB_QB */
        vm_v mrun[2] = {VM_SPLAT(-INFINITY), VM_SPLAT(-INFINITY)};
        vm_v lrun[2] = {VM_SPLAT(0.0f), VM_SPLAT(0.0f)};
        for (int64_t j0 = 0; j0 < kend; j0 += AB_KB) {
            int64_t kn = kend - j0 < AB_KB ? kend - j0 : AB_KB;
            for (int64_t d0 = 0; d0 < D; d0 += AB_DC) {
                int64_t dn = D - d0 < AB_DC ? D - d0 : AB_DC;
                if (D > AB_DC) ab_transpose_q(qt, qb + i0 * ld, ld, qn, d0, dn, a->scale);
                ab_pack(kvp, kb + j0 * ld + d0, ld, kn, dn);
                ab_mm(st, kn, kvp, dn, 1, qt, dn, d0 > 0, one, one);
            }
            for (int64_t j = 0; j < kn; j++) {
                int64_t key = j0 + j;
                if (mask && !mask[key]) {
                    for (int i = 0; i < AB_QB; i++) st[j][i] = -INFINITY;
                } else if (a->causal && key > i0) {
                    for (int i = 0; i < AB_QB; i++)
                        st[j][i] = key > i0 + i ? -INFINITY : st[j][i];
                }
            }
            /* online softmax over this key block */
            ab_vec alpha[2];
            for (int hf = 0; hf < 2; hf++) {
                vm_v mnew = mrun[hf];
                for (int64_t j = 0; j < kn; j++) mnew = vm_max(mnew, *(vm_uv *)&st[j][hf * AB_VL]);
                vm_v mref = vm_sel(mnew == -INFINITY, VM_SPLAT(0.0f), mnew);
                vm_v al = vm_exp(mrun[hf] - mref), lsum = VM_SPLAT(0.0f);
                mrun[hf] = mnew;
                for (int64_t j = 0; j < kn; j++) {
                    vm_v p = vm_exp(*(vm_uv *)&st[j][hf * AB_VL] - mref);
                    *(vm_uv *)&st[j][hf * AB_VL] = p;
                    lsum += p;
                }
                lrun[hf] = lrun[hf] * al + lsum;
                memcpy(&alpha[hf], &al, sizeof al);
            }
            ab_pack(kvp, vb + j0 * ld + o0, ld, kn, on);
            ab_mm(ot, on, kvp, 1, on, st, kn, j0 > 0, alpha[0], alpha[1]);
        }
        float lsum_f[AB_QB];
        memcpy(lsum_f, lrun, sizeof lsum_f);
        for (int64_t i = 0; i < qn; i++) {
            float inv = lsum_f[i] > 0.0f ? 1.0f / lsum_f[i] : 0.0f; /* all keys masked: 0 */
            float *o = ob + (i0 + i) * HD + o0;
            for (int64_t d = 0; d < on; d++) o[d] = ot[d][i] * inv;
        }
    }
}

static void ab_worker(void *ctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    ab_job *jb = ctx;
    const pare_attn_args *a = jb->a;
    const int64_t n_items = a->B * a->H * jb->n_qblocks;
    for (;;) {
        int64_t w = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed);
        if (w >= n_items) break;
        int64_t qblk = w % jb->n_qblocks, bh = w / jb->n_qblocks;
        ab_item(a, bh / a->H, bh % a->H, qblk * AB_QB);
    }
}

void AB_NAME(pare_attention_)(const pare_attn_args *a, pare_pool *pool) {
    if (a->B <= 0 || a->T <= 0 || a->H <= 0 || a->D <= 0) return;
    ab_job jb = {.a = a, .n_qblocks = (a->T + AB_QB - 1) / AB_QB};
    atomic_init(&jb.next, 0);
    pare_pool_run(pool, ab_worker, &jb);
}
