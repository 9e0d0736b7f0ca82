/* Outputs that are complete or absent: a file is written under a temporary
 * name in its destination folder, flushed to disk and renamed over the real
 * name; a folder is written as a temporary folder and moved into place (or,
 * when the folder exists, its files are moved in one by one with
 * config.json, the file that makes a folder a model, removed first and put
 * back last). An input that is also the output keeps its inode until the
 * rename, so readers of its mapping finish on the old bytes. */
#define _GNU_SOURCE
#include "pare/core.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

static void remove_tree(const char *dir);

/* Split path into its folder ("." when none) and base name. */
static bool split_path(const char *path, char *dir, size_t dcap, const char **base) {
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *base = path;
        return snprintf(dir, dcap, ".") < (int)dcap;
    }
    *base = slash + 1;
    if (slash == path) return snprintf(dir, dcap, "/") < (int)dcap;
    return snprintf(dir, dcap, "%.*s", (int)(slash - path), path) < (int)dcap;
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Temporary names carry the writer's pid: DIR/.BASE.pare-PID-XXXXXX (a
 * folder staged inside an existing one: DIR/.pare-PID-XXXXXX). Those of a
 * writer that died (SIGKILL leaves them) are removed by the next writer of
 * the same name. */
static void sweep_stale(const char *dir, const char *base) {
    char prefix[300];
    int np = snprintf(prefix, sizeof prefix, base[0] ? ".%s.pare-" : ".pare-", base);
    if (np <= 0 || np >= (int)sizeof prefix) return;
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strncmp(e->d_name, prefix, (size_t)np)) continue;
        char *end;
        long pid = strtol(e->d_name + np, &end, 10);
        if (end == e->d_name + np || *end != '-' || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer lives */
        char p[PARE_PATH_MAX + 300];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (S_ISDIR(st.st_mode)) remove_tree(p);
        else unlink(p);
    }
    closedir(dp);
}

static pare_status write_error(pare_err *err, const char *path, int e) {
    return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot write: %s", path, strerror(e));
}

