/*
 * test_tokenizer.c - unit test of the GPT-2 tokenizer and the UTF-8 helpers.
 *
 * Loads tests/data/gpt2/encoder.json + vocab.bpe, checks every case of
 * tests/data/gpt2_cases.jsonl (ids, count, byte round trip, streaming
 * decode), sanitize and the streaming decoder on tricky bytes, the long-piece
 * merge against a plain reference, vocabulary validation errors, and time on
 * adversarial inputs (throughput printed, generous bound only).
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Icore tests/core/test_tokenizer.c \
 *      core/tokenizer.c core/utf8.c core/error.c -o build/test_tokenizer
 *   build/test_tokenizer [DATA_DIR] [CORPUS_FILE]
 *
 * DATA_DIR defaults to tests/data.  With CORPUS_FILE (make_corpus.sh output)
 * it also reports MB/s on it and checks its token count, 3,032,676.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "tokenizer.h"
#include "utf8.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                     \
    do {                                                                     \
        if (cond) {                                                          \
            n_pass++;                                                        \
        } else {                                                             \
            n_fail++;                                                        \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                      \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
        }                                                                    \
    } while (0)

static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

/* ------------------------------------------------- tiny JSON reading */

static unsigned
hex4(const char *p)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Parses the JSON string starting at *p (at the opening quote) into out
 * (enough room: the decoded form is never longer); returns its length and
 * moves *p past the closing quote. */
static size_t
json_string(const char **p, char *out)
{
    const char *s = *p + 1;
    size_t o = 0;

    while (*s != '"') {
        if (*s != '\\') {
            out[o++] = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': out[o++] = '\n'; s++; break;
        case 'r': out[o++] = '\r'; s++; break;
        case 't': out[o++] = '\t'; s++; break;
        case 'b': out[o++] = '\b'; s++; break;
        case 'f': out[o++] = '\f'; s++; break;
        case 'u': {
            unsigned cp = hex4(s + 1);
            s += 5;
            if (cp >= 0xD800 && cp < 0xDC00 && s[0] == '\\' && s[1] == 'u') {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + 2) - 0xDC00);
                s += 6;
            }
            o += gpt_utf8_encode(cp, out + o);
            break;
        }
        default: out[o++] = *s++; break; /* \" \\ \/ */
        }
    }
    *p = s + 1;
    return o;
}

