/* Error values with messages. */
#include "pare/core.h"

#include <stdio.h>
#include <string.h>

pare_status pare_err_set(pare_err *err, pare_status code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

pare_status pare_err_wrap(pare_err *err, const char *fmt, ...) {
    if (!err) return PARE_ERR_INTERNAL;
    char prefix[PARE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[PARE_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 2, m = strnlen(old, room - 1);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = 0;
    return err->code;
}

const char *pare_status_name(pare_status s) {
    switch (s) {
    case PARE_OK: return "ok";
    case PARE_ERR_IO: return "i/o error";
    case PARE_ERR_FORMAT: return "malformed input";
    case PARE_ERR_UNSUPPORTED: return "unsupported";
    case PARE_ERR_INVALID: return "invalid argument";
    case PARE_ERR_OOM: return "out of memory";
    case PARE_ERR_INTERNAL: return "internal error";
    case PARE_ERR_WRITE: return "write error";
    case PARE_ERR_NUMERIC: return "numeric error";
    }
    return "unknown status";
}

int pare_status_exit_code(pare_status s) {
    switch (s) {
    case PARE_OK: return 0;
    case PARE_ERR_IO:
    case PARE_ERR_FORMAT:
    case PARE_ERR_UNSUPPORTED:
    case PARE_ERR_INVALID: return 2;
    default: return 1;
    }
}
