/* pare core: status values with messages, the dtype table, tensors,
 * arenas, the thread pool and the progress bar.
 *
 * Conventions (see docs/design.md):
 *   - Every fallible function returns pare_status and fills an optional
 *     pare_err *err with a message naming the function, the file and the
 *     offending value. No library function exits or aborts on bad input.
 *   - int64_t for element counts, size_t for bytes; sizes are checked for
 *     overflow before arithmetic (pare_mul_size / pare_add_size).
 *   - Shapes are row-major, outermost first, as in PyTorch and safetensors:
 *     shape[0] is the slowest-varying dimension.
 *   - No global mutable state: the thread pool and any RNG are owned by the
 *     caller and passed in.
 */
#ifndef PARE_CORE_H
#define PARE_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

typedef enum pare_status {
    PARE_OK = 0,
    PARE_ERR_IO = 1,          /* open/read/mmap failed */
    PARE_ERR_FORMAT = 2,      /* the file is malformed: sizes, offsets, syntax */
    PARE_ERR_UNSUPPORTED = 3, /* well-formed but not something pare handles */
    PARE_ERR_INVALID = 4,     /* bad argument from the caller */
    PARE_ERR_OOM = 5,         /* allocation failed */
    PARE_ERR_INTERNAL = 6,    /* a bug: an internal invariant broke */
    PARE_ERR_WRITE = 7,       /* an output could not be written (disk full, permissions) */
    PARE_ERR_NUMERIC = 8,     /* a computation produced NaN or infinity */
} pare_status;

#define PARE_ERR_MSG_MAX 512

typedef struct pare_err {
    pare_status code;
    char msg[PARE_ERR_MSG_MAX];
} pare_err;

/* Record code and a printf-style message in err (if err is non-NULL) and
 * return code, so callers can write `return pare_err_set(err, ...)`. */