/* The value after "key": in s (spaces skipped), or NULL. */
static const char *
json_key(const char *s, const char *key)
{
    char pat[64];
    const char *p;

    snprintf(pat, sizeof pat, "\"%s\":", key);
    p = strstr(s, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return p;
}

/* ---------------------------------------------------- the vocabulary */

typedef struct vocab {
    char *enc_text, *bpe_text;
    const char **tokens;
    uint32_t *token_lens;
    uint32_t n_tokens;
    const char **merges;
    uint32_t *merge_lens;
    uint32_t n_merges;
    char *strbuf;
} vocab;

static int
load_vocab(const char *dir, vocab *v)
{
    char path[4096];
    size_t len, o = 0;
    const char *p;
    char *line;

    memset(v, 0, sizeof *v);
    snprintf(path, sizeof path, "%s/gpt2/encoder.json", dir);
    v->enc_text = read_file(path, &len);
    if (!v->enc_text)
        return -1;
    v->strbuf = malloc(len);
    v->tokens = calloc(60000, sizeof *v->tokens);
    v->token_lens = calloc(60000, sizeof *v->token_lens);
    for (p = strchr(v->enc_text, '"'); p; p = strchr(p, '"')) {
        char *s = v->strbuf + o;
        size_t n = json_string(&p, s);
        long id;
        p = strchr(p, ':') + 1;
        id = strtol(p, (char **)&p, 10);
        if (id < 0 || id >= 60000)
            return -1;
        v->tokens[id] = s;
        v->token_lens[id] = (uint32_t)n;
        if ((uint32_t)id + 1 > v->n_tokens)
            v->n_tokens = (uint32_t)id + 1;
        o += n;
    }
    snprintf(path, sizeof path, "%s/gpt2/vocab.bpe", dir);
    v->bpe_text = read_file(path, &len);
    if (!v->bpe_text)
        return -1;
    v->merges = calloc(60000, sizeof *v->merges);
    v->merge_lens = calloc(60000, sizeof *v->merge_lens);
    for (line = v->bpe_text; *line; ) {
        char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n && strncmp(line, "#version", 8) != 0) {
            v->merges[v->n_merges] = line;
            v->merge_lens[v->n_merges++] = (uint32_t)n;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}

static void
free_vocab(vocab *v)
{
    free(v->enc_text);
    free(v->bpe_text);
    free(v->tokens);
    free(v->token_lens);
    free(v->merges);
    free(v->merge_lens);
    free(v->strbuf);
}

/* ------------------------------------------------------ the cases */

static void
test_cases(const gpt_tokenizer *t, const char *dir)
{
    char path[4096];
    size_t len, n_cases = 0, n_ok = 0;
    char *data, *line, *text;

    /* TOK_CASES: another file in the same format (e.g. from tok_fuzz.py) */
    if (getenv("TOK_CASES"))
        snprintf(path, sizeof path, "%s", getenv("TOK_CASES"));
    else
        snprintf(path, sizeof path, "%s/gpt2_cases.jsonl", dir);
    data = read_file(path, &len);
    CHECK(data != NULL, "cannot read %s", path);
    if (!data)
        return;
    text = malloc(len + 1);
    for (line = data; *line; ) {
        char *nl = strchr(line, '\n');
        const char *p;
        char id[64] = "?";
        size_t tlen, n_exp = 0, n_got = 0, n_count = 0, dlen = 0;
        int32_t exp[20000], *got = NULL;
        char *dec = NULL;
        gpt_error err = {0};
        int ok = 1;

        if (nl)
            *nl = '\0';
        if (!*line)
            break;
        p = json_key(line, "id");
        if (p && *p == '"')
            sscanf(p + 1, "%63[^\"]", id);
        p = json_key(line, "text");
        if (!p || *p != '"') {
            CHECK(0, "case %zu: no text", n_cases + 1);
            break;
        }
        tlen = json_string(&p, text);
        p = json_key(p, "ids");
        if (!p || *p != '[') {
            CHECK(0, "%s: no ids", id);
            break;
        }
        p++;
        while (*p == ' ')
            p++;
        while (*p != ']') {
            exp[n_exp++] = (int32_t)strtol(p, (char **)&p, 10);
            if (*p == ',')
                p++;
        }
        n_cases++;

        if (gpt_tokenizer_encode(t, text, tlen, &got, &n_got, &err) != GPT_OK) {
            CHECK(0, "%s: encode failed: %s", id, err.message);
            ok = 0;
        } else if (n_got != n_exp ||
                   memcmp(got, exp, n_exp * sizeof *exp) != 0) {
            size_t k = 0;
            while (k < n_got && k < n_exp && got[k] == exp[k])
                k++;
            CHECK(0, "%s: ids differ (got %zu ids, want %zu; first "
                  "difference at %zu: got %d want %d)", id, n_got, n_exp, k,
                  k < n_got ? got[k] : -1, k < n_exp ? exp[k] : -1);
            ok = 0;
        }
        CHECK(gpt_tokenizer_count(t, text, tlen, &n_count, &err) == GPT_OK &&
              n_count == n_exp, "%s: count %zu, want %zu", id, n_count,
              n_exp);
        if (gpt_tokenizer_decode(t, exp, n_exp, &dec, &dlen, &err) != GPT_OK ||
            dlen != tlen || memcmp(dec, text, tlen) != 0 || dec[dlen]) {
            CHECK(0, "%s: decode does not give the text back", id);
            ok = 0;
        }
        {
            /* token by token through the streaming decoder */
            gpt_utf8_stream st;
            char *buf = malloc(3 * tlen + 64), piece[256];
            size_t o = 0;
            gpt_utf8_stream_init(&st);
            for (size_t k = 0; k < n_exp; k++) {
                size_t bl;
                const char *b = gpt_tokenizer_token_bytes(t, exp[k], &bl);
                if (GPT_UTF8_STREAM_MAX_OUT(bl) <= sizeof piece) {
                    size_t w = gpt_utf8_stream_push(&st, b, bl, piece);
                    CHECK(gpt_utf8_valid_prefix(piece, w) == w,
                          "%s: stream gave invalid UTF-8", id);
                    memcpy(buf + o, piece, w);
                    o += w;
                } else {
                    o += gpt_utf8_stream_push(&st, b, bl, buf + o);
                }
            }
            o += gpt_utf8_stream_flush(&st, buf + o);
            if (o != tlen || memcmp(buf, text, tlen) != 0) {
                CHECK(0, "%s: streamed decode differs", id);
                ok = 0;
            }
            free(buf);
        }
        n_ok += ok;
        gpt_free(got);
        gpt_free(dec);
        if (!nl)
            break;
        line = nl + 1;
    }
    printf("cases: %zu of %zu match (ids, count, round trip, stream)\n",
           n_ok, n_cases);
    CHECK(getenv("TOK_CASES") || n_cases == 209, "expected 209 cases, read %zu", n_cases);
    free(text);
    free(data);
}

/* ------------------------------------------------- UTF-8 sanitizing */

static void
check_sanitize(const char *in, size_t n, const char *want, const char *name)
{
    char *out = NULL;
    size_t out_len = 0;
    gpt_error err;

    CHECK(gpt_utf8_sanitize(in, n, &out, &out_len, &err) == GPT_OK,
          "sanitize %s failed", name);
    if (!out)
        return;
    CHECK(out_len == strlen(want) && memcmp(out, want, out_len) == 0 &&
          out[out_len] == '\0', "sanitize %s: got %zu bytes, want %zu",
          name, out_len, strlen(want));
    gpt_free(out);
}

/* Streams in through every split into 1, 2 or 3 pieces and compares with
 * sanitize of the whole. */
static void
check_stream_splits(const char *in, size_t n, const char *name)
{
    char *want = malloc(3 * n + 1), *got = malloc(3 * n + 64);
    size_t wn = gpt_utf8_sanitize_into(in, n, want);

    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            gpt_utf8_stream st;
            size_t o = 0;
            gpt_utf8_stream_init(&st);
            o += gpt_utf8_stream_push(&st, in, a, got + o);
            o += gpt_utf8_stream_push(&st, in + a, b - a, got + o);
            o += gpt_utf8_stream_push(&st, in + b, n - b, got + o);
            o += gpt_utf8_stream_flush(&st, got + o);
            if (o != wn || memcmp(got, want, wn) != 0) {
                CHECK(0, "stream %s split at %zu,%zu differs", name, a, b);
                goto out;
            }
        }
    }
    n_pass++;
out:
    free(want);
    free(got);
}

