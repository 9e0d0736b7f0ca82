/* Experiment files: YAML (libyaml's document API, which keeps the line of
 * every node) into pare_exp_config, with every check done up front so a
 * bad file fails before any work starts, naming the line and the key.
 *
 *   name: demo
 *   models: [{name: minilm-l6, path: ../.cache/models/minilm-l6}]
 *   dataset: {path: ${PARE_DATA_DIR:-../../shared/data}/..., task: multi-label}
 *   latency: {batch: [1, 8], seq: 128, reps: 20}
 *   baseline: fp32
 *   pipelines:
 *     - name: int8-dynamic
 *       steps: [finetune-head, {quantize: {bits: 8, act: dynamic}}]
 */
#include "pare/experiment.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "pare/gguf.h"

typedef struct ycx {
    yaml_document_t *doc;
    const char *name, *dir;
    bool check_paths;
    pare_err *err;
} ycx;

static int line_of(const yaml_node_t *n) { return n ? (int)n->start_mark.line + 1 : 0; }

static pare_status failf(ycx *c, const yaml_node_t *n, const char *key, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pare_err_set(c->err, PARE_ERR_FORMAT, "%s:%d: %s: %s", c->name, line_of(n), key, msg);
}

static const char *node_kind(const yaml_node_t *n) {
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static pare_status want(ycx *c, const yaml_node_t *n, yaml_node_type_t t, const char *key, const char *what) {
    if (n->type == t) return PARE_OK;
    return failf(c, n, key, "expected %s, got %s", what, node_kind(n));
}

static pare_status get_str(ycx *c, const yaml_node_t *v, const char *key, char *dst, size_t cap) {
    pare_status s = want(c, v, YAML_SCALAR_NODE, key, "a string");
    if (s) return s;
    const char *t = scalar(v);
    if (!*t) return failf(c, v, key, "empty value");
    if (strlen(t) >= cap) return failf(c, v, key, "longer than %zu characters", cap - 1);
    snprintf(dst, cap, "%s", t);
    return PARE_OK;
}

static pare_status get_int(ycx *c, const yaml_node_t *v, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    pare_status s = want(c, v, YAML_SCALAR_NODE, key, "an integer");
    if (s) return s;
    const char *t = scalar(v);
    char *end;
    errno = 0;
    long long x = strtoll(t, &end, 10);
    if (!*t || *end || errno) return failf(c, v, key, "expected an integer, got '%.40s'", t);
    if (x < lo || x > hi) return failf(c, v, key, "%lld is out of range [%lld, %lld]", x, (long long)lo, (long long)hi);
    *out = x;
    return PARE_OK;
}

static pare_status get_bool(ycx *c, const yaml_node_t *v, const char *key, bool *out) {
    pare_status s = want(c, v, YAML_SCALAR_NODE, key, "true or false");
    if (s) return s;
    const char *t = scalar(v);
    if (!strcmp(t, "true") || !strcmp(t, "yes")) *out = true;
    else if (!strcmp(t, "false") || !strcmp(t, "no")) *out = false;
    else return failf(c, v, key, "expected true or false, got '%.40s'", t);
    return PARE_OK;
}

static pare_status get_num(ycx *c, const yaml_node_t *v, const char *key, double lo, double hi, double *out) {
    pare_status s = want(c, v, YAML_SCALAR_NODE, key, "a number");
    if (s) return s;
    const char *t = scalar(v);
    char *end;
    double x = strtod(t, &end);
    if (!*t || *end || !isfinite(x)) return failf(c, v, key, "expected a number, got '%.40s'", t);
    if (x < lo || x > hi) return failf(c, v, key, "%g is out of range [%g, %g]", x, lo, hi);
    *out = x;
    return PARE_OK;
}

static pare_status get_choice(ycx *c, const yaml_node_t *v, const char *key, const char *const *choices,
                              char *dst, size_t cap) {
    pare_status s = get_str(c, v, key, dst, cap);
    if (s) return s;
    char list[200] = "";
    for (int i = 0; choices[i]; i++) {
        if (!strcmp(dst, choices[i])) return PARE_OK;
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", choices[i]);
    }
    return failf(c, v, key, "'%s' is not one of: %s", dst, list);
}

/* ${VAR} and ${VAR:-default} from the environment, then relative paths
 * against the experiment file's folder. */
static pare_status resolve_path(ycx *c, const yaml_node_t *v, const char *key, char *dst, size_t cap) {
    char raw[PARE_EXP_PATH], exp[PARE_EXP_PATH] = "";
    pare_status s = get_str(c, v, key, raw, sizeof raw);
    if (s) return s;
    size_t o = 0;
    for (const char *p = raw; *p;) {
        const char *add;
        size_t n;
        char var[128], def[PARE_EXP_PATH];
        if (p[0] == '$' && p[1] == '{') {
            const char *e = strchr(p, '}');
            if (!e) return failf(c, v, key, "unclosed ${ in '%s'", raw);
            size_t vl = (size_t)(e - p - 2);
            const char *dash = strstr(p, ":-");
            def[0] = 0;
            if (dash && dash < e) {
                vl = (size_t)(dash - p - 2);
                snprintf(def, sizeof def, "%.*s", (int)(e - dash - 2), dash + 2);
            }
            if (vl == 0 || vl >= sizeof var) return failf(c, v, key, "bad variable in '%s'", raw);
            snprintf(var, sizeof var, "%.*s", (int)vl, p + 2);
            const char *val = getenv(var);
            add = val && *val ? val : def;
            n = strlen(add);
            p = e + 1;
        } else {
            add = p++;
            n = 1;
        }
        if (o + n >= sizeof exp) return failf(c, v, key, "path too long");
        memcpy(exp + o, add, n);
        exp[o += n] = 0;
    }
    int w = exp[0] == '/' || !c->dir || !*c->dir ? snprintf(dst, cap, "%s", exp)
                                                  : snprintf(dst, cap, "%s/%s", c->dir, exp);
    if (w < 0 || (size_t)w >= cap) return failf(c, v, key, "path too long");
    return PARE_OK;
}

static pare_status check_exists(ycx *c, const yaml_node_t *v, const char *key, const char *path, bool dir) {
    if (!c->check_paths) return PARE_OK;
    struct stat st;
    if (stat(path, &st) != 0) return failf(c, v, key, "%s does not exist", path);
    if (dir && !S_ISDIR(st.st_mode)) return failf(c, v, key, "%s is not a folder", path);
    if (!dir && !S_ISREG(st.st_mode)) return failf(c, v, key, "%s is not a file", path);
    return PARE_OK;
}

/* Iterate the pairs of a mapping: on each call *k / *v get the next pair;
 * keys must be scalars. Returns 1 while there is a pair. */
typedef struct pairs {
    yaml_node_pair_t *p, *end;
} pairs;

static pairs pairs_of(const yaml_node_t *m) {
    return (pairs){m->data.mapping.pairs.start, m->data.mapping.pairs.top};
}

static int next_pair(ycx *c, pairs *it, yaml_node_t **k, yaml_node_t **v, const char **name, pare_status *s) {
    if (it->p >= it->end) return 0;
    *k = yaml_document_get_node(c->doc, it->p->key);
    *v = yaml_document_get_node(c->doc, it->p->value);
    it->p++;
    *name = scalar(*k);
    if (!*name) {
        *s = failf(c, *k, "key", "mapping keys must be plain names, got %s", node_kind(*k));
        return 0;
    }
    return 1;
}

static pare_status unknown(ycx *c, const yaml_node_t *k, const char *where, const char *name, const char *known) {
    return failf(c, k, where, "unknown key '%s' (known: %s)", name, known);
}

#define FOR_PAIRS(c, m, k, v, name, s)                                                             \
    for (pairs it_ = pairs_of(m); !(s) && next_pair(c, &it_, &k, &v, &name, &(s));)

static pare_status parse_models(ycx *c, yaml_node_t *n, pare_exp_config *cfg) {
    pare_status s = want(c, n, YAML_SEQUENCE_NODE, "models", "a list of {name, path}");
    for (yaml_node_item_t *i = n->data.sequence.items.start; !s && i < n->data.sequence.items.top; i++) {
        yaml_node_t *m = yaml_document_get_node(c->doc, *i), *k, *v;
        char key[64];
        snprintf(key, sizeof key, "models[%d]", cfg->n_models);
        if (cfg->n_models == PARE_EXP_MAX_MODELS) return failf(c, m, key, "at most %d models", PARE_EXP_MAX_MODELS);
        pare_exp_model *md = &cfg->models[cfg->n_models++];
        md->line = line_of(m);
        yaml_node_t *path_node = m;
        char path_key[96];
        snprintf(path_key, sizeof path_key, "%s.path", key);
        if (m->type == YAML_SCALAR_NODE) { /* a bare path */
            if ((s = resolve_path(c, m, key, md->path, sizeof md->path))) return s;
        } else {
            if ((s = want(c, m, YAML_MAPPING_NODE, key, "{name, path} or a path"))) return s;
            const char *name;
            FOR_PAIRS(c, m, k, v, name, s) {
                char sub[96];
                snprintf(sub, sizeof sub, "%s.%s", key, name);
                if (!strcmp(name, "name")) s = get_str(c, v, sub, md->name, sizeof md->name);
                else if (!strcmp(name, "path")) {
                    path_node = v;
                    s = resolve_path(c, v, sub, md->path, sizeof md->path);
                }
                else s = unknown(c, k, key, name, "name, path");
            }
            if (s) return s;
            if (!md->path[0]) return failf(c, m, key, "missing 'path' (a model folder)");
        }
        if (!md->name[0]) {
            const char *b = strrchr(md->path, '/');
            snprintf(md->name, sizeof md->name, "%s", b ? b + 1 : md->path);
        }
        for (int j = 0; j < cfg->n_models - 1; j++)
            if (!strcmp(cfg->models[j].name, md->name))
                return failf(c, m, key, "duplicate model name '%s' (also on line %d)", md->name, cfg->models[j].line);
        md->path_line = line_of(path_node);
        if (c->check_paths) {
            struct stat st;
            if (stat(md->path, &st) != 0) return failf(c, path_node, path_key, "%s does not exist", md->path);
        }
    }
    return s;
}

static pare_status parse_dataset(ycx *c, yaml_node_t *n, pare_exp_config *cfg) {
    pare_status s = want(c, n, YAML_MAPPING_NODE, "dataset", "a mapping");
    yaml_node_t *k, *v, *path_node = NULL;
    const char *name;
    static const char *const tasks[] = {"multi-label", "single-label", "lm", NULL};
    FOR_PAIRS(c, n, k, v, name, s) {
        char key[80];
        snprintf(key, sizeof key, "dataset.%s", name);
        if (!strcmp(name, "path")) {
            path_node = v;
            s = resolve_path(c, v, key, cfg->dataset.path, sizeof cfg->dataset.path);
        } else if (!strcmp(name, "task")) s = get_choice(c, v, key, tasks, cfg->dataset.task, sizeof cfg->dataset.task);
        else if (!strcmp(name, "text")) s = get_str(c, v, key, cfg->dataset.text, sizeof cfg->dataset.text);
        else if (!strcmp(name, "limit")) s = get_int(c, v, key, 0, INT64_MAX, &cfg->dataset.limit);
        else if (!strcmp(name, "eval_limit")) s = get_int(c, v, key, 0, INT64_MAX, &cfg->dataset.eval_limit);
        else if (!strcmp(name, "max_len")) s = get_int(c, v, key, 8, 512, &cfg->dataset.max_len);
        else if (!strcmp(name, "ctx")) s = get_int(c, v, key, 16, 1 << 16, &cfg->dataset.ctx);
        else if (!strcmp(name, "chunks")) s = get_int(c, v, key, 0, 1 << 20, &cfg->dataset.chunks);
        else if (!strcmp(name, "threshold")) s = get_num(c, v, key, 0, 1, &cfg->dataset.threshold);
        else if (!strcmp(name, "seed")) {
            int64_t seed;
            s = get_int(c, v, key, 0, INT64_MAX, &seed);
            cfg->dataset.seed = (uint64_t)seed;
        } else if (!strcmp(name, "split")) {
            if ((s = want(c, v, YAML_SEQUENCE_NODE, key, "a list of 3 fractions [train, validation, test]"))) break;
            int cnt = (int)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (cnt != 3) { s = failf(c, v, key, "expected 3 fractions [train, validation, test], got %d", cnt); break; }
            double sum = 0;
            for (int i = 0; i < 3 && !s; i++) {
                s = get_num(c, yaml_document_get_node(c->doc, v->data.sequence.items.start[i]), key, 0, 1,
                            &cfg->dataset.split[i]);
                sum += cfg->dataset.split[i];
            }
            if (!s && fabs(sum - 1) > 1e-6) s = failf(c, v, key, "fractions sum to %g, not 1", sum);
            if (!s && (cfg->dataset.split[0] <= 0 || cfg->dataset.split[2] <= 0))
                s = failf(c, v, key, "train and test fractions must be above 0");
        } else s = unknown(c, k, "dataset", name, "path, task, text, limit, eval_limit, max_len, threshold, seed, split, ctx, chunks");
    }
    if (s) return s;
    if (!path_node) return failf(c, n, "dataset", "missing 'path' (a TSV file)");
    return check_exists(c, path_node, "dataset.path", cfg->dataset.path, false);
}

static pare_status parse_latency(ycx *c, yaml_node_t *n, pare_exp_config *cfg) {
    pare_status s = want(c, n, YAML_MAPPING_NODE, "latency", "a mapping");
    yaml_node_t *k, *v;
    const char *name;
    static const char *const devices[] = {"cpu", NULL};
    FOR_PAIRS(c, n, k, v, name, s) {
        char key[80];
        snprintf(key, sizeof key, "latency.%s", name);
        if (!strcmp(name, "batch")) {
            cfg->latency.n_batch = 0;
            if (v->type == YAML_SCALAR_NODE) {
                s = get_int(c, v, key, 1, 1024, &cfg->latency.batch[0]);
                cfg->latency.n_batch = 1;
                continue;
            }
            if ((s = want(c, v, YAML_SEQUENCE_NODE, key, "a batch size or a list of them"))) break;
            for (yaml_node_item_t *i = v->data.sequence.items.start; !s && i < v->data.sequence.items.top; i++) {
                if (cfg->latency.n_batch == PARE_EXP_MAX_BATCHES) { s = failf(c, v, key, "at most %d batch sizes", PARE_EXP_MAX_BATCHES); break; }
                s = get_int(c, yaml_document_get_node(c->doc, *i), key, 1, 1024, &cfg->latency.batch[cfg->latency.n_batch++]);
            }
            if (!s && cfg->latency.n_batch == 0) s = failf(c, v, key, "empty list");
        } else if (!strcmp(name, "seq")) s = get_int(c, v, key, 1, 512, &cfg->latency.seq);
        else if (!strcmp(name, "threads")) s = get_int(c, v, key, 0, 1024, &cfg->latency.threads);
        else if (!strcmp(name, "warmup")) s = get_int(c, v, key, 0, 100000, &cfg->latency.warmup);
        else if (!strcmp(name, "reps")) s = get_int(c, v, key, 1, 100000, &cfg->latency.reps);
        else if (!strcmp(name, "prompt")) s = get_int(c, v, key, 1, 1 << 16, &cfg->latency.prompt);
        else if (!strcmp(name, "gen")) s = get_int(c, v, key, 1, 1 << 16, &cfg->latency.gen);
        else if (!strcmp(name, "device")) s = get_choice(c, v, key, devices, cfg->latency.device, sizeof cfg->latency.device);
        else s = unknown(c, k, "latency", name, "batch, seq, threads, warmup, reps, device, prompt, gen");
    }
    return s;
}

static const char *const STEP_NAMES[] = {"finetune-head", "quantize", "prune", NULL};

static pare_status parse_step(ycx *c, yaml_node_t *n, const char *key, pare_exp_step *st) {
    yaml_node_t *params = NULL, *k, *v;
    const char *kind = scalar(n);
    if (!kind) {
        if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
            return failf(c, n, key, "a step is a name (finetune-head) or a one-key mapping ({quantize: {bits: 8}}), got %s",
                         node_kind(n));
        k = yaml_document_get_node(c->doc, n->data.mapping.pairs.start->key);
        params = yaml_document_get_node(c->doc, n->data.mapping.pairs.start->value);
        if (!(kind = scalar(k))) return failf(c, k, key, "the step name must be a plain name");
        if (params->type == YAML_SCALAR_NODE && !*scalar(params)) params = NULL; /* "quantize:" */
    }
    int kid = -1;
    for (int i = 0; STEP_NAMES[i]; i++)
        if (!strcmp(kind, STEP_NAMES[i])) kid = i;
    if (kid < 0) return failf(c, n, key, "unknown step '%s' (known: finetune-head, quantize, prune)", kind);
    *st = (pare_exp_step){.kind = (pare_exp_step_kind)kid, .line = line_of(n), .epochs = 40, .lr = 3e-3,
                          .batch = 64, .bits = 8, .calib_n = 256, .calib_len = 512, .sparsity = 0.2};
    snprintf(st->pooling, sizeof st->pooling, "mean");
    snprintf(st->method, sizeof st->method, "rtn");
    snprintf(st->act, sizeof st->act, "dynamic");
    snprintf(st->calib, sizeof st->calib, "minmax");
    snprintf(st->scope, sizeof st->scope, "global");
    if (st->kind == PARE_STEP_PRUNE) snprintf(st->method, sizeof st->method, "magnitude");
    if (!params) return PARE_OK;
    char where[96];
    snprintf(where, sizeof where, "%s.%s", key, kind);
    pare_status s = want(c, params, YAML_MAPPING_NODE, where, "a mapping of parameters");
    const char *name;
    static const char *const pools[] = {"mean", "cls", "pooler", NULL}, *const methods[] = {"rtn", "gptq", "awq", "nf4", "fp4", "smoothquant", "llm-int8", NULL},
                             *const acts[] = {"dynamic", "static", "none", NULL},
                             *const calibs[] = {"minmax", "percentile", NULL}, *const scopes[] = {"global", "local", NULL},
                             *const types[] = {"q8_0", "q5_1", "q5_0", "q4_1", "q4_0", "f16", "bf16", "f32", NULL};
    FOR_PAIRS(c, params, k, v, name, s) {
        char sk[160];
        snprintf(sk, sizeof sk, "%s.%s", where, name);
        if (st->kind == PARE_STEP_FINETUNE_HEAD) {
            if (!strcmp(name, "epochs")) s = get_int(c, v, sk, 1, 100000, &st->epochs);
            else if (!strcmp(name, "lr")) s = get_num(c, v, sk, 1e-8, 10, &st->lr);
            else if (!strcmp(name, "batch")) s = get_int(c, v, sk, 1, 1 << 20, &st->batch);
            else if (!strcmp(name, "pooling")) s = get_choice(c, v, sk, pools, st->pooling, sizeof st->pooling);
            else s = unknown(c, k, where, name, "epochs, lr, batch, pooling");
        } else if (st->kind == PARE_STEP_QUANTIZE) {
            if (!strcmp(name, "method")) s = get_choice(c, v, sk, methods, st->method, sizeof st->method);
            else if (!strcmp(name, "bits")) {
                s = get_int(c, v, sk, 2, 32, &st->bits);
                st->bits_given = true;
            } else if (!strcmp(name, "type")) s = get_choice(c, v, sk, types, st->type, sizeof st->type);
            else if (!strcmp(name, "act")) s = get_choice(c, v, sk, acts, st->act, sizeof st->act);
            else if (!strcmp(name, "calib")) s = get_choice(c, v, sk, calibs, st->calib, sizeof st->calib);
            else if (!strcmp(name, "calib_n")) {
                s = get_int(c, v, sk, 1, 1 << 20, &st->calib_n);
                st->calib_n_given = true;
            } else if (!strcmp(name, "group")) s = get_int(c, v, sk, 32, 1 << 20, &st->group);
            else if (!strcmp(name, "sym")) s = get_bool(c, v, sk, &st->sym);
            else if (!strcmp(name, "smooth")) s = get_num(c, v, sk, 0.01, 0.99, &st->smooth);
            else if (!strcmp(name, "calib_len")) s = get_int(c, v, sk, 2, 1 << 16, &st->calib_len);
            else if (!strcmp(name, "calib_file")) {
                s = resolve_path(c, v, sk, st->calib_file, sizeof st->calib_file);
                if (!s) s = check_exists(c, v, sk, st->calib_file, false);
            } else s = unknown(c, k, where, name, "method, bits, type, group, sym, act, calib, calib_n, calib_file, calib_len, smooth");
        } else {
            if (!strcmp(name, "sparsity")) s = get_num(c, v, sk, 0, 0.99, &st->sparsity);
            else if (!strcmp(name, "scope")) s = get_choice(c, v, sk, scopes, st->scope, sizeof st->scope);
            else if (!strcmp(name, "method")) {
                static const char *const pm[] = {"magnitude", "wanda", "sparsegpt", NULL};
                s = get_choice(c, v, sk, pm, st->method, sizeof st->method);
            } else if (!strcmp(name, "nm")) {
                char nm[16];
                s = get_str(c, v, sk, nm, sizeof nm);
                if (!s && (sscanf(nm, "%d:%d", &st->nm_n, &st->nm_m) != 2 || st->nm_n <= 0 || st->nm_n >= st->nm_m || st->nm_m > 64))
                    s = failf(c, v, sk, "expected N:M with 0 < N < M <= 64 (2:4, 4:8), got '%s'", nm);
            } else if (!strcmp(name, "calib_file")) {
                s = resolve_path(c, v, sk, st->calib_file, sizeof st->calib_file);
                if (!s) s = check_exists(c, v, sk, st->calib_file, false);
            } else if (!strcmp(name, "calib_n")) {
                s = get_int(c, v, sk, 1, 1 << 20, &st->calib_n);
                st->calib_n_given = true;
            } else if (!strcmp(name, "calib_len")) {
                s = get_int(c, v, sk, 2, 1 << 16, &st->calib_len);
            } else s = unknown(c, k, where, name, "method, sparsity, scope, nm, calib_file, calib_n, calib_len");
        }
    }
    return s;
}

static pare_status parse_pipelines(ycx *c, yaml_node_t *n, pare_exp_config *cfg) {
    pare_status s = want(c, n, YAML_SEQUENCE_NODE, "pipelines", "a list of {name, steps}");
    for (yaml_node_item_t *i = n->data.sequence.items.start; !s && i < n->data.sequence.items.top; i++) {
        yaml_node_t *p = yaml_document_get_node(c->doc, *i), *k, *v, *steps = NULL;
        char key[64];
        snprintf(key, sizeof key, "pipelines[%d]", cfg->n_pipelines);
        if (cfg->n_pipelines == PARE_EXP_MAX_PIPELINES) return failf(c, p, key, "at most %d pipelines", PARE_EXP_MAX_PIPELINES);
        if ((s = want(c, p, YAML_MAPPING_NODE, key, "{name, steps}"))) return s;
        pare_exp_pipeline *pl = &cfg->pipelines[cfg->n_pipelines++];
        pl->line = line_of(p);
        const char *name;
        FOR_PAIRS(c, p, k, v, name, s) {
            char sub[96];
            snprintf(sub, sizeof sub, "%s.%s", key, name);
            if (!strcmp(name, "name")) s = get_str(c, v, sub, pl->name, sizeof pl->name);
            else if (!strcmp(name, "steps")) {
                steps = v;
                if (v->type == YAML_SCALAR_NODE && !*scalar(v)) continue; /* steps: (none) */
                s = want(c, v, YAML_SEQUENCE_NODE, sub, "a list of steps");
            } else s = unknown(c, k, key, name, "name, steps");
        }
        if (s) return s;
        if (!pl->name[0]) return failf(c, p, key, "missing 'name'");
        for (const char *q = pl->name; *q; q++)
            if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '_' || *q == '.' || *q == '+'))
                return failf(c, p, key, "name '%s' may hold only letters, digits and - _ . +", pl->name);
        for (int j = 0; j < cfg->n_pipelines - 1; j++)
            if (!strcmp(cfg->pipelines[j].name, pl->name))
                return failf(c, p, key, "duplicate pipeline name '%s' (also on line %d)", pl->name, cfg->pipelines[j].line);
        if (steps && steps->type == YAML_SEQUENCE_NODE)
            for (yaml_node_item_t *j = steps->data.sequence.items.start; !s && j < steps->data.sequence.items.top; j++) {
                char sk[96];
                snprintf(sk, sizeof sk, "%s.steps[%d]", key, pl->n_steps);
                if (pl->n_steps == PARE_EXP_MAX_STEPS) return failf(c, steps, sk, "at most %d steps", PARE_EXP_MAX_STEPS);
                s = parse_step(c, yaml_document_get_node(c->doc, *j), sk, &pl->steps[pl->n_steps++]);
            }
        /* order rules: at most one quantize, and it comes last; prune before any head */
        int nq = 0;
        for (int j = 0; !s && j < pl->n_steps; j++) {
            const pare_exp_step *st = &pl->steps[j];
            char sk[96];
            snprintf(sk, sizeof sk, "%s.steps[%d]", key, j);
            if (st->kind == PARE_STEP_QUANTIZE && nq++) s = failf(c, p, sk, "a second quantize step");
            else if (st->kind != PARE_STEP_QUANTIZE && nq)
                s = failf(c, p, sk, "%s after quantize: quantize must be the last step", pare_exp_step_name(st->kind));
        }
    }
    return s;
}

