/* pare_json: config.json and friends over cJSON, with typed getters whose
 * errors name the file and key. A JSON null counts as absent. */
#include "pare/io.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_BYTES (64u << 20)

struct pare_json {
    cJSON *root;
    char *name;
};

pare_status pare_json_parse(const char *text, size_t len, const char *name, pare_json **out,
                            pare_err *err) {
    *out = NULL;
    if (!name) name = "(json)";
    if (!text && len) return pare_err_set(err, PARE_ERR_INVALID, "%s: NULL text", name);
    if (len > JSON_MAX_BYTES)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: %zu bytes, more than the %u allowed", name, len,
                            JSON_MAX_BYTES);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text ? text : "", len, &end, 0);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < at; i++) line += text[i] == '\n';
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: invalid JSON at byte %zu (line %zu)", name, at,
                            line);
    }
    for (const char *p = end; p && p < text + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: trailing bytes after the JSON value at byte %zu",
                                name, (size_t)(p - text));
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: top level is not a JSON object", name);
    }
    pare_json *j = calloc(1, sizeof *j);
    size_t nlen = strlen(name);
    char *nm = malloc(nlen + 1);
    if (!j || !nm) {
        free(j);
        free(nm);
        cJSON_Delete(root);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    }
    memcpy(nm, name, nlen + 1);
    j->root = root;
    j->name = nm;
    *out = j;
    return PARE_OK;
}

pare_status pare_json_open(const char *path, pare_json **out, pare_err *err) {
    *out = NULL;
    char *text;
    size_t len;
    pare_status s = pare_read_file(path, JSON_MAX_BYTES, &text, &len, err);
    if (s != PARE_OK) return s;
    s = pare_json_parse(text, len, path, out, err);
    free(text);
    return s;
}

void pare_json_free(pare_json *j) {
    if (!j) return;
    cJSON_Delete(j->root);
    free(j->name);
    free(j);
}

/* The value under key, or NULL when absent or null. */
static const cJSON *lookup(const pare_json *j, const char *key) {
    if (!j || !key) return NULL;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j->root, key);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

pare_status pare_json_get_int(const pare_json *j, const char *key, int64_t def, int64_t lo,
                              int64_t hi, int64_t *out, pare_err *err) {
    const cJSON *v = lookup(j, key);
    if (!v) {
        *out = def;
        return PARE_OK;
    }
    double d = v->valuedouble;
    /* 2^63 is the first double past INT64_MAX. */
    if (!cJSON_IsNumber(v) || d != floor(d) || !(d >= -9223372036854775808.0) ||
        !(d < 9223372036854775808.0))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is not an integer", j->name, key);
    int64_t x = (int64_t)d;
    if (x < lo || x > hi)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is %lld, outside [%lld, %lld]", j->name, key,
                            (long long)x, (long long)lo, (long long)hi);
    *out = x;
    return PARE_OK;
}

pare_status pare_json_get_float(const pare_json *j, const char *key, double def, double *out,
                                pare_err *err) {
    const cJSON *v = lookup(j, key);
    if (!v) {
        *out = def;
        return PARE_OK;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is not a finite number", j->name, key);
    *out = v->valuedouble;
    return PARE_OK;
}

pare_status pare_json_get_bool(const pare_json *j, const char *key, bool def, bool *out,
                               pare_err *err) {
    const cJSON *v = lookup(j, key);
    if (!v) {
        *out = def;
        return PARE_OK;
    }
    if (!cJSON_IsBool(v))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is not true or false", j->name, key);
    *out = cJSON_IsTrue(v);
    return PARE_OK;
}

pare_status pare_json_get_str(const pare_json *j, const char *key, const char *def, char *buf,
                              size_t cap, pare_err *err) {
    const char *name = j ? j->name : "(json)";
    if (!buf || cap == 0)
        return pare_err_set(err, PARE_ERR_INVALID, "%s: '%s': no buffer", name, key ? key : "");
    const cJSON *v = lookup(j, key);
    const char *s = def;
    if (v) {
        if (!cJSON_IsString(v))
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is not a string", name, key);
        s = v->valuestring;
    }
    if (!s) s = "";
    size_t n = strlen(s);
    if (n >= cap)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: '%s' is %zu bytes long, more than the %zu allowed",
                            name, key, n, cap - 1);
    memcpy(buf, s, n + 1);
    return PARE_OK;
}

bool pare_json_has(const pare_json *j, const char *key) { return lookup(j, key) != NULL; }
const void *pare_json_root(const pare_json *j) { return j ? j->root : NULL; }
const char *pare_json_name(const pare_json *j) { return j ? j->name : NULL; }
