/* pare experiment report / status: read the results database and write
 * report.md, report.html (self-contained: inline CSS and SVG, no network),
 * results.csv and results.json. Speed-up, compression and accuracy deltas
 * are against the baseline pipeline of the same model; agreement is the
 * fraction of test examples whose predicted label set equals the
 * baseline's. */
#include "experiment/exp_internal.h"
#include "pare/dataset.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct rlat {
    int64_t batch, seq, reps, warmup;
    double p50, p90, p99, mean, std, thr;
    double others_cpu; /* -1 unknown */
} rlat;

typedef struct rcell {
    int64_t id;
    char model[PARE_EXP_NAME], pipeline[PARE_EXP_NAME], status[16];
    char *error, *steps, *git_rev, *machine, *cpu, *finished;
    int64_t threads, disk, weights, rss, n_params;
    double wall_s, train_s, sparsity;
    bool has_train;
    double em, micro, macro, jac;
    double ppl, kld, top1; /* task lm */
    int64_t n_test;
    rlat lat[PARE_EXP_MAX_BATCHES];
    int n_lat;
    uint8_t *pred;
    int64_t pred_n, pred_L;
    /* against the baseline */
    int base;          /* index of the baseline cell of this model, -1 none */
    double agreement;  /* NAN if unknown */
} rcell;

typedef struct rdrift {
    char model[PARE_EXP_NAME];
    double first, end; /* p50 ms of the baseline's first latency row: when it ran, after the other cells */
} rdrift;

typedef struct rdata {
    char name[PARE_EXP_NAME], baseline[PARE_EXP_NAME], created[32], updated[32];
    rdrift drift[PARE_EXP_MAX_MODELS];
    int n_drift;
    bool lm; /* task lm: perplexity, KLD, top-1, decode speed */
    rcell *c;
    int n;
} rdata;

static char *dup_col(sqlite3_stmt *st, int i) { return strdup(exp_db_text(st, i)); }

static void free_data(rdata *d) {
    for (int i = 0; i < d->n; i++) {
        rcell *c = &d->c[i];
        free(c->error), free(c->steps), free(c->git_rev), free(c->machine), free(c->cpu), free(c->finished), free(c->pred);
    }
    free(d->c);
}

