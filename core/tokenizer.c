/*
 * tokenizer.c - GPT-2 byte-level BPE (tiktoken "gpt2" encode_ordinary).
 *
 * Build: token strings are turned into raw bytes (GPT-2 stores them in its
 * byte-to-unicode alphabet) and indexed by a hash table; the merges give each
 * merge result a rank (its merge index).  Like tiktoken, any two adjacent
 * parts whose concatenation is a ranked token may merge, at that token's
 * rank, so every split of every ranked token into two mergeable tokens goes
 * into a (left id, right id) -> (rank, result) hash table.
 *
 * Encode: a hand-written matcher for GPT-2's pre-tokenizer regex cuts the
 * text into pieces; a piece that is itself a token is emitted as is (as
 * tiktoken does), others are merged lowest rank first, ties leftmost: an
 * O(n^2) array loop for short pieces, a heap over a linked list (O(n log n))
 * for long ones, so adversarial inputs stay fast.
 */
#include <string.h>

#include "internal.h"
#include "mapping.h"
#include "tokenizer.h"
#include "unicode_tables.h"
#include "utf8.h"

#define NO_RANK UINT32_MAX
#define RANK_BYTE (UINT32_MAX - 1) /* the single-byte token of a byte */
#define SMALL_PIECE 48             /* bytes; longer pieces use the heap */

/* The slot holds where the token's bytes are, so a lookup reads the slot
 * and the bytes, nothing else. */
typedef struct tok_slot {
    uint32_t hash;
    int32_t id; /* -1: empty */
    uint32_t off, len; /* the token's bytes: arena[off..off+len) */
} tok_slot;

struct gpt_tokenizer {
    uint32_t n_tokens;
    void *mem;            /* off, rank and arena, one mapping */
    size_t mem_bytes;
    size_t *off;          /* [n_tokens + 1]: token i is arena[off[i]..off[i+1]) */
    uint32_t *rank;       /* [n_tokens]: merge rank, RANK_BYTE or NO_RANK */
    unsigned char *arena; /* raw bytes of every token, back to back */
    size_t max_ranked_len; /* longest ranked token, bytes */
    tok_slot *tok_tab;
    uint32_t tok_mask;
    int32_t byte_id[256];
    /* bit (a << 8 | b) set when bytes a, b are adjacent inside some ranked
     * token; where they are not, no merge can ever join them */
    uint64_t joinable[256 * 256 / 64];
};

/* ------------------------------------------------------------ hashing */

static uint32_t
hash_bytes(const unsigned char *p, size_t n)
{
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ (uint64_t)n;
    uint64_t w;

    while (n >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * UINT64_C(0xFF51AFD7ED558CCD);
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = (h ^ w) * UINT64_C(0xC4CEB9FE1A85EC53);
    }
    h ^= h >> 33;
    h *= UINT64_C(0xFF51AFD7ED558CCD);
    h ^= h >> 29;
    return (uint32_t)h;
}

static int32_t
tok_find(const gpt_tokenizer *t, const unsigned char *p, size_t n,
         uint32_t h)
{
    uint32_t i = h & t->tok_mask;

    for (;; i = (i + 1) & t->tok_mask) {
        const tok_slot *s = &t->tok_tab[i];
        if (s->id < 0)
            return -1;
        if (s->hash == h && s->len == n &&
            memcmp(t->arena + s->off, p, n) == 0)
            return s->id;
    }
}

/* Rank of merging two adjacent parts that together are the n bytes at p
 * (the merged token in *result), or NO_RANK. */
static inline uint32_t
slice_rank(const gpt_tokenizer *t, const unsigned char *p, size_t n,
           int32_t *result)
{
    int32_t id;

    if (n > t->max_ranked_len)
        return NO_RANK;
    id = tok_find(t, p, n, hash_bytes(p, n));
    if (id < 0 || t->rank[id] == RANK_BYTE)
        return NO_RANK;
    *result = id;
    return t->rank[id];
}

/* --------------------------------------------------------- building */

/* GPT-2's bytes_to_unicode(): printable bytes map to themselves, the 68
 * others to U+0100.. in byte order.  Fills the inverse: code point -> byte,
 * -1 outside the alphabet. */
#define ALPHABET_END 0x144
static void
unicode_to_byte_table(int16_t inv[ALPHABET_END])
{
    int b, n = 0;

    for (b = 0; b < ALPHABET_END; b++)
        inv[b] = -1;
    for (b = 0; b < 256; b++) {
        int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                        (b >= 0xAE && b <= 0xFF);
        inv[printable ? b : 0x100 + n++] = (int16_t)b;
    }
}

