/*
 * gpt.c - module entry point and the gpt.* settings.
 *
 * _PG_init defines the settings.  Loaded by the postmaster through
 * shared_preload_libraries (and gpt.preload on, the default), it also opens
 * gpt.model there, once: every backend is forked with the model already
 * open, its weights mapped and its tokenizer built, and pays neither on its
 * first call (backend.c, pggpt_preload_model).  Opening a model starts no
 * thread: thread pools belong to sessions, which only backends create.
 * Otherwise models are opened lazily in each backend.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "pggpt.h"

PG_MODULE_MAGIC;

char *pggpt_model_name = NULL;
char *pggpt_model_dir = NULL;
int pggpt_threads = 0;
int pggpt_max_threads = 4;
int pggpt_max_tokens_limit = 1024;
bool pggpt_preload = true;

/* Boot value of gpt.model_dir: $sharedir/gpt of this installation.  It must
 * outlive the setting, hence static storage. */
static char default_model_dir[MAXPGPATH];

void _PG_init(void);

/* A model directory must be absolute so that it does not depend on the
 * server's working directory (the data directory). */
static bool
check_model_dir(char **newval, void **extra, GucSource source)
{
    if (*newval == NULL || (*newval)[0] != '/') {
        GUC_check_errmsg("gpt.model_dir must be an absolute path");
        return false;
    }
    return true;
}

void
_PG_init(void)
{
    char share[MAXPGPATH];

    get_share_path(my_exec_path, share);
    snprintf(default_model_dir, sizeof default_model_dir, "%s/gpt", share);

    DefineCustomStringVariable(
        "gpt.model",
        "Model file used by the gpt functions.",
        "A file name inside gpt.model_dir; changing it switches the model "
        "on the next call.",
        &pggpt_model_name, "default.gguf", PGC_SUSET, 0, NULL, NULL, NULL);

    DefineCustomStringVariable(
        "gpt.model_dir",
        "The only directory model files are read from.",
        "Names in gpt.model that lead outside it (.., absolute paths, "
        "symbolic links) are refused.",
        &pggpt_model_dir, default_model_dir, PGC_SUSET, 0,
        check_model_dir, NULL, NULL);

    DefineCustomIntVariable(
        "gpt.threads",
        "Threads a backend uses for one forward pass (0: the CPUs available).",
        "Capped by gpt.max_threads.  Results do not depend on it.",
        &pggpt_threads, 0, 0, 1024, PGC_USERSET, 0, NULL, NULL, NULL);

    DefineCustomIntVariable(
        "gpt.max_threads",
        "Upper bound on the threads one backend uses.",
        NULL,
        &pggpt_max_threads, 4, 1, 1024, PGC_SUSET, 0, NULL, NULL, NULL);

    DefineCustomIntVariable(
        "gpt.max_tokens_limit",
        "Largest max_tokens a gpt_generate call may ask for.",
        NULL,
        &pggpt_max_tokens_limit, 1024, 0, 1000000, PGC_SUSET, 0,
        NULL, NULL, NULL);

    /* A PGC_POSTMASTER setting can only be defined while the postmaster
     * loads the library: a backend that loads it (CREATE EXTENSION, or the
     * first call, without shared_preload_libraries) would fail with FATAL. */
    if (process_shared_preload_libraries_in_progress)
        DefineCustomBoolVariable(
            "gpt.preload",
            "Opens gpt.model in the postmaster when gpt is in "
            "shared_preload_libraries.",
            "Backends inherit the open model instead of each opening it.",
            &pggpt_preload, true, PGC_POSTMASTER, 0, NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
    MarkGUCPrefixReserved("gpt");
#else
    EmitWarningsOnPlaceholders("gpt");
#endif

    if (process_shared_preload_libraries_in_progress && pggpt_preload)
        pggpt_preload_model();
}