static pare_status load(sqlite3 *db, const char *experiment, rdata *d, pare_err *err) {
    sqlite3_stmt *st;
    pare_status s = exp_db_prepare(db, experiment ? "SELECT name, config, created_at, updated_at FROM experiments WHERE name=?1"
                                                  : "SELECT name, config, created_at, updated_at FROM experiments ORDER BY updated_at DESC LIMIT 1",
                                   &st, err);
    if (s) return s;
    if (experiment) sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return pare_err_set(err, PARE_ERR_INVALID, "%s: no experiment %s%s%s in the database", sqlite3_db_filename(db, "main"),
                            experiment ? "'" : "", experiment ? experiment : "", experiment ? "'" : "");
    }
    snprintf(d->name, sizeof d->name, "%s", exp_db_text(st, 0));
    snprintf(d->created, sizeof d->created, "%s", exp_db_text(st, 2));
    snprintf(d->updated, sizeof d->updated, "%s", exp_db_text(st, 3));
    /* the baseline pipeline from the recorded experiment file */
    const char *text = (const char *)sqlite3_column_text(st, 1);
    pare_exp_config cfg;
    pare_err e2 = {0};
    if (text && !pare_exp_config_parse(text, strlen(text), "recorded experiment", "", false, &cfg, &e2)) {
        snprintf(d->baseline, sizeof d->baseline, "%s", cfg.baseline);
        d->lm = !strcmp(cfg.dataset.task, "lm");
        pare_exp_config_free(&cfg);
    }
    sqlite3_finalize(st);
    /* the span of the recorded cells (the experiments row is re-stamped by each run) */
    if (!exp_db_prepare(db, "SELECT min(started_at), max(finished_at) FROM cells WHERE experiment=?1", &st, NULL)) {
        sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) && sqlite3_column_text(st, 1)) {
            snprintf(d->created, sizeof d->created, "%.19s", sqlite3_column_text(st, 0));
            snprintf(d->updated, sizeof d->updated, "%.19s", sqlite3_column_text(st, 1));
        }
        sqlite3_finalize(st);
    }
    if ((s = exp_db_prepare(db,
                            "SELECT id, model, pipeline, status, error, steps, git_rev, machine, cpu_features, threads,"
                            " disk_bytes, weight_bytes, peak_rss_bytes, n_params, wall_s, train_s, sparsity, finished_at"
                            " FROM cells WHERE experiment=?1 ORDER BY ord, id",
                            &st, err)))
        return s;
    sqlite3_bind_text(st, 1, d->name, -1, SQLITE_STATIC);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (d->n == cap) {
            cap = cap ? cap * 2 : 16;
            rcell *nc = realloc(d->c, (size_t)cap * sizeof *nc);
            if (!nc) {
                sqlite3_finalize(st);
                return pare_err_set(err, PARE_ERR_OOM, "out of memory");
            }
            d->c = nc;
        }
        rcell *c = &d->c[d->n++];
        memset(c, 0, sizeof *c);
        c->id = sqlite3_column_int64(st, 0);
        snprintf(c->model, sizeof c->model, "%s", exp_db_text(st, 1));
        snprintf(c->pipeline, sizeof c->pipeline, "%s", exp_db_text(st, 2));
        snprintf(c->status, sizeof c->status, "%s", exp_db_text(st, 3));
        c->error = dup_col(st, 4), c->steps = dup_col(st, 5), c->git_rev = dup_col(st, 6);
        c->machine = dup_col(st, 7), c->cpu = dup_col(st, 8), c->finished = dup_col(st, 17);
        c->threads = sqlite3_column_int64(st, 9), c->disk = sqlite3_column_int64(st, 10);
        c->weights = sqlite3_column_int64(st, 11), c->rss = sqlite3_column_int64(st, 12);
        c->n_params = sqlite3_column_int64(st, 13), c->wall_s = sqlite3_column_double(st, 14);
        c->has_train = sqlite3_column_type(st, 15) != SQLITE_NULL;
        c->train_s = sqlite3_column_double(st, 15), c->sparsity = sqlite3_column_double(st, 16);
        c->em = c->micro = c->macro = c->jac = c->ppl = c->kld = c->top1 = NAN;
        c->agreement = NAN;
        c->base = -1;
    }
    sqlite3_finalize(st);
    sqlite3_stmt *qm, *ql, *qp;
    if ((s = exp_db_prepare(db, "SELECT name, value FROM metrics WHERE cell=?1 AND split='test'", &qm, err))) return s;
    /* warm-up and others_cpu: NULL in databases from before they existed */
    const bool ext = exp_db_has(db, "SELECT warmup, others_cpu FROM latency");
    if ((s = exp_db_prepare(db, ext ? "SELECT batch, seq, reps, p50_ms, p90_ms, p99_ms, mean_ms, std_ms, throughput, warmup, others_cpu"
                                      " FROM latency WHERE cell=?1 ORDER BY batch, seq"
                                    : "SELECT batch, seq, reps, p50_ms, p90_ms, p99_ms, mean_ms, std_ms, throughput, NULL, NULL"
                                      " FROM latency WHERE cell=?1 ORDER BY batch, seq",
                            &ql, err))) {
        sqlite3_finalize(qm);
        return s;
    }
    if ((s = exp_db_prepare(db, "SELECT n, labels, pred FROM predictions WHERE cell=?1 AND split='test'", &qp, err))) {
        sqlite3_finalize(qm), sqlite3_finalize(ql);
        return s;
    }
    for (int i = 0; i < d->n; i++) {
        rcell *c = &d->c[i];
        sqlite3_reset(qm), sqlite3_reset(ql), sqlite3_reset(qp);
        sqlite3_bind_int64(qm, 1, c->id), sqlite3_bind_int64(ql, 1, c->id), sqlite3_bind_int64(qp, 1, c->id);
        while (sqlite3_step(qm) == SQLITE_ROW) {
            const char *nm = exp_db_text(qm, 0);
            double v = sqlite3_column_double(qm, 1);
            if (!strcmp(nm, "exact_match")) c->em = v;
            else if (!strcmp(nm, "micro_f1")) c->micro = v;
            else if (!strcmp(nm, "macro_f1")) c->macro = v;
            else if (!strcmp(nm, "jaccard")) c->jac = v;
            else if (!strcmp(nm, "perplexity")) c->ppl = v;
            else if (!strcmp(nm, "kld_mean")) c->kld = v;
            else if (!strcmp(nm, "top1")) c->top1 = v;
            else if (!strcmp(nm, "n")) c->n_test = (int64_t)v;
        }
        while (sqlite3_step(ql) == SQLITE_ROW && c->n_lat < PARE_EXP_MAX_BATCHES) {
            rlat *l = &c->lat[c->n_lat++];
            l->batch = sqlite3_column_int64(ql, 0), l->seq = sqlite3_column_int64(ql, 1), l->reps = sqlite3_column_int64(ql, 2);
            l->p50 = sqlite3_column_double(ql, 3), l->p90 = sqlite3_column_double(ql, 4), l->p99 = sqlite3_column_double(ql, 5);
            l->mean = sqlite3_column_double(ql, 6), l->std = sqlite3_column_double(ql, 7), l->thr = sqlite3_column_double(ql, 8);
            l->warmup = sqlite3_column_int64(ql, 9);
            l->others_cpu = sqlite3_column_type(ql, 10) == SQLITE_NULL ? -1 : sqlite3_column_double(ql, 10);
        }
        if (sqlite3_step(qp) == SQLITE_ROW) {
            c->pred_n = sqlite3_column_int64(qp, 0), c->pred_L = sqlite3_column_int64(qp, 1);
            int nb = sqlite3_column_bytes(qp, 2);
            if (nb == c->pred_n * c->pred_L && nb > 0 && (c->pred = malloc((size_t)nb)))
                memcpy(c->pred, sqlite3_column_blob(qp, 2), (size_t)nb);
        }
    }
    sqlite3_finalize(qm), sqlite3_finalize(ql), sqlite3_finalize(qp);
    if (exp_db_has(db, "SELECT first_p50_ms FROM drift") &&
        !exp_db_prepare(db, "SELECT model, first_p50_ms, end_p50_ms FROM drift WHERE experiment=?1 AND pipeline=?2"
                            " AND first_p50_ms > 0 ORDER BY model", &qm, NULL)) {
        sqlite3_bind_text(qm, 1, d->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(qm, 2, d->baseline, -1, SQLITE_STATIC);
        while (sqlite3_step(qm) == SQLITE_ROW && d->n_drift < PARE_EXP_MAX_MODELS) {
            rdrift *r = &d->drift[d->n_drift++];
            snprintf(r->model, sizeof r->model, "%s", exp_db_text(qm, 0));
            r->first = sqlite3_column_double(qm, 1), r->end = sqlite3_column_double(qm, 2);
        }
        sqlite3_finalize(qm);
    }
    for (int i = 0; i < d->n; i++) {
        rcell *c = &d->c[i];
        for (int j = 0; j < d->n; j++)
            if (!strcmp(d->c[j].model, c->model) && !strcmp(d->c[j].pipeline, d->baseline) && !strcmp(d->c[j].status, "ok"))
                c->base = j;
        if (c->base >= 0 && c->pred && d->c[c->base].pred && d->c[c->base].pred_n == c->pred_n && d->c[c->base].pred_L == c->pred_L)
            c->agreement = pare_cls_agreement(c->pred, d->c[c->base].pred, c->pred_n, c->pred_L);
    }
    return PARE_OK;
}

