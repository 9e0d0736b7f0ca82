/* Perplexity over a token stream, with llama.cpp's windowing (see generate.h). */
#include "pare/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double pare_log_softmax_at(const float *logits, int64_t vocab, int32_t tok) {
    float max = logits[0];
    for (int64_t i = 1; i < vocab; i++)
        if (logits[i] > max) max = logits[i];
    double sum = 0;
    for (int64_t i = 0; i < vocab; i++) sum += exp((double)logits[i] - max);
    return (double)logits[tok] - max - log(sum);
}

static void finish(pare_ppl_result *r) {
    if (r->scored == 0) return;
    double mean = r->nll_sum / (double)r->scored;
    r->ppl = exp(mean);
    double var = r->nll2_sum / (double)r->scored - mean * mean;
    r->ppl_err = var > 0 && r->scored > 1 ? r->ppl * sqrt(var / (double)(r->scored - 1)) : 0;
}

pare_status pare_perplexity(const int32_t *tokens, int64_t n_tokens, int64_t vocab,
                            const pare_ppl_opts *o, pare_logits_fn fn, void *fn_ctx,
                            pare_ppl_progress_fn progress, void *progress_ctx,
                            pare_ppl_result *out, pare_err *err) {
    memset(out, 0, sizeof *out);
    int64_t ctx = o->ctx, stride = o->stride;
    if (ctx < 2 || stride < 0 || stride >= ctx || vocab <= 0)
        return pare_err_set(err, PARE_ERR_INVALID,
                            "perplexity: need ctx >= 2 and 0 <= stride < ctx (got ctx %lld, stride %lld)",
                            (long long)ctx, (long long)stride);
    int64_t n_windows;
    if (stride == 0) {
        if (n_tokens < 2 * ctx)
            return pare_err_set(err, PARE_ERR_INVALID,
                                "perplexity: the text has %lld tokens; a context of %lld needs at least %lld",
                                (long long)n_tokens, (long long)ctx, (long long)(2 * ctx));
        n_windows = n_tokens / ctx;
    } else {
        if (n_tokens <= ctx)
            return pare_err_set(err, PARE_ERR_INVALID,
                                "perplexity: the text has %lld tokens; a context of %lld needs more",
                                (long long)n_tokens, (long long)ctx);
        n_windows = (n_tokens - ctx + stride - 1) / stride;
    }
    if (o->max_windows > 0 && o->max_windows < n_windows) n_windows = o->max_windows;
    for (int64_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return pare_err_set(err, PARE_ERR_INVALID, "perplexity: token %lld is id %d, outside the vocabulary of %lld",
                                (long long)i, tokens[i], (long long)vocab);

    size_t nlog;
    if (!pare_mul_size((size_t)ctx, (size_t)vocab, &nlog) || !pare_mul_size(nlog, sizeof(float), &nlog))
        return pare_err_set(err, PARE_ERR_INVALID, "perplexity: ctx x vocab overflows");
    float *logits = malloc(nlog);
    int32_t *win = malloc((size_t)ctx * sizeof *win);
    if (!logits || !win) {
        free(logits);
        free(win);
        return pare_err_set(err, PARE_ERR_OOM, "perplexity: out of memory for %lld x %lld logits",
                            (long long)ctx, (long long)vocab);
    }
    /* Scored positions j predict token j+1 of the window. */
    int64_t first = stride == 0 ? ctx / 2 : ctx - stride - 1;
    pare_status st = PARE_OK;
    for (int64_t w = 0; w < n_windows; w++) {
        int64_t start = w * (stride == 0 ? ctx : stride);
        memcpy(win, tokens + start, (size_t)ctx * sizeof *win);
        if (o->add_bos) win[0] = o->bos;
        st = fn(fn_ctx, win, ctx, logits, err);
        if (st) break;
        for (int64_t j = first; j < ctx - 1; j++) {
            double nll = -pare_log_softmax_at(logits + j * vocab, vocab, tokens[start + j + 1]);
            if (!isfinite(nll)) {
                st = pare_err_set(err, PARE_ERR_NUMERIC, "perplexity: the logits of window %lld, position %lld are NaN or "
                                  "infinite (a broken or badly quantized model?)", (long long)w, (long long)j);
                break;
            }
            out->nll_sum += nll;
            out->nll2_sum += nll * nll;
            out->scored++;
        }
        if (st) break;
        out->windows++;
        finish(out);
        if (progress) progress(progress_ctx, w + 1, n_windows, out);
    }
    free(logits);
    free(win);
    return st;
}
