/*
 * options.h - the JSON options of gpt_generate(), the JSON id arrays of
 * gpt_detokenize() and the JSON string arrays of gpt_generate_each() and
 * gpt_choose(), parsed without SQLite so that they can be fuzzed alone.
 */
#ifndef GPT_SQLITE_OPTIONS_H
#define GPT_SQLITE_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

/* The keys, in the order the error message lists them. */
#define GPT_SQLITE_OPTION_KEYS "max_tokens, temperature, top_k, top_p, seed, stop"

/*
 * Fills *out from a JSON object such as {"max_tokens": 20, "stop": ["\n"]}.
 * Keys missing or null keep gpt_gen_options_init's defaults (the same as
 * the PostgreSQL function's: 64, 0.8, 40, 0.95, 0, no stop).  Returns 0, or
 * -1 with a one-line message in errbuf (and *out holding nothing to free).
 * On success the stop strings are malloc'd: release them with
 * gpt_sqlite_options_free().  Any bytes are accepted as input.
 */
int gpt_sqlite_parse_options(const char *json, size_t len,
                             gpt_gen_options *out, char *errbuf,
                             size_t errlen);
void gpt_sqlite_options_free(gpt_gen_options *o);

/*
 * Parses a JSON array of integers, e.g. "[464, 3797]", into *ids (malloc'd,
 * free()); each must fit in int32 (the core checks the vocabulary range).
 * Returns 0, or -1 with a message in errbuf.
 */
int gpt_sqlite_parse_ids(const char *json, size_t len, int32_t **ids,
                         size_t *n_ids, char *errbuf, size_t errlen);

/*
 * Parses a JSON array of strings, e.g. '["yes", "no"]' (prompts for
 * gpt_generate_each, choices for gpt_choose).  With allow_null, null
 * elements are accepted and give a NULL string.  *strs and *lens get *n
 * entries (strings malloc'd, NUL-terminated, possibly holding \u0000
 * bytes counted in lens); release them with gpt_sqlite_strings_free().
 * Messages name the element by its 0-based index ("element 2 is a number,
 * not a string").  Returns 0, or -1 with a message in errbuf.
 */
int gpt_sqlite_parse_strings(const char *json, size_t len, int allow_null,
                             char ***strs, size_t **lens, size_t *n,
                             char *errbuf, size_t errlen);
void gpt_sqlite_strings_free(char **strs, size_t *lens, size_t n);

#endif
