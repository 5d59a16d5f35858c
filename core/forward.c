/*
 * forward.c - the GPT-2 transformer, top to bottom.
 *
 * For T new tokens at positions pos..pos+T-1 (T <= GPT_CHUNK), d = n_embd,
 * hd = d / n_head, V = n_vocab:
 *
 *   x[T][d]  = token_embd[id] + position_embd[pos]
 *   per layer:
 *     h[T][d]     = layernorm(x; ln1)
 *     qkv[T][3d]  = h @ Wqkv^T + b              (q | k | v, heads inside)
 *     K,V cache[pos..pos+T) = k, v
 *     h[T][d]     = softmax(q k^T / sqrt(hd), causal) v   per head
 *     x          += h @ Wproj^T + b
 *     h[T][d]     = layernorm(x; ln2)
 *     ff[T][n_ff] = gelu_tanh(h @ Wfc^T + b)
 *     x          += ff @ Wfc_proj^T + b
 *   logits[V]   = layernorm(x[last]; lnf) @ Wout^T   (Wout = token_embd if tied)
 *
 * Matrix products and attention run on the session's pool, split by output
 * rows (or by (token, head) pairs), never along a reduction, so results do
 * not depend on the thread count.  Decode (T = 1) runs the QKV product and
 * attention as one job split by heads (qkv_attn_task): 4 joins per layer;
 * its other products split rows by each thread's measured speed (matmul).
 * The cancel callback is polled between layers, on the calling thread
 * only.
 */
#include <math.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "session.h"

/* ------------------------------------------------------- matrix products */

enum { EPI_BIAS, EPI_BIAS_GELU, EPI_BIAS_ADD_TO };

typedef struct matmul_job {
    const gpt_kernels *k;
    const gpt_matrix *W;
    const float *x;   /* [T][ldx] */
    int ldx, T;
    const uint8_t *xq;/* Q8_0 W: x quantized, [T][ldq] */
    size_t ldq;
    float *y;         /* [T][ldy] */
    int ldy;
    const float *bias;/* [rows] or NULL */
    int epilogue;
    float *dst;       /* EPI_BIAS_ADD_TO: dst[t][r] += y + b (stride ldy) */
    const int *bounds;/* thread i's rows [bounds[i], bounds[i + 1]); NULL:
                         gpt_split's */
    long *ns;         /* with bounds: each thread's time on its rows */
} matmul_job;

static long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static void
matmul_rows(const matmul_job *j, int lo, int hi)
{
    int t, r;

    if (j->xq)
        j->k->matmul_q8(j->W, j->xq, j->ldq, j->T, j->y, j->ldy, lo, hi);
    else
        j->k->matmul(j->W, j->x, j->ldx, j->T, j->y, j->ldy, lo, hi);
    for (t = 0; t < j->T; t++) {
        float *y = j->y + (size_t)t * j->ldy;
        switch (j->epilogue) {
        case EPI_BIAS:
            if (j->bias)
                for (r = lo; r < hi; r++)
                    y[r] += j->bias[r];
            break;
        case EPI_BIAS_GELU:
            j->k->gelu(y + lo, j->bias + lo, hi - lo);
            break;
        case EPI_BIAS_ADD_TO: {
            float *d = j->dst + (size_t)t * j->ldy;
            for (r = lo; r < hi; r++)
                d[r] += y[r] + j->bias[r];
            break;
        }
        }
    }
}

static void
matmul_task(void *arg, int ith, int nth)
{
    matmul_job *j = arg;
    int lo, hi;
    long t0;

    if (!j->bounds) {
        gpt_split(j->W->rows, 16, ith, nth, &lo, &hi);
        if (lo < hi)
            matmul_rows(j, lo, hi);
        return;
    }
    lo = j->bounds[ith];
    hi = j->bounds[ith + 1];
    if (lo >= hi)
        return;
    t0 = now_ns();
    matmul_rows(j, lo, hi);
    j->ns[ith] = now_ns() - t0;
}

/* The job of y[T][ldy] = x[T][W->cols] @ W^T, then the epilogue.  A Q8_0
 * W gets x quantized once here, on the calling thread, into the session's
 * scratch; every thread's rows use that same copy. */
