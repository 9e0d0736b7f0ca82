/* BERT character classes: utf8proc's categories and mappings, corrected by
 * the generated tables where tokenizers' Unicode data differ (see
 * tools/gen_bert_unicode_tables.py). */
#include "tokenize/bert_unicode.h"

#include <utf8proc.h>

#include "tokenize/bert_unicode_tables.h"

static bool in_ranges(const pare_cp_range *r, int n, int32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return true;
    }
    return false;
}

const char *pare_bert_tables_unicode_version(void) { return PARE_BERT_UTF8PROC_UNICODE; }

bool pare_bert_is_whitespace(int32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool pare_bert_is_removed(int32_t cp) {
    if (cp < 0x80) return cp < 0x20 ? !(cp == 9 || cp == 10 || cp == 13) : cp == 0x7F;
    if (cp == 0xFFFD) return true;
    utf8proc_category_t c = utf8proc_category(cp);
    bool other = c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
                 c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_CO;
    return other != in_ranges(bert_other_flip, BERT_OTHER_FLIP_N, cp);
}

bool pare_bert_is_punct(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) ||
               (cp >= 0x5B && cp <= 0x60) || (cp >= 0x7B && cp <= 0x7E);
    utf8proc_category_t c = utf8proc_category(cp);
    bool p = c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
    return p != in_ranges(bert_punct_flip, BERT_PUNCT_FLIP_N, cp);
}

bool pare_bert_is_chinese(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool pare_bert_is_mn(int32_t cp) {
    if (cp < 0x300) return false;
    bool mn = utf8proc_category(cp) == UTF8PROC_CATEGORY_MN;
    return mn != in_ranges(bert_mn_flip, BERT_MN_FLIP_N, cp);
}

int pare_bert_lower(int32_t cp, int32_t out[2]) {
    if (cp < 0x80) {
        out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
        return 1;
    }
    if (cp == 0x130) { /* the one multi-char lowercase: "i" + COMBINING DOT ABOVE */
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    int lo = 0, hi = BERT_LOWER_MAP_N - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (cp < bert_lower_map[mid].from) hi = mid - 1;
        else if (cp > bert_lower_map[mid].from) lo = mid + 1;
        else {
            out[0] = bert_lower_map[mid].to;
            return 1;
        }
    }
    out[0] = utf8proc_tolower(cp);
    return 1;
}

int pare_bert_decompose(int32_t cp, int32_t *out, int cap) {
    if (cp < 0xC0) {
        if (cap >= 1) out[0] = cp;
        return 1;
    }
    for (int i = 0; i < BERT_NFD_MAP_N; i++) {
        if (bert_nfd_map[i].cp == cp) {
            int n = bert_nfd_map[i].n;
            for (int k = 0; k < n && k < cap; k++) out[k] = bert_nfd_map[i].seq[k];
            return n;
        }
    }
    int last_boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(cp, out, cap, UTF8PROC_DECOMPOSE, &last_boundclass);
    return (int)n;
}

int pare_bert_ccc(int32_t cp) {
    if (cp < 0x300) return 0;
    return utf8proc_get_property(cp)->combining_class;
}