static bool ok(const rcell *c) { return !strcmp(c->status, "ok"); }
static bool multi_model(const rdata *d) {
    for (int i = 1; i < d->n; i++)
        if (strcmp(d->c[i].model, d->c[0].model)) return true;
    return false;
}
static const rcell *base_of(const rdata *d, const rcell *c) { return c->base >= 0 ? &d->c[c->base] : NULL; }

/* the largest share of the CPUs other processes took while the cell was timed, -1 unknown */
static double cell_busy(const rcell *c) {
    double b = -1;
    for (int k = 0; k < c->n_lat; k++)
        if (c->lat[k].others_cpu > b) b = c->lat[k].others_cpu;
    return b;
}

/* the largest p90 / p50 of the cell's latency rows */
static double cell_spread(const rcell *c) {
    double s = 0;
    for (int k = 0; k < c->n_lat; k++)
        if (c->lat[k].p50 > 0 && c->lat[k].p90 / c->lat[k].p50 > s) s = c->lat[k].p90 / c->lat[k].p50;
    return s;
}

/* How the speed was measured, and how much to trust it: warm-up, the
 * baseline measured again at the end, cells timed on a busy machine.
 * Plain text (markdown and HTML escape it alike). */
static void measure_note(const rdata *d, char *buf, size_t cap) {
    int64_t wlo = -1, whi = -1;
    int n_busy = 0, n_noisy = 0;
    for (int i = 0; i < d->n; i++) {
        n_busy += ok(&d->c[i]) && cell_busy(&d->c[i]) > EXP_BUSY_SHARE;
        n_noisy += ok(&d->c[i]) && cell_busy(&d->c[i]) <= EXP_BUSY_SHARE && cell_spread(&d->c[i]) > EXP_NOISY_SPREAD;
        for (int k = 0; k < d->c[i].n_lat; k++) {
            const int64_t w = d->c[i].lat[k].warmup;
            if (w > 0 && (wlo < 0 || w < wlo)) wlo = w;
            if (w > whi) whi = w;
        }
    }
    size_t n = 0;
    buf[0] = 0;
    if (whi > 0)
        n += (size_t)snprintf(buf + n, cap - n, "Warm-up: until 5 passes in a row agree within 10%% (%lld to %lld passes). ",
                              (long long)wlo, (long long)whi);
    for (int i = 0; i < d->n_drift && n < cap; i++) {
        const rdrift *r = &d->drift[i];
        const double pct = 100.0 * (r->end / r->first - 1);
        n += (size_t)snprintf(buf + n, cap - n, "Baseline %s/%s measured again after the other cells: p50 %.3f ms, then %.3f ms (%+.1f%%)%s. ",
                              r->model, d->baseline, r->first, r->end, pct,
                              fabs(pct) > 10 ? ": the machine's speed changed during the run, so speed-ups carry that much error" : "");
    }
    if (n_busy && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "busy: other processes used more than %.0f%% of the CPU time while %d cell%s %s "
                                                "timed; %s latency is not comparable. ",
                              EXP_BUSY_SHARE * 100, n_busy, n_busy == 1 ? "" : "s", n_busy == 1 ? "was" : "were",
                              n_busy == 1 ? "its" : "their");
    if (n_noisy && n < cap)
        snprintf(buf + n, cap - n, "noisy: the p90 of %d cell%s is more than %.1f times its p50 (interrupts, the clock, "
                                   "memory traffic); rerun it on a quieter machine.",
                 n_noisy, n_noisy == 1 ? "" : "s", EXP_NOISY_SPREAD);
}

