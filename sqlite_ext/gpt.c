/*
 * gpt.c - the SQLite loadable module's entry point: sqlite3_gpt_init
 * registers every SQL function from one table (in the style of sqlite-vec)
 * and every table-valued function (eponymous virtual table) from another.
 *
 *   sqlite3 -cmd '.load ./sqlite_ext/gpt'        (from the source tree)
 *   sqlite3 -cmd '.load gpt'                     (after make install)
 *
 * Flags, and why:
 * - No function is SQLITE_DETERMINISTIC.  Every result depends on the
 *   connection's model as well as on the arguments, and the model changes
 *   with gpt_load() or GPT_MODEL, so letting SQLite factor calls out of a
 *   statement or store them in an index, a generated column or a CHECK
 *   constraint would be wrong.  (With a fixed model the results are
 *   reproducible: gpt_generate with the same seed gives the same text.)
 * - SQLITE_INNOCUOUS for the functions without side effects (they may be
 *   used in views and triggers of an untrusted database): gpt_generate,
 *   gpt_tokenize, gpt_detokenize, gpt_token_count, gpt_score, gpt_choose,
 *   and every virtual table (SQLITE_VTAB_INNOCUOUS in their xConnect).
 *   Their only effect is to map the configured default model on first use.
 * - gpt_model_info is neither: it reveals the process's file paths and
 *   thread count, which schema code has no business reading.
 * - gpt_load is SQLITE_DIRECTONLY: it changes connection state and opens
 *   files by name, so only top-level SQL may call it, never a trigger or
 *   view.
 */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <stddef.h>

#include "conn.h"
#include "functions.h"

#ifndef SQLITE_RESULT_SUBTYPE /* 3.45+: declares sqlite3_result_subtype use */
#define SQLITE_RESULT_SUBTYPE 0
#endif

#define UTF8 SQLITE_UTF8
#define SAFE SQLITE_INNOCUOUS

static const struct {
    const char *name;
    int n_arg;
    int flags;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
} functions[] = {
    {"gpt_generate",    1, UTF8 | SAFE, gpt_fn_generate},
    {"gpt_generate",    2, UTF8 | SAFE, gpt_fn_generate},
    {"gpt_tokenize",    1, UTF8 | SAFE | SQLITE_RESULT_SUBTYPE, gpt_fn_tokenize},
    {"gpt_detokenize",  1, UTF8 | SAFE, gpt_fn_detokenize},
    {"gpt_token_count", 1, UTF8 | SAFE, gpt_fn_token_count},
    {"gpt_score",       1, UTF8 | SAFE, gpt_fn_score},
    {"gpt_score",       2, UTF8 | SAFE, gpt_fn_score},
    {"gpt_choose",      2, UTF8 | SAFE, gpt_fn_choose},
    {"gpt_model_info",  0, UTF8 | SQLITE_RESULT_SUBTYPE, gpt_fn_model_info},
    {"gpt_load",        1, UTF8 | SQLITE_DIRECTONLY | SQLITE_RESULT_SUBTYPE,
     gpt_fn_load},
};

/* Table-valued functions: arguments are HIDDEN columns. */
static const struct {
    const char *name;
    const sqlite3_module *module;
} modules[] = {
    {"gpt_next_token_probs", &gpt_probs_module},    /* (prompt [, k]) */
    {"gpt_generate_each",    &gpt_each_module},     /* (prompts [, options]) */
    {"gpt_generate_tokens",  &gpt_tokens_module},   /* (prompt [, options]) */
    {"gpt_token_logprobs",   &gpt_logprobs_module}, /* (text) */
};

__attribute__((visibility("default")))
int sqlite3_gpt_init(sqlite3 *db, char **errmsg,
                     const sqlite3_api_routines *api)
{
    SQLITE_EXTENSION_INIT2(api);
    gpt_conn *c = gpt_conn_new(db);
    if (!c)
        return SQLITE_NOMEM;
    /* Each registration holds a reference; SQLite calls gpt_conn_unref when
     * it drops one (also when registering fails). */
    gpt_conn_ref(c); /* ours, for the duration of this function */
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof functions / sizeof *functions;
         i++) {
        gpt_conn_ref(c);
        rc = sqlite3_create_function_v2(db, functions[i].name,
                                        functions[i].n_arg, functions[i].flags,
                                        c, functions[i].fn, NULL, NULL,
                                        gpt_conn_unref);
    }
    for (size_t i = 0; rc == SQLITE_OK && i < sizeof modules / sizeof *modules;
         i++) {
        gpt_conn_ref(c);
        rc = sqlite3_create_module_v2(db, modules[i].name, modules[i].module,
                                      c, gpt_conn_unref);
    }
    gpt_conn_unref(c);
    if (rc != SQLITE_OK && errmsg)
        *errmsg = sqlite3_mprintf("gpt: registering the SQL functions failed: %s",
                                  sqlite3_errstr(rc));
    return rc;
}
