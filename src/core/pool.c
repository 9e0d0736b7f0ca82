/* A fixed thread pool: the caller is thread 0, workers 1..n-1 spin briefly
 * on a generation counter and then sleep on a condition variable. Kernels
 * call pare_pool_run many times per forward pass, so waking must be cheap. */
#include "pare/core.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ITERS 20000

struct pare_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;      /* bumped for each job */
    atomic_int pending;   /* workers still running the current job */
    atomic_bool stop;
    pare_pool_fn fn;
    void *ctx;
    int isa_cap;          /* see pare_pool_set_isa_cap; 0: none */
};

typedef struct {
    pare_pool *p;
    int ith;
} worker_arg;

static void *worker_main(void *arg_) {
    worker_arg arg = *(worker_arg *)arg_;
    free(arg_);
    pare_pool *p = arg.p;
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            if (++spins < SPIN_ITERS) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        p->fn(p->ctx, arg.ith, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

int pare_default_threads(void) {
    const char *env = getenv("PARE_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0 && v > 0 && v <= 1024) return (int)v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

pare_pool *pare_pool_create(int n_threads, pare_err *err) {
    if (n_threads <= 0) n_threads = pare_default_threads();
    if (n_threads > 1024) {
        pare_err_set(err, PARE_ERR_INVALID, "pare_pool_create: %d threads is too many", n_threads);
        return NULL;
    }
    pare_pool *p = calloc(1, sizeof *p);
    if (!p) goto oom;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads, sizeof *p->threads);
        if (!p->threads) goto oom;
        for (int i = 1; i < n_threads; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a) goto oom;
            a->p = p;
            a->ith = i;
            if (pthread_create(&p->threads[i], NULL, worker_main, a) != 0) {
                free(a);
                p->n = i; /* join only those started */
                pare_pool_free(p);
                pare_err_set(err, PARE_ERR_INTERNAL, "pare_pool_create: pthread_create failed");
                return NULL;
            }
        }
    }
    return p;
oom:
    if (p) {
        free(p->threads);
        free(p);
    }
    pare_err_set(err, PARE_ERR_OOM, "pare_pool_create: out of memory");
    return NULL;
}

void pare_pool_free(pare_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int pare_pool_size(const pare_pool *p) { return p ? p->n : 1; }

void pare_pool_set_isa_cap(pare_pool *p, int cap) {
    if (p) p->isa_cap = cap;
}

int pare_pool_isa_cap(const pare_pool *p) { return p ? p->isa_cap : 0; }

void pare_pool_run(pare_pool *p, pare_pool_fn fn, void *ctx) {
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    /* Spin, then yield: with more threads than free cores the workers we
     * wait for need this core. */
    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; spins++) {
        if (spins < SPIN_ITERS) cpu_relax();
        else sched_yield();
    }
}
