/*
 * scoring.c - gpt_score and gpt_choose: the log-probability the model gives
 * a text, and zero-shot classification built on it.
 *
 *   gpt_score(text)                 sum of gpt_token_logprobs(text)'s
 *                                   logprob: log p(text | <|endoftext|>)
 *   gpt_score(prompt, continuation) log p(continuation | prompt), the
 *                                   continuation tokenized on its own
 *   gpt_choose(prompt, '["a", ...]') the choice c with the highest
 *                                   gpt_score(prompt, c); ties: the first
 *
 * Perplexity of a text: exp(-gpt_score(t) / gpt_token_count(t)).
 *
 * A NULL argument gives NULL.  Scores are natural logarithms (<= 0); an
 * empty text or continuation scores 0.  gpt_choose refuses an empty array
 * and empty-string choices: an empty continuation has probability 1, so it
 * would always win.  Consecutive gpt_score calls with the same prompt (as
 * gpt_choose makes) reuse the prompt's KV cache.
 */
#include "functions.h"

SQLITE_EXTENSION_INIT3

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "options.h"

/* Text of a non-NULL argument; NULL after reporting out of memory. */
static const char *arg_text(sqlite3_context *ctx, sqlite3_value *v,
                            size_t *len)
{
    const char *t = (const char *)sqlite3_value_text(v);
    *len = (size_t)sqlite3_value_bytes(v);
    if (!t)
        sqlite3_result_error_nomem(ctx);
    return t;
}

/* sqlite3_mprintf's formats: no %zu. */
static void result_errorf(sqlite3_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void result_errorf(sqlite3_context *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!m) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_error(ctx, m, -1);
    sqlite3_free(m);
}

void gpt_fn_score(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_session *s;
    const char *prompt = NULL, *text;
    size_t prompt_len = 0, len;
    double score = 0;

    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
            return;
    if (argc == 2 && !(prompt = arg_text(ctx, argv[0], &prompt_len)))
        return;
    if (!(text = arg_text(ctx, argv[argc - 1], &len)))
        return;
    gpt_status st = gpt_conn_begin(c, &s, &err);
    if (st == GPT_OK) {
        if (argc == 2) {
            st = gpt_score(s, prompt, prompt_len, text, len, &score, NULL,
                           &err);
        } else {
            /* Summed in token order, as sum(logprob) over
             * gpt_token_logprobs(text) sums its rows. */
            int32_t *ids;
            double *lp;
            size_t n;
            st = gpt_token_logprobs(s, text, len, &ids, &lp, &n, &err);
            if (st == GPT_OK) {
                for (size_t i = 0; i < n; i++)
                    score += lp[i];
                gpt_free(ids);
                gpt_free(lp);
            }
        }
        gpt_conn_end(c, s);
    }
    if (st != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_score", c, &err);
        return;
    }
    sqlite3_result_double(ctx, score);
}

void gpt_fn_choose(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_session *s;
    const char *prompt, *json;
    size_t prompt_len, json_len, n, *lens;
    char **choices, msg[512];

    if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
        sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return;
    if (!(prompt = arg_text(ctx, argv[0], &prompt_len)) ||
        !(json = arg_text(ctx, argv[1], &json_len)))
        return;
    if (gpt_sqlite_parse_strings(json, json_len, 0, &choices, &lens, &n, msg,
                                 sizeof msg) != 0) {
        result_errorf(ctx, "gpt_choose: choices: %s", msg);
        return;
    }
    int bad = n == 0;
    if (n == 0)
        result_errorf(ctx, "gpt_choose: choices: the array is empty");
    for (size_t i = 0; i < n && !bad; i++)
        if (lens[i] == 0) {
            bad = 1;
            result_errorf(ctx, "gpt_choose: choices: element %lld is an "
                          "empty string, which would always win (an empty "
                          "continuation has probability 1)", (long long)i);
        }
    if (bad) {
        gpt_sqlite_strings_free(choices, lens, n);
        return;
    }

    size_t best = 0, failed_at = 0;
    double best_score = 0;
    gpt_status st = gpt_conn_begin(c, &s, &err);
    if (st == GPT_OK) {
        for (size_t i = 0; i < n && st == GPT_OK; i++) {
            double score;
            st = gpt_score(s, prompt, prompt_len, choices[i], lens[i], &score,
                           NULL, &err);
            failed_at = i;
            if (st == GPT_OK && (i == 0 || score > best_score)) {
                best = i;
                best_score = score;
            }
        }
        gpt_conn_end(c, s);
    }
    if (st == GPT_ERR_CONTEXT_OVERFLOW) { /* name the choice that is long */
        char m[GPT_ERROR_MAX];
        snprintf(m, sizeof m, "choices: element %zu: %.400s", failed_at,
                 err.message);
        memcpy(err.message, m, sizeof m);
    }
    if (st != GPT_OK) {
        gpt_sqlite_strings_free(choices, lens, n);
        gpt_conn_result_error(ctx, "gpt_choose", c, &err);
        return;
    }
    sqlite3_result_text64(ctx, choices[best], (sqlite3_uint64)lens[best],
                          SQLITE_TRANSIENT, SQLITE_UTF8);
    gpt_sqlite_strings_free(choices, lens, n);
}
