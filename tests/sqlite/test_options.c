/*
 * test_options.c - the SQLite module's JSON options, id-array and
 * string-array parsers (sqlite_ext/options.c), checked without SQLite:
 * every accepted form, every error message, and a pass over random and
 * mutated bytes that must never crash (run it under SANITIZE=1 to check
 * memory too).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

static int failures, checks;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        checks++;                                                         \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);          \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* Parses json; expects an error equal to want_err, or success when NULL. */
static void expect(const char *json, const char *want_err)
{
    gpt_gen_options o;
    char err[512];
    int rc = gpt_sqlite_parse_options(json, strlen(json), &o, err, sizeof err);
    if (want_err) {
        CHECK(rc != 0, "%s: accepted, wanted error %s", json, want_err);
        if (rc != 0)
            CHECK(strcmp(err, want_err) == 0, "%s: error\n  got:  %s\n  want: %s",
                  json, err, want_err);
        CHECK(o.n_stop == 0, "%s: stop strings left after an error", json);
    } else {
        CHECK(rc == 0, "%s: rejected: %s", json, err);
    }
    if (rc == 0)
        gpt_sqlite_options_free(&o);
}

static gpt_gen_options parse_ok(const char *json)
{
    gpt_gen_options o;
    char err[512];
    int rc = gpt_sqlite_parse_options(json, strlen(json), &o, err, sizeof err);
    CHECK(rc == 0, "%s: rejected: %s", json, err);
    return o;
}

static void test_values(void)
{
    gpt_gen_options d, o;
    gpt_gen_options_init(&d);
    o = parse_ok("{}");
    CHECK(o.max_tokens == 64 && o.temperature == 0.8 && o.top_k == 40 &&
          o.top_p == 0.95 && o.seed == 0 && o.n_stop == 0,
          "defaults differ from PostgreSQL's");
    CHECK(o.max_tokens == d.max_tokens && o.top_k == d.top_k,
          "defaults differ from the core's");

    o = parse_ok(" {\"max_tokens\": 5, \"temperature\": 0, \"top_k\": 0,"
                 " \"top_p\": 1, \"seed\": 42, \"stop\": \"\\n\"} ");
    CHECK(o.max_tokens == 5 && o.temperature == 0 && o.top_k == 0 &&
          o.top_p == 1 && o.seed == 42 && o.n_stop == 1 &&
          strcmp(o.stop[0], "\n") == 0, "all keys");
    gpt_sqlite_options_free(&o);

    o = parse_ok("{\"temperature\": 0.8e0, \"top_p\": 9.5E-1}");
    CHECK(o.temperature == 0.8 && o.top_p == 0.95, "exponents");

    o = parse_ok("{\"stop\": [\"a\", \"\\u884c\\u6743\", \"\\ud83d\\ude00\"]}");
    CHECK(o.n_stop == 3 && strcmp(o.stop[1], "行权") == 0 &&
          strcmp(o.stop[2], "\xF0\x9F\x98\x80") == 0, "stop array, escapes");
    gpt_sqlite_options_free(&o);

    o = parse_ok("{\"stop\": [], \"seed\": -1}");
    CHECK(o.n_stop == 0 && o.seed == UINT64_MAX, "empty stop, seed -1");
    o = parse_ok("{\"seed\": 18446744073709551615}");
    CHECK(o.seed == UINT64_MAX, "seed 2^64-1");
    o = parse_ok("{\"seed\": -9223372036854775808}");
    CHECK(o.seed == (uint64_t)1 << 63, "seed -2^63");
    o = parse_ok("{\"max_tokens\": null, \"stop\": null, \"seed\": null}");
    CHECK(o.max_tokens == 64 && o.n_stop == 0 && o.seed == 0, "nulls");
    o = parse_ok("{\"max_tokens\": -0}");
    CHECK(o.max_tokens == 0, "-0");
}