/* the baseline's p50 over the cell's at the first latency row, NAN if unknown */
static double speedup(const rdata *d, const rcell *c) {
    const rcell *b = base_of(d, c);
    if (!b || !c->n_lat || !b->n_lat || !(c->lat[0].p50 > 0)) return NAN;
    return b->lat[0].p50 / c->lat[0].p50;
}

/* every row's columns as strings, shared by markdown, HTML and CSV */
enum { COL_MODEL, COL_PIPE, COL_STEPS, COL_SIZE, COL_COMP, COL_LAT, COL_P99, COL_SPEED, COL_LAT2, COL_THR2,
       COL_EM, COL_DEM, COL_MICRO, COL_MACRO, COL_AGREE, COL_TRAIN, COL_STATUS, N_COLS };

static void row_cols(const rdata *d, const rcell *c, char cols[N_COLS][160]) {
    const rcell *b = base_of(d, c);
    for (int i = 0; i < N_COLS; i++) snprintf(cols[i], 160, "%s", ok(c) ? "" : "-");
    snprintf(cols[COL_MODEL], 160, "%s", c->model);
    snprintf(cols[COL_PIPE], 160, "%s", c->pipeline);
    snprintf(cols[COL_STEPS], 160, "%s", c->steps[0] ? c->steps : "-");
    if (!ok(c)) {
        snprintf(cols[COL_STATUS], 160, "failed: %.140s", c->error);
        return;
    }
    const double busy = cell_busy(c), spread = cell_spread(c);
    if (busy > EXP_BUSY_SHARE) snprintf(cols[COL_STATUS], 160, "ok, busy %.0f%%", busy * 100);
    else if (spread > EXP_NOISY_SPREAD) snprintf(cols[COL_STATUS], 160, "ok, noisy (p90 %.1fx p50)", spread);
    else snprintf(cols[COL_STATUS], 160, "ok");
    snprintf(cols[COL_SIZE], 160, "%.1f", c->disk / 1e6);
    snprintf(cols[COL_COMP], 160, b && c->disk ? "%.2fx" : "-", b ? (double)b->disk / (double)c->disk : 0);
    const rlat *l = c->n_lat ? &c->lat[0] : NULL;
    if (l) {
        snprintf(cols[COL_LAT], 160, "%.2f", l->p50);
        snprintf(cols[COL_P99], 160, "%.2f", l->p99);
        const double sp = speedup(d, c);
        if (!isnan(sp)) snprintf(cols[COL_SPEED], 160, "%.2fx", sp);
        else snprintf(cols[COL_SPEED], 160, "-");
    }
    if (c->n_lat > 1) {
        snprintf(cols[COL_LAT2], 160, "%.1f", c->lat[c->n_lat - 1].p50);
        snprintf(cols[COL_THR2], 160, "%.1f", c->lat[c->n_lat - 1].thr);
    } else {
        snprintf(cols[COL_LAT2], 160, "-"), snprintf(cols[COL_THR2], 160, "-");
    }
    if (d->lm) {
        snprintf(cols[COL_EM], 160, "%.4f", c->ppl);
        snprintf(cols[COL_DEM], 160, b ? "%+.4f" : "-", b ? c->ppl - b->ppl : 0);
        snprintf(cols[COL_MICRO], 160, "%.5f", c->kld);
        snprintf(cols[COL_MACRO], 160, "%.2f%%", c->top1 * 100);
        snprintf(cols[COL_AGREE], 160, l && l->p50 > 0 ? "%.1f" : "-", l ? 1000.0 / l->p50 : 0);
        snprintf(cols[COL_TRAIN], 160, "-");
        return;
    }
    snprintf(cols[COL_EM], 160, "%.1f%%", c->em * 100);
    snprintf(cols[COL_DEM], 160, b ? "%+.1f" : "-", b ? (c->em - b->em) * 100 : 0);
    snprintf(cols[COL_MICRO], 160, "%.3f", c->micro);
    snprintf(cols[COL_MACRO], 160, "%.3f", c->macro);
    snprintf(cols[COL_AGREE], 160, isnan(c->agreement) ? "-" : "%.1f%%", c->agreement * 100);
    snprintf(cols[COL_TRAIN], 160, c->has_train ? "%.1f" : "-", c->train_s);
}

