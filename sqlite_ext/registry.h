/*
 * registry.h - one mapped model per file per process, shared by every SQLite
 * connection that uses it.
 *
 * A file is identified by (device, inode, size, mtime) after realpath(), so
 * two names of one file share a mapping, while a model replaced by rename
 * (the safe way to update one) is opened afresh by the next load; users of
 * the old mapping keep it until they release it.
 *
 * The registry also pools each model's idle sessions.  A connection takes
 * one for each call and gives it back after, instead of owning one: a new
 * connection of an application that already uses the model then starts
 * with a session whose buffers exist and whose pages are mapped (attach
 * cost: about 1 ms instead of tens), and idle connections hold no KV
 * cache.  The pool is last in, first out, so a caller that runs alone gets
 * its own session back, with its last prompt's KV cache for prefix reuse.
 * Which session a call gets never changes its result (the core's results
 * do not depend on the cache state).
 */
#ifndef GPT_SQLITE_REGISTRY_H
#define GPT_SQLITE_REGISTRY_H

#include "gpt.h"

/* Returns a model the caller owns one use of (release it with
 * gpt_registry_release, not gpt_model_release).  Thread-safe. */
gpt_status gpt_registry_acquire(const char *path, gpt_model **out,
                                gpt_error *err);
void gpt_registry_release(gpt_model *m); /* NULL ok */

/* A session of m, idle in the pool or new, set to `threads` (0 = the
 * core's default).  The caller owns it until gpt_registry_give_session.
 * Thread-safe. */
gpt_status gpt_registry_take_session(gpt_model *m, int threads,
                                     gpt_session **out, gpt_error *err);
/* Puts s back in its model's pool, or frees it when the pool is full or
 * the model has left the registry.  NULL ok. */
void gpt_registry_give_session(gpt_session *s);

/* Number of distinct models mapped now (for tests). */
int gpt_registry_count(void);

#endif
