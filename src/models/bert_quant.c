/* int8 quantization of the BERT encoder: in place (pare_bert_quantize,
 * with calibration of static input scales), the quantized checkpoint
 * format (pare_bert_save_quantized) and its config.json marker. */
#include "models/bert_internal.h"
#include "models/model_files.h"
#include "compress/hessian.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const qmode_names[] = {"fp32", "w8a8-dynamic", "w8a8-static", "w8-only", "w4-nf4", "w4-fp4", "w4-int4"};
/* quantization_config.quant_method of the 4-bit modes */
static const char *const w4_methods[] = {"pare-nf4", "pare-fp4", "pare-int4"};
/* quantization_config.activations for each mode */
static const char *const qmode_acts[] = {"", "dynamic", "static", "none"};

const char *pare_bert_qmode_name(pare_bert_qmode q) {
    return (unsigned)q < sizeof qmode_names / sizeof *qmode_names ? qmode_names[q] : "?";
}

pare_bert_qmode pare_bert_get_qmode(const pare_bert *m) { return m->qmode; }

pare_status bert_read_qmode(const char *config_path, pare_bert_qmode *out, int64_t *group, double *smooth_alpha, pare_err *err) {
    *out = PARE_BERT_FP32;
    *smooth_alpha = 0;
    pare_json *j;
    pare_status s = pare_json_open(config_path, &j, err);
    if (s) return s;
    const cJSON *qc = cJSON_GetObjectItemCaseSensitive((const cJSON *)pare_json_root(j), "quantization_config");
    const cJSON *method = qc ? cJSON_GetObjectItemCaseSensitive(qc, "quant_method") : NULL;
    int w4 = -1;
    for (int k = 0; k < 3 && cJSON_IsString(method); k++)
        if (!strcmp(method->valuestring, w4_methods[k])) w4 = k;
    if (w4 >= 0) {
        const cJSON *bits = cJSON_GetObjectItemCaseSensitive(qc, "bits"), *g = cJSON_GetObjectItemCaseSensitive(qc, "group_size");
        *out = (pare_bert_qmode)(PARE_BERT_W4_NF4 + w4);
        if (!cJSON_IsNumber(bits) || bits->valuedouble != 4.0)
            s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: quantization_config.bits must be 4 for %s", config_path, method->valuestring);
        else if (*out == PARE_BERT_W4_INT && (!cJSON_IsNumber(g) || g->valuedouble < 2 || g->valuedouble > 65536 || (int64_t)g->valuedouble % 2))
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: quantization_config.group_size must be an even number of inputs", config_path);
        else if (*out == PARE_BERT_W4_INT)
            *group = (int64_t)g->valuedouble;
        pare_json_free(j);
        return s;
    }
    if (qc && !cJSON_IsNull(qc)) {
        const cJSON *bits = cJSON_GetObjectItemCaseSensitive(qc, "bits");
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(qc, "activations");
        if (!cJSON_IsObject(qc) || !cJSON_IsString(method) || strcmp(method->valuestring, "pare-rtn") != 0)
            s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: quantization_config is not one pare wrote (quant_method \"pare-rtn\", \"pare-nf4\", \"pare-fp4\" or \"pare-int4\")", config_path);
        else if (!cJSON_IsNumber(bits) || bits->valuedouble != 8.0)
            s = pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: quantization_config.bits must be 8", config_path);
        else if (!cJSON_IsString(act))
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: quantization_config.activations must be a string", config_path);
        else {
            s = pare_err_set(err, PARE_ERR_FORMAT, "%s: quantization_config.activations \"%s\" is not dynamic, static or none",
                             config_path, act->valuestring);
            for (int q = 1; q < 4; q++)
                if (!strcmp(act->valuestring, qmode_acts[q])) {
                    *out = (pare_bert_qmode)q;
                    s = PARE_OK;
                }
            const cJSON *sa = cJSON_GetObjectItemCaseSensitive(qc, "smoothquant_alpha");
            if (!s && sa && (!cJSON_IsNumber(sa) || !(sa->valuedouble > 0 && sa->valuedouble < 1)))
                s = pare_err_set(err, PARE_ERR_FORMAT, "%s: quantization_config.smoothquant_alpha must be in (0, 1)", config_path);
            else if (!s && sa)
                *smooth_alpha = sa->valuedouble;
        }
    }
    pare_json_free(j);
    return s;
}

