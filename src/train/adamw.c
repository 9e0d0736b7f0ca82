/* AdamW, gradient clipping and the learning-rate schedule (include/pare/grad.h). */
#include "pare/grad.h"

#include <math.h>
#include <stdlib.h>

pare_adamw_opts pare_adamw_defaults(void) {
    return (pare_adamw_opts){.lr = 5e-5, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
}

void pare_adamw_step(float *p, const float *g, float *m, float *v, int64_t n, const pare_adamw_opts *o, int64_t step,
                     double lr, bool decay) {
    const double b1 = o->beta1, b2 = o->beta2;
    const double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
    for (int64_t i = 0; i < n; i++) {
        m[i] = (float)(b1 * m[i] + (1 - b1) * g[i]);
        v[i] = (float)(b2 * v[i] + (1 - b2) * (double)g[i] * g[i]);
        const double mh = m[i] / c1, vh = v[i] / c2;
        /* decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW */
        p[i] = (float)(p[i] - lr * (mh / (sqrt(vh) + o->eps) + (decay ? o->weight_decay * p[i] : 0.0)));
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
    float *g;
    int64_t n;
    double *part; /* [chunks] */
    float scale;  /* 0: sum the squares, else scale */
} clip_job;

static void clip_worker(void *ctx, int ith, int nth) {
    clip_job *j = ctx;
    const int64_t chunks = (j->n + CLIP_CHUNK - 1) / CLIP_CHUNK;
    int64_t c0, c1;
    pare_split_range(chunks, ith, nth, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
        const int64_t lo = c * CLIP_CHUNK, hi = lo + CLIP_CHUNK < j->n ? lo + CLIP_CHUNK : j->n;
        if (j->scale != 0.0f) {
            for (int64_t i = lo; i < hi; i++) j->g[i] *= j->scale;
            continue;
        }
        double ss = 0;
        for (int64_t i = lo; i < hi; i++) ss += (double)j->g[i] * j->g[i];
        j->part[c] = ss;
    }
}

double pare_clip_grad_norm_pool(float *g, int64_t n, double max_norm, pare_pool *pool) {
    const int64_t chunks = (n + CLIP_CHUNK - 1) / CLIP_CHUNK;
    double *part = malloc(sizeof(double) * (size_t)(chunks > 0 ? chunks : 1));
    if (!part) return pare_clip_grad_norm(&g, &n, 1, max_norm); /* no memory: one thread */
    clip_job j = {.g = g, .n = n, .part = part};
    pare_pool_run(pool, clip_worker, &j);
    double ss = 0;
    for (int64_t c = 0; c < chunks; c++) ss += part[c];
    free(part);
    const double norm = sqrt(ss);
    if (max_norm > 0 && norm > max_norm) {
        j.scale = (float)(max_norm / (norm + 1e-6));
        pare_pool_run(pool, clip_worker, &j);
    }
    return norm;
}

double pare_lr_linear(double lr, int64_t step, int64_t warmup, int64_t total) {
    if (step < warmup) return lr * (double)step / (double)(warmup > 0 ? warmup : 1);
    if (total <= warmup) return lr;
    const double left = (double)(total - step) / (double)(total - warmup);
    return lr * (left > 0 ? left : 0);
}