pare_status pare_wfile_open(pare_wfile *w, const char *path, pare_err *err) {
    memset(w, 0, sizeof *w);
    char dir[PARE_PATH_MAX];
    const char *base;
    if (!path || !*path || !split_path(path, dir, sizeof dir, &base) || !*base ||
        snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path ||
        snprintf(w->tmp, sizeof w->tmp, "%s/.%s.pare-%ld-XXXXXX", dir, base, (long)getpid()) >= (int)sizeof w->tmp)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: not a usable output file name", path ? path : "(null)");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return pare_err_set(err, PARE_ERR_INVALID, "%s: is a folder, expected a file name", path);
    sweep_stale(dir, base);
    int fd = mkstemp(w->tmp);
    if (fd < 0) {
        int e = errno;
        w->tmp[0] = 0;
        return write_error(err, path, e);
    }
    fchmod(fd, 0644);
    if (!(w->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(w->tmp);
        w->tmp[0] = 0;
        return write_error(err, path, e);
    }
    return PARE_OK;
}

pare_status pare_wfile_commit(pare_wfile *w, pare_err *err) {
    if (!w->f) return pare_err_set(err, PARE_ERR_INVALID, "%s: not open for writing", w->path);
    int e = 0;
    if (ferror(w->f) || fflush(w->f) != 0) e = errno ? errno : EIO;
    if (!e && fsync(fileno(w->f)) != 0) e = errno;
    if (fclose(w->f) != 0 && !e) e = errno ? errno : EIO;
    w->f = NULL;
    if (!e && rename(w->tmp, w->path) != 0) e = errno;
    if (e) {
        unlink(w->tmp);
        w->tmp[0] = 0;
        return write_error(err, w->path, e);
    }
    w->tmp[0] = 0;
    char dir[PARE_PATH_MAX];
    const char *base;
    if (split_path(w->path, dir, sizeof dir, &base)) sync_dir(dir);
    return PARE_OK;
}

void pare_wfile_abort(pare_wfile *w) {
    if (w->f) fclose(w->f);
    w->f = NULL;
    if (w->tmp[0]) unlink(w->tmp);
    w->tmp[0] = 0;
}

pare_status pare_write_file(const char *path, const void *data, size_t n, pare_err *err) {
    pare_wfile w;
    pare_status s = pare_wfile_open(&w, path, err);
    if (s) return s;
    if (n && fwrite(data, 1, n, w.f) != n) {
        int e = errno ? errno : EIO;
        pare_wfile_abort(&w);
        return write_error(err, path, e);
    }
    return pare_wfile_commit(&w, err);
}

pare_status pare_write_text(const char *path, const char *text, pare_err *err) {
    pare_wfile w;
    pare_status s = pare_wfile_open(&w, path, err);
    if (s) return s;
    if (fputs(text, w.f) == EOF || fputc('\n', w.f) == EOF) {
        int e = errno ? errno : EIO;
        pare_wfile_abort(&w);
        return write_error(err, path, e);
    }
    return pare_wfile_commit(&w, err);
}

/* ---- folders */

pare_status pare_outdir_begin(pare_outdir *d, const char *dir, pare_err *err) {
    memset(d, 0, sizeof *d);
    if (!dir || !*dir || snprintf(d->dir, sizeof d->dir, "%s", dir) >= (int)sizeof d->dir)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: not a usable output folder name", dir ? dir : "(null)");
    size_t n = strlen(d->dir);
    while (n > 1 && d->dir[n - 1] == '/') d->dir[--n] = 0;
    struct stat st;
    if (stat(d->dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) return pare_err_set(err, PARE_ERR_INVALID, "%s: exists and is not a folder", d->dir);
        /* the staging folder inside the destination: the same file system */
        d->existed = true;
        if (snprintf(d->tmp, sizeof d->tmp, "%s/.pare-%ld-XXXXXX", d->dir, (long)getpid()) >= (int)sizeof d->tmp)
            return pare_err_set(err, PARE_ERR_INVALID, "%s: path too long", d->dir);
        sweep_stale(d->dir, "");
    } else {
        char parent[PARE_PATH_MAX];
        const char *base;
        if (!split_path(d->dir, parent, sizeof parent, &base) || !*base ||
            snprintf(d->tmp, sizeof d->tmp, "%s/.%s.pare-%ld-XXXXXX", parent, base, (long)getpid()) >= (int)sizeof d->tmp)
            return pare_err_set(err, PARE_ERR_INVALID, "%s: not a usable output folder name", d->dir);
        pare_status s = pare_mkdir_p(parent, err);
        if (s) return s;
        sweep_stale(parent, base);
    }
    if (!mkdtemp(d->tmp)) {
        int e = errno;
        d->tmp[0] = 0;
        return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot create a folder beside it: %s", d->dir, strerror(e));
    }
    chmod(d->tmp, 0755);
    return PARE_OK;
}

const char *pare_outdir_path(const pare_outdir *d) { return d->tmp; }

/* rm -r of the staging folder (files only: pare writes no subfolders) */
static void remove_tree(const char *dir) {
    DIR *dp = opendir(dir);
    if (dp) {
        struct dirent *e;
        char p[PARE_PATH_MAX + 260];
        while ((e = readdir(dp))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
        closedir(dp);
    }
    rmdir(dir);
}

void pare_outdir_abort(pare_outdir *d) {
    if (d->tmp[0]) remove_tree(d->tmp);
    d->tmp[0] = 0;
}

static pare_status move_in(const pare_outdir *d, const char *name, pare_err *err) {
    char from[PARE_PATH_MAX + 260], to[PARE_PATH_MAX + 260];
    snprintf(from, sizeof from, "%s/%s", d->tmp, name);
    snprintf(to, sizeof to, "%s/%s", d->dir, name);
    if (rename(from, to) != 0) return pare_err_set(err, PARE_ERR_WRITE, "%s: cannot move into place: %s", to, strerror(errno));
    return PARE_OK;
}

pare_status pare_outdir_commit(pare_outdir *d, pare_err *err) {
    if (!d->tmp[0]) return pare_err_set(err, PARE_ERR_INVALID, "%s: no folder being written", d->dir);
    pare_status s = PARE_OK;
    sync_dir(d->tmp);
    if (!d->existed) {
        if (rename(d->tmp, d->dir) != 0) {
            s = pare_err_set(err, PARE_ERR_WRITE, "%s: cannot move into place: %s", d->dir, strerror(errno));
            pare_outdir_abort(d);
            return s;
        }
        d->tmp[0] = 0;
        char parent[PARE_PATH_MAX];
        const char *base;
        if (split_path(d->dir, parent, sizeof parent, &base)) sync_dir(parent);
        return PARE_OK;
    }
    /* Into an existing folder: config.json goes first and comes back last,
     * so a kill in between leaves a folder that is not a model, never a
     * model whose files disagree. */
    DIR *dp = opendir(d->tmp);
    if (!dp) {
        s = pare_err_set(err, PARE_ERR_WRITE, "%s: cannot list: %s", d->tmp, strerror(errno));
        pare_outdir_abort(d);
        return s;
    }
    bool has_config = false;
    char cfg[PARE_PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/config.json", d->tmp);
    struct stat st;
    if (stat(cfg, &st) == 0) {
        has_config = true;
        snprintf(cfg, sizeof cfg, "%s/config.json", d->dir);
        if (unlink(cfg) != 0 && errno != ENOENT)
            s = pare_err_set(err, PARE_ERR_WRITE, "%s: cannot replace: %s", cfg, strerror(errno));
    }
    struct dirent *e;
    while (!s && (e = readdir(dp))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "config.json")) continue;
        s = move_in(d, e->d_name, err);
    }
    closedir(dp);
    if (!s && has_config) s = move_in(d, "config.json", err);
    pare_outdir_abort(d);
    sync_dir(d->dir);
    return s;
}

pare_status pare_outdir_write(const char *dir, pare_outdir_fn fn, void *ctx, pare_err *err) {
    pare_outdir d;
    pare_status s = pare_outdir_begin(&d, dir, err);
    if (s) return s;
    s = fn(pare_outdir_path(&d), ctx, err);
    if (!s) return pare_outdir_commit(&d, err);
    pare_outdir_abort(&d);
    return s;
}

bool pare_output_exists(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return false;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) return true; /* a file, or a dangling link */
    static const char *const marks[] = {"config.json", "model.safetensors", "tokenizer.json", "pytorch_model.bin"};
    char p[PARE_PATH_MAX + 32];
    for (size_t i = 0; i < sizeof marks / sizeof *marks; i++) {
        snprintf(p, sizeof p, "%s/%s", path, marks[i]);
        if (stat(p, &st) == 0) return true;
    }
    return false;
}