/* Run the calibration texts through the fp32 model with observers on the
 * input of every quantized layer. obs: [n_layers * 4]. */
static pare_status calibrate(pare_bert *m, const pare_bert_quant_opts *o, pare_act_observer *obs, double **hess,
                             pare_err *err) {
    if (!o->calib_texts || o->n_calib <= 0)
        return pare_err_set(err, PARE_ERR_INVALID, "%s needs calibration texts",
                            hess ? "GPTQ" : m->chan_amax ? "SmoothQuant" : "static activation quantization");
    if (!m->tok) return pare_err_set(err, PARE_ERR_INVALID, "calibration needs the model's tokenizer");
    const int64_t B = o->batch > 0 ? o->batch : 8;
    int64_t T = o->max_len > 0 ? o->max_len : 128;
    T = T < m->cfg.max_position ? T : m->cfg.max_position;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * T)), *mask = malloc(sizeof(int32_t) * (size_t)(B * T));
    pare_status s = ids && mask ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    m->obs = obs;
    m->hess = hess;
    for (int64_t i = 0; i < o->n_calib && !s; i += B) {
        int64_t nb = o->n_calib - i < B ? o->n_calib - i : B;
        int32_t seq;
        s = pare_wordpiece_encode_batch(m->tok, o->calib_texts + i, (int32_t)nb, (int32_t)T, false, ids, mask, &seq, err);
        if (s) {
            pare_err_wrap(err, "calibration text %lld", (long long)i);
            break;
        }
        pare_bert_outputs out = {0};
        s = pare_bert_forward(m, ids, mask, NULL, nb, seq, &out, err);
    }
    m->obs = NULL;
    m->hess = NULL;
    free(ids);
    free(mask);
    return s;
}

/* SmoothQuant (Xiao et al. 2023): per input channel j of every Linear,
 * s_j = max|x_j|^alpha / max|W_.j|^(1 - alpha) over the calibration
 * texts; the int8 path then multiplies its input by 1 / s (a pass over the
 * activations: BERT's LayerNorm outputs are also its residual stream, so
 * the division cannot be folded into them as in pre-LN models) and holds
 * W * s, moving activation outliers into the weights. */
static pare_status smooth(pare_bert *m, const pare_bert_quant_opts *o, pare_err *err) {
    if (o->mode != PARE_BERT_W8A8_DYNAMIC && o->mode != PARE_BERT_W8A8_STATIC)
        return pare_err_set(err, PARE_ERR_INVALID, "SmoothQuant is for W8A8 (int8 activations), not %s", pare_bert_qmode_name(o->mode));
    if (!(o->smooth_alpha > 0 && o->smooth_alpha < 1)) return pare_err_set(err, PARE_ERR_INVALID, "SmoothQuant alpha %g is not in (0, 1)", o->smooth_alpha);
    const int64_t NL = m->cfg.n_layers;
    float **amax = calloc((size_t)(NL * 4), sizeof *amax);
    pare_status s = amax ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t i = 0; i < NL * 4 && !s; i++)
        if (!(amax[i] = calloc((size_t)bert_layer_lin(&m->layers[i / 4], (int)(i % 4))->f.n_in, sizeof(float))))
            s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    if (!s) {
        m->chan_amax = amax;
        s = calibrate(m, o, NULL, NULL, err);
        m->chan_amax = NULL;
    }
    for (int64_t i = 0; i < NL * 4 && !s; i++) {
        bert_lin *l = bert_layer_lin(&m->layers[i / 4], (int)(i % 4));
        const int64_t N = l->f.n_out, K = l->f.n_in;
        float *inv = pare_arena_alloc(m->weights, sizeof(float) * (size_t)K, 64);
        if (!inv) {
            s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
            break;
        }
        for (int64_t k = 0; k < K; k++) {
            float wmax = 0;
            for (int64_t r = 0; r < N; r++) wmax = fmaxf(wmax, fabsf(l->f.w[r * K + k]));
            double sj = amax[i][k] > 0 && wmax > 0 ? pow(amax[i][k], o->smooth_alpha) / pow(wmax, 1 - o->smooth_alpha) : 1.0;
            sj = sj < 1e-5 ? 1e-5 : sj > 1e5 ? 1e5 : sj;
            inv[k] = (float)(1.0 / sj);
        }
        l->smooth = inv;
    }
    for (int64_t i = 0; amax && i < NL * 4; i++) free(amax[i]);
    free(amax);
    return s;
}

