/*
 * scoring.c - the log-probability the model gives a text, and zero-shot
 * classification built on it.
 *
 *   gpt_token_logprobs(text) RETURNS TABLE(pos, token_id, token, logprob)
 *       one row per token of text (pos from 0, as in the SQLite module),
 *       each with log p(token | the tokens before it), the first after
 *       <|endoftext|>; one forward pass.
 *   gpt_score(text)                  sum of those logprobs, summed in pos
 *                                    order: log p(text | <|endoftext|>)
 *   gpt_score(prompt, continuation)  log p(continuation | prompt), the
 *                                    continuation tokenized on its own
 *   gpt_choose(prompt, choices[])    the choice c with the highest
 *                                    gpt_score(prompt, c); ties: the first
 *
 * Perplexity of a text: exp(-gpt_score(t) / gpt_token_count(t)).
 *
 * Scores are natural logarithms (<= 0); an empty text or continuation
 * scores 0.  gpt_choose refuses an empty array, NULL choices and empty
 * choices (an empty continuation has probability 1: it would always win).
 * Consecutive gpt_score calls with the same prompt, as gpt_choose makes,
 * reuse the prompt's KV cache in the backend's session.
 */
#include "postgres.h"

#include <string.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "pggpt.h"

PG_FUNCTION_INFO_V1(pg_gpt_token_logprobs);
PG_FUNCTION_INFO_V1(pg_gpt_score_text);
PG_FUNCTION_INFO_V1(pg_gpt_score);
PG_FUNCTION_INFO_V1(pg_gpt_choose);

/* gpt_token_logprobs into palloc'd arrays; the core's are freed at once. */
static size_t
token_logprobs(gpt_session *s, const char *t, size_t len, int32 **ids_out,
               double **lp_out)
{
    int32_t *ids = NULL;
    double *lp = NULL;
    size_t n = 0;
    gpt_error err;
    gpt_status rc;

    rc = gpt_token_logprobs(s, t, len, &ids, &lp, &n, &err);
    if (rc != GPT_OK) {
        gpt_free(ids);
        gpt_free(lp);
        pggpt_raise(rc, &err);
    }
    *ids_out = palloc_extended(sizeof(int32) * (n ? n : 1),
                               MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
    *lp_out = palloc_extended(sizeof(double) * (n ? n : 1),
                              MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
    if (*ids_out && *lp_out && n) {
        memcpy(*ids_out, ids, sizeof(int32) * n);
        memcpy(*lp_out, lp, sizeof(double) * n);
    }
    gpt_free(ids);
    gpt_free(lp);
    if (!*ids_out || !*lp_out)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory")));
    return n;
}

/*
 * gpt_token_logprobs(text)
 *   RETURNS TABLE(pos int, token_id int, token text, logprob float8)
 */
Datum
pg_gpt_token_logprobs(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    TupleDesc tupdesc;
    Tuplestorestate *store;
    gpt_session *s;
    gpt_model *m;
    const char *t;
    size_t len, n;
    int32 *ids;
    double *lp;

    if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
        !(rsinfo->allowedModes & SFRM_Materialize))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("gpt_token_logprobs must be called in a context "
                        "that accepts a set")));
    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");

    t = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
    s = pggpt_get_session();
    m = gpt_session_model(s);
    n = token_logprobs(s, t, len, &ids, &lp);
    if (n > PG_INT32_MAX)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("too many tokens")));

    store = pggpt_materialize(rsinfo, &tupdesc);

    for (size_t i = 0; i < n; i++) {
        Datum values[4];
        bool nulls[4] = {false, false, false, false};

        values[0] = Int32GetDatum((int32) i);
        values[1] = Int32GetDatum(ids[i]);
        values[2] = PointerGetDatum(pggpt_token_text(m, ids[i]));
        values[3] = Float8GetDatum(lp[i]);
        tuplestore_putvalues(store, tupdesc, values, nulls);
    }
    return (Datum) 0;
}

/* gpt_score(text) RETURNS float8 */
Datum
pg_gpt_score_text(PG_FUNCTION_ARGS)
{
    size_t len, n;
    const char *t = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
    gpt_session *s = pggpt_get_session();
    int32 *ids;
    double *lp, score = 0;

    n = token_logprobs(s, t, len, &ids, &lp);
    /* In pos order, as sum(logprob) adds the rows of gpt_token_logprobs. */
    for (size_t i = 0; i < n; i++)
        score += lp[i];
    PG_RETURN_FLOAT8(score);
}

/* gpt_score(prompt text, continuation text) RETURNS float8 */
Datum
pg_gpt_score(PG_FUNCTION_ARGS)
{
    size_t plen, clen;
    const char *p = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &plen);
    const char *c = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(1), &clen);
    gpt_session *s = pggpt_get_session();
    double score = 0;
    gpt_error err;
    gpt_status rc;

    rc = gpt_score(s, p, plen, c, clen, &score, NULL, &err);
    if (rc != GPT_OK)
        pggpt_raise(rc, &err);
    PG_RETURN_FLOAT8(score);
}

/* gpt_choose(prompt text, choices text[]) RETURNS text */
Datum
pg_gpt_choose(PG_FUNCTION_ARGS)
{
    size_t plen;
    const char *p = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &plen);
    ArrayType *arr = PG_GETARG_ARRAYTYPE_P(1);
    gpt_session *s;
    Datum *elems;
    bool *nulls;
    int n, lb, best = 0;
    double best_score = 0;
    const char **choices;
    size_t *lens;

    if (ARR_NDIM(arr) > 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("choices must be a one-dimensional array")));
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
                      &elems, &nulls, &n);
    if (n == 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("choices must not be empty"),
                 errhint("Give at least one choice.")));
    lb = ARR_LBOUND(arr)[0];
    choices = palloc(sizeof(char *) * n);
    lens = palloc(sizeof(size_t) * n);
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("choices must not contain null (element %d)",
                            lb + i)));
        choices[i] = pggpt_text_to_utf8(DatumGetTextPP(elems[i]), &lens[i]);
        if (lens[i] == 0)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("choices must not contain an empty string "
                            "(element %d)", lb + i),
                     errdetail("An empty continuation has probability 1: "
                               "it would always be chosen.")));
    }

    s = pggpt_get_session();
    for (int i = 0; i < n; i++) {
        double score = 0;
        gpt_error err;
        gpt_status rc;

        rc = gpt_score(s, p, plen, choices[i], lens[i], &score, NULL, &err);
        if (rc != GPT_OK)
            pggpt_raise(rc, &err);
        if (i == 0 || score > best_score) {
            best = i;
            best_score = score;
        }
    }
    /* The chosen element itself, in the database encoding. */
    PG_RETURN_DATUM(elems[best]);
}
