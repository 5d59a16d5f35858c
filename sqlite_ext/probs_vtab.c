/*
 * probs_vtab.c - gpt_next_token_probs(prompt [, k]), an eponymous-only
 * table-valued function: the k most probable next tokens after prompt.
 *
 *   SELECT rank, token, prob FROM gpt_next_token_probs('The cat', 5);
 *
 * prompt and k are hidden columns; SQLite passes them to xFilter as equality
 * constraints.  The whole answer is computed in xFilter (one forward pass)
 * and the cursor walks the array.  The cursor holds a reference to the
 * model so that token bytes stay valid even if gpt_load() runs meanwhile.
 */
#include "functions.h"

SQLITE_EXTENSION_INIT3

#include <string.h>

#include "conn.h"
#include "vtab_args.h"

enum { COL_RANK, COL_TOKEN_ID, COL_TOKEN, COL_BYTES, COL_PROB, COL_LOGPROB,
       COL_PROMPT, COL_K };

#define DEFAULT_K 10
#define HAS_PROMPT 1
#define HAS_K 2

typedef struct probs_vtab {
    sqlite3_vtab base;
    gpt_conn *conn;
} probs_vtab;

typedef struct probs_cursor {
    sqlite3_vtab_cursor base;
    gpt_model *model; /* retained while rows exist */
    gpt_token_prob *rows;
    size_t n, i;
    sqlite3_value *prompt, *k; /* copies, for the hidden columns */
} probs_cursor;

static int probs_connect(sqlite3 *db, void *aux, int argc,
                         const char *const *argv, sqlite3_vtab **out,
                         char **err)
{
    int rc = sqlite3_declare_vtab(db,
        "CREATE TABLE x(rank INTEGER, token_id INTEGER, token TEXT, "
        "bytes BLOB, prob REAL, logprob REAL, prompt HIDDEN, k HIDDEN)");
    if (rc != SQLITE_OK)
        return rc;
    probs_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v)
        return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->conn = aux;
    /* Reading probabilities has no side effects. */
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = &v->base;
    return SQLITE_OK;
}

static int probs_disconnect(sqlite3_vtab *v)
{
    sqlite3_free(v);
    return SQLITE_OK;
}

static int probs_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    /* arguments: prompt (bit HAS_PROMPT), k (bit HAS_K); one forward pass */
    int rc = gpt_vtab_best_index(v, info, "gpt_next_token_probs", "prompt",
                                 "gpt_next_token_probs('text' [, k])",
                                 COL_PROMPT, 2, 1000.0, DEFAULT_K);
    /* Rows come out by rank. */
    if (rc == SQLITE_OK && info->nOrderBy == 1 &&
        info->aOrderBy[0].iColumn == COL_RANK && !info->aOrderBy[0].desc)
        info->orderByConsumed = 1;
    return rc;
}

static int probs_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    probs_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c)
        return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_clear(probs_cursor *c)
{
    gpt_free(c->rows);
    c->rows = NULL;
    c->n = c->i = 0;
    if (c->model) {
        gpt_model_release(c->model);
        c->model = NULL;
    }
    sqlite3_value_free(c->prompt);
    sqlite3_value_free(c->k);
    c->prompt = c->k = NULL;
}

