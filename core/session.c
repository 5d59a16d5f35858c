/*
 * session.c - sessions, the KV cache with prefix reuse, and the calls that
 * run the model: generation, next-token probabilities, token log-probs.
 */
#include <math.h>
#include <sched.h>
#include <string.h>

#include "internal.h"
#include "mapping.h"
#include "session.h"

/* --------------------------------------------------------------- sessions */

/* Whether any matrix product of the model takes the int8 path. */
static int
has_q8_0(const gpt_model *m)
{
    int l;

    if (m->output.type == GGML_Q8_0)
        return 1;
    for (l = 0; l < m->n_layer; l++) {
        const gpt_layer *L = &m->layers[l];
        if (L->qkv.type == GGML_Q8_0 || L->proj.type == GGML_Q8_0 ||
            L->fc.type == GGML_Q8_0 || L->fc_proj.type == GGML_Q8_0)
            return 1;
    }
    return 0;
}

GPT_API int
gpt_default_threads(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        return n > 0 ? n : 1;
    }
    return 1;
}

GPT_API gpt_status
gpt_session_new(gpt_model *m, gpt_session **out, gpt_error *err)
{
    gpt_session *s;
    size_t d = (size_t)m->n_embd;
    size_t ffw = (size_t)(m->n_ff > m->n_embd ? m->n_ff : m->n_embd);

    *out = NULL;
    s = gpt_calloc(1, sizeof *s);
    if (!s)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    s->model = m;
    gpt_model_retain(m);
    s->kern = gpt_kernels_get();
    s->n_threads = gpt_default_threads();
    s->prefix_reuse = 1;
    /* the scratch buffers in one region, mapped up front (mapping.c:
     * a new connection's first call would take a trap per page) */
#define ROUND64(n) (((n) + 63) & ~(size_t)63)
    {
        size_t act = ROUND64(GPT_CHUNK * d * sizeof(float));   /* x, h */
        size_t o_h = act, o_qkv = 2 * act;
        size_t o_ff = o_qkv + ROUND64(GPT_CHUNK * 3 * d * sizeof(float));
        size_t o_logits = o_ff + ROUND64(GPT_CHUNK * ffw * sizeof(float));
        size_t o_xq = o_logits + ROUND64((size_t)m->n_vocab * sizeof(float));
        char *base;

        s->scratch_bytes = o_xq + (has_q8_0(m) ? GPT_CHUNK * gpt_q8x_stride((int)ffw) : 0);
        s->scratch = base = gpt_alloc_mapped(s->scratch_bytes);
        if (!base) {
            gpt_session_free(s);
            return gpt_set_error(err, GPT_ERR_NOMEM,
                                 "out of memory allocating a session");
        }
        s->x = (float *)base;
        s->h = (float *)(base + o_h);
        s->qkv = (float *)(base + o_qkv);
        s->ff = (float *)(base + o_ff);
        s->logits = (float *)(base + o_logits);
        s->xq = has_q8_0(m) ? (uint8_t *)(base + o_xq) : NULL;
    }
#undef ROUND64
    if (gpt_session_kv(s, 1, err) != GPT_OK) {
        gpt_session_free(s);
        return GPT_ERR_NOMEM;
    }
    *out = s;
    return GPT_OK;
}

GPT_API void
gpt_session_free(gpt_session *s)
{
    if (!s)
        return;
    gpt_pool_free(s->pool);
    gpt_gen_state_free(&s->gen);
    gpt_free(s->sbuf.idx);
    gpt_free(s->sbuf.p);
    gpt_session_unshare(s);
    gpt_session_kv_trim(s, 0);
    gpt_free_mapped(s->scratch, s->scratch_bytes);
    gpt_free(s->scores);
    gpt_free(s->all_logits);
    gpt_model_release(s->model);
    gpt_free(s);
}

GPT_API gpt_model *
gpt_session_model(gpt_session *s)
{
    return s->model;
}

GPT_API gpt_status
gpt_session_set_threads(gpt_session *s, int n, gpt_error *err)
{
    if (n < 0 || n > 1024)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "threads must be between 0 and 1024, not %d", n);
    if (n == 0)
        n = gpt_default_threads();
    if (n != s->n_threads) {
        gpt_pool_free(s->pool); /* the next pass starts a new one */
        s->pool = NULL;
        s->n_threads = n;
    }
    return GPT_OK;
}

