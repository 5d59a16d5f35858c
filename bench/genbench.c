/*
 * genbench.c - the generation benchmarks of issue 6, through the core API
 * the databases use (gpt_generate, gpt_generate_batch), greedy decoding.
 *
 *   genbench batch MODEL THREADS PROMPT_TOKENS GEN_TOKENS RUNS B1,B2,...
 *       Total generated tokens/s of one gpt_generate_batch call over B
 *       prompts, for each B, beside one gpt_generate call per prompt
 *       ("single": the same Bmax prompts one after another).  Checks that
 *       the batched texts equal the single ones.
 *   genbench prefix MODEL THREADS ROWS PREFIX_TOKENS ROW_TOKENS GEN RUNS
 *       ROWS prompts that share a PREFIX_TOKENS-token prefix, each followed
 *       by ROW_TOKENS tokens of its own, GEN tokens each: one session for all
 *       rows (the core reuses the cached prefix) against a new session per
 *       row (nothing to reuse).  Then the batched form the databases use
 *       for many rows: one gpt_generate_batch call over all ROWS prompts
 *       with prefix reuse (a new session; the batch's slots read the
 *       shared prefix from one cache, evaluated once) against the same call with
 *       gpt_session_set_prefix_reuse(s, 0).  Checks the texts are the same
 *       all four ways.
 *
 * Prints one JSON object.  Prompts are made of common English words that
 * are one GPT-2 token each with their leading space, so a prompt of N
 * words is N tokens (checked with gpt_token_count).  Every prompt starts
 * with two words taken from a counter, so no call can reuse another's
 * cached prompt unless the benchmark means it to (prefix mode).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpt.h"

static const char *const WORDS[] = {
    " the", " of", " and", " to", " in", " is", " was", " for", " on",
    " that", " with", " as", " by", " at", " from", " his", " her", " it",
    " an", " are", " be", " this", " which", " or", " had", " not", " but",
    " have", " one", " all", " were", " they"};
#define NWORDS ((int)(sizeof WORDS / sizeof WORDS[0]))

static gpt_model *model;
static int threads;
static unsigned counter; /* makes each prompt's first two tokens new */

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void
fail(const char *what, const gpt_error *err)
{
    fprintf(stderr, "genbench: %s: %s\n", what, err ? err->message : "out of memory");
    exit(1);
}

/* Appends n words to buf, starting at word index `start`, stepping so that
 * neighbouring words differ. */
static void
add_words(char *buf, int n, unsigned start)
{
    for (int i = 0; i < n; i++)
        strcat(buf, WORDS[(start + (unsigned)i * 7u) % NWORDS]);
}

/* A new prompt: two counter words, then n - 2 filler words; or, with a
 * prefix, the prefix then the row's n words (the first two from the
 * counter). */
static char *
new_prompt(const char *prefix, int n)
{
    size_t cap = (prefix ? strlen(prefix) : 0) + (size_t)n * 8 + 1;
    char *p = calloc(1, cap);
    unsigned c = counter++;
    size_t want = (size_t)n, got;
    gpt_error err;

    if (!p)
        fail("prompt", NULL);
    if (prefix)
        strcpy(p, prefix);
    strcat(p, WORDS[c % NWORDS]);
    strcat(p, WORDS[(c / NWORDS) % NWORDS]);
    add_words(p, n - 2, 3);
    if (gpt_token_count(model, p, strlen(p), &got, &err) != GPT_OK)
        fail("gpt_token_count", &err);
    if (prefix && gpt_token_count(model, prefix, strlen(prefix), &want, &err) == GPT_OK)
        want += (size_t)n;
    if (got != want) {
        fprintf(stderr, "genbench: a prompt is %zu tokens, not %zu\n", got, want);
        exit(1);
    }
    return p;
}

static gpt_session *
new_session(void)
{
    gpt_session *s;
    gpt_error err;
    if (gpt_session_new(model, &s, &err) != GPT_OK ||
        gpt_session_set_threads(s, threads, &err) != GPT_OK)
        fail("session", &err);
    return s;
}

static char *
generate(gpt_session *s, const char *prompt, const gpt_gen_options *o)
{
    char *t;
    size_t tl;
    gpt_error err;
    if (gpt_generate(s, prompt, strlen(prompt), o, &t, &tl, &err) != GPT_OK)
        fail("gpt_generate", &err);
    return t;
}

/* Tokens in the generated texts (as tokenized again): a check that every
 * sequence ran to max_tokens, since tokens/s is computed from that. */
