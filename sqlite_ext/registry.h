/*
 * registry.h - one mapped model per file per process, shared by every SQLite
 * connection that uses it.
 *
 * A file is identified by (device, inode, size, mtime) after realpath(), so
 * two names of one file share a mapping, while a model replaced by rename
 * (the safe way to update one) is opened afresh by the next load; users of
 * the old mapping keep it until they release it.
 */
#ifndef GPT_SQLITE_REGISTRY_H
#define GPT_SQLITE_REGISTRY_H

#include "gpt.h"

/* Returns a model the caller owns one use of (release it with
 * gpt_registry_release, not gpt_model_release).  Thread-safe. */
gpt_status gpt_registry_acquire(const char *path, gpt_model **out,
                                gpt_error *err);
void gpt_registry_release(gpt_model *m); /* NULL ok */

/* Number of distinct models mapped now (for tests). */
int gpt_registry_count(void);

#endif