static int probs_close(sqlite3_vtab_cursor *cur)
{
    cursor_clear((probs_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

static int probs_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str,
                        int argc, sqlite3_value **argv)
{
    probs_cursor *c = (probs_cursor *)cur;
    gpt_conn *conn = ((probs_vtab *)cur->pVtab)->conn;
    cursor_clear(c);
    if (!(idx & HAS_PROMPT) || argc < 1)
        return gpt_vtab_error(cur, SQLITE_ERROR, sqlite3_mprintf(
            "gpt_next_token_probs: the prompt argument is missing"));
    c->prompt = sqlite3_value_dup(argv[0]);
    if (idx & HAS_K)
        c->k = sqlite3_value_dup(argv[1]);
    if (!c->prompt || ((idx & HAS_K) && !c->k))
        return SQLITE_NOMEM;

    sqlite3_int64 k = DEFAULT_K;
    if (idx & HAS_K) {
        if (sqlite3_value_type(argv[1]) == SQLITE_NULL)
            return SQLITE_OK; /* NULL k: no rows, as for a NULL prompt */
        if (sqlite3_value_numeric_type(argv[1]) != SQLITE_INTEGER)
            return gpt_vtab_error(cur, SQLITE_ERROR, sqlite3_mprintf(
                "gpt_next_token_probs: k must be an integer (got %Q)",
                (const char *)sqlite3_value_text(argv[1])));
        k = sqlite3_value_int64(argv[1]);
        if (k < 1)
            return gpt_vtab_error(cur, SQLITE_ERROR, sqlite3_mprintf(
                "gpt_next_token_probs: k must be >= 1 (got %lld)",
                (long long)k));
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return SQLITE_OK;
    const char *prompt = (const char *)sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    if (!prompt)
        return SQLITE_NOMEM;

    gpt_error err = {0};
    gpt_session *s;
    gpt_status rc = gpt_conn_begin(conn, &s, &err);
    if (rc == GPT_OK) {
        /* More than the vocabulary gives the whole vocabulary. */
        gpt_model_info in;
        gpt_model_get_info(gpt_session_model(s), &in);
        if (k > in.n_vocab)
            k = in.n_vocab;
        rc = gpt_next_token_probs(s, prompt, (size_t)len, (int)k, &c->rows,
                                  &c->n, &err);
        gpt_conn_end(conn, s);
    }
    if (rc != GPT_OK) {
        int code;
        char *msg = gpt_conn_error_message("gpt_next_token_probs", conn, &err,
                                           &code);
        return gpt_vtab_error(cur, code, msg);
    }
    c->model = gpt_session_model(s);
    gpt_model_retain(c->model);
    return SQLITE_OK;
}

static int probs_next(sqlite3_vtab_cursor *cur)
{
    ((probs_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int probs_eof(sqlite3_vtab_cursor *cur)
{
    probs_cursor *c = (probs_cursor *)cur;
    return c->i >= c->n;
}

static int probs_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                        int col)
{
    probs_cursor *c = (probs_cursor *)cur;
    const gpt_token_prob *row = &c->rows[c->i];
    size_t len = 0;
    const char *bytes;
    switch (col) {
    case COL_RANK:
        sqlite3_result_int64(ctx, (sqlite3_int64)c->i + 1);
        break;
    case COL_TOKEN_ID:
        sqlite3_result_int(ctx, row->token_id);
        break;
    case COL_TOKEN: {
        char *text;
        size_t text_len;
        gpt_error err;
        bytes = gpt_token_bytes(c->model, row->token_id, &len);
        if (gpt_utf8_sanitize(bytes ? bytes : "", bytes ? len : 0, &text,
                              &text_len, &err) != GPT_OK) {
            sqlite3_result_error_nomem(ctx);
            break;
        }
        sqlite3_result_text64(ctx, text, (sqlite3_uint64)text_len, gpt_free,
                              SQLITE_UTF8);
        break;
    }
    case COL_BYTES:
        bytes = gpt_token_bytes(c->model, row->token_id, &len);
        sqlite3_result_blob64(ctx, bytes ? bytes : "", (sqlite3_uint64)len,
                              SQLITE_TRANSIENT);
        break;
    case COL_PROB:
        sqlite3_result_double(ctx, row->prob);
        break;
    case COL_LOGPROB:
        sqlite3_result_double(ctx, row->logprob);
        break;
    case COL_PROMPT:
        sqlite3_result_value(ctx, c->prompt);
        break;
    default: /* COL_K */
        if (c->k)
            sqlite3_result_value(ctx, c->k);
        else
            sqlite3_result_int(ctx, DEFAULT_K);
        break;
    }
    return SQLITE_OK;
}

static int probs_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
    *rowid = (sqlite3_int64)((probs_cursor *)cur)->i + 1;
    return SQLITE_OK;
}

sqlite3_module gpt_probs_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous-only: no CREATE VIRTUAL TABLE */
    .xConnect = probs_connect,
    .xBestIndex = probs_best_index,
    .xDisconnect = probs_disconnect,
    .xDestroy = probs_disconnect,
    .xOpen = probs_open,
    .xClose = probs_close,
    .xFilter = probs_filter,
    .xNext = probs_next,
    .xEof = probs_eof,
    .xColumn = probs_column,
    .xRowid = probs_rowid,
};