static matmul_job
matmul_prepare(gpt_session *s, const gpt_matrix *W, const float *x, int T,
               float *y, int ldy, const float *bias, int epilogue, float *dst)
{
    matmul_job j = {s->kern, W, x, W->cols, T, NULL, 0, y, ldy, bias, epilogue, dst,
                    NULL, NULL};

    if (W->type == GGML_Q8_0) {
        j.ldq = gpt_q8x_stride(W->cols);
        j.xq = s->xq;
        s->kern->quantize(x, W->cols, T, W->cols, s->xq);
    }
    return j;
}

/*
 * Decode's shares.  With equal shares of rows, one thread often finishes
 * ~7% later than the other (measured on 2 cores: whichever thread has the
 * second half of the rows), and the other waits for it at the join.  So
 * each thread's share of a decode product follows how fast it got through
 * its rows so far: s->bal[i] moves a tenth of the way towards thread i's
 * share of the summed speeds after each product; the QKV and attention
 * job splits its heads by the same shares.  Rows and heads are
 * independent, so the split changes which thread computes one, never its
 * bits.
 */
#define BAL_GAIN 0.1f

/* Thread i's share [bounds[i], bounds[i + 1]) of n items in units of
 * align (16-row tiles of a product, or whole heads), by s->bal; called by
 * the calling thread only, before the job. */
static void
balance_bounds(gpt_session *s, int n, int align, int nth, int *bounds)
{
    int units = (n + align - 1) / align, i, b;
    float acc = 0;

    if (s->bal_n != nth) {
        for (i = 0; i < nth; i++)
            s->bal[i] = 1.0f / nth;
        s->bal_n = nth;
    }
    bounds[0] = 0;
    for (i = 0; i < nth; i++) {
        acc += s->bal[i];
        b = i == nth - 1 ? units : (int)(acc * units + 0.5f);
        if (b > units)
            b = units;
        bounds[i + 1] = b * align < n ? b * align : n;
        if (bounds[i + 1] < bounds[i])
            bounds[i + 1] = bounds[i];
    }
}

static void
balance_update(gpt_session *s, const int *bounds, const long *ns, int nth)
{
    float speed[GPT_BAL_MAX], sum = 0, tot = 0;
    int i;

    for (i = 0; i < nth; i++) {
        if (ns[i] <= 0 || bounds[i + 1] <= bounds[i])
            return;   /* a thread without rows tells nothing */
        speed[i] = (float)(bounds[i + 1] - bounds[i]) / (float)ns[i];
        sum += speed[i];
    }
    for (i = 0; i < nth; i++) {
        float b = s->bal[i] + BAL_GAIN * (speed[i] / sum - s->bal[i]);
        /* never below half an equal share: a thread that was descheduled
         * once gets its rows back within a few products */
        s->bal[i] = b < 0.5f / nth ? 0.5f / nth : b;
        tot += s->bal[i];
    }
    for (i = 0; i < nth; i++)
        s->bal[i] /= tot;
}

static void
matmul(gpt_session *s, const gpt_matrix *W, const float *x, int T, float *y,
       int ldy, const float *bias, int epilogue, float *dst)
{
    matmul_job j = matmul_prepare(s, W, x, T, y, ldy, bias, epilogue, dst);
    int nth = gpt_pool_size(s->pool), bounds[GPT_BAL_MAX + 1], i;
    long ns[GPT_BAL_MAX];

    if (T == 1 && nth > 1 && nth <= GPT_BAL_MAX) {
        balance_bounds(s, W->rows, 16, nth, bounds);
        for (i = 0; i < nth; i++)
            ns[i] = 0;
        j.bounds = bounds;
        j.ns = ns;
    }
    gpt_pool_run(s->pool, matmul_task, &j);
    if (j.bounds)
        balance_update(s, bounds, ns, nth);
}

/* -------------------------------------------------------------- attention */

/* The cached key or value rows of one (layer, head) (session.h): hd
 * halves per position, contiguous within a chunk.  Shared prefix: rows
 * [0, nb) come from the cache's base, rows from nb on from its own chunks.
 * Scores are per row, and a mix is a sequence of fmas over rows in order,
 * so splitting a call into runs of contiguous rows (at chunk edges and at
 * nb) and going on with the same accumulators gives the bits of one call
 * over one array. */
typedef struct kv_rows {
    const gpt_model *m;
    const gpt_kv *kv;
    int v, layer, head;
} kv_rows;