GPT_API int
gpt_session_threads(const gpt_session *s)
{
    return s->n_threads;
}

GPT_API void
gpt_session_set_cancel(gpt_session *s, gpt_cancel_fn fn, void *arg)
{
    s->cancel = fn;
    s->cancel_arg = arg;
}

GPT_API void
gpt_session_set_prefix_reuse(gpt_session *s, int on)
{
    s->prefix_reuse = on != 0;
}

GPT_API int
gpt_session_prefix_reuse(const gpt_session *s)
{
    return s->prefix_reuse;
}

int
gpt_session_check_cancel(gpt_session *s)
{
    return s->cancel && s->cancel(s->cancel_arg);
}

static int
kv_chunks(const gpt_model *m)
{
    return (m->n_ctx + GPT_KV_CHUNK - 1) / GPT_KV_CHUNK;
}

static size_t
kv_chunk_bytes(const gpt_model *m)
{
    return (size_t)2 * m->n_layer * GPT_KV_CHUNK * m->n_embd * sizeof(uint16_t);
}

/* A cache holding nothing: its ids and chunk table, no chunk.  0 without
 * memory for them. */
static int
kv_init(const gpt_model *m, gpt_kv *kv)
{
    memset(kv, 0, sizeof *kv);
    kv->ids = gpt_calloc((size_t)m->n_ctx, sizeof(int32_t));
    kv->chunk = gpt_calloc((size_t)kv_chunks(m), sizeof *kv->chunk);
    if (kv->ids && kv->chunk)
        return 1;
    gpt_free(kv->ids);
    gpt_free(kv->chunk);
    memset(kv, 0, sizeof *kv);
    return 0;
}

static void
kv_free(const gpt_model *m, gpt_kv *kv)
{
    int c;

    for (c = 0; kv->chunk && c < kv_chunks(m); c++)
        gpt_free_mapped(kv->chunk[c], kv_chunk_bytes(m));
    gpt_free(kv->chunk);
    gpt_free(kv->ids);
    memset(kv, 0, sizeof *kv);
}

gpt_status
gpt_session_kv(gpt_session *s, int n, gpt_error *err)
{
    for (; s->n_kv < n; s->n_kv++)
        if (!kv_init(s->model, &s->kv[s->n_kv]))
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    return GPT_OK;
}

gpt_status
gpt_kv_reserve(const gpt_model *m, gpt_kv *kv, int from, int to, gpt_error *err)
{
    int c;

    for (c = from / GPT_KV_CHUNK; from < to && c <= (to - 1) / GPT_KV_CHUNK; c++)
        if (!kv->chunk[c] && !(kv->chunk[c] = gpt_alloc_mapped(kv_chunk_bytes(m))))
            return gpt_set_error(err, GPT_ERR_NOMEM,
                                 "out of memory allocating %zu MB of KV cache",
                                 (kv_chunk_bytes(m) + (1 << 20) - 1) >> 20);
    return GPT_OK;
}

void
gpt_session_kv_trim(gpt_session *s, int n)
{
    while (s->n_kv > n)
        kv_free(s->model, &s->kv[--s->n_kv]);
}

/* Starts the pool and per-thread scratch lazily (never at load time). */
static gpt_status
ensure_workers(gpt_session *s, gpt_error *err)
{
    if (s->n_threads > 1 && !s->pool) {
        gpt_status st = gpt_pool_new(s->n_threads, &s->pool, err);
        if (st != GPT_OK)
            return st;
    }
    if (s->scores_threads < s->n_threads) {
        gpt_free(s->scores);
        s->scores_threads = 0;
        s->scores = gpt_malloc((size_t)s->n_threads * GPT_MIX_Q *
                               s->model->n_ctx * sizeof(float));
        if (!s->scores)
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        s->scores_threads = s->n_threads;
    }
    return GPT_OK;
}

/* Tokens at the start of ids[0, n) that kv holds. */
static int
common_prefix(const gpt_kv *kv, const int32_t *ids, int n)
{
    int c = 0, lim = n < kv->n_cached ? n : kv->n_cached;

    while (c < lim && kv->ids[c] == ids[c])
        c++;
    return c;
}

typedef struct copy_job {
    gpt_session *s;
    gpt_kv *d;
    const gpt_kv *src;
    int from, to;
} copy_job;

