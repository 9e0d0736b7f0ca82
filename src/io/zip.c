/* ZIP reading for stored archives: EOCD (and ZIP64 EOCD), central
 * directory, local headers. CRCs are not checked: the data is mapped, not
 * decompressed, and the tensors are validated by their readers. */
#include "io/zip.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint64_t le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

typedef struct zip_dir {
    uint64_t count, cd_size, cd_off;
    size_t cd_limit; /* the central directory must end before this offset */
} zip_dir;

static pare_status find_eocd(const uint8_t *d, size_t len, const char *name, zip_dir *z, pare_err *err) {
    if (len < 22) return pare_err_set(err, PARE_ERR_FORMAT, "%s: %zu bytes, too short for a zip archive", name, len);
    size_t lo = len - 22 > 0xffff ? len - 22 - 0xffff : 0, at = SIZE_MAX;
    for (size_t i = len - 22 + 1; i-- > lo;) {
        if (le(d + i, 4) == SIG_EOCD && i + 22 + le(d + i + 20, 2) <= len) {
            at = i;
            break;
        }
    }
    if (at == SIZE_MAX)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: no zip end-of-central-directory record", name);
    const uint8_t *e = d + at;
    if (le(e + 4, 2) != 0 && le(e + 4, 2) != 0xffff)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: multi-disk zip archives are not supported", name);
    z->count = le(e + 10, 2);
    z->cd_size = le(e + 12, 4);
    z->cd_off = le(e + 16, 4);
    z->cd_limit = at;
    if (z->count != 0xffff && z->cd_size != 0xffffffff && z->cd_off != 0xffffffff) return PARE_OK;
    /* ZIP64: a locator sits right before the EOCD. */
    if (at < 20 || le(d + at - 20, 4) != SIG_LOC64)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip needs ZIP64 but has no ZIP64 locator", name);
    uint64_t off = le(d + at - 20 + 8, 8);
    if (off > at - 20 || at - 20 - off < 56 || le(d + off, 4) != SIG_EOCD64)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: bad ZIP64 end-of-central-directory offset %llu", name,
                            (unsigned long long)off);
    const uint8_t *e64 = d + off;
    z->count = le(e64 + 32, 8);
    z->cd_size = le(e64 + 40, 8);
    z->cd_off = le(e64 + 48, 8);
    z->cd_limit = (size_t)off;
    return PARE_OK;
}

/* The ZIP64 extended-information extra field replaces 0xffffffff values. */
static bool zip64_extra(const uint8_t *x, size_t xlen, uint64_t *usize, uint64_t *csize, uint64_t *off) {
    uint64_t *want[3] = {usize, csize, off};
    while (xlen >= 4) {
        uint64_t id = le(x, 2), sz = le(x + 2, 2);
        if (sz > xlen - 4) return false;
        if (id == 1) {
            const uint8_t *p = x + 4;
            size_t left = (size_t)sz;
            for (int i = 0; i < 3; i++) {
                if (*want[i] != 0xffffffff) continue;
                if (left < 8) return false;
                *want[i] = le(p, 8);
                p += 8;
                left -= 8;
            }
            return true;
        }
        x += 4 + sz;
        xlen -= 4 + (size_t)sz;
    }
    return *usize != 0xffffffff && *csize != 0xffffffff && *off != 0xffffffff;
}

