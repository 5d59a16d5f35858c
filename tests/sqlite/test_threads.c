/*
 * test_threads.c - the SQLite module under concurrency, through the public
 * SQLite API as an application would use it.
 *
 *   test_threads MODULE.so MODEL.gguf
 *
 * 1. One connection computes reference results (generations with several
 *    seeds and options, next-token probabilities, tokenizations).
 * 2. N_THREADS threads, each with its own connection, compute them all
 *    again, several times in different orders: every result must be
 *    byte-identical to the reference, and the model must be mapped once.
 * 3. A connection with GPT_THREADS=2 gives the same results as one with 1.
 * 4. sqlite3_interrupt() from another thread stops a running statement
 *    with SQLITE_INTERRUPT within a short time, and the connection works
 *    afterwards.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_THREADS 4
#define N_ROUNDS 3

static const char *queries[] = {
    "SELECT gpt_generate('The cat is lying on the', '{\"max_tokens\": 12}')",
    "SELECT gpt_generate('The cat is lying on the', "
    "'{\"max_tokens\": 12, \"seed\": 7}')",
    "SELECT gpt_generate('Once upon a time', "
    "'{\"max_tokens\": 16, \"temperature\": 0}')",
    "SELECT gpt_generate('讲一个“行权”和“A+”的故事', "
    "'{\"max_tokens\": 10, \"seed\": 3, \"top_k\": 5}')",
    "SELECT gpt_generate('', '{\"max_tokens\": 8, \"top_p\": 0.5}')",
    "SELECT gpt_generate('x<|endoftext|>y', '{\"max_tokens\": 8, \"seed\": 99}')",
    "SELECT group_concat(token_id || ':' || printf('%.17g', prob), ' ') "
    "FROM gpt_next_token_probs('Hello world', 5)",
    "SELECT gpt_tokenize('Hello world 讲一个“行权”和“A+”的故事')",
    "SELECT gpt_token_count('Hello world 讲一个“行权”和“A+”的故事')",
    /* issue 6: batches, streams and scores */
    "SELECT group_concat(idx || ':' || coalesce(completion, 'NULL'), '|') "
    "FROM gpt_generate_each('[\"The cat\", null, \"A dog\", \"\", "
    "\"Once upon\"]', '{\"max_tokens\": 6, \"seed\": 5}')",
    "SELECT group_concat(step || ':' || coalesce(token_id, 'NULL') || ':' || "
    "token || ':' || printf('%.17g', logprob), '|') FROM "
    "gpt_generate_tokens('The cat', '{\"max_tokens\": 9, \"seed\": 2, "
    "\"stop\": \"zzzz\"}')",
    "SELECT group_concat(token_id || ':' || printf('%.17g', logprob), ' ') "
    "FROM gpt_token_logprobs('The cat sat on the mat')",
    "SELECT printf('%.17g %.17g', gpt_score('Hello world'), "
    "gpt_score('Hello', ' world'))",
    "SELECT gpt_choose('The cat', '[\" sat\", \" ran\", \" is\"]')",
};
#define N_QUERIES (sizeof queries / sizeof *queries)

static const char *module_path, *model_path;
static char *reference[N_QUERIES];
static int failures;
static pthread_mutex_t fail_mutex = PTHREAD_MUTEX_INITIALIZER;

static void failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void failf(const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&fail_mutex);
    failures++;
    fprintf(stderr, "FAIL: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&fail_mutex);
}

static sqlite3 *open_conn(void)
{
    sqlite3 *db;
    char *err = NULL;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
        failf("open: %s", sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_enable_load_extension(db, 1);
    if (sqlite3_load_extension(db, module_path, NULL, &err) != SQLITE_OK) {
        failf("load %s: %s", module_path, err ? err : "?");
        exit(1);
    }
    return db;
}

/* Runs a one-value query; returns a malloc'd copy of the value, or NULL
 * with *rc set to the error. */
static char *query(sqlite3 *db, const char *sql, int *rc_out)
{
    sqlite3_stmt *st;
    char *out = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            const unsigned char *t = sqlite3_column_text(st, 0);
            out = strdup(t ? (const char *)t : "(null)");
            rc = SQLITE_OK;
        }
        int rc2 = sqlite3_finalize(st);
        if (rc == SQLITE_DONE || rc == SQLITE_OK)
            rc = rc2;
    }
    if (rc_out)
        *rc_out = rc;
    if (rc != SQLITE_OK) {
        free(out);
        return NULL;
    }
    return out;
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    sqlite3 *db = arg ? open_conn() : NULL;
    for (int round = 0; round < N_ROUNDS; round++) {
        for (size_t j = 0; j < N_QUERIES; j++) {
            /* each thread and round walks the queries in another order */
            size_t q = (j * 5 + (size_t)id + (size_t)round * 3) % N_QUERIES;
            int rc;
            char *got = query(db, queries[q], &rc);
            if (!got)
                failf("thread %d: %s: %s", id, queries[q], sqlite3_errmsg(db));
            else if (strcmp(got, reference[q]) != 0)
                failf("thread %d: %s:\n  got:  %s\n  want: %s", id, queries[q],
                      got, reference[q]);
            free(got);
        }
    }
    sqlite3_close(db);
    return NULL;
}

