/*
 * options.c - gpt_generate()'s JSON options and gpt_detokenize()'s id
 * arrays (see options.h).  Values are range-checked here with messages that
 * name the key; checks that need the model (max_tokens against the context)
 * are left to gpt_gen_options_check().
 */
#include "options.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The literal of a number, shortened, for "(got ...)". */
static void number_text(const gj_number *n, char *buf, size_t buflen)
{
    size_t k = n->text_len < 24 ? n->text_len : 24;
    snprintf(buf, buflen, "%.*s%s", (int)k, n->text,
             n->text_len > k ? "..." : "");
}

enum key_id { K_MAX_TOKENS, K_TEMPERATURE, K_TOP_K, K_TOP_P, K_SEED, K_STOP,
              K_COUNT };
static const char *const key_names[K_COUNT] = {
    "max_tokens", "temperature", "top_k", "top_p", "seed", "stop"};

/* Reads a number value for key; -1 after writing a message. */
static int read_number(gj_reader *r, const char *key, gj_number *n,
                       const char *want, char *err, size_t errlen)
{
    gj_kind k = gj_peek(r);
    if (k != GJ_NUMBER) {
        if (k == GJ_INVALID || k == GJ_END) {
            gj_literal(r, err, errlen); /* writes the syntax error */
            return -1;
        }
        msg(err, errlen, "%s must be %s, not %s", key, want, gj_kind_name(k));
        return -1;
    }
    return gj_number_parse(r, n, err, errlen);
}

/* An integer in [lo, hi] for an int field. */
static int read_int(gj_reader *r, const char *key, int lo, int *out,
                    char *err, size_t errlen)
{
    gj_number n;
    char got[32];
    if (read_number(r, key, &n, "an integer", err, errlen) != 0)
        return -1;
    number_text(&n, got, sizeof got);
    if (!n.is_integer) {
        msg(err, errlen, "%s must be an integer (got %s)", key, got);
        return -1;
    }
    if (n.negative && n.magnitude != 0 && lo >= 0) {
        msg(err, errlen, "%s must be >= %d (got %s)", key, lo, got);
        return -1;
    }
    if (!n.fits_u64 || n.magnitude > (uint64_t)INT_MAX) {
        msg(err, errlen, "%s is too large (got %s; at most %d)", key, got,
            INT_MAX);
        return -1;
    }
    *out = (int)n.magnitude;
    return 0;
}

static int read_seed(gj_reader *r, uint64_t *out, char *err, size_t errlen)
{
    gj_number n;
    char got[32];
    if (read_number(r, "seed", &n, "an integer", err, errlen) != 0)
        return -1;
    number_text(&n, got, sizeof got);
    if (!n.is_integer) {
        msg(err, errlen, "seed must be an integer (got %s)", got);
        return -1;
    }
    /* PostgreSQL's seed is a bigint handed to the core as uint64_t, so a
     * negative seed means its two's-complement value; also accept the
     * unsigned range for callers who think in uint64. */
    if (!n.fits_u64 || (n.negative && n.magnitude > (uint64_t)1 << 63)) {
        msg(err, errlen,
            "seed is out of range (got %s; from -2^63 to 2^64-1)", got);
        return -1;
    }
    *out = n.negative ? (uint64_t)0 - n.magnitude : n.magnitude;
    return 0;
}

static int read_double(gj_reader *r, const char *key, double *out,
                       char *err, size_t errlen)
{
    gj_number n;
    if (read_number(r, key, &n, "a number", err, errlen) != 0)
        return -1;
    if (!isfinite(n.value)) {
        char got[32];
        number_text(&n, got, sizeof got);
        msg(err, errlen, "%s is out of range (got %s)", key, got);
        return -1;
    }
    *out = n.value;
    return 0;
}