static int entry_cmp(const void *a, const void *b) {
    const pare_zip_entry *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    if (c) return c;
    return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static pare_status read_entry(const uint8_t *d, size_t len, const char *name, const uint8_t *c, size_t left,
                              size_t cd_off, pare_zip_entry *e, size_t *used, pare_err *err) {
    if (left < 46 || le(c, 4) != SIG_CENTRAL)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: bad zip central directory header", name);
    uint64_t flags = le(c + 8, 2), method = le(c + 10, 2), csize = le(c + 20, 4), usize = le(c + 24, 4);
    size_t nlen = (size_t)le(c + 28, 2), xlen = (size_t)le(c + 30, 2), clen = (size_t)le(c + 32, 2);
    uint64_t off = le(c + 42, 4);
    if (46 + nlen + xlen + clen > left)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip central directory header runs past its end", name);
    const char *nm = (const char *)c + 46;
    int pl = nlen > 200 ? 200 : (int)nlen;
    if (!zip64_extra(c + 46 + nlen, xlen, &usize, &csize, &off))
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip entry '%.*s': bad ZIP64 extra field", name, pl, nm);
    if (flags & 1)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED, "%s: zip entry '%.*s' is encrypted", name, pl, nm);
    if (method != 0)
        return pare_err_set(err, PARE_ERR_UNSUPPORTED,
                            "%s: zip entry '%.*s' is compressed (method %llu); only stored entries "
                            "(as torch.save writes them) are supported",
                            name, pl, nm, (unsigned long long)method);
    if (csize != usize)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip entry '%.*s' is stored but sizes differ (%llu, %llu)",
                            name, pl, nm, (unsigned long long)csize, (unsigned long long)usize);
    if (off > cd_off || cd_off - off < 30 || le(d + off, 4) != SIG_LOCAL)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip entry '%.*s': bad local header offset %llu", name, pl, nm,
                            (unsigned long long)off);
    const uint8_t *l = d + off;
    size_t lnlen = (size_t)le(l + 26, 2), lxlen = (size_t)le(l + 28, 2);
    uint64_t start = off + 30 + lnlen + lxlen;
    if (start > cd_off || lnlen != nlen || memcmp(l + 30, nm, nlen) != 0)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip entry '%.*s': local header does not match", name, pl, nm);
    if (usize > cd_off - start)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip entry '%.*s': %llu bytes at offset %llu run past the data",
                            name, pl, nm, (unsigned long long)usize, (unsigned long long)start);
    (void)len;
    e->name = nm;
    e->name_len = nlen;
    e->data = d + start;
    e->size = (size_t)usize;
    *used = 46 + nlen + xlen + clen;
    return PARE_OK;
}

pare_status pare_zip_read(const uint8_t *data, size_t len, const char *name, pare_zip_entry **out,
                          size_t *n_out, pare_err *err) {
    *out = NULL;
    *n_out = 0;
    zip_dir z = {0};
    pare_status s = find_eocd(data, len, name, &z, err);
    if (s != PARE_OK) return s;
    if (z.cd_off > z.cd_limit || z.cd_size > z.cd_limit - z.cd_off)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip central directory [%llu, +%llu) is out of range", name,
                            (unsigned long long)z.cd_off, (unsigned long long)z.cd_size);
    if (z.count > z.cd_size / 46)
        return pare_err_set(err, PARE_ERR_FORMAT, "%s: zip claims %llu entries in a %llu-byte directory", name,
                            (unsigned long long)z.count, (unsigned long long)z.cd_size);
    pare_zip_entry *e = calloc((size_t)z.count + 1, sizeof *e);
    if (!e) return pare_err_set(err, PARE_ERR_OOM, "%s: out of memory", name);
    const uint8_t *c = data + z.cd_off;
    size_t left = (size_t)z.cd_size;
    for (uint64_t i = 0; i < z.count; i++) {
        size_t used = 0;
        s = read_entry(data, len, name, c, left, (size_t)z.cd_off, &e[i], &used, err);
        if (s != PARE_OK) {
            free(e);
            return s;
        }
        c += used;
        left -= used;
    }
    qsort(e, (size_t)z.count, sizeof *e, entry_cmp);
    for (size_t i = 1; i < (size_t)z.count; i++) {
        if (entry_cmp(&e[i - 1], &e[i]) == 0) {
            int pl = e[i].name_len > 200 ? 200 : (int)e[i].name_len;
            pare_err_set(err, PARE_ERR_FORMAT, "%s: duplicate zip entry '%.*s'", name, pl, e[i].name);
            free(e);
            return PARE_ERR_FORMAT;
        }
    }
    *out = e;
    *n_out = (size_t)z.count;
    return PARE_OK;
}

const pare_zip_entry *pare_zip_find(const pare_zip_entry *e, size_t n, const char *name, size_t name_len) {
    pare_zip_entry key = {.name = name, .name_len = name_len};
    return bsearch(&key, e, n, sizeof *e, entry_cmp);
}
