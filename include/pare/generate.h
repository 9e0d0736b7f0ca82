/* Token sampling for generation, and perplexity over a token stream.
 *
 * Both are independent of the model: the sampler works on a logits row,
 * perplexity asks a callback for the logits of a window of tokens. The
 * model-specific glue (Llama forward, KV cache) lives with the model.
 */
#ifndef PARE_GENERATE_H
#define PARE_GENERATE_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ----------------------------------------------------------------- sampler */

/* Defaults: greedy (temperature 0), no top-k/top-p, no penalty, seed 0.
 * With temperature > 0 the steps run in Hugging Face's order: repetition
 * penalty, temperature, top-k, top-p, then a draw. */
typedef struct pare_sampler_opts {
    float temperature;    /* 0: greedy (argmax, lowest id on ties) */
    int32_t top_k;        /* 0: off */
    float top_p;          /* 1: off; keep the smallest set with mass >= top_p */
    float repeat_penalty; /* 1: off; HF/CTRL rule: logit>0 ? l/p : l*p */
    int32_t repeat_last_n;/* window of history the penalty looks at; -1: all */
    uint64_t seed;
} pare_sampler_opts;

void pare_sampler_opts_default(pare_sampler_opts *o);

typedef struct pare_sampler pare_sampler;

pare_status pare_sampler_create(const pare_sampler_opts *o, int64_t vocab, pare_sampler **out,
                                pare_err *err);
void pare_sampler_free(pare_sampler *s);
/* Pick the next token from logits[vocab] (modified in place) given the
 * tokens so far (prompt and generated; used by the repetition penalty).
 * Returns PARE_SAMPLER_BAD_LOGITS (negative) when a logit is NaN or +inf
 * or none is finite. */
#define PARE_SAMPLER_BAD_LOGITS (-1)
int32_t pare_sampler_sample(pare_sampler *s, float *logits, const int32_t *history,
                            int64_t n_history);

/* -------------------------------------------------------------- perplexity */

/* Logits for n tokens at positions 0..n-1 of a fresh context:
 * out[i * vocab + v] is the score of token v following tokens[0..i]. */
typedef pare_status (*pare_logits_fn)(void *ctx, const int32_t *tokens, int64_t n, float *out,
                                      pare_err *err);

/* llama.cpp's perplexity tool, both modes:
 *   stride == 0: non-overlapping windows of ctx tokens; in each, the tokens
 *                after position ctx/2 are scored (the first half is
 *                context only).
 *   stride > 0:  windows of ctx tokens starting every stride tokens; the
 *                last stride tokens of each window are scored.
 * With add_bos, the first token of each window is replaced by bos (llama.cpp
 * does so for models whose vocabulary adds a BOS token). */
typedef struct pare_ppl_opts {
    int64_t ctx;
    int64_t stride;
    int64_t max_windows; /* 0: all */
    bool add_bos;
    int32_t bos;
} pare_ppl_opts;

typedef struct pare_ppl_result {
    double ppl;        /* exp(mean negative log-likelihood) */
    double ppl_err;    /* llama.cpp's +/- estimate: ppl * sd(nll) / sqrt(n-1) */
    double nll_sum;
    double nll2_sum;
    int64_t scored;    /* tokens scored */
    int64_t windows;   /* windows evaluated */
} pare_ppl_result;

/* Called after each window with the running result (may be NULL). */
typedef void (*pare_ppl_progress_fn)(void *ctx, int64_t window, int64_t n_windows,
                                     const pare_ppl_result *so_far);

pare_status pare_perplexity(const int32_t *tokens, int64_t n_tokens, int64_t vocab,
                            const pare_ppl_opts *o, pare_logits_fn fn, void *fn_ctx,
                            pare_ppl_progress_fn progress, void *progress_ctx,
                            pare_ppl_result *out, pare_err *err);

/* Fidelity of a compressed model's next-token distribution q to the
 * baseline's p, per position (llama.cpp's --kl-divergence mode):
 * KL(p || q) = sum p log(p/q), and whether both argmaxes agree. */
typedef struct pare_kld_stats {
    double kl_sum, kl2_sum, kl_max;
    int64_t same_top1, count;
} pare_kld_stats;

void pare_kld_add(pare_kld_stats *s, const float *base_logits, const float *logits, int64_t vocab);

/* log softmax(logits)[tok] in double precision, as llama.cpp computes it. */
double pare_log_softmax_at(const float *logits, int64_t vocab, int32_t tok);

#ifdef __cplusplus
}
#endif

#endif
