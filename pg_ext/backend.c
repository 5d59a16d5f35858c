/*
 * backend.c - the backend's model and session, and the model path rules.
 *
 * Each backend (and each parallel worker) opens the model named by
 * gpt.model on first use and keeps it for every later call; the file is
 * mapped read-only so backends share its pages through the page cache.
 * When gpt.model (or gpt.model_dir) changes, or the file is replaced (by
 * rename: another inode), the next call opens the new file and releases the
 * old one.  When the file is removed, the backend keeps the mapping it has
 * (unlinking does not invalidate it) until the setting changes; a backend
 * that has not opened it yet gets "does not exist".  Truncating or
 * overwriting the file in place is the one unsafe change: pages past the
 * new end raise SIGBUS in every backend that reads them (README,
 * "Replacing a model file").
 *
 * Preloading: with gpt in shared_preload_libraries, the postmaster opens
 * gpt.model once at startup (pggpt_preload_model) and every backend is
 * forked with it in `cur`: the same rules then apply to it as to a model
 * the backend opened (another setting or a replaced file opens anew).  A
 * model the postmaster cannot open is logged and skipped: the server
 * starts, and backends report the error on first use.
 *
 * Least privilege: a model is only read from gpt.model_dir.  The name is
 * resolved with realpath() (which follows every symbolic link) and the
 * result must lie inside the resolved directory, so "..", absolute paths
 * elsewhere and links leading out are all refused.
 *
 * Core memory is malloc'd, not palloc'd: the model and session live in
 * static variables across transactions and are freed at backend exit.
 */
#include "postgres.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "miscadmin.h"
#include "storage/ipc.h"

#include "pggpt.h"

typedef struct backend_model {
    gpt_model *model;       /* NULL until the first use */
    gpt_session *session;   /* NULL until a call needs one */
    char path[PATH_MAX];    /* resolved path of the open model */
    char name[MAXPGPATH];   /* gpt.model and gpt.model_dir it was opened */
    char dir[MAXPGPATH];    /* under, to recognise it once removed */
    dev_t dev;              /* identity of the file that was opened */
    ino_t ino;
    off_t size;
    struct timespec mtime;
    int session_threads;    /* threads last set on the session */
    double load_ms;
    bool preloaded;         /* opened by the postmaster */
} backend_model;

static backend_model cur;
/* Registered in backends only: the postmaster's callbacks are dropped in
 * every child it forks, so one registered there would not free a child's
 * model. */
static bool exit_hook_set = false;

/* An idle session kept for the next gpt_generate_tokens (see
 * pggpt_stream_session_acquire); NULL when none. */
static gpt_session *spare_stream = NULL;

static void
release_current(void)
{
    /* The session holds its own reference to the model. */
    gpt_session_free(spare_stream);
    spare_stream = NULL;
    gpt_session_free(cur.session);
    gpt_model_release(cur.model);
    cur.session = NULL;
    cur.model = NULL;
    cur.path[0] = '\0';
    cur.name[0] = '\0';
    cur.dir[0] = '\0';
    cur.preloaded = false;
}

static void
at_backend_exit(int code, Datum arg)
{
    release_current();
}

/* Polled by the core between tokens and between layers, on this backend's
 * own thread.  It only reads the flags the signal handlers set: no
 * longjmp, no PostgreSQL call.  Other interrupts (catchup, barriers) wait
 * until the call returns. */
static int
cancel_requested(void *arg)
{
    return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/* True when the name has a ".." path component. */
static bool
has_dotdot(const char *name)
{
    const char *p = name;

    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t) (end - p) : strlen(p);

        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* True when path lies strictly inside dir (both resolved, no trailing
 * slash except for "/" itself). */
static bool
path_inside(const char *path, const char *dir)
{
    size_t dlen = strlen(dir);

    if (dlen == 1 && dir[0] == '/')
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, dlen) == 0 && path[dlen] == '/';
}

static void
raise_outside(const char *name)
{
    ereport(ERROR,
            (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
             errmsg("model file \"%s\" is outside gpt.model_dir", name),
             errhint("gpt.model must name a file inside gpt.model_dir.")));
}

static void
raise_missing(const char *name)
{
    ereport(ERROR,
            (errcode(ERRCODE_UNDEFINED_FILE),
             errmsg("model file \"%s\" does not exist", name),
             errhint("gpt.model must name a file inside gpt.model_dir.")));
}

