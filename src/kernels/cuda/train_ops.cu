/* CUDA kernels of the BERT trainer (train_ops.h). Plain, memory-bound
 * kernels: one block (or one warp) per row for the row operations, one
 * thread per element for the element-wise ones. The matrix products are
 * cuBLAS's (src/train/cuda/bert_train_cuda.c). */
#include "kernels/cuda/train_ops.h"

#define ROW_THREADS 128
#define EW_THREADS 256

static inline unsigned grid_for(int64_t n, int threads) { return (unsigned)((n + threads - 1) / threads); }

/* Sum over the block (a multiple of 32 threads); every thread gets it. */
template <typename F> __device__ F block_sum(F v, F *sh) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    const int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
    __syncthreads(); /* sh may still be read from a previous call */
    if (l == 0) sh[w] = v;
    __syncthreads();
    v = l < nw ? sh[l] : (F)0;
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ float warp_sum(float v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* LayerNorm of the row x (final), by the block */
__device__ void ln_row(float *y, float *mean, float *rstd, const float *x, const float *g, const float *b, int64_t C,
                       float eps, float *sh) {
    float s = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) s += x[c];
    const float m = block_sum(s, sh) / (float)C;
    float q = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) q += (x[c] - m) * (x[c] - m);
    const float rs = 1.0f / sqrtf(block_sum(q, sh) / (float)C + eps);
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) y[c] = (x[c] - m) * rs * g[c] + b[c];
    if (threadIdx.x == 0) {
        *mean = m;
        *rstd = rs;
    }
}

__global__ void k_embed_ln(float *y, float *mean, float *rstd, float *e, const int32_t *ids, const float *word,
                           const float *pos, const float *type, const float *g, const float *b, int64_t T, int64_t C,
                           float eps) {
    __shared__ float sh[32];
    const int64_t i = blockIdx.x;
    const float *wr = word + (int64_t)ids[i] * C, *pr = pos + (i % T) * C;
    float *er = e + i * C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) er[c] = wr[c] + pr[c] + type[c];
    ln_row(y + i * C, mean + i, rstd + i, er, g, b, C, eps, sh);
}

__global__ void k_ln_fwd(float *y, float *mean, float *rstd, float *x, const float *bias, const float *res,
                         const float *g, const float *b, int64_t C, float eps) {
    __shared__ float sh[32];
    const int64_t i = blockIdx.x;
    float *xr = x + i * C;
    if (bias || res)
        for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
            float v = xr[c];
            if (bias) v += bias[c];
            if (res) v += res[i * C + c];
            xr[c] = v;
        }
    ln_row(y + i * C, mean + i, rstd + i, xr, g, b, C, eps, sh);
}

__global__ void k_ln_bwd_dx(float *dx, float *dx2, const float *dy, const float *x, const float *g, const float *mean,
                            const float *rstd, int64_t C) {
    __shared__ float sh[32];
    const int64_t i = blockIdx.x;
    const float m = mean[i], rs = rstd[i], *xr = x + i * C, *dyr = dy + i * C;
    float a = 0, bs = 0;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float n = (xr[c] - m) * rs, dn = g[c] * dyr[c];
        a += dn;
        bs += dn * n;
    }
    a = block_sum(a, sh) / (float)C;
    bs = block_sum(bs, sh) / (float)C;
    for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
        const float n = (xr[c] - m) * rs, v = (g[c] * dyr[c] - a - n * bs) * rs;
        dx[i * C + c] = v;
        if (dx2) dx2[i * C + c] = v;
    }
}

#define LN_CHUNK 32
/* part[chunk][0..C): sum of n * dy, part[chunk][C..2C): sum of dy over the chunk's rows */
__global__ void k_ln_bwd_part(float *part, const float *dy, const float *x, const float *mean, const float *rstd,
                              int64_t M, int64_t C) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x, r0 = (int64_t)blockIdx.y * LN_CHUNK;
    if (c >= C) return;
    const int64_t r1 = r0 + LN_CHUNK < M ? r0 + LN_CHUNK : M;
    float sg = 0, sb = 0;
    for (int64_t r = r0; r < r1; r++) {
        const float d = dy[r * C + c];
        sg += (x[r * C + c] - mean[r]) * rstd[r] * d;
        sb += d;
    }
    part[blockIdx.y * 2 * C + c] = sg;
    part[blockIdx.y * 2 * C + C + c] = sb;
}

