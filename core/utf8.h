/*
 * utf8.h - UTF-8 validation, sanitizing (invalid -> U+FFFD) and a streaming
 * decoder for generated token bytes.
 *
 * "Invalid" follows the Unicode / WHATWG "maximal subpart" practice, the same
 * as Python's bytes.decode("utf-8", "replace"): each maximal prefix of a
 * well-formed sequence that cannot be completed (and each byte that can
 * start nothing) becomes one U+FFFD.  Overlong forms, surrogates (U+D800..
 * U+DFFF) and code points above U+10FFFF are invalid.
 */
#ifndef GPT_UTF8_H
#define GPT_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Result of looking at the sequence starting at s[0] (n >= 1 bytes). */
typedef enum gpt_utf8_kind {
    GPT_UTF8_VALID,      /* a complete character of *seq_len bytes */
    GPT_UTF8_INVALID,    /* *seq_len bytes (>= 1) form one maximal subpart */
    GPT_UTF8_INCOMPLETE  /* all n bytes are a valid but unfinished prefix */
} gpt_utf8_kind;

gpt_utf8_kind gpt_utf8_scan(const unsigned char *s, size_t n, size_t *seq_len);

/* Length of the longest prefix of s made of complete valid characters; equal
 * to len when s is entirely valid UTF-8. */
size_t gpt_utf8_valid_prefix(const char *s, size_t len);

/* Decodes one character of valid UTF-8 (the caller has validated it) and
 * returns its code point; *adv gets its byte length. */
static inline uint32_t
gpt_utf8_decode_valid(const unsigned char *s, size_t *adv)
{
    unsigned char b = s[0];
    if (b < 0x80) {
        *adv = 1;
        return b;
    }
    if (b < 0xE0) {
        *adv = 2;
        return ((uint32_t)(b & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (b < 0xF0) {
        *adv = 3;
        return ((uint32_t)(b & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) |
               (s[2] & 0x3F);
    }
    *adv = 4;
    return ((uint32_t)(b & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
           ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

/* Writes code point cp (< 0x110000, not a surrogate) as UTF-8; returns the
 * byte count (1..4). */
size_t gpt_utf8_encode(uint32_t cp, char *out);

/* Sanitizes len bytes into out, which must hold GPT_UTF8_SANITIZE_MAX(len)
 * bytes (one byte can become the 3 bytes of U+FFFD).  Returns the length
 * written; no NUL is added. */
#define GPT_UTF8_SANITIZE_MAX(len) (3 * (size_t)(len))
size_t gpt_utf8_sanitize_into(const char *bytes, size_t len, char *out);

/*
 * Streaming decoder: feed token bytes piece by piece, get only complete valid
 * UTF-8 back.  An unfinished sequence at the end of a piece is held (at most
 * 3 bytes) until later bytes complete or break it; bytes that can never be
 * valid come out as U+FFFD at once.  The concatenation of every push output
 * and the final flush equals gpt_utf8_sanitize_into() of the concatenated
 * input.
 */
typedef struct gpt_utf8_stream {
    unsigned char pending[4];
    uint8_t n_pending;
} gpt_utf8_stream;

/* Output capacity a push of len bytes may need. */
#define GPT_UTF8_STREAM_MAX_OUT(len) (3 * ((size_t)(len) + 3))

void gpt_utf8_stream_init(gpt_utf8_stream *st);

/* Consumes len bytes, writes the text that became final to out (capacity
 * GPT_UTF8_STREAM_MAX_OUT(len)) and returns its length. */
size_t gpt_utf8_stream_push(gpt_utf8_stream *st, const char *bytes, size_t len,
                            char *out);

/* Ends the stream: a held unfinished sequence becomes U+FFFD.  out must hold
 * 3 bytes.  Returns the length written (0 or 3); the stream is reset. */
size_t gpt_utf8_stream_flush(gpt_utf8_stream *st, char *out);

/* Nonzero when bytes are held back. */
static inline int
gpt_utf8_stream_pending(const gpt_utf8_stream *st)
{
    return st->n_pending != 0;
}

#endif