/* One stop string; stored in o->stop[o->n_stop++]. */
static int read_stop_string(gj_reader *r, gpt_gen_options *o, char *err,
                            size_t errlen)
{
    char *s;
    size_t len;
    if (o->n_stop >= GPT_MAX_STOP) {
        msg(err, errlen, "stop has more than %d strings", GPT_MAX_STOP);
        return -1;
    }
    if (gj_string(r, &s, &len, err, errlen) != 0)
        return -1;
    if (len == 0) {
        free(s);
        msg(err, errlen, "stop strings must not be empty");
        return -1;
    }
    if (memchr(s, '\0', len)) {
        free(s);
        msg(err, errlen, "stop strings must not contain \\u0000");
        return -1;
    }
    o->stop[o->n_stop++] = s;
    return 0;
}

static int read_stop(gj_reader *r, gpt_gen_options *o, char *err,
                     size_t errlen)
{
    gj_kind k = gj_peek(r);
    if (k == GJ_STRING)
        return read_stop_string(r, o, err, errlen);
    if (k != GJ_ARRAY) {
        if (k == GJ_INVALID || k == GJ_END)
            return gj_literal(r, err, errlen), -1;
        msg(err, errlen, "stop must be a string or an array of strings, not %s",
            gj_kind_name(k));
        return -1;
    }
    gj_accept(r, '[');
    if (gj_accept(r, ']'))
        return 0;
    for (;;) {
        k = gj_peek(r);
        if (k != GJ_STRING) {
            if (k == GJ_INVALID || k == GJ_END)
                return gj_literal(r, err, errlen), -1;
            msg(err, errlen, "stop must be a string or an array of strings, "
                "not an array holding %s", gj_kind_name(k));
            return -1;
        }
        if (read_stop_string(r, o, err, errlen) != 0)
            return -1;
        if (gj_accept(r, ']'))
            return 0;
        if (!gj_accept(r, ',')) {
            msg(err, errlen, "invalid JSON at byte %zu: expected ',' or ']'",
                gj_offset(r));
            return -1;
        }
    }
}

static int parse_member(gj_reader *r, gpt_gen_options *o, int *seen,
                        char *err, size_t errlen)
{
    char *key;
    size_t key_len;
    if (gj_peek(r) != GJ_STRING) {
        msg(err, errlen, "invalid JSON at byte %zu: expected a key in quotes",
            gj_offset(r));
        return -1;
    }
    if (gj_string(r, &key, &key_len, err, errlen) != 0)
        return -1;
    int id = -1;
    for (int i = 0; i < K_COUNT; i++)
        if (strlen(key_names[i]) == key_len &&
            memcmp(key, key_names[i], key_len) == 0)
            id = i;
    if (id < 0) {
        char shown[128];
        gj_quote_for_message(key, key_len, shown, sizeof shown);
        free(key);
        msg(err, errlen, "unknown key %s; valid keys are "
            GPT_SQLITE_OPTION_KEYS, shown);
        return -1;
    }
    free(key);
    if (seen[id]) {
        msg(err, errlen, "duplicate key \"%s\"", key_names[id]);
        return -1;
    }
    seen[id] = 1;
    if (!gj_accept(r, ':')) {
        msg(err, errlen, "invalid JSON at byte %zu: expected ':'",
            gj_offset(r));
        return -1;
    }
    if (gj_peek(r) == GJ_NULL) /* null: keep the default */
        return gj_literal(r, err, errlen);

    double d;
    switch (id) {
    case K_MAX_TOKENS:
        return read_int(r, "max_tokens", 0, &o->max_tokens, err, errlen);
    case K_TOP_K:
        return read_int(r, "top_k", 0, &o->top_k, err, errlen);
    case K_SEED:
        return read_seed(r, &o->seed, err, errlen);
    case K_TEMPERATURE:
        if (read_double(r, "temperature", &d, err, errlen) != 0)
            return -1;
        if (d < 0) {
            msg(err, errlen, "temperature must be >= 0 (got %g)", d);
            return -1;
        }
        o->temperature = d;
        return 0;
    case K_TOP_P:
        if (read_double(r, "top_p", &d, err, errlen) != 0)
            return -1;
        if (!(d > 0 && d <= 1)) {
            msg(err, errlen, "top_p must be in (0, 1] (got %g)", d);
            return -1;
        }
        o->top_p = d;
        return 0;
    default:
        return read_stop(r, o, err, errlen);
    }
}

