/*
 * model_path.c - finding the default model (see model_path.h).
 */
#include "model_path.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

int gpt_sqlite_default_model(char *out, size_t outlen)
{
    const char *env = getenv("GPT_MODEL");
    if (env && *env) {
        snprintf(out, outlen, "%s", env);
        return 0;
    }

    char cand[4][PATH_MAX + 64];
    int n = 0;
    Dl_info info;
    char dir[PATH_MAX];
    if (dladdr((void *)&gpt_sqlite_default_model, &info) && info.dli_fname &&
        realpath(info.dli_fname, dir)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        snprintf(cand[n++], sizeof cand[0], "%s/../models/default.gguf", dir);
        snprintf(cand[n++], sizeof cand[0], "%s/../share/gpt/default.gguf",
                 dir);
    }
#ifdef GPT_SQLITE_MODEL_PATH
    snprintf(cand[n++], sizeof cand[0], "%s", GPT_SQLITE_MODEL_PATH);
#endif
    for (int i = 0; i < n; i++) {
        if (is_file(cand[i])) {
            char real[PATH_MAX];
            snprintf(out, outlen, "%s", realpath(cand[i], real) ? real : cand[i]);
            return 0;
        }
    }
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o + 1 < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", cand[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    return -1;
}
