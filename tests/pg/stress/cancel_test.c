/*
 * cancel_test.c - 200 cancels at random moments on a real server.
 *
 * One connection (the worker) runs calls on slow.gguf, a 124M-shaped
 * model whose calls take seconds: a long prompt (prefill), a short prompt
 * with many tokens (decode) and gpt_generate(text[]) (a batch).  A second
 * connection (the controller) waits a random time, then calls
 * pg_cancel_backend() on the worker.  For every cancel that lands (the call
 * fails with 57014) it measures the time from sending pg_cancel_backend to
 * the call's error arriving, and checks that the backend then answers a
 * query (the same backend: no crash, no reconnect).  The worker's resident
 * memory (/proc/PID/status of the backend, so the test must run as root or
 * as the server's user) is read after a warm-up and at the end.
 *
 * Pass: every cancel within --max-ms (200), growth of VmRSS under --max-rss-kb
 * (1024), the backend's results unchanged after the cancels.  Prints the
 * latency percentiles either way, so that a loaded machine shows up as
 * numbers rather than as a loosened limit.
 *
 * Connection settings come from the PG* environment variables
 * (tests/pg/run_regress.sh sets them).  Usage:
 *   cancel_test [--cancels N] [--max-ms MS] [--max-rss-kb KB] [--seed S]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static int failures = 0;

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
sleep_ms(double ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t) (ms / 1e3);
    ts.tv_nsec = (long) ((ms - ts.tv_sec * 1e3) * 1e6);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void
die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("cancel_test: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void
fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fputs("cancel_test: FAIL ", stdout);
    vfprintf(stdout, fmt, ap);
    fputc('\n', stdout);
    va_end(ap);
    failures++;
}

/* Runs a query that must succeed and returns the first value (malloc'd). */
static char *
query1(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    char *v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    v = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

/* VmRSS (and its anonymous and file parts), kB, of a process. */
static void
read_rss(int pid, long *rss, long *anon, long *file)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", pid);
    f = fopen(path, "r");
    if (!f)
        die("cannot read %s (%s): run as root or as the server's user",
            path, strerror(errno));
    *rss = *anon = *file = -1;
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "VmRSS: %ld", rss);
        sscanf(line, "RssAnon: %ld", anon);
        sscanf(line, "RssFile: %ld", file);
    }
    fclose(f);
    if (*rss < 0)
        die("no VmRSS in %s", path);
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}

static double
percentile(const double *sorted, int n, double p)
{
    int i = (int) (p / 100.0 * (n - 1) + 0.5);

    return sorted[i < 0 ? 0 : i >= n ? n - 1 : i];
}

enum { K_PREFILL, K_DECODE, K_BATCH, N_KINDS };
static const char *const kind_name[N_KINDS] = {"prefill", "decode", "batch"};

/* The SQL of one call of a kind.  Prompts start with a random number so
 * that no call reuses the KV cache of the previous one: a prefill must
 * really run the whole prompt. */
static void
make_call(int kind, unsigned r, int short_run, char *sql, size_t size)
{
    switch (kind) {
    case K_PREFILL: /* about 700 prompt tokens: seconds of prefill */
        snprintf(sql, size,
                 "SELECT gpt_generate('%u ' || repeat('a long prompt to read ', 140), "
                 "max_tokens => %d, seed => %u)", r, short_run ? 4 : 32, r);
        break;
    case K_DECODE: /* a few prompt tokens, then hundreds of decode steps */
        snprintf(sql, size,
                 "SELECT gpt_generate('%u Once upon a time', max_tokens => %d, "
                 "seed => %u)", r, short_run ? 16 : 600, r);
        break;
    default: /* six prompts decoded together */
        snprintf(sql, size,
                 "SELECT gpt_generate(ARRAY['%u The cat', 'A dog', "
                 "repeat('word ', 40), 'Hello', 'In the beginning', "
                 "'%u once more'], max_tokens => %d, seed => %u)", r, r,
                 short_run ? 8 : 200, r);
        break;
    }
}