/* 4-bit weight-only: every Linear, int4 by GPTQ on the calibration texts'
 * Hessians (collected from the fp32 model, all layers in one pass) or by
 * round to nearest; nf4 / fp4 by their tables. */
static pare_status quantize_w4(pare_bert *m, const pare_bert_quant_opts *o, pare_err *err) {
    const int64_t NL = m->cfg.n_layers, group = o->group > 0 ? o->group : 128;
    if (o->gptq && o->mode != PARE_BERT_W4_INT) return pare_err_set(err, PARE_ERR_INVALID, "GPTQ quantizes to int4 (w4-int4), not %s", pare_bert_qmode_name(o->mode));
    if (o->mode == PARE_BERT_W4_INT && (group < 32 || group % 32))
        return pare_err_set(err, PARE_ERR_INVALID, "int4 group size %lld is not a multiple of 32", (long long)group);
    double **hess = NULL;
    pare_status s = PARE_OK;
    if (o->gptq) {
        if (!(hess = calloc((size_t)(NL * 4), sizeof *hess))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int64_t i = 0; i < NL * 4 && !s; i++) {
            const int64_t K = bert_layer_lin(&m->layers[i / 4], (int)(i % 4))->f.n_in;
            if (!(hess[i] = calloc((size_t)(K * K), sizeof(double)))) s = pare_err_set(err, PARE_ERR_OOM, "out of memory for Hessians");
        }
        if (!s) s = calibrate(m, o, NULL, hess, err);
    }
    pare_gptq_opts go = o->gptq_opts;
    if (!(go.damp > 0)) go.damp = 0.01;
    for (int64_t i = 0; i < NL * 4 && !s; i++) {
        bert_lin *l = bert_layer_lin(&m->layers[i / 4], (int)(i % 4));
        if (hess) pare_hessian_mirror(hess[i], l->f.n_in);
        s = bert_w4_quantize_lin(m, l, i % 4 == 0 ? 3 : 1, o->mode, group, hess ? hess[i] : NULL, &go, err);
        if (s) pare_err_wrap(err, "layer %lld", (long long)(i / 4));
    }
    for (int64_t i = 0; hess && i < NL * 4; i++) free(hess[i]);
    free(hess);
    if (!s) {
        m->qmode = o->mode;
        m->qgroup = group;
    }
    return s;
}

