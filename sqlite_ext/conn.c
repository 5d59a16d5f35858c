/*
 * conn.c - per-connection state (see conn.h).
 *
 * How sqlite3_interrupt() reaches the core
 * ----------------------------------------
 * SQLite 3.40 has no sqlite3_is_interrupted() (it arrived in 3.41), and a
 * progress handler only runs between virtual-machine instructions, never
 * inside one long function call.  But sqlite3_interrupt() sets a flag that
 * every sqlite3_step() checks before running anything, and the flag is only
 * cleared when no statement of the connection is active, which is never the
 * case while our function runs inside one.  So for the length of a call the
 * module keeps a prepared "SELECT 1" on the same connection, and the core's
 * cancel callback (called between tokens and between layers, on the
 * caller's thread) resets and steps it: SQLITE_INTERRUPT means someone
 * called sqlite3_interrupt() - the shell's Ctrl-C, Python's
 * Connection.interrupt(), another thread.  A step costs about 0.05 us.  The
 * statement is finalized when the call ends, so it never keeps
 * sqlite3_close() from closing the connection.
 *
 * For hosts that never interrupt, GPT_TIMEOUT_MS (read when the module is
 * loaded into a connection) bounds every call of that connection; a
 * gpt_generate_tokens stream, one core call per row, is bounded as a whole
 * from its first row (gpt_conn_arm).
 *
 * Sessions: every call that finishes within one SQL function call or
 * xFilter takes a session from the registry's pool of its model
 * (registry.h) in gpt_conn_begin and gives it back in gpt_conn_end; an open
 * gpt_generate_tokens cursor holds one from xFilter to close, because its
 * generation lives in the session between rows.
 */
#include "conn.h"

SQLITE_EXTENSION_INIT3

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model_path.h"
#include "registry.h"

static int env_int(const char *name, int lo, int hi, int dflt)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return dflt;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi)
        return dflt;
    return (int)v;
}

gpt_conn *gpt_conn_new(sqlite3 *db)
{
    gpt_conn *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return NULL;
    memset(c, 0, sizeof *c);
    c->db = db;
    c->threads = env_int("GPT_THREADS", 0, 1024, 0);
    c->timeout_ms = env_int("GPT_TIMEOUT_MS", 0, 1 << 30, 0);
    return c;
}

/* Registrations happen and are destroyed under the connection's mutex, so
 * a plain counter is enough. */
void gpt_conn_ref(gpt_conn *c) { c->refs++; }

void gpt_conn_unref(void *p)
{
    gpt_conn *c = p;
    if (!c || --c->refs > 0)
        return;
    gpt_registry_release(c->model);
    sqlite3_free(c);
}

gpt_status gpt_conn_model(gpt_conn *c, gpt_model **m, gpt_error *err)
{
    if (!c->model) {
        char path[4096 + 256];
        if (gpt_sqlite_default_model(path, sizeof path) != 0) {
            err->code = GPT_ERR_NOT_FOUND;
            snprintf(err->message, sizeof err->message,
                     "no model: set the environment variable GPT_MODEL, call "
                     "gpt_load('file.gguf'), or install the default model "
                     "(looked for %.360s)", path);
            return err->code;
        }
        gpt_status rc = gpt_registry_acquire(path, &c->model, err);
        if (rc != GPT_OK)
            return rc;
    }
    *m = c->model;
    return GPT_OK;
}

gpt_status gpt_conn_stream_session(gpt_conn *c, gpt_session **s,
                                   gpt_error *err)
{
    gpt_model *m;
    gpt_status rc = gpt_conn_model(c, &m, err);
    if (rc != GPT_OK)
        return rc;
    return gpt_registry_take_session(m, c->threads, s, err);
}

void gpt_conn_stream_done(gpt_conn *c, gpt_session *s)
{
    (void)c;
    gpt_registry_give_session(s);
}

gpt_status gpt_conn_load(gpt_conn *c, const char *path, gpt_error *err)
{
    gpt_model *m;
    gpt_status rc = gpt_registry_acquire(path, &m, err);
    if (rc != GPT_OK)
        return rc;
    gpt_registry_release(c->model);
    c->model = m;
    return GPT_OK;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cancel_cb(void *arg)
{
    gpt_conn *c = arg;
    if (c->probe) {
        sqlite3_reset(c->probe);
        if (sqlite3_step(c->probe) == SQLITE_INTERRUPT)
            return 1;
    }
    if (c->deadline_ns && now_ns() >= c->deadline_ns) {
        c->timed_out = 1;
        return 1;
    }
    return 0;
}

int64_t gpt_conn_deadline(const gpt_conn *c)
{
    return c->timeout_ms ? now_ns() + (int64_t)c->timeout_ms * 1000000 : 0;
}

gpt_status gpt_conn_begin(gpt_conn *c, gpt_session **s, gpt_error *err)
{
    gpt_status rc = gpt_conn_stream_session(c, s, err);
    if (rc == GPT_OK && (rc = gpt_conn_arm(c, *s, gpt_conn_deadline(c), err)) != GPT_OK) {
        gpt_registry_give_session(*s);
        *s = NULL;
    }
    return rc;
}

void gpt_conn_end(gpt_conn *c, gpt_session *s)
{
    gpt_conn_disarm(c, s);
    gpt_registry_give_session(s);
}

gpt_status gpt_conn_arm(gpt_conn *c, gpt_session *s, int64_t deadline_ns,
                        gpt_error *err)
{
    c->timed_out = 0;
    c->deadline_ns = deadline_ns;
    c->probe = NULL;
    int rc = sqlite3_prepare_v2(c->db, "SELECT 1", -1, &c->probe, NULL);
    if (rc == SQLITE_INTERRUPT) {
        err->code = GPT_ERR_CANCELLED;
        snprintf(err->message, sizeof err->message, "interrupted");
        return GPT_ERR_CANCELLED;
    }
    if (rc != SQLITE_OK) { /* cannot watch for interrupts; run anyway */
        sqlite3_finalize(c->probe);
        c->probe = NULL;
    }
    gpt_session_set_cancel(s, cancel_cb, c);
    return GPT_OK;
}

void gpt_conn_disarm(gpt_conn *c, gpt_session *s)
{
    gpt_session_set_cancel(s, NULL, NULL);
    sqlite3_finalize(c->probe);
    c->probe = NULL;
    c->deadline_ns = 0;
}

char *gpt_conn_error_message(const char *fname, const gpt_conn *c,
                             const gpt_error *err, int *sqlite_code)
{
    *sqlite_code = SQLITE_ERROR;
    if (err->code == GPT_ERR_NOMEM)
        *sqlite_code = SQLITE_NOMEM;
    if (err->code == GPT_ERR_CANCELLED) {
        if (c && c->timed_out)
            return sqlite3_mprintf("%s: cancelled after GPT_TIMEOUT_MS=%d ms",
                                   fname, c->timeout_ms);
        *sqlite_code = SQLITE_INTERRUPT;
        return sqlite3_mprintf("%s: interrupted", fname);
    }
    return sqlite3_mprintf("%s: %s", fname, err->message);
}

void gpt_conn_result_error(sqlite3_context *ctx, const char *fname,
                           const gpt_conn *c, const gpt_error *err)
{
    int code;
    char *msg = gpt_conn_error_message(fname, c, err, &code);
    if (!msg || code == SQLITE_NOMEM) {
        sqlite3_free(msg);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_error(ctx, msg, -1);
    if (code != SQLITE_ERROR)
        sqlite3_result_error_code(ctx, code);
    sqlite3_free(msg);
}
