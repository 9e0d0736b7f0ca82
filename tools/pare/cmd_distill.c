/* pare distill TEACHER --data FILE -o OUT: a student made of every other
 * layer of the teacher (or --student DIR), trained on the teacher's logits
 * and the labels (pare finetune --teacher). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char *HELP =
    "usage: pare distill TEACHER --data FILE -o OUT [--student DIR | --stride 2] [finetune options]\n"
    "\n"
    "Knowledge distillation of a fine-tuned classifier TEACHER into a smaller\n"
    "student: by default the student is the teacher with every --stride-th encoder\n"
    "layer kept (layers 0, 2, 4, ... renumbered; DistilBERT's initialisation),\n"
    "written to OUT.init; --student DIR starts from an existing smaller model with\n"
    "the same tokenizer. The student is then trained as pare finetune does, with\n"
    "loss = a * hard + (1 - a) * T^2 * KL(teacher/T || student/T) (--kd-alpha 0.5,\n"
    "--kd-temperature 2; per-label sigmoid form for multi-label data). Every other\n"
    "option is pare finetune's (--epochs, --lr, --split, --seed, ...). OUT.init is\n"
    "rewritten on every run; an existing OUT is replaced only with --force.\n"
    "\n"
    "example:\n"
    "  pare finetune .cache/models/minilm-l6 --data tweets.tsv -o /tmp/teacher\n"
    "  pare distill /tmp/teacher --data tweets.tsv -o /tmp/student     # 3 of 6 layers\n";

int cmd_distill(int argc, char **argv) {
    const char *teacher = NULL, *student = NULL, *out = NULL;
    int64_t stride = 2;
    bool force = false;
    char **rest = calloc((size_t)argc + 8, sizeof *rest);
    if (!rest) return CLI_FAIL;
    int nr = 0;
    rest[nr++] = "finetune";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(HELP, stdout);
            free(rest);
            return CLI_OK;
        } else if (!strcmp(a, "--student")) {
            if (!(student = cli_value(argc, argv, &i))) return free(rest), CLI_USAGE;
        } else if (!strcmp(a, "--stride")) {
            if (!(v = cli_value(argc, argv, &i)) || !cli_parse_int(a, v, 2, 64, &stride)) return free(rest), CLI_USAGE;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(out = cli_value(argc, argv, &i))) return free(rest), CLI_USAGE;
            rest[nr++] = "-o";
            rest[nr++] = (char *)out;
        } else if (!strcmp(a, "--teacher")) {
            fprintf(stderr, "pare distill: the teacher is the first argument\n");
            return free(rest), CLI_USAGE;
        } else if (!strcmp(a, "--force")) {
            force = true;
            rest[nr++] = argv[i];
        } else if (a[0] != '-' && !teacher) {
            teacher = a;
        } else {
            rest[nr++] = argv[i];
        }
    }
    if (!teacher || !out) {
        fprintf(stderr, "pare distill: need TEACHER, --data FILE and -o OUT (pare distill --help)\n");
        free(rest);
        return CLI_USAGE;
    }
    if (!cli_output_ok("distill", out, &(cli_common){.force = force})) {
        free(rest);
        return CLI_USAGE;
    }
    char init[4096];
    if (!student) {
        snprintf(init, sizeof init, "%s.init", out);
        pare_err err = {0};
        int64_t n_layers;
        if (pare_bert_make_student(teacher, init, (int)stride, &n_layers, &err)) {
            free(rest);
            return cli_fail("distill", &err);
        }
        fprintf(stderr, "pare distill: student %s: %lld layers (every %lld-th of the teacher's)\n", init, (long long)n_layers,
                (long long)stride);
        student = init;
    }
    rest[nr++] = (char *)student;
    rest[nr++] = "--teacher";
    rest[nr++] = (char *)teacher;
    int rc = cmd_finetune(nr, rest);
    free(rest);
    return rc;
}
