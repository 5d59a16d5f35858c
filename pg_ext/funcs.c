/*
 * funcs.c - the SQL-callable functions (see gpt--0.1.0.sql).
 *
 * Each function validates its arguments with their SQL names, calls the
 * core, copies what the core returned into palloc'd memory and frees the
 * core's copy at once, and only then converts encodings or builds the
 * result (steps that may raise an error): core memory is never held while
 * an ERROR can unwind.
 */
#include "postgres.h"

#include <math.h>
#include <string.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"

#include "pggpt.h"

PG_FUNCTION_INFO_V1(pg_gpt_generate);
PG_FUNCTION_INFO_V1(pg_gpt_next_token_probs);
PG_FUNCTION_INFO_V1(pg_gpt_tokenize);
PG_FUNCTION_INFO_V1(pg_gpt_detokenize);
PG_FUNCTION_INFO_V1(pg_gpt_token_count);
PG_FUNCTION_INFO_V1(pg_gpt_model_info);

/* gpt_generate's options may be given as NULL explicitly; that is an error
 * rather than a silent default, so a NULL from a table column is noticed. */
static void
require_not_null(FunctionCallInfo fcinfo, int arg, const char *name)
{
    if (PG_ARGISNULL(arg))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                 errmsg("%s must not be null", name),
                 errhint("Leave the argument out to use its default.")));
}

static void
bad_value(const char *msg)
{
    ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                    errmsg("%s", msg)));
}

/* stop text[] -> o->stop (UTF-8, palloc'd). */
static void
read_stop_strings(ArrayType *arr, gpt_gen_options *o)
{
    Datum *elems;
    bool *nulls;
    int n;

    if (ARR_NDIM(arr) > 1)
        bad_value("stop must be a one-dimensional array");
    deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
                      &elems, &nulls, &n);
    if (n > GPT_MAX_STOP)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("stop has %d strings, at most %d are allowed", n,
                        GPT_MAX_STOP)));
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("stop strings must not be null")));
        o->stop[i] = pggpt_text_to_utf8_cstring(DatumGetTextPP(elems[i]));
        if (o->stop[i][0] == '\0')
            bad_value("stop strings must not be empty");
    }
    o->n_stop = n;
}

/*
 * Reads the generation options max_tokens, temperature, top_k, top_p, seed
 * and stop from the arguments 1..6 (the same positions and checks for
 * every function that generates).  Stop strings are palloc'd.
 */
void
pggpt_read_gen_options(FunctionCallInfo fcinfo, gpt_gen_options *o)
{
    static const char *const names[] = {
        NULL, "max_tokens", "temperature", "top_k", "top_p", "seed"
    };

    for (int i = 1; i <= 5; i++)
        require_not_null(fcinfo, i, names[i]);

    gpt_gen_options_init(o);
    o->max_tokens = PG_GETARG_INT32(1);
    o->temperature = PG_GETARG_FLOAT8(2);
    o->top_k = PG_GETARG_INT32(3);
    o->top_p = PG_GETARG_FLOAT8(4);
    /* A negative bigint seed is the same 64 bits read as unsigned. */
    o->seed = (uint64_t) PG_GETARG_INT64(5);

    if (o->max_tokens < 0)
        bad_value("max_tokens must be at least 0");
    if (o->max_tokens > pggpt_max_tokens_limit)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("max_tokens must be at most %d",
                        pggpt_max_tokens_limit),
                 errhint("gpt.max_tokens_limit caps max_tokens; a superuser "
                         "can raise it.")));
    if (isnan(o->temperature) || o->temperature < 0)
        bad_value("temperature must be at least 0");
    if (isinf(o->temperature))
        bad_value("temperature must be finite");
    if (o->top_k < 0)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("top_k must be at least 0"),
                 errhint("Use 0 to disable top-k filtering.")));
    if (!(o->top_p > 0 && o->top_p <= 1))
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("top_p must be greater than 0 and at most 1"),
                 errhint("Use 1 to disable nucleus sampling.")));
    if (!PG_ARGISNULL(6))
        read_stop_strings(PG_GETARG_ARRAYTYPE_P(6), o);
}

/*
 * gpt_generate(prompt text, max_tokens int, temperature float8, top_k int,
 *              top_p float8, seed bigint, stop text[]) RETURNS text
 */
Datum
pg_gpt_generate(PG_FUNCTION_ARGS)
{
    gpt_gen_options o;
    gpt_session *s;
    gpt_error err;
    gpt_status rc;
    const char *prompt;
    size_t prompt_len, out_len = 0;
    char *out = NULL, *copy;

    if (PG_ARGISNULL(0))
        PG_RETURN_NULL();
    pggpt_read_gen_options(fcinfo, &o);

    prompt = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &prompt_len);
    s = pggpt_get_session();

    rc = gpt_gen_options_check(gpt_session_model(s), &o, &err);
    if (rc != GPT_OK)
        pggpt_raise_generate(rc, &err);
    rc = gpt_generate(s, prompt, prompt_len, &o, &out, &out_len, &err);
    if (rc != GPT_OK) {
        gpt_free(out);
        pggpt_raise_generate(rc, &err);
    }
    copy = palloc(out_len + 1);
    memcpy(copy, out, out_len);
    copy[out_len] = '\0';
    gpt_free(out);

    PG_RETURN_TEXT_P(pggpt_utf8_to_text(copy, out_len));
}