/* Converts a token string to raw bytes in out (capacity n).  Returns 0, or
 * -1 with *bad the offset of invalid UTF-8. */
static int
to_raw_general(const int16_t *inv, const unsigned char *s, size_t n,
               unsigned char *out, size_t *out_n, size_t *bad)
{
    size_t i = 0, o = 0, adv;

    *bad = gpt_utf8_valid_prefix((const char *)s, n);
    if (*bad != n)
        return -1;
    while (i < n) {
        uint32_t cp = gpt_utf8_decode_valid(s + i, &adv);
        if (cp >= ALPHABET_END || inv[cp] < 0) {
            /* not GPT-2's alphabet: a special token, kept as UTF-8 */
            memcpy(out, s, n);
            *out_n = n;
            return 0;
        }
        out[o++] = (unsigned char)inv[cp];
        i += adv;
    }
    *out_n = o;
    return 0;
}

/* to_raw_general, in one pass for the strings of GPT-2's alphabet (code
 * points below U+0144: one or two bytes of UTF-8), which are nearly all of
 * a vocabulary and its merges; anything else takes the general way, which
 * validates and keeps special tokens as they are. */
static int
to_raw(const int16_t *inv, const unsigned char *s, size_t n,
       unsigned char *out, size_t *out_n, size_t *bad)
{
    size_t i = 0, o = 0;

    while (i < n) {
        unsigned b = s[i], cp;
        if (b < 0x80) {
            cp = b;
            i++;
        } else if (b >= 0xC2 && b <= 0xC5 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            cp = (b & 0x1F) << 6 | (s[i + 1] & 0x3F);
            i += 2;
        } else {
            break;
        }
        if (cp >= ALPHABET_END || inv[cp] < 0)
            break;
        out[o++] = (unsigned char)inv[cp];
    }
    if (i < n)
        return to_raw_general(inv, s, n, out, out_n, bad);
    *out_n = o;
    return 0;
}

static uint64_t
pow2_at_least(uint64_t n)
{
    uint64_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

/* "tokenizer merge 7 ("A B"): problem"; the merge text is shown when it is
 * short, valid UTF-8 without control characters (messages must be valid
 * UTF-8 for PostgreSQL). */
static gpt_status
merge_error(gpt_error *err, uint32_t i, const unsigned char *m, size_t n,
            const char *problem)
{
    int show = n <= 64 && gpt_utf8_valid_prefix((const char *)m, n) == n;
    size_t k;

    for (k = 0; show && k < n; k++)
        if (m[k] < 0x20 || m[k] == '"' || m[k] == 0x7F)
            show = 0;
    if (show)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tokenizer merge %u (\"%.*s\"): %s", i, (int)n,
                             (const char *)m, problem);
    return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL, "tokenizer merge %u: %s",
                         i, problem);
}

/* Merge i ("A B") as raw bytes: A at buf[off..off+la), B right after it,
 * with the hashes of A, B and A+B computed ahead of the table lookups. */
typedef struct raw_merge {
    uint32_t off, la, lb;
    uint32_t ha, hb, hab;
} raw_merge;

/* Splits merge i and converts both parts to raw bytes at buf (room for n
 * bytes). */
static gpt_status
split_merge(const int16_t *inv, const unsigned char *m, size_t n, uint32_t i,
            unsigned char *buf, raw_merge *rm, gpt_error *err)
{
    size_t sp = n, k, la, lb, bad;

    for (k = 0; k < n; k++) {
        if (m[k] == ' ') {
            if (sp != n)
                return merge_error(err, i, m, n,
                                   "more than one space (expected \"A B\")");
            sp = k;
        }
    }
    if (sp == n || sp == 0 || sp == n - 1)
        return merge_error(err, i, m, n,
                           "expected two non-empty parts separated by one "
                           "space");
    if (to_raw(inv, m, sp, buf, &la, &bad) != 0 ||
        to_raw(inv, m + sp + 1, n - sp - 1, buf + sp, &lb, &bad) != 0)
        return merge_error(err, i, m, n, "invalid UTF-8");
    memmove(buf + la, buf + sp, lb);
    rm->la = (uint32_t)la;
    rm->lb = (uint32_t)lb;
    rm->ha = hash_bytes(buf, la);
    rm->hb = hash_bytes(buf + la, lb);
    rm->hab = hash_bytes(buf, la + lb);
    return GPT_OK;
}

/* How far ahead the build prefetches table slots: every lookup in a table
 * of megabytes is a cache miss, and prefetching lets them overlap instead
 * of coming one after the other (this halves the model's open time). */
