/* SVG charts written directly (no library, no script, no network): bars of
 * latency labelled with accuracy over a dashed baseline line, as the seed
 * study drew them, and scatter plots with the Pareto front. */
#include "experiment/exp_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { W = 700, HH = 380, ML = 70, MR = 24, MT = 44, MB = 96 };

static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

/* a "nice" step for about n ticks over [0, hi] */
static double nice_step(double span, int n) {
    double raw = span / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
}

static void header(FILE *f, const char *title, const char *cls) {
    fprintf(f, "<svg class=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            cls, W, HH, W, HH);
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", W, HH);
    fprintf(f, "<text x=\"%d\" y=\"24\" font-family=\"sans-serif\" font-size=\"15\" font-weight=\"bold\">", ML);
    esc(f, title);
    fputs("</text>\n", f);
}

static void y_axis(FILE *f, double lo, double hi, const char *label) {
    const int ph = HH - MT - MB;
    double step = nice_step(hi - lo, 5);
    for (double v = lo; v <= hi + step * 1e-9; v += step) {
        double y = MT + ph - (v - lo) / (hi - lo) * ph;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>", ML, y, W - MR, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
                ML - 6, y + 4, round(v / step) * step);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", ML, MT, ML, MT + ph);
    fprintf(f, "<text transform=\"translate(16,%d) rotate(-90)\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">",
            MT + ph / 2);
    esc(f, label);
    fputs("</text>\n", f);
}

void exp_svg_bars(FILE *f, const char *title, const char *y_label, const char *const *names,
                  const double *values, const char *const *bar_labels, int n, double baseline,
                  const char *baseline_label) {
    header(f, title, "chart bars");
    double hi = baseline > 0 ? baseline : 0;
    for (int i = 0; i < n; i++) hi = fmax(hi, values[i]);
    hi = hi > 0 ? hi * 1.15 : 1;
    hi = ceil(hi / nice_step(hi, 5)) * nice_step(hi, 5);
    y_axis(f, 0, hi, y_label);
    const int pw = W - ML - MR, ph = HH - MT - MB;
    const double slot = n > 0 ? (double)pw / n : pw, bw = slot * 0.62;
    for (int i = 0; i < n; i++) {
        double h = values[i] / hi * ph, x = ML + slot * i + (slot - bw) / 2, y = MT + ph - h;
        fprintf(f, "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6fb6\"><title>", x, y, bw, h);
        esc(f, names[i]);
        fprintf(f, ": %.3g</title></rect>\n", values[i]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">", x + bw / 2, y - 5);
        esc(f, bar_labels[i]);
        fputs("</text>\n", f);
        fprintf(f, "<text transform=\"translate(%.1f,%d) rotate(-35)\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"end\">",
                x + bw / 2, MT + ph + 14);
        esc(f, names[i]);
        fputs("</text>\n", f);
    }
    if (baseline > 0) {
        double y = MT + ph - baseline / hi * ph;
        fprintf(f, "<line class=\"baseline\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#d62728\" stroke-width=\"2\" stroke-dasharray=\"7 5\"/>\n",
                ML, y, W - MR, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#d62728\">", ML + 4, y + 14);
        esc(f, baseline_label);
        fputs("</text>\n", f);
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n</svg>\n", ML, MT + ph, W - MR, MT + ph);
}

static int cmp_x(const void *a, const void *b) {
    const exp_point *p = a, *q = b;
    return p->x < q->x ? -1 : p->x > q->x ? 1 : 0;
}

void exp_svg_scatter(FILE *f, const char *title, const char *x_label, const char *y_label,
                     const exp_point *pts, int n, bool y_lower_better) {
    header(f, title, "chart scatter");
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < n; i++) {
        xlo = fmin(xlo, pts[i].x), xhi = fmax(xhi, pts[i].x);
        ylo = fmin(ylo, pts[i].y), yhi = fmax(yhi, pts[i].y);
    }
    if (n == 0) xlo = ylo = 0, xhi = yhi = 1;
    double xs = nice_step(fmax(xhi - xlo, fmax(xhi * 0.1, 1e-6)), 5), ys = nice_step(fmax(yhi - ylo, fmax(yhi * 0.05, 0.01)), 5);
    xlo = fmax(0, floor((xlo - xs * 0.5) / xs) * xs), xhi = ceil((xhi + xs * 0.5) / xs) * xs;
    ylo = fmax(0, floor((ylo - ys * 0.5) / ys) * ys), yhi = ceil((yhi + ys * 0.5) / ys) * ys;
    y_axis(f, ylo, yhi, y_label);
    const int pw = W - ML - MR, ph = HH - MT - MB;
#define PX(v) (ML + ((v) - xlo) / (xhi - xlo) * pw)
#define PY(v) (MT + ph - ((v) - ylo) / (yhi - ylo) * ph)
    for (double v = xlo; v <= xhi + xs * 1e-9; v += xs)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-family=\"sans-serif\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                PX(v), MT + ph + 16, round(v / xs) * xs);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", ML, MT + ph, W - MR, MT + ph);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"12\" text-anchor=\"middle\">", ML + pw / 2, MT + ph + 36);
    esc(f, x_label);
    fputs("</text>\n", f);
    /* Pareto front: sorted by x, keep each point whose y beats all before
     * (higher, or lower when lower is better) */
    exp_point *s = malloc((size_t)(n > 0 ? n : 1) * sizeof *s);
    int nf = 0;
    if (s) {
        memcpy(s, pts, (size_t)n * sizeof *s);
        qsort(s, (size_t)n, sizeof *s, cmp_x);
        double best = -INFINITY;
        for (int i = 0, j; i < n; i = j) { /* a run of equal x: only its best y can be on the front */
            int top = i;
            for (j = i; j < n && s[j].x == s[i].x; j++)
                if ((y_lower_better ? -s[j].y : s[j].y) > (y_lower_better ? -s[top].y : s[top].y)) top = j;
            const double y = y_lower_better ? -s[top].y : s[top].y;
            if (y > best) best = y, s[nf++] = s[top];
        }
        fputs("<polyline class=\"pareto\" fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2.5\" points=\"", f);
        for (int i = 0; i < nf; i++) fprintf(f, "%.1f,%.1f ", PX(s[i].x), PY(s[i].y));
        fputs("\"/>\n", f);
    }
    for (int i = 0; i < n; i++) {
        bool front = false;
        for (int j = 0; j < nf; j++) front |= s[j].x == pts[i].x && s[j].y == pts[i].y;
        fprintf(f, "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"6\" fill=\"%s\" stroke=\"#222\"><title>", PX(pts[i].x),
                PY(pts[i].y), pts[i].baseline ? "#d62728" : front ? "#ff7f0e" : "#8c8c8c");
        esc(f, pts[i].label);
        fprintf(f, ": %.3g, %.3g</title></circle>\n", pts[i].x, pts[i].y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-family=\"sans-serif\" font-size=\"10\">", PX(pts[i].x) + 8, PY(pts[i].y) - 8);
        esc(f, pts[i].label);
        fputs("</text>\n", f);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"11\" fill=\"#ff7f0e\" text-anchor=\"end\">"
               "red: baseline; orange line: Pareto front (faster or smaller, and more accurate)</text>\n",
            W - MR, MT - 8);
#undef PX
#undef PY
    free(s);
    fputs("</svg>\n", f);
}