/* Resolves gpt.model inside gpt.model_dir into resolved (PATH_MAX bytes)
 * and stats it, raising an error for anything not allowed.  Returns false,
 * without raising, when the file does not exist (the caller decides). */
static bool
resolve_model_path(char *resolved, struct stat *st)
{
    const char *name = pggpt_model_name ? pggpt_model_name : "";
    const char *dir = pggpt_model_dir ? pggpt_model_dir : "";
    char realdir[PATH_MAX];
    char joined[MAXPGPATH * 2];

    if (name[0] == '\0')
        ereport(ERROR,
                (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                 errmsg("gpt.model is empty"),
                 errhint("Set gpt.model to a model file in gpt.model_dir.")));
    if (has_dotdot(name))
        raise_outside(name);

    if (realpath(dir, realdir) == NULL)
        ereport(ERROR,
                (errcode_for_file_access(),
                 errmsg("gpt.model_dir \"%s\" is not accessible: %m", dir),
                 errhint("A superuser can set gpt.model_dir to the directory "
                         "that holds the models.")));

    if (name[0] == '/')
        snprintf(joined, sizeof joined, "%s", name);
    else
        snprintf(joined, sizeof joined, "%s/%s", realdir, name);

    if (realpath(joined, resolved) == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            /* An absolute name elsewhere is refused even if missing, so
             * that errors do not reveal which files exist. */
            if (name[0] == '/' && !path_inside(joined, realdir))
                raise_outside(name);
            return false;
        }
        ereport(ERROR,
                (errcode_for_file_access(),
                 errmsg("could not open model file \"%s\": %m", name)));
    }

    if (!path_inside(resolved, realdir))
        raise_outside(name);

    if (stat(resolved, st) != 0)
        ereport(ERROR,
                (errcode_for_file_access(),
                 errmsg("could not open model file \"%s\": %m", name)));
    /* A directory, fifo or device is refused before opening: a fifo would
     * block the backend. */
    if (!S_ISREG(st->st_mode))
        ereport(ERROR,
                (errcode(ERRCODE_WRONG_OBJECT_TYPE),
                 errmsg("model file \"%s\" is not a regular file", name),
                 errhint("gpt.model must name a GGUF file.")));
    return true;
}

static bool
same_file(const struct stat *st)
{
    return st->st_dev == cur.dev && st->st_ino == cur.ino &&
           st->st_size == cur.size &&
           st->st_mtim.tv_sec == cur.mtime.tv_sec &&
           st->st_mtim.tv_nsec == cur.mtime.tv_nsec;
}

gpt_model *
pggpt_get_model(void)
{
    char resolved[PATH_MAX];
    struct stat st;
    gpt_model *m = NULL;
    gpt_error err;
    gpt_status rc;
    struct timespec t0, t1;

    if (!resolve_model_path(resolved, &st)) {
        /* Removed since this backend opened it: the mapping stays valid,
         * so keep using it rather than fail calls that worked a moment
         * ago.  Only the same setting qualifies, never another name. */
        if (cur.model && strcmp(pggpt_model_name, cur.name) == 0 &&
            strcmp(pggpt_model_dir, cur.dir) == 0)
            return cur.model;
        raise_missing(pggpt_model_name);
    }
    if (cur.model && strcmp(resolved, cur.path) == 0 && same_file(&st))
        return cur.model;

    /* Open the new model before dropping the old one, so that a failure
     * leaves the backend as it was. */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = gpt_model_open(resolved, &m, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc != GPT_OK) {
        const char *name = pggpt_model_name;

        switch (rc) {
        case GPT_ERR_CORRUPT_MODEL:
            ereport(ERROR,
                    (errcode(ERRCODE_DATA_CORRUPTED),
                     errmsg("model file \"%s\" is not a valid GPT-2 GGUF file",
                            name),
                     errdetail("%s", err.message),
                     errhint("Regenerate or download the model again.")));
            break;
        case GPT_ERR_UNSUPPORTED:
            ereport(ERROR,
                    (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                     errmsg("model file \"%s\" uses a feature gpt does not "
                            "support", name),
                     errdetail("%s", err.message)));
            break;
        case GPT_ERR_NOT_FOUND:
            ereport(ERROR,
                    (errcode(ERRCODE_UNDEFINED_FILE),
                     errmsg("could not open model file \"%s\"", name),
                     errdetail("%s", err.message)));
            break;
        default:
            pggpt_raise(rc, &err);
        }
    }

    release_current();
    cur.model = m;
    strlcpy(cur.path, resolved, sizeof cur.path);
    strlcpy(cur.name, pggpt_model_name, sizeof cur.name);
    strlcpy(cur.dir, pggpt_model_dir, sizeof cur.dir);
    cur.dev = st.st_dev;
    cur.ino = st.st_ino;
    cur.size = st.st_size;
    cur.mtime = st.st_mtim;
    cur.load_ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (!exit_hook_set && IsUnderPostmaster) {
        on_proc_exit(at_backend_exit, (Datum) 0);
        exit_hook_set = true;
    }
    return cur.model;
}

