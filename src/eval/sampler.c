/* Token sampler: greedy, or penalty -> temperature -> top-k -> top-p -> draw. */
#include "pare/generate.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct cand {
    double l; /* logit / temperature: in double, finite for any finite logit and temperature */
    int32_t id;
} cand;

struct pare_sampler {
    pare_sampler_opts o;
    int64_t vocab;
    uint64_t rng[4];  /* xoshiro256** state */
    struct cand *cand;/* candidates, sorted by scaled logit */
    double *prob;     /* their unnormalised probabilities */
    uint8_t *seen;    /* repetition-penalty marks, one per vocab entry */
};

void pare_sampler_opts_default(pare_sampler_opts *o) {
    memset(o, 0, sizeof *o);
    o->top_p = 1.0f;
    o->repeat_penalty = 1.0f;
    o->repeat_last_n = 64;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4]) {
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

pare_status pare_sampler_create(const pare_sampler_opts *o, int64_t vocab, pare_sampler **out,
                                pare_err *err) {
    *out = NULL;
    if (vocab <= 0 || vocab > INT32_MAX) return pare_err_set(err, PARE_ERR_INVALID, "sampler: vocabulary size %lld", (long long)vocab);
    if (!(o->temperature >= 0) || !(o->top_p > 0 && o->top_p <= 1) || o->top_k < 0 ||
        !(o->repeat_penalty > 0))
        return pare_err_set(err, PARE_ERR_INVALID,
                            "sampler: need temperature >= 0, 0 < top_p <= 1, top_k >= 0, "
                            "repeat_penalty > 0 (got %g, %g, %d, %g)",
                            o->temperature, o->top_p, o->top_k, o->repeat_penalty);
    pare_sampler *s = calloc(1, sizeof *s);
    if (!s) return pare_err_set(err, PARE_ERR_OOM, "sampler: out of memory");
    s->o = *o;
    s->vocab = vocab;
    uint64_t x = o->seed;
    for (int i = 0; i < 4; i++) s->rng[i] = pare_splitmix64(&x);
    s->cand = malloc((size_t)vocab * sizeof *s->cand);
    s->prob = malloc((size_t)vocab * sizeof *s->prob);
    s->seen = calloc((size_t)vocab, 1);
    if (!s->cand || !s->prob || !s->seen) {
        pare_sampler_free(s);
        return pare_err_set(err, PARE_ERR_OOM, "sampler: out of memory for %lld tokens", (long long)vocab);
    }
    *out = s;
    return PARE_OK;
}

void pare_sampler_free(pare_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->prob);
    free(s->seen);
    free(s);
}

static int32_t argmax(const float *x, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return (int32_t)best;
}

static void apply_penalty(pare_sampler *s, float *logits, const int32_t *hist, int64_t n) {
    float p = s->o.repeat_penalty;
    if (p == 1.0f || n <= 0) return;
    int64_t from = s->o.repeat_last_n < 0 || s->o.repeat_last_n > n ? 0 : n - s->o.repeat_last_n;
    for (int64_t i = from; i < n; i++) {
        int32_t t = hist[i];
        if (t < 0 || t >= s->vocab || s->seen[t]) continue;
        s->seen[t] = 1; /* each distinct token once, as HF's gather/scatter does */
        const float v = logits[t] > 0 ? logits[t] / p : logits[t] * p;
        logits[t] = isfinite(v) ? v : copysignf(FLT_MAX, v); /* a tiny or huge penalty stays finite */
    }
    for (int64_t i = from; i < n; i++)
        if (hist[i] >= 0 && hist[i] < s->vocab) s->seen[hist[i]] = 0;
}

static int cand_desc(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->l != y->l) return x->l < y->l ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id;
}

int32_t pare_sampler_sample(pare_sampler *s, float *logits, const int32_t *history,
                            int64_t n_history) {
    /* A NaN or +inf logit, or no finite one, leaves nothing to draw from: an
     * error for the caller, not a token. */
    bool finite = false;
    for (int64_t i = 0; i < s->vocab; i++) {
        if (isnan(logits[i]) || logits[i] == INFINITY) return PARE_SAMPLER_BAD_LOGITS;
        finite |= logits[i] != -INFINITY;
    }
    if (!finite) return PARE_SAMPLER_BAD_LOGITS;
    apply_penalty(s, logits, history, n_history);
    if (s->o.temperature == 0.0f) return argmax(logits, s->vocab);

    const double inv_t = 1.0 / (double)s->o.temperature;
    if (!isfinite(inv_t)) return argmax(logits, s->vocab); /* a temperature too small to divide by is greedy */
    /* Candidates sorted by scaled logit, descending (ties by id). Tokens more
     * than 40 nats below the best carry a relative probability under 5e-18,
     * below float resolution of the sum, so they are left out of the sort. */
    const double top = (double)logits[argmax(logits, s->vocab)] * inv_t;
    cand *c = s->cand;
    int64_t n = 0;
    for (int64_t i = 0; i < s->vocab; i++) {
        const double l = (double)logits[i] * inv_t;
        if (l >= top - 40.0) c[n++] = (cand){l, (int32_t)i};
    }
    qsort(c, (size_t)n, sizeof *c, cand_desc);
    if (s->o.top_k > 0 && s->o.top_k < n) n = s->o.top_k;

    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += s->prob[i] = exp(c[i].l - c[0].l);
    if (s->o.top_p < 1.0f) {
        /* Smallest prefix whose mass reaches top_p (at least one token). */
        double acc = 0;
        int64_t keep = n;
        for (int64_t i = 0; i < n; i++) {
            acc += s->prob[i] / sum;
            if (acc >= s->o.top_p) {
                keep = i + 1;
                break;
            }
        }
        sum = 0;
        for (int64_t i = 0; i < keep; i++) sum += s->prob[i];
        n = keep;
    }
    double r = next_unit(s->rng) * sum, acc = 0;
    int32_t pick = c[n - 1].id;
    for (int64_t i = 0; i < n; i++) {
        acc += s->prob[i];
        if (r < acc) {
            pick = c[i].id;
            break;
        }
    }
    return pick;
}