int
main(int argc, char **argv)
{
    int want = 200, max_ms = 200, i, landed = 0, finished_first = 0;
    long max_rss_kb = 1024, rss0, anon0, file0, rss1, anon1, file1;
    long rss_half = -1, anon_half, file_half;
    unsigned seed = 12345;
    int landed_kind[N_KINDS] = {0};
    double *lat;
    PGconn *w, *ctl;
    char *v, *ref, sql[1024], cancel_sql[128];
    int pid;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cancels") == 0 && i + 1 < argc)
            want = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-ms") == 0 && i + 1 < argc)
            max_ms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--max-rss-kb") == 0 && i + 1 < argc)
            max_rss_kb = atol(argv[++i]);
        else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
            seed = (unsigned) strtoul(argv[++i], NULL, 10);
        else
            die("usage: cancel_test [--cancels N] [--max-ms MS] "
                "[--max-rss-kb KB] [--seed S]");
    }
    if (want < 1)
        die("--cancels must be at least 1");
    srand(seed);
    lat = calloc((size_t) want, sizeof *lat);
    if (!lat)
        die("out of memory");

    w = PQconnectdb("application_name=cancel_test_worker");
    ctl = PQconnectdb("application_name=cancel_test_controller");
    if (PQstatus(w) != CONNECTION_OK || PQstatus(ctl) != CONNECTION_OK)
        die("cannot connect: %s%s", PQerrorMessage(w), PQerrorMessage(ctl));
    free(query1(w, "SET gpt.model = 'slow.gguf'"));
    free(query1(w, "SET gpt.threads = 1"));
    v = query1(w, "SELECT pg_backend_pid()");
    pid = atoi(v);
    free(v);
    snprintf(cancel_sql, sizeof cancel_sql, "SELECT pg_cancel_backend(%d)", pid);

    /* Warm-up: every kind runs to the end once, shortened (weights paged
     * in, the backend's KV cache written further than any cancelled call
     * below gets, batch caches made and freed), then is cancelled a few
     * times, so that what follows measures growth, not first use. */
    ref = query1(w, "SELECT gpt_generate('The answer is', max_tokens => 8, "
                    "temperature => 0)");
    for (i = 0; i < N_KINDS; i++) {
        make_call(i, 1u, 1, sql, sizeof sql);
        free(query1(w, sql));
    }
    for (i = 0; i < 2 * N_KINDS; i++) {
        PGresult *r;

        make_call(i % N_KINDS, (unsigned) rand(), 0, sql, sizeof sql);
        if (!PQsendQuery(w, sql))
            die("send: %s", PQerrorMessage(w));
        sleep_ms(100 + rand() % 300);
        free(query1(ctl, cancel_sql));
        while ((r = PQgetResult(w)) != NULL)
            PQclear(r);
    }
    read_rss(pid, &rss0, &anon0, &file0);

    for (i = 0; landed < want && i < want * 2; i++) {
        int kind = rand() % N_KINDS;
        /* a random moment in the first 600 ms: during the prompt for
         * "prefill", between tokens for "decode", in either part of a
         * batch; some land before the call has even started */
        double delay = (double) (rand() % 600), t0, t1;
        PGresult *r, *rest;
        const char *state;

        make_call(kind, (unsigned) rand(), 0, sql, sizeof sql);
        if (!PQsendQuery(w, sql))
            die("send: %s", PQerrorMessage(w));
        sleep_ms(delay);
        t0 = now_ms();
        free(query1(ctl, cancel_sql));
        r = PQgetResult(w);
        t1 = now_ms();
        while ((rest = PQgetResult(w)) != NULL)
            PQclear(rest);
        if (PQstatus(w) != CONNECTION_OK)
            die("the worker's connection was lost after a cancel (%s call, "
                "%.0f ms in): %s", kind_name[kind], delay, PQerrorMessage(w));
        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            finished_first++; /* the call ended before the cancel came */
        } else if (state && strcmp(state, "57014") == 0) {
            lat[landed++] = t1 - t0;
            landed_kind[kind]++;
            if (t1 - t0 >= max_ms)
                fail("cancel %d (%s call, %.0f ms in) took %.1f ms", landed,
                     kind_name[kind], delay, t1 - t0);
        } else {
            fail("%s call: unexpected error %s: %s", kind_name[kind],
                 state ? state : "(none)", PQresultErrorMessage(r));
        }
        PQclear(r);

        /* the backend answers the next query, as the same process */
        v = query1(w, "SELECT pg_backend_pid()::text || ' ' || gpt_token_count('hello world')");
        snprintf(sql, sizeof sql, "%d 2", pid);
        if (strcmp(v, sql) != 0)
            fail("after cancel %d the backend answered '%s', want '%s'",
                 landed, v, sql);
        free(v);
        if (landed == want / 2 && rss_half < 0)
            read_rss(pid, &rss_half, &anon_half, &file_half);
        if (i % 25 == 0) {
            v = query1(w, "SELECT gpt_generate('The answer is', max_tokens => 8, "
                          "temperature => 0)");
            if (strcmp(v, ref) != 0)
                fail("after cancel %d a greedy generation changed: '%s' vs '%s'",
                     landed, v, ref);
            free(v);
        }
    }
    v = query1(w, "SELECT gpt_generate('The answer is', max_tokens => 8, "
                  "temperature => 0)");
    if (strcmp(v, ref) != 0)
        fail("at the end a greedy generation changed: '%s' vs '%s'", v, ref);
    free(v);
    read_rss(pid, &rss1, &anon1, &file1);

    if (landed < want)
        fail("only %d of %d cancels landed during a call (%d calls ended first)",
             landed, want, finished_first);
    if (landed > 0) {
        qsort(lat, (size_t) landed, sizeof *lat, cmp_double);
        printf("cancel_test: %d cancels (prefill %d, decode %d, batch %d; "
               "%d calls ended before their cancel): return after the cancel "
               "min %.1f, median %.1f, p90 %.1f, p99 %.1f, max %.1f ms "
               "(limit %d)\n",
               landed, landed_kind[K_PREFILL], landed_kind[K_DECODE],
               landed_kind[K_BATCH], finished_first, lat[0],
               percentile(lat, landed, 50), percentile(lat, landed, 90),
               percentile(lat, landed, 99), lat[landed - 1], max_ms);
    }
    printf("cancel_test: backend %d VmRSS %ld -> %ld kB (%+ld kB, limit %ld; "
           "anonymous %+ld, file %+ld)\n",
           pid, rss0, rss1, rss1 - rss0, max_rss_kb, anon1 - anon0,
           file1 - file0);
    if (rss_half >= 0)
        printf("cancel_test: VmRSS after %d cancels %ld kB: %+ld kB over the "
               "second half\n", want / 2, rss_half, rss1 - rss_half);
    if (rss1 - rss0 >= max_rss_kb)
        fail("the backend's resident memory grew by %ld kB", rss1 - rss0);

    PQfinish(w);
    PQfinish(ctl);
    free(lat);
    free(ref);
    if (failures) {
        printf("cancel_test: FAILED (%d failures)\n", failures);
        return 1;
    }
    printf("cancel_test: passed\n");
    return 0;
}
