/*
 * model_path.h - which model file a connection uses when gpt_load() was
 * never called.
 */
#ifndef GPT_SQLITE_MODEL_PATH_H
#define GPT_SQLITE_MODEL_PATH_H

#include <stddef.h>

/*
 * Order: the environment variable GPT_MODEL (if set and not empty, used as
 * is, even if missing, so that a typo is an error rather than a silent
 * fallback); then the first existing file among, next to the module file
 * itself (found with dladdr), ../models/default.gguf (the source tree) and
 * ../share/gpt/default.gguf (a relocated prefix), then the path compiled in
 * for the installed model (GPT_SQLITE_MODEL_PATH).  The module's own
 * neighbourhood comes first so that a build in the source tree uses that
 * tree's model even when an older one is installed.  Returns 0 with the
 * path in out, or -1 with the list of places tried in out.
 */
int gpt_sqlite_default_model(char *out, size_t outlen);

#endif
