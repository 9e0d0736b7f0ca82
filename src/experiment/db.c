/* The results database: SQLite in WAL mode, so readers (pare experiment
 * status/report) never block the runner and a killed writer leaves every
 * committed cell intact. One transaction per cell. Schema in SCHEMA. */
#include "experiment/exp_internal.h"

#include <stdlib.h>
#include <string.h>

/* The baseline measured again after the other cells (exp_db_drift). */
#define DRIFT_TABLE                                                                                         \
    "CREATE TABLE IF NOT EXISTS drift(\n"                                                                    \
    "  experiment TEXT NOT NULL, model TEXT NOT NULL, pipeline TEXT NOT NULL, batch INTEGER, seq INTEGER,\n" \
    "  first_p50_ms REAL, end_p50_ms REAL, others_cpu REAL, measured_at TEXT,\n"                           \
    "  PRIMARY KEY(experiment, model, pipeline));\n"

static const char *SCHEMA =
    "CREATE TABLE IF NOT EXISTS experiments(\n"
    "  name TEXT PRIMARY KEY, file TEXT, config TEXT, config_hash TEXT,\n"
    "  created_at TEXT, updated_at TEXT);\n"
    "CREATE TABLE IF NOT EXISTS cells(\n"
    "  id INTEGER PRIMARY KEY, experiment TEXT NOT NULL, model TEXT NOT NULL,\n"
    "  pipeline TEXT NOT NULL, ord INTEGER, status TEXT NOT NULL, error TEXT,\n"
    "  steps TEXT, config TEXT, git_rev TEXT, machine TEXT, cpu_features TEXT,\n"
    "  threads INTEGER, started_at TEXT, finished_at TEXT, wall_s REAL,\n"
    "  train_s REAL, disk_bytes INTEGER, weight_bytes INTEGER, peak_rss_bytes INTEGER,\n"
    "  n_params INTEGER, sparsity REAL, artifact TEXT,\n"
    "  UNIQUE(experiment, model, pipeline));\n"
    "CREATE TABLE IF NOT EXISTS metrics(\n"
    "  cell INTEGER NOT NULL, split TEXT NOT NULL, name TEXT NOT NULL, value REAL,\n"
    "  PRIMARY KEY(cell, split, name));\n"
    "CREATE TABLE IF NOT EXISTS latency(\n"
    "  cell INTEGER NOT NULL, batch INTEGER NOT NULL, seq INTEGER NOT NULL,\n"
    "  p50_ms REAL, p90_ms REAL, p99_ms REAL, mean_ms REAL, std_ms REAL,\n"
    "  min_ms REAL, max_ms REAL, throughput REAL, reps INTEGER, samples TEXT,\n"
    "  warmup INTEGER, others_cpu REAL,\n"
    "  PRIMARY KEY(cell, batch, seq));\n"
    "CREATE TABLE IF NOT EXISTS predictions(\n"
    "  cell INTEGER NOT NULL, split TEXT NOT NULL, n INTEGER, labels INTEGER, pred BLOB,\n"
    "  PRIMARY KEY(cell, split));\n"
    DRIFT_TABLE;

pare_status exp_db_fail(sqlite3 *db, const char *what, pare_err *err) {
    return pare_err_set(err, PARE_ERR_IO, "%s: %s: %s", db ? sqlite3_db_filename(db, "main") : "database", what,
                        db ? sqlite3_errmsg(db) : "out of memory");
}

pare_status exp_db_exec(sqlite3 *db, const char *sql, pare_err *err) {
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return PARE_OK;
    pare_status s = pare_err_set(err, PARE_ERR_IO, "%s: %s", sqlite3_db_filename(db, "main"), msg ? msg : "error");
    sqlite3_free(msg);
    return s;
}

pare_status exp_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, pare_err *err) {
    if (sqlite3_prepare_v2(db, sql, -1, st, NULL) == SQLITE_OK) return PARE_OK;
    return exp_db_fail(db, "prepare", err);
}

/* The columns every reader and writer uses, one probe per table: preparing
 * it fails on a database of another schema. */
