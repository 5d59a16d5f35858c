/*
 * json.h - a small, strict JSON parser (RFC 8259) for the converter's inputs:
 * config.json, vocab.json and the safetensors header.
 *
 * The whole document becomes a tree of json_value nodes.  Strings are decoded
 * (escapes, surrogate pairs) into NUL-terminated UTF-8 copies with an explicit
 * length, since a token may contain "\u0000".  Anything outside the grammar
 * (trailing commas, comments, bad escapes, invalid UTF-8, lone surrogates,
 * nesting deeper than JSON_MAX_DEPTH, trailing garbage) is an error whose
 * message gives the line and column.
 */
#ifndef GPT_CONVERT_JSON_H
#define GPT_CONVERT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

#define JSON_MAX_DEPTH 64

typedef enum json_type {
    JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT
} json_type;

typedef struct json_member json_member;

typedef struct json_value {
    json_type type;
    int boolean;              /* JSON_BOOL */
    double number;            /* JSON_NUMBER */
    int is_int;               /* JSON_NUMBER written as an integer that fits */
    int64_t integer;          /*   ... in int64_t: its exact value */
    char *str;                /* JSON_STRING: decoded, NUL-terminated */
    size_t len;               /* JSON_STRING: bytes; ARRAY/OBJECT: count */
    struct json_value *items; /* JSON_ARRAY: len elements */
    json_member *members;     /* JSON_OBJECT: len members, in file order */
} json_value;

struct json_member {
    char *key; /* decoded, NUL-terminated */
    size_t key_len;
    json_value value;
};

/* Parses text[0..len) (need not be NUL-terminated).  Duplicate object keys
 * are an error.  On failure *out is left empty (JSON_NULL). */
gpt_status json_parse(const char *text, size_t len, json_value *out,
                      gpt_error *err);
void json_free(json_value *v);

/* The member called key (a C string) of an object, or NULL. */
const json_value *json_get(const json_value *obj, const char *key);

const char *json_type_name(json_type t);

#endif