static size_t
count_tokens(char **texts, int n)
{
    size_t total = 0, k;
    gpt_error err;
    for (int i = 0; i < n; i++) {
        if (gpt_token_count(model, texts[i], strlen(texts[i]), &k, &err) != GPT_OK)
            fail("gpt_token_count", &err);
        total += k;
    }
    return total;
}

static int
bench_batch(int np, int ng, int runs, const char *list)
{
    int sizes[32], nb = 0, bmax = 0, same = 1;
    gpt_session *s = new_session();
    gpt_gen_options o;
    gpt_error err;
    char *copy = strdup(list), *tok;

    if (!copy)
        fail("sizes", NULL);
    for (tok = strtok(copy, ","); tok && nb < 32; tok = strtok(NULL, ",")) {
        sizes[nb] = atoi(tok);
        if (sizes[nb] < 1)
            return fprintf(stderr, "genbench: bad batch size %s\n", tok), 2;
        if (sizes[nb] > bmax)
            bmax = sizes[nb];
        nb++;
    }
    free(copy);
    gpt_gen_options_init(&o);
    o.max_tokens = ng;
    o.temperature = 0;

    char **prompts = calloc((size_t)bmax, sizeof *prompts);
    char **single = calloc((size_t)bmax, sizeof *single);
    char **texts = calloc((size_t)bmax, sizeof *texts);
    size_t *lens = calloc((size_t)bmax, sizeof *lens), *tl = calloc((size_t)bmax, sizeof *tl);
    size_t retok_single = 0;
    if (!prompts || !single || !texts || !lens || !tl)
        fail("batch", NULL);

    { /* warm-up: the first call pays page faults and the thread pool */
        char *w = new_prompt(NULL, np);
        gpt_free(generate(s, w, &o));
        free(w);
    }
    printf("{\"mode\": \"batch\", \"threads\": %d, \"prompt_tokens\": %d, "
           "\"gen_tokens\": %d, \"runs\": [", gpt_session_threads(s), np, ng);
    for (int r = 0; r < runs; r++) {
        double t0, t1;
        /* single: one call per prompt, on bmax new prompts */
        for (int i = 0; i < bmax; i++) {
            prompts[i] = new_prompt(NULL, np);
            lens[i] = strlen(prompts[i]);
        }
        t0 = now_s();
        for (int i = 0; i < bmax; i++)
            single[i] = generate(s, prompts[i], &o);
        t1 = now_s();
        retok_single = count_tokens(single, bmax);
        printf("%s{\"single_tok_s\": %.2f", r ? ", " : "", bmax * (double)ng / (t1 - t0));
        /* batched: first the largest size on the same prompts (compared
         * with the single texts), then the other sizes on new prompts */
        for (int k = -1; k < nb; k++) {
            int n = k < 0 ? bmax : sizes[k];
            if (k >= 0 && n == bmax)
                continue;
            if (k >= 0)
                for (int i = 0; i < n; i++) {
                    free(prompts[i]);
                    prompts[i] = new_prompt(NULL, np);
                    lens[i] = strlen(prompts[i]);
                }
            t0 = now_s();
            if (gpt_generate_batch(s, (const char *const *)prompts, lens, (size_t)n, &o,
                                   texts, tl, &err) != GPT_OK)
                fail("gpt_generate_batch", &err);
            t1 = now_s();
            for (int i = 0; i < n; i++) {
                if (k < 0)
                    same &= strcmp(texts[i], single[i]) == 0;
                gpt_free(texts[i]);
            }
            printf(", \"batch_%d_tok_s\": %.2f", n, n * (double)ng / (t1 - t0));
        }
        printf("}");
        fflush(stdout);
        for (int i = 0; i < bmax; i++) {
            gpt_free(single[i]);
            free(prompts[i]);
        }
    }
    printf("], \"sizes\": [");
    for (int b = 0; b < nb; b++)
        printf("%s%d", b ? ", " : "", sizes[b]);
    printf("], \"single_prompts\": %d, \"retokenized_tokens\": %zu, "
           "\"expected_tokens\": %d, \"identical\": %s}\n",
           bmax, retok_single, bmax * ng, same ? "true" : "false");
    free(prompts);
    free(single);
    free(texts);
    free(lens);
    free(tl);
    gpt_session_free(s);
    return same ? 0 : 1;
}

