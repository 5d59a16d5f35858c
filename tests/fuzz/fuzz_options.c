/*
 * fuzz_options.c - libFuzzer target for the SQLite module's JSON argument
 * parsers (sqlite_ext/options.c on sqlite_ext/json.c): the options object
 * of gpt_generate(), the id array of gpt_detokenize() and the string arrays
 * of gpt_generate_each() / gpt_choose().  They do not use SQLite, so the
 * target links them with the core only (for gpt_gen_options_init/check and
 * the UTF-8 checker).
 *
 * Input: the first byte chooses the parser (bits 0-1: options, ids,
 * strings, strings with null allowed) and the size of a second, tiny error
 * buffer (bits 2-5: 1 to 16 bytes); the rest is the JSON text, handed over
 * without a NUL terminator.
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - no crash, leak, out-of-bounds read or UB (ASan/UBSan);
 *   - a refusal leaves nothing to free (no stop strings, NULL arrays) and a
 *     message that is non-empty, NUL-terminated, valid UTF-8 and free of
 *     control characters (it becomes the SQL error text);
 *   - the same input with a tiny error buffer is refused the same way, the
 *     message cut to a prefix of the full one, and nothing written past it;
 *   - accepted options pass the core's gpt_gen_options_check (the model-free
 *     part) except for stop strings over 1024 bytes, which only the core
 *     limits; every stop string is non-empty and holds no NUL;
 *   - what was accepted, written back as JSON, parses to the same values
 *     (options, ids, strings: bytes and lengths, \u0000 included).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "options.h"
#include "utf8.h"

enum { MODE_OPTIONS, MODE_IDS, MODE_STRINGS, MODE_STRINGS_NULL };

static void
fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_options: %s: %s\n", what, msg ? msg : "");
    abort();
}

/* A growing output buffer for writing JSON back. */
typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void
put(sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            fail("out of memory", "");
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void putf(sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
putf(sbuf *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n);
}

/* A JSON string literal of s[0..len): quotes, backslashes and control
 * characters escaped, everything else (valid UTF-8) as is. */
static void
put_string(sbuf *b, const char *s, size_t len)
{
    size_t i;

    put(b, "\"", 1);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(b, esc, 6);
        } else {
            put(b, (const char *)&s[i], 1);
        }
    }
    put(b, "\"", 1);
}

static void
check_message(const char *msg, size_t cap)
{
    size_t n = strnlen(msg, cap), i;

    if (n == 0 || n == cap)
        fail("message empty or not terminated", "");
    if (gpt_utf8_valid_prefix(msg, n) != n)
        fail("message is not valid UTF-8", msg);
    for (i = 0; i < n; i++)
        if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
            fail("message has a control character", msg);
}

/* Runs the parser of mode on json; 0 or -1.  Results are released. */
static int
parse_only(int mode, const char *json, size_t len, char *err, size_t errlen)
{
    int rc;

    if (mode == MODE_OPTIONS) {
        gpt_gen_options o;
        rc = gpt_sqlite_parse_options(json, len, &o, err, errlen);
        if (rc == 0)
            gpt_sqlite_options_free(&o);
        else if (o.n_stop != 0)
            fail("stop strings left after a refusal", "");
    } else if (mode == MODE_IDS) {
        int32_t *ids;
        size_t n;
        rc = gpt_sqlite_parse_ids(json, len, &ids, &n, err, errlen);
        if (rc == 0)
            free(ids);
        else if (ids || n)
            fail("ids returned with a refusal", "");
    } else {
        char **s;
        size_t *l, n;
        rc = gpt_sqlite_parse_strings(json, len, mode == MODE_STRINGS_NULL,
                                      &s, &l, &n, err, errlen);
        if (rc == 0)
            gpt_sqlite_strings_free(s, l, n);
        else if (s || l || n)
            fail("strings returned with a refusal", "");
    }
    return rc;
}

static void
check_options(const char *json, size_t len)
{
    gpt_gen_options o, o2;
    gpt_error err;
    char msg[512];
    sbuf b = {0};
    int i, long_stop = 0;

    if (gpt_sqlite_parse_options(json, len, &o, msg, sizeof msg) != 0)
        return;
    for (i = 0; i < o.n_stop; i++) {
        size_t l = strlen(o.stop[i]);
        if (l == 0)
            fail("empty stop string accepted", "");
        if (gpt_utf8_valid_prefix(o.stop[i], l) != l)
            fail("stop string is not valid UTF-8", "");
        if (l > 1024)
            long_stop = 1;
    }
    if (gpt_gen_options_check(NULL, &o, &err) != GPT_OK && !long_stop)
        fail("accepted options fail gpt_gen_options_check", err.message);

    put(&b, "{", 1);
    putf(&b, "\"max_tokens\": %d", o.max_tokens);
    putf(&b, ", \"temperature\": %.17g", o.temperature);
    putf(&b, ", \"top_k\": %d", o.top_k);
    putf(&b, ", \"top_p\": %.17g", o.top_p);
    putf(&b, ", \"seed\": %llu", (unsigned long long)o.seed);
    put(&b, ", \"stop\": [", 11);
    for (i = 0; i < o.n_stop; i++) {
        if (i)
            put(&b, ", ", 2);
        put_string(&b, o.stop[i], strlen(o.stop[i]));
    }
    put(&b, "]}", 2);
    if (gpt_sqlite_parse_options(b.p, b.len, &o2, msg, sizeof msg) != 0)
        fail("accepted options written back are refused", msg);
    if (o2.max_tokens != o.max_tokens || o2.temperature != o.temperature ||
        o2.top_k != o.top_k || o2.top_p != o.top_p || o2.seed != o.seed ||
        o2.n_stop != o.n_stop)
        fail("options written back parse to other values", b.p);
    for (i = 0; i < o.n_stop; i++)
        if (strcmp(o.stop[i], o2.stop[i]) != 0)
            fail("stop string written back differs", b.p);
    gpt_sqlite_options_free(&o2);
    gpt_sqlite_options_free(&o);
    free(b.p);
}

