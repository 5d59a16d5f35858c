/*
 * vtab_args.h - what the table-valued functions gpt_generate_each,
 * gpt_generate_tokens and gpt_token_logprobs share: their arguments are
 * HIDDEN columns that SQLite hands to xFilter as equality constraints.
 */
#ifndef GPT_SQLITE_VTAB_ARGS_H
#define GPT_SQLITE_VTAB_ARGS_H

#include <sqlite3ext.h>

#include "gpt.h"

/*
 * xBestIndex for a function whose arguments are the hidden columns
 * first_col .. first_col + n_args - 1, of which the first is required.
 * idxNum gets a bit per argument present (bit 0: the first); xFilter's
 * argv holds the present ones in column order.  A missing first argument is
 * an error naming fname and the argument (first_name: "first", "prompt")
 * and showing usage.  cost and rows are estimates.
 */
int gpt_vtab_best_index(sqlite3_vtab *v, sqlite3_index_info *info,
                        const char *fname, const char *first_name,
                        const char *usage, int first_col, int n_args,
                        double cost, sqlite3_int64 rows);

/* Spreads xFilter's argv into args[0 .. n_args-1] by idxNum's bits
 * (NULL pointers for the arguments not given). */
void gpt_vtab_args(int idx, int argc, sqlite3_value **argv, int n_args,
                   sqlite3_value **args);

/* Parses an options argument (NULL value or pointer: the defaults).
 * Returns SQLITE_OK, or an error code with *errmsg "fname: options: ..."
 * (sqlite3_malloc'd).  Release *o with gpt_sqlite_options_free. */
int gpt_vtab_options(sqlite3_value *v, const char *fname, gpt_gen_options *o,
                     char **errmsg);

/* Sets the table's error message (msg is sqlite3_malloc'd, taken over) and
 * returns code, or SQLITE_NOMEM when msg is NULL. */
int gpt_vtab_error(sqlite3_vtab_cursor *cur, int code, char *msg);

#endif
