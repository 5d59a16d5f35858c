/*
 * tokens_vtab.c - gpt_generate_tokens(prompt [, options]), an eponymous-only
 * table-valued function that streams a generation: one row
 * (step, token_id, token, logprob) per generated token, produced as the
 * client steps (xFilter prefills the prompt and takes the first token, each
 * xNext runs gpt_generate_next once), so a client reading the cursor sees
 * each token as soon as it is decoded.
 *
 *   SELECT token FROM gpt_generate_tokens('The cat', '{"max_tokens": 20}');
 *
 * - step is 0-based; token_id and logprob (at temperature 1, whatever the
 *   sampling options) are the sampled token's; token is the text that
 *   became final with it, which may be '' (bytes of a character split over
 *   tokens, or what could still start a stop string, are held back until
 *   they are decided).  The <|endoftext|> token gets a row of its own, with
 *   token ''.
 * - Text still held back when generation ends at max_tokens (an incomplete
 *   character, which becomes U+FFFD, or the start of a stop string that
 *   never completed) comes in one last row with token_id and logprob NULL.
 *   Attaching it to the previous row instead would hold every row back by
 *   one decoding step.
 * - So group_concat(token, '') over the rows (in step order) is exactly
 *   gpt_generate(prompt, options).
 *
 * Streaming keeps the generation's state in the session between rows, so
 * each cursor holds a session of its own from xFilter to close
 * (gpt_conn_stream_session); other calls in the same SELECT take other
 * sessions from the pool.  GPT_TIMEOUT_MS bounds the whole stream, from
 * the first row; sqlite3_interrupt() stops it within a token.
 */
#include "functions.h"

SQLITE_EXTENSION_INIT3

#include <string.h>

#include "conn.h"
#include "options.h"
#include "vtab_args.h"

#define FNAME "gpt_generate_tokens"

enum { COL_STEP, COL_TOKEN_ID, COL_TOKEN, COL_LOGPROB, COL_PROMPT,
       COL_OPTIONS };
#define N_ARGS 2

typedef struct tokens_vtab {
    sqlite3_vtab base;
    gpt_conn *conn;
} tokens_vtab;

typedef struct tokens_cursor {
    sqlite3_vtab_cursor base;
    gpt_conn *conn;
    gpt_session *session; /* this cursor's own, while it streams */
    int64_t deadline_ns;
    gpt_step step;        /* the current row; text valid until the next call */
    sqlite3_int64 n_step;
    int eof;
    sqlite3_value *args[N_ARGS]; /* copies, for the hidden columns */
} tokens_cursor;

