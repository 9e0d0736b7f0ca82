/* Chat templates, recognised by their text (as llama.cpp's
 * llm_chat_detect_template does) and rendered by hand: ChatML, Llama 3,
 * Llama 2. No Jinja interpreter. */
#include "pare/bpe.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s) {
    size_t l = strlen(s);
    if (b->oom) return;
    if (b->n + l + 1 > b->cap) {
        size_t c = (b->cap ? b->cap * 2 : 256) + l;
        char *p = realloc(b->p, c);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, l + 1);
    b->n += l;
}

static void putv(sbuf *b, int n, ...) {
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) put(b, va_arg(ap, const char *));
    va_end(ap);
}

/* The default system prompt a ChatML template writes when the first message
 * is not a system one: the text between "<|im_start|>system\n" and
 * "<|im_end|>" in a string literal of the template (SmolLM2's does this). */
static char *default_system(const char *tmpl) {
    const char *k = "<|im_start|>system\\n";
    const char *p = strstr(tmpl, k);
    size_t kl = strlen(k);
    if (!p) {
        k = "<|im_start|>system\n";
        kl = strlen(k);
        p = strstr(tmpl, k);
    }
    if (!p || !strstr(tmpl, "!= 'system'")) return NULL;
    p += kl;
    const char *e = strstr(p, "<|im_end|>");
    if (!e || memchr(p, '{', (size_t)(e - p))) return NULL; /* not a literal */
    char *s = malloc((size_t)(e - p) + 1);
    if (!s) return NULL;
    memcpy(s, p, (size_t)(e - p));
    s[e - p] = 0;
    return s;
}

pare_status pare_chat_apply(const char *tmpl, const pare_chat_msg *msgs, int64_t n, bool add_generation_prompt,
                            char **out, pare_err *err) {
    *out = NULL;
    sbuf b = {0};
    put(&b, "");
    if (!tmpl) tmpl = "";
    if (strstr(tmpl, "<|im_start|>")) {
        char *sys = n > 0 && strcmp(msgs[0].role, "system") != 0 ? default_system(tmpl) : NULL;
        if (sys) putv(&b, 3, "<|im_start|>system\n", sys, "<|im_end|>\n");
        free(sys);
        for (int64_t i = 0; i < n; i++) putv(&b, 5, "<|im_start|>", msgs[i].role, "\n", msgs[i].content, "<|im_end|>\n");
        if (add_generation_prompt) put(&b, "<|im_start|>assistant\n");
    } else if (strstr(tmpl, "<|start_header_id|>")) {
        put(&b, "<|begin_of_text|>");
        for (int64_t i = 0; i < n; i++)
            putv(&b, 5, "<|start_header_id|>", msgs[i].role, "<|end_header_id|>\n\n", msgs[i].content, "<|eot_id|>");
        if (add_generation_prompt) put(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
    } else if (strstr(tmpl, "[INST]")) {
        /* Llama 2: the system prompt is folded into the first user turn. */
        const char *sys = NULL;
        for (int64_t i = 0; i < n; i++) {
            if (!strcmp(msgs[i].role, "system")) {
                sys = msgs[i].content;
            } else if (!strcmp(msgs[i].role, "user")) {
                put(&b, "<s>[INST] ");
                if (sys) putv(&b, 3, "<<SYS>>\n", sys, "\n<</SYS>>\n\n");
                sys = NULL;
                putv(&b, 2, msgs[i].content, " [/INST]");
            } else {
                putv(&b, 3, " ", msgs[i].content, " </s>");
            }
        }
    } else {
        free(b.p);
        return pare_err_set(err, PARE_ERR_UNSUPPORTED,
                            "chat template not recognised (pare renders ChatML, Llama 3 and Llama 2 templates)");
    }
    if (b.oom) {
        free(b.p);
        return pare_err_set(err, PARE_ERR_OOM, "out of memory rendering the chat");
    }
    *out = b.p;
    return PARE_OK;
}
