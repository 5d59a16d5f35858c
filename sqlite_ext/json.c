/*
 * json.c - the tiny strict JSON reader (see json.h).
 *
 * The grammar is RFC 8259's.  Numbers are converted with strtod_l in the C
 * locale so that a host application that called setlocale() cannot change
 * how "0.8" is read (and so 0.8 here is the same double as PostgreSQL's).
 */
#include "json.h"

#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fail(gj_reader *r, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(gj_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    int n = snprintf(err, errlen, "invalid JSON at byte %zu: ", gj_offset(r));
    if (n < 0 || (size_t)n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

void gj_init(gj_reader *r, const char *json, size_t len)
{
    r->start = json;
    r->p = json;
    r->end = json + len;
}

size_t gj_offset(const gj_reader *r) { return (size_t)(r->p - r->start); }

static void skip_ws(gj_reader *r)
{
    while (r->p < r->end &&
           (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int word_at(const gj_reader *r, const char *w)
{
    size_t n = strlen(w);
    return (size_t)(r->end - r->p) >= n && memcmp(r->p, w, n) == 0;
}

gj_kind gj_peek(gj_reader *r)
{
    skip_ws(r);
    if (r->p >= r->end)
        return GJ_END;
    switch (*r->p) {
    case '{': return GJ_OBJECT;
    case '[': return GJ_ARRAY;
    case '"': return GJ_STRING;
    case 't': return word_at(r, "true") ? GJ_TRUE : GJ_INVALID;
    case 'f': return word_at(r, "false") ? GJ_FALSE : GJ_INVALID;
    case 'n': return word_at(r, "null") ? GJ_NULL : GJ_INVALID;
    case '-': return GJ_NUMBER;
    default:
        return (*r->p >= '0' && *r->p <= '9') ? GJ_NUMBER : GJ_INVALID;
    }
}

const char *gj_kind_name(gj_kind k)
{
    switch (k) {
    case GJ_OBJECT: return "an object";
    case GJ_ARRAY: return "an array";
    case GJ_STRING: return "a string";
    case GJ_NUMBER: return "a number";
    case GJ_TRUE:
    case GJ_FALSE: return "a boolean";
    case GJ_NULL: return "null";
    case GJ_END: return "nothing";
    default: return "not JSON";
    }
}

int gj_accept(gj_reader *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 1;
    }
    return 0;
}

int gj_finish(gj_reader *r, char *err, size_t errlen)
{
    skip_ws(r);
    if (r->p != r->end) {
        fail(r, err, errlen, "unexpected text after the value");
        return -1;
    }
    return 0;
}

int gj_literal(gj_reader *r, char *err, size_t errlen)
{
    static const char *const words[] = {"true", "false", "null"};
    skip_ws(r);
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
            r->p += n;
            return 0;
        }
    }
    fail(r, err, errlen, "expected a value");
    return -1;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 if it is invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    unsigned v = 0;
    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
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

int gj_string(gj_reader *r, char **out, size_t *len, char *err, size_t errlen)
{
    *out = NULL;
    *len = 0;
    skip_ws(r);
    if (r->p >= r->end || *r->p != '"') {
        fail(r, err, errlen, "expected a string");
        return -1;
    }
    r->p++;
    /* The decoded text is never longer than the encoded one: escapes shrink
     * (\uXXXX is 6 bytes for at most 3; a surrogate pair is 12 for 4). */
    const char *q = r->p;
    while (q < r->end && *q != '"') {
        if (*q == '\\' && q + 1 < r->end)
            q++;
        q++;
    }
    char *buf = malloc((size_t)(q - r->p) + 1);
    if (!buf) {
        fail(r, err, errlen, "out of memory");
        return -1;
    }
    size_t n = 0;
    for (;;) {
        if (r->p >= r->end) {
            fail(r, err, errlen, "unterminated string");
            goto bad;
        }
        unsigned char c = (unsigned char)*r->p;
        if (c == '"') {
            r->p++;
            break;
        }
        if (c < 0x20) {
            fail(r, err, errlen, "control character in a string");
            goto bad;
        }
        if (c != '\\') {
            size_t k = utf8_seq((const unsigned char *)r->p,
                                (const unsigned char *)r->end);
            if (k == 0) {
                fail(r, err, errlen, "invalid UTF-8 in a string");
                goto bad;
            }
            memcpy(buf + n, r->p, k);
            n += k;
            r->p += k;
            continue;
        }
        if (r->end - r->p < 2) {
            fail(r, err, errlen, "unterminated string");
            goto bad;
        }
        char e = r->p[1];
        const char *simple = "\"\\/bfnrt";
        const char *map = "\"\\/\b\f\n\r\t";
        const char *hit = e ? strchr(simple, e) : NULL;
        if (hit) {
            buf[n++] = map[hit - simple];
            r->p += 2;
            continue;
        }
        if (e != 'u') {
            fail(r, err, errlen, "invalid escape in a string");
            goto bad;
        }
        unsigned cp;
        const char *escape = r->p;
        if (hex4(r->p + 2, r->end, &cp) != 0) {
            fail(r, err, errlen, "invalid \\u escape");
            goto bad;
        }
        r->p += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
            r->p = escape;
            fail(r, err, errlen, "lone surrogate in a \\u escape");
            goto bad;
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                hex4(r->p + 2, r->end, &lo) != 0 || lo < 0xDC00 ||
                lo > 0xDFFF) {
                r->p = escape;
                fail(r, err, errlen, "lone surrogate in a \\u escape");
                goto bad;
            }
            r->p += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        n += put_utf8(buf + n, cp);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
bad:
    free(buf);
    return -1;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

int gj_number_parse(gj_reader *r, gj_number *num, char *err, size_t errlen)
{
    memset(num, 0, sizeof *num);
    skip_ws(r);
    const char *s = r->p, *p = r->p, *end = r->end;
    num->is_integer = 1;
    if (p < end && *p == '-') {
        num->negative = 1;
        p++;
    }
    if (p >= end || *p < '0' || *p > '9') {
        fail(r, err, errlen, "expected a number");
        return -1;
    }
    num->fits_u64 = 1;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && *p >= '0' && *p <= '9') {
            unsigned d = (unsigned)(*p - '0');
            if (num->magnitude > (UINT64_MAX - d) / 10)
                num->fits_u64 = 0;
            else
                num->magnitude = num->magnitude * 10 + d;
            p++;
        }
    }
    if (p < end && *p == '.') {
        num->is_integer = 0;
        p++;
        if (p >= end || *p < '0' || *p > '9') {
            r->p = p;
            fail(r, err, errlen, "expected a digit after '.'");
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        num->is_integer = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || *p < '0' || *p > '9') {
            r->p = p;
            fail(r, err, errlen, "expected a digit in the exponent");
            return -1;
        }
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (!num->is_integer)
        num->fits_u64 = 0, num->magnitude = 0;
    num->text = s;
    num->text_len = (size_t)(p - s);
    /* strtod needs a NUL-terminated copy. */
    char small[64];
    char *copy = small;
    if (num->text_len >= sizeof small) {
        copy = malloc(num->text_len + 1);
        if (!copy) {
            fail(r, err, errlen, "out of memory");
            return -1;
        }
    }
    memcpy(copy, s, num->text_len);
    copy[num->text_len] = '\0';
    pthread_once(&c_locale_once, make_c_locale);
    num->value = c_locale ? strtod_l(copy, NULL, c_locale) : strtod(copy, NULL);
    if (copy != small)
        free(copy);
    r->p = p;
    return 0;
}

void gj_quote_for_message(const char *s, size_t len, char *buf, size_t buflen)
{
    const size_t max_shown = 40; /* keep messages to one readable line */
    size_t o = 0;
    if (buflen < 8) {
        if (buflen)
            buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    size_t i = 0;
    while (i < len && i < max_shown) {
        unsigned char c = (unsigned char)s[i];
        char tmp[8];
        size_t k;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            k = 2;
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            k = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
            i++;
        } else {
            k = utf8_seq((const unsigned char *)s + i,
                         (const unsigned char *)s + len);
            if (k == 0) { /* callers pass valid UTF-8; be safe anyway */
                memcpy(tmp, "\\ufffd", 6);
                k = 6;
                i++;
            } else {
                memcpy(tmp, s + i, k);
                i += k;
            }
        }
        if (o + k + 5 >= buflen)
            break;
        memcpy(buf + o, tmp, k);
        o += k;
    }
    if (i < len && o + 4 < buflen) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}
