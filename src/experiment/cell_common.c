/* Recording a finished cell: one transaction that replaces any earlier row
 * of the cell and writes its row, metrics, latency rows (with the raw
 * samples) and predictions. Shared by the classification and LM cells. */
#include "experiment/exp_internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

char *exp_config_json_finish(cJSON *j, cJSON *dataset, cJSON *latency) {
    cJSON_AddItemToObject(j, "dataset", dataset);
    cJSON_AddItemToObject(j, "latency", latency);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int64_t exp_file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

int64_t exp_peak_rss(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)ru.ru_maxrss * 1024;
}

static char *samples_json(const exp_latency *l) {
    cJSON *a = cJSON_CreateArray();
    for (int64_t i = 0; a && i < l->n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(round(l->samples[i] * 1e4) / 1e4));
    char *s = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return s;
}

static pare_status step_done(sqlite3 *db, sqlite3_stmt *q, const char *what, pare_err *err) {
    return sqlite3_step(q) == SQLITE_DONE ? PARE_OK : exp_db_fail(db, what, err);
}

static pare_status write_cell(sqlite3 *db, const exp_cell *c, const exp_cell_out *o, pare_err *err) {
    const char *exp = c->cfg->name, *mname = c->cfg->models[c->model].name, *pname = c->cfg->pipelines[c->pipeline].name;
    pare_status s = exp_db_exec(db, "BEGIN IMMEDIATE", err);
    if (s) return s;
    sqlite3_stmt *q = NULL;
    char machine[300], feats[256], ago[32];
    pare_cpu_features cf;
    pare_cpu_detect(&cf);
    pare_cpu_features_str(&cf, feats, sizeof feats);
    exp_machine_describe(machine, sizeof machine);
    snprintf(ago, sizeof ago, "-%.3f seconds", o->wall_s);
    if ((s = exp_db_delete_cell(db, exp, mname, pname, err))) goto done;
    if ((s = exp_db_prepare(db,
                            "INSERT INTO cells(experiment, model, pipeline, ord, status, steps, config, git_rev, machine,"
                            " cpu_features, threads, started_at, finished_at, wall_s, train_s, disk_bytes, weight_bytes,"
                            " peak_rss_bytes, n_params, sparsity, artifact) VALUES(?1,?2,?3,?4,'ok',?5,?6,?7,?8,?9,?10,"
                            " strftime('%Y-%m-%dT%H:%M:%fZ','now', ?11), strftime('%Y-%m-%dT%H:%M:%fZ','now'),"
                            " ?12,?13,?14,?15,?16,?17,?18,?19)",
                            &q, err)))
        goto done;
    sqlite3_bind_text(q, 1, exp, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, mname, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, pname, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, c->order);
    sqlite3_bind_text(q, 5, o->steps, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, o->config_json ? o->config_json : "{}", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, c->git_rev ? c->git_rev : "unknown", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, machine, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 9, feats, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 10, o->threads);
    sqlite3_bind_text(q, 11, ago, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 12, o->wall_s);
    if (o->has_train) sqlite3_bind_double(q, 13, o->train_s);
    sqlite3_bind_int64(q, 14, o->disk);
    sqlite3_bind_int64(q, 15, o->weights);
    sqlite3_bind_int64(q, 16, o->rss);
    sqlite3_bind_int64(q, 17, o->n_params);
    sqlite3_bind_double(q, 18, o->sparsity);
    sqlite3_bind_text(q, 19, o->artifact ? o->artifact : "", -1, SQLITE_STATIC);
    if ((s = step_done(db, q, "insert cell", err))) goto done;
    sqlite3_finalize(q);
    q = NULL;
    const sqlite3_int64 id = sqlite3_last_insert_rowid(db);
    if ((s = exp_db_prepare(db, "INSERT INTO metrics(cell, split, name, value) VALUES(?1, 'test', ?2, ?3)", &q, err))) goto done;
    for (int i = 0; i < o->n_metrics && !s; i++) {
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, o->metrics[i].name, -1, SQLITE_STATIC);
        sqlite3_bind_double(q, 3, o->metrics[i].value);
        s = step_done(db, q, "insert metric", err);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (s || (s = exp_db_prepare(db,
                                 "INSERT INTO latency(cell, batch, seq, p50_ms, p90_ms, p99_ms, mean_ms, std_ms, min_ms,"
                                 " max_ms, throughput, reps, samples, warmup, others_cpu)"
                                 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                                 &q, err)))
        goto done;
    for (int i = 0; i < o->n_lat && !s; i++) {
        const exp_latency *l = &o->lat[i];
        char *js = samples_json(l);
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, l->batch);
        sqlite3_bind_int64(q, 3, l->seq);
        const double v[] = {l->p50, l->p90, l->p99, l->mean, l->std, l->min, l->max, l->throughput};
        for (int k = 0; k < 8; k++) sqlite3_bind_double(q, 4 + k, v[k]);
        sqlite3_bind_int64(q, 12, l->n);
        sqlite3_bind_text(q, 13, js ? js : "[]", -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 14, l->warmup);
        if (l->others_cpu >= 0) sqlite3_bind_double(q, 15, l->others_cpu);
        else sqlite3_bind_null(q, 15);
        free(js);
        s = step_done(db, q, "insert latency", err);
    }
    sqlite3_finalize(q);
    q = NULL;
    if (s || !o->pred) goto done;
    if ((s = exp_db_prepare(db, "INSERT INTO predictions(cell, split, n, labels, pred) VALUES(?1, 'test', ?2, ?3, ?4)", &q, err)))
        goto done;
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, o->pred_n);
    sqlite3_bind_int64(q, 3, o->pred_L);
    sqlite3_bind_blob(q, 4, o->pred, (int)(o->pred_n * o->pred_L), SQLITE_STATIC);
    s = step_done(db, q, "insert predictions", err);
