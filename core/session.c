/*
 * session.c - sessions, the KV cache with prefix reuse, and the calls that
 * run the model: generation, next-token probabilities, token log-probs.
 */
#include <math.h>
#include <sched.h>
#include <string.h>

#include "internal.h"
#include "session.h"

/* --------------------------------------------------------------- sessions */

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
    size_t d = (size_t)m->n_embd, ctx = (size_t)m->n_ctx;
    size_t ffw = (size_t)(m->n_ff > m->n_embd ? m->n_ff : m->n_embd);

    *out = NULL;
    s = gpt_calloc(1, sizeof *s);
    if (!s)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    s->model = m;
    gpt_model_retain(m);
    s->kern = gpt_kernels_get();
    s->n_threads = gpt_default_threads();
    s->k_cache = gpt_calloc((size_t)m->n_layer * ctx * d, sizeof(float));
    s->v_cache = gpt_calloc((size_t)m->n_layer * ctx * d, sizeof(float));
    s->cached_ids = gpt_calloc(ctx, sizeof(int32_t));
    s->x = gpt_calloc(GPT_CHUNK * d, sizeof(float));
    s->h = gpt_calloc(GPT_CHUNK * d, sizeof(float));
    s->qkv = gpt_calloc(GPT_CHUNK * 3 * d, sizeof(float));
    s->ff = gpt_calloc(GPT_CHUNK * ffw, sizeof(float));
    s->logits = gpt_calloc((size_t)m->n_vocab, sizeof(float));
    if (!s->k_cache || !s->v_cache || !s->cached_ids || !s->x || !s->h ||
        !s->qkv || !s->ff || !s->logits) {
        gpt_session_free(s);
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory allocating a session (KV cache "
                             "of %zu MB)",
                             (size_t)m->n_layer * ctx * d * 8 >> 20);
    }
    *out = s;
    return GPT_OK;
}

static void
gen_reset(gpt_gen_state *g)
{
    gpt_free(g->stop_buf);
    g->stop_buf = NULL;
    g->active = 0;
}

GPT_API void
gpt_session_free(gpt_session *s)
{
    if (!s)
        return;
    gpt_pool_free(s->pool);
    gpt_free(s->gen.stop_buf);
    gpt_free(s->gen.raw);
    gpt_free(s->gen.step_text);
    gpt_free(s->sbuf.idx);
    gpt_free(s->sbuf.p);
    gpt_free(s->k_cache);
    gpt_free(s->v_cache);
    gpt_free(s->cached_ids);
    gpt_free(s->x);
    gpt_free(s->h);
    gpt_free(s->qkv);
    gpt_free(s->ff);
    gpt_free(s->scores);
    gpt_free(s->logits);
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

int
gpt_session_check_cancel(gpt_session *s)
{
    return s->cancel && s->cancel(s->cancel_arg);
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
        s->scores = gpt_malloc((size_t)s->n_threads * s->model->n_ctx *
                               sizeof(float));
        if (!s->scores)
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        s->scores_threads = s->n_threads;
    }
    return GPT_OK;
}

