/*
 * sampler.c - greedy, top-k, top-p and temperature sampling.
 *
 * Everything here is sequential with a fixed order (sums in double, ties by
 * lower id), so the same logits, options and random stream give the same
 * token on every machine.
 */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "sampler.h"

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void
gpt_rng_seed(gpt_rng *r, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

double
gpt_rng_uniform(gpt_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(result >> 11) * 0x1.0p-53;
}

/* a ranks before b: larger logit, or equal logit and smaller id. */
static int
better(const float *l, int32_t a, int32_t b)
{
    return l[a] > l[b] || (l[a] == l[b] && a < b);
}

static _Thread_local const float *tl_logits;

static int
cmp_desc(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (a == b)
        return 0;
    return better(tl_logits, a, b) ? -1 : 1;
}

/* Min-heap on "better": the root is the worst of the kept k. */
static void
sift_down(const float *l, int32_t *h, int n, int i)
{
    for (;;) {
        int c = 2 * i + 1, w = i;
        if (c < n && better(l, h[w], h[c]))
            w = c;
        if (c + 1 < n && better(l, h[w], h[c + 1]))
            w = c + 1;
        if (w == i)
            return;
        int32_t t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

int
gpt_top_k(const float *logits, int n_vocab, int k, int32_t *out)
{
    int i;

    if (k > n_vocab)
        k = n_vocab;
    tl_logits = logits;
    if (k == n_vocab) {
        for (i = 0; i < n_vocab; i++)
            out[i] = i;
    } else {
        for (i = 0; i < k; i++)
            out[i] = i;
        for (i = k / 2 - 1; i >= 0; i--)
            sift_down(logits, out, k, i);
        for (i = k; i < n_vocab; i++)
            if (better(logits, i, out[0])) {
                out[0] = i;
                sift_down(logits, out, k, 0);
            }
    }
    qsort(out, (size_t)k, sizeof *out, cmp_desc);
    return k;
}

double
gpt_logprob_of(const float *logits, int n_vocab, int32_t id)
{
    double mx = logits[0], sum = 0;
    int i;

    for (i = 1; i < n_vocab; i++)
        if (logits[i] > mx)
            mx = logits[i];
    for (i = 0; i < n_vocab; i++)
        sum += exp((double)logits[i] - mx);
    return (double)logits[id] - mx - log(sum);
}

/*
 * The first index of the largest logit, as the scan "best = i whenever
 * logits[i] > logits[best]" gives it: NaNs never win, except at index 0
 * (nothing compares greater), and of equal values the first wins.  Done
 * as the maximum over 8 independent lanes (vectorizable, unlike the scan,
 * whose every step waits for the load of logits[best]: 24 us against 4 us
 * over the GPT-2 vocabulary), then the first index holding it.
 */
static int32_t
argmax(const float *logits, int n)
{
    float m[8], mx;
    int i, j;

    /* the lanes start at logits[0]: a NaN there stays (nothing compares
     * greater), equals nothing below, and 0 is returned */
    for (j = 0; j < 8; j++)
        m[j] = logits[0];
    for (i = 0; i + 8 <= n; i += 8)
        for (j = 0; j < 8; j++)
            m[j] = logits[i + j] > m[j] ? logits[i + j] : m[j];
    for (; i < n; i++)
        m[0] = logits[i] > m[0] ? logits[i] : m[0];
    mx = m[0];
    for (j = 1; j < 8; j++)
        mx = m[j] > mx ? m[j] : mx;
    for (i = 0; i < n; i++)
        if (logits[i] == mx)
            return i;
    return 0;
}

int32_t
gpt_sample(const float *logits, int n_vocab, const gpt_gen_options *o,
           gpt_rng *rng, gpt_sampler_buf *buf)
{
    int i, n;
    double total, cum, u, inv_t;

    if (o->temperature == 0.0)
        return argmax(logits, n_vocab);
    if (buf->cap < n_vocab) {
        gpt_free(buf->idx);
        gpt_free(buf->p);
        buf->idx = gpt_malloc((size_t)n_vocab * sizeof *buf->idx);
        buf->p = gpt_malloc((size_t)n_vocab * sizeof *buf->p);
        buf->cap = buf->idx && buf->p ? n_vocab : 0;
        if (!buf->cap)
            return -1;
    }
    n = gpt_top_k(logits, n_vocab,
                  o->top_k > 0 && o->top_k < n_vocab ? o->top_k : n_vocab,
                  buf->idx);
    inv_t = 1.0 / o->temperature;
    total = 0;
    for (i = 0; i < n; i++) {
        buf->p[i] = exp(((double)logits[buf->idx[i]] - logits[buf->idx[0]]) * inv_t);
        total += buf->p[i];
    }
    if (o->top_p < 1.0) {
        cum = 0;
        for (i = 0; i < n; i++) {
            cum += buf->p[i];
            if (cum >= o->top_p * total) {
                n = i + 1;
                break;
            }
        }
        total = 0;
        for (i = 0; i < n; i++)
            total += buf->p[i];
    }
    u = gpt_rng_uniform(rng) * total;
    cum = 0;
    for (i = 0; i < n; i++) {
        cum += buf->p[i];
        if (u < cum)
            return buf->idx[i];
    }
    return buf->idx[n - 1];
}