/* How many separate mappings of the model file this process has. */
static int count_mappings(void)
{
    char real[4096], line[8192];
    if (!realpath(model_path, real))
        return -1;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return -1;
    int n = 0;
    unsigned long prev_end = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        size_t ll = strlen(line), rl = strlen(real);
        if (ll < rl || strcmp(line + ll - rl, real) != 0)
            continue;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
            continue;
        if (lo != prev_end) /* adjacent pieces belong to one mapping */
            n++;
        prev_end = hi;
    }
    fclose(f);
    return n;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

typedef struct {
    sqlite3 *db;
    int delay_ms;
    double at_ms;
} interrupter;

static void *interrupt_later(void *arg)
{
    interrupter *it = arg;
    usleep((useconds_t)it->delay_ms * 1000);
    it->at_ms = now_ms();
    sqlite3_interrupt(it->db);
    return NULL;
}

static void test_interrupt(void)
{
    sqlite3 *db = open_conn();
    /* Many generations in one statement; the interrupt lands inside one
     * of them almost always (they are nearly all of the time). */
    const char *sql =
        "WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL "
        "SELECT value + 1 FROM s WHERE value < 1000000) "
        "SELECT count(gpt_generate(printf('%0100d', 0), "
        "json_object('seed', value, 'max_tokens', 20))) FROM s";
    interrupter it = {db, 300, 0};
    pthread_t t;
    pthread_create(&t, NULL, interrupt_later, &it);
    int rc;
    char *got = query(db, sql, &rc);
    double done = now_ms();
    pthread_join(t, NULL);
    if (got || rc != SQLITE_INTERRUPT)
        failf("interrupt: rc %d (%s), want SQLITE_INTERRUPT", rc,
              got ? got : sqlite3_errmsg(db));
    else if (done - it.at_ms > 200)
        failf("interrupt: took %.0f ms after sqlite3_interrupt", done - it.at_ms);
    else
        printf("interrupt: \"%s\" %.1f ms after sqlite3_interrupt\n",
               sqlite3_errmsg(db), done - it.at_ms);
    free(got);

    /* Interrupted before the call starts: the function notices at once. */
    got = query(db, "SELECT gpt_generate('ok', '{\"max_tokens\": 2}')", &rc);
    if (!got)
        failf("after interrupt: %s", sqlite3_errmsg(db));
    free(got);
    sqlite3_close(db);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODULE.so MODEL.gguf\n", argv[0]);
        return 2;
    }
    module_path = argv[1];
    model_path = argv[2];
    setenv("GPT_MODEL", model_path, 1);
    setenv("GPT_THREADS", "1", 1);

    sqlite3 *db = open_conn();
    for (size_t q = 0; q < N_QUERIES; q++) {
        int rc;
        reference[q] = query(db, queries[q], &rc);
        if (!reference[q]) {
            failf("reference %s: %s", queries[q], sqlite3_errmsg(db));
            return 1;
        }
    }

    /* A connection using two threads per forward pass. */
    setenv("GPT_THREADS", "2", 1);
    sqlite3 *db2 = open_conn();
    setenv("GPT_THREADS", "1", 1);
    for (size_t q = 0; q < N_QUERIES; q++) {
        char *got = query(db2, queries[q], NULL);
        if (!got || strcmp(got, reference[q]) != 0)
            failf("GPT_THREADS=2: %s:\n  got:  %s\n  want: %s", queries[q],
                  got ? got : sqlite3_errmsg(db2), reference[q]);
        free(got);
    }
    sqlite3_close(db2);

    pthread_t t[N_THREADS];
    for (long i = 0; i < N_THREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    /* While the workers run, every connection uses one mapping. */
    usleep(200000);
    int maps = count_mappings();
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(t[i], NULL);
    if (maps != 1)
        failf("the model is mapped %d times, want once", maps);

    test_interrupt();

    sqlite3_close(db);
    for (size_t q = 0; q < N_QUERIES; q++)
        free(reference[q]);
    printf("%d threads x %d rounds x %zu queries, %s\n", N_THREADS, N_ROUNDS,
           N_QUERIES, failures ? "FAILED" : "all identical");
    return failures ? 1 : 0;
}