#define PREFETCH_AHEAD 8
#define BUILD_CHUNK 1024 /* tokens or merges hashed ahead of their lookups */

static inline void
prefetch_slot(const gpt_tokenizer *t, uint32_t h)
{
    __builtin_prefetch(&t->tok_tab[h & t->tok_mask]);
}

/* Ranks every merge result (its first merge wins), checking that both parts
 * and the result are tokens.  Two passes: split and hash all merges, then
 * look them up with the slots prefetched. */
static gpt_status
rank_merges(gpt_tokenizer *t, const int16_t *inv, const char *const *merges,
            const uint32_t *merge_lens, uint32_t n_merges, gpt_error *err)
{
    raw_merge *rm = NULL;
    unsigned char *buf = NULL;
    size_t cap = 0;
    uint32_t i, c0, n_split = 0;
    gpt_status st = GPT_OK, split_st = GPT_OK;
    gpt_error split_err;

    for (i = 0; i < n_merges; i++) {
        if (!merges[i] && merge_lens[i])
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "tokenizer merge %u: NULL string", i);
    }
    rm = gpt_malloc(BUILD_CHUNK * sizeof *rm);
    if (!rm) {
        st = gpt_set_error(err, GPT_ERR_NOMEM,
                           "out of memory building the tokenizer (%u merges)",
                           n_merges);
        goto done;
    }
    /* in chunks, so the scratch stays small and warm in the cache; pass 1
     * stops at the first malformed merge, whose error is reported only if
     * no earlier merge fails its lookups in pass 2 */
    for (c0 = 0; c0 < n_merges && split_st == GPT_OK; c0 += n_split) {
        uint32_t cn = n_merges - c0 < BUILD_CHUNK ? n_merges - c0
                                                  : BUILD_CHUNK;
        size_t used = 0, need = 1;
        for (i = 0; i < cn; i++)
            need += merge_lens[c0 + i];
        if (need > cap) {
            gpt_free(buf);
            buf = gpt_malloc(need);
            cap = buf ? need : 0;
            if (!buf) {
                st = gpt_set_error(err, GPT_ERR_NOMEM,
                                   "out of memory building the tokenizer "
                                   "(%u merges)", n_merges);
                goto done;
            }
        }
        for (n_split = 0; n_split < cn; n_split++) {
            uint32_t g = c0 + n_split;
            rm[n_split].off = (uint32_t)used;
            split_st = split_merge(inv, (const unsigned char *)merges[g],
                                   merge_lens[g], g, buf + used,
                                   &rm[n_split], &split_err);
            if (split_st != GPT_OK)
                break;
            used += rm[n_split].la + rm[n_split].lb;
        }
        for (i = 0; i < n_split; i++) {
            const unsigned char *a = buf + rm[i].off, *m;
            uint32_t g = c0 + i;
            int32_t r;
            if (i + PREFETCH_AHEAD < n_split) {
                const raw_merge *q = &rm[i + PREFETCH_AHEAD];
                prefetch_slot(t, q->ha);
                prefetch_slot(t, q->hb);
                prefetch_slot(t, q->hab);
            }
            m = (const unsigned char *)merges[g];
            if (tok_find(t, a, rm[i].la, rm[i].ha) < 0) {
                st = merge_error(err, g, m, merge_lens[g],
                                 "its left part is not in the vocabulary");
                goto done;
            }
            if (tok_find(t, a + rm[i].la, rm[i].lb, rm[i].hb) < 0) {
                st = merge_error(err, g, m, merge_lens[g],
                                 "its right part is not in the vocabulary");
                goto done;
            }
            r = tok_find(t, a, rm[i].la + rm[i].lb, rm[i].hab);
            if (r < 0) {
                st = merge_error(err, g, m, merge_lens[g],
                                 "the merged token is not in the vocabulary");
                goto done;
            }
            if (t->rank[r] == NO_RANK) {
                const unsigned char *q = t->arena + t->off[r];
                size_t len = t->off[r + 1] - t->off[r];
                t->rank[r] = g;
                for (size_t k = 1; k < len; k++) {
                    unsigned bits = (unsigned)q[k - 1] << 8 | q[k];
                    t->joinable[bits >> 6] |= UINT64_C(1) << (bits & 63);
                }
                if (len > t->max_ranked_len)
                    t->max_ranked_len = len;
            }
        }
    }
    if (split_st != GPT_OK) {
        st = split_st;
        if (err)
            *err = split_err;
    }
done:
    gpt_free(rm);
    gpt_free(buf);
    return st;
}

