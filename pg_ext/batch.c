/*
 * batch.c - many prompts at once and one prompt token by token.
 *
 *   gpt_generate(prompts text[], <options>) RETURNS text[]
 *       One gpt_generate_batch call: the prompts are decoded together, each
 *       result byte-identical to gpt_generate(prompt, <options>).  The
 *       result has the shape of the input (dimensions and lower bounds), a
 *       NULL element gives NULL, an empty array an empty array.
 *
 *   gpt_generate_tokens(prompt text, <options>)
 *       RETURNS TABLE(step int, token_id int, token text, logprob float8)
 *       A value-per-call set-returning function: each row runs one
 *       gpt_generate_next, so when it is called in the select list (a
 *       ProjectSet node, which does not materialize) a cursor sees every
 *       token as soon as it is decoded.  In FROM, PostgreSQL collects all
 *       rows before returning the first, which is still correct.
 *       - step counts from 0; logprob is the sampled token's at temperature
 *         1; token is the text that became final with this token, possibly
 *         '' (part of a character, or what may still start a stop string).
 *         The <|endoftext|> token has a row with token ''.
 *       - Text still held back when the generation ends (an incomplete
 *         character, which becomes U+FFFD, or the start of a stop string
 *         that never completed) comes as one last row with token_id and
 *         logprob NULL; appending it to the previous row would delay every
 *         row by one decoding step.  This is the SQLite module's rule too.
 *       - So string_agg(token, '' ORDER BY step) = gpt_generate(prompt, ...).
 *
 * A stream runs in a session of its own (pggpt_stream_session_acquire),
 * released by a callback on the function's multi-call memory context: that
 * context is deleted when the rows end, when the query stops early (LIMIT,
 * a closed cursor) and when an error aborts it, so an abandoned stream
 * never leaks its session nor disturbs the next call.
 */
#include "postgres.h"

#include <string.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "pggpt.h"

PG_FUNCTION_INFO_V1(pg_gpt_generate_array);
PG_FUNCTION_INFO_V1(pg_gpt_generate_tokens);

/*
 * gpt_generate(prompts text[], max_tokens int, temperature float8,
 *              top_k int, top_p float8, seed bigint, stop text[])
 *   RETURNS text[]
 */
Datum
pg_gpt_generate_array(PG_FUNCTION_ARGS)
{
    ArrayType *arr, *result;
    gpt_gen_options o;
    gpt_session *s;
    gpt_error err;
    gpt_status rc;
    Datum *elems;
    bool *nulls;
    int n, ndim;
    const char **prompts;
    size_t *lens, *out_lens, total = 0;
    char **outs, *buf;
    int dims[MAXDIM], lbs[MAXDIM];

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    arr = PG_GETARG_ARRAYTYPE_P(0);
    pggpt_read_gen_options(fcinfo, &o);

    ndim = ARR_NDIM(arr);
    memcpy(dims, ARR_DIMS(arr), sizeof(int) * ndim);
    memcpy(lbs, ARR_LBOUND(arr), sizeof(int) * ndim);
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
                      &elems, &nulls, &n);
    if (n == 0)
        PG_RETURN_ARRAYTYPE_P(construct_empty_array(TEXTOID));

    /* Everything that may raise happens before the core call: after it,
     * the core's strings must be copied out before any error. */
    prompts = palloc(sizeof(char *) * n);
    lens = palloc(sizeof(size_t) * n);
    outs = palloc0(sizeof(char *) * n);
    out_lens = palloc0(sizeof(size_t) * n);
    for (int i = 0; i < n; i++) {
        prompts[i] = NULL;
        lens[i] = 0;
        if (!nulls[i])
            prompts[i] = pggpt_text_to_utf8(DatumGetTextPP(elems[i]), &lens[i]);
    }

    s = pggpt_get_session();
    rc = gpt_gen_options_check(gpt_session_model(s), &o, &err);
    if (rc != GPT_OK)
        pggpt_raise_generate(rc, &err);
    rc = gpt_generate_batch(s, prompts, lens, (size_t) n, &o, outs, out_lens,
                            &err);
    if (rc != GPT_OK) {
        for (int i = 0; i < n; i++)
            gpt_free(outs[i]);
        pggpt_raise_generate(rc, &err);
    }

    /* One buffer for all the texts, allocated without raising so that the
     * core's strings are freed whatever happens.  A result is NULL exactly
     * where the prompt is. */
    for (int i = 0; i < n; i++)
        total += out_lens[i] + 1;
    buf = palloc_extended(total, MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
    for (int i = 0; i < n; i++) {
        if (buf) {
            if (outs[i] && out_lens[i])
                memcpy(buf, outs[i], out_lens[i]);
            buf[out_lens[i]] = '\0';
            prompts[i] = buf;   /* reused: now the i-th result */
            buf += out_lens[i] + 1;
        }
        gpt_free(outs[i]);
    }
    if (buf == NULL)
        ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY),
                        errmsg("out of memory")));

    for (int i = 0; i < n; i++)
        elems[i] = nulls[i] ? (Datum) 0
                            : PointerGetDatum(pggpt_utf8_to_text(prompts[i],
                                                                 out_lens[i]));
    result = construct_md_array(elems, nulls, ndim, dims, lbs, TEXTOID, -1,
                                false, TYPALIGN_INT);
    PG_RETURN_ARRAYTYPE_P(result);
}

