/* int8 GEMM on AMX tiles (Sapphire Rapids and later): tdpbusd multiplies a
 * 16 x 64 tile of u = q + 128 (unsigned input bytes) by a 16 x 64 tile of
 * weights in the VNNI layout (16 groups of 4 k values x 16 columns) into a
 * 16 x 16 tile of int32, 16K multiply-adds per instruction. It reads the
 * same packed panels as the VNNI kernel ([panel][k/4][48][4]): a 48-column
 * panel is three B tiles side by side, each loaded with a 192-byte stride,
 * so one A tile of 16 rows feeds three C tiles (tiles 0-2: C, 3: A, 4-6: B).
 * The 128 * sum_k w each column picked up is taken off in the epilogue, as
 * for VNNI, so both kernels give the same int32 sums.
 *
 * Layer contract (pare_qlinear_init): k_pad is a multiple of 64, and the
 * quantized input has its rows padded to a multiple of 16 (the rows past m
 * are read into C rows that are never written out).
 *
 * Work items are (group of panels) x (block of rows), claimed through an
 * atomic counter; each thread loads the tile configuration once per call
 * and releases the tiles at the end. Compiled on every x86-64 build, run
 * only where cpuid reports AMX-INT8 and the OS granted the tile state
 * (pare_qisa_resolve). */
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels/cpu/int8_internal.h"
#include "kernels/cpu/kern_internal.h"

#define AMX_NR PARE_I8_VNNI_NR /* 48: three 16-column C tiles */
#define AMX_ROWS 16
#define AMX_KB 64 /* k bytes per tile step */

typedef struct {
    uint8_t palette_id, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed, aligned(64))) amx_tilecfg;

typedef pare_i8_job amx_job;

/* The int32 tile tmp[mr][48] (less comp) into y: floats
 * acc * sx[i] * sw[j] + bias[j], or the compensated int32 when sx is NULL;
 * nc of the 48 columns are real. */
static void amx_epilogue(const int32_t *tmp, int mr, int64_t nc, int32_t *y, int64_t ldy,
                         const float *sx, const float *sw, const float *bias, const int32_t *comp) {
    for (int i = 0; i < mr; i++) {
        for (int64_t j0 = 0; j0 < AMX_NR; j0 += 16) {
            if (j0 >= nc) break;
            const __mmask16 mk = nc - j0 >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (nc - j0)) - 1);
            __m512i acc = _mm512_sub_epi32(_mm512_load_si512((const void *)(tmp + i * AMX_NR + j0)),
                                           _mm512_loadu_si512((const void *)(comp + j0)));
            if (!sx) {
                _mm512_mask_storeu_epi32(y + i * ldy + j0, mk, acc);
                continue;
            }
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(sx[i]), _mm512_loadu_ps(sw + j0));
            __m512 b = bias ? _mm512_loadu_ps(bias + j0) : _mm512_setzero_ps();
            __m512 out = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), s, b);
            _mm512_mask_storeu_ps((float *)(void *)(y + i * ldy + j0), mk, out);
        }
    }
}