int gpt_sqlite_parse_options(const char *json, size_t len,
                             gpt_gen_options *out, char *errbuf,
                             size_t errlen)
{
    gj_reader r;
    int seen[K_COUNT] = {0};
    gpt_gen_options_init(out);
    if (errbuf && errlen)
        errbuf[0] = '\0';
    gj_init(&r, json ? json : "", json ? len : 0);
    gj_kind k = gj_peek(&r);
    if (k != GJ_OBJECT) {
        if (k == GJ_INVALID || k == GJ_END)
            msg(errbuf, errlen,
                "invalid JSON at byte %zu: expected an object such as "
                "{\"max_tokens\": 20}", gj_offset(&r));
        else
            msg(errbuf, errlen, "must be a JSON object, not %s",
                gj_kind_name(k));
        return -1;
    }
    gj_accept(&r, '{');
    if (!gj_accept(&r, '}')) {
        for (;;) {
            if (parse_member(&r, out, seen, errbuf, errlen) != 0)
                goto bad;
            if (gj_accept(&r, '}'))
                break;
            if (!gj_accept(&r, ',')) {
                msg(errbuf, errlen,
                    "invalid JSON at byte %zu: expected ',' or '}'",
                    gj_offset(&r));
                goto bad;
            }
        }
    }
    if (gj_finish(&r, errbuf, errlen) != 0)
        goto bad;
    return 0;
bad:
    gpt_sqlite_options_free(out);
    return -1;
}

void gpt_sqlite_options_free(gpt_gen_options *o)
{
    for (int i = 0; i < o->n_stop && i < GPT_MAX_STOP; i++) {
        free((void *)o->stop[i]);
        o->stop[i] = NULL;
    }
    o->n_stop = 0;
}

int gpt_sqlite_parse_ids(const char *json, size_t len, int32_t **ids,
                         size_t *n_ids, char *errbuf, size_t errlen)
{
    gj_reader r;
    int32_t *v = NULL;
    size_t n = 0, cap = 0;
    *ids = NULL;
    *n_ids = 0;
    gj_init(&r, json ? json : "", json ? len : 0);
    gj_kind k = gj_peek(&r);
    if (k != GJ_ARRAY) {
        if (k == GJ_INVALID || k == GJ_END)
            msg(errbuf, errlen, "invalid JSON at byte %zu: expected an array "
                "of token ids such as [464, 3797]", gj_offset(&r));
        else
            msg(errbuf, errlen, "expected a JSON array of token ids, not %s",
                gj_kind_name(k));
        return -1;
    }
    gj_accept(&r, '[');
    if (!gj_accept(&r, ']')) {
        for (;;) {
            gj_number num;
            k = gj_peek(&r);
            if (k != GJ_NUMBER) {
                if (k == GJ_INVALID || k == GJ_END)
                    gj_literal(&r, errbuf, errlen);
                else
                    msg(errbuf, errlen, "element %zu is %s, not a token id",
                        n, gj_kind_name(k));
                goto bad;
            }
            if (gj_number_parse(&r, &num, errbuf, errlen) != 0)
                goto bad;
            char got[32];
            number_text(&num, got, sizeof got);
            if (!num.is_integer) {
                msg(errbuf, errlen, "element %zu is not an integer (got %s)",
                    n, got);
                goto bad;
            }
            if (!num.fits_u64 ||
                num.magnitude > (num.negative ? (uint64_t)INT32_MAX + 1
                                              : (uint64_t)INT32_MAX)) {
                msg(errbuf, errlen, "element %zu is out of range (got %s)",
                    n, got);
                goto bad;
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                int32_t *nv = realloc(v, ncap * sizeof *nv);
                if (!nv) {
                    msg(errbuf, errlen, "out of memory");
                    goto bad;
                }
                v = nv;
                cap = ncap;
            }
            v[n++] = num.negative ? (int32_t)(-(int64_t)num.magnitude)
                                  : (int32_t)num.magnitude;
            if (gj_accept(&r, ']'))
                break;
            if (!gj_accept(&r, ',')) {
                msg(errbuf, errlen,
                    "invalid JSON at byte %zu: expected ',' or ']'",
                    gj_offset(&r));
                goto bad;
            }
        }
    }
    if (gj_finish(&r, errbuf, errlen) != 0)
        goto bad;
    if (!v)
        v = malloc(sizeof *v); /* a valid pointer for an empty array */
    if (!v) {
        msg(errbuf, errlen, "out of memory");
        return -1;
    }
    *ids = v;
    *n_ids = n;
    return 0;
bad:
    free(v);
    return -1;
}

