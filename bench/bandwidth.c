/*
 * bandwidth.c - the machine's read-bandwidth ceiling for `make bench`:
 * sums a large float buffer (default 1 GiB, far beyond any cache) with the
 * widest vector loads the CPU has, split over T threads, and prints JSON
 * with the best and median GB/s of several passes.
 *
 *   bandwidth [MIB] [RUNS] [THREADS...]     e.g. bandwidth 1024 7 1 2
 *
 * Decode reads every weight matrix once per token, so this is the speed
 * a bandwidth-bound decode step cannot beat.
 */
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const float *p;
    size_t n;     /* floats, a multiple of 64 */
    float sum;    /* kept so the loads cannot be optimised away */
    double cpu_s; /* CPU time of this thread's pass */
} part;

static int use512;

__attribute__((target("avx512f"))) static float
sum512(const float *p, size_t n)
{
    /* four independent accumulators keep several loads in flight */
    __m512 a = _mm512_setzero_ps(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 64) {
        a = _mm512_add_ps(a, _mm512_load_ps(p + i));
        b = _mm512_add_ps(b, _mm512_load_ps(p + i + 16));
        c = _mm512_add_ps(c, _mm512_load_ps(p + i + 32));
        d = _mm512_add_ps(d, _mm512_load_ps(p + i + 48));
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a, b),
                                              _mm512_add_ps(c, d)));
}

__attribute__((target("avx2"))) static float
sum256(const float *p, size_t n)
{
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    for (size_t i = 0; i < n; i += 32) {
        a = _mm256_add_ps(a, _mm256_load_ps(p + i));
        b = _mm256_add_ps(b, _mm256_load_ps(p + i + 8));
        c = _mm256_add_ps(c, _mm256_load_ps(p + i + 16));
        d = _mm256_add_ps(d, _mm256_load_ps(p + i + 24));
    }
    float t[8];
    _mm256_storeu_ps(t, _mm256_add_ps(_mm256_add_ps(a, b), _mm256_add_ps(c, d)));
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}

static void *
worker(void *arg)
{
    part *w = arg;
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    w->sum = use512 ? sum512(w->p, w->n) : sum256(w->p, w->n);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    w->cpu_s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    return NULL;
}

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

/* One pass over the buffer with t threads; returns GB/s (1e9 bytes) by
 * the wall clock, and in *cpu_gb by the slowest thread's CPU time (on a
 * shared machine: the bandwidth while the threads actually ran). */
static double
pass(const float *buf, size_t n, int t, float *sink, double *cpu_gb)
{
    double slowest = 0;
    pthread_t th[64];
    part w[64];
    size_t chunk = n / (size_t)t / 64 * 64;
    double t0 = now_s();
    for (int i = 0; i < t; i++) {
        w[i].p = buf + (size_t)i * chunk;
        w[i].n = chunk;
        if (pthread_create(&th[i], NULL, worker, &w[i]) != 0)
            return -1;
    }
    for (int i = 0; i < t; i++) {
        pthread_join(th[i], NULL);
        *sink += w[i].sum;
        if (w[i].cpu_s > slowest)
            slowest = w[i].cpu_s;
    }
    *cpu_gb = (double)chunk * (double)t * sizeof(float) / slowest / 1e9;
    return (double)chunk * (double)t * sizeof(float) / (now_s() - t0) / 1e9;
}

int
main(int argc, char **argv)
{
    size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024;
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    size_t n = mib << 20 >> 2;
    float *buf, sink = 0;

    if (runs < 1 || runs > 100 || n < 4096)
        return fprintf(stderr, "bad arguments\n"), 2;
    __builtin_cpu_init();
    use512 = __builtin_cpu_supports("avx512f");
    buf = aligned_alloc(64, n * sizeof *buf);
    if (!buf)
        return fprintf(stderr, "out of memory\n"), 1;
    /* touch every page so the passes measure reads, not page faults */
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)(i & 1023) * 1e-3f;

    int nt = argc > 3 ? argc - 3 : 1;
    printf("{\"buffer_mib\": %zu, \"isa\": \"%s\", \"threads\": [", mib,
           use512 ? "avx512" : "avx2");
    for (int a = 0; a < nt; a++) {
        int t = argc > 3 ? atoi(argv[3 + a]) : 1;
        double gb[100], cg[100], dummy;
        if (t < 1 || t > 64)
            return fprintf(stderr, "bad thread count\n"), 2;
        pass(buf, n, t, &sink, &dummy); /* warm-up */
        for (int r = 0; r < runs; r++)
            gb[r] = pass(buf, n, t, &sink, &cg[r]);
        qsort(gb, (size_t)runs, sizeof *gb, cmp_double);
        qsort(cg, (size_t)runs, sizeof *cg, cmp_double);
        printf("%s{\"threads\": %d, \"best_gb_s\": %.2f, \"median_gb_s\": %.2f, "
               "\"min_gb_s\": %.2f, \"cpu_best_gb_s\": %.2f, "
               "\"cpu_median_gb_s\": %.2f}", a ? ", " : "", t, gb[runs - 1],
               gb[runs / 2], gb[0], cg[runs - 1], cg[runs / 2]);
    }
    printf("], \"checksum\": %g}\n", (double)sink);
    free(buf);
    return 0;
}