/* The keys (even blocks) or values (odd) of some (layer, head) pairs,
 * split across the pool, a chunk's run of rows at a time (both caches
 * chunk positions alike); d's chunks are allocated. */
static void
copy_task(void *arg, int ith, int nth)
{
    copy_job *j = arg;
    const gpt_model *m = j->s->model;
    size_t hd = (size_t)(m->n_embd / m->n_head);
    int lo, hi, b, k, n;

    gpt_split(2 * m->n_layer * m->n_head, 1, ith, nth, &lo, &hi);
    for (b = lo; b < hi; b++) {
        int v = b % 2, l = b / 2 / m->n_head, h = b / 2 % m->n_head;
        for (k = j->from; k < j->to; k += n) {
            n = gpt_kv_run(k, j->to);
            memcpy(gpt_kv_row(j->d, m, v, l, h, k), gpt_kv_row(j->src, m, v, l, h, k),
                   (size_t)n * hd * sizeof(uint16_t));
        }
    }
}

/* Positions [from, to) of src, which may read some of them from its base,
 * into d's own chunks (allocated). */
static void
kv_copy_rows(gpt_session *s, gpt_kv *d, const gpt_kv *src, int from, int to)
{
    int nb = src->base ? src->n_base : 0, a = nb < from ? from : nb > to ? to : nb;

    if (a > from) {
        copy_job j = {s, d, src->base, from, a};
        gpt_pool_run(s->pool, copy_task, &j);
    }
    if (to > a) {
        copy_job j = {s, d, src, a, to};
        gpt_pool_run(s->pool, copy_task, &j);
    }
}

/* Copies positions [from, to) of kv[src] into kv[dst], whose positions
 * [0, from) already hold the same tokens: per layer, head and chunk one
 * contiguous block of keys and one of values.  kv[dst] holds [0, to)
 * afterwards; without memory for them it keeps [0, from) and this returns
 * 0. */
static int
kv_copy(gpt_session *s, int dst, int src, int from, int to)
{
    gpt_kv *d = &s->kv[dst];

    if (d->n_cached > from)
        d->n_cached = from;
    if (d->n_base > from)
        d->n_base = from;
    if (gpt_kv_reserve(s->model, d, from, to, NULL) != GPT_OK)
        return 0;
    kv_copy_rows(s, d, &s->kv[src], from, to);
    memcpy(d->ids + from, s->kv[src].ids + from,
           (size_t)(to - from) * sizeof *d->ids);
    d->n_cached = to;
    return 1;
}

/* kv reads positions [0, c) from s->pfx from now on (its own k and v there
 * are left alone). */
static void
kv_rebase(gpt_session *s, gpt_kv *kv, int c)
{
    memcpy(kv->ids, s->pfx.ids, (size_t)c * sizeof *kv->ids);
    kv->base = &s->pfx;
    kv->n_base = c;
    kv->n_cached = c;
}

int
gpt_prefix_start(gpt_session *s, int slot, const int32_t *ids, int n,
                 int copy)
{
    int own, common, src = slot, j, sh = 0;

    if (!s->prefix_reuse)
        return 0;
    own = common = common_prefix(&s->kv[slot], ids, n);
    /* the shared prefix of a batch is pointed at, not copied */
    if (s->pfx.chunk) {
        sh = common_prefix(&s->pfx, ids, n);
        if (sh == n)
            sh = n - 1;
        if (sh > common)
            common = sh;
    }
    for (j = 0; j < s->n_kv; j++)
        if (j != slot) {
            int c = common_prefix(&s->kv[j], ids, n);
            if (c > common) {
                common = c;
                src = j;
            }
        }
    if (common == n) /* recompute the last token to get its logits */
        common = n - 1;
    if (copy && sh > own) {
        kv_rebase(s, &s->kv[slot], sh);
        own = sh;
    }
    if (copy && src != slot && common > own && !kv_copy(s, slot, src, own, common))
        common = own; /* no memory to copy into: evaluate the rest */
    return common;
}