__global__ void k_ln_bwd_sum(float *dg, float *db, const float *part, int64_t chunks, int64_t C) {
    const int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sg = 0, sb = 0;
    for (int64_t k = 0; k < chunks; k++) {
        sg += part[k * 2 * C + c];
        sb += part[k * 2 * C + C + c];
    }
    dg[c] += sg;
    db[c] += sb;
}

__global__ void k_rows_to_heads(float *heads, const float *rows, const float *bias, int n, int64_t B, int64_t T,
                                int64_t NH, int64_t D) {
    const int64_t H = NH * D, W = n * H, total = B * T * W;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = idx / W, c = idx % W, k = c / H, cc = c % H, h = cc / D, d = cc % D, b = r / T, t = r % T;
        heads[k * B * T * H + ((b * NH + h) * T + t) * D + d] = rows[idx] + (bias ? bias[c] : 0.0f);
    }
}

__global__ void k_heads_to_rows(float *rows, const float *heads, int n, int64_t B, int64_t T, int64_t NH, int64_t D) {
    const int64_t H = NH * D, W = n * H, total = B * T * W;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = idx / W, c = idx % W, k = c / H, cc = c % H, h = cc / D, d = cc % D, b = r / T, t = r % T;
        rows[idx] = heads[k * B * T * H + ((b * NH + h) * T + t) * D + d];
    }
}

/* one warp per row */
__global__ void k_softmax_mask(float *s, const int8_t *mask, int64_t rows, int64_t NH, int64_t T) {
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const int64_t b = row / (NH * T);
    float *sr = s + row * T;
    const int8_t *mr = mask ? mask + b * T : NULL;
    float mx = -1e30f;
    for (int64_t j = lane; j < T; j += 32)
        if (!mr || mr[j]) mx = fmaxf(mx, sr[j]);
    for (int o = 16; o; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    float sum = 0;
    for (int64_t j = lane; j < T; j += 32) {
        const float v = !mr || mr[j] ? expf(sr[j] - mx) : 0.0f;
        sr[j] = v;
        sum += v;
    }
    sum = warp_sum(sum);
    const float inv = sum > 0 ? 1.0f / sum : 0.0f;
    for (int64_t j = lane; j < T; j += 32) sr[j] *= inv;
}

__global__ void k_softmax_bwd(float *dp, const float *p, int64_t rows, int64_t T, float scale) {
    const int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return;
    float *d = dp + row * T;
    const float *pr = p + row * T;
    float dot = 0;
    for (int64_t j = lane; j < T; j += 32) dot += pr[j] * d[j];
    dot = warp_sum(dot);
    for (int64_t j = lane; j < T; j += 32) d[j] = pr[j] * (d[j] - dot) * scale;
}

__global__ void k_bias_gelu(float *g, float *h, const float *bias, int64_t M, int64_t N) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N; i += (int64_t)gridDim.x * blockDim.x) {
        const float x = h[i] + bias[i % N];
        h[i] = x;
        g[i] = 0.5f * x * (1.0f + erff(x * 0.70710678118654752440f));
    }
}

__global__ void k_gelu_bwd(float *dx, const float *x, const float *dy, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float xi = x[i], cdf = 0.5f * (1.0f + erff(xi * 0.70710678118654752440f));
        const float pdf = expf(-0.5f * xi * xi) * 0.39894228040143267794f;
        dx[i] = dy[i] * (cdf + xi * pdf);
    }
}

__global__ void k_bias_act(float *y, const float *bias, int64_t M, int64_t N, int tanh_act) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < M * N; i += (int64_t)gridDim.x * blockDim.x) {
        const float v = y[i] + bias[i % N];
        y[i] = tanh_act ? tanhf(v) : v;
    }
}

__global__ void k_tanh_bwd(float *dx, const float *y, const float *dy, int64_t n) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

__global__ void k_copy_rows(float *dst, const float *src, int64_t B, int64_t dst_stride, int64_t src_stride, int64_t C) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < B * C; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t b = i / C, c = i % C;
        dst[b * dst_stride + c] = src[b * src_stride + c];
    }
}

