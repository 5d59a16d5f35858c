/*
 * logprobs_vtab.c - gpt_token_logprobs(text), an eponymous-only
 * table-valued function: one row (pos, token_id, token, logprob) per token
 * of text, with the log-probability the model gives that token after the
 * ones before it (the first after <|endoftext|>).
 *
 *   SELECT pos, token, logprob FROM gpt_token_logprobs('The cat sat');
 *
 * pos is 0-based, as in gpt_tokenize's array; token is the token's bytes
 * made valid UTF-8 (a token that is part of a character shows U+FFFD).
 * sum(logprob) is gpt_score(text).  The whole answer comes from one
 * gpt_token_logprobs call in xFilter; the cursor holds a reference to the
 * model so that token bytes stay valid even if gpt_load() runs meanwhile.
 */
#include "functions.h"

SQLITE_EXTENSION_INIT3

#include <string.h>

#include "conn.h"
#include "vtab_args.h"

#define FNAME "gpt_token_logprobs"

enum { COL_POS, COL_TOKEN_ID, COL_TOKEN, COL_LOGPROB, COL_TEXT };

typedef struct logprobs_vtab {
    sqlite3_vtab base;
    gpt_conn *conn;
} logprobs_vtab;

typedef struct logprobs_cursor {
    sqlite3_vtab_cursor base;
    gpt_model *model; /* retained while rows exist */
    int32_t *ids;
    double *logprobs;
    size_t n, i;
    sqlite3_value *text; /* copy, for the hidden column */
} logprobs_cursor;

static int logprobs_connect(sqlite3 *db, void *aux, int argc,
                            const char *const *argv, sqlite3_vtab **out,
                            char **err)
{
    int rc = sqlite3_declare_vtab(db,
        "CREATE TABLE x(pos INTEGER, token_id INTEGER, token TEXT, "
        "logprob REAL, text HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    logprobs_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->conn = aux;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS); /* reads only */
    *out = &v->base;
    return SQLITE_OK;
}

static int logprobs_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int logprobs_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    int rc = gpt_vtab_best_index(v, info, FNAME, "first", FNAME "('text')", COL_TEXT,
                                 1, 1000.0, 16);
    if (rc == SQLITE_OK && info->nOrderBy == 1 &&
        info->aOrderBy[0].iColumn == COL_POS && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1;
    return rc;
}

static int logprobs_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    logprobs_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_clear(logprobs_cursor *c)
{
    gpt_free(c->ids);
    gpt_free(c->logprobs);
    c->ids = NULL;
    c->logprobs = NULL;
    c->n = c->i = 0;
    gpt_model_release(c->model);
    c->model = NULL;
    sqlite3_value_free(c->text);
    c->text = NULL;
}

static int logprobs_close(sqlite3_vtab_cursor *cur)
{
    cursor_clear((logprobs_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int logprobs_filter(sqlite3_vtab_cursor *cur, int idx,
                           const char *idx_str, int argc,
                           sqlite3_value **argv)
{
    logprobs_cursor *c = (logprobs_cursor *)cur;
    gpt_conn *conn = ((logprobs_vtab *)cur->pVtab)->conn;
    sqlite3_value *arg;

    cursor_clear(c);
    gpt_vtab_args(idx, argc, argv, 1, &arg);
    if (!arg)
        return SQLITE_OK;
    if (!(c->text = sqlite3_value_dup(arg)))
        return SQLITE_NOMEM;
    if (sqlite3_value_type(arg) == SQLITE_NULL)
        return SQLITE_OK; /* NULL text: no rows */
    const char *text = (const char *)sqlite3_value_text(arg);
    int len = sqlite3_value_bytes(arg);
    if (!text)
        return SQLITE_NOMEM;

    gpt_error err = {0};
    gpt_session *s;
    gpt_status st = gpt_conn_begin(conn, &s, &err);
    if (st == GPT_OK) {
        st = gpt_token_logprobs(s, text, (size_t)len, &c->ids, &c->logprobs,
                                &c->n, &err);
        gpt_conn_end(conn, s);
    }
    if (st != GPT_OK) {
        c->ids = NULL;
        c->logprobs = NULL;
        c->n = 0;
        int code;
        char *msg = gpt_conn_error_message(FNAME, conn, &err, &code);
        return gpt_vtab_error(cur, code, msg);
    }
    c->model = gpt_session_model(s);
    gpt_model_retain(c->model);
    return SQLITE_OK;
}

static int logprobs_next(sqlite3_vtab_cursor *cur)
{
    ((logprobs_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int logprobs_eof(sqlite3_vtab_cursor *cur)
{
    logprobs_cursor *c = (logprobs_cursor *)cur;
    return c->i >= c->n;
}

static int logprobs_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                           int col)
{
    logprobs_cursor *c = (logprobs_cursor *)cur;
    switch (col) {
    case COL_POS:
        sqlite3_result_int64(ctx, (sqlite3_int64)c->i);
        break;
    case COL_TOKEN_ID:
        sqlite3_result_int(ctx, c->ids[c->i]);
        break;
    case COL_TOKEN: {
        size_t len = 0, text_len;
        char *text;
        gpt_error err;
        const char *bytes = gpt_token_bytes(c->model, c->ids[c->i], &len);
        if (gpt_utf8_sanitize(bytes ? bytes : "", bytes ? len : 0, &text,
                              &text_len, &err) != GPT_OK) {
            sqlite3_result_error_nomem(ctx);
            break;
        }
        sqlite3_result_text64(ctx, text, (sqlite3_uint64)text_len, gpt_free,
                              SQLITE_UTF8);
        break;
    }
    case COL_LOGPROB:
        sqlite3_result_double(ctx, c->logprobs[c->i]);
        break;
    default: /* COL_TEXT */
        if (c->text)
            sqlite3_result_value(ctx, c->text);
        break;
    }
    return SQLITE_OK;
}

static int logprobs_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = (sqlite3_int64)((logprobs_cursor *)cur)->i + 1;
    return SQLITE_OK;
}

sqlite3_module gpt_logprobs_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only: no CREATE VIRTUAL TABLE */
    .xConnect = logprobs_connect,
    .xBestIndex = logprobs_best_index,
    .xDisconnect = logprobs_disconnect,
    .xDestroy = logprobs_disconnect,
    .xOpen = logprobs_open,
    .xClose = logprobs_close,
    .xFilter = logprobs_filter,
    .xNext = logprobs_next,
    .xEof = logprobs_eof,
    .xColumn = logprobs_column,
    .xRowid = logprobs_rowid,
};
