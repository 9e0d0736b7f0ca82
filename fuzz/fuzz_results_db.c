/* libFuzzer target: the results database reader. The input is written as a
 * file (a SQLite database, most often a damaged one) and read as `pare
 * experiment status` and `report` read it; every failure carries a message.
 * Seeds: real databases from small experiment runs (fuzz/corpus/results_db). */
#include "pare/experiment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char dir[64], db[96], out[96];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/dev/shm/pare-fuzz-db-%ld", (long)getpid());
        if (access("/dev/shm", W_OK) != 0) snprintf(dir, sizeof dir, "/tmp/pare-fuzz-db-%ld", (long)getpid());
        snprintf(db, sizeof db, "%s/r.db", dir);
        snprintf(out, sizeof out, "%s/report", dir);
        pare_mkdir_p(dir, NULL);
    }
    char wal[128];
    snprintf(wal, sizeof wal, "%s-wal", db);
    unlink(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    unlink(wal);
    FILE *f = fopen(db, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    pare_err err;
    err.msg[0] = 0;
    FILE *devnull = fopen("/dev/null", "w");
    pare_status s = pare_exp_status(db, devnull, &err);
    fclose(devnull);
    if (s != PARE_OK && err.msg[0] == 0) __builtin_trap();
    err.msg[0] = 0;
    s = pare_exp_report(db, NULL, out, &err);
    if (s != PARE_OK && err.msg[0] == 0) __builtin_trap();
    return 0;
}