gpt_status
gpt_session_share(gpt_session *s, const int32_t *ids, int n, gpt_error *err)
{
    const gpt_model *m = s->model;
    gpt_kv *p = &s->pfx, *k0 = &s->kv[0];
    int have, pos;
    gpt_status st;

    gpt_session_unshare(s);
    if (n < 1 || n > m->n_ctx || s->n_kv < 1)
        return GPT_OK; /* just no sharing */
    if ((st = ensure_workers(s, err)) != GPT_OK)
        return st;
    have = common_prefix(k0, ids, n);
    if (have > 0 && !k0->base) {
        /* kv[0] holds part of the prefix: it becomes the shared cache (no
         * copy) and kv[0] starts over */
        gpt_kv fresh;
        if (!kv_init(m, &fresh))
            return GPT_OK; /* without memory for it the batch copies */
        if (gpt_kv_reserve(m, k0, have, n, NULL) != GPT_OK) {
            kv_free(m, &fresh);
            return GPT_OK;
        }
        *p = *k0;
        p->n_cached = have;
        *k0 = fresh;
    } else if (!kv_init(m, p) || gpt_kv_reserve(m, p, 0, n, NULL) != GPT_OK) {
        kv_free(m, p);
        return GPT_OK;
    }
    for (pos = p->n_cached; pos < n; pos += GPT_CHUNK) {
        int T = n - pos < GPT_CHUNK ? n - pos : GPT_CHUNK;
        st = gpt_forward_seq(s, GPT_KV_SHARED, ids + pos, T, pos, GPT_LOGITS_NONE, err);
        if (st != GPT_OK) {
            gpt_session_unshare(s);
            return st;
        }
    }
    return GPT_OK;
}

void
gpt_session_unshare(gpt_session *s)
{
    gpt_kv *p = &s->pfx;
    int j;

    if (!p->chunk)
        return;
    for (j = 0; j < s->n_kv; j++) {
        gpt_kv *kv = &s->kv[j];
        if (!kv->base)
            continue;
        if (j == 0 && kv->n_cached > 0 &&
            gpt_kv_reserve(s->model, p, kv->n_base, kv->n_cached, NULL) == GPT_OK) {
            /* nobody reads s->pfx any more: kv[0]'s own rows
             * [n_base, n_cached) go there and the two swap, so only those
             * rows are copied, not the shared prefix */
            gpt_kv t = *kv;
            copy_job c = {s, p, kv, kv->n_base, kv->n_cached};
            if (kv->n_cached > kv->n_base)
                gpt_pool_run(s->pool, copy_task, &c);
            memcpy(p->ids + kv->n_base, kv->ids + kv->n_base,
                   (size_t)(kv->n_cached - kv->n_base) * sizeof *kv->ids);
            p->n_cached = kv->n_cached;
            *kv = *p;
            *p = t;
        } else {
            kv->n_cached = 0; /* (also when there is no memory to keep it) */
        }
        kv->base = NULL;
        kv->n_base = 0;
    }
    kv_free(s->model, p);
}

gpt_status
gpt_session_workers(gpt_session *s, gpt_error *err)
{
    return ensure_workers(s, err);
}

gpt_status
gpt_prefill(gpt_session *s, int slot, const int32_t *ids, int n,
            gpt_error *err)
{
    int pos;
    gpt_status st;

    if ((st = ensure_workers(s, err)) != GPT_OK)
        return st;
    for (pos = gpt_prefix_start(s, slot, ids, n, 1); pos < n; pos += GPT_CHUNK) {
        int T = n - pos < GPT_CHUNK ? n - pos : GPT_CHUNK;
        st = gpt_forward_seq(s, slot, ids + pos, T, pos,
                             pos + T == n ? GPT_LOGITS_LAST : GPT_LOGITS_NONE,
                             err);
        if (st != GPT_OK)
            return st;
    }
    return GPT_OK;
}

/* --------------------------------------------------------------- options */

GPT_API void
gpt_gen_options_init(gpt_gen_options *o)
{
    memset(o, 0, sizeof *o);
    o->max_tokens = 64;
    o->temperature = 0.8;
    o->top_k = 40;
    o->top_p = 0.95;
    o->seed = 0;
}

