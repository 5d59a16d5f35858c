/*
 * json.c - strict recursive-descent JSON parser (see json.h).
 *
 * Recursion is bounded by JSON_MAX_DEPTH so hostile input cannot exhaust the
 * stack; every read checks the end of the buffer first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "json.h"

typedef struct parser {
    const char *p, *start, *end;
    gpt_error *err;
} parser;

const char *
json_type_name(json_type t)
{
    switch (t) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}

/* Error at the parser's position, as "line L column C: message". */
static gpt_status
fail(parser *ps, const char *what)
{
    size_t line = 1, col = 1;
    const char *q;

    for (q = ps->start; q < ps->p && q < ps->end; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    return gpt_set_error(ps->err, GPT_ERR_INVALID_ARGUMENT,
                         "invalid JSON at line %zu column %zu: %s", line, col,
                         what);
}

static void
skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
                               *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int
literal(parser *ps, const char *word)
{
    size_t n = strlen(word);

    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return 0;
    ps->p += n;
    return 1;
}

/* A growable byte buffer for decoding strings. */
typedef struct sbuf {
    char *b;
    size_t n, cap;
} sbuf;

static int
sbuf_put(sbuf *s, const char *src, size_t n)
{
    if (s->cap - s->n < n + 1) {
        size_t cap = s->cap ? s->cap : 16;
        char *nb;
        while (cap - s->n < n + 1)
            cap *= 2;
        nb = gpt_realloc(s->b, cap);
        if (!nb)
            return 0;
        s->b = nb;
        s->cap = cap;
    }
    if (n)
        memcpy(s->b + s->n, src, n);
    s->n += n;
    s->b[s->n] = '\0';
    return 1;
}

static int
hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

static size_t
utf8_encode(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Length of the valid UTF-8 sequence at p (shortest form, no surrogates, at
 * most U+10FFFF), or 0. */
static size_t
utf8_valid(const unsigned char *p, size_t avail)
{
    unsigned c = p[0], cp;
    size_t n, i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    if (avail < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return n;
}

static gpt_status
string_fail(parser *ps, sbuf *s, const char *what)
{
    gpt_free(s->b);
    s->b = NULL;
    return fail(ps, what);
}

/* Parses a string; ps->p is at the opening quote. */
static gpt_status
parse_string(parser *ps, char **out, size_t *out_len)
{
    sbuf s = {0};

    ps->p++; /* opening quote */
    if (!sbuf_put(&s, "", 0))
        goto nomem;
    for (;;) {
        const char *run = ps->p;
        char o[4];
        size_t on = 1;

        /* copy a run of plain characters at once */
        while (ps->p < ps->end && *ps->p != '"' && *ps->p != '\\' &&
               (unsigned char)*ps->p >= 0x20) {
            size_t n = utf8_valid((const unsigned char *)ps->p,
                                  (size_t)(ps->end - ps->p));
            if (n == 0)
                return string_fail(ps, &s, "invalid UTF-8 in a string");
            ps->p += n;
        }
        if (!sbuf_put(&s, run, (size_t)(ps->p - run)))
            goto nomem;
        if (ps->p >= ps->end)
            return string_fail(ps, &s, "unterminated string");
        if (*ps->p == '"') {
            ps->p++;
            break;
        }
        if ((unsigned char)*ps->p < 0x20)
            return string_fail(ps, &s, "control character in a string (must "
                                       "be escaped)");
        /* a backslash escape */
        if (ps->end - ps->p < 2)
            return string_fail(ps, &s, "unterminated string");
        switch (ps->p[1]) {
        case '"': o[0] = '"'; break;
        case '\\': o[0] = '\\'; break;
        case '/': o[0] = '/'; break;
        case 'b': o[0] = '\b'; break;
        case 'f': o[0] = '\f'; break;
        case 'n': o[0] = '\n'; break;
        case 'r': o[0] = '\r'; break;
        case 't': o[0] = '\t'; break;
        case 'u': {
            unsigned cp, lo;

            ps->p += 2;
            if (ps->end - ps->p < 4 || !hex4(ps->p, &cp))
                return string_fail(ps, &s, "bad \\u escape (need 4 hex "
                                           "digits)");
            ps->p += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return string_fail(ps, &s, "lone low surrogate in a \\u "
                                           "escape");
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' ||
                    ps->p[1] != 'u' || !hex4(ps->p + 2, &lo) || lo < 0xDC00 ||
                    lo > 0xDFFF)
                    return string_fail(ps, &s, "high surrogate not followed "
                                               "by a low surrogate");
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            on = utf8_encode(cp, o);
            ps->p -= 2; /* undone below */
            break;
        }
        default:
            return string_fail(ps, &s, "unknown escape in a string");
        }
        ps->p += 2;
        if (!sbuf_put(&s, o, on))
            goto nomem;
    }
    *out = s.b;
    *out_len = s.n;
    return GPT_OK;

nomem:
    gpt_free(s.b);
    return gpt_set_error(ps->err, GPT_ERR_NOMEM, "out of memory parsing JSON");
}

static gpt_status
parse_number(parser *ps, json_value *v)
{
    const char *q = ps->p, *num = ps->p;
    int is_int = 1;
    char tmp[64], *endp;
    size_t n;

    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || *q < '0' || *q > '9')
        return fail(ps, "expected a value");
    if (*q == '0') {
        q++;
        if (q < ps->end && *q >= '0' && *q <= '9')
            return fail(ps, "number with a leading zero");
    } else {
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && *q == '.') {
        is_int = 0;
        q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            ps->p = q;
            return fail(ps, "digit expected after the decimal point");
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        is_int = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || *q < '0' || *q > '9') {
            ps->p = q;
            return fail(ps, "digit expected in the exponent");
        }
        while (q < ps->end && *q >= '0' && *q <= '9')
            q++;
    }
    n = (size_t)(q - num);
    if (n >= sizeof tmp)
        return fail(ps, "number too long");
    memcpy(tmp, num, n);
    tmp[n] = '\0';
    v->type = JSON_NUMBER;
    v->number = strtod(tmp, &endp);
    if (is_int) {
        long long ll;
        errno = 0;
        ll = strtoll(tmp, &endp, 10);
        if (errno == 0 && *endp == '\0') {
            v->is_int = 1;
            v->integer = ll;
        }
    }
    ps->p = q;
    return GPT_OK;
}