static void col_names(const rdata *d, const char *names[N_COLS], char *b1, char *b2) {
    const rcell *c = NULL;
    for (int i = 0; i < d->n && !c; i++)
        if (ok(&d->c[i]) && d->c[i].n_lat) c = &d->c[i];
    int64_t B1 = c ? c->lat[0].batch : 1, S = c ? c->lat[0].seq : 128, B2 = c && c->n_lat > 1 ? c->lat[c->n_lat - 1].batch : 8;
    int64_t S2 = c && c->n_lat > 1 ? c->lat[c->n_lat - 1].seq : 0;
    if (d->lm) {
        snprintf(b1, 64, "decode p50 ms/token");
        snprintf(b2, 64, "prefill %lld tokens p50 ms", (long long)S2);
        const char *n[N_COLS] = {"model", "pipeline", "steps", "size MB", "compression", b1, "p99 ms", "speed-up", b2,
                                 "prefill tok/s", "perplexity", "Δ PPL", "KLD mean", "top-1 agreement",
                                 "decode tok/s", "train s", "status"};
        memcpy(names, n, sizeof n);
        return;
    }
    snprintf(b1, 64, "latency b%lld x %lld p50 ms", (long long)B1, (long long)S);
    snprintf(b2, 64, "b%lld p50 ms", (long long)B2);
    const char *n[N_COLS] = {"model", "pipeline", "steps", "size MB", "compression", b1, "p99 ms", "speed-up", b2,
                             "throughput ex/s", "exact match", "Δ EM (pts)", "micro-F1", "macro-F1",
                             "agreement", "train s", "status"};
    memcpy(names, n, sizeof n);
}

static void html_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* Markdown text from names and messages: no raw HTML (renderers pass tags
 * and entities through, so < and & are escaped), and no | or newline,
 * which would break the table. */
static void md_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputs("\\|", f);
        else if (*s == '\n' || *s == '\r') fputc(' ', f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else fputc(*s, f);
    }
}

/* measure_note's text, escaped for the format, between open and close */
static void write_note(FILE *f, const rdata *d, void (*esc)(FILE *, const char *), const char *open, const char *close) {
    char note[2048];
    measure_note(d, note, sizeof note);
    if (!note[0]) return;
    fputs(open, f);
    esc(f, note);
    fputs(close, f);
}

static void write_md(FILE *f, const rdata *d) {
    const char *names[N_COLS];
    char b1[64], b2[64], cols[N_COLS][160];
    col_names(d, names, b1, b2);
    fputs("# pare experiment: ", f);
    md_esc(f, d->name);
    fputs("\n\n", f);
    const rcell *any = d->n ? &d->c[0] : NULL;
    for (int i = 0; i < d->n; i++)
        if (ok(&d->c[i])) any = &d->c[i];
    if (any) {
        char line[2048];
        snprintf(line, sizeof line, "Machine: %s; %lld threads; CPU features %s; pare %s. Baseline: %s. Cells ran %s to %s (UTC).",
                 any->machine, (long long)any->threads, any->cpu, any->git_rev, d->baseline, d->created, d->updated);
        md_esc(f, line);
        fputs("\n\n", f);
    }
    fputs("|", f);
    for (int k = 0; k < N_COLS; k++) fprintf(f, " %s |", names[k]);
    fputs("\n|", f);
    for (int k = 0; k < N_COLS; k++) fputs(k >= COL_SIZE && k <= COL_TRAIN ? "---:|" : "---|", f);
    fputs("\n", f);
    for (int i = 0; i < d->n; i++) {
        row_cols(d, &d->c[i], cols);
        fputs("|", f);
        for (int k = 0; k < N_COLS; k++) {
            fputc(' ', f);
            md_esc(f, cols[k]);
            fputs(" |", f);
        }
        fputs("\n", f);
    }
    if (d->lm)
        fputs("\nSize: the GGUF file. Perplexity: llama.cpp's windowing (non-overlapping windows, second half scored). "
              "KLD and top-1: KL divergence and argmax agreement of the next-token distribution against the unmodified "
              "model on the scored positions (llama.cpp's --kl-divergence). Decode: greedy, ms per token, after a "
              "prefill; p50/p99 over the repetitions.\n",
              f);
    else
        fputs("\nSize: bytes of the stored weights (quantized models as saved by pare, int8 + scales) plus the trained "
              "head; pruned models are stored dense. Latency: encoder + pooling + head on real test texts padded to the "
              "sequence length, after warm-up; p50/p99 over the repetitions. Accuracy: test split; agreement: identical "
              "predicted label sets as the baseline.\n",
              f);
    write_note(f, d, md_esc, "\n", "\n");
}

static void cell_label(const rdata *d, const rcell *c, char *buf, size_t cap) {
    if (multi_model(d)) snprintf(buf, cap, "%s/%s", c->model, c->pipeline);
    else snprintf(buf, cap, "%s", c->pipeline);
}

