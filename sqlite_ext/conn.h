/*
 * conn.h - what the module keeps per SQLite connection: its model (shared
 * through the registry) and the cancellation hook.  Sessions are not kept
 * per connection: each call takes one from the registry's pool.
 *
 * Every registered function and the virtual-table module hold one reference
 * to the connection's gpt_conn (as user data); SQLite drops them when the
 * connection closes or a function is replaced, and the last one frees it.
 * A connection is used by one thread at a time (SQLite's rule), so nothing
 * here needs a lock; the registry has its own.
 */
#ifndef GPT_SQLITE_CONN_H
#define GPT_SQLITE_CONN_H

#include <sqlite3ext.h>
#include <stdint.h>

#include "gpt.h"

typedef struct gpt_conn {
    int refs;
    sqlite3 *db;
    gpt_model *model;     /* one registry use, or NULL before first use */
    int threads;          /* GPT_THREADS, 0 = the core's default */
    /* Cancellation, valid between gpt_conn_begin and gpt_conn_end: */
    sqlite3_stmt *probe;  /* "SELECT 1", stepped to see sqlite3_interrupt */
    int64_t deadline_ns;  /* CLOCK_MONOTONIC, 0 = none (GPT_TIMEOUT_MS) */
    int timeout_ms;
    int timed_out;
} gpt_conn;

gpt_conn *gpt_conn_new(sqlite3 *db); /* refs = 0; NULL when out of memory */
void gpt_conn_ref(gpt_conn *c);
void gpt_conn_unref(void *c); /* the xDestroy of every registration */

/* The connection's model, loading the default one on first use. */
gpt_status gpt_conn_model(gpt_conn *c, gpt_model **m, gpt_error *err);

/* A session of its own for one gpt_generate_tokens cursor, from xFilter
 * to close: streaming keeps its state in the session between rows.  Give
 * it back with gpt_conn_stream_done. */
gpt_status gpt_conn_stream_session(gpt_conn *c, gpt_session **s,
                                   gpt_error *err);
void gpt_conn_stream_done(gpt_conn *c, gpt_session *s); /* NULL ok */

/* Switches this connection to the model at path; on failure the previous
 * model stays. */
gpt_status gpt_conn_load(gpt_conn *c, const char *path, gpt_error *err);

/* Brackets one call into the core that may run long: begin takes a
 * session of the connection's model from the pool and arms its cancel
 * callback (sqlite3_interrupt and GPT_TIMEOUT_MS); end disarms it and
 * gives the session back.  Call end after every successful begin.  begin
 * fails with GPT_ERR_CANCELLED when the statement is already interrupted. */
gpt_status gpt_conn_begin(gpt_conn *c, gpt_session **s, gpt_error *err);
void gpt_conn_end(gpt_conn *c, gpt_session *s);

/* Arming alone, for a stream's session: with a deadline fixed earlier
 * (gpt_conn_deadline), so that GPT_TIMEOUT_MS bounds a whole stream of
 * calls (one per row), not each. */
gpt_status gpt_conn_arm(gpt_conn *c, gpt_session *s, int64_t deadline_ns,
                        gpt_error *err);
void gpt_conn_disarm(gpt_conn *c, gpt_session *s);
int64_t gpt_conn_deadline(const gpt_conn *c); /* from now; 0 = none */

/* Reports err as the SQL function fname's error on ctx. */
void gpt_conn_result_error(sqlite3_context *ctx, const char *fname,
                           const gpt_conn *c, const gpt_error *err);

/* The same message as gpt_conn_result_error, sqlite3_malloc'd (for the
 * virtual table's zErrMsg), and the SQLite code that goes with it. */
char *gpt_conn_error_message(const char *fname, const gpt_conn *c,
                             const gpt_error *err, int *sqlite_code);

#endif
