/* pare experiment run|report|status|check: the experiment matrix. */
#include "cli.h"
#include "pare/experiment.h"

#include <string.h>

#ifndef PARE_GIT_REV
#define PARE_GIT_REV "unknown"
#endif

static const char *HELP =
    "usage: pare experiment run FILE.yaml [--db DB] [--resume | --fresh] [--only NAME] [--threads N]\n"
    "       pare experiment report [DB] [-o DIR] [--experiment NAME]\n"
    "       pare experiment status [DB]\n"
    "       pare experiment check FILE.yaml\n"
    "\n"
    "Runs every model x pipeline of an experiment file and records, per cell, size on\n"
    "disk and in memory, latency p50/p90/p99 and throughput (with the raw samples),\n"
    "exact-match accuracy, micro/macro F1 and Jaccard on the test split, training time,\n"
    "the configuration, git revision and machine, in a SQLite database (WAL). Each cell\n"
    "runs in its own process and is written in one transaction as soon as it ends:\n"
    "a crash or a kill loses only the cell in flight, and --resume skips finished\n"
    "cells (failed ones run again). Trained heads are shared between pipelines with\n"
    "the same steps before them (trained once, kept in DB.artifacts/).\n"
    "\n"
    "  run FILE         run the experiment (every problem in FILE is reported with its\n"
    "                   line and key before any work starts)\n"
    "  --db DB          results database (default: results.db beside FILE)\n"
    "  --resume         finish an interrupted run\n"
    "  --fresh          delete this experiment's earlier results first\n"
    "  --only NAME      only pipelines whose name contains NAME\n"
    "  --threads N      threads per cell (default: the file's latency.threads, else all cores)\n"
    "  report           markdown, self-contained HTML with charts (latency bars with\n"
    "                   accuracy labels over a baseline line, accuracy vs latency and vs\n"
    "                   size with the Pareto front), CSV and JSON, into -o DIR\n"
    "                   (default: DB's folder/report)\n"
    "  status           one line per recorded cell\n"
    "  check FILE       validate an experiment file and list its cells\n"
    "\n"
    "exit codes: 0 every cell ok, 1 some cell failed (recorded), 2 bad file or usage.\n"
    "\n"
    "example (the shipped demo, what `make demo` runs):\n"
    "  pare experiment run experiments/demo.yaml --db .cache/demo/results.db\n"
    "  pare experiment report .cache/demo/results.db -o .cache/demo\n"
    "File format: docs/experiments.md.\n";

static void default_db(const char *file, char *buf, size_t cap) {
    const char *slash = strrchr(file, '/');
    if (slash) snprintf(buf, cap, "%.*s/results.db", (int)(slash - file), file);
    else snprintf(buf, cap, "results.db");
}

static int run(int argc, char **argv) {
    cli_common com = {0};
    pare_exp_run_opts o = {.git_rev = PARE_GIT_REV};
    const char *file = NULL, *v;
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&com, argc, argv, &i, HELP);
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_NEXT) continue;
        const char *a = argv[i];
        if (!strcmp(a, "--db")) {
            if (!(o.db_path = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(a, "--resume")) o.resume = true;
        else if (!strcmp(a, "--fresh")) o.fresh = true;
        else if (!strcmp(a, "--quiet")) o.quiet = true;
        else if (!strcmp(a, "--only")) {
            if (!(o.only = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (a[0] == '-') {
            fprintf(stderr, "pare experiment run: unknown option '%s' (see --help)\n", a);
            return CLI_USAGE;
        } else if (!file) file = a;
        else {
            fprintf(stderr, "pare experiment run: one experiment file, got '%s' too\n", a);
            return CLI_USAGE;
        }
        (void)v;
    }
    if (!file) {
        fputs("pare experiment run: missing the experiment file (see --help)\n", stderr);
        return CLI_USAGE;
    }
    if (o.resume && o.fresh) {
        fputs("pare experiment run: --resume and --fresh exclude each other\n", stderr);
        return CLI_USAGE;
    }
    o.threads = com.n_threads;
    char db[1100];
    if (!o.db_path) default_db(file, db, sizeof db), o.db_path = db;
    pare_exp_config cfg;
    pare_err err = {0};
    if (pare_exp_config_load(file, &cfg, &err)) return cli_fail("experiment run", &err);
    int failed = 0;
    pare_status s = pare_exp_run(&cfg, &o, &failed, &err);
    pare_exp_config_free(&cfg);
    if (s) return cli_fail("experiment run", &err);
    return failed ? CLI_FAIL : CLI_OK;
}

static int report(int argc, char **argv) {
    cli_common com = {0};
    const char *db = NULL, *out = NULL, *name = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_take_arg(&com, argc, argv, &i, HELP);
        if (r == CLI_ARG_HELP) return CLI_OK;
        if (r == CLI_ARG_BAD) return CLI_USAGE;
        if (r == CLI_ARG_NEXT) continue;
        if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--out")) {
            if (!(out = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (!strcmp(argv[i], "--experiment")) {
            if (!(name = cli_value(argc, argv, &i))) return CLI_USAGE;
        } else if (argv[i][0] == '-' || db) {
            fprintf(stderr, "pare experiment report: unexpected '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        } else db = argv[i];
    }
    if (!db) db = "results.db";
    char dir[1100];
    if (!out) {
        const char *slash = strrchr(db, '/');
        snprintf(dir, sizeof dir, "%.*s%sreport", slash ? (int)(slash - db) : 0, db, slash ? "/" : "");
        out = dir;
    }
    pare_err err = {0};
    if (pare_exp_report(db, name, out, &err)) return cli_fail("experiment report", &err);
    printf("%s/report.md\n%s/report.html\n%s/results.csv\n%s/results.json\n", out, out, out, out);
    return CLI_OK;
}

static int status(int argc, char **argv) {
    const char *db = argc > 1 ? argv[1] : "results.db";
    if (!strcmp(db, "--help") || !strcmp(db, "-h")) {
        fputs(HELP, stdout);
        return CLI_OK;
    }
    pare_err err = {0};
    if (pare_exp_status(db, stdout, &err)) return cli_fail("experiment status", &err);
    return CLI_OK;
}

static int check(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    pare_exp_config cfg;
    pare_err err = {0};
    if (pare_exp_config_load(argv[1], &cfg, &err)) return cli_fail("experiment check", &err);
    printf("%s: experiment '%s', %d models x %d pipelines = %d cells, baseline '%s'\n", argv[1], cfg.name, cfg.n_models,
           cfg.n_pipelines, cfg.n_models * cfg.n_pipelines, cfg.baseline);
    for (int p = 0; p < cfg.n_pipelines; p++) {
        printf("  %s:", cfg.pipelines[p].name);
        for (int s = 0; s < cfg.pipelines[p].n_steps; s++) {
            char d[200];
            pare_exp_step_describe(&cfg.pipelines[p].steps[s], d, sizeof d);
            printf("%s %s", s ? " ->" : "", d);
        }
        printf("%s\n", cfg.pipelines[p].n_steps ? "" : " (the model as it is)");
    }
    pare_exp_config_free(&cfg);
    return CLI_OK;
}

int cmd_experiment(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "run")) return run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "report")) return report(argc - 1, argv + 1);
    if (!strcmp(argv[1], "status")) return status(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check")) return check(argc - 1, argv + 1);
    fprintf(stderr, "pare experiment: unknown subcommand '%s' (run, report, status, check)\n", argv[1]);
    return CLI_USAGE;
}
