/* Logistic-regression head on frozen features: mini-batch AdamW on
 * standardised inputs, BCE-with-logits (multi-label) or softmax cross-
 * entropy (single-label). Small (d x L parameters), so plain loops. */
#include "pare/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void logits_row(const float *x, int64_t d, int64_t L, const float *W, const float *b, double *z) {
    for (int64_t l = 0; l < L; l++) {
        double s = b[l];
        const float *w = W + l * d;
        for (int64_t i = 0; i < d; i++) s += (double)w[i] * x[i];
        z[l] = s;
    }
}

/* probabilities of one row in place; returns the loss against y (if y) */
static double activate(double *z, int64_t L, bool multi, const uint8_t *y) {
    double loss = 0;
    if (multi) {
        for (int64_t l = 0; l < L; l++) {
            double t = y ? y[l] : 0, v = z[l];
            if (y) loss += fmax(v, 0) - v * t + log1p(exp(-fabs(v)));
            z[l] = 1.0 / (1.0 + exp(-v));
        }
        return loss / (double)L;
    }
    double mx = z[0], sum = 0;
    for (int64_t l = 1; l < L; l++) mx = fmax(mx, z[l]);
    for (int64_t l = 0; l < L; l++) sum += exp(z[l] - mx);
    for (int64_t l = 0; l < L; l++) {
        double lp = z[l] - mx - log(sum);
        if (y && y[l]) loss -= lp;
        z[l] = exp(lp);
    }
    return loss;
}

pare_status pare_train_linear_head(const float *X, const uint8_t *Y, int64_t n, int64_t d,
                                   int64_t L, const pare_head_opts *o, float *W, float *b,
                                   double *loss_out, pare_err *err) {
    if (n <= 0 || d <= 0 || L <= 0 || !X || !Y || !W || !b)
        return pare_err_set(err, PARE_ERR_INVALID, "pare_train_linear_head: bad arguments (n %lld d %lld L %lld)",
                            (long long)n, (long long)d, (long long)L);
    const int64_t epochs = o->epochs > 0 ? o->epochs : 40, B = o->batch > 0 ? o->batch : 64;
    const double lr = o->lr > 0 ? o->lr : 3e-3, wd = o->weight_decay == 0 ? 1e-4 : fmax(o->weight_decay, 0);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const int64_t P = L * d + L;
    double *mu = calloc((size_t)d, sizeof *mu), *sd = calloc((size_t)d, sizeof *sd);
    double *p = calloc((size_t)P, sizeof *p), *g = calloc((size_t)P, sizeof *g);
    double *m1 = calloc((size_t)P, sizeof *m1), *m2 = calloc((size_t)P, sizeof *m2);
    double *z = calloc((size_t)L, sizeof *z);
    float *xs = malloc((size_t)d * sizeof *xs);
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    pare_status s = PARE_OK;
    if (!mu || !sd || !p || !g || !m1 || !m2 || !z || !xs || !perm) {
        s = pare_err_set(err, PARE_ERR_OOM, "pare_train_linear_head: out of memory");
        goto done;
    }
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < d; i++) mu[i] += X[r * d + i];
    for (int64_t i = 0; i < d; i++) mu[i] /= (double)n;
    for (int64_t r = 0; r < n; r++)
        for (int64_t i = 0; i < d; i++) sd[i] += (X[r * d + i] - mu[i]) * (X[r * d + i] - mu[i]);
    for (int64_t i = 0; i < d; i++) sd[i] = sqrt(sd[i] / (double)n) + 1e-6;
    for (int64_t r = 0; r < n; r++) perm[r] = r;
    uint64_t rng = o->seed ^ 0x5eedull;
    double epoch_loss = 0;
    int64_t step = 0;
    for (int64_t e = 0; e < epochs; e++) {
        for (int64_t i = n - 1; i > 0; i--) {
            int64_t j = (int64_t)(pare_splitmix64(&rng) % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        epoch_loss = 0;
        for (int64_t s0 = 0; s0 < n; s0 += B) {
            int64_t nb = n - s0 < B ? n - s0 : B;
            memset(g, 0, (size_t)P * sizeof *g);
            for (int64_t k = 0; k < nb; k++) {
                int64_t r = perm[s0 + k];
                for (int64_t i = 0; i < d; i++) xs[i] = (float)((X[r * d + i] - mu[i]) / sd[i]);
                for (int64_t l = 0; l < L; l++) {
                    double acc = p[L * d + l];
                    for (int64_t i = 0; i < d; i++) acc += p[l * d + i] * xs[i];
                    z[l] = acc;
                }
                epoch_loss += activate(z, L, o->multi_label, Y + r * L);
                for (int64_t l = 0; l < L; l++) {
                    double dz = (z[l] - Y[r * L + l]) / (double)nb / (o->multi_label ? (double)L : 1.0);
                    for (int64_t i = 0; i < d; i++) g[l * d + i] += dz * xs[i];
                    g[L * d + l] += dz;
                }
            }
            step++;
            const double c1 = 1 - pow(b1, (double)step), c2 = 1 - pow(b2, (double)step);
            for (int64_t q = 0; q < P; q++) {
                m1[q] = b1 * m1[q] + (1 - b1) * g[q];
                m2[q] = b2 * m2[q] + (1 - b2) * g[q] * g[q];
                if (q < L * d) p[q] -= lr * wd * p[q]; /* decoupled decay, not on biases */
                p[q] -= lr * (m1[q] / c1) / (sqrt(m2[q] / c2) + eps);
            }
        }
        epoch_loss /= (double)n;
    }
    /* fold the standardisation: w' = w / sd, b' = b - sum(w * mu / sd) */
    for (int64_t l = 0; l < L; l++) {
        double bb = p[L * d + l];
        for (int64_t i = 0; i < d; i++) {
            W[l * d + i] = (float)(p[l * d + i] / sd[i]);
            bb -= p[l * d + i] * mu[i] / sd[i];
        }
        b[l] = (float)bb;
    }
    if (loss_out) *loss_out = epoch_loss;
done:
    free(mu), free(sd), free(p), free(g), free(m1), free(m2), free(z), free(xs), free(perm);
    return s;
}

void pare_linear_head_predict(const float *X, int64_t n, int64_t d, int64_t L, const float *W,
                              const float *b, bool multi_label, float threshold, float *probs,
                              uint8_t *pred) {
    double z[256];
    for (int64_t r = 0; r < n; r++) {
        const int64_t LL = L > 256 ? 256 : L; /* callers have at most PARE_DATASET_MAX_LABELS */
        logits_row(X + r * d, d, LL, W, b, z);
        activate(z, LL, multi_label, NULL);
        int64_t best = 0;
        for (int64_t l = 0; l < LL; l++) {
            if (probs) probs[r * L + l] = (float)z[l];
            if (z[l] > z[best]) best = l;
        }
        if (pred)
            for (int64_t l = 0; l < LL; l++)
                pred[r * L + l] = (uint8_t)(multi_label ? z[l] >= threshold : l == best);
    }
}
