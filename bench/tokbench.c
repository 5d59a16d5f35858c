/*
 * tokbench.c - tokenizer throughput for `make bench`: gpt_tokenize over a
 * whole file in one call (as tiktoken's encode_ordinary is timed beside it),
 * several runs, JSON with the token count and best/median MB/s (1e6 bytes).
 *
 *   tokbench MODEL.gguf CORPUS [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpt.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
    gpt_model *m;
    gpt_error err;
    FILE *f;
    char *text;
    long len;
    int runs = argc > 3 ? atoi(argv[3]) : 5;
    double mb[100];
    size_t n_ids = 0;

    if (argc < 3 || runs < 1 || runs > 100)
        return fprintf(stderr, "usage: tokbench MODEL CORPUS [RUNS]\n"), 2;
    if (gpt_model_open(argv[1], &m, &err) != GPT_OK)
        return fprintf(stderr, "tokbench: %s\n", err.message), 1;
    f = fopen(argv[2], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        return fprintf(stderr, "tokbench: cannot read %s\n", argv[2]), 1;
    text = malloc((size_t)len);
    if (!text || fread(text, 1, (size_t)len, f) != (size_t)len)
        return fprintf(stderr, "tokbench: cannot read %s\n", argv[2]), 1;
    fclose(f);

    for (int r = -1; r < runs; r++) {  /* r = -1: warm-up */
        int32_t *ids;
        double t0 = now_s();
        if (gpt_tokenize(m, text, (size_t)len, &ids, &n_ids, &err) != GPT_OK)
            return fprintf(stderr, "tokbench: %s\n", err.message), 1;
        if (r >= 0)
            mb[r] = (double)len / (now_s() - t0) / 1e6;
        gpt_free(ids);
    }
    qsort(mb, (size_t)runs, sizeof *mb, cmp_double);
    printf("{\"bytes\": %ld, \"tokens\": %zu, \"best_mb_s\": %.2f, "
           "\"median_mb_s\": %.2f, \"min_mb_s\": %.2f}\n",
           len, n_ids, mb[runs - 1], mb[runs / 2], mb[0]);
    free(text);
    gpt_model_release(m);
    return 0;
}