static void write_html(FILE *f, const rdata *d) {
    const char *names[N_COLS];
    char b1[64], b2[64], cols[N_COLS][160];
    col_names(d, names, b1, b2);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>pare experiment: ");
    html_esc(f, d->name);
    fputs("</title>\n<style>\nbody{font-family:sans-serif;margin:24px;color:#222;max-width:2200px}\n"
          "table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #ccc;padding:4px 7px}\n"
          "th{background:#f1f3f7}td.n{text-align:right}tr.failed td{background:#fde8e8}\n"
          ".charts{display:flex;flex-wrap:wrap;gap:16px}.charts svg{border:1px solid #ddd}\n"
          "p.note{font-size:12px;color:#555;max-width:1100px}\n</style></head><body>\n",
          f);
    fputs("<h1>pare experiment: ", f);
    html_esc(f, d->name);
    fputs("</h1>\n", f);
    const rcell *any = NULL;
    for (int i = 0; i < d->n; i++)
        if (ok(&d->c[i])) any = &d->c[i];
    if (any) {
        fputs("<p>Machine: ", f);
        html_esc(f, any->machine);
        fprintf(f, "; %lld threads; CPU features ", (long long)any->threads);
        html_esc(f, any->cpu);
        fputs("; pare ", f);
        html_esc(f, any->git_rev);
        fputs(". Baseline pipeline: <b>", f);
        html_esc(f, d->baseline);
        fprintf(f, "</b>. Cells ran %s to %s (UTC).</p>\n", d->created, d->updated);
    }
    /* charts from the ok cells */
    int n = 0;
    const char **labels = calloc((size_t)d->n + 1, sizeof *labels), **barl = calloc((size_t)d->n + 1, sizeof *barl);
    double *lat = calloc((size_t)d->n + 1, sizeof *lat);
    exp_point *p1 = calloc((size_t)d->n + 1, sizeof *p1), *p2 = calloc((size_t)d->n + 1, sizeof *p2);
    char (*lab)[160] = calloc((size_t)d->n + 1, sizeof *lab), (*bl)[40] = calloc((size_t)d->n + 1, sizeof *bl);
    double base_lat = 0;
    if (labels && barl && lat && p1 && p2 && lab && bl) {
        for (int i = 0; i < d->n; i++) {
            const rcell *c = &d->c[i];
            if (!ok(c) || !c->n_lat) continue;
            cell_label(d, c, lab[n], sizeof lab[n]);
            if (d->lm) snprintf(bl[n], sizeof bl[n], "PPL %.2f", c->ppl);
            else snprintf(bl[n], sizeof bl[n], "EM %.1f%%", c->em * 100);
            const double acc = d->lm ? c->ppl : c->em * 100;
            labels[n] = lab[n], barl[n] = bl[n], lat[n] = c->lat[0].p50;
            bool is_base = c->base == i;
            if (is_base && base_lat == 0) base_lat = c->lat[0].p50;
            p1[n] = (exp_point){lab[n], c->lat[0].p50, acc, is_base};
            p2[n] = (exp_point){lab[n], c->disk / 1e6, acc, is_base};
            n++;
        }
        char title[200], yl[96];
        fputs("<div class=\"charts\">\n", f);
        snprintf(title, sizeof title, d->lm ? "Decode latency per pipeline, labelled with perplexity"
                                            : "Latency per pipeline, labelled with exact-match accuracy");
        snprintf(yl, sizeof yl, "%s", b1);
        const char *acc_label = d->lm ? "perplexity (lower is better)" : "exact match (%)";
        exp_svg_bars(f, title, yl, labels, lat, barl, n, base_lat, "baseline");
        exp_svg_scatter(f, d->lm ? "Perplexity vs decode latency" : "Accuracy vs latency", b1, acc_label, p1, n, d->lm);
        exp_svg_scatter(f, d->lm ? "Perplexity vs size" : "Accuracy vs size", "size on disk (MB)", acc_label, p2, n, d->lm);
        fputs("</div>\n", f);
    }
    free(labels), free(barl), free(lat), free(p1), free(p2), free(lab), free(bl);
    fputs("<h2>Results</h2>\n<table><tr>", f);
    for (int k = 0; k < N_COLS; k++) {
        fputs("<th>", f);
        html_esc(f, names[k]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (int i = 0; i < d->n; i++) {
        row_cols(d, &d->c[i], cols);
        fprintf(f, "<tr class=\"%s\">", ok(&d->c[i]) ? "ok" : "failed");
        for (int k = 0; k < N_COLS; k++) {
            fputs(k >= COL_SIZE && k <= COL_TRAIN ? "<td class=\"n\">" : "<td>", f);
            html_esc(f, cols[k]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<h2>Latency detail</h2>\n<table><tr><th>cell</th><th>batch</th><th>seq</th><th>reps</th><th>p50 ms</th>"
          "<th>p90 ms</th><th>p99 ms</th><th>mean ms</th><th>std ms</th><th>throughput ex/s</th><th>peak RSS MB</th>"
          "<th>weights in memory MB</th><th>sparsity</th></tr>\n",
          f);
    for (int i = 0; i < d->n; i++) {
        const rcell *c = &d->c[i];
        char l[160];
        cell_label(d, c, l, sizeof l);
        for (int k = 0; k < c->n_lat; k++) {
            const rlat *t = &c->lat[k];
            fputs("<tr><td>", f);
            html_esc(f, l);
            fprintf(f, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%.2f</td>"
                       "<td class=\"n\">%.2f</td><td class=\"n\">%.2f</td><td class=\"n\">%.2f</td><td class=\"n\">%.2f</td>"
                       "<td class=\"n\">%.1f</td><td class=\"n\">%.0f</td><td class=\"n\">%.1f</td><td class=\"n\">%.1f%%</td></tr>\n",
                    (long long)t->batch, (long long)t->seq, (long long)t->reps, t->p50, t->p90, t->p99, t->mean, t->std,
                    t->thr, c->rss / 1e6, c->weights / 1e6, c->sparsity * 100);
        }
    }
    fputs("</table>\n<p class=\"note\">Size: bytes of the stored weights (quantized models as saved by pare: int8 weights and "
          "scales) plus the trained head; pruned models are stored dense. Latency: encoder, pooling and head on real test "
          "texts padded to the sequence length, after warm-up. Speed-up and compression are against the baseline pipeline "
          "of the same model; agreement is the share of test examples whose predicted label set equals the baseline's.</p>\n",
          f);
    write_note(f, d, html_esc, "<p class=\"note\">", "</p>\n");
    fputs("<script>console.log('pare report: ' + document.querySelectorAll('svg.chart').length + ' charts');</script>\n"
          "</body></html>\n",
          f);
}

static void csv_field(FILE *f, const char *s) {
    bool q = strpbrk(s, ",\"\n") != NULL;
    if (!q) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_csv(FILE *f, const rdata *d) {
    fputs("model,pipeline,status,steps,disk_bytes,weight_bytes,peak_rss_bytes,sparsity,train_s,exact_match,micro_f1,"
          "macro_f1,jaccard,agreement,batch,seq,p50_ms,p90_ms,p99_ms,mean_ms,std_ms,throughput,perplexity,kld_mean,top1,error\n",
          f);
    for (int i = 0; i < d->n; i++) {
        const rcell *c = &d->c[i];
        for (int k = 0; k < (c->n_lat ? c->n_lat : 1); k++) {
            csv_field(f, c->model), fputc(',', f), csv_field(f, c->pipeline), fputc(',', f);
            csv_field(f, c->status), fputc(',', f), csv_field(f, c->steps);
            fprintf(f, ",%lld,%lld,%lld,%.6f,", (long long)c->disk, (long long)c->weights, (long long)c->rss, c->sparsity);
            if (c->has_train) fprintf(f, "%.3f", c->train_s);
            fprintf(f, ",%.6f,%.6f,%.6f,%.6f,", c->em, c->micro, c->macro, c->jac);
            if (!isnan(c->agreement)) fprintf(f, "%.6f", c->agreement);
            if (c->n_lat) {
                const rlat *t = &c->lat[k];
                fprintf(f, ",%lld,%lld,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,", (long long)t->batch, (long long)t->seq, t->p50, t->p90,
                        t->p99, t->mean, t->std, t->thr);
            } else {
                fputs(",,,,,,,,,", f);
            }
            if (!isnan(c->ppl)) fprintf(f, "%.6f,%.8f,%.6f,", c->ppl, c->kld, c->top1);
            else fputs(",,,", f);
            csv_field(f, c->error), fputc('\n', f);
        }
    }
}

static void write_json(FILE *f, const rdata *d) {
    cJSON *root = cJSON_CreateObject(), *cells = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "experiment", d->name);
    cJSON_AddStringToObject(root, "baseline", d->baseline);
    for (int i = 0; i < d->n; i++) {
        const rcell *c = &d->c[i];
        cJSON *o = cJSON_CreateObject(), *ls = cJSON_CreateArray();
        cJSON_AddStringToObject(o, "model", c->model);
        cJSON_AddStringToObject(o, "pipeline", c->pipeline);
        cJSON_AddStringToObject(o, "status", c->status);
        cJSON_AddStringToObject(o, "steps", c->steps);
        if (!ok(c)) cJSON_AddStringToObject(o, "error", c->error);
        cJSON_AddNumberToObject(o, "disk_bytes", (double)c->disk);
        cJSON_AddNumberToObject(o, "weight_bytes", (double)c->weights);
        cJSON_AddNumberToObject(o, "peak_rss_bytes", (double)c->rss);
        cJSON_AddNumberToObject(o, "sparsity", c->sparsity);
        if (c->has_train) cJSON_AddNumberToObject(o, "train_s", c->train_s);
        if (ok(c)) {
            cJSON_AddNumberToObject(o, "exact_match", c->em);
            cJSON_AddNumberToObject(o, "micro_f1", c->micro);
            cJSON_AddNumberToObject(o, "macro_f1", c->macro);
            cJSON_AddNumberToObject(o, "jaccard", c->jac);
            cJSON_AddNumberToObject(o, "n_test", (double)c->n_test);
            if (d->lm) {
                cJSON_AddNumberToObject(o, "perplexity", c->ppl);
                cJSON_AddNumberToObject(o, "kld_mean", c->kld);
                cJSON_AddNumberToObject(o, "top1", c->top1);
            }
        }
        if (!isnan(c->agreement)) cJSON_AddNumberToObject(o, "agreement", c->agreement);
        if (!isnan(speedup(d, c))) cJSON_AddNumberToObject(o, "speedup", speedup(d, c));
        for (int k = 0; k < c->n_lat; k++) {
            const rlat *t = &c->lat[k];
            cJSON *l = cJSON_CreateObject();
            cJSON_AddNumberToObject(l, "batch", (double)t->batch);
            cJSON_AddNumberToObject(l, "seq", (double)t->seq);
            cJSON_AddNumberToObject(l, "p50_ms", t->p50);
            cJSON_AddNumberToObject(l, "p90_ms", t->p90);
            cJSON_AddNumberToObject(l, "p99_ms", t->p99);
            cJSON_AddNumberToObject(l, "std_ms", t->std);
            cJSON_AddNumberToObject(l, "throughput", t->thr);
            cJSON_AddItemToArray(ls, l);
        }
        cJSON_AddItemToObject(o, "latency", ls);
        cJSON_AddStringToObject(o, "machine", c->machine);
        cJSON_AddStringToObject(o, "git_rev", c->git_rev);
        cJSON_AddStringToObject(o, "finished_at", c->finished);
        cJSON_AddItemToArray(cells, o);
    }
    cJSON_AddItemToObject(root, "cells", cells);
    char *s = cJSON_Print(root);
    if (s) fputs(s, f), fputc('\n', f);
    free(s);
    cJSON_Delete(root);
}

typedef void (*writer_fn)(FILE *, const rdata *);

static pare_status write_file(const char *dir, const char *name, writer_fn fn, const rdata *d, pare_err *err) {
    char path[PARE_EXP_PATH + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    pare_wfile w;
    pare_status s = pare_wfile_open(&w, path, err);
    if (s) return s;
    fn(w.f, d);
    return pare_wfile_commit(&w, err);
}

pare_status pare_exp_report(const char *db_path, const char *experiment, const char *out_dir, pare_err *err) {
    sqlite3 *db;
    pare_status s = exp_db_open(db_path, EXP_DB_READ, &db, err);
    if (s) return s;
    rdata d = {0};
    s = load(db, experiment, &d, err);
    exp_db_close(db);
    if (!s) s = pare_mkdir_p(out_dir, err);
    if (!s) s = write_file(out_dir, "report.md", write_md, &d, err);
    if (!s) s = write_file(out_dir, "report.html", write_html, &d, err);
    if (!s) s = write_file(out_dir, "results.csv", write_csv, &d, err);
    if (!s) s = write_file(out_dir, "results.json", write_json, &d, err);
    free_data(&d);
    return s;
}

pare_status pare_exp_status(const char *db_path, FILE *f, pare_err *err) {
    sqlite3 *db;
    pare_status s = exp_db_open(db_path, EXP_DB_READ, &db, err);
    if (s) return s;
    sqlite3_stmt *st;
    if (!(s = exp_db_prepare(db,
                             "SELECT c.experiment, c.model, c.pipeline, c.status, c.finished_at, c.wall_s,"
                             " (SELECT value FROM metrics WHERE cell=c.id AND split='test' AND name='exact_match'),"
                             " (SELECT p50_ms FROM latency WHERE cell=c.id ORDER BY batch, seq LIMIT 1), c.error,"
                             " (SELECT value FROM metrics WHERE cell=c.id AND split='test' AND name='perplexity')"
                             " FROM cells c ORDER BY c.experiment, c.ord, c.id",
                             &st, err))) {
        while (sqlite3_step(st) == SQLITE_ROW) {
            fprintf(f, "%s\t%s\t%s\t%s\t%s\t%.1fs", exp_db_text(st, 0), exp_db_text(st, 1), exp_db_text(st, 2),
                    exp_db_text(st, 3), exp_db_text(st, 4), sqlite3_column_double(st, 5));
            if (sqlite3_column_type(st, 6) != SQLITE_NULL) fprintf(f, "\tEM %.1f%%", sqlite3_column_double(st, 6) * 100);
            if (sqlite3_column_type(st, 9) != SQLITE_NULL) fprintf(f, "\tPPL %.4f", sqlite3_column_double(st, 9));
            if (sqlite3_column_type(st, 7) != SQLITE_NULL) fprintf(f, "\tp50 %.2f ms", sqlite3_column_double(st, 7));
            if (sqlite3_column_type(st, 8) != SQLITE_NULL) fprintf(f, "\t%s", exp_db_text(st, 8));
            fputc('\n', f);
        }
        sqlite3_finalize(st);
    }
    exp_db_close(db);
    return s;
}