/*
 * gpt_next_token_probs(prompt text, k int)
 *   RETURNS TABLE(rank int, token_id int, token text, bytes bytea,
 *                 prob float8, logprob float8)
 */
Datum
pg_gpt_next_token_probs(PG_FUNCTION_ARGS)
{
    ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
    TupleDesc tupdesc;
    Tuplestorestate *store;
    gpt_session *s;
    gpt_model *m;
    gpt_error err;
    gpt_status rc;
    gpt_token_prob *probs = NULL, *copy;
    size_t n = 0, prompt_len;
    const char *prompt;
    int k = PG_GETARG_INT32(1);

    if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
        !(rsinfo->allowedModes & SFRM_Materialize))
        ereport(ERROR,
                (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                 errmsg("gpt_next_token_probs must be called in a context "
                        "that accepts a set")));
    if (k < 1)
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("k must be at least 1")));

    prompt = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &prompt_len);
    s = pggpt_get_session();
    m = gpt_session_model(s);
    rc = gpt_next_token_probs(s, prompt, prompt_len, k, &probs, &n, &err);
    if (rc != GPT_OK) {
        gpt_free(probs);
        pggpt_raise(rc, &err);
    }
    copy = palloc(sizeof(gpt_token_prob) * (n ? n : 1));
    if (n)
        memcpy(copy, probs, sizeof(gpt_token_prob) * n);
    gpt_free(probs);

    if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
        elog(ERROR, "return type must be a row type");

    store = pggpt_materialize(rsinfo, &tupdesc);

    for (size_t i = 0; i < n; i++) {
        Datum values[6];
        bool nulls[6] = {false, false, false, false, false, false};
        size_t blen = 0;
        const char *b = gpt_token_bytes(m, copy[i].token_id, &blen);
        bytea *raw;

        if (b == NULL)
            elog(ERROR, "gpt core returned token id %d out of range",
                 (int) copy[i].token_id);
        raw = palloc(VARHDRSZ + blen);
        SET_VARSIZE(raw, VARHDRSZ + blen);
        memcpy(VARDATA(raw), b, blen);

        values[0] = Int32GetDatum((int32) (i + 1));
        values[1] = Int32GetDatum(copy[i].token_id);
        values[2] = PointerGetDatum(pggpt_token_text(m, copy[i].token_id));
        values[3] = PointerGetDatum(raw);
        values[4] = Float8GetDatum(copy[i].prob);
        values[5] = Float8GetDatum(copy[i].logprob);
        tuplestore_putvalues(store, tupdesc, values, nulls);
    }
    return (Datum) 0;
}

/* gpt_tokenize(text) RETURNS int[] */
Datum
pg_gpt_tokenize(PG_FUNCTION_ARGS)
{
    size_t len, n = 0;
    const char *t = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
    gpt_model *m = pggpt_get_model();
    int32_t *ids = NULL;
    Datum *d;
    gpt_error err;
    gpt_status rc;

    rc = gpt_tokenize(m, t, len, &ids, &n, &err);
    if (rc != GPT_OK) {
        gpt_free(ids);
        pggpt_raise(rc, &err);
    }
    if (n > MaxAllocSize / sizeof(Datum)) {
        gpt_free(ids);
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("too many tokens")));
    }
    d = palloc(sizeof(Datum) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        d[i] = Int32GetDatum(ids[i]);
    gpt_free(ids);
    PG_RETURN_ARRAYTYPE_P(construct_array(d, (int) n, INT4OID, sizeof(int32),
                                          true, TYPALIGN_INT));
}