#define R "\xEF\xBF\xBD" /* U+FFFD */

static void
test_utf8(void)
{
    /* expected values are Python's bytes.decode("utf-8", "replace") */
    static const struct {
        const char *name, *in;
        size_t n;
        const char *want;
    } cases[] = {
        {"ascii", "abc", 3, "abc"},
        {"chinese", "\xE4\xB8\xAD\xE6\x96\x87", 6, "\xE4\xB8\xAD\xE6\x96\x87"},
        {"cut chinese", "\xE4\xB8\xAD\xE6\x96", 5, "\xE4\xB8\xAD" R},
        {"lone lead", "a\xE4" "b", 3, "a" R "b"},
        {"lone cont", "a\x80\xBF" "b", 4, "a" R R "b"},
        {"overlong 2", "\xC0\xAF", 2, R R},
        {"overlong 3", "\xE0\x80\xAF", 3, R R R},
        {"overlong 4", "\xF0\x80\x80\xAF", 4, R R R R},
        {"surrogate", "\xED\xA0\x80", 3, R R R},
        {"surrogate pair", "\xED\xA0\xBD\xED\xB8\x80", 6, R R R R R R},
        {"max", "\xF4\x8F\xBF\xBF", 4, "\xF4\x8F\xBF\xBF"},
        {"above max", "\xF4\x90\x80\x80", 4, R R R R},
        {"f5", "\xF5\x80", 2, R R},
        {"ff", "\xFF" "a", 2, R "a"},
        {"cut 4", "\xF0\x9F\x98" "a", 4, R "a"},
        {"cut 4 end", "\xF0\x9F\x98", 3, R},
        {"cut 3 then cut 4", "\xE2\x82\xF0\x9F", 4, R R},
        {"nul", "a\0b", 3, "a\0b"},
        {"emoji", "\xF0\x9F\x98\x80", 4, "\xF0\x9F\x98\x80"},
        {"e0 bad", "\xE0\x9F\x80", 3, R R R},
        {"ed ok", "\xED\x9F\xBF", 3, "\xED\x9F\xBF"},
        {"c2 end", "x\xC2", 2, "x" R},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* want may contain NUL: compare with explicit lengths */
        char *out = NULL;
        size_t out_len = 0, wn;
        gpt_error err;
        const char *w = cases[i].want;
        wn = strcmp(cases[i].name, "nul") == 0 ? 3 : strlen(w);
        CHECK(gpt_utf8_sanitize(cases[i].in, cases[i].n, &out, &out_len,
                                &err) == GPT_OK && out_len == wn &&
              memcmp(out, w, wn) == 0 && out[wn] == '\0',
              "sanitize %s", cases[i].name);
        gpt_free(out);
        CHECK(gpt_utf8_valid_prefix(cases[i].in, cases[i].n) ==
              (wn == cases[i].n && memcmp(w, cases[i].in, wn) == 0
                   ? cases[i].n : gpt_utf8_valid_prefix(cases[i].in,
                                                         cases[i].n)),
              "valid prefix %s", cases[i].name);
        check_stream_splits(cases[i].in, cases[i].n, cases[i].name);
    }
    check_sanitize("", 0, "", "empty");
    CHECK(gpt_utf8_valid_prefix("ab\xE4\xB8", 4) == 2, "valid prefix cut");

    /* random bytes with a UTF-8 bias, split at random into pieces */
    srand(1234);
    for (int iter = 0; iter < 2000; iter++) {
        static const unsigned char pool[] = {
            'a', ' ', 0x80, 0xBF, 0x9F, 0xA0, 0x8F, 0x90, 0xC0, 0xC2, 0xDF,
            0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0xE4, 0xB8, 0xAD};
        unsigned char in[40];
        char want[200], got[400];
        size_t n = (size_t)(rand() % 40), wn, o = 0, i = 0;
        gpt_utf8_stream st;
        for (size_t k = 0; k < n; k++)
            in[k] = pool[rand() % (int)sizeof pool];
        wn = gpt_utf8_sanitize_into((char *)in, n, want);
        CHECK(gpt_utf8_valid_prefix(want, wn) == wn, "sanitize not valid");
        gpt_utf8_stream_init(&st);
        while (i < n) {
            size_t k = (size_t)(rand() % 5);
            if (k > n - i)
                k = n - i;
            o += gpt_utf8_stream_push(&st, (char *)in + i, k, got + o);
            i += k;
        }
        o += gpt_utf8_stream_flush(&st, got + o);
        CHECK(o == wn && memcmp(got, want, wn) == 0,
              "random stream %d differs", iter);
    }
}