static int tokens_connect(sqlite3 *db, void *aux, int argc,
                          const char *const *argv, sqlite3_vtab **out,
                          char **err)
{
    int rc = sqlite3_declare_vtab(db,
        "CREATE TABLE x(step INTEGER, token_id INTEGER, token TEXT, "
        "logprob REAL, prompt HIDDEN, options HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    tokens_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->conn = aux;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS); /* as gpt_generate */
    *out = &v->base;
    return SQLITE_OK;
}

static int tokens_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int tokens_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    int rc = gpt_vtab_best_index(v, info, FNAME, "first",
                                 FNAME "('prompt' [, options])", COL_PROMPT,
                                 N_ARGS, 1e6, 64);
    /* Rows come out by step. */
    if (rc == SQLITE_OK && info->nOrderBy == 1 &&
        info->aOrderBy[0].iColumn == COL_STEP && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1;
    return rc;
}

static int tokens_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    tokens_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->conn = ((tokens_vtab *)v)->conn;
    c->eof = 1;
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_clear(tokens_cursor *c)
{
    gpt_conn_stream_done(c->conn, c->session);
    c->session = NULL;
    memset(&c->step, 0, sizeof c->step);
    c->n_step = 0;
    c->eof = 1;
    for (int a = 0; a < N_ARGS; a++) {
        sqlite3_value_free(c->args[a]);
        c->args[a] = NULL;
    }
}

static int tokens_close(sqlite3_vtab_cursor *cur)
{
    cursor_clear((tokens_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int stream_error(tokens_cursor *c, const gpt_error *err)
{
    int code;
    char *msg = gpt_conn_error_message(FNAME, c->conn, err, &code);
    c->eof = 1;
    return gpt_vtab_error(&c->base, code, msg);
}

/* Takes the next step into c->step; a done step without text ends the
 * rows. */
static int take_step(tokens_cursor *c)
{
    gpt_error err = {0};
    gpt_status st = gpt_conn_arm(c->conn, c->session, c->deadline_ns, &err);
    if (st == GPT_OK) {
        st = gpt_generate_next(c->session, &c->step, &err);
        gpt_conn_disarm(c->conn, c->session);
    }
    if (st != GPT_OK)
        return stream_error(c, &err);
    c->eof = c->step.done && c->step.text_len == 0;
    return SQLITE_OK;
}

static int tokens_filter(sqlite3_vtab_cursor *cur, int idx,
                         const char *idx_str, int argc, sqlite3_value **argv)
{
    tokens_cursor *c = (tokens_cursor *)cur;
    sqlite3_value *args[N_ARGS];
    char *errmsg;
    gpt_gen_options o;

    cursor_clear(c);
    gpt_vtab_args(idx, argc, argv, N_ARGS, args);
    for (int a = 0; a < N_ARGS; a++)
        if (args[a] && !(c->args[a] = sqlite3_value_dup(args[a])))
            return SQLITE_NOMEM;
    if (!args[0] || sqlite3_value_type(args[0]) == SQLITE_NULL)
        return SQLITE_OK; /* NULL prompt: no rows */
    int rc = gpt_vtab_options(args[1], FNAME, &o, &errmsg);
    if (rc != SQLITE_OK)
        return gpt_vtab_error(cur, rc, errmsg);
    const char *prompt = (const char *)sqlite3_value_text(args[0]);
    int len = sqlite3_value_bytes(args[0]);
    if (!prompt) {
        gpt_sqlite_options_free(&o);
        return SQLITE_NOMEM;
    }

    gpt_error err = {0};
    c->deadline_ns = gpt_conn_deadline(c->conn);
    gpt_status st = gpt_conn_stream_session(c->conn, &c->session, &err);
    if (st == GPT_OK)
        st = gpt_gen_options_check(gpt_session_model(c->session), &o, &err);
    if (st == GPT_OK)
        st = gpt_conn_arm(c->conn, c->session, c->deadline_ns, &err);
    if (st == GPT_OK) {
        /* The core copies the options (stop strings included). */
        st = gpt_generate_begin(c->session, prompt, (size_t)len, &o, &err);
        gpt_conn_disarm(c->conn, c->session);
    }
    gpt_sqlite_options_free(&o);
    if (st != GPT_OK)
        return stream_error(c, &err);
    return take_step(c);
}

static int tokens_next(sqlite3_vtab_cursor *cur)
{
    tokens_cursor *c = (tokens_cursor *)cur;
    if (c->eof)
        return SQLITE_OK;
    if (c->step.done) { /* the row of trailing text was the last */
        c->eof = 1;
        return SQLITE_OK;
    }
    c->n_step++;
    return take_step(c);
}

static int tokens_eof(sqlite3_vtab_cursor *cur)
{
    return ((tokens_cursor *)cur)->eof;
}

static int tokens_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                         int col)
{
    tokens_cursor *c = (tokens_cursor *)cur;
    switch (col) {
    case COL_STEP:
        sqlite3_result_int64(ctx, c->n_step);
        break;
    case COL_TOKEN_ID:
        if (!c->step.done)
            sqlite3_result_int(ctx, c->step.token_id);
        break;
    case COL_TOKEN:
        sqlite3_result_text64(ctx, c->step.text ? c->step.text : "",
                              (sqlite3_uint64)c->step.text_len,
                              SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    case COL_LOGPROB:
        if (!c->step.done)
            sqlite3_result_double(ctx, c->step.logprob);
        break;
    default: /* the hidden arguments */
        if (c->args[col - COL_PROMPT])
            sqlite3_result_value(ctx, c->args[col - COL_PROMPT]);
        break;
    }
    return SQLITE_OK;
}

static int tokens_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = ((tokens_cursor *)cur)->n_step + 1;
    return SQLITE_OK;
}

sqlite3_module gpt_tokens_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only: no CREATE VIRTUAL TABLE */
    .xConnect = tokens_connect,
    .xBestIndex = tokens_best_index,
    .xDisconnect = tokens_disconnect,
    .xDestroy = tokens_disconnect,
    .xOpen = tokens_open,
    .xClose = tokens_close,
    .xFilter = tokens_filter,
    .xNext = tokens_next,
    .xEof = tokens_eof,
    .xColumn = tokens_column,
    .xRowid = tokens_rowid,
};
