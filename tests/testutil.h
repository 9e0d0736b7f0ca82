/* Shared helpers for pare's cmocka tests. */
#ifndef PARE_TESTUTIL_H
#define PARE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "pare/pare.h"

/* $PARE_SOURCE_DIR (set by ctest) or "." */
const char *tu_source_dir(void);
/* Path under the source tree: tu_path(buf, cap, "tests/golden/x") */
const char *tu_path(char *buf, size_t cap, const char *rel);
/* Something a test cannot run without is missing (a model, a data file, a
 * GPU): under CI=true the test fails naming it; otherwise it is skipped, and
 * tu_result makes the executable exit 77, ctest's SKIP_RETURN_CODE, so the
 * skip is reported as one, never as a pass. */
void tu_missing(const char *what, const char *path, const char *hint);
/* Error budgets: tu_err(family, err, tol) is true when err <= tol and keeps
 * the largest err / tol per family; tu_err_report() prints them. A family's
 * tolerance is meant to be at most about 3x the error it measures (ratio
 * 0.33 or more on the machine that set it), so a bug that adds error
 * shows; the comment beside each tolerance says what was measured. */
bool tu_err(const char *family, double err, double tol);
void tu_err_report(void);
/* Skip for what this machine lacks (a GPU, an instruction set): counted as
 * tu_missing's skips, but not a failure under CI=true. */
void tu_skip(const char *why);
/* main's return: cmocka's failure count, else 77 when a test was skipped
 * by tu_missing, else 0. */
int tu_result(int failed);
/* The kernel paths a model can be forced onto (pare_kernel_impl: ref, blas,
 * avx2, avx512), those this CPU runs; the others are printed as not run. */
int tu_kernel_paths(pare_kernel_impl out[4]);
/* Folder of an installed model by short name (minilm-l6, ...), from
 * $PARE_MODELS_DIR or <source>/.cache/models. Missing: tu_missing, with a
 * hint to run `make models`. */
const char *tu_model_dir(char *buf, size_t cap, const char *name);
/* Path of a shared data file: $PARE_DATA_DIR/rel, default
 * <source>/../shared/data/rel. Missing: tu_missing. */
const char *tu_data_path(char *buf, size_t cap, const char *rel);
/* The tweets of the SemEval E-c train file, by 1-based data line (header
 * excluded). Returns a malloc'd array of n malloc'd strings. */
char **tu_semeval_tweets(const int64_t *lines, int64_t n);
void tu_free_strings(char **s, int64_t n);
/* Max |a-b| over n floats. */
double tu_max_abs_diff(const float *a, const float *b, int64_t n);
/* Deterministic uniform floats in [lo, hi) from a 64-bit state. */
float tu_randf(uint64_t *state, float lo, float hi);
/* assert_int_equal(PARE_OK, s) with the error message printed on failure. */
#define tu_assert_ok(s, err)                                                       \
    do {                                                                           \
        pare_status s_ = (s);                                                      \
        if (s_ != PARE_OK) fail_msg("status %d: %s", (int)s_, (err)->msg);          \
    } while (0)

/* Whole file, NUL-terminated (fails the test on error). */
char *tu_slurp(const char *path, size_t *len);
/* FNV-1a 64 of the ids as little-endian int32 bytes (the golden files' hash). */
uint64_t tu_fnv1a64_ids(const int32_t *ids, int32_t n);
/* Next line of *cur (NUL-terminated in place, trailing \r stripped); NULL at the end. */
char *tu_next_line(char **cur);
/* Space-separated ids; returns how many (at most cap). */
int tu_parse_ids(const char *s, int32_t *ids, int cap);
/* Golden-file escapes (\\, \uXXXX, \UXXXXXXXX, \xHH a raw byte) to UTF-8;
 * returns the length. */
size_t tu_unescape(const char *s, char *out);

#endif