static void test_errors(void)
{
    const char *keys = "; valid keys are max_tokens, temperature, top_k, "
                       "top_p, seed, stop";
    char want[256];
    snprintf(want, sizeof want, "unknown key \"temprature\"%s", keys);
    expect("{\"temprature\": 1}", want);
    snprintf(want, sizeof want, "unknown key \"\"%s", keys);
    expect("{\"\": 1}", want);
    snprintf(want, sizeof want, "unknown key \"a\\\"b\\u000a\"%s", keys);
    expect("{\"a\\\"b\\n\": 1}", want);
    snprintf(want, sizeof want, "unknown key \"MAX_TOKENS\"%s", keys);
    expect("{\"MAX_TOKENS\": 1}", want);

    expect("", "invalid JSON at byte 0: expected an object such as "
               "{\"max_tokens\": 20}");
    expect("nope", "invalid JSON at byte 0: expected an object such as "
                   "{\"max_tokens\": 20}");
    expect("[1]", "must be a JSON object, not an array");
    expect("42", "must be a JSON object, not a number");
    expect("{", "invalid JSON at byte 1: expected a key in quotes");
    expect("{\"seed\"}", "invalid JSON at byte 7: expected ':'");
    expect("{\"seed\": 1,}", "invalid JSON at byte 11: expected a key in quotes");
    expect("{\"seed\": 1", "invalid JSON at byte 10: expected ',' or '}'");
    expect("{\"seed\": 1} x", "invalid JSON at byte 12: unexpected text after "
                             "the value");
    expect("{'seed': 1}", "invalid JSON at byte 1: expected a key in quotes");
    expect("{\"seed\": 01}", "invalid JSON at byte 10: expected ',' or '}'");
    expect("{\"seed\": 1.}", "invalid JSON at byte 11: expected a digit after '.'");
    expect("{\"seed\": +1}", "invalid JSON at byte 9: expected a value");
    expect("{\"seed\": 1, \"seed\": 2}", "duplicate key \"seed\"");

    expect("{\"max_tokens\": -1}", "max_tokens must be >= 0 (got -1)");
    expect("{\"max_tokens\": 1.5}", "max_tokens must be an integer (got 1.5)");
    expect("{\"max_tokens\": 1e3}", "max_tokens must be an integer (got 1e3)");
    expect("{\"max_tokens\": \"10\"}",
           "max_tokens must be an integer, not a string");
    expect("{\"max_tokens\": true}",
           "max_tokens must be an integer, not a boolean");
    expect("{\"max_tokens\": 99999999999}",
           "max_tokens is too large (got 99999999999; at most 2147483647)");
    expect("{\"top_k\": -5}", "top_k must be >= 0 (got -5)");
    expect("{\"temperature\": -0.5}", "temperature must be >= 0 (got -0.5)");
    expect("{\"temperature\": 1e999}",
           "temperature is out of range (got 1e999)");
    expect("{\"temperature\": \"hot\"}",
           "temperature must be a number, not a string");
    expect("{\"top_p\": 0}", "top_p must be in (0, 1] (got 0)");
    expect("{\"top_p\": 1.01}", "top_p must be in (0, 1] (got 1.01)");
    expect("{\"top_p\": -1}", "top_p must be in (0, 1] (got -1)");
    expect("{\"seed\": 1.5}", "seed must be an integer (got 1.5)");
    expect("{\"seed\": 18446744073709551616}",
           "seed is out of range (got 18446744073709551616; from -2^63 to "
           "2^64-1)");
    expect("{\"seed\": -9223372036854775809}",
           "seed is out of range (got -9223372036854775809; from -2^63 to "
           "2^64-1)");
    expect("{\"stop\": 5}",
           "stop must be a string or an array of strings, not a number");
    expect("{\"stop\": [\"a\", 5]}",
           "stop must be a string or an array of strings, not an array "
           "holding a number");
    expect("{\"stop\": [\"a\"}", "invalid JSON at byte 13: expected ',' or ']'");
    expect("{\"stop\": \"\"}", "stop strings must not be empty");
    expect("{\"stop\": [\"\\u0000\"]}", "stop strings must not contain \\u0000");
    expect("{\"stop\": [\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\","
           "\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]}",
           "stop has more than 16 strings");
    expect("{\"stop\": \"\\ud800\"}",
           "invalid JSON at byte 10: lone surrogate in a \\u escape");
    expect("{\"stop\": \"\\x\"}",
           "invalid JSON at byte 10: invalid escape in a string");
    expect("{\"stop\": \"a\nb\"}",
           "invalid JSON at byte 11: control character in a string");
    expect("{\"stop\": \"\xff\"}",
           "invalid JSON at byte 10: invalid UTF-8 in a string");
    expect("{\"stop\": \"abc", "invalid JSON at byte 13: unterminated string");
}