static const char *const PROBES[] = {
    "SELECT name, file, config, config_hash, created_at, updated_at FROM experiments",
    "SELECT id, experiment, model, pipeline, ord, status, error, steps, config, git_rev, machine, cpu_features,"
    " threads, started_at, finished_at, wall_s, train_s, disk_bytes, weight_bytes, peak_rss_bytes, n_params,"
    " sparsity, artifact FROM cells",
    "SELECT cell, split, name, value FROM metrics",
    "SELECT cell, batch, seq, p50_ms, p90_ms, p99_ms, mean_ms, std_ms, min_ms, max_ms, throughput, reps, samples FROM latency",
    "SELECT cell, split, n, labels, pred FROM predictions",
};

/* "file:" URI of path with immutable=1: a database on read-only media,
 * whose -shm file cannot be created. */
static char *immutable_uri(const char *path) {
    size_t n = strlen(path);
    char *u = malloc(3 * n + 32), *p = u;
    if (!u) return NULL;
    p += sprintf(p, "file:");
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if (*c == '%' || *c == '?' || *c == '#' || *c < 0x21 || *c >= 0x7f) p += sprintf(p, "%%%02X", *c);
        else *p++ = (char)*c;
    }
    strcpy(p, "?immutable=1");
    return u;
}

static pare_status check_db(sqlite3 *db, const char *path, exp_db_mode mode, pare_err *err) {
    sqlite3_stmt *st;
    /* an empty file (or a new one) gets the schema when the runner opens it */
    int64_t n_tables = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: not a SQLite database (%s)", path, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW) n_tables = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (n_tables < 0) return pare_err_set(err, PARE_ERR_FORMAT, "%s: not a SQLite database (%s)", path, sqlite3_errmsg(db));
    if (n_tables == 0 && mode == EXP_DB_CREATE) return exp_db_exec(db, SCHEMA, err);
    if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) != SQLITE_OK)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: integrity check failed: %s", path, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    const char *msg = rc == SQLITE_ROW ? exp_db_text(st, 0) : sqlite3_errmsg(db);
    pare_status s = rc == SQLITE_ROW && !strcmp(msg, "ok")
                        ? PARE_OK
                        : pare_err_set(err, PARE_ERR_FORMAT, "%s: the database is damaged (PRAGMA quick_check: %.200s); "
                                       "restore it or start a new one", path, msg);
    sqlite3_finalize(st);
    for (size_t i = 0; !s && i < sizeof PROBES / sizeof *PROBES; i++) {
        if (sqlite3_prepare_v2(db, PROBES[i], -1, &st, NULL) != SQLITE_OK)
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s is not a pare results database (%s)", path, sqlite3_errmsg(db));
        sqlite3_finalize(st);
    }
    /* databases from before the warm-up and drift columns: add them */
    if (!s && mode != EXP_DB_READ && !exp_db_has(db, "SELECT warmup, others_cpu FROM latency"))
        s = exp_db_exec(db, "ALTER TABLE latency ADD COLUMN warmup INTEGER; ALTER TABLE latency ADD COLUMN others_cpu REAL;", err);
    if (!s && mode != EXP_DB_READ) s = exp_db_exec(db, DRIFT_TABLE, err);
    return s;
}

pare_status exp_db_open(const char *path, exp_db_mode mode, sqlite3 **out, pare_err *err) {
    *out = NULL;
    sqlite3 *db = NULL;
    int flags = mode == EXP_DB_READ ? SQLITE_OPEN_READONLY
                                    : SQLITE_OPEN_READWRITE | (mode == EXP_DB_CREATE ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    pare_status s = PARE_OK;
    if (rc == SQLITE_OK) sqlite3_busy_timeout(db, 30000);
    if (rc == SQLITE_OK && mode == EXP_DB_READ) {
        /* a WAL database on a read-only mount cannot make its -shm file:
         * read it as immutable then */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) != SQLITE_OK ||
            sqlite3_step(st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            sqlite3_close(db);
            db = NULL;
            char *uri = immutable_uri(path);
            rc = uri ? sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) : SQLITE_NOMEM;
            free(uri);
        } else {
            sqlite3_finalize(st);
        }
    }
    if (rc != SQLITE_OK) {
        s = pare_err_set(err, PARE_ERR_IO, "%s: cannot open the results database: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return s;
    }
    if (mode != EXP_DB_READ) s = exp_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
    if (!s) s = check_db(db, path, mode, err);
    if (s) {
        if (s == PARE_ERR_IO) pare_err_wrap(err, "%s is not a pare results database", path);
        sqlite3_close(db);
        return s;
    }
    *out = db;
    return PARE_OK;
}