GPT_API gpt_status
gpt_gen_options_check(const gpt_model *m, const gpt_gen_options *o,
                      gpt_error *err)
{
    int i;

    if (o->max_tokens < 0)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "max_tokens must be at least 0, not %d",
                             o->max_tokens);
    if (m && o->max_tokens > m->n_ctx)
        return gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                             "max_tokens %d is larger than the model's "
                             "context of %d tokens",
                             o->max_tokens, m->n_ctx);
    if (!(o->temperature >= 0) || isinf(o->temperature))
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "temperature must be a finite number >= 0 (0 "
                             "is greedy), not %g",
                             o->temperature);
    if (o->top_k < 0)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "top_k must be at least 0 (0 disables it), not "
                             "%d",
                             o->top_k);
    if (!(o->top_p > 0 && o->top_p <= 1))
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "top_p must be in (0, 1] (1 disables it), not "
                             "%g",
                             o->top_p);
    if (o->n_stop < 0 || o->n_stop > GPT_MAX_STOP)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "at most %d stop strings are allowed, not %d",
                             GPT_MAX_STOP, o->n_stop);
    for (i = 0; i < o->n_stop; i++) {
        if (!o->stop[i] || !o->stop[i][0])
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "stop string %d is empty", i + 1);
        if (strlen(o->stop[i]) > 1024)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "stop string %d is longer than 1024 bytes",
                                 i + 1);
    }
    return GPT_OK;
}

/* --------------------------------------------------------- probabilities */

GPT_API gpt_status
gpt_next_token_probs(gpt_session *s, const char *text, size_t len, int k,
                     gpt_token_prob **out, size_t *n_out, gpt_error *err)
{
    const gpt_model *m = s->model;
    int32_t *ids = NULL, *top = NULL;
    size_t n = 0;
    gpt_status st;
    double mx, sum = 0, lse;
    int i;

    *out = NULL;
    *n_out = 0;
    s->gen.active = 0;
    if (k < 1)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "k must be at least 1, not %d", k);
    if (k > m->n_vocab)
        k = m->n_vocab;
    if ((st = gpt_prompt_ids(s, text, len, &ids, &n, err)) != GPT_OK)
        return st;
    if (n > (size_t)m->n_ctx) {
        gpt_free(ids);
        return gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                             "text of %zu tokens is longer than the model's "
                             "context of %d tokens",
                             n, m->n_ctx);
    }
    st = gpt_prefill(s, 0, ids, (int)n, err);
    gpt_free(ids);
    if (st != GPT_OK)
        return st;
    top = gpt_malloc((size_t)m->n_vocab * sizeof *top);
    *out = gpt_malloc((size_t)k * sizeof **out);
    if (!top || !*out) {
        gpt_free(top);
        gpt_free(*out);
        *out = NULL;
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    }
    k = gpt_top_k(s->logits, m->n_vocab, k, top);
    mx = s->logits[top[0]];
    for (i = 0; i < m->n_vocab; i++)
        sum += exp((double)s->logits[i] - mx);
    lse = mx + log(sum);
    for (i = 0; i < k; i++) {
        (*out)[i].token_id = top[i];
        (*out)[i].logprob = (double)s->logits[top[i]] - lse;
        (*out)[i].prob = exp((*out)[i].logprob);
    }
    gpt_free(top);
    *n_out = (size_t)k;
    return GPT_OK;
}

GPT_API gpt_status
gpt_token_logprobs(gpt_session *s, const char *text, size_t len,
                   int32_t **ids_out, double **lp_out, size_t *n_out,
                   gpt_error *err)
{
    const gpt_model *m = s->model;
    int32_t *ids = NULL, *seq = NULL;
    double *lp = NULL;
    size_t n = 0;
    gpt_status st;
    int pos, V = m->n_vocab;

    *ids_out = NULL;
    *lp_out = NULL;
    *n_out = 0;
    s->gen.active = 0;
    if ((st = gpt_tokenize(m, text, len, &ids, &n, err)) != GPT_OK)
        return st;
    if (n + 1 > (size_t)m->n_ctx) {
        gpt_free(ids);
        return gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                             "text of %zu tokens (plus <|endoftext|>) is "
                             "longer than the model's context of %d tokens",
                             n, m->n_ctx);
    }
    seq = gpt_malloc((n + 1) * sizeof *seq);
    lp = gpt_malloc((n ? n : 1) * sizeof *lp);
    if (!s->all_logits)
        s->all_logits = gpt_malloc((size_t)GPT_CHUNK * V * sizeof(float));
    if (!seq || !lp || !s->all_logits) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = ensure_workers(s, err)) != GPT_OK)
        goto done;
    seq[0] = m->eos_id;
    memcpy(seq + 1, ids, n * sizeof *ids);
    /* positions 0..n-1 predict seq[1..n]; the cache is rebuilt from 0 so
     * this call does not depend on earlier ones (prefix reuse would give
     * the same numbers, but all logits are needed anyway). */
    for (pos = 0; pos < (int)n; pos += GPT_CHUNK) {
        int T = (int)n - pos < GPT_CHUNK ? (int)n - pos : GPT_CHUNK, t;
        if ((st = gpt_forward_seq(s, 0, seq + pos, T, pos, GPT_LOGITS_ALL, err)) != GPT_OK)
            goto done;
        for (t = 0; t < T; t++)
            lp[pos + t] = gpt_logprob_of(s->all_logits + (size_t)t * V, V,
                                         seq[pos + t + 1]);
    }
    *ids_out = ids;
    *lp_out = lp;
    *n_out = n;
    ids = NULL;
    lp = NULL;
