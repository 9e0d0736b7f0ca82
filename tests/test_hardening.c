/* Regressions of the hostile-input trial (issue 18): outputs complete or
 * absent, NaN hyper-parameters and logits refused, the quadratic hangs
 * (merges of tokenizer.json, long words, deep YAML), results databases with
 * NULLs, damage or another schema. The CLI side is tests/cli_hardening.sh
 * and tests/cli_careless.sh. */
#include "testutil.h"
#include "experiment/exp_internal.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state) {
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/pare-hardening-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *tpath(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "%s/%s", tmpdir, name);
    return buf;
}

static int count_entries(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1) n = -1;
    if (p) pclose(p);
    return n;
}

/* ------------------------------------------------------------ outputs */

static void test_wfile(void **state) {
    (void)state;
    char p[512], link[512], d[512];
    pare_err err = {0};
    snprintf(d, sizeof d, "%s/w", tmpdir);
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(p, sizeof p, "%s/a.bin", d);
    tu_assert_ok(pare_write_file(p, "old contents", 12, &err), &err);
    /* the input mapped while the output replaces it: the mapping keeps the old bytes */
    size_t n;
    char *old = tu_slurp(p, &n);
    FILE *f = fopen(p, "rb");
    const char *map = mmap(NULL, 12, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    assert_true(map != MAP_FAILED);
    tu_assert_ok(pare_write_file(p, "new", 3, &err), &err);
    assert_memory_equal(map, "old contents", 12);
    munmap((void *)map, 12);
    fclose(f);
    free(old);
    char *now = tu_slurp(p, &n);
    assert_int_equal(n, 3);
    free(now);
    /* an aborted write leaves nothing, not even the temporary file */
    pare_wfile w;
    char q[512];
    snprintf(q, sizeof q, "%s/b.bin", d);
    tu_assert_ok(pare_wfile_open(&w, q, &err), &err);
    fputs("partial", w.f);
    pare_wfile_abort(&w);
    assert_int_not_equal(access(q, F_OK), 0);
    assert_int_equal(count_entries(d), 1);
    /* through a symlink: the link is replaced, its target is not touched */
    snprintf(link, sizeof link, "%s/link.bin", d);
    assert_int_equal(symlink(p, link), 0);
    tu_assert_ok(pare_write_file(link, "via link", 8, &err), &err);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    now = tu_slurp(p, &n);
    assert_int_equal(n, 3);
    free(now);
    /* a folder where a file is wanted */
    assert_int_equal(pare_write_file(d, "x", 1, &err), PARE_ERR_INVALID);
    /* a folder that cannot be written */
    assert_int_equal(pare_write_file("/proc/pare-no/such", "x", 1, &err), PARE_ERR_WRITE);
}

static pare_status write_two(const char *dir, void *ctx, pare_err *err) {
    char p[PARE_PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    pare_status s = pare_write_text(p, (const char *)ctx, err);
    snprintf(p, sizeof p, "%s/config.json", dir);
    return s ? s : pare_write_text(p, "{}", err);
}

static pare_status write_fail(const char *dir, void *ctx, pare_err *err) {
    pare_status s = write_two(dir, ctx, err);
    return s ? s : pare_err_set(err, PARE_ERR_WRITE, "disk full (pretend)");
}

static void test_outdir(void **state) {
    (void)state;
    char d[512], p[600];
    pare_err err = {0};
    snprintf(d, sizeof d, "%s/out/model", tmpdir);
    /* a failed write leaves no folder (and no temporary one) */
    assert_int_equal(pare_outdir_write(d, write_fail, "v1", &err), PARE_ERR_WRITE);
    assert_int_not_equal(access(d, F_OK), 0);
    snprintf(p, sizeof p, "%s/out", tmpdir);
    assert_int_equal(count_entries(p), 0);
    tu_assert_ok(pare_outdir_write(d, write_two, "v1", &err), &err);
    assert_true(pare_output_exists(d));
    /* into an existing folder: a file of the user's stays, ours are replaced */
    snprintf(p, sizeof p, "%s/notes.txt", d);
    tu_assert_ok(pare_write_text(p, "mine", &err), &err);
    tu_assert_ok(pare_outdir_write(d, write_two, "v2", &err), &err);
    size_t n;
    char *t = tu_slurp(p, &n);
    assert_string_equal(t, "mine\n");
    free(t);
    snprintf(p, sizeof p, "%s/model.safetensors", d);
    t = tu_slurp(p, &n);
    assert_string_equal(t, "v2\n");
    free(t);
    assert_int_equal(count_entries(d), 3);
    /* a failed rewrite of an existing folder keeps its old files */
    assert_int_equal(pare_outdir_write(d, write_fail, "v3", &err), PARE_ERR_WRITE);
    t = tu_slurp(p, &n);
    assert_string_equal(t, "v2\n");
    free(t);
    assert_int_equal(count_entries(d), 3);
    /* an empty folder or a missing one is not an existing output */
    snprintf(p, sizeof p, "%s/empty", tmpdir);
    assert_int_equal(mkdir(p, 0755), 0);
    assert_false(pare_output_exists(p));
    snprintf(p, sizeof p, "%s/absent", tmpdir);
    assert_false(pare_output_exists(p));
}

/* ------------------------------------------------------------ NaN */

static void test_sampler_bad_logits(void **state) {
    (void)state;
    pare_err err = {0};
    for (int greedy = 0; greedy < 2; greedy++) {
        pare_sampler_opts o;
        pare_sampler_opts_default(&o);
        o.temperature = greedy ? 0.0f : 0.8f;
        o.top_k = 40;
        o.top_p = 0.9f;
        o.repeat_penalty = 1.1f;
        pare_sampler *s;
        tu_assert_ok(pare_sampler_create(&o, 8, &s, &err), &err);
        float l[8];
        const int32_t hist[3] = {1, 2, 3};
        for (int i = 0; i < 8; i++) l[i] = NAN;
        assert_int_equal(pare_sampler_sample(s, l, hist, 3), PARE_SAMPLER_BAD_LOGITS);
        for (int i = 0; i < 8; i++) l[i] = (float)i;
        l[5] = NAN;
        assert_int_equal(pare_sampler_sample(s, l, hist, 3), PARE_SAMPLER_BAD_LOGITS);
        l[5] = INFINITY;
        assert_int_equal(pare_sampler_sample(s, l, hist, 3), PARE_SAMPLER_BAD_LOGITS);
        for (int i = 0; i < 8; i++) l[i] = -INFINITY;
        assert_int_equal(pare_sampler_sample(s, l, hist, 3), PARE_SAMPLER_BAD_LOGITS);
        l[6] = 1;
        assert_int_equal(pare_sampler_sample(s, l, hist, 3), 6); /* -inf elsewhere is fine */
        pare_sampler_free(s);
    }
}

static pare_status nan_logits(void *ctx, const int32_t *tokens, int64_t n, float *out, pare_err *err) {
    (void)ctx, (void)tokens, (void)err;
    for (int64_t i = 0; i < n * 4; i++) out[i] = i / 4 == 5 ? NAN : 0.0f; /* position 5: scored (ctx/2 on) */
    return PARE_OK;
}

static void test_perplexity_nan(void **state) {
    (void)state;
    int32_t tok[16] = {0};
    pare_ppl_opts o = {.ctx = 8};
    pare_ppl_result r;
    pare_err err = {0};
    assert_int_equal(pare_perplexity(tok, 16, 4, &o, nan_logits, NULL, NULL, NULL, &r, &err), PARE_ERR_NUMERIC);
    assert_non_null(strstr(err.msg, "NaN"));
    assert_int_equal(pare_status_exit_code(PARE_ERR_NUMERIC), 1);
}

/* A copy of a GGUF with one f32 key set to v (key may be NULL), a tensor
 * reshaped to 2-D [n, 1] (reshape may be NULL) and an f32 tensor filled
 * with NaN (nan may be NULL). */
static void gguf_mutant(const char *src, const char *dst, const char *key, float v, const char *reshape, const char *nan) {
    pare_err err = {0};
    pare_gguf *g;
    tu_assert_ok(pare_gguf_open(src, &g, &err), &err);
    pare_gguf_writer *w = pare_gguf_writer_create();
    assert_non_null(w);
    for (int64_t i = 0; i < pare_gguf_kv_count(g); i++) {
        if (key && !strcmp(pare_gguf_kv_key(g, i), key)) tu_assert_ok(pare_gguf_writer_add_f32(w, key, v, &err), &err);
        else tu_assert_ok(pare_gguf_writer_copy_kv(w, g, i, &err), &err);
    }
    float *nan_data = NULL;
    for (int64_t i = 0; i < pare_gguf_tensor_count(g); i++) {
        const pare_gguf_tensor *t = pare_gguf_tensor_get(g, i);
        int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
        int32_t nd = t->n_dims;
        const void *data = t->data;
        if (reshape && !strcmp(t->name, reshape)) nd = 2, ne[1] = 1;
        if (nan && !strcmp(t->name, nan)) {
            assert_int_equal(t->type, PARE_Q_F32);
            nan_data = malloc(t->nbytes);
            for (size_t k = 0; k < t->nbytes / 4; k++) nan_data[k] = NAN;
            data = nan_data;
        }
        tu_assert_ok(pare_gguf_writer_add_tensor(w, t->name, t->type, nd, ne, data, t->nbytes, &err), &err);
    }
    tu_assert_ok(pare_gguf_writer_write(w, dst, &err), &err);
    pare_gguf_writer_free(w);
    free(nan_data);
    pare_gguf_close(g);
}

static void expect_load_error(const char *path, const char *needle) {
    pare_err err = {0};
    pare_llama *m = NULL;
    pare_llama_params p = pare_llama_default_params();
    p.n_threads = 1;
    assert_int_equal(pare_llama_load(path, &p, &m, &err), PARE_ERR_FORMAT);
    if (!strstr(err.msg, needle)) fail_msg("'%s' lacks '%s'", err.msg, needle);
    assert_null(m);
}

static int run_cli(const char *args) {
    const char *cli = getenv("PARE_CLI");
    if (!cli) fail_msg("PARE_CLI is not set (run through ctest)");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' %s > /dev/null 2> '%s/cli.err'", cli, args, tmpdir);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static void test_gguf_hyperparameters(void **state) {
    (void)state;
    char dir[512], src[600], dst[600], args[1500];
    snprintf(src, sizeof src, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", tu_model_dir(dir, sizeof dir, "smollm2"));
    tpath(dst, sizeof dst, "mutant.gguf");
    gguf_mutant(src, dst, "llama.rope.freq_base", NAN, NULL, NULL);
    expect_load_error(dst, "freq_base) nan is not a finite number");
    gguf_mutant(src, dst, "llama.attention.layer_norm_rms_epsilon", -1e-5f, NULL, NULL);
    expect_load_error(dst, "rms_norm_eps -1e-05 is not a finite number");
    gguf_mutant(src, dst, "llama.attention.layer_norm_rms_epsilon", INFINITY, NULL, NULL);
    expect_load_error(dst, "rms_norm_eps inf");
    gguf_mutant(src, dst, NULL, 0, "output_norm.weight", NULL);
    expect_load_error(dst, "tensor 'output_norm.weight' is [1 x 576] (2-D), expected a vector of 576");
    /* NaN weights load (nothing to check them against) but the logits they
     * give are an error, exit 1, in generate and perplexity */
    gguf_mutant(src, dst, NULL, 0, NULL, "output_norm.weight");
    snprintf(args, sizeof args, "generate '%s' --prompt 'Hello there' --max-tokens 4", dst);
    assert_int_equal(run_cli(args), 1);
    char ppl[600];
    tpath(ppl, sizeof ppl, "text.txt");
    FILE *f = fopen(ppl, "w");
    for (int i = 0; i < 200; i++) fprintf(f, "The quick brown fox jumps over the lazy dog. ");
    fclose(f);
    snprintf(args, sizeof args, "perplexity '%s' '%s' --ctx 64 --chunks 2", dst, ppl);
    assert_int_equal(run_cli(args), 1);
    size_t n;
    char *e = tu_slurp(tpath(src, sizeof src, "cli.err"), &n);
    assert_non_null(strstr(e, "NaN or infinite"));
    free(e);
}

/* ------------------------------------------------------------ quadratic hangs */

static void put_quoted(char *j, size_t *n, const char *a, const char *b) {
    j[(*n)++] = '"';
    for (const char *c = a; *c; c++) {
        if (*c == '"' || *c == '\\') j[(*n)++] = '\\';
        j[(*n)++] = *c;
    }
    if (b) {
        j[(*n)++] = ' ';
        for (const char *c = b; *c; c++) {
            if (*c == '"' || *c == '\\') j[(*n)++] = '\\';
            j[(*n)++] = *c;
        }
    }
    j[(*n)++] = '"';
}

/* tokenizer.json with n_merges merges over the 94 printable ASCII
 * characters: every pair, then pair + character. */
static char *synthetic_tokenizer(int n_merges, size_t *len) {
    size_t cap = (size_t)n_merges * 40 + 65536, n = 0;
    char *j = malloc(cap);
    enum { A = 94 };
    n += (size_t)sprintf(j + n, "{\"model\": {\"type\": \"BPE\", \"vocab\": {");
    int id = 0;
    for (int k = 0; k < A + n_merges; k++) { /* 1, then 2, then 3 characters */
        char s[4] = {0};
        if (k < A) s[0] = (char)('!' + k);
        else if (k < A + A * A) s[0] = (char)('!' + (k - A) / A), s[1] = (char)('!' + (k - A) % A);
        else s[0] = (char)('!' + (k - A - A * A) / (A * A)), s[1] = (char)('!' + (k - A - A * A) / A % A), s[2] = (char)('!' + (k - A) % A);
        if (id) j[n++] = ',';
        put_quoted(j, &n, s, NULL);
        n += (size_t)sprintf(j + n, ": %d", id++);
    }
    n += (size_t)sprintf(j + n, "}, \"merges\": [");
    for (int m = 0; m < n_merges; m++) {
        char l[3] = {0}, r[2] = {0};
        if (m < A * A) l[0] = (char)('!' + m / A), r[0] = (char)('!' + m % A);
        else l[0] = (char)('!' + (m - A * A) / (A * A)), l[1] = (char)('!' + (m - A * A) / A % A), r[0] = (char)('!' + m % A);
        if (m) j[n++] = ',';
        put_quoted(j, &n, l, r);
    }
    n += (size_t)sprintf(j + n, "]}, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true},"
                                " \"added_tokens\": []}");
    assert_true(n < cap);
    *len = n;
    return j;
}

static void test_tokenizer_json_merges(void **state) {
    (void)state;
    size_t len;
    char *j = synthetic_tokenizer(250000, &len); /* 5x SmolLM2's 49k; about 70 s before the fix */
    pare_err err = {0};
    pare_bpe *t;
    double t0 = pare_time_now();
    tu_assert_ok(pare_bpe_from_json(j, len, NULL, 0, "synthetic.json", &t, &err), &err);
    const double took = pare_time_now() - t0;
    int32_t *ids;
    int64_t n;
    tu_assert_ok(pare_bpe_encode(t, "abcd", 4, false, &ids, &n, &err), &err);
    assert_int_equal(n, 2); /* "abc" (a 3-character merge) + "d" */
    free(ids);
    pare_bpe_free(t);
    free(j);
    if (took > 10) fail_msg("250k merges took %.1f s", took); /* 0.3 s here */
}

static void test_long_word(void **state) {
    (void)state;
    char dir[512], path[600];
    snprintf(path, sizeof path, "%s/SmolLM2-135M-Instruct.Q4_1.gguf", tu_model_dir(dir, sizeof dir, "smollm2"));
    pare_err err = {0};
    pare_bpe *t;
    tu_assert_ok(pare_bpe_load(path, &t, &err), &err);
    const size_t n = 1000000; /* 1M characters without a space: no result in a minute before the fix */
    char *s = malloc(n);
    uint64_t st = 7;
    for (size_t i = 0; i < n; i++) s[i] = (char)('a' + pare_splitmix64(&st) % 10);
    int32_t *ids;
    int64_t k;
    double t0 = pare_time_now();
    tu_assert_ok(pare_bpe_encode(t, s, n, false, &ids, &k, &err), &err);
    const double took = pare_time_now() - t0;
    assert_true(k > 100000 && k < (int64_t)n);
    free(ids);
    /* bytes without a token are dropped, merging stops at them (llama.cpp) */
    int64_t dropped;
    tu_assert_ok(pare_bpe_encode_ex(t, "a\x04" "b", 3, false, &ids, &k, &dropped, &err), &err);
    assert_int_equal(k, 2);
    assert_int_equal(ids[0], 81);
    assert_int_equal(ids[1], 82);
    assert_int_equal(dropped, 1);
    free(ids);
    free(s);
    pare_bpe_free(t);
    if (took > 20) fail_msg("1M characters took %.1f s", took); /* 0.4 s here */
}

static void test_yaml_limits(void **state) {
    (void)state;
    const size_t depth = 100000; /* 53 s in libyaml before the fix */
    char *y = malloc(2 * depth + 16);
    size_t n = (size_t)sprintf(y, "name: [");
    for (size_t i = 0; i < depth; i++) y[n++] = '[';
    for (size_t i = 0; i < depth + 1; i++) y[n++] = ']';
    y[n] = 0;
    pare_exp_config cfg;
    pare_err err = {0};
    double t0 = pare_time_now();
    assert_int_equal(pare_exp_config_parse(y, n, "deep.yaml", ".", false, &cfg, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "deep.yaml:1: nested more than 64 levels deep"));
    assert_true(pare_time_now() - t0 < 5);
    free(y);
    const char *multi = "name: a\n---\nname: b\n";
    assert_int_equal(pare_exp_config_parse(multi, strlen(multi), "multi.yaml", ".", false, &cfg, &err), PARE_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "multi.yaml:2: a second YAML document"));
}

/* ------------------------------------------------------------ results databases */

static void sql(sqlite3 *db, const char *s) {
    char *msg = NULL;
    if (sqlite3_exec(db, s, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", s, msg);
}

static void test_db_nulls(void **state) {
    (void)state;
    char p[512], out[512];
    tpath(p, sizeof p, "nulls.db");
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    /* the columns pare reads, without NOT NULL, holding NULLs */
    sql(db, "CREATE TABLE experiments(name, file, config, config_hash, created_at, updated_at);"
            "CREATE TABLE cells(id INTEGER PRIMARY KEY, experiment, model, pipeline, ord, status, error, steps, config,"
            " git_rev, machine, cpu_features, threads, started_at, finished_at, wall_s, train_s, disk_bytes, weight_bytes,"
            " peak_rss_bytes, n_params, sparsity, artifact);"
            "CREATE TABLE metrics(cell, split, name, value);"
            "CREATE TABLE latency(cell, batch, seq, p50_ms, p90_ms, p99_ms, mean_ms, std_ms, min_ms, max_ms, throughput, reps, samples);"
            "CREATE TABLE predictions(cell, split, n, labels, pred);"
            "INSERT INTO experiments VALUES('e', NULL, NULL, NULL, NULL, NULL);"
            "INSERT INTO cells(id, experiment, model, pipeline, status) VALUES(1, 'e', NULL, NULL, NULL), (2, 'e', 'm', 'p', 'ok');"
            "INSERT INTO metrics VALUES(1, 'test', NULL, NULL), (2, 'test', 'exact_match', 0.5);"
            "INSERT INTO latency(cell, batch, seq) VALUES(1, 1, 8);");
    sqlite3_close(db);
    pare_err err = {0};
    FILE *devnull = fopen("/dev/null", "w");
    tu_assert_ok(pare_exp_status(p, devnull, &err), &err);
    fclose(devnull);
    tu_assert_ok(pare_exp_report(p, NULL, tpath(out, sizeof out, "nulls-report"), &err), &err);
    sqlite3 *d2;
    tu_assert_ok(exp_db_open(p, EXP_DB_READ, &d2, &err), &err);
    assert_int_equal(exp_db_cell_status(d2, "e", "m", "p"), 1);
    exp_db_close(d2);
}

static void expect_db_refused(const char *p, const char *needle) {
    sqlite3 *db = NULL;
    pare_err err = {0};
    for (int mode = EXP_DB_READ; mode <= EXP_DB_CREATE; mode++) {
        pare_status s = exp_db_open(p, (exp_db_mode)mode, &db, &err);
        if (s == PARE_OK || !strstr(err.msg, needle)) fail_msg("%s (mode %d): '%s' lacks '%s'", p, mode, err.msg, needle);
        assert_null(db);
    }
}

static void test_db_refused(void **state) {
    (void)state;
    char p[512], q[512];
    /* garbage */
    FILE *f = fopen(tpath(p, sizeof p, "garbage.db"), "wb");
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    expect_db_refused(p, "garbage.db");
    /* another schema */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(tpath(p, sizeof p, "other.db"), &db), SQLITE_OK);
    sql(db, "CREATE TABLE invoices(id, amount); INSERT INTO invoices VALUES(1, 2);");
    sqlite3_close(db);
    expect_db_refused(p, "is not a pare results database");
    /* a damaged one: a real database with a page overwritten */
    pare_err err = {0};
    tpath(q, sizeof q, "damaged.db");
    sqlite3 *d2;
    tu_assert_ok(exp_db_open(q, EXP_DB_CREATE, &d2, &err), &err);
    sql(d2, "PRAGMA journal_mode=DELETE;");
    for (int i = 0; i < 3000; i++) {
        char ins[200];
        snprintf(ins, sizeof ins, "INSERT INTO metrics VALUES(%d, 'test', 'm%d', %d.5);", i, i, i);
        sql(d2, ins);
    }
    exp_db_close(d2);
    struct stat st;
    assert_int_equal(stat(q, &st), 0);
    assert_true(st.st_size > 8 * 4096);
    f = fopen(q, "r+b");
    fseek(f, st.st_size / 2, SEEK_SET); /* inside the metrics table's pages */
    for (int i = 0; i < 2000; i++) fputc(0xA5, f);
    fclose(f);
    expect_db_refused(q, "damaged.db");
}

static void test_db_read_only_access(void **state) {
    (void)state;
    char p[512], out[512];
    pare_err err = {0};
    tpath(p, sizeof p, "ro.db");
    sqlite3 *db;
    tu_assert_ok(exp_db_open(p, EXP_DB_CREATE, &db, &err), &err);
    sql(db, "INSERT INTO experiments VALUES('e', 'f.yaml', NULL, 'h', 'c', 'u');"
            "INSERT INTO cells(id, experiment, model, pipeline, ord, status) VALUES(1, 'e', 'm', 'p', 0, 'ok');"
            "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;");
    exp_db_close(db);
    struct stat a, b;
    assert_int_equal(stat(p, &a), 0);
    size_t n0, n1;
    char *before = tu_slurp(p, &n0);
    FILE *devnull = fopen("/dev/null", "w");
    tu_assert_ok(pare_exp_status(p, devnull, &err), &err);
    fclose(devnull);
    tu_assert_ok(pare_exp_report(p, "e", tpath(out, sizeof out, "ro-report"), &err), &err);
    char *after = tu_slurp(p, &n1);
    assert_int_equal(stat(p, &b), 0);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0); /* read-only: not a byte written */
    free(before), free(after);
    char shm[600];
    snprintf(shm, sizeof shm, "%s-wal", p);
    assert_int_not_equal(access(shm, F_OK), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wfile),
        cmocka_unit_test(test_outdir),
        cmocka_unit_test(test_sampler_bad_logits),
        cmocka_unit_test(test_perplexity_nan),
        cmocka_unit_test(test_gguf_hyperparameters),
        cmocka_unit_test(test_tokenizer_json_merges),
        cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_yaml_limits),
        cmocka_unit_test(test_db_nulls),
        cmocka_unit_test(test_db_refused),
        cmocka_unit_test(test_db_read_only_access),
    };
    return tu_result(cmocka_run_group_tests(tests, setup, teardown));
}
