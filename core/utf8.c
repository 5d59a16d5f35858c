/*
 * utf8.c - UTF-8 validation, sanitizing and the streaming decoder.
 *
 * Everything is built on gpt_utf8_scan(), which classifies the sequence at
 * one position; sanitize and the stream differ only in what they do with an
 * unfinished sequence at the end of the bytes they have.
 */
#include <string.h>

#include "internal.h"
#include "utf8.h"

/* U+FFFD REPLACEMENT CHARACTER */
static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

gpt_utf8_kind
gpt_utf8_scan(const unsigned char *s, size_t n, size_t *seq_len)
{
    unsigned char b = s[0];
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the 2nd byte */
    size_t need, i;

    if (b < 0x80) {
        *seq_len = 1;
        return GPT_UTF8_VALID;
    }
    if (b < 0xC2) { /* continuation byte, or C0/C1 (always overlong) */
        *seq_len = 1;
        return GPT_UTF8_INVALID;
    }
    if (b < 0xE0) {
        need = 2;
    } else if (b < 0xF0) {
        need = 3;
        if (b == 0xE0)
            lo = 0xA0; /* overlong below U+0800 */
        else if (b == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (b < 0xF5) {
        need = 4;
        if (b == 0xF0)
            lo = 0x90; /* overlong below U+10000 */
        else if (b == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        *seq_len = 1;
        return GPT_UTF8_INVALID;
    }
    for (i = 1; i < need; i++) {
        if (i >= n) {
            *seq_len = n;
            return GPT_UTF8_INCOMPLETE;
        }
        if (s[i] < lo || s[i] > hi) {
            /* the bytes before s[i] are the maximal subpart; s[i] starts
             * the next scan */
            *seq_len = i;
            return GPT_UTF8_INVALID;
        }
        lo = 0x80;
        hi = 0xBF;
    }
    *seq_len = need;
    return GPT_UTF8_VALID;
}

size_t
gpt_utf8_valid_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, n;

    while (i < len) {
        /* ASCII fast path, 8 bytes at a time */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & UINT64_C(0x8080808080808080))
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        if (gpt_utf8_scan(s + i, len - i, &n) != GPT_UTF8_VALID)
            return i;
        i += n;
    }
    return len;
}

size_t
gpt_utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t
gpt_utf8_sanitize_into(const char *bytes, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)bytes;
    size_t i = 0, o = 0, n;

    while (i < len) {
        size_t ok = gpt_utf8_valid_prefix((const char *)s + i, len - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i >= len)
            break;
        /* s[i] starts an invalid or unfinished sequence: one U+FFFD for
         * its maximal subpart (an unfinished tail is one subpart too) */
        gpt_utf8_scan(s + i, len - i, &n);
        memcpy(out + o, REPLACEMENT, 3);
        o += 3;
        i += n;
    }
    return o;
}

GPT_API gpt_status
gpt_utf8_sanitize(const char *bytes, size_t len, char **out, size_t *out_len,
                  gpt_error *err)
{
    char *buf;
    size_t cap, n;

    if (!out)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_utf8_sanitize: out is NULL");
    *out = NULL;
    if (out_len)
        *out_len = 0;
    if (!bytes && len)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_utf8_sanitize: bytes is NULL");
    if (len > (SIZE_MAX - 1) / 3)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_utf8_sanitize: input too long (%zu bytes)",
                             len);
    /* valid input (the usual case) is copied as is */
    cap = gpt_utf8_valid_prefix(bytes, len) == len ? len
                                                   : GPT_UTF8_SANITIZE_MAX(len);
    buf = gpt_malloc(cap + 1);
    if (!buf)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory sanitizing %zu bytes of text", len);
    n = len ? gpt_utf8_sanitize_into(bytes, len, buf) : 0;
    buf[n] = '\0';
    *out = buf;
    if (out_len)
        *out_len = n;
    return GPT_OK;
}

void
gpt_utf8_stream_init(gpt_utf8_stream *st)
{
    memset(st, 0, sizeof *st);
}

size_t
gpt_utf8_stream_push(gpt_utf8_stream *st, const char *bytes, size_t len,
                     char *out)
{
    const unsigned char *s = (const unsigned char *)bytes;
    size_t i = 0, o = 0, n;

    /* First finish (or break) the held sequence with the new bytes. */
    while (st->n_pending) {
        unsigned char tmp[4];
        size_t np = st->n_pending;
        size_t take = len - i < 4 - np ? len - i : 4 - np;
        gpt_utf8_kind k;

        memcpy(tmp, st->pending, np);
        if (take)
            memcpy(tmp + np, s + i, take);
        k = gpt_utf8_scan(tmp, np + take, &n);
        if (k == GPT_UTF8_INCOMPLETE) {
            /* still unfinished: every new byte was taken */
            memcpy(st->pending + np, s + i, take);
            st->n_pending = (uint8_t)(np + take);
            return o;
        }
        if (k == GPT_UTF8_VALID) {
            memcpy(out + o, tmp, n);
            o += n;
        } else {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
        }
        /* the held bytes were a valid prefix, so n >= np */
        i += n - np;
        st->n_pending = 0;
    }
    while (i < len) {
        size_t ok = gpt_utf8_valid_prefix((const char *)s + i, len - i);
        memcpy(out + o, s + i, ok);
        o += ok;
        i += ok;
        if (i >= len)
            break;
        if (gpt_utf8_scan(s + i, len - i, &n) == GPT_UTF8_INCOMPLETE) {
            memcpy(st->pending, s + i, n);
            st->n_pending = (uint8_t)n;
            break;
        }
        memcpy(out + o, REPLACEMENT, 3);
        o += 3;
        i += n;
    }
    return o;
}

size_t
gpt_utf8_stream_flush(gpt_utf8_stream *st, char *out)
{
    if (!st->n_pending)
        return 0;
    st->n_pending = 0;
    memcpy(out, REPLACEMENT, 3);
    return 3;
}