/* ----------------------------------- long pieces against a reference */

/* tiktoken's merge done plainly: parts are byte ranges, the pair whose
 * concatenation has the lowest rank (GPT-2: rank = id) merges, leftmost on
 * ties.  O(n^2) per merge; only for short tests. */
static size_t
reference_bpe(const gpt_tokenizer *t, const char *p, size_t n, int32_t *out)
{
    size_t *start = malloc((n + 1) * sizeof *start), m = n, k;
    int32_t whole = gpt_tokenizer_lookup(t, p, n);

    if (whole >= 0 && whole != 50256) {
        out[0] = whole;
        free(start);
        return 1;
    }
    for (k = 0; k <= n; k++)
        start[k] = k;
    for (;;) {
        int32_t best = -1;
        size_t bi = 0;
        for (k = 0; k + 1 < m; k++) {
            int32_t r = gpt_tokenizer_lookup(t, p + start[k],
                                             start[k + 2] - start[k]);
            if (r >= 0 && r != 50256 && (best < 0 || r < best)) {
                best = r;
                bi = k;
            }
        }
        if (best < 0)
            break;
        memmove(start + bi + 1, start + bi + 2, (m - bi - 1) * sizeof *start);
        m--;
    }
    for (k = 0; k < m; k++)
        out[k] = gpt_tokenizer_lookup(t, p + start[k], start[k + 1] - start[k]);
    free(start);
    return m;
}

