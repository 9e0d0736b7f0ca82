/* A one-line progress bar on stderr, quiet when stderr is not a terminal. */
#include "pare/core.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

double pare_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void pare_progress_init(pare_progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t_start = pare_time_now();
    p->t_last_draw = 0;
    p->out = stderr;
    const char *force = getenv("PARE_PROGRESS");
    p->enabled = force ? (force[0] == '1') : (isatty(fileno(stderr)) != 0);
}

static void fmt_secs(double s, char *buf, size_t cap) {
    if (s < 0 || s > 1e7) { snprintf(buf, cap, "--:--"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

static void draw(pare_progress *p, double now) {
    double el = now - p->t_start, rate = el > 0 ? (double)p->done / el : 0;
    double frac = p->total > 0 ? (double)p->done / (double)p->total : 0;
    if (frac > 1) frac = 1;
    char bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++) bar[i] = i < fill ? '#' : '.';
    bar[30] = 0;
    char eta[16], els[16];
    fmt_secs(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta, sizeof eta);
    fmt_secs(el, els, sizeof els);
    fprintf(p->out, "\r%s [%s] %lld/%lld %5.1f%% %.1f/s %s ETA %s ", p->label ? p->label : "",
            bar, (long long)p->done, (long long)p->total, frac * 100, rate, els, eta);
    fflush(p->out);
    p->t_last_draw = now;
}

void pare_progress_update(pare_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double now = pare_time_now();
    if (now - p->t_last_draw >= 0.1 || done >= p->total) draw(p, now);
}

void pare_progress_finish(pare_progress *p) {
    if (!p->enabled) return;
    draw(p, pare_time_now());
    fputc('\n', p->out);
}
