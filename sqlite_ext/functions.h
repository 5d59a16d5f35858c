/*
 * functions.h - the scalar SQL functions (one C function each; the table in
 * gpt.c says how each is registered).
 */
#ifndef GPT_SQLITE_FUNCTIONS_H
#define GPT_SQLITE_FUNCTIONS_H

#include <sqlite3ext.h>

void gpt_fn_generate(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_tokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_detokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_token_count(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_model_info(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_load(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* The virtual table gpt_next_token_probs (probs_vtab.c). */
extern sqlite3_module gpt_probs_module;

#endif