/* gpt_detokenize(int[]) RETURNS text */
Datum
pg_gpt_detokenize(PG_FUNCTION_ARGS)
{
    ArrayType *arr = PG_GETARG_ARRAYTYPE_P(0);
    gpt_model *m = pggpt_get_model();
    gpt_model_info info;
    Datum *elems;
    bool *nulls;
    int n;
    int32_t *ids;
    char *out = NULL, *copy;
    size_t len = 0;
    gpt_error err;
    gpt_status rc;

    gpt_model_get_info(m, &info);
    deconstruct_array(arr, INT4OID, sizeof(int32), true, TYPALIGN_INT,
                      &elems, &nulls, &n);
    ids = palloc(sizeof(int32_t) * (n ? n : 1));
    for (int i = 0; i < n; i++) {
        if (nulls[i])
            ereport(ERROR,
                    (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                     errmsg("token ids must not be null")));
        ids[i] = DatumGetInt32(elems[i]);
        if (ids[i] < 0 || ids[i] >= info.n_vocab)
            ereport(ERROR,
                    (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                     errmsg("token id %d is out of range", (int) ids[i]),
                     errhint("Token ids of this model go from 0 to %d.",
                             info.n_vocab - 1)));
    }
    rc = gpt_detokenize(m, ids, (size_t) n, &out, &len, &err);
    if (rc != GPT_OK) {
        gpt_free(out);
        pggpt_raise(rc, &err);
    }
    copy = palloc(len + 1);
    memcpy(copy, out, len);
    copy[len] = '\0';
    gpt_free(out);
    PG_RETURN_TEXT_P(pggpt_utf8_to_text(copy, len));
}

/* gpt_token_count(text) RETURNS int */
Datum
pg_gpt_token_count(PG_FUNCTION_ARGS)
{
    size_t len, n = 0;
    const char *t = pggpt_text_to_utf8(PG_GETARG_TEXT_PP(0), &len);
    gpt_model *m = pggpt_get_model();
    gpt_error err;
    gpt_status rc;

    rc = gpt_token_count(m, t, len, &n, &err);
    if (rc != GPT_OK)
        pggpt_raise(rc, &err);
    if (n > PG_INT32_MAX)
        ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
                        errmsg("too many tokens")));
    PG_RETURN_INT32((int32) n);
}

static void
json_key_str(StringInfo b, const char *key, const char *val, bool first)
{
    if (!first)
        appendStringInfoString(b, ", ");
    escape_json(b, key);
    appendStringInfoString(b, ": ");
    escape_json(b, val ? val : "");
}

static void
json_key_raw(StringInfo b, const char *key, const char *raw)
{
    appendStringInfoString(b, ", ");
    escape_json(b, key);
    appendStringInfo(b, ": %s", raw);
}

/* "F32:98,Q8_0:50" -> {"F32": 98, "Q8_0": 50} */
static void
json_tensor_types(StringInfo b, const char *spec)
{
    char *copy = pstrdup(spec ? spec : "");
    char *save = NULL;
    bool first = true;

    appendStringInfoString(b, ", \"tensor_types\": {");
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        long count = 0;

        if (colon) {
            *colon = '\0';
            count = strtol(colon + 1, NULL, 10);
        }
        if (!first)
            appendStringInfoString(b, ", ");
        escape_json(b, tok);
        appendStringInfo(b, ": %ld", count);
        first = false;
    }
    appendStringInfoChar(b, '}');
}

/* gpt_model_info() RETURNS jsonb */
Datum
pg_gpt_model_info(PG_FUNCTION_ARGS)
{
    gpt_model *m = pggpt_get_model();
    gpt_model_info info;
    StringInfoData b;
    char num[64];

    gpt_model_get_info(m, &info);
    initStringInfo(&b);
    appendStringInfoChar(&b, '{');
    json_key_str(&b, "model", pggpt_model_name, true);
    json_key_str(&b, "path", info.path, false);
    /* general.name is UTF-8 from the file: convert like any result. */
    json_key_str(&b, "name",
                 text_to_cstring(pggpt_utf8_to_text(info.name ? info.name : "",
                                                    info.name ? strlen(info.name) : 0)),
                 false);
    json_key_str(&b, "architecture", info.architecture, false);
#define RAW_INT(key, v) \
    (snprintf(num, sizeof num, "%lld", (long long) (v)), json_key_raw(&b, key, num))
    RAW_INT("gguf_version", info.gguf_version);
    RAW_INT("parameters", info.n_params);
    RAW_INT("context_length", info.n_ctx);
    RAW_INT("embedding_length", info.n_embd);
    RAW_INT("feed_forward_length", info.n_ff);
    RAW_INT("layers", info.n_layer);
    RAW_INT("heads", info.n_head);
    RAW_INT("vocab_size", info.n_vocab);
    RAW_INT("bos_id", info.bos_id);
    RAW_INT("eos_id", info.eos_id);
    json_key_raw(&b, "tied_output", info.tied_output ? "true" : "false");
    json_key_str(&b, "weight_type", info.weight_type, false);
    json_tensor_types(&b, info.tensor_types);
    RAW_INT("file_size", info.file_size);
    RAW_INT("bytes_mapped", info.bytes_mapped);
    RAW_INT("threads", pggpt_effective_threads());
#undef RAW_INT
    snprintf(num, sizeof num, "%.3f", pggpt_model_load_ms());
    json_key_raw(&b, "load_ms", num);
    json_key_raw(&b, "preloaded", pggpt_model_preloaded() ? "true" : "false");
    appendStringInfoChar(&b, '}');

    PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(b.data)));
}