done:
    gpt_free(ids);
    gpt_free(lp);
    gpt_free(seq);
    return st;
}

GPT_API gpt_status
gpt_eval_logits(gpt_session *s, const int32_t *ids, size_t n, float **logits,
                gpt_error *err)
{
    const gpt_model *m = s->model;
    gpt_status st;

    *logits = NULL;
    s->gen.active = 0;
    if (n < 1 || n > (size_t)m->n_ctx)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "need 1 to %d ids, not %zu", m->n_ctx, n);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->n_vocab)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "token id %d is out of range [0, %d)",
                                 ids[i], m->n_vocab);
    if ((st = gpt_prefill(s, 0, ids, (int)n, err)) != GPT_OK)
        return st;
    *logits = gpt_malloc((size_t)m->n_vocab * sizeof(float));
    if (!*logits)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    memcpy(*logits, s->logits, (size_t)m->n_vocab * sizeof(float));
    return GPT_OK;
}

GPT_API gpt_status
gpt_score(gpt_session *s, const char *prompt, size_t prompt_len,
          const char *cont, size_t cont_len, double *logprob,
          size_t *n_tokens, gpt_error *err)
{
    const gpt_model *m = s->model;
    int32_t *p = NULL, *c = NULL, *seq = NULL;
    size_t np = 0, nc = 0;
    double sum = 0;
    int pos, V = m->n_vocab;
    gpt_status st;

    *logprob = 0;
    if (n_tokens)
        *n_tokens = 0;
    s->gen.active = 0;
    if ((st = gpt_prompt_ids(s, prompt, prompt_len, &p, &np, err)) != GPT_OK)
        return st;
    if ((st = gpt_tokenize(m, cont, cont_len, &c, &nc, err)) != GPT_OK)
        goto done;
    if (nc == 0)
        goto done;
    if (np + nc > (size_t)m->n_ctx) {
        st = gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                           "prompt of %zu tokens plus continuation of %zu "
                           "tokens is more than the model's context of %d "
                           "tokens",
                           np, nc, m->n_ctx);
        goto done;
    }
    seq = gpt_malloc((np + nc) * sizeof *seq);
    if (!s->all_logits)
        s->all_logits = gpt_malloc((size_t)GPT_CHUNK * V * sizeof(float));
    if (!seq || !s->all_logits) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto done;
    }
    memcpy(seq, p, np * sizeof *seq);
    memcpy(seq + np, c, nc * sizeof *seq);
    /* the prompt (reused from the cache when it is the same) predicts c[0] */
    if ((st = gpt_prefill(s, 0, p, (int)np, err)) != GPT_OK)
        goto done;
    sum = gpt_logprob_of(s->logits, V, c[0]);
    /* c[0..nc-2] at positions np.. predict c[1..nc-1] */
    for (pos = (int)np; pos < (int)(np + nc - 1); pos += GPT_CHUNK) {
        int T = (int)(np + nc - 1) - pos < GPT_CHUNK ? (int)(np + nc - 1) - pos : GPT_CHUNK, t;
        if ((st = gpt_forward_seq(s, 0, seq + pos, T, pos, GPT_LOGITS_ALL, err)) != GPT_OK)
            goto done;
        for (t = 0; t < T; t++)
            sum += gpt_logprob_of(s->all_logits + (size_t)t * V, V, seq[pos + t + 1]);
    }
    *logprob = sum;
    if (n_tokens)
        *n_tokens = nc;
done:
    gpt_free(p);
    gpt_free(c);
    gpt_free(seq);
    return st;
}
