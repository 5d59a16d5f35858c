/*
 * batchroof.c - how far batched decoding can go on this machine (issue 6's
 * "batch 16 at 8x one sequence"): the Q8_0 matrix products of a model's
 * decode step (every layer's four matrices and the LM head) through the
 * core's kernel (core/kernels.h, the path gpt_kernels_get() picks), one
 * thread, for T tokens at once:
 *
 *   streamed  every matrix in turn, as a decode step reads them: the
 *             weights come from memory, once per step for all T tokens
 *   cached    the first 32 rows of one 768-column matrix again and again:
 *             the weights stay in L1, so this is the kernel's arithmetic
 *             alone, the most a batch step could ever reach
 *
 * Prints JSON with multiply-adds per second and the tokens/s they amount to
 * over the model's multiply-adds per token.  A batch step also does
 * attention, layer norms, sampling and KV writes, so end-to-end batched
 * decoding stays below the streamed figure.  Not part of the report: a
 * diagnostic, like kernbench.
 *
 *   batchroof MODEL [T] [RUNS]      default T = 16, RUNS = 7
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gpt.h"
#include "kernels.h"
#include "model.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main(int argc, char **argv)
{
    const gpt_kernels *k = gpt_kernels_get();
    int T = argc > 2 ? atoi(argv[2]) : 16, runs = argc > 3 ? atoi(argv[3]) : 7;
    const gpt_matrix *W[4 * 64 + 1];
    int nw = 0, l, i, r;
    double macs = 0, best_s = 1e30, best_c = 1e30, cmacs;
    gpt_model *m;
    gpt_error err;
    uint8_t *xq;
    float *x, *y;
    gpt_matrix small;

    if (argc < 2 || T < 1 || T > 64 || runs < 1)
        return fprintf(stderr, "usage: batchroof MODEL [T (1-64)] [RUNS]\n"), 2;
    if (gpt_model_open(argv[1], &m, &err) != GPT_OK)
        return fprintf(stderr, "batchroof: %s\n", err.message), 1;
    if (m->output.type != GGML_Q8_0 || m->n_layer > 64)
        return fprintf(stderr, "batchroof: needs a Q8_0 model\n"), 1;
    for (l = 0; l < m->n_layer; l++) {
        W[nw++] = &m->layers[l].qkv;
        W[nw++] = &m->layers[l].proj;
        W[nw++] = &m->layers[l].fc;
        W[nw++] = &m->layers[l].fc_proj;
    }
    W[nw++] = &m->output;
    for (i = 0; i < nw; i++)
        macs += (double)W[i]->rows * W[i]->cols;
    xq = malloc(gpt_q8x_stride(m->n_ff) * (size_t)T);
    x = malloc(sizeof *x * (size_t)m->n_ff * T);
    y = malloc(sizeof *y * (size_t)m->n_vocab * T);
    if (!xq || !x || !y)
        return fprintf(stderr, "batchroof: out of memory\n"), 1;
    for (i = 0; i < m->n_ff * T; i++)
        x[i] = (float)((i * 37) % 101 - 50) * 0.01f;

    small = m->layers[0].fc;   /* n_embd columns */
    small.rows = 32;
    cmacs = (double)small.rows * small.cols;
    for (r = 0; r < runs; r++) {
        double t0 = now_s(), t1;
        int rep, reps = (int)(2e8 / (cmacs * T)) + 1;
        for (i = 0; i < nw; i++) {
            k->quantize(x, W[i]->cols, T, W[i]->cols, xq);
            k->matmul_q8(W[i], xq, gpt_q8x_stride(W[i]->cols), T, y, W[i]->rows, 0,
                         W[i]->rows);
        }
        t1 = now_s();
        if (t1 - t0 < best_s)
            best_s = t1 - t0;
        k->quantize(x, small.cols, T, small.cols, xq);
        t0 = now_s();
        for (rep = 0; rep < reps; rep++)
            k->matmul_q8(&small, xq, gpt_q8x_stride(small.cols), T, y, small.rows, 0,
                         small.rows);
        t1 = now_s();
        if ((t1 - t0) / reps < best_c)
            best_c = (t1 - t0) / reps;
    }
    printf("{\"kernels\": \"%s\", \"tokens\": %d, \"model_macs_per_token\": %.0f, "
           "\"streamed\": {\"gmac_s\": %.1f, \"tok_s\": %.0f}, "
           "\"cached\": {\"gmac_s\": %.1f, \"tok_s\": %.0f}}\n",
           k->name, T, macs, macs * T / best_s / 1e9, T / best_s,
           cmacs * T / best_c / 1e9, cmacs * T / best_c / macs);
    free(xq);
    free(x);
    free(y);
    gpt_model_release(m);
    return 0;
}