gpt_status
gpt_prefill(gpt_session *s, const int32_t *ids, int n, gpt_error *err)
{
    int common = 0, pos;
    gpt_status st;

    if ((st = ensure_workers(s, err)) != GPT_OK)
        return st;
    while (common < n && common < s->n_cached &&
           s->cached_ids[common] == ids[common])
        common++;
    if (common == n) /* recompute the last token to get its logits */
        common = n - 1;
    for (pos = common; pos < n; pos += GPT_CHUNK) {
        int T = n - pos < GPT_CHUNK ? n - pos : GPT_CHUNK;
        st = gpt_forward(s, ids + pos, T, pos,
                         pos + T == n ? GPT_LOGITS_LAST : GPT_LOGITS_NONE, err);
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

/* ------------------------------------------------------------ generation */

/* Tokenizes a prompt; an empty prompt becomes <|endoftext|>. */
static gpt_status
prompt_ids(gpt_session *s, const char *text, size_t len, int32_t **ids,
           size_t *n, gpt_error *err)
{
    gpt_status st = gpt_tokenize(s->model, text, len, ids, n, err);

    if (st == GPT_OK && *n == 0) {
        gpt_free(*ids);
        *ids = gpt_malloc(sizeof **ids);
        if (!*ids)
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        (*ids)[0] = s->model->eos_id;
        *n = 1;
    }
    return st;
}

static gpt_status
raw_append(gpt_gen_state *g, const char *p, size_t n, gpt_error *err)
{
    if (g->raw_len + n + 1 > g->raw_cap) {
        size_t cap = (g->raw_len + n + 1) * 2;
        char *r = gpt_realloc(g->raw, cap);
        if (!r)
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        g->raw = r;
        g->raw_cap = cap;
    }
    memcpy(g->raw + g->raw_len, p, n);
    g->raw_len += n;
    return GPT_OK;
}

static gpt_status
copy_stops(gpt_gen_state *g, const gpt_gen_options *o, gpt_error *err)
{
    size_t total = 0, off = 0;
    int i;

    g->opts = *o;
    g->max_stop = 0;
    for (i = 0; i < o->n_stop; i++)
        total += strlen(o->stop[i]) + 1;
    g->stop_buf = gpt_malloc(total);
    if (!g->stop_buf)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    for (i = 0; i < o->n_stop; i++) {
        size_t n = strlen(o->stop[i]);
        memcpy(g->stop_buf + off, o->stop[i], n + 1);
        g->opts.stop[i] = g->stop_buf + off;
        off += n + 1;
        if (n > g->max_stop)
            g->max_stop = n;
    }
    return GPT_OK;
}

static gpt_status
generate_begin(gpt_session *s, const char *prompt, size_t len,
               const gpt_gen_options *o, int want_logprob, gpt_error *err)
{
    gpt_gen_state *g = &s->gen;
    const gpt_model *m = s->model;
    int32_t *ids = NULL;
    size_t n = 0, keep;
    gpt_status st;

    gen_reset(g);
    if ((st = gpt_gen_options_check(m, o, err)) != GPT_OK)
        return st;
    if ((st = prompt_ids(s, prompt, len, &ids, &n, err)) != GPT_OK)
        return st;
    if (n + (size_t)o->max_tokens > (size_t)m->n_ctx) {
        if (!o->truncate_prompt || o->max_tokens >= m->n_ctx) {
            st = gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                               "prompt of %zu tokens plus max_tokens %d is "
                               "more than the model's context of %d tokens",
                               n, o->max_tokens, m->n_ctx);
            gpt_free(ids);
            return st;
        }
        keep = (size_t)(m->n_ctx - o->max_tokens);
        memmove(ids, ids + (n - keep), keep * sizeof *ids);
        n = keep;
    }
    if ((st = copy_stops(g, o, err)) != GPT_OK) {
        gpt_free(ids);
        return st;
    }
    if (o->max_tokens > 0)
        st = gpt_prefill(s, ids, (int)n, err);
    gpt_free(ids);
    if (st != GPT_OK)
        return st;
    gpt_rng_seed(&g->rng, o->seed);
    g->want_logprob = want_logprob;
    g->n_prompt = (int)n;
    g->n_generated = 0;
    g->finished = o->max_tokens == 0;
    g->raw_len = 0;
    g->emitted = 0;
    gpt_utf8_stream_init(&g->utf8);
    g->active = 1;
    return GPT_OK;
}

/* Passes raw[emitted, upto) through the UTF-8 stream into the step text,
 * flushing at the end when final. */
static gpt_status
emit(gpt_gen_state *g, size_t upto, int final, gpt_step *step,
     gpt_error *err)
{
    size_t n = upto - g->emitted, need = GPT_UTF8_STREAM_MAX_OUT(n) + 4, len;

    if (need > g->step_cap) {
        char *p = gpt_realloc(g->step_text, need);
        if (!p)
            return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        g->step_text = p;
        g->step_cap = need;
    }
    len = gpt_utf8_stream_push(&g->utf8, g->raw + g->emitted, n, g->step_text);
    if (final)
        len += gpt_utf8_stream_flush(&g->utf8, g->step_text + len);
    g->step_text[len] = '\0';
    g->emitted = upto;
    step->text = g->step_text;
    step->text_len = len;
    return GPT_OK;
}

/* Position in raw of the first stop string that ends after `from`, or -1. */
static long
find_stop(const gpt_gen_state *g, size_t from)
{
    long best = -1;
    int i;

    for (i = 0; i < g->opts.n_stop; i++) {
        const char *stop = g->opts.stop[i];
        size_t n = strlen(stop), start = from >= n ? from - n + 1 : 0, p;
        for (p = start; p + n <= g->raw_len; p++)
            if (memcmp(g->raw + p, stop, n) == 0) {
                if (best < 0 || (long)p < best)
                    best = (long)p;
                break;
            }
    }
    return best;
}

static gpt_status
generate_next(gpt_session *s, gpt_step *step, gpt_error *err)
{
    gpt_gen_state *g = &s->gen;
    const gpt_model *m = s->model;
    const char *bytes;
    size_t blen, before, safe;
    int32_t tok;
    long stop_at;
    gpt_status st;

    memset(step, 0, sizeof *step);
    if (!g->active)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "no generation in progress");
    if (g->finished || g->n_generated >= g->opts.max_tokens) {
        step->done = 1;
        g->active = 0;
        return emit(g, g->raw_len, 1, step, err);
    }
    if (gpt_session_check_cancel(s)) {
        g->active = 0;
        return gpt_set_error(err, GPT_ERR_CANCELLED, "canceled by the caller");
    }
    tok = gpt_sample(s->logits, m->n_vocab, &g->opts, &g->rng, &s->sbuf);
    if (tok < 0) {
        g->active = 0;
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    }
    step->token_id = tok;
    step->logprob = g->want_logprob ? gpt_logprob_of(s->logits, m->n_vocab, tok)
                                    : 0.0;
    g->n_generated++;
    if (tok == m->eos_id) {
        g->finished = 1;
        return emit(g, g->raw_len, 1, step, err);
    }
    bytes = gpt_token_bytes(m, tok, &blen);
    before = g->raw_len;
    if ((st = raw_append(g, bytes, blen, err)) != GPT_OK) {
        g->active = 0;
        return st;
    }
    stop_at = find_stop(g, before);
    if (stop_at >= 0) {
        g->raw_len = (size_t)stop_at;
        if (g->emitted > g->raw_len) /* cannot happen: we hold back */
            g->emitted = g->raw_len;
        g->finished = 1;
        return emit(g, g->raw_len, 1, step, err);
    }
    /* hold back what could still become the start of a stop string */
    safe = g->raw_len;
    if (g->max_stop > 1)
        safe = g->raw_len > g->max_stop - 1 ? g->raw_len - (g->max_stop - 1) : 0;
    if (safe < g->emitted)
        safe = g->emitted;
    if ((st = emit(g, safe, 0, step, err)) != GPT_OK) {
        g->active = 0;
        return st;
    }
    if (g->n_generated < g->opts.max_tokens) {
        int pos = g->n_prompt + g->n_generated - 1;
        st = gpt_forward(s, &tok, 1, pos, GPT_LOGITS_LAST, err);
        if (st != GPT_OK) {
            g->active = 0;
            return st;
        }
    }
    return GPT_OK;
}