__device__ int64_t embed_id(const int32_t *ids, int64_t i, int64_t T) { return ids ? ids[i] : T ? i % T : 0; }

#define EMB_LIST 1024
/* One block per row i; the first row of each id (the owner) adds the rows
 * of that id to dtable. Warp 0 lists them in order, a chunk of rows at a
 * time (ballot and prefix count), then every thread sums its columns over
 * the list: deterministic, and each row is read once per column. */
__global__ void k_embed_bwd(float *dtable, const int32_t *ids, const float *dy, int64_t n, int64_t T, int64_t C) {
    __shared__ int dup, cnt;
    __shared__ int32_t list[EMB_LIST];
    const int64_t i = blockIdx.x, id = embed_id(ids, i, T);
    const int lane = threadIdx.x & 31;
    if (threadIdx.x == 0) dup = 0;
    __syncthreads();
    for (int64_t j = threadIdx.x; j < i; j += blockDim.x)
        if (embed_id(ids, j, T) == id) dup = 1;
    __syncthreads();
    if (dup) return; /* an earlier row with this id sums them all */
    for (int64_t lo = i; lo < n; lo += EMB_LIST) {
        const int64_t hi = lo + EMB_LIST < n ? lo + EMB_LIST : n;
        if (threadIdx.x < 32) {
            int c = 0;
            for (int64_t base = lo; base < hi; base += 32) {
                const int64_t j = base + lane;
                const bool hit = j < hi && embed_id(ids, j, T) == id;
                const unsigned m = __ballot_sync(0xffffffffu, hit);
                if (hit) list[c + __popc(m & ((1u << lane) - 1))] = (int32_t)(j - lo);
                c += __popc(m);
            }
            if (lane == 0) cnt = c;
        }
        __syncthreads();
        for (int64_t col = threadIdx.x; col < C; col += blockDim.x) {
            float s = 0;
            for (int k = 0; k < cnt; k++) s += dy[(lo + list[k]) * C + col];
            if (cnt) dtable[id * C + col] += s;
        }
        __syncthreads(); /* list and cnt are rewritten by the next chunk */
    }
}

#define CLIP_CHUNK 65536
__global__ void k_sumsq(double *part, const float *g, int64_t n) {
    __shared__ double sh[32];
    const int64_t lo = (int64_t)blockIdx.x * CLIP_CHUNK, hi = lo + CLIP_CHUNK < n ? lo + CLIP_CHUNK : n;
    double s = 0;
    for (int64_t i = lo + threadIdx.x; i < hi; i += blockDim.x) s += (double)g[i] * g[i];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void k_clip_final(float *out, const double *part, int64_t chunks, double clip) {
    __shared__ double sh[32];
    double s = 0;
    for (int64_t k = threadIdx.x; k < chunks; k += blockDim.x) s += part[k];
    s = block_sum(s, sh);
    if (threadIdx.x == 0) {
        const double norm = sqrt(s);
        out[0] = clip > 0 && norm > clip ? (float)(clip / (norm + 1e-6)) : 1.0f; /* pare_clip_factor */
    }
}

__global__ void k_adamw(float *w, const float *g, float *m, float *v, const uint8_t *flags, int64_t n, float b1,
                        float b2, float eps, float keep, float step_size, float inv_c2s, const float *gscale) {
    const float gs = gscale[0];
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const float gi = g[i] * gs;
        const float mi = m[i] + (1 - b1) * (gi - m[i]);
        const float vi = b2 * v[i] + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const uint8_t f = flags[i];
        const float p = w[i] * (f & 1 ? keep : 1.0f) - step_size * (mi / (sqrtf(vi) * inv_c2s + eps));
        w[i] = f & 2 ? 0.0f : p;
    }
}

#define TR_ROWS 64
__device__ bool transfer_on(const int8_t *mask, int64_t row, int64_t nht, int64_t T) {
    return !mask || mask[nht ? row / nht * T + row % T : row];
}