/* Row k and how many rows from it, up to `to`, lie contiguous after it. */
static const uint16_t *
kv_run(const kv_rows *r, int k, int to, int *n)
{
    const gpt_kv *kv = r->kv;

    if (kv->base && k < kv->n_base) {
        if (to > kv->n_base)
            to = kv->n_base;
        kv = kv->base;
    }
    *n = gpt_kv_run(k, to);
    return gpt_kv_row(kv, r->m, r->v, r->layer, r->head, k);
}

/* The rows of pf (NULL: none) that run alongside rows [k, k + run) of
 * another kv_rows of the same cache: the same positions, so the same runs. */
static const uint16_t *
kv_run_pf(const kv_rows *pf, int k, int to)
{
    int n;

    return pf ? kv_run(pf, k, to, &n) : NULL;
}

/* sc[k] for rows k in [0, n); prefetching the same rows of pf */
static void
attn_scores(const gpt_kernels *K, const float *q, const kv_rows *r, int n,
            int hd, float scale, float *sc, const kv_rows *pf)
{
    int k, run;

    for (k = 0; k < n; k += run) {
        const uint16_t *rows = kv_run(r, k, n, &run);
        K->scores(q, rows, (size_t)hd, run, hd, scale, sc + k, kv_run_pf(pf, k, n));
    }
}

/* out += w[k] * row k for rows [from, to), in order; prefetching the same
 * rows of pf */
static void
attn_mix(const gpt_kernels *K, const float *w, const kv_rows *r, int from,
         int to, int hd, float *out, const kv_rows *pf)
{
    int k, run;

    for (k = from; k < to; k += run) {
        const uint16_t *rows = kv_run(r, k, to, &run);
        K->mix(w + k, rows, (size_t)hd, run, hd, out, kv_run_pf(pf, k, to));
    }
}

/* K->mixq over rows [0, n) */
static void
attn_mixq(const gpt_kernels *K, const float *const *w, const kv_rows *r,
          int n, int hd, float *const *outs)
{
    const float *w2[GPT_MIX_Q];
    int k, g, run;

    for (k = 0; k < n; k += run) {
        const uint16_t *rows = kv_run(r, k, n, &run);
        for (g = 0; g < GPT_MIX_Q; g++)
            w2[g] = w[g] + k;
        K->mixq(w2, rows, (size_t)hd, run, hd, outs);
    }
}

typedef struct attn_job {
    gpt_session *s;
    int layer, T;
    const int *slot, *pos;
} attn_job;

/* Attention for the (head, token) pairs [lo, hi) of j, head-major (pair
 * i is head i / T, token i % T), on thread ith's scores scratch. */
static void
attn_pairs(const attn_job *j, int ith, int lo, int hi)
{
    gpt_session *s = j->s;
    const gpt_model *m = s->model;
    int d = m->n_embd, hd = d / m->n_head;
    float scale = 1.0f / sqrtf((float)hd);
    int i, ng;

    for (i = lo; i < hi; i += ng) {
        int h = i / j->T, t0 = i % j->T, slot = j->slot[t0], g, nmin, start = 0;
        const gpt_kv *kv = gpt_kv_at(s, slot);
        /* this head's keys and values */
        kv_rows kr = {m, kv, 0, j->layer, h}, vr = {m, kv, 1, j->layer, h};
        /* decode: the next head's keys, fetched during this head's mix */
        kv_rows nk = {m, kv, 0, j->layer, h + 1};
        const kv_rows *mix_pf = j->T == 1 && i + 1 < hi ? &nk : NULL;
        const float *w[GPT_MIX_Q];
        float *outs[GPT_MIX_Q];

        /* up to GPT_MIX_Q consecutive tokens of this head and sequence:
         * their weighted sums of value rows share each row's loads */
        for (ng = 1; ng < GPT_MIX_Q && i + ng < hi && t0 + ng < j->T &&
                     j->slot[t0 + ng] == slot; ng++)
            ;
        nmin = j->pos[t0] + 1;
        for (g = 0; g < ng; g++) {
            int t = t0 + g, p = j->pos[t];
            const float *q = s->qkv + (size_t)t * 3 * d + h * hd;
            float *sc = s->scores + ((size_t)ith * GPT_MIX_Q + g) * m->n_ctx;
            float *out = s->h + (size_t)t * d + h * hd;

            attn_scores(s->kern, q, &kr, p + 1, hd, scale, sc, &vr);
            s->kern->softmax(sc, p + 1);
            memset(out, 0, (size_t)hd * sizeof *out);
            w[g] = sc;
            outs[g] = out;
            if (p + 1 < nmin)
                nmin = p + 1;
        }
        /* rows [0, nmin) for the whole group, then each query's own rest:
         * every out still takes its rows in order */
        if (ng == GPT_MIX_Q && s->kern->mixq) {
            attn_mixq(s->kern, w, &vr, nmin, hd, outs);
            start = nmin;
        }
        for (g = 0; g < ng; g++)
            attn_mix(s->kern, w[g], &vr, start, j->pos[t0 + g] + 1, hd, outs[g],
                     mix_pf);
    }
}