static void
check_ids(const char *json, size_t len)
{
    int32_t *ids, *ids2;
    size_t n, n2, i;
    char msg[512];
    sbuf b = {0};

    if (gpt_sqlite_parse_ids(json, len, &ids, &n, msg, sizeof msg) != 0)
        return;
    if (!ids)
        fail("NULL ids on success", "");
    put(&b, "[", 1);
    for (i = 0; i < n; i++)
        putf(&b, "%s%d", i ? "," : "", (int)ids[i]);
    put(&b, "]", 1);
    if (gpt_sqlite_parse_ids(b.p, b.len, &ids2, &n2, msg, sizeof msg) != 0)
        fail("ids written back are refused", msg);
    if (n2 != n || (n && memcmp(ids, ids2, n * sizeof *ids) != 0))
        fail("ids written back differ", b.p);
    free(ids2);
    free(ids);
    free(b.p);
}

static void
check_strings(const char *json, size_t len, int allow_null)
{
    char **s, **s2, msg[512];
    size_t *l, *l2, n, n2, i;
    sbuf b = {0};

    if (gpt_sqlite_parse_strings(json, len, allow_null, &s, &l, &n, msg,
                                 sizeof msg) != 0)
        return;
    if (!s || !l)
        fail("NULL arrays on success", "");
    put(&b, "[", 1);
    for (i = 0; i < n; i++) {
        if (i)
            put(&b, ",", 1);
        if (!s[i]) {
            if (!allow_null)
                fail("NULL string without allow_null", "");
            put(&b, "null", 4);
            continue;
        }
        if (s[i][l[i]] != '\0')
            fail("string not NUL-terminated", "");
        if (gpt_utf8_valid_prefix(s[i], l[i]) != l[i])
            fail("string is not valid UTF-8", "");
        put_string(&b, s[i], l[i]);
    }
    put(&b, "]", 1);
    if (gpt_sqlite_parse_strings(b.p, b.len, allow_null, &s2, &l2, &n2, msg,
                                 sizeof msg) != 0)
        fail("strings written back are refused", msg);
    if (n2 != n)
        fail("strings written back: another count", b.p);
    for (i = 0; i < n; i++)
        if ((s[i] == NULL) != (s2[i] == NULL) || l[i] != l2[i] ||
            (s[i] && memcmp(s[i], s2[i], l[i]) != 0))
            fail("string written back differs", b.p);
    gpt_sqlite_strings_free(s2, l2, n2);
    gpt_sqlite_strings_free(s, l, n);
    free(b.p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int mode, rc;
    size_t small, len;
    const char *json;
    char msg[512], *tiny;

    if (size == 0)
        return 0;
    mode = data[0] & 3;
    small = 1 + ((data[0] >> 2) & 15);
    json = (const char *)data + 1;
    len = size - 1;

    rc = parse_only(mode, json, len, msg, sizeof msg);
    if (rc != 0 && rc != -1)
        fail("return value is neither 0 nor -1", "");
    if (rc != 0) {
        check_message(msg, sizeof msg);
        /* the same refusal into a buffer of `small` bytes (malloc'd to the
         * byte, so ASan sees a write past it) */
        tiny = malloc(small);
        if (!tiny)
            return 0;
        if (parse_only(mode, json, len, tiny, small) != rc)
            fail("a smaller error buffer changes the result", "");
        if (memchr(tiny, '\0', small) == NULL)
            fail("message in a small buffer not terminated", "");
        if (strncmp(tiny, msg, strlen(tiny)) != 0 ||
            strlen(tiny) != (strlen(msg) < small - 1 ? strlen(msg)
                                                      : small - 1))
            fail("message in a small buffer is not the full one cut short",
                 tiny);
        free(tiny);
        return 0;
    }
    if (mode == MODE_OPTIONS)
        check_options(json, len);
    else if (mode == MODE_IDS)
        check_ids(json, len);
    else
        check_strings(json, len, mode == MODE_STRINGS_NULL);
    return 0;
}
