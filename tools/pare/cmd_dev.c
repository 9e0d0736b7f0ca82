/* pare dev: developer helpers (random-weight models for tests and benches). */
#include "cli.h"

#include <string.h>

static const char *HELP =
    "usage: pare dev random-bert -o DIR --vocab-from MODEL [--layers L] [--hidden H]\n"
    "                            [--heads A] [--intermediate I] [--labels N] [--seed S]\n"
    "\n"
    "Write a Hugging Face BERT folder with seeded random weights (BERT init), for\n"
    "benchmarks and tests of shapes no shipped model has. The tokenizer files and\n"
    "vocabulary size come from MODEL. Defaults: MiniLM-L12 shape (12 layers,\n"
    "hidden 384, 12 heads, intermediate 1536), seed 1, no head (--labels 0).\n"
    "BERT-base shape: --layers 12 --hidden 768 --heads 12 --intermediate 3072.\n";

int cmd_dev(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "random-bert") != 0) {
        fputs(HELP, argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr);
        return argc >= 2 && !strcmp(argv[1], "--help") ? CLI_OK : CLI_USAGE;
    }
    pare_bert_random_opts o = {.n_layers = 12, .hidden_size = 384, .n_heads = 12, .intermediate_size = 1536, .seed = 1};
    const char *dir = NULL, *v;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int64_t x;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(HELP, stdout);
            return CLI_OK;
        }
        if (!(v = cli_value(argc, argv, &i))) return CLI_USAGE;
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) dir = v;
        else if (!strcmp(a, "--vocab-from")) o.vocab_from = v;
        else if (!cli_parse_int(a, v, 0, 1 << 20, &x)) return CLI_USAGE;
        else if (!strcmp(a, "--layers")) o.n_layers = x;
        else if (!strcmp(a, "--hidden")) o.hidden_size = x;
        else if (!strcmp(a, "--heads")) o.n_heads = x;
        else if (!strcmp(a, "--intermediate")) o.intermediate_size = x;
        else if (!strcmp(a, "--labels")) o.n_labels = x;
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)x;
        else {
            fprintf(stderr, "pare dev random-bert: unknown option '%s'\n", a);
            return CLI_USAGE;
        }
    }
    if (!dir || !o.vocab_from) {
        fputs(HELP, stderr);
        return CLI_USAGE;
    }
    pare_err err = {0};
    if (pare_bert_write_random(dir, &o, &err)) return cli_fail("dev random-bert", &err);
    fprintf(stderr, "pare dev random-bert: wrote %s\n", dir);
    return CLI_OK;
}
