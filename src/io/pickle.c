/* A restricted unpickler for PyTorch checkpoints (see pickle.h). It
 * implements the opcodes of protocols 2-5 that torch.save emits plus a
 * few neighbours, with bounds on stack depth, marks, memo size and object
 * count. Globals outside the allow-list are refused by name. */
#include "io/pickle.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define PK_MAX_STACK (1u << 16)
#define PK_MAX_MARKS (1u << 12)
#define PK_MAX_MEMO (1u << 20)
#define PK_MAX_OBJECTS (1u << 22)

typedef struct pk_vm {
    const uint8_t *start, *p, *end;
    const char *name;
    pare_arena *a;
    pare_err *err;
    size_t op;                 /* offset of the current opcode */
    pk_obj **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pk_obj **memo;
    size_t memo_cap, memo_count;
    size_t n_objs;
} pk_vm;

static pare_status fail(pk_vm *v, pare_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static pare_status fail(pk_vm *v, pare_status code, const char *fmt, ...) {
    char msg[PARE_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pare_err_set(v->err, code, "%s: pickle offset %zu: %s", v->name, v->op, msg);
}

static pk_obj *new_obj(pk_vm *v, pk_kind kind) {
    if (v->n_objs >= PK_MAX_OBJECTS) {
        fail(v, PARE_ERR_UNSUPPORTED, "more than %u objects", PK_MAX_OBJECTS);
        return NULL;
    }
    pk_obj *o = pare_arena_calloc(v->a, sizeof *o, 8);
    if (!o) {
        fail(v, PARE_ERR_OOM, "out of memory");
        return NULL;
    }
    v->n_objs++;
    o->kind = kind;
    return o;
}

static pare_status push(pk_vm *v, pk_obj *o) {
    if (!o) return v->err ? v->err->code : PARE_ERR_OOM;
    if (v->sp == v->scap) {
        if (v->scap >= PK_MAX_STACK) return fail(v, PARE_ERR_UNSUPPORTED, "stack deeper than %u", PK_MAX_STACK);
        size_t nc = v->scap ? v->scap * 2 : 64;
        pk_obj **ns = realloc(v->stack, nc * sizeof *ns);
        if (!ns) return fail(v, PARE_ERR_OOM, "out of memory");
        v->stack = ns;
        v->scap = nc;
    }
    v->stack[v->sp++] = o;
    return PARE_OK;
}

/* Items above the innermost mark (must be at least need of them when no
 * mark is in play). */
static size_t mark_base(const pk_vm *v) { return v->nmarks ? v->marks[v->nmarks - 1] : 0; }

static pare_status pop(pk_vm *v, pk_obj **o) {
    if (v->sp <= mark_base(v)) return fail(v, PARE_ERR_FORMAT, "stack underflow");
    *o = v->stack[--v->sp];
    return PARE_OK;
}

static pare_status pop_mark(pk_vm *v, size_t *base) {
    if (!v->nmarks) return fail(v, PARE_ERR_FORMAT, "no MARK on the stack");
    *base = v->marks[--v->nmarks];
    return PARE_OK;
}

static pare_status seq_add(pk_vm *v, pk_obj *s, pk_obj *item) {
    if (s->u.seq.n == s->u.seq.cap) {
        size_t nc = s->u.seq.cap ? s->u.seq.cap * 2 : 4;
        pk_obj **ni = pare_arena_alloc(v->a, nc * sizeof *ni, 8);
        if (!ni) return fail(v, PARE_ERR_OOM, "out of memory");
        if (s->u.seq.n) memcpy(ni, s->u.seq.items, s->u.seq.n * sizeof *ni);
        s->u.seq.items = ni;
        s->u.seq.cap = nc;
    }
    s->u.seq.items[s->u.seq.n++] = item;
    return PARE_OK;
}

/* A tuple of the stack items [base, sp), which are popped. */
static pare_status make_tuple(pk_vm *v, size_t base) {
    pk_obj *t = new_obj(v, PK_TUPLE);
    if (!t) return v->err ? v->err->code : PARE_ERR_OOM;
    size_t n = v->sp - base;
    if (n) {
        t->u.seq.items = pare_arena_alloc(v->a, n * sizeof(pk_obj *), 8);
        if (!t->u.seq.items) return fail(v, PARE_ERR_OOM, "out of memory");
        memcpy(t->u.seq.items, v->stack + base, n * sizeof(pk_obj *));
    }
    t->u.seq.n = t->u.seq.cap = n;
    v->sp = base;
    return push(v, t);
}

static bool need(pk_vm *v, size_t n) { return (size_t)(v->end - v->p) >= n; }

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = (x << 8) | p[i];
    return x;
}

static pare_status push_str(pk_vm *v, uint64_t n) {
    if (!need(v, n)) return fail(v, PARE_ERR_FORMAT, "string of %llu bytes runs past the end", (unsigned long long)n);
    pk_obj *o = new_obj(v, PK_STR);
    if (!o) return v->err ? v->err->code : PARE_ERR_OOM;
    o->u.str.s = pare_arena_strdup(v->a, (const char *)v->p, (size_t)n);
    if (!o->u.str.s) return fail(v, PARE_ERR_OOM, "out of memory");
    o->u.str.len = (size_t)n;
    v->p += n;
    return push(v, o);
}

static pare_status push_int(pk_vm *v, int64_t x) {
    pk_obj *o = new_obj(v, PK_INT);
    if (o) o->u.i = x;
    return push(v, o);
}

static pare_status memo_put(pk_vm *v, uint64_t idx) {
    if (v->sp == 0) return fail(v, PARE_ERR_FORMAT, "memo put with an empty stack");
    if (idx >= PK_MAX_MEMO) return fail(v, PARE_ERR_UNSUPPORTED, "memo index %llu is over %u", (unsigned long long)idx, PK_MAX_MEMO);
    if (idx >= v->memo_cap) {
        size_t nc = v->memo_cap ? v->memo_cap : 64;
        while (nc <= idx) nc *= 2;
        pk_obj **nm = realloc(v->memo, nc * sizeof *nm);
        if (!nm) return fail(v, PARE_ERR_OOM, "out of memory");
        memset(nm + v->memo_cap, 0, (nc - v->memo_cap) * sizeof *nm);
        v->memo = nm;
        v->memo_cap = nc;
    }
    if (!v->memo[idx]) v->memo_count++;
    v->memo[idx] = v->stack[v->sp - 1];
    return PARE_OK;
}

static pare_status memo_get(pk_vm *v, uint64_t idx) {
    if (idx >= v->memo_cap || !v->memo[idx])
        return fail(v, PARE_ERR_FORMAT, "memo index %llu was never set", (unsigned long long)idx);
    return push(v, v->memo[idx]);
}

/* ------------------------------------------------------------ globals */

typedef struct pk_allowed {
    const char *module, *name;
    pk_global id;
    pare_dtype dtype;
} pk_allowed;

static const pk_allowed allowed[] = {
    {"collections", "OrderedDict", PKG_ORDERED_DICT, PARE_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor", PKG_REBUILD_TENSOR, PARE_DTYPE_F32},
    {"torch._utils", "_rebuild_tensor_v2", PKG_REBUILD_TENSOR_V2, PARE_DTYPE_F32},
    {"torch._utils", "_rebuild_parameter", PKG_REBUILD_PARAMETER, PARE_DTYPE_F32},
    {"torch", "FloatStorage", PKG_STORAGE_TYPE, PARE_DTYPE_F32},
    {"torch", "HalfStorage", PKG_STORAGE_TYPE, PARE_DTYPE_F16},
    {"torch", "BFloat16Storage", PKG_STORAGE_TYPE, PARE_DTYPE_BF16},
    {"torch", "DoubleStorage", PKG_STORAGE_TYPE, PARE_DTYPE_F64},
    {"torch", "LongStorage", PKG_STORAGE_TYPE, PARE_DTYPE_I64},
    {"torch", "IntStorage", PKG_STORAGE_TYPE, PARE_DTYPE_I32},
    {"torch", "ShortStorage", PKG_STORAGE_TYPE, PARE_DTYPE_I16},
    {"torch", "CharStorage", PKG_STORAGE_TYPE, PARE_DTYPE_I8},
    {"torch", "ByteStorage", PKG_STORAGE_TYPE, PARE_DTYPE_U8},
    {"torch", "BoolStorage", PKG_STORAGE_TYPE, PARE_DTYPE_BOOL},
};

static pare_status push_global(pk_vm *v, const char *mod, size_t mlen, const char *nm, size_t nlen) {
    for (size_t i = 0; i < sizeof allowed / sizeof *allowed; i++) {
        const pk_allowed *g = &allowed[i];
        if (strlen(g->module) == mlen && strlen(g->name) == nlen && memcmp(g->module, mod, mlen) == 0 &&
            memcmp(g->name, nm, nlen) == 0) {
            pk_obj *o = new_obj(v, PK_GLOBAL);
            if (o) {
                o->u.global.id = g->id;
                o->u.global.dtype = g->dtype;
            }
            return push(v, o);
        }
    }
    int ml = mlen > 100 ? 100 : (int)mlen, nl = nlen > 100 ? 100 : (int)nlen;
    return fail(v, PARE_ERR_UNSUPPORTED, "pickle global '%.*s.%.*s' is not allowed", ml, mod, nl, nm);
}

/* GLOBAL: "module\nname\n" inline. */
static pare_status op_global(pk_vm *v) {
    const uint8_t *m = v->p, *nl1 = memchr(m, '\n', (size_t)(v->end - m));
    if (!nl1) return fail(v, PARE_ERR_FORMAT, "GLOBAL module is not terminated");
    const uint8_t *n = nl1 + 1, *nl2 = memchr(n, '\n', (size_t)(v->end - n));
    if (!nl2) return fail(v, PARE_ERR_FORMAT, "GLOBAL name is not terminated");
    v->p = nl2 + 1;
    return push_global(v, (const char *)m, (size_t)(nl1 - m), (const char *)n, (size_t)(nl2 - n));
}

static pare_status op_stack_global(pk_vm *v) {
    pk_obj *nm = NULL, *mod = NULL;
    pare_status s;
    if ((s = pop(v, &nm)) || (s = pop(v, &mod))) return s;
    if (nm->kind != PK_STR || mod->kind != PK_STR) return fail(v, PARE_ERR_FORMAT, "STACK_GLOBAL needs two strings");
    return push_global(v, mod->u.str.s, mod->u.str.len, nm->u.str.s, nm->u.str.len);
}

/* ------------------------------------------------------------ calls */

static bool as_int(const pk_obj *o, int64_t *x) {
    if (o->kind != PK_INT && o->kind != PK_BOOL) return false;
    *x = o->u.i;
    return true;
}

static pare_status int_tuple(pk_vm *v, const pk_obj *t, const char *what, int64_t *out, int32_t *n) {
    if (t->kind != PK_TUPLE && t->kind != PK_LIST) return fail(v, PARE_ERR_FORMAT, "tensor %s is not a tuple", what);
    if (t->u.seq.n > PARE_MAX_DIMS)
        return fail(v, PARE_ERR_UNSUPPORTED, "tensor has %zu dims, more than %d", t->u.seq.n, PARE_MAX_DIMS);
    for (size_t i = 0; i < t->u.seq.n; i++)
        if (!as_int(t->u.seq.items[i], &out[i]) || out[i] < 0)
            return fail(v, PARE_ERR_FORMAT, "tensor %s[%zu] is not a non-negative integer", what, i);
    *n = (int32_t)t->u.seq.n;
    return PARE_OK;
}

static pare_status rebuild_tensor(pk_vm *v, const pk_obj *args, int min_args, int max_args) {
    size_t n = args->u.seq.n;
    if (n < (size_t)min_args || n > (size_t)max_args)
        return fail(v, PARE_ERR_FORMAT, "_rebuild_tensor takes %d to %d arguments, got %zu", min_args, max_args, n);
    pk_obj *const *a = args->u.seq.items;
    if (a[0]->kind != PK_STORAGE) return fail(v, PARE_ERR_FORMAT, "_rebuild_tensor: argument 0 is not a storage");
    pk_obj *t = new_obj(v, PK_TENSOR);
    if (!t) return v->err ? v->err->code : PARE_ERR_OOM;
    t->u.tensor.storage = a[0];
    if (!as_int(a[1], &t->u.tensor.offset) || t->u.tensor.offset < 0)
        return fail(v, PARE_ERR_FORMAT, "_rebuild_tensor: storage offset is not a non-negative integer");
    int32_t nd, ns;
    pare_status s = int_tuple(v, a[2], "size", t->u.tensor.shape, &nd);
    if (s == PARE_OK) s = int_tuple(v, a[3], "stride", t->u.tensor.stride, &ns);
    if (s != PARE_OK) return s;
    if (nd != ns) return fail(v, PARE_ERR_FORMAT, "tensor size has %d dims but stride has %d", nd, ns);
    t->u.tensor.n_dims = nd;
    return push(v, t);
}

static pare_status op_reduce(pk_vm *v) {
    pk_obj *args = NULL, *fn = NULL;
    pare_status s;
    if ((s = pop(v, &args)) || (s = pop(v, &fn))) return s;
    if (fn->kind != PK_GLOBAL) return fail(v, PARE_ERR_UNSUPPORTED, "REDUCE on something that is not an allowed global");
    if (args->kind != PK_TUPLE) return fail(v, PARE_ERR_FORMAT, "REDUCE arguments are not a tuple");
    switch (fn->u.global.id) {
    case PKG_ORDERED_DICT:
        if (args->u.seq.n != 0) return fail(v, PARE_ERR_UNSUPPORTED, "OrderedDict with constructor arguments");
        return push(v, new_obj(v, PK_DICT));
    case PKG_REBUILD_TENSOR: return rebuild_tensor(v, args, 4, 4);
    case PKG_REBUILD_TENSOR_V2: return rebuild_tensor(v, args, 6, 7);
    case PKG_REBUILD_PARAMETER:
        if (args->u.seq.n < 1 || args->u.seq.items[0]->kind != PK_TENSOR)
            return fail(v, PARE_ERR_FORMAT, "_rebuild_parameter: argument 0 is not a tensor");
        return push(v, args->u.seq.items[0]);
    case PKG_STORAGE_TYPE: break;
    }
    return fail(v, PARE_ERR_UNSUPPORTED, "storage types cannot be called");
}

/* BINPERSID: ('storage', <torch.XStorage>, key, location, numel). */
static pare_status op_persid(pk_vm *v) {
    pk_obj *pid = NULL;
    pare_status s = pop(v, &pid);
    if (s) return s;
    if (pid->kind != PK_TUPLE || pid->u.seq.n != 5)
        return fail(v, PARE_ERR_FORMAT, "persistent id is not a 5-tuple ('storage', type, key, location, numel)");
    pk_obj *const *a = pid->u.seq.items;
    if (a[0]->kind != PK_STR || strcmp(a[0]->u.str.s, "storage") != 0)
        return fail(v, PARE_ERR_UNSUPPORTED, "persistent id is not a 'storage' record");
    if (a[1]->kind != PK_GLOBAL || a[1]->u.global.id != PKG_STORAGE_TYPE)
        return fail(v, PARE_ERR_UNSUPPORTED, "persistent id storage type is not a known torch.*Storage");
    if (a[2]->kind != PK_STR) return fail(v, PARE_ERR_FORMAT, "persistent id key is not a string");
    int64_t numel;
    if (!as_int(a[4], &numel) || numel < 0) return fail(v, PARE_ERR_FORMAT, "persistent id numel is not a non-negative integer");
    pk_obj *o = new_obj(v, PK_STORAGE);
    if (!o) return v->err ? v->err->code : PARE_ERR_OOM;
    o->u.storage.dtype = a[1]->u.global.dtype;
    o->u.storage.key = a[2]->u.str.s;
    o->u.storage.numel = numel;
    return push(v, o);
}

/* ------------------------------------------------------------ containers */

/* SETITEM(S) / APPEND(S): add the items above the mark (many) or the top
 * group of items to the dict or list just below them. */
static pare_status op_extend(pk_vm *v, pk_kind kind, bool many) {
    size_t group = kind == PK_DICT ? 2 : 1, base = 0;
    const char *what = kind == PK_DICT ? "SETITEM(S)" : "APPEND(S)";
    pare_status s;
    if (many) {
        if ((s = pop_mark(v, &base))) return s;
    } else {
        if (v->sp < mark_base(v) + group) return fail(v, PARE_ERR_FORMAT, "stack underflow");
        base = v->sp - group;
    }
    if (base == 0 || base - 1 < mark_base(v) || v->stack[base - 1]->kind != kind)
        return fail(v, PARE_ERR_FORMAT, "%s target is not a %s", what, kind == PK_DICT ? "dict" : "list");
    if ((v->sp - base) % group) return fail(v, PARE_ERR_FORMAT, "%s with an odd number of items", what);
    pk_obj *target = v->stack[base - 1];
    for (size_t i = base; i < v->sp; i++)
        if ((s = seq_add(v, target, v->stack[i]))) return s;
    v->sp = base;
    return PARE_OK;
}

/* BUILD sets state on the object below: the _metadata of a state_dict, or
 * a parameter's state. Accepted and ignored for dicts and tensors. */
static pare_status op_build(pk_vm *v) {
    pk_obj *state = NULL;
    pare_status s = pop(v, &state);
    if (s) return s;
    if (v->sp <= mark_base(v)) return fail(v, PARE_ERR_FORMAT, "BUILD with no object");
    pk_kind k = v->stack[v->sp - 1]->kind;
    if (k != PK_DICT && k != PK_TENSOR) return fail(v, PARE_ERR_UNSUPPORTED, "BUILD on something other than a dict or tensor");
    return PARE_OK;
}

/* ------------------------------------------------------------ the loop */

static pare_status step(pk_vm *v, uint8_t op, bool *stop) {
    pk_obj *o = NULL;
    pare_status s;
    size_t base = 0;
#define NEED(n) \
    if (!need(v, n)) return fail(v, PARE_ERR_FORMAT, "opcode 0x%02x runs past the end", op)
    switch (op) {
    case 0x80: /* PROTO */
        NEED(1);
        if (*v->p > 5) return fail(v, PARE_ERR_UNSUPPORTED, "pickle protocol %d", *v->p);
        v->p++;
        return PARE_OK;
    case 0x95: /* FRAME: a length hint, nothing to check beyond its bytes */
        NEED(8);
        v->p += 8;
        return PARE_OK;
    case '.': *stop = true; return PARE_OK;
    case '(': /* MARK */
        if (v->nmarks == v->mcap) {
            if (v->mcap >= PK_MAX_MARKS) return fail(v, PARE_ERR_UNSUPPORTED, "more than %u nested MARKs", PK_MAX_MARKS);
            size_t nc = v->mcap ? v->mcap * 2 : 16;
            size_t *nm = realloc(v->marks, nc * sizeof *nm);
            if (!nm) return fail(v, PARE_ERR_OOM, "out of memory");
            v->marks = nm;
            v->mcap = nc;
        }
        v->marks[v->nmarks++] = v->sp;
        return PARE_OK;
    case '0': return pop(v, &o); /* POP */
    case '1': /* POP_MARK */
        if ((s = pop_mark(v, &base))) return s;
        v->sp = base;
        return PARE_OK;
    case '2': /* DUP */
        if (v->sp <= mark_base(v)) return fail(v, PARE_ERR_FORMAT, "DUP on an empty stack");
        return push(v, v->stack[v->sp - 1]);
    case '}': return push(v, new_obj(v, PK_DICT));
    case ']': return push(v, new_obj(v, PK_LIST));
    case ')': return push(v, new_obj(v, PK_TUPLE));
    case 'N': return push(v, new_obj(v, PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        if ((o = new_obj(v, PK_BOOL))) o->u.i = op == 0x88;
        return push(v, o);
    case 'J': NEED(4); s = push_int(v, (int32_t)(uint32_t)rd_le(v->p, 4)); v->p += 4; return s;
    case 'K': NEED(1); s = push_int(v, v->p[0]); v->p += 1; return s;
    case 'M': NEED(2); s = push_int(v, (int64_t)rd_le(v->p, 2)); v->p += 2; return s;
    case 0x8a: /* LONG1 */
    case 0x8b: { /* LONG4 */
        int w = op == 0x8a ? 1 : 4;
        NEED((size_t)w);
        uint64_t n = rd_le(v->p, w);
        v->p += w;
        if (n > 8) return fail(v, PARE_ERR_UNSUPPORTED, "integer of %llu bytes", (unsigned long long)n);
        NEED(n);
        uint64_t x = rd_le(v->p, (int)n);
        if (n > 0 && n < 8 && (v->p[n - 1] & 0x80)) x |= ~0ull << (8 * n); /* sign-extend */
        v->p += n;
        return push_int(v, (int64_t)x);
    }
    case 'G': { /* BINFLOAT, big-endian */
        NEED(8);
        uint64_t x = 0;
        for (int i = 0; i < 8; i++) x = (x << 8) | v->p[i];
        v->p += 8;
        if ((o = new_obj(v, PK_FLOAT))) memcpy(&o->u.f, &x, 8);
        return push(v, o);
    }
    case 0x8c: /* SHORT_BINUNICODE */
    case 'C':  /* SHORT_BINBYTES */
    case 'U':  /* SHORT_BINSTRING */
        NEED(1); v->p += 1; return push_str(v, v->p[-1]);
    case 'X': /* BINUNICODE */
    case 'B': /* BINBYTES */
    case 'T': /* BINSTRING */
        NEED(4); v->p += 4; return push_str(v, rd_le(v->p - 4, 4));
    case 0x8d: /* BINUNICODE8 */
    case 0x8e: /* BINBYTES8 */
        NEED(8); v->p += 8; return push_str(v, rd_le(v->p - 8, 8));
    case 't': /* TUPLE */
        if ((s = pop_mark(v, &base))) return s;
        return make_tuple(v, base);
    case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
        size_t k = (size_t)(op - 0x84);
        if (v->sp < mark_base(v) + k) return fail(v, PARE_ERR_FORMAT, "stack underflow");
        return make_tuple(v, v->sp - k);
    }
    case 's': return op_extend(v, PK_DICT, false);
    case 'u': return op_extend(v, PK_DICT, true);
    case 'a': return op_extend(v, PK_LIST, false);
    case 'e': return op_extend(v, PK_LIST, true);
    case 'q': NEED(1); v->p += 1; return memo_put(v, v->p[-1]);
    case 'r': NEED(4); v->p += 4; return memo_put(v, rd_le(v->p - 4, 4));
    case 0x94: return memo_put(v, v->memo_count); /* MEMOIZE */
    case 'h': NEED(1); v->p += 1; return memo_get(v, v->p[-1]);
    case 'j': NEED(4); v->p += 4; return memo_get(v, rd_le(v->p - 4, 4));
    case 'c': return op_global(v);
    case 0x93: return op_stack_global(v);
    case 'R': return op_reduce(v);
    case 'b': return op_build(v);
    case 'Q': return op_persid(v);
    default: break;
    }
#undef NEED
    if (op >= 0x20 && op < 0x7f)
        return fail(v, PARE_ERR_UNSUPPORTED, "pickle opcode '%c' (0x%02x) is not supported", op, op);
    return fail(v, PARE_ERR_UNSUPPORTED, "pickle opcode 0x%02x is not supported", op);
}

pare_status pare_pickle_load(const uint8_t *data, size_t len, const char *name, pare_arena *scratch,
                             const pk_obj **root, pare_err *err) {
    *root = NULL;
    pk_vm v = {.start = data, .p = data, .end = data + len, .name = name, .a = scratch, .err = err};
    pare_err local;
    if (!v.err) v.err = &local;
    pare_status s = PARE_OK;
    bool stop = false;
    while (!stop) {
        if (v.p >= v.end) {
            v.op = len;
            s = fail(&v, PARE_ERR_FORMAT, "pickle ends without STOP");
            break;
        }
        v.op = (size_t)(v.p - v.start);
        uint8_t op = *v.p++;
        if ((s = step(&v, op, &stop)) != PARE_OK) break;
    }
    if (s == PARE_OK) {
        if (v.sp == 0) s = fail(&v, PARE_ERR_FORMAT, "STOP with an empty stack");
        else *root = v.stack[v.sp - 1];
    }
    free(v.stack);
    free(v.marks);
    free(v.memo);
    return s;
}