/* The state of one gpt_generate_tokens call, in its multi-call context. */
typedef struct stream_state {
    gpt_session *session;   /* NULL once released */
    bool finished;          /* the last row was returned */
    int32 step;             /* the next row's step */
    MemoryContextCallback cb;
} stream_state;

/* Releases the stream's session when the multi-call context goes away:
 * normal end, early end (LIMIT, closed cursor) or error. */
static void
stream_release(void *arg)
{
    stream_state *st = (stream_state *) arg;

    pggpt_stream_session_release(st->session);
    st->session = NULL;
}

/*
 * gpt_generate_tokens(prompt text, max_tokens int, temperature float8,
 *                     top_k int, top_p float8, seed bigint, stop text[])
 *   RETURNS TABLE(step int, token_id int, token text, logprob float8)
 */
Datum
pg_gpt_generate_tokens(PG_FUNCTION_ARGS)
{
    FuncCallContext *funcctx;
    stream_state *st;
    gpt_step step;
    gpt_error err;
    gpt_status rc;
    Datum values[4];
    bool nulls[4] = {false, false, false, false};
    char *tok;
    size_t tok_len;

    if (SRF_IS_FIRSTCALL()) {
        MemoryContext oldcxt;
        TupleDesc tupdesc;
        gpt_gen_options o;
        const char *prompt;
        size_t prompt_len;

        funcctx = SRF_FIRSTCALL_INIT();
        /* A NULL prompt gives no rows (like gpt_generate's NULL). */
        if (PG_ARGISNULL(0))
            SRF_RETURN_DONE(funcctx);
        pggpt_read_gen_options(fcinfo, &o);
        prompt = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &prompt_len);

        oldcxt = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
        if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "return type must be a row type");
        funcctx->tuple_desc = BlessTupleDesc(tupdesc);
        st = palloc0(sizeof *st);
        st->cb.func = stream_release;
        st->cb.arg = st;
        MemoryContextRegisterResetCallback(funcctx->multi_call_memory_ctx,
                                           &st->cb);
        funcctx->user_fctx = st;
        MemoryContextSwitchTo(oldcxt);

        /* Registered first, so the callback frees the session whatever
         * fails from here on. */
        st->session = pggpt_stream_session_acquire();
        rc = gpt_gen_options_check(gpt_session_model(st->session), &o, &err);
        if (rc == GPT_OK)
            rc = gpt_generate_begin(st->session, prompt, prompt_len, &o, &err);
        if (rc != GPT_OK)
            pggpt_raise_generate(rc, &err);
    }

    funcctx = SRF_PERCALL_SETUP();
    st = (stream_state *) funcctx->user_fctx;
    if (st->finished)
        SRF_RETURN_DONE(funcctx);

    rc = gpt_generate_next(st->session, &step, &err);
    if (rc != GPT_OK)
        pggpt_raise_generate(rc, &err);
    if (step.done && step.text_len == 0) {
        st->finished = true;
        SRF_RETURN_DONE(funcctx);
    }
    /* step.text lives in the session until the next core call. */
    tok_len = step.text_len;
    tok = palloc(tok_len + 1);
    if (tok_len)
        memcpy(tok, step.text, tok_len);
    tok[tok_len] = '\0';

    values[0] = Int32GetDatum(st->step++);
    if (step.done) {
        /* The text held back until the end: the last row. */
        st->finished = true;
        nulls[1] = nulls[3] = true;
    } else {
        values[1] = Int32GetDatum(step.token_id);
        values[3] = Float8GetDatum(step.logprob);
    }
    values[2] = PointerGetDatum(pggpt_utf8_to_text(tok, tok_len));
    SRF_RETURN_NEXT(funcctx,
                    HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
                                                      values, nulls)));
}
