/*
 * corebench.c - `gpt bench` with CPU time: the same ids and steps as the
 * CLI's bench (tools/cli/gpt_cli.c), timing each phase both by the wall
 * clock and by the CPU time of the whole process (all pool threads).
 *
 *   corebench MODEL THREADS PROMPT_TOKENS GEN_TOKENS RUNS
 *
 * On a machine shared with other work the wall clock mostly measures the
 * scheduler; at one thread, tokens per CPU-second is close to what an idle
 * machine would give.  (With more threads, CPU time includes the pool's
 * spinning, so it means less.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpt.h"

static double
clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    gpt_model *m;
    gpt_session *s;
    gpt_error err;
    gpt_model_info info;
    int32_t *ids;
    int threads, np, ng, runs;

    if (argc != 6)
        return fprintf(stderr, "usage: corebench MODEL THREADS PROMPT GEN RUNS\n"), 2;
    threads = atoi(argv[2]);
    np = atoi(argv[3]);
    ng = atoi(argv[4]);
    runs = atoi(argv[5]);
    if (threads < 1 || np < 1 || ng < 0 || runs < 1)
        return fprintf(stderr, "corebench: bad arguments\n"), 2;
    if (gpt_model_open(argv[1], &m, &err) != GPT_OK ||
        gpt_session_new(m, &s, &err) != GPT_OK ||
        gpt_session_set_threads(s, threads, &err) != GPT_OK)
        return fprintf(stderr, "corebench: %s\n", err.message), 1;
    gpt_model_get_info(m, &info);
    if (np + ng > info.n_ctx)
        return fprintf(stderr, "corebench: prompt + gen exceed the context\n"), 2;
    ids = malloc((size_t)(np + ng) * sizeof *ids);
    if (!ids)
        return fprintf(stderr, "corebench: out of memory\n"), 1;
    for (int i = 0; i < np + ng; i++)   /* the CLI bench's ids */
        ids[i] = (int32_t)((i * 7919 + 13) % 50000 % info.n_vocab);

    printf("{\"model\": \"%s\", \"threads\": %d, \"prompt_tokens\": %d, "
           "\"gen_tokens\": %d, \"runs\": [", argv[1], threads, np, ng);
    for (int r = 0; r < runs; r++) {
        float *logits;
        double w0, w1, w2, c0, c1, c2;
        ids[0] = (int32_t)((ids[0] + 1) % info.n_vocab); /* no prefix reuse */
        w0 = clock_s(CLOCK_MONOTONIC);
        c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (gpt_eval_logits(s, ids, (size_t)np, &logits, &err) != GPT_OK)
            return fprintf(stderr, "corebench: %s\n", err.message), 1;
        gpt_free(logits);
        w1 = clock_s(CLOCK_MONOTONIC);
        c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (int i = 1; i <= ng; i++) {  /* one new token per step */
            if (gpt_eval_logits(s, ids, (size_t)(np + i), &logits, &err) != GPT_OK)
                return fprintf(stderr, "corebench: %s\n", err.message), 1;
            gpt_free(logits);
        }
        w2 = clock_s(CLOCK_MONOTONIC);
        c2 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        printf("%s{\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f, "
               "\"prefill_tok_cpu_s\": %.2f, \"decode_tok_cpu_s\": %.2f}",
               r ? ", " : "", np / (w1 - w0), ng ? ng / (w2 - w1) : 0.0,
               np / (c1 - c0), ng ? ng / (c2 - c1) : 0.0);
        fflush(stdout);
    }
    printf("]}\n");
    free(ids);
    gpt_session_free(s);
    gpt_model_release(m);
    return 0;
}