bool exp_db_has(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    const bool ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
    sqlite3_finalize(st);
    return ok;
}

const char *exp_db_text(sqlite3_stmt *st, int i) {
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

void exp_db_close(sqlite3 *db) { sqlite3_close(db); }

int exp_db_cell_status(sqlite3 *db, const char *experiment, const char *model, const char *pipeline) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT status FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3", -1,
                           &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pipeline, -1, SQLITE_STATIC);
    int r = -1;
    if (sqlite3_step(st) == SQLITE_ROW) r = !strcmp(exp_db_text(st, 0), "ok");
    sqlite3_finalize(st);
    return r;
}

/* Bound parameters only: ?1 experiment, ?2 model, ?3 pipeline. */
static pare_status run_bound(sqlite3 *db, const char *const *sql, int n, const char *const *params, int n_params,
                             pare_err *err) {
    pare_status s = PARE_OK;
    for (int i = 0; i < n && !s; i++) {
        sqlite3_stmt *st;
        if ((s = exp_db_prepare(db, sql[i], &st, err))) break;
        for (int k = 0; k < n_params; k++) sqlite3_bind_text(st, k + 1, params[k], -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) s = exp_db_fail(db, "delete", err);
        sqlite3_finalize(st);
    }
    return s;
}

pare_status exp_db_delete_cell(sqlite3 *db, const char *experiment, const char *model,
                               const char *pipeline, pare_err *err) {
    static const char *const sql[] = {
        "DELETE FROM metrics WHERE cell IN (SELECT id FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3)",
        "DELETE FROM latency WHERE cell IN (SELECT id FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3)",
        "DELETE FROM predictions WHERE cell IN (SELECT id FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3)",
        "DELETE FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3",
    };
    return run_bound(db, sql, 4, (const char *const[]){experiment, model, pipeline}, 3, err);
}

pare_status exp_db_delete_experiment(sqlite3 *db, const char *experiment, pare_err *err) {
    static const char *const sql[] = {
        "DELETE FROM metrics WHERE cell IN (SELECT id FROM cells WHERE experiment=?1)",
        "DELETE FROM latency WHERE cell IN (SELECT id FROM cells WHERE experiment=?1)",
        "DELETE FROM predictions WHERE cell IN (SELECT id FROM cells WHERE experiment=?1)",
        "DELETE FROM cells WHERE experiment=?1",
        "DELETE FROM experiments WHERE name=?1",
    };
    pare_status s = exp_db_exec(db, "BEGIN IMMEDIATE", err);
    if (!s) s = run_bound(db, sql, 5, &experiment, 1, err);
    if (s) {
        exp_db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    return exp_db_exec(db, "COMMIT", err);
}

pare_status exp_db_record_failure(sqlite3 *db, const char *experiment, const char *model,
                                  const char *pipeline, int order, const char *error, double wall_s,
                                  pare_err *err) {
    pare_status s = exp_db_exec(db, "BEGIN IMMEDIATE", err);
    if (s) return s;
    if (!(s = exp_db_delete_cell(db, experiment, model, pipeline, err))) {
        sqlite3_stmt *st;
        if (!(s = exp_db_prepare(db,
                                 "INSERT INTO cells(experiment, model, pipeline, ord, status, error, finished_at, wall_s)"
                                 " VALUES(?1, ?2, ?3, ?4, 'failed', ?5, strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?6)",
                                 &st, err))) {
            sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, pipeline, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 4, order);
            sqlite3_bind_text(st, 5, error, -1, SQLITE_STATIC);
            sqlite3_bind_double(st, 6, wall_s);
            if (sqlite3_step(st) != SQLITE_DONE) s = exp_db_fail(db, "insert", err);
            sqlite3_finalize(st);
        }
    }
    if (s) {
        exp_db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    return exp_db_exec(db, "COMMIT", err);
}
