/* Shared pieces of the pare CLI: options, text input, JSON output. */
#ifndef PARE_CLI_H
#define PARE_CLI_H

#include "pare/pare.h"

/* Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef struct cli_common {
    int n_threads;            /* --threads, 0 = default */
    pare_kernel_impl kernel;  /* --kernel */
    bool json;                /* --json */
    bool no_sparse;           /* --no-sparse: pruned F16 decoder weights run dense */
    double sparse_min;        /* --sparse-min F: sparse form from this fraction of zeros */
    bool force;               /* --force: replace an existing -o OUT */
} cli_common;

/* Try to consume a common option at argv[*i]; returns 1 if consumed, 0 if
 * not a common option, -1 on a bad value (message printed). */
int cli_common_option(cli_common *c, int argc, char **argv, int *i);
/* Value of option argv[*i] (advances *i); prints an error and returns NULL
 * when it is missing. */
const char *cli_value(int argc, char **argv, int *i);
/* The start of every command's option loop: a common option, or --help/-h
 * (prints help to stdout). Returns CLI_ARG_NEXT when argv[*i] was consumed,
 * CLI_ARG_HELP after printing help, CLI_ARG_BAD on a bad value, 0 when the
 * command must look at argv[*i] itself. */
enum { CLI_ARG_NEXT = 1, CLI_ARG_HELP = 2, CLI_ARG_BAD = -1 };
int cli_take_arg(cli_common *c, int argc, char **argv, int *i, const char *help);
/* -o OUT of a command that writes a model: an existing OUT (a file, or a
 * folder holding a model) is replaced only with --force; prints why and
 * returns false otherwise. Outputs are always written beside OUT and
 * renamed into place, so OUT may even be the input. */
bool cli_output_ok(const char *cmd, const char *out, const cli_common *c);
#define CLI_FORCE_HELP "  --force          replace OUT if it exists (written beside it, then renamed into place)\n"
bool cli_parse_int(const char *opt, const char *s, int64_t lo, int64_t hi, int64_t *out);
bool cli_parse_float(const char *opt, const char *s, double *out);

/* Texts from --text (repeatable) or --file (one per line, or a TSV column
 * with --column NAME; the first row is then the header). */
typedef struct cli_texts {
    char **items;
    int64_t n, cap;
    char *file_buf;
} cli_texts;

int cli_texts_add(cli_texts *t, const char *s);
pare_status cli_texts_load_file(cli_texts *t, const char *path, const char *column, int64_t limit,
                                pare_err *err);
void cli_texts_free(cli_texts *t);

/* "pare CMD: warning: N bytes of WHAT have no token in the vocabulary and were
 * left out (as llama.cpp does)" when n > 0. */
void cli_warn_dropped(const char *cmd, const char *what, int64_t n);
/* Print s as a JSON string (quoted, escaped) to f. */
void cli_json_string(FILE *f, const char *s);
/* Report err on stderr as "pare CMD: message" and return its exit code. */
int cli_fail(const char *cmd, const pare_err *err);
pare_status cli_load_bert(const char *dir, const cli_common *c, pare_bert **out, pare_err *err);

int cmd_info(int argc, char **argv);
/* pare info for a GGUF file (cmd_info_gguf.c). */
int cli_info_gguf(const char *path, bool json, bool tensors);
int cmd_embed(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_peak(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_finetune(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_eval(int argc, char **argv);

/* Decoders (cmd_llama.c). */
struct pare_llama;
pare_status cli_load_llama(const char *path, const cli_common *c, bool dequantize, struct pare_llama **out,
                           pare_err *err);
/* A GGUF file or a folder whose config.json is a Llama-family decoder. */
bool cli_is_decoder(const char *path);
int cmd_generate(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_experiment(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cli_bench_llama(const char *model, const cli_common *c, int64_t prompt, int64_t gen, int64_t reps);

#endif