pare_status pare_bert_quantize(pare_bert *m, const pare_bert_quant_opts *o, pare_err *err) {
    if (m->qmode != PARE_BERT_FP32)
        return pare_err_set(err, PARE_ERR_INVALID, "the model is already quantized (%s)", pare_bert_qmode_name(m->qmode));
    if (bert_qmode_w4(o->mode)) return quantize_w4(m, o, err);
    if (o->mode != PARE_BERT_W8A8_DYNAMIC && o->mode != PARE_BERT_W8A8_STATIC && o->mode != PARE_BERT_W8_ONLY)
        return pare_err_set(err, PARE_ERR_INVALID, "unknown quantization mode %d", (int)o->mode);
    const int64_t NL = m->cfg.n_layers, H = m->cfg.hidden_size, I = m->max_inter;
    pare_act_observer *obs = NULL;
    pare_status s = PARE_OK;
    if (o->smooth_alpha > 0 && (s = smooth(m, o, err))) return s;
    if (o->mode == PARE_BERT_W8A8_STATIC) {
        if (!(obs = calloc((size_t)(NL * 4), sizeof *obs))) return pare_err_set(err, PARE_ERR_OOM, "out of memory");
        for (int64_t i = 0; i < NL * 4; i++) {
            obs[i].method = o->calib;
            obs[i].percentile = o->percentile > 0 ? o->percentile : 99.99;
        }
        if ((s = calibrate(m, o, obs, NULL, err))) {
            free(obs);
            return s;
        }
    }
    int64_t most = 3 * H * H > I * H ? 3 * H * H : I * H;
    int8_t *q = malloc((size_t)most);
    float *sc = malloc(sizeof(float) * (size_t)(3 * H > I ? 3 * H : I));
    if (!q || !sc) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
    for (int64_t il = 0; il < NL && !s; il++)
        for (int which = 0; which < 4 && !s; which++) {
            bert_lin *l = bert_layer_lin(&m->layers[il], which);
            const pare_linear f = l->f;
            if (l->smooth) { /* W * s column-wise, s = 1 / smooth */
                float *ws = malloc(sizeof(float) * (size_t)(f.n_out * f.n_in));
                if (!ws) {
                    s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
                    break;
                }
                for (int64_t r = 0; r < f.n_out; r++)
                    for (int64_t c = 0; c < f.n_in; c++) ws[r * f.n_in + c] = f.w[r * f.n_in + c] / l->smooth[c];
                pare_quantize_int8_rows(ws, f.n_out, f.n_in, q, sc);
                free(ws);
            } else {
                pare_quantize_int8_rows(f.w, f.n_out, f.n_in, q, sc);
            }
            if (o->mode == PARE_BERT_W8_ONLY) {
                float *wf = pare_arena_alloc(m->weights, (size_t)(f.n_out * f.n_in) * sizeof(float), 64);
                if (!wf) s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
                if (!s) pare_dequantize_int8_rows(q, sc, f.n_out, f.n_in, wf);
                if (!s) s = pare_linear_init(&l->f, wf, f.bias, f.n_out, f.n_in, m->kernel, m->weights, err);
                if (!s) s = bert_lin_sparsify(m, l, err);
                if (s) l->f = f;
            } else {
                float in_scale = obs ? pare_act_observer_scale(&obs[il * 4 + which]) : 0.0f;
                s = pare_qlinear_init(&l->q, q, sc, f.bias, f.n_out, f.n_in, in_scale, m->params.kernel, m->weights, err);
                l->quant = s == PARE_OK;
            }
        }
    if (s) /* back to fp32 (a weight-only pass may have replaced some weights) */
        for (int64_t il = 0; il < NL; il++)
            for (int which = 0; which < 4; which++) {
                bert_layer_lin(&m->layers[il], which)->quant = false;
                bert_layer_lin(&m->layers[il], which)->smooth = NULL;
            }
    else {
        m->qmode = o->mode;
        m->smooth_alpha = o->smooth_alpha;
    }
    free(q);
    free(sc);
    free(obs);
    return s;
}

/* ------------------------------------------------------------ saving */

/* Which quantized Linear a checkpoint tensor name ("encoder.layer.N.<part>
 * .weight", without the prefix) is: layer, which (0..3), first row. */
static bool quant_target(const pare_bert *m, const char *name, int64_t *il, int *which, int64_t *row0,
                         size_t *base_len) {
    static const struct { const char *part; int which, third; } parts[] = {
        {"attention.self.query.weight", 0, 0}, {"attention.self.key.weight", 0, 1},
        {"attention.self.value.weight", 0, 2}, {"attention.output.dense.weight", 1, 0},
        {"intermediate.dense.weight", 2, 0},   {"output.dense.weight", 3, 0},
    };
    long long l;
    int n = 0;
    if (sscanf(name, "encoder.layer.%lld.%n", &l, &n) != 1 || n == 0 || l < 0 || l >= m->cfg.n_layers) return false;
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++)
        if (!strcmp(name + n, parts[i].part)) {
            *il = l;
            *which = parts[i].which;
            *row0 = parts[i].third * m->layers[l].n_heads * (m->cfg.hidden_size / m->cfg.n_heads);
            *base_len = strlen(name) - strlen(".weight");
            return true;
        }
    return false;
}

