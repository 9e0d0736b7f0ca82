/* Internals of the experiment runner shared by its files: the results
 * database (db.c), one cell of the matrix (cell_classify.c), latency
 * statistics (latency.c), the machine description (machine.c) and the
 * SVG charts of the report (svg.c). */
#ifndef PARE_EXP_INTERNAL_H
#define PARE_EXP_INTERNAL_H

#include "pare/experiment.h"

#include <sqlite3.h>
#include <stdio.h>

/* ---- db.c: open (WAL, busy timeout, schema), statements with errors */
typedef enum exp_db_mode {
    EXP_DB_READ,   /* status, report: read-only (also on read-only media) */
    EXP_DB_WRITE,  /* a cell recording its result */
    EXP_DB_CREATE, /* the runner: a new file gets the schema */
} exp_db_mode;
/* Open and check: PRAGMA quick_check and the schema's columns, so a damaged
 * or foreign database is refused with a message before use. */
pare_status exp_db_open(const char *path, exp_db_mode mode, sqlite3 **out, pare_err *err);
/* True when sql prepares (the columns it names exist). */
bool exp_db_has(sqlite3 *db, const char *sql);
/* Column i as text, "" for NULL. */
const char *exp_db_text(sqlite3_stmt *st, int i);
void exp_db_close(sqlite3 *db);
/* Run SQL with no result rows. */
pare_status exp_db_exec(sqlite3 *db, const char *sql, pare_err *err);
pare_status exp_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, pare_err *err);
pare_status exp_db_fail(sqlite3 *db, const char *what, pare_err *err);
/* status of a cell: 1 ok, 0 failed, -1 absent */
int exp_db_cell_status(sqlite3 *db, const char *experiment, const char *model, const char *pipeline);
/* Record a failed cell (replacing any earlier row of it). */
pare_status exp_db_record_failure(sqlite3 *db, const char *experiment, const char *model,
                                  const char *pipeline, int order, const char *error, double wall_s,
                                  pare_err *err);
/* Delete an experiment and its cells' rows (one transaction). */
pare_status exp_db_delete_experiment(sqlite3 *db, const char *experiment, pare_err *err);
/* Delete a cell's rows in every table (inside the caller's transaction). */
pare_status exp_db_delete_cell(sqlite3 *db, const char *experiment, const char *model,
                               const char *pipeline, pare_err *err);

/* ---- latency.c */
typedef struct exp_latency {
    int64_t batch, seq, n;
    double p50, p90, p99, mean, std, min, max; /* ms */
    double throughput;                          /* examples/s at p50 */
    double *samples;                            /* [n] ms, owned */
    int64_t warmup;                             /* warm-up passes run */
    double others_cpu;                          /* share of the CPUs other processes used meanwhile, -1 unknown */
} exp_latency;
void exp_latency_stats(double *samples_ms, int64_t n, exp_latency *out);

/* Timing with an adaptive warm-up: at least warmup_min passes, then more
 * until the last EXP_SETTLE passes of the first value agree within 10%
 * (cold pages, the clock ramping up, a pool's threads waking), at most
 * EXP_WARMUP_MAX passes or EXP_WARMUP_S seconds; then reps passes timed,
 * while the CPU time of other processes is watched. fn runs one pass and
 * returns n_values times in ms (prefill and decode, say). */
enum { EXP_SETTLE = 5, EXP_WARMUP_MAX = 200 };
#define EXP_WARMUP_S 10.0
/* A cell measured while other processes took more than this share of the
 * machine's CPU time is flagged as measured on a busy machine. */
#define EXP_BUSY_SHARE 0.10
/* ... and one whose p90 is more than this many times its p50, as noisy. */
#define EXP_NOISY_SPREAD 1.5
typedef pare_status (*exp_pass_fn)(void *ctx, double *ms, pare_err *err);
typedef struct exp_timing {
    exp_pass_fn fn;
    void *ctx;
    int n_values;        /* 1 or 2 */
    int64_t warmup_min, reps;
    double *samples[2];  /* [reps] each, owned by the caller */
    int64_t warmup;      /* passes run to warm up */
    double others_cpu;   /* during the timed passes; -1 unknown */
} exp_timing;
pare_status exp_time(exp_timing *t, pare_err *err);

/* ---- machine.c: what the rest of the machine does meanwhile */
typedef struct exp_cpu_mark_t {
    double wall, busy, self; /* s: now, every CPU's busy time, this process's CPU time */
} exp_cpu_mark_t;
void exp_cpu_mark(exp_cpu_mark_t *m);
/* Share of the machine's CPU time (0..1) used by other processes since m,
 * -1 when unknown (no /proc/stat, too short). */
double exp_cpu_others(const exp_cpu_mark_t *m);

/* ---- machine.c: "model name, N cores, M GiB, kernel" and CPU features */
void exp_machine_describe(char *buf, size_t cap);

/* ---- one cell, in the child process: writes its row(s), returns 0 on
 * success, 1 on a recorded failure */
typedef struct exp_cell {
    const pare_exp_config *cfg;
    int model, pipeline, order;
    const char *db_path, *art_dir, *git_rev;
    int64_t threads;
    bool remeasure; /* the baseline again after the other cells: its first latency row only, into drift */
} exp_cell;
int exp_cell_classify(const exp_cell *c);
int exp_cell_lm(const exp_cell *c);

/* ---- cell_common.c: what a finished cell records */
typedef struct exp_metric {
    const char *name;
    double value;
} exp_metric;

typedef struct exp_cell_out {
    const char *steps;       /* described steps */
    char *config_json;       /* the cell's full configuration (owned, freed by exp_cell_finish) */
    exp_metric metrics[16];  /* test-split metrics */
    int n_metrics;
    const uint8_t *pred;     /* [pred_n, pred_L] test predictions, or NULL */
    int64_t pred_n, pred_L;
    exp_latency lat[PARE_EXP_MAX_BATCHES + 2];
    int n_lat;
    int64_t disk, weights, rss, n_params;
    double sparsity, train_s, wall_s;
    bool has_train;
    int threads;
    const char *artifact;
} exp_cell_out;

/* Record the cell (success: out; failure: the error) in its own database
 * connection and free out's owned parts; returns the child's exit code
 * (0 ok, 1 recorded failure, 2 could not record). */
int exp_cell_finish(const exp_cell *c, pare_status s, const pare_err *cell_err, exp_cell_out *out);
/* Attach the dataset and latency objects to the cell configuration j,
 * print it (owned string) and free the tree. */
struct cJSON;
char *exp_config_json_finish(struct cJSON *j, struct cJSON *dataset, struct cJSON *latency);
/* Bytes of a file, 0 if it cannot be stat'ed. */
int64_t exp_file_size(const char *path);
/* Peak resident memory of this process in bytes. */
int64_t exp_peak_rss(void);

/* ---- svg.c: charts of the report */
typedef struct exp_point {
    const char *label;
    double x, y;      /* x: latency ms or size MB; y: accuracy */
    bool baseline;
} exp_point;
/* Vertical bars of values[i] with text labels above each
 * bar, and a dashed line at the baseline value. */
void exp_svg_bars(FILE *f, const char *title, const char *y_label, const char *const *names,
                  const double *values, const char *const *bar_labels, int n, double baseline,
                  const char *baseline_label);
/* Scatter of points with the Pareto front (lower x, and higher y, or lower
 * y when y_lower_better) drawn. */
void exp_svg_scatter(FILE *f, const char *title, const char *x_label, const char *y_label,
                     const exp_point *pts, int n, bool y_lower_better);

#endif