int
pggpt_effective_threads(void)
{
    int n = pggpt_threads > 0 ? pggpt_threads : gpt_default_threads();

    if (n > pggpt_max_threads)
        n = pggpt_max_threads;
    return n < 1 ? 1 : n;
}

gpt_session *
pggpt_get_session(void)
{
    gpt_model *m = pggpt_get_model();
    gpt_error err;
    gpt_status rc;
    int threads;

    if (cur.session == NULL) {
        gpt_session *s = NULL;

        rc = gpt_session_new(m, &s, &err);
        if (rc != GPT_OK)
            pggpt_raise(rc, &err);
        gpt_session_set_cancel(s, cancel_requested, NULL);
        cur.session = s;
        cur.session_threads = -1;
    }
    threads = pggpt_effective_threads();
    if (threads != cur.session_threads) {
        rc = gpt_session_set_threads(cur.session, threads, &err);
        if (rc != GPT_OK)
            pggpt_raise(rc, &err);
        cur.session_threads = threads;
    }
    return cur.session;
}

/*
 * Streaming keeps a generation in progress in a session between the rows
 * of a set-returning function, while other gpt calls of the same query
 * (another stream, a gpt_generate on each row) run in between.  So each
 * stream gets a session of its own rather than the backend's: the spare
 * one when it is idle, a new one otherwise.  Sessions allocate their KV
 * cache lazily, so a new one is cheap.
 */
gpt_session *
pggpt_stream_session_acquire(void)
{
    gpt_model *m = pggpt_get_model();
    gpt_session *s = NULL;
    gpt_error err;
    gpt_status rc;

    if (spare_stream && gpt_session_model(spare_stream) == m) {
        s = spare_stream;
        spare_stream = NULL;
    } else {
        rc = gpt_session_new(m, &s, &err);
        if (rc != GPT_OK)
            pggpt_raise(rc, &err);
        gpt_session_set_cancel(s, cancel_requested, NULL);
    }
    rc = gpt_session_set_threads(s, pggpt_effective_threads(), &err);
    if (rc != GPT_OK) {
        pggpt_stream_session_release(s);
        pggpt_raise(rc, &err);
    }
    return s;
}

/* Runs from memory context callbacks, also during error cleanup: it must
 * not raise.  A session of a model that is no longer current is freed. */
void
pggpt_stream_session_release(gpt_session *s)
{
    if (s == NULL)
        return;
    if (spare_stream == NULL && cur.model != NULL &&
        gpt_session_model(s) == cur.model)
        spare_stream = s;
    else
        gpt_session_free(s);
}

double
pggpt_model_load_ms(void)
{
    return cur.load_ms;
}

bool
pggpt_model_preloaded(void)
{
    return cur.model != NULL && cur.preloaded;
}

void
pggpt_preload_model(void)
{
    MemoryContext cx = CurrentMemoryContext;

    PG_TRY();
    {
        (void) pggpt_get_model();
        cur.preloaded = true;
        ereport(LOG,
                (errmsg("gpt: opened model \"%s\" in %.1f ms; backends inherit it",
                        pggpt_model_name, cur.load_ms)));
    }
    PG_CATCH();
    {
        ErrorData *e;

        MemoryContextSwitchTo(cx);
        e = CopyErrorData();
        FlushErrorState();
        ereport(WARNING,
                (errmsg("gpt: could not preload gpt.model: %s", e->message),
                 e->detail ? errdetail("%s", e->detail) : 0,
                 errhint("Backends open the model on first use instead; fix "
                         "gpt.model or set gpt.preload = off.")));
        FreeErrorData(e);
    }
    PG_END_TRY();
}