static gpt_status parse_value(parser *ps, json_value *v, int depth);

static int
member_cmp(const void *a, const void *b)
{
    const json_member *x = *(const json_member *const *)a;
    const json_member *y = *(const json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);

    if (c)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Duplicate keys: sort pointers to the members and compare neighbours
 * (vocab.json has 50k keys, so no quadratic scan). */
static gpt_status
check_duplicates(parser *ps, const json_value *obj)
{
    const json_member **idx;
    size_t i;

    if (obj->len < 2)
        return GPT_OK;
    idx = gpt_malloc(obj->len * sizeof *idx);
    if (!idx)
        return gpt_set_error(ps->err, GPT_ERR_NOMEM,
                             "out of memory parsing JSON");
    for (i = 0; i < obj->len; i++)
        idx[i] = &obj->members[i];
    qsort(idx, obj->len, sizeof *idx, member_cmp);
    for (i = 1; i < obj->len; i++)
        if (member_cmp(&idx[i - 1], &idx[i]) == 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "key \"%.100s\" appears twice in an "
                     "object", idx[i]->key);
            gpt_free(idx);
            return fail(ps, msg);
        }
    gpt_free(idx);
    return GPT_OK;
}

/* Makes room for one more element (zeroed) in a growing array. */
static int
grow(void **arr, size_t n, size_t *cap, size_t elem)
{
    size_t ncap;
    void *na;

    if (n < *cap)
        return 1;
    ncap = *cap ? *cap * 2 : 8;
    na = gpt_realloc(*arr, ncap * elem);
    if (!na)
        return 0;
    memset((char *)na + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = na;
    *cap = ncap;
    return 1;
}

static gpt_status
parse_array(parser *ps, json_value *v, int depth)
{
    size_t cap = 0;
    gpt_status st;

    v->type = JSON_ARRAY;
    ps->p++; /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return GPT_OK;
    }
    for (;;) {
        if (!grow((void **)&v->items, v->len, &cap, sizeof *v->items))
            return gpt_set_error(ps->err, GPT_ERR_NOMEM,
                                 "out of memory parsing JSON");
        v->len++; /* counted first so json_free sees a half-parsed item */
        if ((st = parse_value(ps, &v->items[v->len - 1], depth + 1)) !=
            GPT_OK)
            return st;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == ']') {
            ps->p++;
            return GPT_OK;
        }
        return fail(ps, "expected ',' or ']' in an array");
    }
}

