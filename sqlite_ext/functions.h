/*
 * functions.h - the scalar SQL functions (one C function each) and the
 * virtual-table modules; the tables in gpt.c say how each is registered.
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
void gpt_fn_score(sqlite3_context *ctx, int argc, sqlite3_value **argv);
void gpt_fn_choose(sqlite3_context *ctx, int argc, sqlite3_value **argv);

/* The table-valued functions (eponymous virtual tables). */
extern sqlite3_module gpt_probs_module;    /* probs_vtab.c */
extern sqlite3_module gpt_each_module;     /* each_vtab.c */
extern sqlite3_module gpt_tokens_module;   /* tokens_vtab.c */
extern sqlite3_module gpt_logprobs_module; /* logprobs_vtab.c */

#endif