gpt_status
gpt_tokenizer_new(const char *const *tokens, const uint32_t *token_lens,
                  uint32_t n_tokens, const char *const *merges,
                  const uint32_t *merge_lens, uint32_t n_merges,
                  gpt_tokenizer **out, gpt_error *err)
{
    gpt_tokenizer *t = NULL;
    int16_t inv[ALPHABET_END];
    uint32_t *hashes = NULL; /* of a chunk of tokens' raw bytes */
    size_t total = 0;
    uint32_t i, c0;
    gpt_status st;

    if (!out)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_tokenizer_new: out is NULL");
    *out = NULL;
    if (n_tokens == 0 || n_tokens > INT32_MAX)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tokenizer: bad vocabulary size %u", n_tokens);
    if (!tokens || !token_lens || (n_merges && (!merges || !merge_lens)))
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_tokenizer_new: NULL token or merge list");
    unicode_to_byte_table(inv);
    for (i = 0; i < n_tokens; i++) {
        if (!tokens[i] && token_lens[i])
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "tokenizer token %u: NULL string", i);
        total += token_lens[i];
    }
    if (total >= UINT32_MAX)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tokenizer: the token strings take %zu bytes "
                             "(the limit is 4 GiB)", total);

    t = gpt_calloc(1, sizeof *t);
    if (!t)
        goto nomem;
    t->n_tokens = n_tokens;
    /* written whole while building: one mapping in 2 MiB pages (mapping.h)
     * for the three arrays, and one for the hash table (2 MiB for GPT-2's
     * vocabulary) */
    t->mem_bytes = gpt_mapped_round((n_tokens + (size_t)1) * sizeof *t->off +
                                    n_tokens * sizeof *t->rank + total);
    t->mem = gpt_alloc_mapped(t->mem_bytes);
    t->tok_mask = (uint32_t)pow2_at_least(2 * (uint64_t)n_tokens) - 1;
    t->tok_tab = gpt_alloc_mapped(((size_t)t->tok_mask + 1) * sizeof *t->tok_tab);
    if (!t->mem || !t->tok_tab)
        goto nomem;
    t->off = t->mem;
    t->rank = (uint32_t *)(t->off + n_tokens + 1);
    t->arena = (unsigned char *)(t->rank + n_tokens);
    memset(t->tok_tab, 0xFF, ((size_t)t->tok_mask + 1) * sizeof *t->tok_tab);

    /* tokens -> raw bytes and their hashes, then into the hash table (the
     * lowest id wins on duplicates) with the slots prefetched, a chunk at a
     * time */
    hashes = gpt_malloc(BUILD_CHUNK * sizeof *hashes);
    if (!hashes)
        goto nomem;
    t->off[0] = 0;
    for (c0 = 0; c0 < n_tokens; c0 += BUILD_CHUNK) {
        uint32_t cn = n_tokens - c0 < BUILD_CHUNK ? n_tokens - c0
                                                  : BUILD_CHUNK;
        for (i = c0; i < c0 + cn; i++) {
            const unsigned char *s = (const unsigned char *)tokens[i];
            unsigned char *dst = t->arena + t->off[i];
            size_t n, bad;
            if (to_raw(inv, s, token_lens[i], dst, &n, &bad) != 0) {
                st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                   "tokenizer token %u: invalid UTF-8 at "
                                   "byte %zu", i, bad);
                goto fail;
            }
            t->off[i + 1] = t->off[i] + n;
            t->rank[i] = NO_RANK;
            hashes[i - c0] = hash_bytes(dst, n);
        }
        for (i = c0; i < c0 + cn; i++) {
            const unsigned char *dst = t->arena + t->off[i];
            size_t n = t->off[i + 1] - t->off[i];
            uint32_t h = hashes[i - c0], slot;
            if (i - c0 + PREFETCH_AHEAD < cn)
                prefetch_slot(t, hashes[i - c0 + PREFETCH_AHEAD]);
            if (tok_find(t, dst, n, h) >= 0)
                continue;
            for (slot = h & t->tok_mask; t->tok_tab[slot].id >= 0;
                 slot = (slot + 1) & t->tok_mask)
                ;
            t->tok_tab[slot].hash = h;
            t->tok_tab[slot].id = (int32_t)i;
            t->tok_tab[slot].off = (uint32_t)t->off[i];
            t->tok_tab[slot].len = (uint32_t)n;
        }
    }
    gpt_free(hashes);
    hashes = NULL;
    for (i = 0; i < 256; i++) {
        unsigned char b = (unsigned char)i;
        int32_t id = tok_find(t, &b, 1, hash_bytes(&b, 1));
        if (id < 0) {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "tokenizer: no token for byte 0x%02X (a "
                               "byte-level BPE vocabulary has all 256)", i);
            goto fail;
        }
        t->byte_id[i] = id;
        t->rank[id] = RANK_BYTE;
    }
    t->max_ranked_len = 1;

    st = rank_merges(t, inv, merges, merge_lens, n_merges, err);
    if (st != GPT_OK)
        goto fail;

    *out = t;
    return GPT_OK;

