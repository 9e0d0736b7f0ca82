/* AdamW, gradient clipping and the learning-rate schedule (include/pare/grad.h). */
#include "pare/grad.h"

#include <math.h>

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

double pare_lr_linear(double lr, int64_t step, int64_t warmup, int64_t total) {
    if (step < warmup) return lr * (double)step / (double)(warmup > 0 ? warmup : 1);
    if (total <= warmup) return lr;
    const double left = (double)(total - step) / (double)(total - warmup);
    return lr * (left > 0 ? left : 0);
}
