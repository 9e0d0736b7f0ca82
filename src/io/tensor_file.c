/* The pare_tensor_file object: creation, name index, lookup, mapping, and
 * opening a file by sniffing its content. */
#include "io/tensor_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

pare_status pare_tf_create(pare_file_format format, const void *data, size_t len,
                           const char *name, pare_tensor_file **out, pare_err *err) {
    *out = NULL;
    pare_tensor_file *f = calloc(1, sizeof *f);
    if (!f) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    f->arena = pare_arena_create(1u << 16);
    const char *nm = name ? name : "(memory)";
    f->path = f->arena ? pare_arena_strdup(f->arena, nm, strlen(nm)) : NULL;
    if (!f->path) {
        pare_arena_free(f->arena);
        free(f);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", nm);
    }
    f->format = format;
    f->data = data;
    f->len = len;
    *out = f;
    return PARE_OK;
}

/* Sort by name: a merge sort on the index (qsort has no context argument
 * in C11, and names live in the tensors). */
static void sort_by_name(const pare_tensor *t, int64_t *idx, int64_t *tmp, int64_t n) {
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = strcmp(t[idx[j]].name, t[idx[i]].name) < 0 ? idx[j++] : idx[i++];
            while (i < mid) tmp[k++] = idx[i++];
            while (j < hi) tmp[k++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof *idx);
    }
}

pare_status pare_tf_index(pare_tensor_file *f, pare_err *err) {
    if (f->n == 0) return PARE_OK;
    size_t bytes;
    if (!pare_mul_size((size_t)f->n, sizeof(int64_t), &bytes))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: too many tensors", f->path);
    f->by_name = pare_arena_alloc(f->arena, bytes, 8);
    int64_t *tmp = malloc(bytes);
    if (!f->by_name || !tmp) {
        free(tmp);
        return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory indexing %lld tensors",
                            f->path, (long long)f->n);
    }
    for (int64_t i = 0; i < f->n; i++) f->by_name[i] = i;
    sort_by_name(f->tensors, f->by_name, tmp, f->n);
    free(tmp);
    for (int64_t i = 1; i < f->n; i++) {
        const char *a = f->tensors[f->by_name[i - 1]].name, *b = f->tensors[f->by_name[i]].name;
        if (strcmp(a, b) == 0)
            return pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate tensor name '%s'", f->path, a);
    }
    return PARE_OK;
}

pare_status pare_tf_map(const char *path, void **map, size_t *len, pare_err *err) {
    *map = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return pare_err_set(err, PARE_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pare_err_set(err, PARE_ERR_IO, "%s: not a regular file", path);
    }
    if ((unsigned long long)st.st_size > SIZE_MAX) {
        close(fd);
        return pare_err_set(err, PARE_ERR_IO, "%s: file too large to map", path);
    }
    size_t n = (size_t)st.st_size;
    if (n == 0) {
        close(fd);
        return PARE_OK;
    }
    void *p = mmap(NULL, n, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED) return pare_err_set(err, PARE_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
    *map = p;
    *len = n;
    return PARE_OK;
}

/* Parse with the given reader; NULL parse sniffs the content: a zip starts
 * with a local file header "PK\3\4", safetensors with an 8-byte header
 * length whose JSON begins with '{'. */
static pare_status parse_sniffed(const void *data, size_t len, const char *path, pare_tensor_file **out,
                                 pare_err *err) {
    const uint8_t *d = data;
    if (len >= 4 && d[0] == 'P' && d[1] == 'K' && d[2] == 3 && d[3] == 4)
        return pare_torch_open_memory(data, len, path, out, err);
    if (len >= 9 && d[8] == '{') return pare_safetensors_open_memory(data, len, path, out, err);
    *out = NULL;
    return pare_err_set(err, PARE_ERR_UNSUPPORTED,
                        "%s: not a safetensors file or PyTorch zip checkpoint (%zu bytes)", path, len);
}

pare_status pare_tf_open_with(const char *path, pare_tf_parse_fn parse, pare_tensor_file **out,
                              pare_err *err) {
    *out = NULL;
    void *map;
    size_t len;
    pare_status s = pare_tf_map(path, &map, &len, err);
    if (s != PARE_OK) return s;
    s = (parse ? parse : parse_sniffed)(map, len, path, out, err);
    if (s != PARE_OK) {
        if (map) munmap(map, len);
        return s;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return PARE_OK;
}

pare_status pare_tensor_file_open(const char *path, pare_tensor_file **out, pare_err *err) {
    return pare_tf_open_with(path, NULL, out, err);
}

void pare_tensor_file_close(pare_tensor_file *f) {
    if (!f) return;
    if (f->map) munmap(f->map, f->map_len);
    pare_arena_free(f->arena);
    free(f);
}

pare_file_format pare_tensor_file_format(const pare_tensor_file *f) { return f->format; }
const char *pare_tensor_file_path(const pare_tensor_file *f) { return f->path; }
size_t pare_tensor_file_size(const pare_tensor_file *f) { return f->len; }
int64_t pare_tensor_file_count(const pare_tensor_file *f) { return f ? f->n : 0; }

const pare_tensor *pare_tensor_file_get(const pare_tensor_file *f, int64_t i) {
    if (!f || i < 0 || i >= f->n) return NULL;
    return &f->tensors[i];
}

const pare_tensor *pare_tensor_file_find(const pare_tensor_file *f, const char *name) {
    if (!f || !name || !f->by_name) return NULL;
    int64_t lo = 0, hi = f->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[f->by_name[mid]].name, name);
        if (c == 0) return &f->tensors[f->by_name[mid]];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const char *pare_tensor_file_metadata(const pare_tensor_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int64_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}