nomem:
    st = gpt_set_error(err, GPT_ERR_NOMEM,
                       "out of memory building the tokenizer (%u tokens)",
                       n_tokens);
fail:
    gpt_free(hashes);
    gpt_tokenizer_free(t);
    return st;
}

void
gpt_tokenizer_free(gpt_tokenizer *t)
{
    if (!t)
        return;
    gpt_free_mapped(t->mem, t->mem_bytes);
    gpt_free_mapped(t->tok_tab, ((size_t)t->tok_mask + 1) * sizeof *t->tok_tab);
    gpt_free(t);
}

uint32_t
gpt_tokenizer_size(const gpt_tokenizer *t)
{
    return t ? t->n_tokens : 0;
}

const char *
gpt_tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || (uint32_t)id >= t->n_tokens) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = t->off[id + 1] - t->off[id];
    return (const char *)t->arena + t->off[id];
}

int32_t
gpt_tokenizer_lookup(const gpt_tokenizer *t, const char *bytes, size_t len)
{
    const unsigned char *p = (const unsigned char *)bytes;
    if (!t || (!bytes && len))
        return -1;
    return tok_find(t, p, len, hash_bytes(p, len));
}

/* ------------------------------------------------- pre-tokenization */

static inline int
uc_class(uint32_t cp)
{
    size_t lo = 0, hi = GPT_UC_N_RANGES;

    if (cp < 256)
        return gpt_uc_latin1[cp];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp > gpt_uc_ranges[mid].hi)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < GPT_UC_N_RANGES && cp >= gpt_uc_ranges[lo].lo)
        return gpt_uc_ranges[lo].cls;
    return GPT_UC_OTHER;
}

/* Class of the (valid) character at s[0]; *adv gets its length. */
static inline int
class_at(const unsigned char *s, size_t *adv)
{
    if (s[0] < 0x80) {
        *adv = 1;
        return gpt_uc_latin1[s[0]];
    }
    return uc_class(gpt_utf8_decode_valid(s, adv));
}

/*
 * End of the piece that starts at s[i] (i < len), by GPT-2's regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * tried left to right.  The class runs are greedy and nothing follows them,
 * so no backtracking is needed except for the whitespace lookahead.
 */
static size_t
piece_end(const unsigned char *s, size_t len, size_t i)
{
    size_t adv, j, last;
    int cls = class_at(s + i, &adv);

    if (s[i] == '\'' && i + 1 < len) {
        unsigned char a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd')
            return i + 2;
        if (i + 2 < len) {
            unsigned char b = s[i + 2];
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
                (a == 'l' && b == 'l'))
                return i + 3;
        }
    }
    j = i + adv;
    if (s[i] == ' ' && j < len) {
        /* " ?X+": a space joins a following run of letters, numbers or
         * other characters (anything but whitespace) */
        int next = class_at(s + j, &adv);
        if (next != GPT_UC_SPACE) {
            cls = next;
            j += adv;
        }
    }
    if (cls != GPT_UC_SPACE) {
        while (j < len && class_at(s + j, &adv) == cls)
            j += adv;
        return j;
    }
    /* whitespace run s[i..j) */
    last = i;
    while (j < len && class_at(s + j, &adv) == GPT_UC_SPACE) {
        last = j;
        j += adv;
    }
    if (j == len)
        return j; /* at the end the whole run is one piece */
    /* \s+(?!\S) leaves the run's last character for the next piece (a
     * space there joins what follows); a single character falls to \s+ */
    return last > i ? last : j;
}

/* ------------------------------------------------------------- BPE */

typedef struct enc {
    const gpt_tokenizer *t;
    int32_t *ids;
    size_t n, cap;
    void *scratch; /* for long pieces */
    size_t scratch_cap;
} enc;

static int
reserve(enc *e, size_t more)
{
    size_t cap;
    int32_t *p;

    if (e->cap - e->n >= more)
        return 0;
    cap = e->cap ? e->cap : 256;
    while (cap - e->n < more)
        cap *= 2;
    p = gpt_realloc(e->ids, cap * sizeof *p);
    if (!p)
        return -1;
    e->ids = p;
    e->cap = cap;
    return 0;
}