static int
bench_prefix(int rows, int npre, int nrow, int ng, int runs)
{
    char *prefix = calloc(1, (size_t)npre * 8 + 1);
    char **prompts = calloc((size_t)rows, sizeof *prompts);
    char **with = calloc((size_t)rows, sizeof *with);
    char **texts = calloc((size_t)rows, sizeof *texts);
    size_t *lens = calloc((size_t)rows, sizeof *lens), *tl = calloc((size_t)rows, sizeof *tl);
    gpt_gen_options o;
    int same = 1;
    size_t n;
    gpt_error err;

    if (!prefix || !prompts || !with || !texts || !lens || !tl)
        fail("prefix", NULL);
    add_words(prefix, npre, 1);
    if (gpt_token_count(model, prefix, strlen(prefix), &n, &err) != GPT_OK || (int)n != npre)
        return fprintf(stderr, "genbench: the prefix is not %d tokens\n", npre), 1;
    gpt_gen_options_init(&o);
    o.max_tokens = ng;
    o.temperature = 0;

    printf("{\"mode\": \"prefix\", \"threads\": %d, \"rows\": %d, \"prefix_tokens\": %d, "
           "\"row_tokens\": %d, \"gen_tokens\": %d, \"runs\": [",
           threads, rows, npre, nrow, ng);
    for (int r = 0; r < runs; r++) {
        double t0, t1, t2, sess = 0, bt[2];
        gpt_session *s;
        for (int i = 0; i < rows; i++) {
            prompts[i] = new_prompt(prefix, nrow);
            lens[i] = strlen(prompts[i]);
        }
        /* with reuse: one session, which starts empty */
        s = new_session();
        t0 = now_s();
        for (int i = 0; i < rows; i++)
            with[i] = generate(s, prompts[i], &o);
        t1 = now_s();
        gpt_session_free(s);
        /* without: a new session per row (its creation is timed apart) */
        for (int i = 0; i < rows; i++) {
            double b;
            char *t;
            s = new_session();
            b = now_s();
            t = generate(s, prompts[i], &o);
            sess += now_s() - b;
            gpt_session_free(s);
            same &= strcmp(t, with[i]) == 0;
            gpt_free(t);
        }
        t2 = now_s();
        /* batched: one call over all rows in a new session, with reuse
         * (k = 1) and without (k = 0), in alternating order across runs */
        for (int q = 0; q < 2; q++) {
            int k = (q + r) % 2;
            double b;
            s = new_session();
            gpt_session_set_prefix_reuse(s, k);
            b = now_s();
            if (gpt_generate_batch(s, (const char *const *)prompts, lens, (size_t)rows, &o,
                                   texts, tl, &err) != GPT_OK)
                fail("gpt_generate_batch", &err);
            bt[k] = now_s() - b;
            gpt_session_free(s);
            for (int i = 0; i < rows; i++) {
                same &= strcmp(texts[i], with[i]) == 0;
                gpt_free(texts[i]);
            }
        }
        printf("%s{\"with_reuse_s\": %.3f, \"without_reuse_s\": %.3f, "
               "\"without_reuse_generate_only_s\": %.3f, \"speedup\": %.2f, "
               "\"with_rows_s\": %.1f, \"without_rows_s\": %.1f, "
               "\"batch_with_reuse_s\": %.3f, \"batch_without_reuse_s\": %.3f, "
               "\"batch_speedup\": %.2f, \"batch_with_rows_s\": %.1f, "
               "\"batch_without_rows_s\": %.1f}",
               r ? ", " : "", t1 - t0, t2 - t1, sess, (t2 - t1) / (t1 - t0),
               rows / (t1 - t0), rows / (t2 - t1), bt[1], bt[0], bt[0] / bt[1],
               rows / bt[1], rows / bt[0]);
        fflush(stdout);
        for (int i = 0; i < rows; i++) {
            free(prompts[i]);
            gpt_free(with[i]);
        }
    }
    printf("], \"identical\": %s}\n", same ? "true" : "false");
    free(prefix);
    free(prompts);
    free(with);
    free(texts);
    free(lens);
    free(tl);
    return same ? 0 : 1;
}

int
main(int argc, char **argv)
{
    gpt_error err;
    int rc;

    if (argc < 3)
        goto usage;
    if (gpt_model_open(argv[2], &model, &err) != GPT_OK)
        fail(argv[2], &err);
    threads = argc > 3 ? atoi(argv[3]) : 0;
    if (strcmp(argv[1], "batch") == 0 && argc == 8)
        rc = bench_batch(atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argv[7]);
    else if (strcmp(argv[1], "prefix") == 0 && argc == 9)
        rc = bench_prefix(atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
                          atoi(argv[8]));
    else
        goto usage;
    gpt_model_release(model);
    return rc;
usage:
    fprintf(stderr, "usage: genbench batch MODEL THREADS PROMPT GEN RUNS B1,B2,...\n"
                    "       genbench prefix MODEL THREADS ROWS PREFIX ROW GEN RUNS\n");
    return 2;
}