static void amx_block(const amx_job *jb, int64_t r0, int64_t r1, int64_t p0, int64_t p1) {
    const pare_qlinear *l = jb->l;
    const int64_t n = l->n_out, KQ = l->k_pad / 4, ld = jb->in->ld;
    int32_t tmp[AMX_ROWS * AMX_NR] __attribute__((aligned(64)));
    for (int64_t p = p0; p < p1; p++) {
        const int8_t *b = l->packed + p * KQ * 4 * AMX_NR;
        const int64_t n0 = p * AMX_NR, nc = n - n0 < AMX_NR ? n - n0 : AMX_NR;
        const float *sw = l->w_scale + n0, *bias = l->bias ? l->bias + n0 : NULL;
        for (int64_t i0 = r0; i0 < r1; i0 += AMX_ROWS) {
            const int mr = (int)(r1 - i0 < AMX_ROWS ? r1 - i0 : AMX_ROWS);
            const uint8_t *a = jb->in->u + i0 * ld;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            for (int64_t kq = 0; kq < KQ; kq += AMX_KB / 4) {
                const int8_t *bk = b + kq * 4 * AMX_NR;
                _tile_loadd(3, a + kq * 4, ld);
                _tile_loadd(4, bk, 4 * AMX_NR);
                _tile_loadd(5, bk + 64, 4 * AMX_NR);
                _tile_loadd(6, bk + 128, 4 * AMX_NR);
                _tile_dpbusd(0, 3, 4);
                _tile_dpbusd(1, 3, 5);
                _tile_dpbusd(2, 3, 6);
            }
            _tile_stored(0, tmp, 4 * AMX_NR);
            _tile_stored(1, tmp + 16, 4 * AMX_NR);
            _tile_stored(2, tmp + 32, 4 * AMX_NR);
            amx_epilogue(tmp, mr, nc, jb->y + i0 * n + n0, n, jb->in->scale ? jb->in->scale + i0 : NULL,
                         sw, bias, l->comp + n0);
        }
        if (jb->in->scale && jb->act != PARE_ACT_NONE)
            pare_act_2d_avx512((float *)(void *)(jb->y + r0 * n + n0), n, r1 - r0, nc, jb->act);
    }
}

static void amx_worker(void *ctx, int ith, int nth) {
    (void)ith;
    (void)nth;
    amx_job *jb = ctx;
    amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int t = 0; t < 7; t++) {
        cfg.rows[t] = AMX_ROWS;
        cfg.colsb[t] = 64;
    }
    const int64_t n_panels = (jb->l->n_out + AMX_NR - 1) / AMX_NR;
    const int64_t n_items = jb->n_groups * jb->n_rblocks;
    bool loaded = false;
    for (;;) {
        int64_t it = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed);
        if (it >= n_items) break;
        if (!loaded) {
            _tile_loadconfig(&cfg);
            loaded = true;
        }
        int64_t g = it / jb->n_rblocks, rb = it % jb->n_rblocks;
        int64_t p0 = g * jb->group, p1 = p0 + jb->group < n_panels ? p0 + jb->group : n_panels;
        int64_t r0 = rb * jb->rows, r1 = r0 + jb->rows < jb->m ? r0 + jb->rows : jb->m;
        amx_block(jb, r0, r1, p0, p1);
    }
    if (loaded) _tile_release();
}

void pare_i8_gemm_amx(const pare_qlinear *l, const pare_i8_input *in, int64_t m, void *y,
                      pare_act act, pare_pool *pool) {
    if ((double)m * (double)l->n_out * (double)l->n_in < 262144.0) pool = NULL;
    const int64_t nth = pare_pool_size(pool), want = 4 * nth;
    const int64_t n_panels = (l->n_out + AMX_NR - 1) / AMX_NR;
    const int64_t tiles = (m + AMX_ROWS - 1) / AMX_ROWS;
    amx_job jb = {.l = l, .in = in, .m = m, .y = y, .act = act};
    /* rows: all of them (the weights stream once) unless that leaves too
     * few items for the threads; panels: enough groups for 4 per thread */
    jb.group = n_panels / want;
    jb.group = jb.group < 1 ? 1 : jb.group > 8 ? 8 : jb.group;
    jb.n_groups = (n_panels + jb.group - 1) / jb.group;
    int64_t rtiles = tiles;
    if (jb.n_groups < want) {
        int64_t split = (want + jb.n_groups - 1) / jb.n_groups;
        rtiles = (tiles + split - 1) / split;
    }
    rtiles = rtiles < 1 ? 1 : rtiles;
    jb.rows = rtiles * AMX_ROWS;
    jb.n_rblocks = (m + jb.rows - 1) / jb.rows;
    atomic_init(&jb.next, 0);
    pare_pool_run(pool, amx_worker, &jb);
}