/* Short piece: parts in an array (part i is p[at[i] .. at[i + 1])), each
 * step finds the lowest pair rank. */
static void
bpe_small(enc *e, const unsigned char *p, size_t n)
{
    const gpt_tokenizer *t = e->t;
    int32_t ids[SMALL_PIECE], res[SMALL_PIECE];
    uint32_t rk[SMALL_PIECE];
    uint8_t at[SMALL_PIECE + 1];
    size_t i, m = n;

    for (i = 0; i <= n; i++)
        at[i] = (uint8_t)i;
    for (i = 0; i < n; i++)
        ids[i] = t->byte_id[p[i]];
    for (i = 0; i + 1 < n; i++)
        rk[i] = slice_rank(t, p + i, 2, &res[i]);
    while (m > 1) {
        uint32_t best = NO_RANK;
        size_t b = 0;
        for (i = 0; i + 1 < m; i++) {
            if (rk[i] < best) { /* strict: the leftmost of equal ranks */
                best = rk[i];
                b = i;
            }
        }
        if (best == NO_RANK)
            break;
        /* parts b and b+1 become one; pair b+1 disappears */
        ids[b] = res[b];
        memmove(ids + b + 1, ids + b + 2, (m - b - 2) * sizeof *ids);
        memmove(at + b + 1, at + b + 2, (m - b - 1) * sizeof *at);
        if (b + 2 < m - 1) {
            memmove(rk + b + 1, rk + b + 2, (m - b - 3) * sizeof *rk);
            memmove(res + b + 1, res + b + 2, (m - b - 3) * sizeof *res);
        }
        m--;
        if (b > 0)
            rk[b - 1] = slice_rank(t, p + at[b - 1], at[b + 1] - at[b - 1],
                                   &res[b - 1]);
        if (b + 1 < m)
            rk[b] = slice_rank(t, p + at[b], at[b + 2] - at[b], &res[b]);
    }
    memcpy(e->ids + e->n, ids, m * sizeof *ids);
    e->n += m;
}

/*
 * Long pieces: the parts form a linked list over their first byte positions
 * and every pair with a rank sits in an indexed min-heap keyed by
 * (rank, position), so the top is the lowest rank, leftmost on ties, exactly
 * the pair the array loop would pick.  A merge changes at most the two pairs
 * around it: each is updated in place (decrease/increase key) or removed.
 * O(n log n) time; 28 bytes of scratch per byte, allocated once per call.
 */
typedef struct bpe_heap {
    uint32_t *heap; /* positions; heap[0] has the smallest key */
    uint32_t *hidx; /* position -> index in heap, NOT_IN_HEAP if absent */
    uint32_t *rk;   /* position -> rank of the pair starting there */
    uint32_t n;
} bpe_heap;

#define NOT_IN_HEAP UINT32_MAX

static inline uint64_t
heap_key(const bpe_heap *h, uint32_t pos)
{
    return (uint64_t)h->rk[pos] << 32 | pos;
}

static inline void
heap_place(bpe_heap *h, uint32_t i, uint32_t pos)
{
    h->heap[i] = pos;
    h->hidx[pos] = i;
}

static void
heap_sift_up(bpe_heap *h, uint32_t i)
{
    uint32_t pos = h->heap[i];
    uint64_t key = heap_key(h, pos);

    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (heap_key(h, h->heap[parent]) <= key)
            break;
        heap_place(h, i, h->heap[parent]);
        i = parent;
    }
    heap_place(h, i, pos);
}

static void
heap_sift_down(bpe_heap *h, uint32_t i)
{
    uint32_t pos = h->heap[i];
    uint64_t key = heap_key(h, pos);

    for (;;) {
        uint32_t c = 2 * i + 1;
        uint64_t ck;
        if (c >= h->n)
            break;
        ck = heap_key(h, h->heap[c]);
        if (c + 1 < h->n) {
            uint64_t k2 = heap_key(h, h->heap[c + 1]);
            if (k2 < ck) {
                c++;
                ck = k2;
            }
        }
        if (key <= ck)
            break;
        heap_place(h, i, h->heap[c]);
        i = c;
    }
    heap_place(h, i, pos);
}

