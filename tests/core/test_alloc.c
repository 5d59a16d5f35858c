/*
 * test_alloc.c - allocation failure: with the Nth core allocation failing
 * (and every one after it), opening a model, creating a session,
 * generating, batching, scoring and reading probabilities must return an
 * error (GPT_ERR_NOMEM, or the loader's error) and leak nothing, for every
 * N up to the number of allocations one full round makes.  Run it under
 * the sanitizer build: LeakSanitizer reports any leak at exit.
 * Prints "alloc: N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "internal.h"

static int passed, failed;

/* One round of everything; returns GPT_OK or the first error. */
static gpt_status
round_trip(const char *path)
{
    gpt_model *m = NULL;
    gpt_session *s = NULL;
    gpt_error err;
    gpt_gen_options o;
    gpt_token_prob *p = NULL;
    char *text = NULL, *texts[3] = {0};
    const char *prompts[3] = {"The cat", NULL, "Hello world"};
    size_t lens[3] = {7, 0, 11}, tl[3], n;
    int32_t *ids = NULL;
    double *lp = NULL, score;
    gpt_status st;

    if ((st = gpt_model_open(path, &m, &err)) != GPT_OK)
        return st;
    if ((st = gpt_session_new(m, &s, &err)) != GPT_OK)
        goto out;
    gpt_session_set_threads(s, 2, &err);
    gpt_gen_options_init(&o);
    o.max_tokens = 6;
    o.stop[0] = "zz";
    o.n_stop = 1;
    if ((st = gpt_generate(s, "The cat is lying on the", 23, &o, &text, &n, &err)) != GPT_OK)
        goto out;
    if ((st = gpt_generate_batch(s, prompts, lens, 3, &o, texts, tl, &err)) != GPT_OK)
        goto out;
    if ((st = gpt_next_token_probs(s, "The cat", 7, 5, &p, &n, &err)) != GPT_OK)
        goto out;
    if ((st = gpt_token_logprobs(s, "The cat sat", 11, &ids, &lp, &n, &err)) != GPT_OK)
        goto out;
    st = gpt_score(s, "The cat", 7, " sat", 4, &score, &n, &err);
out:
    gpt_free(text);
    gpt_free(texts[0]);
    gpt_free(texts[2]);
    gpt_free(p);
    gpt_free(ids);
    gpt_free(lp);
    gpt_session_free(s);
    gpt_model_release(m);
    return st;
}

int
main(int argc, char **argv)
{
    uint64_t total, nth;
    gpt_status st;

    if (argc < 2) {
        fprintf(stderr, "usage: test_alloc MODEL.gguf\n");
        return 2;
    }
    gpt_alloc_fail_after(0);
    st = round_trip(argv[1]);
    total = gpt_alloc_fail_after(0);
    if (st != GPT_OK) {
        printf("FAIL: the round without failures failed (%d)\n", st);
        return 1;
    }
    for (nth = 1; nth <= total; nth++) {
        gpt_alloc_fail_after(nth);
        st = round_trip(argv[1]);
        gpt_alloc_fail_after(0);
        if (st == GPT_ERR_NOMEM) {
            passed++;
        } else {
            failed++;
            printf("FAIL: allocation %llu of %llu failing gave status %d, "
                   "expected GPT_ERR_NOMEM\n",
                   (unsigned long long)nth, (unsigned long long)total, st);
        }
    }
    printf("alloc: %d passed, %d failed (%llu allocations per round)\n",
           passed, failed, (unsigned long long)total);
    return failed ? 1 : 0;
}
