/* Experiments: a matrix of models x pipelines of compression steps on one
 * dataset, run cell by cell into a SQLite results database, and reported
 * (src/experiment). docs/experiments.md describes the file format. */
#ifndef PARE_EXPERIMENT_H
#define PARE_EXPERIMENT_H

#include "pare/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PARE_EXP_NAME 64
#define PARE_EXP_PATH 1024
#define PARE_EXP_MAX_MODELS 8
#define PARE_EXP_MAX_PIPELINES 32
#define PARE_EXP_MAX_STEPS 8
#define PARE_EXP_MAX_BATCHES 8

typedef enum pare_exp_step_kind {
    PARE_STEP_FINETUNE_HEAD = 0, /* train a linear head on frozen sentence features */
    PARE_STEP_QUANTIZE = 1,      /* int8 RTN: weight-only or W8A8 dynamic/static */
    PARE_STEP_PRUNE = 2,         /* magnitude pruning of the encoder's Linear weights */
} pare_exp_step_kind;

typedef struct pare_exp_step {
    pare_exp_step_kind kind;
    int line;
    /* finetune-head */
    int64_t epochs;       /* 40 */
    double lr;            /* 3e-3 */
    int64_t batch;        /* 64 */
    char pooling[16];     /* mean */
    /* quantize */
    char method[16];      /* quantize: rtn | gptq | awq (task lm); rtn | gptq (bits 4) | nf4 | fp4 | smoothquant (BERT);
                             prune: magnitude | wanda | sparsegpt (task lm) */
    double smooth;        /* BERT quantize: SmoothQuant alpha (method smoothquant: 0.8 unless given) */
    int64_t group;        /* task lm: scale per group of inputs (multiple of 32); 0: ggml's blocks of 32, or 128 for gptq/awq */
    bool sym;             /* task lm with a group: q4_0 / q5_0 instead of q4_1 / q5_1 */
    char calib_file[PARE_EXP_PATH]; /* task lm, gptq/awq: calibration text */
    int64_t calib_len;    /* tokens per calibration sequence (512); calib_n sequences (32) */
    int64_t bits;         /* 8 */
    char act[16];         /* dynamic | static | none */
    char type[16];        /* task lm: ggml type (q8_0 q5_1 q5_0 q4_1 q4_0 f16 bf16 f32); "" = from bits */
    bool bits_given;
    char calib[16];       /* minmax | percentile (static) */
    int64_t calib_n;      /* calibration texts from the train split (256) */
    bool calib_n_given;
    /* prune */
    double sparsity;      /* 0.2 */
    int nm_n, nm_m;       /* task lm: n:m semi-structured (nm: "2:4") instead of sparsity */
    char scope[16];       /* global | local */
} pare_exp_step;

typedef struct pare_exp_pipeline {
    char name[PARE_EXP_NAME];
    int line;
    pare_exp_step steps[PARE_EXP_MAX_STEPS];
    int n_steps;
} pare_exp_pipeline;

typedef struct pare_exp_model {
    char name[PARE_EXP_NAME];
    char path[PARE_EXP_PATH]; /* resolved against the experiment file's folder */
    int line, path_line;
} pare_exp_model;

typedef struct pare_exp_config {
    char file[PARE_EXP_PATH];
    char name[PARE_EXP_NAME];
    pare_exp_model models[PARE_EXP_MAX_MODELS];
    int n_models;
    struct {
        char path[PARE_EXP_PATH];
        char task[16];        /* multi-label | single-label | lm (perplexity of a text file) */
        int64_t ctx;          /* lm: window length (512) */
        int64_t chunks;       /* lm: windows evaluated (8; 0 = all) */
        char text[64];        /* text column (Tweet) */
        int64_t limit;        /* rows read, 0 = all */
        double split[3];      /* train / validation / test fractions (0.6 0.3 0.1) */
        uint64_t seed;        /* 42 */
        int64_t max_len;      /* tokens per text (128) */
        int64_t eval_limit;   /* test examples evaluated, 0 = all */
        double threshold;     /* multi-label decision threshold (0.5) */
    } dataset;
    struct {
        int64_t batch[PARE_EXP_MAX_BATCHES];
        int n_batch;          /* [1, 8] */
        int64_t seq;          /* 128 */
        int64_t threads;      /* 0: all cores */
        int64_t warmup;       /* 3 */
        int64_t reps;         /* 20 */
        int64_t prompt, gen;  /* lm: prefill and decode tokens timed (64, 32) */
        char device[8];       /* cpu */
    } latency;
    char baseline[PARE_EXP_NAME]; /* pipeline compared against (first if unset) */
    pare_exp_pipeline pipelines[PARE_EXP_MAX_PIPELINES];
    int n_pipelines;
    char *text;               /* the file as read (owned) */
    uint64_t hash;            /* FNV-1a of text */
} pare_exp_config;

/* Parse and check an experiment file (YAML). Every problem is reported as
 * "FILE:LINE: key.path: what is wrong" before any work starts: unknown
 * keys and steps, wrong types, out-of-range values, duplicate names, model
 * folders or data files that do not exist. */
pare_status pare_exp_config_load(const char *path, pare_exp_config *cfg, pare_err *err);
/* The same from memory (name for messages; relative paths against dir). */
pare_status pare_exp_config_parse(const char *text, size_t len, const char *name, const char *dir,
                                  bool check_paths, pare_exp_config *cfg, pare_err *err);
void pare_exp_config_free(pare_exp_config *cfg);
const char *pare_exp_step_name(pare_exp_step_kind k);
/* One line describing a step's parameters, e.g. "quantize(rtn, 8 bit, act dynamic)". */
void pare_exp_step_describe(const pare_exp_step *s, char *buf, size_t cap);

typedef struct pare_exp_run_opts {
    const char *db_path;
    bool resume;          /* skip finished cells (failed ones run again) */
    bool fresh;           /* delete this experiment's rows first */
    const char *only;     /* run only pipelines whose name contains this */
    int64_t threads;      /* overrides latency.threads when > 0 */
    bool quiet;
    const char *git_rev;  /* recorded with each cell */
} pare_exp_run_opts;

/* Run every cell not yet finished. Each cell runs in a child process and
 * writes its result in one transaction, so a crash or kill loses only the
 * cell in flight. Returns PARE_OK when every cell ran (failed cells are
 * recorded, counted in *n_failed). */
pare_status pare_exp_run(const pare_exp_config *cfg, const pare_exp_run_opts *o, int *n_failed,
                         pare_err *err);

/* Reports from a results database: report.md, report.html (self-contained,
 * SVG charts), results.csv and results.json in out_dir. experiment: name
 * (NULL: the most recent one). */
pare_status pare_exp_report(const char *db_path, const char *experiment, const char *out_dir,
                            pare_err *err);

/* One line per cell (status, metrics) to f. */
pare_status pare_exp_status(const char *db_path, FILE *f, pare_err *err);

#ifdef __cplusplus
}
#endif
#endif
