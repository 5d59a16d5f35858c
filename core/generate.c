/*
 * generate.c - text generation: one sequence (whole or streamed) and many
 * sequences decoded together.
 *
 * A sequence's life: its prompt is prefilled into a KV cache, then each step
 * takes one token from the last logits (gen_take: sample, cut at a stop
 * string, pass the new bytes through the UTF-8 stream) and, unless the
 * sequence just ended, runs that token through the model for the next
 * logits.  gpt_generate_batch runs the same steps for up to GPT_MAX_BATCH
 * sequences at once, with one forward pass per step for all of them, so
 * every weight is read once per step instead of once per sequence; the
 * prompts that start together are prefilled together too (batch_prefill),
 * each reusing the longest prefix it shares with any cache: the prefix
 * the first prompts have in common is evaluated once into a shared cache
 * that all the slots read (gpt_session_share, gpt_kv.base in session.h),
 * anything longer is copied.  The
 * kernels compute each token's numbers in the same order whatever else is
 * in the pass, and each sequence samples from its own random stream (seeded
 * from the options alone), so a sequence's text in a batch is byte-identical
 * to what gpt_generate returns for it.
 */
#include <string.h>

#include "internal.h"
#include "session.h"

gpt_status
gpt_prompt_ids(gpt_session *s, const char *text, size_t len, int32_t **ids,
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

void
gpt_gen_state_free(gpt_gen_state *g)
{
    gpt_free(g->stop_buf);
    gpt_free(g->raw);
    gpt_free(g->step_text);
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------ one step */

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
    gpt_free(g->stop_buf);
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

/* Checks the options, tokenizes the prompt and fits it to the context. */
static gpt_status
gen_prepare(gpt_session *s, const char *prompt, size_t len,
            const gpt_gen_options *o, int32_t **ids_out, size_t *n_out,
            gpt_error *err)
{
    const gpt_model *m = s->model;
    int32_t *ids = NULL;
    size_t n = 0, keep;
    gpt_status st;

    if ((st = gpt_gen_options_check(m, o, err)) != GPT_OK)
        return st;
    if ((st = gpt_prompt_ids(s, prompt, len, &ids, &n, err)) != GPT_OK)
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
    *ids_out = ids;
    *n_out = n;
    return GPT_OK;
}

/* Arms g for a sequence whose prompt (n_prompt tokens) is in its cache. */
static gpt_status
gen_start(gpt_gen_state *g, const gpt_gen_options *o, int n_prompt,
          int want_logprob, gpt_error *err)
{
    gpt_status st = copy_stops(g, o, err);

    if (st != GPT_OK)
        return st;
    gpt_rng_seed(&g->rng, o->seed);
    g->want_logprob = want_logprob;
    g->n_prompt = n_prompt;
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

/* One step from logits.  *next gets the token to run through the model
 * before the following step, or -1 when the sequence has ended (the
 * following step then reports done). */
static gpt_status
gen_take(gpt_session *s, gpt_gen_state *g, const float *logits,
         gpt_step *step, int32_t *next, gpt_error *err)
{
    const gpt_model *m = s->model;
    const char *bytes;
    size_t blen, before, safe;
    int32_t tok;
    long stop_at;
    gpt_status st;

    memset(step, 0, sizeof *step);
    *next = -1;
    if (g->finished || g->n_generated >= g->opts.max_tokens) {
        step->done = 1;
        g->active = 0;
        return emit(g, g->raw_len, 1, step, err);
    }
    tok = gpt_sample(logits, m->n_vocab, &g->opts, &g->rng, &s->sbuf);
    if (tok < 0)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    step->token_id = tok;
    step->logprob = g->want_logprob ? gpt_logprob_of(logits, m->n_vocab, tok) : 0.0;
    g->n_generated++;
    if (tok == m->eos_id) {
        g->finished = 1;
        return emit(g, g->raw_len, 1, step, err);
    }
    bytes = gpt_token_bytes(m, tok, &blen);
    before = g->raw_len;
    if ((st = raw_append(g, bytes, blen, err)) != GPT_OK)
        return st;
    stop_at = find_stop(g, before);
    if (stop_at >= 0) {
        /* we held back max_stop - 1 bytes, so the cut is never emitted */
        g->raw_len = (size_t)stop_at;
        g->finished = 1;
        return emit(g, g->raw_len, 1, step, err);
    }
    /* hold back what could still become the start of a stop string */
    safe = g->raw_len;
    if (g->max_stop > 1)
        safe = g->raw_len > g->max_stop - 1 ? g->raw_len - (g->max_stop - 1) : 0;
    if (safe < g->emitted)
        safe = g->emitted;
    if ((st = emit(g, safe, 0, step, err)) != GPT_OK)
        return st;
    if (g->n_generated < g->opts.max_tokens)
        *next = tok;
    return GPT_OK;
}

/* Position of the token gen_take just returned in *next. */
static int
next_pos(const gpt_gen_state *g)
{
    return g->n_prompt + g->n_generated - 1;
}

/* ------------------------------------------------------- one sequence */

static gpt_status
generate_begin(gpt_session *s, const char *prompt, size_t len,
               const gpt_gen_options *o, int want_logprob, gpt_error *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    gpt_status st;

    s->gen.active = 0;
    if ((st = gen_prepare(s, prompt, len, o, &ids, &n, err)) != GPT_OK)
        return st;
    if (o->max_tokens > 0)
        st = gpt_prefill(s, 0, ids, (int)n, err);
    gpt_free(ids);
    if (st == GPT_OK)
        st = gen_start(&s->gen, o, (int)n, want_logprob, err);
    return st;
}

static gpt_status
generate_next(gpt_session *s, gpt_step *step, gpt_error *err)
{
    gpt_gen_state *g = &s->gen;
    int32_t next;
    gpt_status st;

    memset(step, 0, sizeof *step);
    if (!g->active)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "no generation in progress: call "
                             "gpt_generate_begin first");
    if (!g->finished && gpt_session_check_cancel(s)) {
        g->active = 0;
        return gpt_set_error(err, GPT_ERR_CANCELLED, "canceled by the caller");
    }
    st = gen_take(s, g, s->logits, step, &next, err);
    if (st == GPT_OK && next >= 0)
        st = gpt_forward_seq(s, 0, &next, 1, next_pos(g), GPT_LOGITS_LAST, err);
    if (st != GPT_OK)
        g->active = 0;
    return st;
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

/* A growable output string. */
typedef struct strbuf {
    char *p;
    size_t n, cap;
} strbuf;

static int
sb_add(strbuf *b, const char *p, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2 < 64 ? 64 : (b->n + n + 1) * 2;
        char *q = gpt_realloc(b->p, cap);
        if (!q)
            return -1;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

GPT_API gpt_status
gpt_generate(gpt_session *s, const char *prompt, size_t len,
             const gpt_gen_options *o, char **text, size_t *text_len,
             gpt_error *err)
{
    strbuf out = {0};
    gpt_step step;
    gpt_status st;

    *text = NULL;
    *text_len = 0;
    if ((st = generate_begin(s, prompt, len, o, 0, err)) != GPT_OK)
        return st;
    do {
        if ((st = generate_next(s, &step, err)) != GPT_OK)
            break;
        if (sb_add(&out, step.text, step.text_len) != 0)
            st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    } while (st == GPT_OK && !step.done);
    s->gen.active = 0;
    if (st == GPT_OK && !out.p && sb_add(&out, "", 0) != 0)
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    if (st != GPT_OK) {
        gpt_free(out.p);
        return st;
    }
    *text = out.p;
    *text_len = out.n;
    return GPT_OK;
}

/* ------------------------------------------------------ many sequences */

typedef struct batch_slot {
    size_t input;        /* index into the prompts */
    int active;
    gpt_gen_state g;
    strbuf out;
    float *logits;       /* [n_vocab]: room for its next-token logits */
    const float *cur;    /* its next-token logits: logits, or its row of
                            s->all_logits after a decode step (not copied:
                            16 rows of 50257 floats a step) */
    int32_t *ids;        /* the prompt while it waits for its prefill */
    int n_ids;
    int next_pos;        /* next position to evaluate in the prefill */
} batch_slot;

/* Starts the next non-NULL prompt from *next_input in slot b, or leaves the
 * slot inactive when none is left.  Its prompt waits in b->ids for
 * batch_prefill. */
static gpt_status
batch_fill(gpt_session *s, batch_slot *b,
           const char *const *prompts, const size_t *lens, size_t n,
           size_t *next_input, const gpt_gen_options *o, gpt_error *err)
{
    int32_t *ids = NULL;
    size_t n_ids = 0;
    gpt_status st;

    while (*next_input < n && !prompts[*next_input])
        (*next_input)++;
    b->active = 0;
    if (*next_input >= n)
        return GPT_OK;
    b->input = (*next_input)++;
    b->out.n = 0;
    st = gen_prepare(s, prompts[b->input], lens[b->input], o, &ids, &n_ids, err);
    if (st == GPT_OK)
        st = gen_start(&b->g, o, (int)n_ids, 0, err);
    if (st != GPT_OK) {
        gpt_free(ids);
        return st;
    }
    if (o->max_tokens > 0) {
        b->ids = ids;
        b->n_ids = (int)n_ids;
        b->next_pos = -1;
    } else {
        gpt_free(ids);
    }
    b->active = 1;
    return GPT_OK;
}

/* Tokens at the start of a[0, n) equal to b[0, m). */
static int
ids_common(const int32_t *a, int n, const int32_t *b, int m)
{
    int c = 0;

    while (c < n && c < m && a[c] == b[c])
        c++;
    return c;
}

/* A prompt waits a round when that saves at least this many tokens (about
 * what an extra forward pass costs in reading the weights). */
#define GPT_PREFIX_WAIT 8

/* The prefix the batch's caches share instead of copying it
 * (gpt_session_share): for each waiting prompt i, the longest prefix it has
 * in common with another waiting prompt, and of those the one that saves
 * the most evaluated or copied positions over all the waiting prompts.  *n
 * is 0 when no two prompts share GPT_PREFIX_WAIT tokens. */
static void
batch_share_pick(const batch_slot *slots, int width, const int32_t **ids,
                 int *n)
{
    long best = 0;
    int i, j;

    *ids = NULL;
    *n = 0;
    for (i = 0; i < width; i++) {
        const batch_slot *a = &slots[i];
        int len = 0;
        long gain = 0;
        if (!a->ids)
            continue;
        for (j = 0; j < width; j++)
            if (j != i && slots[j].ids) {
                int c = ids_common(a->ids, a->n_ids, slots[j].ids, slots[j].n_ids);
                if (c > len)
                    len = c;
            }
        if (len < GPT_PREFIX_WAIT)
            continue;
        for (j = 0; j < width; j++)
            if (slots[j].ids) {
                /* what prompt j takes from a prefix of len of prompt i */
                int c = ids_common(a->ids, len, slots[j].ids, slots[j].n_ids);
                gain += c < slots[j].n_ids ? c : slots[j].n_ids - 1;
            }
        if (gain > best) {
            best = gain;
            *ids = a->ids;
            *n = len;
        }
    }
}

/* Prefills every waiting prompt, several sequences to a forward pass.  In
 * rounds: a prompt whose longest common prefix with a prompt already taken
 * into this round is longer than what the caches hold waits for the next
 * round (then it copies that prefix instead of computing it again); the
 * others take what the caches hold (gpt_prefix_start) and their remaining
 * tokens are run together, up to GPT_CHUNK per pass, with the logits of
 * each prompt's last token only. */
static gpt_status
batch_prefill(gpt_session *s, batch_slot *slots, int width, gpt_error *err)
{
    int V = s->model->n_vocab, j;
    gpt_status st;

    for (j = 0; j < width && !slots[j].ids; j++)
        ;
    if (j == width)
        return GPT_OK;
    /* the passes below overwrite s->all_logits: the sequences that are
     * decoding keep their rows first */
    for (j = 0; j < width; j++)
        if (slots[j].active && slots[j].cur != slots[j].logits) {
            memcpy(slots[j].logits, slots[j].cur, (size_t)V * sizeof(float));
            slots[j].cur = slots[j].logits;
        }
    if ((st = gpt_session_workers(s, err)) != GPT_OK)
        return st;
    for (;;) {
        int round[GPT_MAX_BATCH], n_round = 0, k;
        int32_t ids[GPT_CHUNK];
        int slot_of[GPT_CHUNK], pos[GPT_CHUNK], T = 0;
        unsigned char sel[GPT_CHUNK];

        for (j = 0; j < width; j++) {
            batch_slot *b = &slots[j];
            int have, later = 0;
            if (!b->ids)
                continue;
            have = gpt_prefix_start(s, j, b->ids, b->n_ids, 0);
            if (s->prefix_reuse)
                for (k = 0; k < n_round; k++) {
                    batch_slot *a = &slots[round[k]];
                    int c = ids_common(b->ids, b->n_ids, a->ids, a->n_ids);
                    if (c > later)
                        later = c;
                }
            if (later - have >= GPT_PREFIX_WAIT)
                continue; /* next round: copy it from there */
            b->next_pos = gpt_prefix_start(s, j, b->ids, b->n_ids, 1);
            round[n_round++] = j;
        }
        if (n_round == 0)
            return GPT_OK;
        /* run the round's tokens in passes of up to GPT_CHUNK */
        for (k = 0; k < n_round;) {
            batch_slot *b = &slots[round[k]];
            ids[T] = b->ids[b->next_pos];
            slot_of[T] = round[k];
            pos[T] = b->next_pos;
            sel[T] = ++b->next_pos == b->n_ids;
            T++;
            if (b->next_pos == b->n_ids)
                k++;
            if (T == GPT_CHUNK || k == n_round) {
                int t, r = 0;
                if ((st = gpt_forward_sel(s, ids, T, slot_of, pos, sel, err)) != GPT_OK)
                    return st;
                for (t = 0; t < T; t++)
                    if (sel[t]) {
                        batch_slot *d = &slots[slot_of[t]];
                        memcpy(d->logits, s->all_logits + (size_t)r++ * V,
                               (size_t)V * sizeof(float));
                        d->cur = d->logits;
                        gpt_free(d->ids);
                        d->ids = NULL;
                    }
                T = 0;
            }
        }
    }
}

GPT_API gpt_status
gpt_generate_batch(gpt_session *s, const char *const *prompts,
                   const size_t *lens, size_t n, const gpt_gen_options *o,
                   char **texts, size_t *text_lens, gpt_error *err)
{
    const gpt_model *m = s->model;
    batch_slot *slots = NULL;
    size_t next_input = 0, i, n_live = 0;
    int width, j, any;
    gpt_status st;

    s->gen.active = 0;
    for (i = 0; i < n; i++) {
        texts[i] = NULL;
        text_lens[i] = 0;
        n_live += prompts[i] != NULL;
    }
    if ((st = gpt_gen_options_check(m, o, err)) != GPT_OK || n_live == 0)
        return st;
    width = n_live < GPT_MAX_BATCH ? (int)n_live : GPT_MAX_BATCH;
    if ((st = gpt_session_kv(s, width, err)) != GPT_OK)
        return st;
    if (!s->all_logits)
        s->all_logits = gpt_malloc((size_t)GPT_CHUNK * m->n_vocab * sizeof(float));
    slots = gpt_calloc((size_t)width, sizeof *slots);
    if (!slots || !s->all_logits) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (j = 0; j < width; j++) {
        slots[j].logits = gpt_malloc((size_t)m->n_vocab * sizeof(float));
        slots[j].cur = slots[j].logits;
        if (!slots[j].logits) {
            st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    for (j = 0; j < width && st == GPT_OK; j++)
        st = batch_fill(s, &slots[j], prompts, lens, n, &next_input, o, err);
    /* Shared prefix: the slots' caches read the prefix their first prompts
     * have in common from one immutable cache (s->pfx, see gpt_kv in
     * session.h) instead of each copying it into fresh pages; prompts
     * started later use it too as far as they share it. */
    if (st == GPT_OK && s->prefix_reuse && width > 1) {
        const int32_t *pids;
        int np;
        batch_share_pick(slots, width, &pids, &np);
        if (np > 0)
            st = gpt_session_share(s, pids, np, err);
    }

    do {
        int32_t ids[GPT_MAX_BATCH];
        int slot_of[GPT_MAX_BATCH], pos[GPT_MAX_BATCH], T = 0;

        if (st == GPT_OK) /* the prompts started since the last step */
            st = batch_prefill(s, slots, width, err);
        if (st != GPT_OK)
            break;
        if (gpt_session_check_cancel(s)) {
            st = gpt_set_error(err, GPT_ERR_CANCELLED, "canceled by the caller");
            break;
        }
        any = 0;
        for (j = 0; j < width && st == GPT_OK; j++) {
            batch_slot *b = &slots[j];
            gpt_step step;
            int32_t next;

            if (!b->active)
                continue;
            any = 1;
            st = gen_take(s, &b->g, b->cur, &step, &next, err);
            if (st != GPT_OK)
                break;
            if (sb_add(&b->out, step.text, step.text_len) != 0) {
                st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
                break;
            }
            if (step.done) {
                /* hand the text over and start the next prompt here */
                texts[b->input] = b->out.p; /* sb_add always allocated */
                text_lens[b->input] = b->out.n;
                memset(&b->out, 0, sizeof b->out);
                st = batch_fill(s, b, prompts, lens, n, &next_input, o, err);
            } else if (next >= 0) {
                ids[T] = next;
                slot_of[T] = j;
                pos[T] = next_pos(&b->g);
                T++;
            }
        }
        if (st == GPT_OK && T > 0) {
            int t;
            st = gpt_forward(s, ids, T, slot_of, pos, GPT_LOGITS_ALL, err);
            for (t = 0; st == GPT_OK && t < T; t++)
                slots[slot_of[t]].cur = s->all_logits + (size_t)t * m->n_vocab;
        }
    } while (any);

done:
    if (slots)
        for (j = 0; j < width; j++) {
            gpt_gen_state_free(&slots[j].g);
            gpt_free(slots[j].out.p);
            gpt_free(slots[j].logits);
            gpt_free(slots[j].ids);
        }
    gpt_free(slots);
    /* kv[0] gets its own copy of the shared prefix, s->pfx goes */
    gpt_session_unshare(s);
    /* Keep one KV cache between calls: the others would hold up to
     * GPT_MAX_BATCH - 1 full caches of resident memory in a long-lived
     * database backend.  kv[0] keeps its sequence for prefix reuse. */
    gpt_session_kv_trim(s, 1);
    if (st != GPT_OK)
        for (i = 0; i < n; i++) {
            gpt_free(texts[i]);
            texts[i] = NULL;
            text_lens[i] = 0;
        }
    return st;
}
