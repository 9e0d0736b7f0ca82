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

/* st[j][:] (+)= sum_d kr_j[d] * qt[d][:] for kn keys at row stride ld. */
static void ab_scores(float st[AB_KB][AB_QB], float qt[AB_DC][AB_QB], const float *kr, int64_t ld,
                      int64_t kn, int64_t dn, bool accumulate) {
    int64_t j = 0;
    for (; j + 4 <= kn; j += 4) {
        ab_vec s[4][2];
        for (int u = 0; u < 4; u++)
            for (int v = 0; v < 2; v++)
                s[u][v] = accumulate ? *(ab_vec *)&st[j + u][v * AB_VL] : (ab_vec){0};
        const float *k0 = kr + j * ld;
        for (int64_t d = 0; d < dn; d++) {
            ab_vec q0 = *(ab_vec *)&qt[d][0], q1 = *(ab_vec *)&qt[d][AB_VL];
#pragma GCC unroll 4
            for (int u = 0; u < 4; u++) {
                float kv = k0[u * ld + d];
                s[u][0] += kv * q0;
                s[u][1] += kv * q1;
            }
        }
        for (int u = 0; u < 4; u++)
            for (int v = 0; v < 2; v++) *(ab_vec *)&st[j + u][v * AB_VL] = s[u][v];
    }
    for (; j < kn; j++) {
        ab_vec s0 = accumulate ? *(ab_vec *)&st[j][0] : (ab_vec){0};
        ab_vec s1 = accumulate ? *(ab_vec *)&st[j][AB_VL] : (ab_vec){0};
        const float *k0 = kr + j * ld;
        for (int64_t d = 0; d < dn; d++) {
            s0 += k0[d] * *(ab_vec *)&qt[d][0];
            s1 += k0[d] * *(ab_vec *)&qt[d][AB_VL];
        }
        *(ab_vec *)&st[j][0] = s0;
        *(ab_vec *)&st[j][AB_VL] = s1;
    }
}

/* For NR query rows at once (1 or 2, sharing the loads of v):
 * o_r[0..D) = o_r * alpha_r + sum_j st[j][col+r] v_j. */
static inline __attribute__((always_inline)) void ab_pv_rows(const int NR, float *o, int64_t ldo,
                                                             const float *alpha,
                                                             float st[AB_KB][AB_QB], int col,
                                                             const float *vr, int64_t ld,
                                                             int64_t kn, int64_t D) {
    int64_t d = 0;
    for (; d + 4 * AB_VL <= D; d += 4 * AB_VL) {
        ab_vec acc[2][4];
        for (int r = 0; r < NR; r++)
            for (int u = 0; u < 4; u++) acc[r][u] = *(const ab_uvec *)(o + r * ldo + d + u * AB_VL) * alpha[r];
        for (int64_t j = 0; j < kn; j++) {
            const ab_uvec *vp = (const ab_uvec *)(vr + j * ld + d);
            ab_vec v0 = vp[0], v1 = vp[1], v2 = vp[2], v3 = vp[3];
            for (int r = 0; r < NR; r++) {
                float p = st[j][col + r];
                acc[r][0] += p * v0;
                acc[r][1] += p * v1;
                acc[r][2] += p * v2;
                acc[r][3] += p * v3;
            }
        }
        for (int r = 0; r < NR; r++)
            for (int u = 0; u < 4; u++) *(ab_uvec *)(o + r * ldo + d + u * AB_VL) = acc[r][u];
    }
    for (; d + AB_VL <= D; d += AB_VL) {
        ab_vec acc[2];
        for (int r = 0; r < NR; r++) acc[r] = *(const ab_uvec *)(o + r * ldo + d) * alpha[r];
        for (int64_t j = 0; j < kn; j++) {
            ab_vec v0 = *(const ab_uvec *)(vr + j * ld + d);
            for (int r = 0; r < NR; r++) acc[r] += st[j][col + r] * v0;
        }
        for (int r = 0; r < NR; r++) *(ab_uvec *)(o + r * ldo + d) = acc[r];
    }
    for (; d < D; d++)
        for (int r = 0; r < NR; r++) {
            float s = o[r * ldo + d] * alpha[r];
            for (int64_t j = 0; j < kn; j++) s += st[j][col + r] * vr[j * ld + d];
            o[r * ldo + d] = s;
        }
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
    _Alignas(64) float kvp[AB_KB * AB_DC]; /* packed K or V chunk [kn][dn] */
    /* query lanes: two vm_v halves of AB_QB */
    vm_v mrun[2] = {VM_SPLAT(-INFINITY), VM_SPLAT(-INFINITY)}, lrun[2] = {VM_SPLAT(0.0f), VM_SPLAT(0.0f)};
    float alpha[AB_QB], lsum_f[AB_QB];
    for (int64_t i = 0; i < qn; i++)
        for (int64_t d = 0; d < D; d++) ob[(i0 + i) * HD + d] = 0.0f;
    if (D <= AB_DC) ab_transpose_q(qt, qb + i0 * ld, ld, qn, 0, D, a->scale);
    int64_t kend = a->causal && i0 + qn < T ? i0 + qn : T;
    for (int64_t j0 = 0; j0 < kend; j0 += AB_KB) {
        int64_t kn = kend - j0 < AB_KB ? kend - j0 : AB_KB;
        for (int64_t d0 = 0; d0 < D; d0 += AB_DC) {
            int64_t dn = D - d0 < AB_DC ? D - d0 : AB_DC;
            if (D > AB_DC) ab_transpose_q(qt, qb + i0 * ld, ld, qn, d0, dn, a->scale);
            ab_pack(kvp, kb + j0 * ld + d0, ld, kn, dn);
            ab_scores(st, qt, kvp, dn, kn, dn, d0 > 0);
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
            memcpy(alpha + hf * AB_VL, &al, sizeof al);
        }
        for (int64_t d0 = 0; d0 < D; d0 += AB_DC) {
            int64_t dn = D - d0 < AB_DC ? D - d0 : AB_DC;
            ab_pack(kvp, vb + j0 * ld + d0, ld, kn, dn);
            float *o = ob + i0 * HD + d0;
            int64_t i = 0;
            for (; i + 2 <= qn; i += 2)
                ab_pv_rows(2, o + i * HD, HD, alpha + i, st, (int)i, kvp, dn, kn, dn);
            if (i < qn) ab_pv_rows(1, o + i * HD, HD, alpha + i, st, (int)i, kvp, dn, kn, dn);
        }
    }
    memcpy(lsum_f, lrun, sizeof lsum_f);
    for (int64_t i = 0; i < qn; i++) {
        float inv = lsum_f[i] > 0.0f ? 1.0f / lsum_f[i] : 0.0f; /* all keys masked: 0 */
        float *o = ob + (i0 + i) * HD;
        for (int64_t d = 0; d < D; d++) o[d] *= inv;
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