GPT_API gpt_status
gpt_generate_begin(gpt_session *s, const char *prompt, size_t len,
                   const gpt_gen_options *o, gpt_error *err)
{
    return generate_begin(s, prompt, len, o, 1, err);
}

GPT_API gpt_status
gpt_generate_next(gpt_session *s, gpt_step *step, gpt_error *err)
{
    return generate_next(s, step, err);
}

GPT_API gpt_status
gpt_generate(gpt_session *s, const char *prompt, size_t len,
             const gpt_gen_options *o, char **text, size_t *text_len,
             gpt_error *err)
{
    char *out = NULL;
    size_t n = 0, cap = 0;
    gpt_step step;
    gpt_status st;

    *text = NULL;
    *text_len = 0;
    if ((st = generate_begin(s, prompt, len, o, 0, err)) != GPT_OK)
        return st;
    do {
        if ((st = generate_next(s, &step, err)) != GPT_OK)
            break;
        if (n + step.text_len + 1 > cap) {
            size_t c = (n + step.text_len + 1) * 2;
            char *p = gpt_realloc(out, c < 64 ? 64 : c);
            if (!p) {
                st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
                break;
            }
            out = p;
            cap = c < 64 ? 64 : c;
        }
        memcpy(out + n, step.text, step.text_len);
        n += step.text_len;
    } while (!step.done);
    s->gen.active = 0;
    if (st != GPT_OK) {
        gpt_free(out);
        return st;
    }
    if (!out && !(out = gpt_malloc(1)))
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    out[n] = '\0';
    *text = out;
    *text_len = n;
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
    if ((st = prompt_ids(s, text, len, &ids, &n, err)) != GPT_OK)
        return st;
    if (n > (size_t)m->n_ctx) {
        gpt_free(ids);
        return gpt_set_error(err, GPT_ERR_CONTEXT_OVERFLOW,
                             "text of %zu tokens is longer than the model's "
                             "context of %d tokens",
                             n, m->n_ctx);
    }
    st = gpt_prefill(s, ids, (int)n, err);
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
        if ((st = gpt_forward(s, seq + pos, T, pos, GPT_LOGITS_ALL, err)) != GPT_OK)
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
    if ((st = gpt_prefill(s, ids, (int)n, err)) != GPT_OK)
        return st;
    *logits = gpt_malloc((size_t)m->n_vocab * sizeof(float));
    if (!*logits)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    memcpy(*logits, s->logits, (size_t)m->n_vocab * sizeof(float));
    return GPT_OK;
}
