/* pare experiment run: the matrix of models x pipelines, one child process
 * per cell. The parent keeps no database connection across a fork; each
 * child opens its own, writes its cell in one transaction and exits, so a
 * crash of a cell is recorded as its failure and a kill of the runner
 * loses only the cell in flight (the child dies with it: PDEATHSIG). */
#define _GNU_SOURCE
#include "experiment/exp_internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static pare_status register_experiment(sqlite3 *db, const pare_exp_config *cfg, const pare_exp_run_opts *o,
                                       pare_err *err) {
    char hash[17];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)cfg->hash);
    sqlite3_stmt *st;
    pare_status s = exp_db_prepare(db, "SELECT config_hash, (SELECT count(*) FROM cells WHERE experiment=?1)"
                                       " FROM experiments WHERE name=?1", &st, err);
    if (s) return s;
    sqlite3_bind_text(st, 1, cfg->name, -1, SQLITE_STATIC);
    bool exists = false, same = false;
    int64_t n_cells = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        exists = true;
        same = !strcmp(exp_db_text(st, 0), hash);
        n_cells = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    const char *db_path = o->db_path;
    if (exists && o->fresh) {
        if ((s = exp_db_delete_experiment(db, cfg->name, err))) return s;
        exists = false;
    } else if (exists && n_cells > 0 && !o->resume) {
        return pare_err_set(err, PARE_ERR_INVALID,
                            "%s already holds %lld cells of experiment '%s': --resume to finish it, --fresh to start over",
                            db_path, (long long)n_cells, cfg->name);
    } else if (exists && !same && n_cells > 0) {
        return pare_err_set(err, PARE_ERR_INVALID,
                            "%s: experiment '%s' was recorded from a different version of %s; --fresh to start over "
                            "(or rename the experiment)",
                            db_path, cfg->name, cfg->file);
    }
    if ((s = exp_db_prepare(db, "INSERT INTO experiments(name, file, config, config_hash, created_at, updated_at)"
                                " VALUES(?1, ?2, ?3, ?4, strftime('%Y-%m-%dT%H:%M:%SZ','now'), strftime('%Y-%m-%dT%H:%M:%SZ','now'))"
                                " ON CONFLICT(name) DO UPDATE SET config=?3, config_hash=?4, file=?2,"
                                " updated_at=strftime('%Y-%m-%dT%H:%M:%SZ','now')", &st, err)))
        return s;
    sqlite3_bind_text(st, 1, cfg->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, cfg->file, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cfg->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) s = exp_db_fail(db, "register the experiment", err);
    sqlite3_finalize(st);
    return s;
}

static void fmt_secs(double s, char *buf, size_t cap) {
    if (s < 60) snprintf(buf, cap, "%.0f s", s);
    else if (s < 3600) snprintf(buf, cap, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else snprintf(buf, cap, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
}

/* mkdir -p of the folder holding path */
static void make_parent(const char *path) {
    char d[PARE_EXP_PATH];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash || slash == d) return;
    *slash = 0;
    pare_mkdir_p(d, NULL);
}

/* One runner per database: an exclusive flock on DB.artifacts/runner.lock,
 * held (with the pid written in it) until the runner exits; the cells,
 * forked, share it. Returns the descriptor, or -1 with err set. */
static int lock_runner(const char *art, const char *db_path, pare_err *err) {
    char path[PARE_EXP_PATH + 64];
    snprintf(path, sizeof path, "%s/runner.lock", art);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        pare_err_set(err, PARE_ERR_WRITE, "%s: cannot create the runner's lock: %s", path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = 0;
        pid[strcspn(pid, "\n")] = 0;
        pare_err_set(err, PARE_ERR_INVALID, "%s is in use by another `pare experiment run`%s%s%s; wait for it to finish "
                     "(pare experiment status shows its progress) or give this run another --db",
                     db_path, pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "");
        close(fd);
        return -1;
    }
    char pid[32];
    int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {} /* the pid is only for the message */
    return fd;
}

/* Fork a child that runs the cell and exits; *ws: its wait status. */
static pare_status run_child(const exp_cell *c, int *ws, pare_err *err) {
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) return pare_err_set(err, PARE_ERR_IO, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(3); /* the runner died before prctl */
        _exit(!strcmp(c->cfg->dataset.task, "lm") ? exp_cell_lm(c) : exp_cell_classify(c));
    }
    while (waitpid(pid, ws, 0) < 0 && errno == EINTR) {}
    return PARE_OK;
}

/* After the other cells, each model's baseline is measured again (its first
 * latency row): a speed that moved while the matrix ran (load, heat, the
 * clock) shows in the report as drift, next to speed-ups computed against
 * the first measurement. */