/* Sets the rank of the pair at pos (NO_RANK: no pair) and fixes the heap. */
static void
heap_set(bpe_heap *h, uint32_t pos, uint32_t rank)
{
    uint32_t i = h->hidx[pos];
    uint32_t old = h->rk[pos];

    h->rk[pos] = rank;
    if (i == NOT_IN_HEAP) {
        if (rank == NO_RANK)
            return;
        h->heap[h->n] = pos;
        h->hidx[pos] = h->n;
        heap_sift_up(h, h->n++);
        return;
    }
    if (rank == NO_RANK) {
        uint32_t last = h->heap[--h->n];
        h->hidx[pos] = NOT_IN_HEAP;
        if (i == h->n)
            return;
        heap_place(h, i, last);
        heap_sift_up(h, i);
        heap_sift_down(h, h->hidx[last]);
        return;
    }
    if (rank < old)
        heap_sift_up(h, i);
    else if (rank > old)
        heap_sift_down(h, i);
}

static int
bpe_long(enc *e, const unsigned char *p, size_t n)
{
    const gpt_tokenizer *t = e->t;
    size_t need = n * 7 * sizeof(uint32_t);
    int32_t *ids, *nxt, *prv, *res;
    bpe_heap h;
    size_t i;
    int32_t k;

    if (e->scratch_cap < need) {
        gpt_free(e->scratch);
        e->scratch = gpt_malloc(need);
        e->scratch_cap = e->scratch ? need : 0;
        if (!e->scratch)
            return -1;
    }
    ids = e->scratch;
    nxt = ids + n;
    prv = nxt + n;
    res = prv + n;
    h.rk = (uint32_t *)(res + n);
    h.heap = h.rk + n;
    h.hidx = h.heap + n;
    h.n = 0;

    for (i = 0; i < n; i++) {
        ids[i] = t->byte_id[p[i]];
        nxt[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        prv[i] = (int32_t)i - 1;
        h.hidx[i] = NOT_IN_HEAP;
    }
    /* pairs are added left to right with increasing positions, then the
     * heap is built bottom-up in O(n) */
    for (i = 0; i < n; i++) {
        h.rk[i] = i + 1 < n ? slice_rank(t, p + i, 2, &res[i]) : NO_RANK;
        if (h.rk[i] != NO_RANK) {
            h.heap[h.n] = (uint32_t)i;
            h.hidx[i] = h.n++;
        }
    }
    for (i = h.n / 2; i-- > 0;)
        heap_sift_down(&h, (uint32_t)i);

    while (h.n) {
        int32_t a = (int32_t)h.heap[0], b = nxt[a], c;
        int32_t z = prv[a];
        int32_t merged = res[a];

        /* parts a and b become one at a; b's pair goes away */
        ids[a] = merged;
        heap_set(&h, (uint32_t)b, NO_RANK);
        c = nxt[b];
        nxt[a] = c;
        /* a part runs from its position to the next part's (or n) */
        if (c >= 0) {
            size_t end = nxt[c] >= 0 ? (size_t)nxt[c] : n;
            prv[c] = a;
            heap_set(&h, (uint32_t)a,
                     slice_rank(t, p + a, end - (size_t)a, &res[a]));
        } else {
            heap_set(&h, (uint32_t)a, NO_RANK);
        }
        if (z >= 0) {
            size_t end = c >= 0 ? (size_t)c : n;
            heap_set(&h, (uint32_t)z,
                     slice_rank(t, p + z, end - (size_t)z, &res[z]));
        }
    }
    for (k = 0; k >= 0; k = nxt[k])
        e->ids[e->n++] = ids[k];
    return 0;
}

static int
encode_piece(enc *e, const unsigned char *p, size_t n)
{
    const gpt_tokenizer *t = e->t;

    if (reserve(e, n) != 0)
        return -1;
    if (n == 1) {
        e->ids[e->n++] = t->byte_id[p[0]];
        return 0;
    }
    /* a piece that is a token is that token (tiktoken's shortcut) */
    if (n <= t->max_ranked_len) {
        int32_t id = tok_find(t, p, n, hash_bytes(p, n));
        if (id >= 0 && t->rank[id] != NO_RANK) {
            e->ids[e->n++] = id;
            return 0;
        }
    }
    if (n <= SMALL_PIECE) {
        bpe_small(e, p, n);
        return 0;
    }
    /* A long piece is cut where two bytes can never be joined: no part can
     * span the cut, the pair across it never has a rank, so each side
     * merges exactly as it would alone. */
    {
        size_t start = 0, i;
        for (i = 1; i <= n; i++) {
            unsigned bits = i < n ? (unsigned)p[i - 1] << 8 | p[i] : 0;
            if (i < n && (t->joinable[bits >> 6] >> (bits & 63) & 1))
                continue;
            if (i - start == 1)
                e->ids[e->n++] = t->byte_id[p[start]];
            else if (i - start <= SMALL_PIECE)
                bpe_small(e, p + start, i - start);
            else if (bpe_long(e, p + start, i - start) != 0)
                return -1;
            start = i;
        }
    }
    return 0;
}

/* Encodes text; with count_only the ids are dropped piece by piece. */
static gpt_status
encode(const gpt_tokenizer *t, const char *text, size_t len, int count_only,
       enc *e, size_t *count, gpt_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, valid, total = 0;

    if (!t)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "tokenizer is NULL");
    if (!text && len)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT, "text is NULL");
    if (len > INT32_MAX)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "text of %zu bytes is too long to tokenize "
                             "(the limit is 2 GiB)", len);
    valid = gpt_utf8_valid_prefix(text, len);
    if (valid != len)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "text is not valid UTF-8 (bad byte 0x%02X at "
                             "byte offset %zu)", s[valid], valid);
    e->t = t;
    while (i < len) {
        size_t end = piece_end(s, len, i);
        if (encode_piece(e, s + i, end - i) != 0)
            return gpt_set_error(err, GPT_ERR_NOMEM,
                                 "out of memory tokenizing %zu bytes", len);
        if (count_only) {
            total += e->n;
            e->n = 0;
        }
        i = end;
    }
    *count = count_only ? total : e->n;
    return GPT_OK;
}