done:
    sqlite3_finalize(q);
    if (s) {
        exp_db_exec(db, "ROLLBACK", NULL);
        return s;
    }
    return exp_db_exec(db, "COMMIT", err);
}

/* The re-measured baseline: its first latency row beside the one recorded
 * when the cell ran. */
static pare_status write_drift(sqlite3 *db, const exp_cell *c, const exp_cell_out *o, pare_err *err) {
    const char *mname = c->cfg->models[c->model].name, *pname = c->cfg->pipelines[c->pipeline].name;
    sqlite3_stmt *q;
    pare_status s = exp_db_prepare(db,
                                   "INSERT OR REPLACE INTO drift(experiment, model, pipeline, batch, seq, first_p50_ms, end_p50_ms,"
                                   " others_cpu, measured_at) VALUES(?1, ?2, ?3, ?4, ?5, (SELECT l.p50_ms FROM latency l JOIN cells"
                                   " c ON l.cell = c.id WHERE c.experiment=?1 AND c.model=?2 AND c.pipeline=?3 AND l.batch=?4 AND"
                                   " l.seq=?5), ?6, ?7, strftime('%Y-%m-%dT%H:%M:%SZ','now'))",
                                   &q, err);
    if (s) return s;
    const exp_latency *l = &o->lat[0];
    sqlite3_bind_text(q, 1, c->cfg->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, mname, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, pname, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 4, l->batch);
    sqlite3_bind_int64(q, 5, l->seq);
    sqlite3_bind_double(q, 6, l->p50);
    if (l->others_cpu >= 0) sqlite3_bind_double(q, 7, l->others_cpu);
    s = step_done(db, q, "insert drift", err);
    sqlite3_finalize(q);
    return s;
}

int exp_cell_finish(const exp_cell *c, pare_status s, const pare_err *cell_err, exp_cell_out *out) {
    sqlite3 *db = NULL;
    pare_err derr = {0};
    int rc = 0;
    const char *mname = c->cfg->models[c->model].name, *pname = c->cfg->pipelines[c->pipeline].name;
    if (exp_db_open(c->db_path, EXP_DB_WRITE, &db, &derr)) {
        fprintf(stderr, "pare experiment: %s\n", derr.msg);
        rc = 2;
    } else if (c->remeasure) {
        if (s) fprintf(stderr, "  re-measuring the baseline failed: %s\n", cell_err->msg);
        rc = s ? 1 : write_drift(db, c, out, &derr) ? 2 : 0;
        if (rc == 2) fprintf(stderr, "pare experiment: %s\n", derr.msg);
    } else if (s) {
        fprintf(stderr, "  failed: %s\n", cell_err->msg);
        rc = exp_db_record_failure(db, c->cfg->name, mname, pname, c->order, cell_err->msg, out->wall_s, &derr) ? 2 : 1;
    } else if (write_cell(db, c, out, &derr)) {
        fprintf(stderr, "pare experiment: %s\n", derr.msg);
        rc = 2;
    }
    exp_db_close(db);
    for (int i = 0; i < out->n_lat; i++) free(out->lat[i].samples);
    free(out->config_json);
    return rc;
}
