/* CPU feature detection with cpuid/xgetbv. */
#include "pare/core.h"

#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

void pare_cpu_detect(pare_cpu_features *f) {
    memset(f, 0, sizeof *f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    bool osxsave = (c >> 27) & 1;
    bool avx = (c >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    bool ymm_ok = (xcr0 & 6) == 6, zmm_ok = (xcr0 & 0xe6) == 0xe6;
    f->fma = avx && ymm_ok && ((c >> 12) & 1);
    f->f16c = avx && ymm_ok && ((c >> 29) & 1);
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f->avx2 = avx && ymm_ok && ((b >> 5) & 1);
        f->avx512f = zmm_ok && ((b >> 16) & 1);
        f->avx512bw = zmm_ok && ((b >> 30) & 1);
        f->avx512vl = zmm_ok && ((b >> 31) & 1);
        f->avx512_vnni = zmm_ok && ((c >> 11) & 1);
        f->avx512_vbmi2 = zmm_ok && ((c >> 6) & 1);
        /* AMX-TILE (edx 24), AMX-INT8 (edx 25); XTILECFG/XTILEDATA: XCR0 17, 18 */
        f->amx_int8 = ((d >> 24) & 1) && ((d >> 25) & 1) && ((xcr0 >> 17) & 3) == 3;
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        f->avx_vnni = ymm_ok && ((a >> 4) & 1);
        f->avx512_bf16 = zmm_ok && ((a >> 5) & 1);
    }
    unsigned brand[12];
    if (__get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000004) {
        for (unsigned i = 0; i < 3; i++)
            __get_cpuid(0x80000002 + i, &brand[4 * i], &brand[4 * i + 1], &brand[4 * i + 2],
                        &brand[4 * i + 3]);
        memcpy(f->brand, brand, 48);
        f->brand[48] = 0;
        /* trim trailing spaces */
        for (int i = 47; i >= 0 && (f->brand[i] == ' ' || f->brand[i] == 0); i--) f->brand[i] = 0;
    }
}
#else
void pare_cpu_detect(pare_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>

bool pare_amx_enable(const pare_cpu_features *f) {
    if (!f->amx_int8) return false;
    /* ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 */
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
}
#else
bool pare_amx_enable(const pare_cpu_features *f) {
    (void)f;
    return false;
}
#endif

const char *pare_cpu_features_str(const pare_cpu_features *f, char *buf, size_t cap) {
    struct { bool on; const char *name; } list[] = {
        {f->avx2, "avx2"}, {f->fma, "fma"}, {f->f16c, "f16c"}, {f->avx512f, "avx512f"},
        {f->avx512bw, "avx512bw"}, {f->avx512vl, "avx512vl"}, {f->avx512_vnni, "avx512_vnni"},
        {f->avx512_bf16, "avx512_bf16"}, {f->avx_vnni, "avx_vnni"}, {f->avx512_vbmi2, "avx512_vbmi2"},
        {f->amx_int8, "amx_int8"},
    };
    size_t off = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (!list[i].on || off >= cap) continue;
        off += (size_t)snprintf(buf + off, cap - off, off ? " %s" : "%s", list[i].name);
    }
    return buf;
}