static void
attn_task(void *arg, int ith, int nth)
{
    attn_job *j = arg;
    int lo, hi;

    /* head-major: the T queries of one head run one after the other, so
     * that head's key and value rows (64 floats of each cached row) stay
     * in L2 for all of them instead of being fetched again per token */
    gpt_split(j->T * j->s->model->n_head, 1, ith, nth, &lo, &hi);
    attn_pairs(j, ith, lo, hi);
}

/* Decode (one token): the q, k and v rows of a thread's heads (rows
 * h*hd.., d + h*hd.., 2d + h*hd.. of Wqkv), that token's keys and values
 * into the cache, then attention for those same heads, all in one job: no
 * join between the QKV product and attention.  Each row and each head is
 * computed exactly as by matmul_task and attn_task, only on another
 * thread, so the bits do not change. */
/* The key and value rows of heads [h0, h1) of one token (its qkv row:
 * q, k, v of n_embd floats each) into kv at (layer, pos), as halves. */
static void
kv_store(const gpt_kernels *K, const gpt_model *m, gpt_kv *kv, int layer,
         int pos, const float *qkv, int h0, int h1)
{
    int d = m->n_embd, hd = d / m->n_head, h;

    for (h = h0; h < h1; h++) {
        K->to_f16(qkv + d + h * hd, gpt_kv_row(kv, m, 0, layer, h, pos), hd);
        K->to_f16(qkv + 2 * d + h * hd, gpt_kv_row(kv, m, 1, layer, h, pos), hd);
    }
}

/* An error unless every key and value stored at (layer, pos) is a finite
 * half: beyond +-65504 a key or value becomes inf in the cache, and
 * attention would then mask or poison a position without a word. */
static gpt_status
kv_check(const gpt_model *m, const gpt_kv *kv, int layer, int pos, gpt_error *err)
{
    int hd = m->n_embd / m->n_head, h, v, i;

    for (v = 0; v < 2; v++)
        for (h = 0; h < m->n_head; h++) {
            const uint16_t *r = gpt_kv_row(kv, m, v, layer, h, pos);
            unsigned bad = 0;
            for (i = 0; i < hd; i++)
                bad |= (r[i] & 0x7c00u) == 0x7c00u;
            if (bad)
                return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                                     "a %s of layer %d at position %d is NaN or "
                                     "beyond the F16 KV cache's range of "
                                     "+-65504: this model's activations "
                                     "overflow", v ? "value" : "key", layer, pos);
        }
    return GPT_OK;
}

typedef struct qkv_attn_job {
    matmul_job mm;    /* the QKV product, EPI_BIAS, T = 1 */
    attn_job aj;
    const int *heads; /* thread i's heads [heads[i], heads[i + 1]), by the
                         threads' speeds; NULL: gpt_split's */
} qkv_attn_job;

static void
qkv_attn_task(void *arg, int ith, int nth)
{
    qkv_attn_job *j = arg;
    const matmul_job *mm = &j->mm;
    gpt_session *s = j->aj.s;
    const gpt_model *m = s->model;
    int d = m->n_embd, hd = d / m->n_head, h0, h1, part, nparts;
    gpt_kv *kv = gpt_kv_at(s, j->aj.slot[0]);

    if (j->heads) {
        h0 = j->heads[ith];
        h1 = j->heads[ith + 1];
    } else {
        gpt_split(m->n_head, 1, ith, nth, &h0, &h1);
    }
    if (h0 >= h1)
        return;
    /* q, k, v rows of heads [h0, h1): three ranges, or all rows in one
     * (one thread), so the kernels' lookahead runs on from q into k and v */
    nparts = h1 - h0 == m->n_head ? 1 : 3;
    for (part = 0; part < nparts; part++) {
        int lo = part * d + h0 * hd, hi = nparts == 1 ? 3 * d : part * d + h1 * hd;
        matmul_rows(mm, lo, hi);   /* the product and its bias (EPI_BIAS) */
    }
    kv_store(s->kern, m, kv, j->aj.layer, j->aj.pos[0], mm->y, h0, h1);
    attn_pairs(&j->aj, ith, h0, h1);
}

