/*
 * pool.h - a small fork-join thread pool owned by one session.
 *
 * gpt_pool_run(fn, arg) runs fn(arg, i, n) for i = 0..n-1, i = 0 on the
 * calling thread and the others on workers, and returns when all are done.
 * Workers spin briefly between jobs (a decode step issues ~50 jobs, and a
 * futex wake per job would cost more than the work), then sleep on a
 * condition variable.  Workers block every signal: a signal meant for the
 * host process (PostgreSQL's SIGINT, SIGTERM, SIGUSR1) always reaches the
 * host's own thread.  Workers only ever run core code.
 */
#ifndef GPT_POOL_H
#define GPT_POOL_H

#include "gpt.h"

typedef struct gpt_pool gpt_pool;
typedef void (*gpt_task_fn)(void *arg, int ith, int nth);

gpt_status gpt_pool_new(int n_threads, gpt_pool **out, gpt_error *err);
void gpt_pool_free(gpt_pool *p);      /* joins the workers; NULL ok */
int gpt_pool_size(const gpt_pool *p);
void gpt_pool_run(gpt_pool *p, gpt_task_fn fn, void *arg);

/* The slice [*lo, *hi) of n items for thread ith of nth, in multiples of
 * align (the last slice takes the rest). */
void gpt_split(int n, int align, int ith, int nth, int *lo, int *hi);

#endif