static pare_status write_config(const pare_bert *m, const char *src_dir, const char *out_dir, pare_err *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", src_dir);
    char *text;
    size_t len;
    pare_status s = pare_read_file(path, (size_t)16 << 20, &text, &len, err);
    if (s) return s;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "quantization_config");
    cJSON *qc = cJSON_AddObjectToObject(root, "quantization_config");
    cJSON *mods = qc ? cJSON_AddArrayToObject(qc, "modules") : NULL;
    cJSON *keep = qc ? cJSON_AddArrayToObject(qc, "fp32") : NULL;
    const bool w4 = bert_qmode_w4(m->qmode);
    bool ok = qc && mods && keep;
    if (ok && w4) {
        static const char *const desc[] = {"nf4: 16 NormalFloat values x absmax per 64 weights; absmax int8 - offset, scale per 256 blocks",
                                           "fp4: 16 FP4 (e2m1) values x absmax per 64 weights; absmax int8 - offset, scale per 256 blocks",
                                           "int4: code * weight_scale + weight_min per (row, group_size inputs), f16"};
        const int k = (int)m->qmode - (int)PARE_BERT_W4_NF4;
        ok = cJSON_AddStringToObject(qc, "quant_method", w4_methods[k]) && cJSON_AddNumberToObject(qc, "bits", 4) &&
             cJSON_AddStringToObject(qc, "weights", desc[k]) && cJSON_AddStringToObject(qc, "activations", "none") &&
             (m->qmode != PARE_BERT_W4_INT || cJSON_AddNumberToObject(qc, "group_size", (double)m->qgroup));
    } else if (ok) {
        ok = cJSON_AddStringToObject(qc, "quant_method", "pare-rtn") && cJSON_AddNumberToObject(qc, "bits", 8) &&
             cJSON_AddStringToObject(qc, "weights", "int8, symmetric, per output channel (weight_scale)") &&
             cJSON_AddStringToObject(qc, "activations", qmode_acts[m->qmode]) &&
             (!(m->smooth_alpha > 0) || cJSON_AddNumberToObject(qc, "smoothquant_alpha", m->smooth_alpha));
    }
    static const char *const qm[] = {"attention.self.query", "attention.self.key", "attention.self.value",
                                     "attention.output.dense", "intermediate.dense", "output.dense"};
    static const char *const fm[] = {"embeddings", "LayerNorm", "attention softmax", "pooler", "classifier"};
    for (size_t i = 0; ok && i < sizeof qm / sizeof *qm; i++) ok = cJSON_AddItemToArray(mods, cJSON_CreateString(qm[i]));
    for (size_t i = 0; ok && i < sizeof fm / sizeof *fm; i++) ok = cJSON_AddItemToArray(keep, cJSON_CreateString(fm[i]));
    char *out = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!out) return pare_err_set(err, PARE_ERR_OOM, "out of memory writing config.json");
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    s = pare_write_text(path, out, err);
    cJSON_free(out);
    return s;
}

typedef struct save_ctx {
    const pare_bert *m;
    const char *src_dir;
} save_ctx;

