/*
 * kernbench.c - the core's matrix kernel alone (core/kernels.h, the path
 * gpt_kernels_get() picks), one thread, timed by CPU time so a shared
 * machine's load matters less: where does a forward pass lose?
 *
 *   kernbench [ROWS COLS [FILE]]   default 3072 768 (MLP up-projection)
 *
 * With FILE (a scratch path), the weights are written there and mapped
 * read-only, as the core maps a model, instead of malloc'd: the difference
 * is the cost of 4 KiB page-cache pages (TLB misses, prefetchers stopping
 * at page boundaries) against anonymous memory that may get huge pages.
 *
 * For F32, F16 and Q8_0 weights: T = 1 (decode) over a set of matrices
 * larger than the caches, as GB/s of weights streamed; T = 64 (one prefill
 * chunk) on one matrix, as GFLOP/s, to set beside bench/sgemm.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "kernels.h"

static double
cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* row bytes of a row of n weights of a type */
static size_t
row_bytes(uint32_t type, int n)
{
    return type == GGML_Q8_0 ? (size_t)n / 32 * 34 : (size_t)n * (type == GGML_F16 ? 2 : 4);
}

static void
fill(uint8_t *p, size_t n, uint32_t type)
{
    /* small finite values for every type: F16 0x3c00-ish, Q8_0 scale 1.0 */
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 37 % 61);
    if (type == GGML_Q8_0)
        for (size_t i = 0; i + 34 <= n; i += 34) {
            p[i] = 0x00;
            p[i + 1] = 0x3c;
        }
    if (type == GGML_F16)
        for (size_t i = 1; i < n; i += 2)
            p[i] = 0x3c;
}

int
main(int argc, char **argv)
{
    int rows = argc > 2 ? atoi(argv[1]) : 3072, cols = argc > 2 ? atoi(argv[2]) : 768;
    static const uint32_t types[] = {GGML_F32, GGML_F16, GGML_Q8_0};
    static const char *names[] = {"F32", "F16", "Q8_0"};
    const gpt_kernels *k = gpt_kernels_get();
    enum { NMAT = 24, T = 64 };  /* 24 matrices: beyond the L3 in every type */
    float *x = malloc((size_t)T * cols * sizeof *x), *y = malloc((size_t)T * rows * sizeof *y);

    if (!x || !y || rows < 1 || cols % 32)
        return fprintf(stderr, "kernbench: bad shape or out of memory\n"), 2;
    for (int i = 0; i < T * cols; i++)
        x[i] = (float)(i % 13) * 0.01f;
    printf("{\"kernels\": \"%s\", \"rows\": %d, \"cols\": %d, \"weights\": \"%s\", \"types\": [",
           k->name, rows, cols, argc > 3 ? "file mapping" : "malloc");
    for (int ti = 0; ti < 3; ti++) {
        size_t rb = row_bytes(types[ti], cols), mb = rb * (size_t)rows;
        const char *path = argc > 3 ? argv[3] : NULL;
        uint8_t *w = malloc(mb * NMAT), *mapped = NULL;
        gpt_matrix W[NMAT];
        double best_dec = 0, best_pre = 0;
        if (!w)
            return fprintf(stderr, "kernbench: out of memory\n"), 1;
        fill(w, mb * NMAT, types[ti]);
        if (path) {
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
            if (fd < 0 || write(fd, w, mb * NMAT) != (ssize_t)(mb * NMAT))
                return fprintf(stderr, "kernbench: cannot write %s\n", path), 1;
            mapped = mmap(NULL, mb * NMAT, PROT_READ, MAP_SHARED, fd, 0);
            close(fd);
            if (mapped == MAP_FAILED)
                return fprintf(stderr, "kernbench: mmap failed\n"), 1;
            free(w);
            w = mapped;
        }
        for (int i = 0; i < NMAT; i++)
            W[i] = (gpt_matrix){types[ti], w + mb * (size_t)i, rows, cols, rb};
        for (int rep = 0; rep < 5; rep++) {
            double c0 = cpu_s(), c1, c2;
            for (int i = 0; i < NMAT; i++)   /* decode: stream every matrix */
                k->matmul(&W[i], x, cols, 1, y, rows, 0, rows);
            c1 = cpu_s();
            k->matmul(&W[0], x, cols, T, y, rows, 0, rows);  /* prefill chunk */
            c2 = cpu_s();
            if (mb * NMAT / (c1 - c0) / 1e9 > best_dec)
                best_dec = mb * NMAT / (c1 - c0) / 1e9;
            if (2.0 * rows * cols * T / (c2 - c1) / 1e9 > best_pre)
                best_pre = 2.0 * rows * cols * T / (c2 - c1) / 1e9;
        }
        printf("%s{\"type\": \"%s\", \"decode_gb_per_cpu_s\": %.2f, "
               "\"prefill_t64_gflop_per_cpu_s\": %.1f}", ti ? ", " : "",
               names[ti], best_dec, best_pre);
        if (mapped) {
            munmap(mapped, mb * NMAT);
            unlink(path);
        } else {
            free(w);
        }
    }
    printf("]}\n");
    free(x);
    free(y);
    return 0;
}