static void remeasure_baselines(const pare_exp_config *cfg, const pare_exp_run_opts *o, const char *art) {
    int bl = 0;
    for (int p = 0; p < cfg->n_pipelines; p++)
        if (!strcmp(cfg->pipelines[p].name, cfg->baseline)) bl = p;
    for (int m = 0; m < cfg->n_models; m++) {
        sqlite3 *db;
        if (exp_db_open(o->db_path, EXP_DB_READ, &db, NULL)) return;
        const int status = exp_db_cell_status(db, cfg->name, cfg->models[m].name, cfg->baseline);
        exp_db_close(db);
        if (status != 1) continue;
        exp_cell c = {.cfg = cfg, .model = m, .pipeline = bl, .order = m * cfg->n_pipelines + bl, .db_path = o->db_path,
                      .art_dir = art, .git_rev = o->git_rev, .threads = o->threads > 0 ? o->threads : cfg->latency.threads,
                      .remeasure = true};
        if (!o->quiet) fprintf(stderr, "[drift] %s / %s: measuring the baseline's speed again\n", cfg->models[m].name, cfg->baseline);
        int ws;
        if (run_child(&c, &ws, NULL) || !WIFEXITED(ws) || WEXITSTATUS(ws) != 0 || o->quiet) continue;
        if (exp_db_open(o->db_path, EXP_DB_READ, &db, NULL)) continue;
        sqlite3_stmt *st;
        if (!exp_db_prepare(db, "SELECT first_p50_ms, end_p50_ms FROM drift WHERE experiment=?1 AND model=?2 AND pipeline=?3",
                            &st, NULL)) {
            sqlite3_bind_text(st, 1, cfg->name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, cfg->models[m].name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, cfg->baseline, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_double(st, 0) > 0) {
                const double a = sqlite3_column_double(st, 0), b = sqlite3_column_double(st, 1);
                fprintf(stderr, "[drift] %s / %s: p50 %.3f ms first, %.3f ms now (%+.1f%%)\n", cfg->models[m].name, cfg->baseline,
                        a, b, 100.0 * (b / a - 1));
            }
            sqlite3_finalize(st);
        }
        exp_db_close(db);
    }
}

static pare_status run_locked(const pare_exp_config *cfg, const pare_exp_run_opts *o, const char *art, int *n_failed,
                              pare_err *err) {
    sqlite3 *db;
    pare_status s = exp_db_open(o->db_path, EXP_DB_CREATE, &db, err);
    if (s) return s;
    s = register_experiment(db, cfg, o, err);
    /* which cells remain */
    int total = cfg->n_models * cfg->n_pipelines, todo[PARE_EXP_MAX_MODELS * PARE_EXP_MAX_PIPELINES], n_todo = 0, done = 0;
    for (int i = 0; i < total && !s; i++) {
        const pare_exp_model *m = &cfg->models[i / cfg->n_pipelines];
        const pare_exp_pipeline *p = &cfg->pipelines[i % cfg->n_pipelines];
        if (o->only && !strstr(p->name, o->only)) continue;
        if (exp_db_cell_status(db, cfg->name, m->name, p->name) == 1) done++;
        else todo[n_todo++] = i;
    }
    exp_db_close(db);
    if (s) return s;
    if (!o->quiet)
        fprintf(stderr, "experiment %s: %d cells (%d models x %d pipelines), %d finished, %d to run; results in %s\n",
                cfg->name, total, cfg->n_models, cfg->n_pipelines, done, n_todo, o->db_path);
    int failed = 0;
    double t_start = pare_time_now();
    for (int k = 0; k < n_todo; k++) {
        const int i = todo[k];
        exp_cell c = {.cfg = cfg, .model = i / cfg->n_pipelines, .pipeline = i % cfg->n_pipelines, .order = i,
                      .db_path = o->db_path, .art_dir = art, .git_rev = o->git_rev,
                      .threads = o->threads > 0 ? o->threads : cfg->latency.threads};
        const pare_exp_model *m = &cfg->models[c.model];
        const pare_exp_pipeline *p = &cfg->pipelines[c.pipeline];
        if (!o->quiet) {
            char eta[32] = "?";
            if (k > 0) fmt_secs((pare_time_now() - t_start) / k * (n_todo - k), eta, sizeof eta);
            fprintf(stderr, "[%d/%d] %s / %s (overall %d/%d done, ETA %s)\n", k + 1, n_todo, m->name, p->name,
                    done + k, total, k ? eta : "after the first cell");
        }
        double t0 = pare_time_now();
        int ws;
        if ((s = run_child(&c, &ws, err))) return s;
        const double wall = pare_time_now() - t0;
        char msg[200] = "";
        if (WIFSIGNALED(ws)) snprintf(msg, sizeof msg, "the cell crashed: signal %d (%s)", WTERMSIG(ws), strsignal(WTERMSIG(ws)));
        else if (WEXITSTATUS(ws) >= 2) snprintf(msg, sizeof msg, "the cell could not record its result (exit %d)", WEXITSTATUS(ws));
        if (msg[0]) {
            pare_err e2 = {0};
            if (!exp_db_open(o->db_path, EXP_DB_WRITE, &db, &e2)) {
                exp_db_record_failure(db, cfg->name, m->name, p->name, i, msg, wall, &e2);
                exp_db_close(db);
            }
        }
        bool ok = !msg[0] && WEXITSTATUS(ws) == 0;
        failed += !ok;
        if (!o->quiet) {
            char t[32];
            fmt_secs(wall, t, sizeof t);
            fprintf(stderr, "[%d/%d] %s / %s: %s in %s%s%s\n", k + 1, n_todo, m->name, p->name, ok ? "done" : "FAILED", t,
                    msg[0] ? ": " : "", msg);
        }
    }
    if (n_todo > 1) remeasure_baselines(cfg, o, art);
    if (!o->quiet) {
        char t[32];
        fmt_secs(pare_time_now() - t_start, t, sizeof t);
        fprintf(stderr, "experiment %s: %d cells run in %s, %d failed\n", cfg->name, n_todo, t, failed);
    }
    if (n_failed) *n_failed = failed;
    return PARE_OK;
}

pare_status pare_exp_run(const pare_exp_config *cfg, const pare_exp_run_opts *o, int *n_failed, pare_err *err) {
    make_parent(o->db_path);
    char art[PARE_EXP_PATH + 16];
    snprintf(art, sizeof art, "%s.artifacts", o->db_path);
    if (mkdir(art, 0755) != 0 && errno != EEXIST)
        return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot create the artifacts folder: %s", art, strerror(errno));
    const int lock = lock_runner(art, o->db_path, err);
    if (lock < 0) return err ? err->code : PARE_ERR_INVALID;
    pare_status s = run_locked(cfg, o, art, n_failed, err);
    close(lock);
    return s;
}