static void test_ids(void)
{
    int32_t *ids;
    size_t n;
    char err[256];
    CHECK(gpt_sqlite_parse_ids("[464, 3797 ,0]", 14, &ids, &n, err,
                               sizeof err) == 0 &&
          n == 3 && ids[0] == 464 && ids[1] == 3797 && ids[2] == 0,
          "ids: %s", err);
    free(ids);
    CHECK(gpt_sqlite_parse_ids(" [ ] ", 5, &ids, &n, err, sizeof err) == 0 &&
          n == 0, "empty ids");
    free(ids);
    CHECK(gpt_sqlite_parse_ids("[-1]", 4, &ids, &n, err, sizeof err) == 0 &&
          n == 1 && ids[0] == -1, "negative id (the core rejects it)");
    free(ids);
    struct { const char *in, *err; } bad[] = {
        {"", "invalid JSON at byte 0: expected an array of token ids such as "
             "[464, 3797]"},
        {"{}", "expected a JSON array of token ids, not an object"},
        {"[1,]", "invalid JSON at byte 3: expected a value"},
        {"[1 2]", "invalid JSON at byte 3: expected ',' or ']'"},
        {"[1.5]", "element 0 is not an integer (got 1.5)"},
        {"[1, \"2\"]", "element 1 is a string, not a token id"},
        {"[1, null]", "element 1 is null, not a token id"},
        {"[2147483648]", "element 0 is out of range (got 2147483648)"},
        {"[1] [2]", "invalid JSON at byte 4: unexpected text after the value"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = gpt_sqlite_parse_ids(bad[i].in, strlen(bad[i].in), &ids, &n,
                                      err, sizeof err);
        CHECK(rc != 0 && strcmp(err, bad[i].err) == 0,
              "ids %s:\n  got:  %s\n  want: %s", bad[i].in,
              rc ? err : "(accepted)", bad[i].err);
        if (rc == 0)
            free(ids);
    }
}

static void test_strings(void)
{
    char **v;
    size_t *l, n;
    char err[256];
    const char *doc = "[\"a\", null, \"\\u884c\\u0000x\", \"\"]";
    CHECK(gpt_sqlite_parse_strings(doc, strlen(doc), 1, &v, &l, &n, err,
                                   sizeof err) == 0 && n == 4 &&
          strcmp(v[0], "a") == 0 && l[0] == 1 && v[1] == NULL &&
          l[2] == 5 && memcmp(v[2], "\xE8\xA1\x8C\0x", 5) == 0 &&
          l[3] == 0 && v[3] && v[3][0] == '\0', "strings: %s", err);
    if (n == 4)
        gpt_sqlite_strings_free(v, l, n);
    CHECK(gpt_sqlite_parse_strings(" [ ] ", 5, 0, &v, &l, &n, err,
                                   sizeof err) == 0 && n == 0 && v && l,
          "empty strings");
    gpt_sqlite_strings_free(v, l, n);
    struct { const char *in, *err; int allow_null; } bad[] = {
        {"", "invalid JSON at byte 0: expected an array of strings such as "
             "[\"yes\", \"no\"]", 1},
        {"{}", "expected a JSON array of strings, not an object", 1},
        {"\"a\"", "expected a JSON array of strings, not a string", 1},
        {"[\"a\",]", "invalid JSON at byte 5: expected a value", 1},
        {"[\"a\" \"b\"]", "invalid JSON at byte 5: expected ',' or ']'", 1},
        {"[\"a\", 1]", "element 1 is a number, not a string or null", 1},
        {"[\"a\", null]", "element 1 is null, not a string", 0},
        {"[[\"a\"]]", "element 0 is an array, not a string", 0},
        {"[\"a\", true]", "element 1 is a boolean, not a string", 0},
        {"[\"a] ", "invalid JSON at byte 5: unterminated string", 1},
        {"[\"a\"] x", "invalid JSON at byte 6: unexpected text after the value",
         1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = gpt_sqlite_parse_strings(bad[i].in, strlen(bad[i].in),
                                          bad[i].allow_null, &v, &l, &n, err,
                                          sizeof err);
        CHECK(rc != 0 && strcmp(err, bad[i].err) == 0,
              "strings %s:\n  got:  %s\n  want: %s", bad[i].in,
              rc ? err : "(accepted)", bad[i].err);
        if (rc == 0)
            gpt_sqlite_strings_free(v, l, n);
    }
}

/* Random bytes and mutations of valid documents: must not crash or leak. */
static void test_noise(void)
{
    static const char *seeds[] = {
        "{\"max_tokens\": 5, \"temperature\": 0.5, \"stop\": [\"a\", \"\\u884c\"]}",
        "{\"seed\": -1, \"top_p\": 1e-1, \"top_k\": 3}",
        "[1, 2, 3, 50256]",
        "[\"The cat\", null, \"\\u884c\\ud83d\\ude00\", \"\"]",
    };
    uint64_t x = 0x9E3779B97F4A7C15u;
    char buf[128];
    for (int iter = 0; iter < 200000; iter++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        const char *s = seeds[x % (sizeof seeds / sizeof *seeds)];
        size_t len = strlen(s);
        memcpy(buf, s, len);
        int edits = 1 + (int)((x >> 8) % 4);
        for (int e = 0; e < edits; e++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            size_t at = (size_t)(x % len);
            buf[at] = (char)(x >> 32);
        }
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t cut = (x & 1) ? len : (size_t)((x >> 1) % (len + 1));
        /* Exact length, no NUL terminator: copy to a heap block of that
         * size so that ASan sees any read past the end. */
        char *heap = malloc(cut ? cut : 1);
        memcpy(heap, buf, cut);
        gpt_gen_options o;
        char err[256];
        if (gpt_sqlite_parse_options(heap, cut, &o, err, sizeof err) == 0)
            gpt_sqlite_options_free(&o);
        int32_t *ids;
        size_t n;
        if (gpt_sqlite_parse_ids(heap, cut, &ids, &n, err, sizeof err) == 0)
            free(ids);
        char **strs;
        size_t *lens;
        if (gpt_sqlite_parse_strings(heap, cut, (int)(x >> 40) & 1, &strs,
                                     &lens, &n, err, sizeof err) == 0)
            gpt_sqlite_strings_free(strs, lens, n);
        free(heap);
    }
    checks++;
}

int main(void)
{
    test_values();
    test_errors();
    test_ids();
    test_strings();
    test_noise();
    printf("test_options: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