/* What depends on the task, checked once the whole file is read (keys come
 * in any order): model kinds, and which steps and parameters apply. */
static pare_status task_fail(ycx *c, int line, const char *key, const char *msg) {
    return pare_err_set(c->err, PARE_ERR_FORMAT, "%s:%d: %s: %s", c->name, line, key, msg);
}

static pare_status check_task(ycx *c, pare_exp_config *cfg) {
    const bool lm = !strcmp(cfg->dataset.task, "lm");
    char key[96], msg[PARE_EXP_PATH + 128];
    for (int i = 0; i < cfg->n_models && c->check_paths; i++) {
        const pare_exp_model *m = &cfg->models[i];
        struct stat st;
        bool dir = stat(m->path, &st) == 0 && S_ISDIR(st.st_mode);
        snprintf(key, sizeof key, "models[%d].path", i);
        if (lm && (dir || !pare_is_gguf_file(m->path))) {
            snprintf(msg, sizeof msg, "%s is not a GGUF file (task lm takes Llama-family GGUF models)", m->path);
            return task_fail(c, m->path_line, key, msg);
        }
        if (!lm && !dir) {
            snprintf(msg, sizeof msg, "%s is not a model folder (classification takes Hugging Face BERT folders)", m->path);
            return task_fail(c, m->path_line, key, msg);
        }
    }
    for (int p = 0; p < cfg->n_pipelines; p++)
        for (int j = 0; j < cfg->pipelines[p].n_steps; j++) {
            pare_exp_step *st = &cfg->pipelines[p].steps[j];
            snprintf(key, sizeof key, "pipelines[%d].steps[%d]", p, j);
            if (lm && st->kind == PARE_STEP_FINETUNE_HEAD)
                return task_fail(c, st->line, key, "step 'finetune-head' is not available for task lm (quantize and prune)");
            if (st->kind == PARE_STEP_PRUNE) {
                const bool calib = strcmp(st->method, "magnitude") != 0;
                if (!lm && (calib || st->nm_m))
                    return task_fail(c, st->line, key, "wanda, sparsegpt and nm are for task lm; BERT models take method magnitude");
                if (lm && calib && !st->calib_file[0])
                    return task_fail(c, st->line, key, "wanda and sparsegpt need calib_file (a text file, e.g. wiki.valid.tokens)");
                if (lm && !st->calib_n_given) st->calib_n = 32;
                if (lm) snprintf(st->scope, sizeof st->scope, "local"); /* one threshold per linear, layer by layer */
                continue;
            }
            if (st->kind != PARE_STEP_QUANTIZE) continue;
            const bool bert4 = !lm && (!strcmp(st->method, "nf4") || !strcmp(st->method, "fp4") ||
                                       (st->bits == 4 && (!strcmp(st->method, "rtn") || !strcmp(st->method, "gptq"))));
            if (lm && (!strcmp(st->method, "nf4") || !strcmp(st->method, "fp4"))) { /* 4-bit values in F16 */
                if (st->type[0] || st->group || (st->bits_given && st->bits != 4))
                    return task_fail(c, st->line, key, "nf4 and fp4 are 4 bits (blocks of 64): no type, group or other bits");
                st->bits = 4;
                snprintf(st->type, sizeof st->type, "f16");
                continue;
            }
            if (!lm && !strcmp(st->method, "llm-int8"))
                return task_fail(c, st->line, key, "llm-int8 is for task lm (Llama-family GGUF)");
            const bool w8a8 = !strcmp(st->method, "smoothquant") || !strcmp(st->method, "llm-int8");
            if (lm && (w8a8 ? st->bits != 8 || st->type[0] : st->smooth > 0))
                return task_fail(c, st->line, key, w8a8 ? "smoothquant and llm-int8 are W8A8: bits 8, no type"
                                                        : "smooth is for method smoothquant");
            if (lm && w8a8) {
                if (!st->calib_file[0]) return task_fail(c, st->line, key, "smoothquant and llm-int8 need calib_file (a text file)");
                if (!st->calib_n_given) st->calib_n = 32;
                snprintf(st->type, sizeof st->type, "q8_0");
                continue;
            }
            if (bert4) { /* weight-only 4-bit: nf4 / fp4 (blocks of 64), int4 rtn / gptq (group, 128) */
                st->bits = 4;
                snprintf(st->act, sizeof st->act, "none");
                if (!st->group && (!strcmp(st->method, "rtn") || !strcmp(st->method, "gptq"))) st->group = 128;
                if (st->group % 32) return task_fail(c, st->line, key, "group must be a multiple of 32");
                continue;
            }
            if (!lm && !strcmp(st->method, "smoothquant")) {
                if (!(st->smooth > 0)) st->smooth = 0.8;
                if (!strcmp(st->act, "none")) return task_fail(c, st->line, key, "smoothquant is for act dynamic or static");
                snprintf(st->method, sizeof st->method, "rtn");
            } else if (!lm && st->smooth > 0 && !strcmp(st->act, "none")) {
                return task_fail(c, st->line, key, "smooth is for act dynamic or static");
            }
            const bool grid = strcmp(st->method, "rtn") != 0 || st->group > 0;
            if (!lm && grid) return task_fail(c, st->line, key, "gptq, awq and group are for task lm (BERT: gptq with bits 4); BERT models take method rtn, nf4, fp4, smoothquant");
            if (lm && grid) {
                if (!st->group) st->group = 128;
                if (st->group % 32) return task_fail(c, st->line, key, "group must be a multiple of 32");
                if (strcmp(st->method, "rtn") && !st->calib_file[0])
                    return task_fail(c, st->line, key, "gptq and awq need calib_file (a text file, e.g. wiki.valid.tokens)");
                if (!st->calib_n_given) st->calib_n = 32;
            }
            if (lm && !st->type[0]) {
                const char *t = st->bits == 8 ? "q8_0" : st->bits == 5 ? (grid && !st->sym ? "q5_1" : "q5_0")
                              : st->bits == 4 ? (grid && !st->sym ? "q4_1" : "q4_0") : NULL;
                if (!t) return task_fail(c, st->line, key, "task lm quantizes to 8, 5 or 4 bits (or give type: q4_1, f16, ...)");
                snprintf(st->type, sizeof st->type, "%s", t);
            }
            if (!lm && st->type[0]) return task_fail(c, st->line, key, "'type' is for task lm; BERT models take bits: 8 and act");
            if (!lm && st->bits != 8) {
                snprintf(msg, sizeof msg, "%lld bits: BERT models quantize to 8 bits, or 4 (method rtn, gptq, nf4, fp4)", (long long)st->bits);
                return task_fail(c, st->line, key, msg);
            }
        }
    return PARE_OK;
}