void gpt_sqlite_strings_free(char **strs, size_t *lens, size_t n)
{
    if (strs)
        for (size_t i = 0; i < n; i++)
            free(strs[i]);
    free(strs);
    free(lens);
}

int gpt_sqlite_parse_strings(const char *json, size_t len, int allow_null,
                             char ***strs, size_t **lens, size_t *n_out,
                             char *errbuf, size_t errlen)
{
    gj_reader r;
    char **v = NULL;
    size_t *l = NULL, n = 0, cap = 0;
    const char *want = allow_null ? "a string or null" : "a string";
    *strs = NULL;
    *lens = NULL;
    *n_out = 0;
    gj_init(&r, json ? json : "", json ? len : 0);
    gj_kind k = gj_peek(&r);
    if (k != GJ_ARRAY) {
        if (k == GJ_INVALID || k == GJ_END)
            msg(errbuf, errlen, "invalid JSON at byte %zu: expected an array "
                "of strings such as [\"yes\", \"no\"]", gj_offset(&r));
        else
            msg(errbuf, errlen, "expected a JSON array of strings, not %s",
                gj_kind_name(k));
        return -1;
    }
    gj_accept(&r, '[');
    if (!gj_accept(&r, ']')) {
        for (;;) {
            k = gj_peek(&r);
            if (k != GJ_STRING && !(allow_null && k == GJ_NULL)) {
                if (k == GJ_INVALID || k == GJ_END)
                    gj_literal(&r, errbuf, errlen);
                else
                    msg(errbuf, errlen, "element %zu is %s, not %s", n,
                        gj_kind_name(k), want);
                goto bad;
            }
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 16;
                char **nv = realloc(v, ncap * sizeof *nv);
                if (nv)
                    v = nv;
                size_t *nl = nv ? realloc(l, ncap * sizeof *nl) : NULL;
                if (!nl) {
                    msg(errbuf, errlen, "out of memory");
                    goto bad;
                }
                l = nl;
                cap = ncap;
            }
            v[n] = NULL;
            l[n] = 0;
            if (k == GJ_NULL) {
                if (gj_literal(&r, errbuf, errlen) != 0)
                    goto bad;
            } else if (gj_string(&r, &v[n], &l[n], errbuf, errlen) != 0) {
                goto bad;
            }
            n++;
            if (gj_accept(&r, ']'))
                break;
            if (!gj_accept(&r, ',')) {
                msg(errbuf, errlen,
                    "invalid JSON at byte %zu: expected ',' or ']'",
                    gj_offset(&r));
                goto bad;
            }
        }
    }
    if (gj_finish(&r, errbuf, errlen) != 0)
        goto bad;
    /* Valid pointers for an empty array. */
    if (!v)
        v = malloc(sizeof *v);
    if (!l)
        l = malloc(sizeof *l);
    if (!v || !l) {
        msg(errbuf, errlen, "out of memory");
        goto bad;
    }
    *strs = v;
    *lens = l;
    *n_out = n;
    return 0;
bad:
    gpt_sqlite_strings_free(v, l, n);
    return -1;
}
