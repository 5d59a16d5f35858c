/*
 * json.h - a tiny strict JSON reader for the SQLite module's arguments.
 *
 * Only what the module needs: the caller walks the document itself (an
 * options object, an array of token ids), asking for one value at a time.
 * Nothing recurses, so no input can exhaust the stack, and every function
 * accepts any bytes (the input need not be NUL-terminated or valid UTF-8).
 * It does not depend on SQLite so that fuzzers can link it alone.
 */
#ifndef GPT_SQLITE_JSON_H
#define GPT_SQLITE_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef struct gj_reader {
    const char *start; /* for byte offsets in messages */
    const char *p;
    const char *end;
} gj_reader;

/* What a value starts with, judged by its first byte. */
typedef enum gj_kind {
    GJ_END = 0, /* no more input */
    GJ_OBJECT,
    GJ_ARRAY,
    GJ_STRING,
    GJ_NUMBER,
    GJ_TRUE,
    GJ_FALSE,
    GJ_NULL,
    GJ_INVALID
} gj_kind;

/* A number as written: exact integer when it has no fraction or exponent
 * and fits, and always its value as a double (C locale, correctly rounded). */
typedef struct gj_number {
    int is_integer;   /* written without '.', 'e' or 'E' */
    int negative;
    int fits_u64;     /* magnitude below 2^64 (is_integer only) */
    uint64_t magnitude;
    double value;
    const char *text; /* the literal, for messages */
    size_t text_len;
} gj_number;

void gj_init(gj_reader *r, const char *json, size_t len);

/* Skips white space and tells what comes next without consuming it. */
gj_kind gj_peek(gj_reader *r);

/* Name of a kind for messages ("a string", "an object", ...). */
const char *gj_kind_name(gj_kind k);

/* Skips white space; consumes c and returns 1 if it is next, else 0. */
int gj_accept(gj_reader *r, char c);

/* Byte offset of the reader, for messages. */
size_t gj_offset(const gj_reader *r);

/* Each parser returns 0 on success, -1 with a message in err on failure. */

/* A string: decodes escapes, rejects invalid UTF-8, lone surrogates and raw
 * control characters.  *out is malloc'd and NUL-terminated (it may contain
 * NUL bytes written as \u0000; *len counts them). */
int gj_string(gj_reader *r, char **out, size_t *len, char *err, size_t errlen);

/* A number, following the JSON grammar exactly. */
int gj_number_parse(gj_reader *r, gj_number *num, char *err, size_t errlen);

/* true, false or null. */
int gj_literal(gj_reader *r, char *err, size_t errlen);

/* Fails unless only white space is left. */
int gj_finish(gj_reader *r, char *err, size_t errlen);

/* Writes a message-safe, quoted and shortened copy of UTF-8 text s (control
 * characters, quotes and backslashes escaped) into buf. */
void gj_quote_for_message(const char *s, size_t len, char *buf, size_t buflen);

#endif