__global__ void k_transfer_sq(double *part, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                              int64_t nht, int64_t T) {
    __shared__ double sh[32];
    const int64_t r0 = (int64_t)blockIdx.x * TR_ROWS, r1 = r0 + TR_ROWS < rows ? r0 + TR_ROWS : rows;
    double s = 0;
    for (int64_t r = r0; r < r1; r++)
        if (transfer_on(mask, r, nht, T))
            for (int64_t c = threadIdx.x; c < len; c += blockDim.x) {
                const double d = (double)a[r * len + c] - b[r * len + c];
                s += d * d;
            }
    s = block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ void k_transfer_grad(float *d, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                                int64_t nht, int64_t T, float coef) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < rows * len; i += (int64_t)gridDim.x * blockDim.x)
        if (transfer_on(mask, i / len, nht, T)) d[i] += coef * (a[i] - b[i]);
}

/* grid-stride launches are capped; the loops cover the rest */
static unsigned ew_grid(int64_t n) {
    const unsigned g = grid_for(n, EW_THREADS);
    return g < 65535u * 8u ? (g ? g : 1u) : 65535u * 8u;
}

extern "C" {

cudaError_t pare_cu_embed_ln(float *y, float *mean, float *rstd, float *e, const int32_t *ids, const float *word,
                             const float *pos, const float *type, const float *g, const float *b, int64_t BT, int64_t T,
                             int64_t C, float eps, cudaStream_t st) {
    k_embed_ln<<<(unsigned)BT, ROW_THREADS, 0, st>>>(y, mean, rstd, e, ids, word, pos, type, g, b, T, C, eps);
    return cudaGetLastError();
}

cudaError_t pare_cu_ln_fwd(float *y, float *mean, float *rstd, float *x, const float *bias, const float *res,
                           const float *g, const float *b, int64_t M, int64_t C, float eps, cudaStream_t st) {
    k_ln_fwd<<<(unsigned)M, ROW_THREADS, 0, st>>>(y, mean, rstd, x, bias, res, g, b, C, eps);
    return cudaGetLastError();
}

int64_t pare_cu_ln_bwd_part(int64_t M, int64_t C) { return (M + LN_CHUNK - 1) / LN_CHUNK * 2 * C; }

cudaError_t pare_cu_ln_bwd(float *dx, float *dx2, float *dg, float *db, const float *dy, const float *x, const float *g,
                           const float *mean, const float *rstd, int64_t M, int64_t C, float *part, cudaStream_t st) {
    const int64_t chunks = (M + LN_CHUNK - 1) / LN_CHUNK;
    k_ln_bwd_part<<<dim3(grid_for(C, ROW_THREADS), (unsigned)chunks), ROW_THREADS, 0, st>>>(part, dy, x, mean, rstd, M, C);
    k_ln_bwd_sum<<<grid_for(C, ROW_THREADS), ROW_THREADS, 0, st>>>(dg, db, part, chunks, C);
    /* last: dx or dx2 may be dy */
    k_ln_bwd_dx<<<(unsigned)M, ROW_THREADS, 0, st>>>(dx, dx2, dy, x, g, mean, rstd, C);
    return cudaGetLastError();
}

cudaError_t pare_cu_rows_to_heads(float *heads, const float *rows, const float *bias, int n, int64_t B, int64_t T,
                                  int64_t NH, int64_t D, cudaStream_t st) {
    k_rows_to_heads<<<ew_grid(B * T * n * NH * D), EW_THREADS, 0, st>>>(heads, rows, bias, n, B, T, NH, D);
    return cudaGetLastError();
}

cudaError_t pare_cu_heads_to_rows(float *rows, const float *heads, int n, int64_t B, int64_t T, int64_t NH, int64_t D,
                                  cudaStream_t st) {
    k_heads_to_rows<<<ew_grid(B * T * n * NH * D), EW_THREADS, 0, st>>>(rows, heads, n, B, T, NH, D);
    return cudaGetLastError();
}

cudaError_t pare_cu_softmax_mask(float *s, const int8_t *mask, int64_t rows, int64_t NH, int64_t T, cudaStream_t st) {
    k_softmax_mask<<<grid_for(rows, 4), 128, 0, st>>>(s, mask, rows, NH, T);
    return cudaGetLastError();
}

cudaError_t pare_cu_softmax_bwd(float *dp, const float *p, int64_t rows, int64_t T, float scale, cudaStream_t st) {
    k_softmax_bwd<<<grid_for(rows, 4), 128, 0, st>>>(dp, p, rows, T, scale);
    return cudaGetLastError();
}

cudaError_t pare_cu_bias_gelu(float *g, float *h, const float *bias, int64_t M, int64_t N, cudaStream_t st) {
    k_bias_gelu<<<ew_grid(M * N), EW_THREADS, 0, st>>>(g, h, bias, M, N);
    return cudaGetLastError();
}

cudaError_t pare_cu_gelu_bwd(float *dx, const float *x, const float *dy, int64_t n, cudaStream_t st) {
    k_gelu_bwd<<<ew_grid(n), EW_THREADS, 0, st>>>(dx, x, dy, n);
    return cudaGetLastError();
}

cudaError_t pare_cu_bias_act(float *y, const float *bias, int64_t M, int64_t N, int tanh_act, cudaStream_t st) {
    k_bias_act<<<ew_grid(M * N), EW_THREADS, 0, st>>>(y, bias, M, N, tanh_act);
    return cudaGetLastError();
}

cudaError_t pare_cu_tanh_bwd(float *dx, const float *y, const float *dy, int64_t n, cudaStream_t st) {
    k_tanh_bwd<<<ew_grid(n), EW_THREADS, 0, st>>>(dx, y, dy, n);
    return cudaGetLastError();
}

cudaError_t pare_cu_gather_rows(float *dst, const float *src, int64_t B, int64_t stride, int64_t C, cudaStream_t st) {
    k_copy_rows<<<ew_grid(B * C), EW_THREADS, 0, st>>>(dst, src, B, C, stride, C);
    return cudaGetLastError();
}

cudaError_t pare_cu_scatter_rows(float *dst, const float *src, int64_t B, int64_t stride, int64_t C, cudaStream_t st) {
    k_copy_rows<<<ew_grid(B * C), EW_THREADS, 0, st>>>(dst, src, B, stride, C, C);
    return cudaGetLastError();
}

cudaError_t pare_cu_embed_bwd(float *dtable, const int32_t *ids, const float *dy, int64_t n, int64_t T, int64_t C,
                              cudaStream_t st) {
    k_embed_bwd<<<(unsigned)n, ROW_THREADS, 0, st>>>(dtable, ids, dy, n, T, C);
    return cudaGetLastError();
}

int64_t pare_cu_transfer_part(int64_t rows) { return (rows + TR_ROWS - 1) / TR_ROWS; }

cudaError_t pare_cu_transfer_sq(double *part, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                                int64_t nht, int64_t T, cudaStream_t st) {
    k_transfer_sq<<<(unsigned)pare_cu_transfer_part(rows), ROW_THREADS, 0, st>>>(part, a, b, mask, rows, len, nht, T);
    return cudaGetLastError();
}

cudaError_t pare_cu_transfer_grad(float *d, const float *a, const float *b, const int8_t *mask, int64_t rows, int64_t len,
                                  int64_t nht, int64_t T, float coef, cudaStream_t st) {
    k_transfer_grad<<<ew_grid(rows * len), EW_THREADS, 0, st>>>(d, a, b, mask, rows, len, nht, T, coef);
    return cudaGetLastError();
}

int64_t pare_cu_clip_part(int64_t n) { return (n + CLIP_CHUNK - 1) / CLIP_CHUNK; }

cudaError_t pare_cu_clip_factor(float *out, double *part, const float *g, int64_t n, double clip, cudaStream_t st) {
    const int64_t chunks = pare_cu_clip_part(n);
    k_sumsq<<<(unsigned)chunks, EW_THREADS, 0, st>>>(part, g, n);
    k_clip_final<<<1, EW_THREADS, 0, st>>>(out, part, chunks, clip);
    return cudaGetLastError();
}

cudaError_t pare_cu_adamw(float *w, const float *g, float *m, float *v, const uint8_t *flags, int64_t n, float b1,
                          float b2, float eps, float keep, float step_size, float inv_c2s, const float *gscale,
                          cudaStream_t st) {
    k_adamw<<<ew_grid(n), EW_THREADS, 0, st>>>(w, g, m, v, flags, n, b1, b2, eps, keep, step_size, inv_c2s, gscale);
    return cudaGetLastError();
}

} /* extern "C" */
