/* KL divergence of a model's next-token distribution from a baseline's. */
#include "pare/generate.h"

#include <math.h>

static void log_norm(const float *l, int64_t n, float *max, double *lse, int64_t *arg) {
    int64_t a = 0;
    for (int64_t i = 1; i < n; i++)
        if (l[i] > l[a]) a = i;
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += exp((double)l[i] - l[a]);
    *max = l[a];
    *lse = log(s);
    *arg = a;
}

void pare_kld_add(pare_kld_stats *s, const float *base_logits, const float *logits, int64_t vocab) {
    float mp, mq;
    double lp, lq;
    int64_t ap, aq;
    log_norm(base_logits, vocab, &mp, &lp, &ap);
    log_norm(logits, vocab, &mq, &lq, &aq);
    double kl = 0;
    for (int64_t i = 0; i < vocab; i++) {
        double logp = (double)base_logits[i] - mp - lp, logq = (double)logits[i] - mq - lq;
        kl += exp(logp) * (logp - logq);
    }
    if (kl < 0) kl = 0; /* rounding */
    s->kl_sum += kl;
    s->kl2_sum += kl * kl;
    if (kl > s->kl_max) s->kl_max = kl;
    s->same_top1 += ap == aq;
    s->count++;
}