static void
test_long_pieces(const gpt_tokenizer *t)
{
    /* each set: units that form one piece when repeated at random */
    static const char *sets[][8] = {
        {"a", "b"},
        {"a", "b", "c"},
        {"a", "e", "i", "n", "r", "s", "t"},
        {"e", "e", "e", "l"},
        {"\xC3\xA9", "e"},
        {"!", "?", "."},
        {"0", "1", "2", "3"},
        {"q", "z", "x", "j", "k", "v", "w"},   /* many unjoinable pairs */
        {"\xE4\xB8\xAD", "\xE6\x96\x87", "\xE5\xAD\x97", "\xE7\x9A\x84"},
        {"th", "e", "qu", "z", "ing"},
    };
    const int n_sets = (int)(sizeof sets / sizeof sets[0]);
    char buf[3000];
    int32_t want[3000], *got = NULL;
    size_t n_got;
    gpt_error err;
    int bad = 0;

    srand(99);
    for (int iter = 0; iter < 400; iter++) {
        const char *const *set = sets[iter % n_sets];
        int n_units = 0;
        size_t n = 0, wn;
        size_t target = 40 + (size_t)(rand() % (iter < 320 ? 200 : 2000));
        while (n_units < 8 && set[n_units])
            n_units++;
        while (n < target) {
            const char *u = set[rand() % n_units];
            memcpy(buf + n, u, strlen(u));
            n += strlen(u);
        }
        wn = reference_bpe(t, buf, n, want);
        if (gpt_tokenizer_encode(t, buf, n, &got, &n_got, &err) != GPT_OK ||
            n_got != wn || memcmp(got, want, wn * sizeof *want) != 0)
            bad++;
        gpt_free(got);
        got = NULL;
    }
    CHECK(bad == 0, "%d long pieces differ from the reference merge", bad);
}

/* --------------------------------------------- errors and validation */

