/* A one-line description of the machine for the results database. */
#include "experiment/exp_internal.h"

#include <string.h>
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
