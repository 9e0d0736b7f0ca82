/* The results database: SQLite in WAL mode, so readers (pare experiment
 * status/report) never block the runner and a killed writer leaves every
 * committed cell intact. One transaction per cell. Schema in SCHEMA. */
#include "experiment/exp_internal.h"

#include <string.h>

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
    "  PRIMARY KEY(cell, batch, seq));\n"
    "CREATE TABLE IF NOT EXISTS predictions(\n"
    "  cell INTEGER NOT NULL, split TEXT NOT NULL, n INTEGER, labels INTEGER, pred BLOB,\n"
    "  PRIMARY KEY(cell, split));\n";

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

pare_status exp_db_open(const char *path, bool create, sqlite3 **out, pare_err *err) {
    sqlite3 *db = NULL;
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        pare_status s = pare_err_set(err, PARE_ERR_IO, "%s: cannot open the results database: %s", path,
                                     db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return s;
    }
    sqlite3_busy_timeout(db, 30000);
    pare_status s = exp_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", err);
    if (!s) s = exp_db_exec(db, SCHEMA, err);
    if (s) {
        pare_err_wrap(err, "%s is not a pare results database", path);
        sqlite3_close(db);
        return s;
    }
    *out = db;
    return PARE_OK;
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
    if (sqlite3_step(st) == SQLITE_ROW) r = !strcmp((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    return r;
}

pare_status exp_db_delete_cell(sqlite3 *db, const char *experiment, const char *model,
                               const char *pipeline, pare_err *err) {
    static const char *const tables[] = {"metrics", "latency", "predictions"};
    sqlite3_stmt *st;
    pare_status s = PARE_OK;
    char sql[200];
    for (int i = 0; i < 4 && !s; i++) {
        if (i < 3)
            snprintf(sql, sizeof sql, "DELETE FROM %s WHERE cell IN (SELECT id FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3)", tables[i]);
        else
            snprintf(sql, sizeof sql, "DELETE FROM cells WHERE experiment=?1 AND model=?2 AND pipeline=?3");
        if ((s = exp_db_prepare(db, sql, &st, err))) break;
        sqlite3_bind_text(st, 1, experiment, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, pipeline, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) s = exp_db_fail(db, "delete", err);
        sqlite3_finalize(st);
    }
    return s;
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