static void
test_errors(const gpt_tokenizer *t, vocab *v)
{
    gpt_error err;
    int32_t *ids = NULL, bad_ids[2] = {464, 99999};
    size_t n;
    char *text = NULL;
    gpt_tokenizer *t2 = NULL;
    gpt_status st;

    st = gpt_tokenizer_encode(t, "ab\xC3(x", 5, &ids, &n, &err);
    CHECK(st == GPT_ERR_INVALID_ARGUMENT && strstr(err.message, "offset 2"),
          "invalid UTF-8: %d %s", st, err.message);
    st = gpt_tokenizer_count(t, "abc\xED\xA0\x80", 6, &n, &err);
    CHECK(st == GPT_ERR_INVALID_ARGUMENT && strstr(err.message, "offset 3"),
          "surrogate: %d %s", st, err.message);
    st = gpt_tokenizer_decode(t, bad_ids, 2, &text, &n, &err);
    CHECK(st == GPT_ERR_INVALID_ARGUMENT &&
          strcmp(err.message, "token id 99999 is out of range [0, 50257)") == 0,
          "decode out of range: %s", err.message);
    bad_ids[1] = -1;
    st = gpt_tokenizer_decode(t, bad_ids, 2, &text, &n, &err);
    CHECK(st == GPT_ERR_INVALID_ARGUMENT, "decode -1");
    st = gpt_tokenizer_encode(t, "", 0, &ids, &n, &err);
    CHECK(st == GPT_OK && n == 0 && ids != NULL, "empty text");
    gpt_free(ids);
    st = gpt_tokenizer_decode(t, NULL, 0, &text, &n, &err);
    CHECK(st == GPT_OK && n == 0 && text && text[0] == '\0', "empty decode");
    gpt_free(text);
    {
        /* invalid UTF-8 across tokens decodes to U+FFFD */
        int32_t half[2] = {171, 220}; /* byte 0xE4 alone, then " " */
        size_t bl;
        const char *b = gpt_tokenizer_token_bytes(t, 171, &bl);
        CHECK(b && bl == 1, "token 171 is one byte");
        st = gpt_tokenizer_decode(t, half, 2, &text, &n, &err);
        CHECK(st == GPT_OK && n == 4 && memcmp(text, R " ", 4) == 0,
              "partial byte decodes to U+FFFD");
        gpt_free(text);
    }
    CHECK(gpt_tokenizer_size(t) == 50257, "size");
    CHECK(gpt_tokenizer_lookup(t, " the", 4) == 262, "lookup \" the\"");
    CHECK(gpt_tokenizer_lookup(t, "<|endoftext|>", 13) == 50256,
          "lookup endoftext");
    CHECK(gpt_tokenizer_lookup(t, "\xE4\xB8\xAD\xE6", 4) == -1, "lookup none");
    CHECK(gpt_tokenizer_token_bytes(t, 50257, &n) == NULL, "bytes of 50257");

    /* corrupt vocabularies: each change is undone after its check */
    {
        const char *saved = v->merges[7];
        uint32_t saved_len = v->merge_lens[7];
        v->merges[7] = "ab";
        v->merge_lens[7] = 2;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "merge 7") &&
              t2 == NULL, "merge without space: %s", err.message);
        v->merges[7] = "a  b";
        v->merge_lens[7] = 4;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "merge 7"),
              "merge with two spaces: %s", err.message);
        v->merges[7] = "zzqx y";
        v->merge_lens[7] = 6;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "merge 7") &&
              strstr(err.message, "left part") &&
              strstr(err.message, "(\"zzqx y\")"), "merge part: %s",
              err.message);
        v->merges[7] = "q x";
        v->merge_lens[7] = 3;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "merge 7") &&
              strstr(err.message, "merged"), "merge result: %s", err.message);
        v->merges[7] = saved;
        v->merge_lens[7] = saved_len;
    }
    {
        const char *saved = v->tokens[300];
        uint32_t saved_len = v->token_lens[300];
        v->tokens[300] = "\xC3";
        v->token_lens[300] = 1;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, 0, &t2, &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "token 300"),
              "bad token: %s", err.message);
        v->tokens[300] = saved;
        v->token_lens[300] = saved_len;
    }
    /* printed only when it is safe, valid UTF-8 */
    {
        const char *saved = v->merges[9];
        uint32_t saved_len = v->merge_lens[9];
        v->merges[9] = "\xC4\xA0\xFF x";
        v->merge_lens[9] = 5;
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        CHECK(st == GPT_ERR_CORRUPT_MODEL &&
              strcmp(err.message, "tokenizer merge 9: invalid UTF-8") == 0,
              "merge with invalid UTF-8: %s", err.message);
        v->merges[9] = saved;
        v->merge_lens[9] = saved_len;
    }
    /* only 255 tokens: a byte has no token */
    st = gpt_tokenizer_new(v->tokens, v->token_lens, 255, v->merges,
                           v->merge_lens, 0, &t2, &err);
    CHECK(st == GPT_ERR_CORRUPT_MODEL && strstr(err.message, "byte"),
          "missing byte: %s", err.message);
    /* allocation failures: every one must fail cleanly */
    for (uint64_t k = 1; k < 12; k++) {
        gpt_alloc_fail_after(k);
        st = gpt_tokenizer_new(v->tokens, v->token_lens, v->n_tokens,
                               v->merges, v->merge_lens, v->n_merges, &t2,
                               &err);
        gpt_alloc_fail_after(0);
        if (st == GPT_OK) {
            gpt_tokenizer_free(t2);
            t2 = NULL;
        } else {
            CHECK(st == GPT_ERR_NOMEM && t2 == NULL, "alloc failure %d: %s",
                  (int)k, err.message);
        }
    }
    for (uint64_t k = 1; k < 4; k++) {
        gpt_alloc_fail_after(k);
        st = gpt_tokenizer_encode(t, "hello world", 11, &ids, &n, &err);
        gpt_alloc_fail_after(0);
        CHECK(st == GPT_ERR_NOMEM || st == GPT_OK, "encode alloc failure");
        if (st == GPT_OK)
            gpt_free(ids);
    }
}

/* ------------------------------------------------ a hand-made vocab */

/* GPT-2's byte-to-unicode form of byte b, as UTF-8, into out; returns the
 * length. */
