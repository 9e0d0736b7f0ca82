/* A one-line description of the machine for the results database, and how
 * busy the rest of the machine keeps the CPUs while a cell measures. */
#include "experiment/exp_internal.h"

#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

void exp_machine_describe(char *buf, size_t cap) {
    char model[128] = "unknown CPU", line[256];
    long long mem_kb = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *c = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && c) {
            snprintf(model, sizeof model, "%s", c + 2);
            model[strcspn(model, "\n")] = 0;
            break;
        }
    }
    if (f) fclose(f);
    if ((f = fopen("/proc/meminfo", "r"))) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemTotal: %lld kB", &mem_kb) == 1) break;
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) != 0) snprintf(u.release, sizeof u.release, "?");
    snprintf(buf, cap, "%s, %ld cores, %.1f GiB, Linux %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             (double)mem_kb / (1024.0 * 1024.0), u.release);
}

/* All CPUs' busy time (everything but idle and iowait; steal included: a
 * host taking the CPU away is load too) from /proc/stat, in seconds. */
static double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[10] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
                       &v[5], &v[6], &v[7], &v[8], &v[9])
              : 0;
    if (f) fclose(f);
    if (n < 4) return -1;
    /* user nice system idle iowait irq softirq steal (guest time is in user) */
    const double busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    return busy / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void) {
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0) return 0;
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec + 1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

void exp_cpu_mark(exp_cpu_mark_t *m) {
    m->wall = pare_time_now();
    m->busy = machine_busy_s();
    m->self = self_cpu_s();
}

double exp_cpu_others(const exp_cpu_mark_t *from) {
    exp_cpu_mark_t to;
    exp_cpu_mark(&to);
    const double wall = to.wall - from->wall, n_cpu = (double)sysconf(_SC_NPROCESSORS_ONLN);
    if (from->busy < 0 || to.busy < 0 || wall < 0.05 || n_cpu < 1) return -1;
    const double others = (to.busy - from->busy) - (to.self - from->self);
    const double frac = others / (wall * n_cpu);
    return frac < 0 ? 0 : frac > 1 ? 1 : frac;
}
