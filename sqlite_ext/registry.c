/*
 * registry.c - the process-wide table of mapped models (see registry.h).
 *
 * Opening happens under the mutex: it costs milliseconds (the file is
 * mapped, not read), and it keeps two connections that load the same file
 * at once from mapping it twice.  Sessions are made and freed outside it.
 */
#include "registry.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Idle sessions kept per model: as many as calls that ran at once, up to
 * this; more are freed when given back. */
#define IDLE_MAX 8

typedef struct entry {
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    gpt_model *model;
    int users;
    gpt_session *idle[IDLE_MAX]; /* last given back at the end */
    int n_idle;
    struct entry *next;
} entry;

static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static entry *entries;

/* The core names the file it opened (the resolved path) at the start of
 * its message; show the name the user gave instead. */
static void name_as_given(gpt_error *err, const char *real, const char *given)
{
    size_t n = strlen(real);
    if (strcmp(real, given) == 0 || strncmp(err->message, real, n) != 0)
        return;
    char rest[GPT_ERROR_MAX];
    snprintf(rest, sizeof rest, "%s", err->message + n);
    snprintf(err->message, sizeof err->message, "%.200s%.300s", given, rest);
}

gpt_status gpt_registry_acquire(const char *path, gpt_model **out,
                                gpt_error *err)
{
    char real[PATH_MAX];
    struct stat st;
    *out = NULL;
    /* When the file cannot be resolved, let the core open the name as given
     * so that the message is the core's (missing file, directory, ...). */
    if (!realpath(path, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode))
        return gpt_model_open(path, out, err);

    pthread_mutex_lock(&registry_mutex);
    for (entry *e = entries; e; e = e->next) {
        if (e->dev == st.st_dev && e->ino == st.st_ino &&
            e->size == st.st_size && e->mtime.tv_sec == st.st_mtim.tv_sec &&
            e->mtime.tv_nsec == st.st_mtim.tv_nsec) {
            e->users++;
            *out = e->model;
            pthread_mutex_unlock(&registry_mutex);
            return GPT_OK;
        }
    }
    entry *e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_unlock(&registry_mutex);
        err->code = GPT_ERR_NOMEM;
        strcpy(err->message, "out of memory");
        return GPT_ERR_NOMEM;
    }
    gpt_status rc = gpt_model_open(real, &e->model, err);
    if (rc != GPT_OK) {
        pthread_mutex_unlock(&registry_mutex);
        free(e);
        name_as_given(err, real, path);
        return rc;
    }
    e->dev = st.st_dev;
    e->ino = st.st_ino;
    e->size = st.st_size;
    e->mtime = st.st_mtim;
    e->users = 1;
    e->next = entries;
    entries = e;
    *out = e->model;
    pthread_mutex_unlock(&registry_mutex);
    return GPT_OK;
}

void gpt_registry_release(gpt_model *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&registry_mutex);
    for (entry **pe = &entries; *pe; pe = &(*pe)->next) {
        entry *e = *pe;
        if (e->model != m)
            continue;
        if (--e->users == 0) {
            *pe = e->next;
            pthread_mutex_unlock(&registry_mutex);
            while (e->n_idle > 0)
                gpt_session_free(e->idle[--e->n_idle]);
            gpt_model_release(e->model);
            free(e);
            return;
        }
        pthread_mutex_unlock(&registry_mutex);
        return;
    }
    pthread_mutex_unlock(&registry_mutex);
    gpt_model_release(m); /* opened outside the table (see acquire) */
}

static entry *find_model(const gpt_model *m)
{
    for (entry *e = entries; e; e = e->next)
        if (e->model == m)
            return e;
    return NULL;
}

gpt_status gpt_registry_take_session(gpt_model *m, int threads,
                                     gpt_session **out, gpt_error *err)
{
    gpt_session *s = NULL;
    pthread_mutex_lock(&registry_mutex);
    entry *e = find_model(m);
    if (e && e->n_idle > 0)
        s = e->idle[--e->n_idle];
    pthread_mutex_unlock(&registry_mutex);
    if (!s) {
        gpt_status rc = gpt_session_new(m, &s, err);
        if (rc != GPT_OK)
            return rc;
    }
    gpt_status rc = gpt_session_set_threads(s, threads, err);
    if (rc != GPT_OK) {
        gpt_registry_give_session(s);
        return rc;
    }
    *out = s;
    return GPT_OK;
}

void gpt_registry_give_session(gpt_session *s)
{
    if (!s)
        return;
    gpt_session_set_cancel(s, NULL, NULL);
    pthread_mutex_lock(&registry_mutex);
    entry *e = find_model(gpt_session_model(s));
    if (e && e->n_idle < IDLE_MAX) {
        e->idle[e->n_idle++] = s;
        s = NULL;
    }
    pthread_mutex_unlock(&registry_mutex);
    gpt_session_free(s); /* NULL ok */
}

int gpt_registry_count(void)
{
    int n = 0;
    pthread_mutex_lock(&registry_mutex);
    for (entry *e = entries; e; e = e->next)
        n++;
    pthread_mutex_unlock(&registry_mutex);
    return n;
}
