/*
 * pool.c - see pool.h.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#include "internal.h"
#include "pool.h"

#define SPIN_NS 50000L    /* busy-wait this long for the next job, */
#define YIELD_NS 1000000L /* then yield the CPU this long, then sleep */

struct gpt_pool {
    int n;                      /* threads including the caller */
    pthread_t *threads;         /* n - 1 workers */
    int n_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic unsigned gen;       /* bumped for each job */
    _Atomic int done;           /* workers finished with the current job */
    _Atomic int stop;
    gpt_task_fn fn;
    void *arg;
};

typedef struct worker_arg {
    gpt_pool *p;
    int ith;
} worker_arg;

static long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void *
worker_main(void *va)
{
    worker_arg wa = *(worker_arg *)va;
    gpt_pool *p = wa.p;
    unsigned seen = 0; /* gen starts at 0; reading it here could miss a job */

    gpt_free(va);
    for (;;) {
        unsigned g;
        long start = now_ns();
        int spins = 0;

        /* spin, then sleep until a new job or stop */
        while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen &&
               !atomic_load(&p->stop)) {
            long waited;
            cpu_relax();
            if (++spins % 64 != 0)
                continue;
            waited = now_ns() - start;
            if (waited > SPIN_NS)
                sched_yield(); /* let an oversubscribed CPU run real work */
            if (waited > YIELD_NS) {
                pthread_mutex_lock(&p->mu);
                while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->cv, &p->mu);
                pthread_mutex_unlock(&p->mu);
            }
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        p->fn(p->arg, wa.ith, p->n);
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    }
}

gpt_status
gpt_pool_new(int n_threads, gpt_pool **out, gpt_error *err)
{
    gpt_pool *p;
    sigset_t all, old;
    int i, rc = 0;

    *out = NULL;
    if (n_threads < 1)
        n_threads = 1;
    p = gpt_calloc(1, sizeof *p);
    if (!p)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (n_threads > 1) {
        p->threads = gpt_calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            gpt_pool_free(p);
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        }
    }
    /* Workers inherit the creating thread's mask: block everything. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 1; i < n_threads; i++) {
        worker_arg *wa = gpt_malloc(sizeof *wa);
        if (!wa) {
            rc = ENOMEM;
            break;
        }
        wa->p = p;
        wa->ith = i;
        rc = pthread_create(&p->threads[i - 1], NULL, worker_main, wa);
        if (rc != 0) {
            gpt_free(wa);
            break;
        }
        p->n_started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        gpt_pool_free(p);
        return gpt_set_error(err, rc == ENOMEM ? GPT_ERR_NOMEM : GPT_ERR_INTERNAL,
                             "cannot start %d worker threads: %s",
                             n_threads - 1, strerror(rc));
    }
    *out = p;
    return GPT_OK;
}

void
gpt_pool_free(gpt_pool *p)
{
    int i;

    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->n_started; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    gpt_free(p->threads);
    gpt_free(p);
}

int
gpt_pool_size(const gpt_pool *p)
{
    return p ? p->n : 1;
}

void
gpt_pool_run(gpt_pool *p, gpt_task_fn fn, void *arg)
{
    if (!p || p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->done, 0);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    {
        int spins = 0;
        while (atomic_load_explicit(&p->done, memory_order_acquire) < p->n - 1) {
            cpu_relax();
            if (++spins > 2000)
                sched_yield();
        }
    }
}

void
gpt_split(int n, int align, int ith, int nth, int *lo, int *hi)
{
    int blocks = (n + align - 1) / align;
    int b0 = (int)((long)blocks * ith / nth), b1 = (int)((long)blocks * (ith + 1) / nth);

    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}