static void set_defaults(pare_exp_config *cfg) {
    snprintf(cfg->dataset.task, sizeof cfg->dataset.task, "multi-label");
    snprintf(cfg->dataset.text, sizeof cfg->dataset.text, "Tweet");
    cfg->dataset.split[0] = 0.6, cfg->dataset.split[1] = 0.3, cfg->dataset.split[2] = 0.1;
    cfg->dataset.seed = 42;
    cfg->dataset.max_len = 128;
    cfg->dataset.threshold = 0.5;
    cfg->latency.batch[0] = 1, cfg->latency.batch[1] = 8, cfg->latency.n_batch = 2;
    cfg->latency.seq = 128;
    cfg->latency.warmup = 3;
    cfg->latency.reps = 20;
    cfg->latency.prompt = 64;
    cfg->latency.gen = 32;
    cfg->dataset.ctx = 512;
    cfg->dataset.chunks = 8;
    snprintf(cfg->latency.device, sizeof cfg->latency.device, "cpu");
}

static pare_status parse_root(ycx *c, yaml_node_t *root, pare_exp_config *cfg) {
    if (!root) return pare_err_set(c->err, PARE_ERR_FORMAT, "%s: empty experiment file", c->name);
    pare_status s = want(c, root, YAML_MAPPING_NODE, "(top level)", "a mapping of name, models, dataset, pipelines, ...");
    yaml_node_t *k, *v, *baseline = NULL;
    const char *name;
    bool seen[6] = {0};
    static const char *const top[] = {"name", "models", "dataset", "latency", "baseline", "pipelines"};
    FOR_PAIRS(c, root, k, v, name, s) {
        int which = -1;
        for (int i = 0; i < 6; i++)
            if (!strcmp(name, top[i])) which = i;
        if (which < 0) { s = unknown(c, k, "(top level)", name, "name, models, dataset, latency, baseline, pipelines"); break; }
        if (seen[which]) { s = failf(c, k, name, "given twice"); break; }
        seen[which] = true;
        switch (which) {
        case 0: s = get_str(c, v, "name", cfg->name, sizeof cfg->name); break;
        case 1: s = parse_models(c, v, cfg); break;
        case 2: s = parse_dataset(c, v, cfg); break;
        case 3: s = parse_latency(c, v, cfg); break;
        case 4: baseline = v; s = get_str(c, v, "baseline", cfg->baseline, sizeof cfg->baseline); break;
        default: s = parse_pipelines(c, v, cfg); break;
        }
    }
    if (s) return s;
    if (!cfg->name[0]) return failf(c, root, "name", "missing (the experiment's name)");
    if (!seen[1] || cfg->n_models == 0) return failf(c, root, "models", "missing (a list of model folders)");
    if (!seen[2]) return failf(c, root, "dataset", "missing (path of a TSV file)");
    if (cfg->n_pipelines == 0) return failf(c, root, "pipelines", "missing (a list of {name, steps})");
    if ((s = check_task(c, cfg))) return s;
    if (baseline) {
        int found = 0;
        for (int i = 0; i < cfg->n_pipelines; i++) found |= !strcmp(cfg->pipelines[i].name, cfg->baseline);
        if (!found) return failf(c, baseline, "baseline", "no pipeline named '%s'", cfg->baseline);
    } else {
        snprintf(cfg->baseline, sizeof cfg->baseline, "%s", cfg->pipelines[0].name);
    }
    return PARE_OK;
}