gpt_status
gpt_tokenizer_encode(const gpt_tokenizer *t, const char *text, size_t len,
                     int32_t **ids, size_t *n_ids, gpt_error *err)
{
    enc e = {0};
    size_t n = 0;
    gpt_status st;

    if (!ids || !n_ids)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_tokenizer_encode: NULL output");
    *ids = NULL;
    *n_ids = 0;
    /* a first guess; most English text has ~4 bytes per token */
    if (reserve(&e, len / 3 + 16) != 0)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory tokenizing %zu bytes", len);
    st = encode(t, text, len, 0, &e, &n, err);
    gpt_free(e.scratch);
    if (st != GPT_OK) {
        gpt_free(e.ids);
        return st;
    }
    if (e.cap > 2 * n + 64) {
        /* the first guess was far too big: give the rest back */
        int32_t *p = gpt_realloc(e.ids, (n ? n : 1) * sizeof *p);
        if (p)
            e.ids = p;
    }
    *ids = e.ids;
    *n_ids = n;
    return GPT_OK;
}

gpt_status
gpt_tokenizer_count(const gpt_tokenizer *t, const char *text, size_t len,
                    size_t *n, gpt_error *err)
{
    enc e = {0};
    size_t count = 0;
    gpt_status st;

    if (!n)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_tokenizer_count: NULL output");
    *n = 0;
    st = encode(t, text, len, 1, &e, &count, err);
    gpt_free(e.scratch);
    gpt_free(e.ids);
    if (st == GPT_OK)
        *n = count;
    return st;
}

/* ----------------------------------------------------------- decode */

gpt_status
gpt_tokenizer_decode(const gpt_tokenizer *t, const int32_t *ids, size_t n,
                     char **text, size_t *len, gpt_error *err)
{
    size_t total = 0, i, o = 0;
    char *raw, *clean;

    if (!t || !text || (!ids && n))
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "gpt_tokenizer_decode: NULL argument");
    *text = NULL;
    if (len)
        *len = 0;
    for (i = 0; i < n; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= t->n_tokens)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "token id %d is out of range [0, %u)",
                                 (int)ids[i], t->n_tokens);
        total += t->off[ids[i] + 1] - t->off[ids[i]];
    }
    raw = gpt_malloc(total + 1);
    if (!raw)
        goto nomem;
    for (i = 0; i < n; i++) {
        size_t a = t->off[ids[i]], b = t->off[ids[i] + 1];
        memcpy(raw + o, t->arena + a, b - a);
        o += b - a;
    }
    if (gpt_utf8_valid_prefix(raw, total) != total) {
        clean = gpt_malloc(GPT_UTF8_SANITIZE_MAX(total) + 1);
        if (!clean) {
            gpt_free(raw);
            goto nomem;
        }
        o = gpt_utf8_sanitize_into(raw, total, clean);
        gpt_free(raw);
        raw = clean;
    }
    raw[o] = '\0';
    *text = raw;
    if (len)
        *len = o;
    return GPT_OK;

nomem:
    return gpt_set_error(err, GPT_ERR_NOMEM,
                         "out of memory decoding %zu tokens", n);
}