static gpt_status
parse_object(parser *ps, json_value *v, int depth)
{
    size_t cap = 0;
    gpt_status st;

    v->type = JSON_OBJECT;
    ps->p++; /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return GPT_OK;
    }
    for (;;) {
        json_member *m;

        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"')
            return fail(ps, "expected a string key in an object");
        if (!grow((void **)&v->members, v->len, &cap, sizeof *v->members))
            return gpt_set_error(ps->err, GPT_ERR_NOMEM,
                                 "out of memory parsing JSON");
        m = &v->members[v->len++];
        if ((st = parse_string(ps, &m->key, &m->key_len)) != GPT_OK)
            return st;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':')
            return fail(ps, "expected ':' after an object key");
        ps->p++;
        if ((st = parse_value(ps, &m->value, depth + 1)) != GPT_OK)
            return st;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            return check_duplicates(ps, v);
        }
        return fail(ps, "expected ',' or '}' in an object");
    }
}

static gpt_status
parse_value(parser *ps, json_value *v, int depth)
{
    memset(v, 0, sizeof *v);
    if (depth > JSON_MAX_DEPTH)
        return fail(ps, "nested too deeply");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "unexpected end of input");
    switch (*ps->p) {
    case '{':
        return parse_object(ps, v, depth);
    case '[':
        return parse_array(ps, v, depth);
    case '"':
        v->type = JSON_STRING;
        return parse_string(ps, &v->str, &v->len);
    case 't':
        if (!literal(ps, "true"))
            return fail(ps, "expected a value");
        v->type = JSON_BOOL;
        v->boolean = 1;
        return GPT_OK;
    case 'f':
        if (!literal(ps, "false"))
            return fail(ps, "expected a value");
        v->type = JSON_BOOL;
        return GPT_OK;
    case 'n':
        if (!literal(ps, "null"))
            return fail(ps, "expected a value");
        return GPT_OK;
    default:
        return parse_number(ps, v);
    }
}

gpt_status
json_parse(const char *text, size_t len, json_value *out, gpt_error *err)
{
    parser ps = {text, text, text + len, err};
    gpt_status st;

    /* A UTF-8 byte order mark is not JSON, but some editors write one. */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.p += 3;
    st = parse_value(&ps, out, 0);
    if (st == GPT_OK) {
        skip_ws(&ps);
        if (ps.p != ps.end)
            st = fail(&ps, "unexpected text after the JSON value");
    }
    if (st != GPT_OK)
        json_free(out);
    return st;
}

void
json_free(json_value *v)
{
    size_t i;

    if (!v)
        return;
    switch (v->type) {
    case JSON_STRING:
        gpt_free(v->str);
        break;
    case JSON_ARRAY:
        for (i = 0; i < v->len; i++)
            json_free(&v->items[i]);
        gpt_free(v->items);
        break;
    case JSON_OBJECT:
        for (i = 0; i < v->len; i++) {
            gpt_free(v->members[i].key);
            json_free(&v->members[i].value);
        }
        gpt_free(v->members);
        break;
    default:
        break;
    }
    memset(v, 0, sizeof *v);
}

const json_value *
json_get(const json_value *obj, const char *key)
{
    size_t i, n = strlen(key);

    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    for (i = 0; i < obj->len; i++)
        if (obj->members[i].key_len == n && obj->members[i].key &&
            memcmp(obj->members[i].key, key, n) == 0)
            return &obj->members[i].value;
    return NULL;
}