static size_t
byte_token(int b, char *out)
{
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                    (b >= 0xAE && b <= 0xFF);
    int n = 0;
    if (!printable) {
        for (int x = 0; x < b; x++)
            if (!((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) ||
                  (x >= 0xAE && x <= 0xFF)))
                n++;
    }
    return gpt_utf8_encode(printable ? (uint32_t)b : 0x100 + (uint32_t)n, out);
}

static void
test_small_vocab(void)
{
    /* ids 0..255: the bytes in value order (any order must work); then
     * "bc", "ab", "abc", a special token outside the alphabet, and a
     * duplicate of "ab" */
    static char store[256][4];
    const char *tokens[262];
    uint32_t lens[262];
    const char *merges[3] = {"b c", "a b", "ab c"};
    uint32_t mlens[3] = {3, 3, 4};
    gpt_tokenizer *t = NULL;
    gpt_error err;
    int32_t *ids = NULL;
    size_t n = 0, bl;
    const char *b;

    for (int i = 0; i < 256; i++) {
        lens[i] = (uint32_t)byte_token(i, store[i]);
        tokens[i] = store[i];
    }
    tokens[256] = "bc";
    tokens[257] = "ab";
    tokens[258] = "abc";
    tokens[259] = "<|\xE4\xBD\xA0|>"; /* not GPT-2's alphabet: raw UTF-8 */
    tokens[260] = "ab";
    tokens[261] = "\xC4\xA0x"; /* " x" */
    lens[256] = 2;
    lens[257] = 2;
    lens[258] = 3;
    lens[259] = 7;
    lens[260] = 2;
    lens[261] = 3;
    CHECK(gpt_tokenizer_new(tokens, lens, 262, merges, mlens, 3, &t, &err) ==
          GPT_OK, "small vocab: %s", err.message);
    if (!t)
        return;
    /* tiktoken's rule: after "b c" (rank 0), "a"+"bc" is the ranked token
     * "abc" and merges although only "ab c" is listed */
    CHECK(gpt_tokenizer_encode(t, "abcx", 4, &ids, &n, &err) == GPT_OK &&
          n == 2 && ids[0] == 258 && ids[1] == 'x',
          "small vocab: abcx -> %zu ids", n);
    gpt_free(ids);
    CHECK(gpt_tokenizer_encode(t, "ab", 2, &ids, &n, &err) == GPT_OK &&
          n == 1 && ids[0] == 257, "small vocab: ab");
    gpt_free(ids);
    /* " x" is a token but no merge makes it: not used by encode */
    CHECK(gpt_tokenizer_encode(t, " x", 2, &ids, &n, &err) == GPT_OK &&
          n == 2 && ids[0] == ' ' && ids[1] == 'x', "small vocab: unranked");
    gpt_free(ids);
    CHECK(gpt_tokenizer_lookup(t, "ab", 2) == 257, "duplicate: lowest id");
    CHECK(gpt_tokenizer_lookup(t, "<|\xE4\xBD\xA0|>", 7) == 259,
          "special token lookup");
    b = gpt_tokenizer_token_bytes(t, 259, &bl);
    CHECK(b && bl == 7 && memcmp(b, "<|\xE4\xBD\xA0|>", 7) == 0,
          "special token bytes");
    b = gpt_tokenizer_token_bytes(t, 261, &bl);
    CHECK(b && bl == 2 && memcmp(b, " x", 2) == 0, "alphabet token bytes");
    CHECK(gpt_tokenizer_token_bytes(t, 0, &bl) && bl == 1, "byte 0 token");
    gpt_tokenizer_free(t);
}

/* ------------------------------------------------- time and corpus */

static void
time_one(const gpt_tokenizer *t, const char *name, const char *text,
         size_t len)
{
    size_t n = 0;
    gpt_error err;
    double t0 = now(), dt;

    CHECK(gpt_tokenizer_count(t, text, len, &n, &err) == GPT_OK,
          "%s: %s", name, err.message);
    dt = now() - t0;
    printf("  %-28s %8zu bytes %8zu tokens %8.3f s %8.1f MB/s\n", name, len,
           n, dt, len / dt / 1e6);
    /* generous: quadratic behaviour takes minutes here */
    CHECK(dt < 10.0, "%s took %.1f s", name, dt);
}

