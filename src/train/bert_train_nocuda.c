/* The CUDA trainer's entry point in a build without CUDA (PARE_CUDA off):
 * a clear error instead of a missing symbol. */
#include "train/bert_train_cuda.h"

#ifndef PARE_HAVE_CUDA
pare_status pare_cuda_bert_create(const pare_cuda_bert_desc *d, pare_cuda_bert **out, pare_err *err) {
    (void)d;
    *out = NULL;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED,
                        "this pare was built without CUDA; build it with `make cuda` (needs nvcc and cuBLAS)");
}
void pare_cuda_bert_free(pare_cuda_bert *c) { (void)c; }
const char *pare_cuda_bert_device(const pare_cuda_bert *c) { (void)c; return "none"; }
pare_status pare_cuda_bert_upload(pare_cuda_bert *c, const float *w, const float *m, const float *v, const uint8_t *flags,
                                  pare_err *err) {
    (void)c, (void)w, (void)m, (void)v, (void)flags;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
pare_status pare_cuda_bert_download(pare_cuda_bert *c, float *w, float *m, float *v, float *g, pare_err *err) {
    (void)c, (void)w, (void)m, (void)v, (void)g;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
pare_status pare_cuda_bert_forward(pare_cuda_bert *c, const int32_t *ids, const int8_t *mask, int64_t B, int64_t T,
                                   float *logits, pare_err *err) {
    (void)c, (void)ids, (void)mask, (void)B, (void)T, (void)logits;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
pare_status pare_cuda_bert_backward(pare_cuda_bert *c, const float *d_logits, pare_err *err) {
    (void)c, (void)d_logits;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
pare_status pare_cuda_bert_adamw(pare_cuda_bert *c, const pare_adamw_opts *o, pare_adamw_consts k, double clip,
                                 pare_err *err) {
    (void)c, (void)o, (void)k, (void)clip;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
const float *pare_cuda_bert_hidden(const pare_cuda_bert *c, int64_t k) { (void)c, (void)k; return NULL; }
const float *pare_cuda_bert_attention(const pare_cuda_bert *c, int64_t l) { (void)c, (void)l; return NULL; }
pare_status pare_cuda_bert_transfer(pare_cuda_bert *c, const float *const *hid, float hid_coef, const float *const *att,
                                    float att_coef, double *ss_hid, double *ss_att, pare_err *err) {
    (void)c, (void)hid, (void)hid_coef, (void)att, (void)att_coef, (void)ss_hid, (void)ss_att;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
pare_status pare_cuda_bert_sync(pare_cuda_bert *c, pare_err *err) {
    (void)c;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED, "built without CUDA");
}
#endif
