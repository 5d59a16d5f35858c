/*
 * vtab_args.c - argument plumbing of the table-valued functions (see
 * vtab_args.h).
 */
#include "vtab_args.h"

SQLITE_EXTENSION_INIT3

#include <stddef.h>

#include "options.h"

#define MAX_ARGS 8

int gpt_vtab_best_index(sqlite3_vtab *v, sqlite3_index_info *info,
                        const char *fname, const char *first_name,
                        const char *usage, int first_col, int n_args,
                        double cost, sqlite3_int64 rows)
{
    int at[MAX_ARGS], unusable[MAX_ARGS];
    if (n_args < 1 || n_args > MAX_ARGS)
        return SQLITE_INTERNAL;
    for (int a = 0; a < MAX_ARGS; a++)
        at[a] = -1, unusable[a] = 0;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        int a = c->iColumn - first_col;
        if (a < 0 || a >= n_args || c->op != SQLITE_INDEX_CONSTRAINT_EQ)
            continue;
        if (!c->usable)
            unusable[a] = 1;
        else if (at[a] < 0)
            at[a] = i;
    }
    /* An argument that is there but not usable yet (it comes from a table
     * joined later): ask SQLite for another join order. */
    for (int a = 0; a < n_args; a++)
        if (at[a] < 0 && unusable[a])
            return SQLITE_CONSTRAINT;
    if (at[0] < 0) {
        sqlite3_free(v->zErrMsg);
        v->zErrMsg = sqlite3_mprintf("%s: the %s argument is missing; "
                                     "use %s", fname, first_name, usage);
        return SQLITE_ERROR;
    }
    int idx = 0, argv_index = 1;
    for (int a = 0; a < n_args; a++) {
        if (at[a] < 0)
            continue;
        idx |= 1 << a;
        info->aConstraintUsage[at[a]].argvIndex = argv_index++;
        info->aConstraintUsage[at[a]].omit = 1;
    }
    info->idxNum = idx;
    info->estimatedCost = cost;
    info->estimatedRows = rows;
    return SQLITE_OK;
}

void gpt_vtab_args(int idx, int argc, sqlite3_value **argv, int n_args,
                   sqlite3_value **args)
{
    int k = 0;
    for (int a = 0; a < n_args; a++)
        args[a] = (idx & (1 << a)) && k < argc ? argv[k++] : NULL;
}

int gpt_vtab_error(sqlite3_vtab_cursor *cur, int code, char *msg)
{
    sqlite3_vtab *v = cur->pVtab;
    sqlite3_free(v->zErrMsg);
    v->zErrMsg = msg;
    return msg ? code : SQLITE_NOMEM;
}

int gpt_vtab_options(sqlite3_value *v, const char *fname, gpt_gen_options *o,
                     char **errmsg)
{
    char msg[512];
    *errmsg = NULL;
    gpt_gen_options_init(o);
    if (!v || sqlite3_value_type(v) == SQLITE_NULL)
        return SQLITE_OK;
    const char *json = (const char *)sqlite3_value_text(v);
    int len = sqlite3_value_bytes(v);
    if (!json)
        return SQLITE_NOMEM;
    if (gpt_sqlite_parse_options(json, (size_t)len, o, msg, sizeof msg) != 0) {
        *errmsg = sqlite3_mprintf("%s: options: %s", fname, msg);
        return *errmsg ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    return SQLITE_OK;
}
