/*
 * rss.c - memory of a process that has a model loaded and a session used,
 * for `make bench`: the weights should stay file-backed (mapped, shared
 * with every other process of the machine) and the private memory should
 * be the KV cache plus a few MB.  Prints JSON from /proc/self/smaps_rollup
 * read before opening the model and after a 64-token prompt + 8 tokens.
 *
 *   rss MODEL.gguf
 *
 * "anon" (anonymous memory: heap, KV cache, scratch) is the private cost;
 * a file-backed page mapped by one process alone shows as Private_Clean in
 * smaps, so that field is reported but is not a private cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"

typedef struct {
    long rss, pss, shared_clean, private_clean, private_dirty, anon;
} mem;

static int
read_mem(mem *m)
{
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    memset(m, 0, sizeof *m);
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        long v;
        char key[64];
        if (sscanf(line, "%63[^:]: %ld kB", key, &v) != 2)
            continue;
        if (!strcmp(key, "Rss")) m->rss = v;
        else if (!strcmp(key, "Pss")) m->pss = v;
        else if (!strcmp(key, "Shared_Clean")) m->shared_clean = v;
        else if (!strcmp(key, "Private_Clean")) m->private_clean = v;
        else if (!strcmp(key, "Private_Dirty")) m->private_dirty = v;
        else if (!strcmp(key, "Anonymous")) m->anon = v;
    }
    fclose(f);
    return 0;
}

static void
print_mem(const char *name, const mem *m)
{
    printf("\"%s\": {\"rss_kb\": %ld, \"pss_kb\": %ld, \"shared_clean_kb\": %ld, "
           "\"private_clean_kb\": %ld, \"private_dirty_kb\": %ld, \"anon_kb\": %ld}",
           name, m->rss, m->pss, m->shared_clean, m->private_clean,
           m->private_dirty, m->anon);
}

int
main(int argc, char **argv)
{
    gpt_model *m;
    gpt_session *s;
    gpt_error err;
    gpt_model_info info;
    mem before, after;
    int32_t ids[72];
    float *logits;

    if (argc < 2)
        return fprintf(stderr, "usage: rss MODEL.gguf\n"), 2;
    if (read_mem(&before) != 0)
        return fprintf(stderr, "rss: cannot read /proc/self/smaps_rollup\n"), 1;
    if (gpt_model_open(argv[1], &m, &err) != GPT_OK ||
        gpt_session_new(m, &s, &err) != GPT_OK ||
        gpt_session_set_threads(s, 1, &err) != GPT_OK)
        return fprintf(stderr, "rss: %s\n", err.message), 1;
    gpt_model_get_info(m, &info);
    for (int i = 0; i < 72; i++)
        ids[i] = (int32_t)((i * 7919 + 13) % 50000 % info.n_vocab);
    /* a 64-token prompt, then 8 single-token steps */
    for (size_t n = 64; n <= 72; n++) {
        if (gpt_eval_logits(s, ids, n, &logits, &err) != GPT_OK)
            return fprintf(stderr, "rss: %s\n", err.message), 1;
        gpt_free(logits);
    }
    if (read_mem(&after) != 0)
        return 1;
    printf("{\"model\": \"%s\", \"file_size\": %lld, \"n_ctx\": %d, "
           "\"kv_cache_bytes\": %lld, ", argv[1], (long long)info.file_size,
           info.n_ctx,
           /* K and V, every layer, the full context, F16 */
           2LL * info.n_layer * info.n_ctx * info.n_embd * 2);
    print_mem("before", &before);
    printf(", ");
    print_mem("after", &after);
    printf(", \"anon_added_kb\": %ld}\n", after.anon - before.anon);
    gpt_session_free(s);
    gpt_model_release(m);
    return 0;
}
