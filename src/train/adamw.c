/* AdamW, gradient clipping and the learning-rate schedule (include/pare/grad.h). */
#include "pare/grad.h"

#include <math.h>
#include <stdlib.h>

pare_adamw_opts pare_adamw_defaults(void) {
    return (pare_adamw_opts){.lr = 5e-5, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
}

pare_adamw_consts pare_adamw_consts_at(const pare_adamw_opts *o, int64_t step, double lr) {
    return (pare_adamw_consts){.keep = (float)(1 - lr * o->weight_decay),
                               .step_size = (float)(lr / (1 - pow(o->beta1, (double)step))),
                               .inv_c2s = (float)(1 / sqrt(1 - pow(o->beta2, (double)step)))};
}

void pare_adamw_step(float *p, const float *g, float *m, float *v, int64_t n, const pare_adamw_opts *o, int64_t step,
                     double lr, bool decay, float gscale) {
    /* torch.optim.AdamW (single-tensor): p *= 1 - lr wd; m = lerp(m, g, 1 - b1);
     * v = b2 v + (1 - b2) g^2; p -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps) */
    const float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
    const pare_adamw_consts k = pare_adamw_consts_at(o, step, lr);
    const float keep = decay ? k.keep : 1.0f, step_size = k.step_size, inv_c2s = k.inv_c2s;
    for (int64_t i = 0; i < n; i++) {
        const float gi = g[i] * gscale;
        const float mi = m[i] + (1 - b1) * (gi - m[i]);
        const float vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * keep - step_size * (mi / (sqrtf(vi) * inv_c2s + eps));
    }
}

double pare_clip_grad_norm(float *const *grads, const int64_t *ns, int n_tensors, double max_norm) {
    double ss = 0;
    for (int t = 0; t < n_tensors; t++)
        for (int64_t i = 0; i < ns[t]; i++) ss += (double)grads[t][i] * grads[t][i];
    const double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        const float s = (float)(max_norm / (norm + 1e-6)); /* torch's clip_grad_norm_ */
        for (int t = 0; t < n_tensors; t++)
            for (int64_t i = 0; i < ns[t]; i++) grads[t][i] *= s;
    }
    return norm;
}

#define CLIP_CHUNK 65536

typedef struct {
    const float *g;
    int64_t n;
    double *part; /* [chunks] */
} clip_job;

/* The squares of g[lo, hi) in 8 interleaved partial sums (a fixed order),
 * so the adds do not wait on one another. */
static double chunk_ss(const float *g, int64_t lo, int64_t hi) {
    double ss[8] = {0};
    int64_t i = lo;
    for (; i + 8 <= hi; i += 8)
        for (int k = 0; k < 8; k++) ss[k] += (double)g[i + k] * g[i + k];
    for (; i < hi; i++) ss[0] += (double)g[i] * g[i];
    return ((ss[0] + ss[1]) + (ss[2] + ss[3])) + ((ss[4] + ss[5]) + (ss[6] + ss[7]));
}

static void clip_worker(void *ctx, int ith, int nth) {
    clip_job *j = ctx;
    const int64_t chunks = (j->n + CLIP_CHUNK - 1) / CLIP_CHUNK;
    int64_t c0, c1;
    pare_split_range(chunks, ith, nth, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
        const int64_t lo = c * CLIP_CHUNK, hi = lo + CLIP_CHUNK < j->n ? lo + CLIP_CHUNK : j->n;
        j->part[c] = chunk_ss(j->g, lo, hi);
    }
}

float pare_clip_factor(double norm, double max_norm) {
    return max_norm > 0 && norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
}

double pare_grad_norm_pool(const float *g, int64_t n, pare_pool *pool) {
    const int64_t chunks = (n + CLIP_CHUNK - 1) / CLIP_CHUNK;
    double *part = malloc(sizeof(double) * (size_t)(chunks > 0 ? chunks : 1));
    if (!part) { /* no memory: one thread, the same chunks */
        double ss = 0;
        for (int64_t lo = 0; lo < n; lo += CLIP_CHUNK) ss += chunk_ss(g, lo, lo + CLIP_CHUNK < n ? lo + CLIP_CHUNK : n);
        return sqrt(ss);
    }
    clip_job j = {.g = g, .n = n, .part = part};
    pare_pool_run(pool, clip_worker, &j);
    double ss = 0;
    for (int64_t c = 0; c < chunks; c++) ss += part[c];
    free(part);
    return sqrt(ss);
}

double pare_lr_linear(double lr, int64_t step, int64_t warmup, int64_t total) {
    if (step < warmup) return lr * (double)step / (double)(warmup > 0 ? warmup : 1);
    if (total <= warmup) return lr;
    const double left = (double)(total - step) / (double)(total - warmup);
    return lr * (left > 0 ? left : 0);
}