static void
test_adversarial(const gpt_tokenizer *t)
{
    size_t n = 1 << 20, i;
    char *buf = malloc(4 * n + 16), *clean = malloc(12 * n + 16);

    printf("adversarial inputs:\n");
    memset(buf, 'a', n);
    time_one(t, "1 MB of 'a'", buf, n);
    srand(7);
    for (i = 0; i < n; i++)
        buf[i] = "abcdefghijklmnopqrstuvwxyz"[rand() % 26];
    time_one(t, "1 MB of random letters", buf, n);
    for (i = 0; i < n; i++)
        buf[i] = (char)(0x21 + rand() % 94);
    time_one(t, "1 MB of ASCII, no spaces", buf, n);
    memset(buf, ' ', n);
    time_one(t, "1 MB of spaces", buf, n);
    for (i = 0; i < n; i++)
        buf[i] = " \n\t\r"[rand() % 4];
    time_one(t, "1 MB of mixed whitespace", buf, n);
    for (i = 0; i < n; i++)
        buf[i] = (char)('0' + rand() % 10);
    time_one(t, "1 MB of digits", buf, n);
    for (i = 0; i + 3 <= n; i += 3)
        gpt_utf8_encode(0x4E00 + (uint32_t)(rand() % 20000), buf + i);
    time_one(t, "1 MB of CJK", buf, i);
    for (i = 0; i < n; i++)
        buf[i] = (char)(rand() % 256);
    i = gpt_utf8_sanitize_into(buf, n, clean);
    time_one(t, "1 MB random bytes, sanitized", clean, i);
    free(buf);
    free(clean);
}

static void
test_corpus(const gpt_tokenizer *t, const char *path)
{
    size_t len, n = 0, nc = 0;
    char *text = read_file(path, &len);
    int32_t *ids = NULL;
    gpt_error err;
    double t0, dt;

    CHECK(text != NULL, "cannot read corpus %s", path);
    if (!text)
        return;
    t0 = now();
    CHECK(gpt_tokenizer_encode(t, text, len, &ids, &n, &err) == GPT_OK,
          "corpus: %s", err.message);
    dt = now() - t0;
    printf("corpus: %zu bytes, %zu tokens, %.3f s, %.1f MB/s (encode)\n",
           len, n, dt, len / dt / 1e6);
    CHECK(n == 3032676, "corpus: %zu tokens, want 3032676", n);
    CHECK(n > 12 && ids[0] == 10082 && ids[1] == 16 && ids[4] == 554 &&
          ids[11] == 290, "corpus: first ids");
    t0 = now();
    CHECK(gpt_tokenizer_count(t, text, len, &nc, &err) == GPT_OK && nc == n,
          "corpus count");
    dt = now() - t0;
    printf("corpus: %.1f MB/s (count)\n", len / dt / 1e6);
    if (getenv("TOK_DUMP_IDS")) {
        FILE *f = fopen(getenv("TOK_DUMP_IDS"), "wb");
        if (f) {
            fwrite(ids, sizeof *ids, n, f); /* little-endian hosts */
            fclose(f);
        }
    }
    gpt_free(ids);
    free(text);
}

int
main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/data";
    vocab v;
    gpt_tokenizer *t = NULL;
    gpt_error err;
    double t0;

    if (load_vocab(dir, &v) != 0) {
        printf("cannot read the vocabulary under %s/gpt2\n", dir);
        printf("tokenizer: 0 passed, 1 failed\n");
        return 1;
    }
    t0 = now();
    if (gpt_tokenizer_new(v.tokens, v.token_lens, v.n_tokens, v.merges,
                          v.merge_lens, v.n_merges, &t, &err) != GPT_OK) {
        printf("gpt_tokenizer_new: %s\n", err.message);
        printf("tokenizer: 0 passed, 1 failed\n");
        return 1;
    }
    printf("built the tokenizer (%u tokens, %u merges) in %.1f ms\n",
           v.n_tokens, v.n_merges, (now() - t0) * 1e3);

    test_cases(t, dir);
    test_utf8();
    test_long_pieces(t);
    test_errors(t, &v);
    test_small_vocab();
    test_adversarial(t);
    if (argc > 2)
        test_corpus(t, argv[2]);

    gpt_tokenizer_free(t);
    free_vocab(&v);
    printf("tokenizer: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