static pare_status yaml_syntax(const yaml_parser_t *p, const char *name, pare_err *err) {
    return pare_err_set(err, PARE_ERR_FORMAT, "%s:%d: YAML syntax: %s%s%s", name, (int)p->problem_mark.line + 1,
                        p->problem ? p->problem : "error", p->context ? " " : "", p->context ? p->context : "");
}

/* A pass over the events before the document is built: one document only,
 * and nesting refused past YAML_MAX_DEPTH while parsing (libyaml's scanner
 * is quadratic in the depth: 100k levels took 53 s). */
enum { YAML_MAX_DEPTH = 64 };

static pare_status scan_events(const char *text, size_t len, const char *name, pare_err *err) {
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    pare_status s = PARE_OK;
    int depth = 0, docs = 0;
    for (bool end = false; !end && !s;) {
        yaml_event_t e;
        if (!yaml_parser_parse(&p, &e)) {
            s = yaml_syntax(&p, name, err);
            break;
        }
        const int line = (int)e.start_mark.line + 1;
        switch (e.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth > YAML_MAX_DEPTH)
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%d: nested more than %d levels deep", name, line, YAML_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s:%d: a second YAML document ('---'); an experiment file holds one",
                                 name, line);
            break;
        case YAML_STREAM_END_EVENT: end = true; break;
        default: break;
        }
        yaml_event_delete(&e);
    }
    yaml_parser_delete(&p);
    return s;
}

