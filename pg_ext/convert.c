/*
 * convert.c - core statuses to SQLSTATEs, database encoding to UTF-8.
 *
 * Error messages follow PostgreSQL's style: a short lower-case primary
 * message, the core's one-line explanation as detail where it adds
 * something, and a hint where there is a fix.
 */
#include "postgres.h"

#include <string.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "pggpt.h"

static void raise_status(gpt_status st, const gpt_error *err,
                         bool generating) pg_attribute_noreturn();

void
pggpt_raise(gpt_status st, const gpt_error *err)
{
    raise_status(st, err, false);
}

void
pggpt_raise_generate(gpt_status st, const gpt_error *err)
{
    raise_status(st, err, true);
}

static void
raise_status(gpt_status st, const gpt_error *err, bool generating)
{
    /* The message is copied out of err (caller's stack, not core heap):
     * nothing the core allocated is held while the error unwinds. */
    const char *msg = (err && err->message[0]) ? err->message
                                               : gpt_status_name(st);

    switch (st) {
    case GPT_ERR_INVALID_ARGUMENT:
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s", msg)));
        break;
    case GPT_ERR_NOT_FOUND:
        ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FILE), errmsg("%s", msg)));
        break;
    case GPT_ERR_CORRUPT_MODEL:
        ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("%s", msg)));
        break;
    case GPT_ERR_UNSUPPORTED:
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("%s", msg)));
        break;
    case GPT_ERR_CONTEXT_OVERFLOW:
        if (generating)
            ereport(ERROR,
                    (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                     errmsg("prompt and max_tokens do not fit in the model's "
                            "context"),
                     errdetail("%s", msg),
                     errhint("Use a shorter prompt or a smaller max_tokens.")));
        ereport(ERROR,
                (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                 errmsg("prompt does not fit in the model's context"),
                 errdetail("%s", msg),
                 errhint("Use a shorter prompt.")));
        break;
    case GPT_ERR_NOMEM:
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory"), errdetail("%s", msg)));
        break;
    case GPT_ERR_CANCELLED:
        /* The core stopped because an interrupt is pending: let
         * PostgreSQL raise it with its own message (statement timeout,
         * user request, termination).  If interrupts are held off it
         * returns, and we raise the cancel ourselves. */
        CHECK_FOR_INTERRUPTS();
        ereport(ERROR, (errcode(ERRCODE_QUERY_CANCELED),
                        errmsg("canceling statement due to user request")));
        break;
    case GPT_OK:
    case GPT_ERR_INTERNAL:
    default:
        ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR),
                        errmsg("gpt internal error: %s", msg)));
        break;
    }
    pg_unreachable();
}

static bool
db_is_utf8_or_raw(void)
{
    int enc = GetDatabaseEncoding();

    /* SQL_ASCII has no declared encoding: bytes go to the core as they
     * are (the tokenizer is byte-level) and come back as they are. */
    return enc == PG_UTF8 || enc == PG_SQL_ASCII;
}

const char *
pggpt_text_to_utf8(text *t, size_t *len)
{
    char *s = VARDATA_ANY(t);
    int n = VARSIZE_ANY_EXHDR(t);
    char *u;

    if (db_is_utf8_or_raw()) {
        *len = (size_t) n;
        return s;
    }
    /* Every character of a server encoding exists in Unicode, so this
     * conversion only fails on corrupt input, with PostgreSQL's error. */
    u = (char *) pg_do_encoding_conversion((unsigned char *) s, n,
                                           GetDatabaseEncoding(), PG_UTF8);
    if (u == s) {
        *len = (size_t) n;
        return s;
    }
    *len = strlen(u);
    return u;
}

char *
pggpt_text_to_utf8_cstring(text *t)
{
    size_t len;
    const char *s = pggpt_text_to_utf8(t, &len);
    char *out = palloc(len + 1);

    memcpy(out, s, len);
    out[len] = '\0';
    return out;
}

text *
pggpt_utf8_to_text(const char *s, size_t len)
{
    static const char fffd[3] = {(char) 0xEF, (char) 0xBF, (char) 0xBD};
    size_t nuls = 0;
    const char *src = s;
    char *conv;

    if (len > (size_t) (MaxAllocSize - VARHDRSZ) / 3)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("gpt result is too long")));
    for (size_t i = 0; i < len; i++)
        nuls += s[i] == '\0';
    if (nuls) {
        /* text cannot hold NUL: it becomes U+FFFD (the raw bytes stay
         * available through token ids and gpt_next_token_probs.bytes). */
        char *buf = palloc(len + 2 * nuls + 1);
        size_t o = 0;

        for (size_t i = 0; i < len; i++) {
            if (s[i] == '\0') {
                memcpy(buf + o, fffd, 3);
                o += 3;
            } else
                buf[o++] = s[i];
        }
        buf[o] = '\0';
        src = buf;
        len = o;
    }
    if (GetDatabaseEncoding() == PG_UTF8) {
        /* The core promises valid UTF-8; check anyway, text must never
         * hold invalid bytes. */
        (void) pg_verify_mbstr(PG_UTF8, src, (int) len, false);
        return cstring_to_text_with_len(src, (int) len);
    }
    if (GetDatabaseEncoding() == PG_SQL_ASCII)
        return cstring_to_text_with_len(src, (int) len);
    /* Raises 22P05 for a character the database encoding lacks. */
    conv = pg_any_to_server(src, (int) len, PG_UTF8);
    return cstring_to_text(conv);
}

text *
pggpt_token_text(gpt_model *m, int32_t id)
{
    size_t blen = 0, tlen = 0;
    const char *b = gpt_token_bytes(m, id, &blen);
    char *san = NULL, *tok;
    gpt_error err;
    gpt_status rc;

    if (b == NULL)
        elog(ERROR, "gpt core returned token id %d out of range", (int) id);
    rc = gpt_utf8_sanitize(b, blen, &san, &tlen, &err);
    if (rc != GPT_OK) {
        gpt_free(san);
        pggpt_raise(rc, &err);
    }
    tok = palloc_extended(tlen + 1, MCXT_ALLOC_NO_OOM);
    if (tok != NULL) {
        memcpy(tok, san, tlen);
        tok[tlen] = '\0';
    }
    gpt_free(san);
    if (tok == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory")));
    return pggpt_utf8_to_text(tok, tlen);
}

char *
pggpt_take_core_string(char *s, size_t len)
{
    char *copy = palloc_extended(len + 1, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);

    if (copy != NULL) {
        if (len)
            memcpy(copy, s, len);
        copy[len] = '\0';
    }
    gpt_free(s);
    if (copy == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory")));
    return copy;
}

Tuplestorestate *
pggpt_materialize(ReturnSetInfo *rsinfo, TupleDesc *tupdesc)
{
    MemoryContext oldcxt =
        MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
    Tuplestorestate *store;

    *tupdesc = CreateTupleDescCopy(*tupdesc);
    store = tuplestore_begin_heap(true, false, work_mem);
    rsinfo->returnMode = SFRM_Materialize;
    rsinfo->setResult = store;
    rsinfo->setDesc = *tupdesc;
    MemoryContextSwitchTo(oldcxt);
    return store;
}
