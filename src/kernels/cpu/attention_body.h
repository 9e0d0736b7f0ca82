/* Multi-head attention written once with GCC vector extensions and compiled
 * per ISA. The including file defines AB_VL (floats per vector) and AB_SFX.
 *
 * Work item = (batch, head, block of QB = 2*VL queries), split over the
 * pool. Per item, keys are visited in blocks of KB, flash-attention style:
 *   S^T[j][i] = scale * k_j . q_i     (queries along vector lanes: q block
 *                                       transposed once per key block)
 *   running max m_i, running sum l_i, out_i rescaled by exp(m_old - m_new)
 *   out_i += sum_j p_ij v_j          (head dims along vector lanes)
 * out rows live in the caller's output buffer, so scratch is a fixed
 * ~24 KB of stack whatever T and D are: no malloc in the hot path.
 * Masked keys score -inf; a row whose keys are all masked outputs 0. */
#include "kernels/cpu/kern_internal.h"
#include "kernels/cpu/vmath.h"

#include <math.h>

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

/* o[0..D) = o * alpha + sum_j p[j] v_j, p[j] = st[j][col]. */
static void ab_pv(float *o, float alpha, float st[AB_KB][AB_QB], int col, const float *vr,
                  int64_t ld, int64_t kn, int64_t D) {
    int64_t d = 0;
    for (; d + 4 * AB_VL <= D; d += 4 * AB_VL) {
        ab_uvec *op = (ab_uvec *)(o + d);
        ab_vec o0 = op[0] * alpha, o1 = op[1] * alpha, o2 = op[2] * alpha, o3 = op[3] * alpha;
        for (int64_t j = 0; j < kn; j++) {
            float p = st[j][col];
            const ab_uvec *vp = (const ab_uvec *)(vr + j * ld + d);
            o0 += p * vp[0];
            o1 += p * vp[1];
            o2 += p * vp[2];
            o3 += p * vp[3];
        }
        op[0] = o0;
        op[1] = o1;
        op[2] = o2;
        op[3] = o3;
    }
    for (; d + AB_VL <= D; d += AB_VL) {
        ab_uvec *op = (ab_uvec *)(o + d);
        ab_vec o0 = op[0] * alpha;
        for (int64_t j = 0; j < kn; j++) o0 += st[j][col] * *(const ab_uvec *)(vr + j * ld + d);
        op[0] = o0;
    }
    for (; d < D; d++) {
        float s = o[d] * alpha;
        for (int64_t j = 0; j < kn; j++) s += st[j][col] * vr[j * ld + d];
        o[d] = s;
    }
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
    float mrun[AB_QB], lrun[AB_QB], mref[AB_QB], alpha[AB_QB];
    for (int i = 0; i < AB_QB; i++) {
        mrun[i] = -INFINITY;
        lrun[i] = 0.0f;
    }
    for (int64_t i = 0; i < qn; i++)
        for (int64_t d = 0; d < D; d++) ob[(i0 + i) * HD + d] = 0.0f;
    int64_t kend = a->causal && i0 + qn < T ? i0 + qn : T;
    for (int64_t j0 = 0; j0 < kend; j0 += AB_KB) {
        int64_t kn = kend - j0 < AB_KB ? kend - j0 : AB_KB;
        for (int64_t d0 = 0; d0 < D; d0 += AB_DC) {
            int64_t dn = D - d0 < AB_DC ? D - d0 : AB_DC;
            for (int64_t d = 0; d < dn; d++)
                for (int i = 0; i < AB_QB; i++)
                    qt[d][i] = i < qn ? qb[(i0 + i) * ld + d0 + d] * a->scale : 0.0f;
            ab_scores(st, qt, kb + j0 * ld + d0, ld, kn, dn, d0 > 0);
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
        float mnew[AB_QB];
        for (int i = 0; i < AB_QB; i++) mnew[i] = mrun[i];
        for (int64_t j = 0; j < kn; j++)
            for (int i = 0; i < AB_QB; i++) mnew[i] = st[j][i] > mnew[i] ? st[j][i] : mnew[i];
        float lsum[AB_QB];
        for (int i = 0; i < AB_QB; i++) {
            mref[i] = mnew[i] == -INFINITY ? 0.0f : mnew[i];
            alpha[i] = vm_exp(mrun[i] - mref[i]);
            mrun[i] = mnew[i];
            lsum[i] = 0.0f;
        }
        for (int64_t j = 0; j < kn; j++)
            for (int i = 0; i < AB_QB; i++) {
                float p = vm_exp(st[j][i] - mref[i]);
                st[j][i] = p;
                lsum[i] += p;
            }
        for (int i = 0; i < AB_QB; i++) lrun[i] = lrun[i] * alpha[i] + lsum[i];
        for (int64_t i = 0; i < qn; i++)
            ab_pv(ob + (i0 + i) * HD, alpha[i], st, (int)i, vb + j0 * ld, ld, kn, D);
    }
    for (int64_t i = 0; i < qn; i++) {
        float inv = lrun[i] > 0.0f ? 1.0f / lrun[i] : 0.0f;
        float *o = ob + (i0 + i) * HD;
        for (int64_t d = 0; d < D; d++) o[d] *= inv;
    }
}

static void ab_worker(void *ctx, int ith, int nth) {
    const ab_job *jb = ctx;
    const pare_attn_args *a = jb->a;
    int64_t lo, hi;
    pare_split_range(a->B * a->H * jb->n_qblocks, ith, nth, &lo, &hi);
    for (int64_t w = lo; w < hi; w++) {
        int64_t qblk = w % jb->n_qblocks, bh = w / jb->n_qblocks;
        ab_item(a, bh / a->H, bh % a->H, qblk * AB_QB);
    }
}

void AB_NAME(pare_attention_)(const pare_attn_args *a, pare_pool *pool) {
    ab_job jb = {a, (a->T + AB_QB - 1) / AB_QB};
    if (a->B <= 0 || a->T <= 0 || a->H <= 0 || a->D <= 0) return;
    pare_pool_run(pool, ab_worker, &jb);
}