static pare_status save_quantized(const char *out_dir, void *ctx, pare_err *err) {
    const pare_bert *m = ((save_ctx *)ctx)->m;
    const char *src_dir = ((save_ctx *)ctx)->src_dir;
    const int64_t n_in_file = pare_tensor_file_count(m->file);
    const size_t plen = strlen(m->prefix);
    /* up to four output tensors per input tensor; names and data owned by ar */
    pare_tensor *ts = calloc((size_t)(4 * n_in_file + 1), sizeof *ts);
    pare_arena *ar = pare_arena_create(1u << 20);
    pare_status s = ts && ar ? PARE_OK : pare_err_set(err, PARE_ERR_OOM, "out of memory");
    int64_t n = 0;
    for (int64_t i = 0; i < n_in_file && !s; i++) {
        const pare_tensor *t = pare_tensor_file_get(m->file, i);
        const char *name = t->name;
        if (plen && !strncmp(name, m->prefix, plen)) name += plen;
        int64_t il, row0;
        int which;
        size_t blen;
        if (!quant_target(m, name, &il, &which, &row0, &blen)) {
            ts[n++] = *t;
            continue;
        }
        const bert_lin *l = bert_layer_lin(&m->layers[il], which);
        if (bert_qmode_w4(m->qmode)) {
            if (!l->w4 || t->n_dims != 2 || t->shape[0] <= 0) {
                s = pare_err_set(err, PARE_ERR_INTERNAL, "'%s' has no 4-bit codes", t->name);
                break;
            }
            n += bert_w4_tensors(l, m->qmode, (int)(row0 / t->shape[0]), t->name, ar, ts + n);
            continue;
        }
        const int64_t n_in = l->quant ? l->q.n_in : l->f.n_in, n_all = l->quant ? l->q.n_out : l->f.n_out;
        const int64_t n_out = t->n_dims == 2 ? t->shape[0] : 0;
        int8_t *all = malloc((size_t)(n_all * n_in));
        float *sc_all = malloc(sizeof(float) * (size_t)n_all);
        int8_t *w = pare_arena_alloc(ar, (size_t)(n_out * n_in), 64);
        float *sc = pare_arena_alloc(ar, sizeof(float) * (size_t)n_out, 64);
        float *is = pare_arena_alloc(ar, sizeof(float), 64);
        size_t nlen = strlen(t->name) - strlen(".weight");
        char *sname = pare_arena_alloc(ar, nlen + 16, 1), *iname = pare_arena_alloc(ar, nlen + 16, 1);
        if (!all || !sc_all || !w || !sc || !is || !sname || !iname || n_out <= 0 || row0 + n_out > n_all) {
            s = pare_err_set(err, PARE_ERR_OOM, "out of memory saving '%s'", t->name);
        } else {
            if (l->quant) {
                pare_qlinear_unpack(&l->q, all);
                memcpy(sc_all, l->q.w_scale, sizeof(float) * (size_t)n_all);
            } else { /* weight-only: the fp32 weights are q * scale; quantizing again gives q back */
                pare_quantize_int8_rows(l->f.w, n_all, n_in, all, sc_all);
            }
            memcpy(w, all + row0 * n_in, (size_t)(n_out * n_in));
            memcpy(sc, sc_all + row0, sizeof(float) * (size_t)n_out);
            *is = l->quant ? l->q.in_scale : 0.0f;
            snprintf(sname, nlen + 16, "%.*s.weight_scale", (int)nlen, t->name);
            snprintf(iname, nlen + 16, "%.*s.input_scale", (int)nlen, t->name);
            ts[n++] = (pare_tensor){.name = t->name, .dtype = PARE_DTYPE_I8, .n_dims = 2,
                                    .shape = {n_out, n_in}, .data = w, .nbytes = (size_t)(n_out * n_in)};
            ts[n++] = (pare_tensor){.name = sname, .dtype = PARE_DTYPE_F32, .n_dims = 1,
                                    .shape = {n_out}, .data = sc, .nbytes = sizeof(float) * (size_t)n_out};
            if (m->qmode == PARE_BERT_W8A8_STATIC)
                ts[n++] = (pare_tensor){.name = iname, .dtype = PARE_DTYPE_F32, .n_dims = 1,
                                        .shape = {1}, .data = is, .nbytes = sizeof(float)};
            if (l->smooth) {
                char *mname = pare_arena_alloc(ar, nlen + 16, 1);
                if (!mname) {
                    s = pare_err_set(err, PARE_ERR_OOM, "out of memory");
                } else {
                    snprintf(mname, nlen + 16, "%.*s.smooth", (int)nlen, t->name);
                    ts[n++] = (pare_tensor){.name = mname, .dtype = PARE_DTYPE_F32, .n_dims = 1, .shape = {n_in},
                                            .data = l->smooth, .nbytes = sizeof(float) * (size_t)n_in};
                }
            }
        }
        free(all);
        free(sc_all);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", out_dir);
    if (!s) s = pare_safetensors_write(path, ts, n, err);
    if (!s) s = write_config(m, src_dir, out_dir, err);
    if (!s) s = pare_model_copy_tokenizer(src_dir, out_dir, err);
    pare_arena_free(ar);
    free(ts);
    return s;
}

pare_status pare_bert_save_quantized(const pare_bert *m, const char *src_dir, const char *out_dir,
                                     pare_err *err) {
    if (m->qmode == PARE_BERT_FP32) return pare_err_set(err, PARE_ERR_INVALID, "the model is not quantized");
    save_ctx c = {m, src_dir};
    return pare_outdir_write(out_dir, save_quantized, &c, err);
}