pare_status pare_exp_config_parse(const char *text, size_t len, const char *name, const char *dir,
                                  bool check_paths, pare_exp_config *cfg, pare_err *err) {
    memset(cfg, 0, sizeof *cfg);
    set_defaults(cfg);
    snprintf(cfg->file, sizeof cfg->file, "%s", name);
    if (!(cfg->text = malloc(len + 1))) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    memcpy(cfg->text, text, len);
    cfg->text[len] = 0;
    cfg->hash = pare_fnv1a64(text, len);
    yaml_parser_t parser;
    yaml_document_t doc;
    pare_status s = scan_events(cfg->text, len, name, err);
    if (s) {
        pare_exp_config_free(cfg);
        return s;
    }
    if (!yaml_parser_initialize(&parser)) {
        pare_exp_config_free(cfg);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)cfg->text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        s = yaml_syntax(&parser, name, err);
        yaml_parser_delete(&parser);
        pare_exp_config_free(cfg);
        return s;
    }
    ycx c = {.doc = &doc, .name = name, .dir = dir, .check_paths = check_paths, .err = err};
    s = parse_root(&c, yaml_document_get_root_node(&doc), cfg);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (s) pare_exp_config_free(cfg);
    return s;
}

pare_status pare_exp_config_load(const char *path, pare_exp_config *cfg, pare_err *err) {
    char *buf;
    size_t len;
    memset(cfg, 0, sizeof *cfg);
    pare_status s = pare_read_file(path, (size_t)1 << 24, &buf, &len, err);
    if (s) return s;
    char dir[PARE_EXP_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    s = pare_exp_config_parse(buf, len, path, dir, true, cfg, err);
    free(buf);
    return s;
}

void pare_exp_config_free(pare_exp_config *cfg) {
    free(cfg->text);
    cfg->text = NULL;
}

const char *pare_exp_step_name(pare_exp_step_kind k) {
    return (unsigned)k < 3 ? STEP_NAMES[k] : "?";
}

void pare_exp_step_describe(const pare_exp_step *s, char *buf, size_t cap) {
    switch (s->kind) {
    case PARE_STEP_FINETUNE_HEAD:
        snprintf(buf, cap, "finetune-head(%s pooling, %lld epochs, lr %g)", s->pooling, (long long)s->epochs, s->lr);
        break;
    case PARE_STEP_QUANTIZE:
        if (s->type[0] && s->group)
            snprintf(buf, cap, "quantize(%s %s g%lld)", s->method, s->type, (long long)s->group);
        else if (s->type[0])
            snprintf(buf, cap, "quantize(%s %s)", s->method, s->type);
        else if (!strcmp(s->method, "nf4") || !strcmp(s->method, "fp4"))
            snprintf(buf, cap, "quantize(%s, weight-only)", s->method);
        else if (s->bits == 4)
            snprintf(buf, cap, "quantize(%s int4 g%lld, weight-only%s)", s->method, (long long)s->group,
                     strcmp(s->method, "gptq") ? "" : ", calibrated");
        else {
            char sq[32] = "";
            if (s->smooth > 0) snprintf(sq, sizeof sq, ", smoothquant %g", s->smooth);
            if (!strcmp(s->act, "static"))
                snprintf(buf, cap, "quantize(%s int%lld, act static %s, %lld calib texts%s)", s->method, (long long)s->bits,
                         s->calib, (long long)s->calib_n, sq);
            else
                snprintf(buf, cap, "quantize(%s int%lld, act %s%s)", s->method, (long long)s->bits, s->act, sq);
        }
        break;
    default:
        if (s->nm_m) snprintf(buf, cap, "prune(%s %d:%d)", s->method, s->nm_n, s->nm_m);
        else if (strcmp(s->method, "magnitude")) snprintf(buf, cap, "prune(%s %.0f%%)", s->method, s->sparsity * 100);
        else snprintf(buf, cap, "prune(magnitude %s, %.0f%%)", s->scope, s->sparsity * 100);
        break;
    }
}
