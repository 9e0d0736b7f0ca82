/* WordPiece encode speed over a TSV of texts (2nd column, header row), e.g.
 *   bench_wordpiece .cache/models/minilm-l6 ../shared/data/semeval2018-ec/2018-E-c-En-train.txt
 * Prints the best of 5 passes in texts/s and MB/s (max_len 512, one thread). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pare/tokenize.h"

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR TSV [passes]\n", argv[0]);
        return 2;
    }
    int passes = argc > 3 ? atoi(argv[3]) : 5;
    pare_err err = {0};
    pare_wordpiece *t = NULL;
    char *buf = NULL;
    size_t len = 0;
    if (pare_wordpiece_load(argv[1], &t, &err) != PARE_OK ||
        pare_read_file(argv[2], (size_t)1 << 30, &buf, &len, &err) != PARE_OK) {
        fprintf(stderr, "%s\n", err.msg);
        pare_wordpiece_free(t);
        return pare_status_exit_code(err.code);
    }
    /* texts: the 2nd column of each line after the header */
    size_t cap = 1024, n = 0, bytes = 0;
    const char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    char *line = strchr(buf, '\n');
    while (line && texts && lens) {
        line++;
        char *nl = strchr(line, '\n'), *tab = strchr(line, '\t');
        if (!tab || (nl && tab > nl)) break;
        char *end = strchr(tab + 1, '\t');
        if (!end || (nl && end > nl)) end = nl ? nl : tab + 1 + strlen(tab + 1);
        if (n == cap) {
            cap *= 2;
            texts = realloc(texts, cap * sizeof *texts);
            lens = realloc(lens, cap * sizeof *lens);
            if (!texts || !lens) break;
        }
        texts[n] = tab + 1;
        lens[n] = (size_t)(end - (tab + 1));
        bytes += lens[n++];
        line = nl;
    }
    int32_t ids[512], n_ids = 0;
    double best = 1e30;
    long long total_ids = 0;
    for (int p = 0; p < passes; p++) {
        double t0 = pare_time_now();
        total_ids = 0;
        for (size_t i = 0; i < n; i++) {
            if (pare_wordpiece_encode(t, texts[i], lens[i], 512, ids, &n_ids, &err) != PARE_OK) {
                fprintf(stderr, "text %zu: %s\n", i, err.msg);
                return 1;
            }
            total_ids += n_ids;
        }
        double dt = pare_time_now() - t0;
        if (dt < best) best = dt;
    }
    printf("{\"texts\": %zu, \"ids\": %lld, \"seconds\": %.4f, \"texts_per_s\": %.0f, "
           "\"mb_per_s\": %.1f}\n", n, total_ids, best, n / best, bytes / best / 1e6);
    free(texts);
    free(lens);
    free(buf);
    pare_wordpiece_free(t);
    return 0;
}
