/*
 * sgemm.c - the machine's compute ceiling for `make bench`: OpenBLAS
 * cblas_sgemm GFLOP/s on the GPT-2 124M prefill shapes, at each thread
 * count given (openblas_set_num_threads), best and median of several runs.
 *
 *   sgemm [RUNS] [THREADS...]      e.g. sgemm 5 1 2
 *
 * Also per CPU-second of the process (all OpenBLAS threads): at one thread,
 * the speed while it actually ran, on a machine shared with other work.
 *
 * Shapes (row-major, C[M,N] = A[M,K] B[K,N]^T as a linear layer does):
 * M = 512 prompt tokens; (N, K) = (3072, 768) the MLP up-projection,
 * (768, 3072) its down-projection, (2304, 768) the fused QKV.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
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
    static const int shapes[][3] = {{512, 3072, 768}, {512, 768, 3072},
                                    {512, 2304, 768}};
    int runs = argc > 1 ? atoi(argv[1]) : 5;
    int nt = argc > 2 ? argc - 2 : 1;
    size_t maxa = 512 * 3072, maxb = 3072 * 768;
    float *a = malloc(maxa * sizeof *a), *b = malloc(maxb * sizeof *b),
          *c = malloc(512 * 3072 * sizeof *c);

    if (!a || !b || !c || runs < 1 || runs > 100)
        return fprintf(stderr, "bad arguments or out of memory\n"), 2;
    for (size_t i = 0; i < maxa; i++)
        a[i] = (float)(i % 97) * 0.01f;
    for (size_t i = 0; i < maxb; i++)
        b[i] = (float)(i % 89) * 0.01f;

    printf("{\"threads\": [");
    for (int ti = 0; ti < nt; ti++) {
        int t = argc > 2 ? atoi(argv[2 + ti]) : 1;
        double g[100], cg[100];
        openblas_set_num_threads(t);
        for (int r = -1; r < runs; r++) {  /* r = -1: warm-up */
            double flops = 0, t0 = clock_s(CLOCK_MONOTONIC),
                   c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
            for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k,
                            1.0f, a, k, b, k, 0.0f, c, n);
                flops += 2.0 * m * n * k;
            }
            if (r >= 0) {
                g[r] = flops / (clock_s(CLOCK_MONOTONIC) - t0) / 1e9;
                cg[r] = flops / (clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e9;
            }
        }
        qsort(g, (size_t)runs, sizeof *g, cmp_double);
        qsort(cg, (size_t)runs, sizeof *cg, cmp_double);
        printf("%s{\"threads\": %d, \"best_gflop_s\": %.1f, \"median_gflop_s\": %.1f, "
               "\"min_gflop_s\": %.1f, \"cpu_best_gflop_s\": %.1f, "
               "\"cpu_median_gflop_s\": %.1f}", ti ? ", " : "", t, g[runs - 1],
               g[runs / 2], g[0], cg[runs - 1], cg[runs / 2]);
    }
    printf("], \"config\": \"%s\"}\n", openblas_get_config());
    free(a);
    free(b);
    free(c);
    return 0;
}