pare_status pare_err_set(pare_err *err, pare_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix an existing message with more context ("loading MODEL: ..."). */
pare_status pare_err_wrap(pare_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *pare_status_name(pare_status s);
/* Process exit code for a status: 0 ok, 2 bad input file/argument, 1 other. */
int pare_status_exit_code(pare_status s);

/* Overflow-checked size arithmetic: return false on overflow. */
static inline bool pare_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool pare_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* ------------------------------------------------------------------ dtypes */

/* Ids are append-only: they may reach disk. */
typedef enum pare_dtype {
    PARE_DTYPE_F32 = 0,
    PARE_DTYPE_F16 = 1,
    PARE_DTYPE_BF16 = 2,
    PARE_DTYPE_I8 = 3,
    PARE_DTYPE_I32 = 4,
    PARE_DTYPE_I64 = 5,
    PARE_DTYPE_U8 = 6,
    PARE_DTYPE_BOOL = 7,
    PARE_DTYPE_F64 = 8,
    PARE_DTYPE_I16 = 9,
    PARE_DTYPE_COUNT
} pare_dtype;

typedef struct pare_dtype_info {
    const char *name;      /* "f32", "bf16", ... */
    const char *st_name;   /* safetensors name: "F32", "BF16", ... */
    int32_t block_size;    /* elements per block (1 for plain types) */
    size_t block_bytes;    /* bytes per block */
    bool is_float;
} pare_dtype_info;

const pare_dtype_info *pare_dtype_get(pare_dtype t); /* NULL if out of range */
/* Bytes for n elements; false if n is not a multiple of the block size or
 * the product overflows. */
bool pare_dtype_nbytes(pare_dtype t, int64_t n, size_t *out);

float pare_f16_to_f32(uint16_t h);
uint16_t pare_f32_to_f16(float f);
float pare_bf16_to_f32(uint16_t h);
uint16_t pare_f32_to_bf16(float f);

/* ------------------------------------------------------------------ tensors */

#define PARE_MAX_DIMS 8

typedef struct pare_tensor {
    const char *name;  /* borrowed (from the file's owner) or NULL */
    pare_dtype dtype;
    int32_t n_dims;
    int64_t shape[PARE_MAX_DIMS]; /* row-major, outermost first */
    void *data;        /* borrowed: owned by a file mapping or an arena */
    size_t nbytes;
} pare_tensor;

/* Number of elements, or -1 on overflow. */
int64_t pare_tensor_nelem(const pare_tensor *t);
/* True if the tensor has dims equal to the given list. */
bool pare_tensor_has_shape(const pare_tensor *t, int32_t n_dims, const int64_t *shape);
/* Format "[384, 1536]" into buf. */
const char *pare_shape_str(const pare_tensor *t, char *buf, size_t cap);
/* Convert n elements from any float dtype to f32. */
pare_status pare_convert_to_f32(pare_dtype src_type, const void *src, float *dst,
                                int64_t n, pare_err *err);

/* ------------------------------------------------------------------ arena */

/* Bump allocator made of chunks. One arena per lifetime (weights, scratch
 * per batch, ...). pare_arena_free releases everything. */
typedef struct pare_arena pare_arena;

pare_arena *pare_arena_create(size_t chunk_bytes);
void pare_arena_free(pare_arena *a);
/* Returns NULL on OOM or overflow. align must be a power of two. Memory is
 * not zeroed; use pare_arena_calloc for that. */
void *pare_arena_alloc(pare_arena *a, size_t size, size_t align);
void *pare_arena_calloc(pare_arena *a, size_t size, size_t align);
char *pare_arena_strdup(pare_arena *a, const char *s, size_t len);
/* Forget all allocations but keep the memory for reuse. */
void pare_arena_reset(pare_arena *a);
size_t pare_arena_used(const pare_arena *a);
size_t pare_arena_capacity(const pare_arena *a);

/* ------------------------------------------------------------------ threads */

typedef struct pare_pool pare_pool;

/* Work function: called once per thread with ith in [0, nth). */
typedef void (*pare_pool_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means: $PARE_THREADS if set, else all online cores. */
pare_pool *pare_pool_create(int n_threads, pare_err *err);
void pare_pool_free(pare_pool *p);
int pare_pool_size(const pare_pool *p);
/* The highest instruction set the kernels run on this pool may use, set
 * once by whoever owns the pool (a model from its --kernel choice, a test
 * running every variant): 0 is no cap (what the CPU has); the values are
 * the kernels' (pare_pool_cap_kernels in pare/kernels.h sets it). */
void pare_pool_set_isa_cap(pare_pool *p, int cap);
int pare_pool_isa_cap(const pare_pool *p);
/* Run fn on every thread (the caller is thread 0) and wait for all. A NULL
 * pool runs fn(ctx, 0, 1). Not re-entrant. */
void pare_pool_run(pare_pool *p, pare_pool_fn fn, void *ctx);
/* Resolve the thread count rule above without making a pool. */
int pare_default_threads(void);
/* Split [0, n) into nth nearly equal ranges; range of thread ith. */
static inline void pare_split_range(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi) {
    int64_t per = n / nth, rem = n % nth;
    *lo = ith * per + (ith < rem ? ith : rem);
    *hi = *lo + per + (ith < rem ? 1 : 0);
}

/* ------------------------------------------------------------------ progress */

/* A one-line progress bar on stderr with rate and ETA. Quiet when stderr is
 * not a terminal, unless forced. */
typedef struct pare_progress {
    const char *label;
    int64_t total;
    int64_t done;
    double t_start;
    double t_last_draw;
    bool enabled;
    FILE *out;
} pare_progress;

void pare_progress_init(pare_progress *p, const char *label, int64_t total);
void pare_progress_update(pare_progress *p, int64_t done);
void pare_progress_finish(pare_progress *p);

/* ------------------------------------------------------------------ misc */

double pare_time_now(void); /* monotonic seconds */

/* CPU features found by cpuid, for kernel dispatch and for reports. */
typedef struct pare_cpu_features {
    bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512_vnni, avx512_bf16, avx_vnni, avx512_vbmi2;
    bool amx_int8; /* AMX tiles + int8 TMUL, with the tile state enabled in XCR0 */
    char brand[64];
} pare_cpu_features;

void pare_cpu_detect(pare_cpu_features *f);
/* Ask the OS for the AMX tile data state (Linux arch_prctl
 * ARCH_REQ_XCOMP_PERM; a process-wide, idempotent permission) when f (from
 * pare_cpu_detect) reports AMX-INT8. True when AMX instructions may run in
 * this process. */
bool pare_amx_enable(const pare_cpu_features *f);
/* "avx2 fma avx512f ..." */
const char *pare_cpu_features_str(const pare_cpu_features *f, char *buf, size_t cap);

/* Whole file into malloc'd memory (caller frees), with a size cap. */
/* Cut the next line (LF or CRLF ended) off the text at *p in place; NULL
 * at the end. For line-oriented readers of files read whole. */
char *pare_next_line(char **p);
/* Before reading text as lines: step over a UTF-8 byte order mark, and
 * refuse CR-only line ends by name (LF and CRLF are both fine). */
pare_status pare_text_lines(const char *name, const char **text, size_t *len, pare_err *err);
/* FNV-1a, 64 bits, of n bytes (content keys, hash tables). */
uint64_t pare_fnv1a64(const void *data, size_t n);
/* splitmix64: advance *state and return the next value of its stream. */
uint64_t pare_splitmix64(uint64_t *state);

pare_status pare_read_file(const char *path, size_t max_bytes, char **out, size_t *out_len,
                           pare_err *err);
/* mkdir -p: dir and the folders above it (an existing folder is fine). */
pare_status pare_mkdir_p(const char *dir, pare_err *err);

/* ------------------------------------------------------------------ outputs
 * Every output is complete or absent (src/core/outfile.c). A file is
 * written as DIR/.NAME.pare-XXXXXX, fsync'd and renamed over DIR/NAME, so a
 * killed write leaves no partial file under the real name, and an input
 * that is also the output (or a symlink to it) is read to the end before
 * it is replaced; the symlink itself is replaced, never its target. */
#define PARE_PATH_MAX 4096

typedef struct pare_wfile {
    FILE *f; /* write here between open and commit */
    char path[PARE_PATH_MAX];
    char tmp[PARE_PATH_MAX];
} pare_wfile;

pare_status pare_wfile_open(pare_wfile *w, const char *path, pare_err *err);
/* Flush, fsync, close, rename into place. On failure the temporary file is
 * removed and the error is PARE_ERR_WRITE. */
pare_status pare_wfile_commit(pare_wfile *w, pare_err *err);
/* Close and remove the temporary file (after a failed write). */
void pare_wfile_abort(pare_wfile *w);
/* The whole of data[0..n) as path, atomically. */
pare_status pare_write_file(const char *path, const void *data, size_t n, pare_err *err);
/* text and a newline as path, atomically. */
pare_status pare_write_text(const char *path, const char *text, pare_err *err);

/* A folder output (a model folder): write the files into
 * pare_outdir_path(d), then commit. A new folder is renamed into place; an
 * existing one receives the files one by one, config.json removed first
 * and put back last, so it is a model only when every file is in place.
 * Files of the existing folder that are not rewritten are kept. */
typedef struct pare_outdir {
    char dir[PARE_PATH_MAX];
    char tmp[PARE_PATH_MAX];
    bool existed;
} pare_outdir;

pare_status pare_outdir_begin(pare_outdir *d, const char *dir, pare_err *err);
const char *pare_outdir_path(const pare_outdir *d);
pare_status pare_outdir_commit(pare_outdir *d, pare_err *err);
void pare_outdir_abort(pare_outdir *d);
/* begin, fn(the folder to write into, ctx), then commit (or abort when fn
 * fails). */
typedef pare_status (*pare_outdir_fn)(const char *dir, void *ctx, pare_err *err);
pare_status pare_outdir_write(const char *dir, pare_outdir_fn fn, void *ctx, pare_err *err);
/* True when path is a file (or a link to one) or a folder holding a model
 * (config.json, model.safetensors, tokenizer.json or pytorch_model.bin): an
 * output the CLI replaces only with --force. */
bool pare_output_exists(const char *path);

#ifdef __cplusplus
}
#endif
#endif