/* ------------------------------------------------------------- layer norm */

static void
layernorm(float *out, const float *x, const float *w, const float *b, int n,
          float eps)
{
    double sum = 0, var = 0;
    float mean, rstd;
    int i;

    for (i = 0; i < n; i++)
        sum += x[i];
    mean = (float)(sum / n);
    for (i = 0; i < n; i++) {
        double dx = (double)x[i] - mean;
        var += dx * dx;
    }
    rstd = (float)(1.0 / sqrt(var / n + eps));
    for (i = 0; i < n; i++)
        out[i] = (x[i] - mean) * rstd * w[i] + b[i];
}

/* ---------------------------------------------------------------- forward */

static gpt_status
forward(gpt_session *s, const int32_t *ids, int T, const int *slot,
        const int *pos, int logits_mode, const unsigned char *sel,
        gpt_error *err)
{
    const gpt_model *m = s->model;
    int d = m->n_embd, l, t;
    float *row = s->h; /* scratch for embedding rows */
    gpt_status st;

    if (T < 1 || T > GPT_CHUNK)
        return gpt_set_error(err, GPT_ERR_INTERNAL,
                             "forward of %d tokens", T);
    for (t = 0; t < T; t++) {
        gpt_kv *kv;
        if (slot[t] < 0 ||
            (slot[t] >= s->n_kv && !(slot[t] == GPT_KV_SHARED && s->pfx.chunk)) ||
            pos[t] < 0 || pos[t] >= m->n_ctx)
            return gpt_set_error(err, GPT_ERR_INTERNAL,
                                 "token at position %d of sequence %d does "
                                 "not fit the context of %d",
                                 pos[t], slot[t], m->n_ctx);
        kv = gpt_kv_at(s, slot[t]);
        if (kv->n_cached > pos[t])
            kv->n_cached = pos[t];
        /* the rows from pos[t] on are written below, into k and v */
        if (kv->n_base > pos[t])
            kv->n_base = pos[t];
        st = gpt_kv_reserve(m, kv, pos[t], pos[t] + 1, err);
        if (st != GPT_OK)
            return st;
    }

    for (t = 0; t < T; t++) {
        float *x = s->x + (size_t)t * d;
        int i;
        if (ids[t] < 0 || ids[t] >= m->n_vocab)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "token id %d is out of range [0, %d)",
                                 ids[t], m->n_vocab);
        gpt_dequant_row(&m->tok_embd, ids[t], x);
        gpt_dequant_row(&m->pos_embd, pos[t], row);
        for (i = 0; i < d; i++)
            x[i] += row[i];
    }

    for (l = 0; l < m->n_layer; l++) {
        const gpt_layer *L = &m->layers[l];
        attn_job aj = {s, l, T, slot, pos};

        if (gpt_session_check_cancel(s))
            return gpt_set_error(err, GPT_ERR_CANCELLED,
                                 "canceled by the caller");
        if (T == 1) {
            /* decode: QKV and attention in one job.  Attention writes h
             * while other threads may still be reading their QKV rows'
             * input, so that input is in ff (free until the projection) */
            qkv_attn_job qj;
            int nth = gpt_pool_size(s->pool), heads[GPT_BAL_MAX + 1];
            layernorm(s->ff, s->x, L->ln1_w, L->ln1_b, d, m->norm_eps);
            qj.mm = matmul_prepare(s, &L->qkv, s->ff, 1, s->qkv, L->qkv.rows, L->qkv_b,
                                   EPI_BIAS, NULL);
            qj.aj = aj;
            qj.heads = NULL;
            if (nth > 1 && nth <= GPT_BAL_MAX) {
                balance_bounds(s, m->n_head, 1, nth, heads);
                qj.heads = heads;
            }
            gpt_pool_run(s->pool, qkv_attn_task, &qj);
        } else {
            for (t = 0; t < T; t++)
                layernorm(s->h + (size_t)t * d, s->x + (size_t)t * d, L->ln1_w,
                          L->ln1_b, d, m->norm_eps);
            matmul(s, &L->qkv, s->h, T, s->qkv, L->qkv.rows, L->qkv_b, EPI_BIAS, NULL);
            for (t = 0; t < T; t++)
                kv_store(s->kern, m, gpt_kv_at(s, slot[t]), l, pos[t],
                         s->qkv + (size_t)t * 3 * d, 0, m->n_head);
            gpt_pool_run(s->pool, attn_task, &aj);
        }
        for (t = 0; t < T; t++)
            if ((st = kv_check(m, gpt_kv_at(s, slot[t]), l, pos[t], err)) != GPT_OK)
                return st;
        /* x += attn @ Wproj^T + b (ff is free scratch here) */
        matmul(s, &L->proj, s->h, T, s->ff, L->proj.rows, L->proj_b, EPI_BIAS_ADD_TO, s->x);
        for (t = 0; t < T; t++)
            layernorm(s->h + (size_t)t * d, s->x + (size_t)t * d, L->ln2_w,
                      L->ln2_b, d, m->norm_eps);
        matmul(s, &L->fc, s->h, T, s->ff, L->fc.rows, L->fc_b, EPI_BIAS_GELU, NULL);
        /* qkv is free scratch now ([T][3d] >= [T][d]) */
        matmul(s, &L->fc_proj, s->ff, T, s->qkv, d, L->fc_proj_b,
               EPI_BIAS_ADD_TO, s->x);
    }
    for (t = 0; t < T; t++) {
        gpt_kv *kv = gpt_kv_at(s, slot[t]);
        kv->ids[pos[t]] = ids[t];
        kv->n_cached = pos[t] + 1;
    }

    if (logits_mode == GPT_LOGITS_LAST) {
        layernorm(s->h, s->x + (size_t)(T - 1) * d, m->lnf_w, m->lnf_b, d,
                  m->norm_eps);
        matmul(s, &m->output, s->h, 1, s->logits, m->output.rows, NULL,
               EPI_BIAS, NULL);
    } else if (logits_mode == GPT_LOGITS_ALL) {
        for (t = 0; t < T; t++)
            layernorm(s->h + (size_t)t * d, s->x + (size_t)t * d, m->lnf_w,
                      m->lnf_b, d, m->norm_eps);
        matmul(s, &m->output, s->h, T, s->all_logits, m->output.rows, NULL,
               EPI_BIAS, NULL);
    } else if (logits_mode == GPT_LOGITS_SEL) {
        int n = 0;
        for (t = 0; t < T; t++)
            if (sel[t])
                layernorm(s->h + (size_t)n++ * d, s->x + (size_t)t * d,
                          m->lnf_w, m->lnf_b, d, m->norm_eps);
        if (n > 0)
            matmul(s, &m->output, s->h, n, s->all_logits, m->output.rows,
                   NULL, EPI_BIAS, NULL);
    }
    return GPT_OK;
}

gpt_status
gpt_forward(gpt_session *s, const int32_t *ids, int T, const int *slot,
            const int *pos, int logits_mode, gpt_error *err)
{
    if (logits_mode == GPT_LOGITS_SEL)
        return gpt_set_error(err, GPT_ERR_INTERNAL, "forward: SEL needs sel");
    return forward(s, ids, T, slot, pos, logits_mode, NULL, err);
}

gpt_status
gpt_forward_sel(gpt_session *s, const int32_t *ids, int T, const int *slot,
                const int *pos, const unsigned char *sel, gpt_error *err)
{
    return forward(s, ids, T, slot, pos, GPT_LOGITS_SEL, sel, err);
}

gpt_status
gpt_forward_seq(gpt_session *s, int slot, const int32_t *ids, int T, int pos,
                int logits_mode, gpt_error *err)
{
    int slots[GPT_CHUNK], poss[GPT_CHUNK], t;

    if (T < 1 || T > GPT_CHUNK)
        return gpt_set_error(err, GPT_ERR_INTERNAL, "forward of %d tokens", T);
    for (t = 0; t < T; t++) {
        slots[t] = slot;
        poss[t] = pos + t;
    }
    return gpt_forward(s, ids, T, slots, poss, logits_mode, err);
}
