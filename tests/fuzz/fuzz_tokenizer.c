/*
 * fuzz_tokenizer.c - libFuzzer target for tokenizer encode and decode on the
 * real GPT-2 vocabulary (the tiny test model's, 50257 tokens and 50000
 * merges), loaded once from $GPT_FUZZ_MODEL (default
 * build/models/tiny-f32.gguf).
 *
 * Input: the first byte chooses the mode, the rest is the payload.
 *   even: encode (with bit 1 set: the payload repeated 4 to 256 times,
 *         at most 16 KB).  The payload as given must be refused with
 *         INVALID_ARGUMENT exactly when it is not valid UTF-8.  Its
 *         sanitized form (valid UTF-8) must encode; the ids must be in
 *         range, gpt_token_count must agree, and decoding must give the
 *         text back byte for byte.
 *   odd:  decode.  The payload is little-endian int32 ids (mostly folded
 *         into [-8, n_vocab + 8) so most are valid).  Out-of-range ids are
 *         INVALID_ARGUMENT; otherwise the text must be the sanitized
 *         concatenation of the tokens' bytes, valid UTF-8, NUL-terminated,
 *         and re-encoding it must decode to the same text; streaming the
 *         tokens' bytes one token at a time through gpt_utf8_stream must
 *         give valid pieces that add up to the same text.
 * A violation aborts, which libFuzzer reports with the input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"
#include "utf8.h"

static gpt_model *model;
static int n_vocab;

static void
fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_tokenizer: %s: %s\n", what, msg ? msg : "");
    abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *path = getenv("GPT_FUZZ_MODEL");
    gpt_error err;
    gpt_model_info info;

    if (!path || !*path)
        path = "build/models/tiny-f32.gguf";
    if (gpt_model_open(path, &model, &err) != GPT_OK) {
        fprintf(stderr, "fuzz_tokenizer: set GPT_FUZZ_MODEL to a model "
                        "(%s)\n", err.message);
        abort();
    }
    gpt_model_get_info(model, &info);
    n_vocab = info.n_vocab;
    return 0;
}

static void
check_encode(const char *text, size_t len)
{
    gpt_error err;
    int32_t *ids = NULL;
    size_t n = 0, count = 0, out_len = 0, i;
    char *clean = NULL, *back = NULL;
    size_t clean_len = 0;
    int valid = gpt_utf8_valid_prefix(text, len) == len;
    gpt_status st = gpt_tokenize(model, text, len, &ids, &n, &err);

    if (valid && st != GPT_OK)
        fail("valid UTF-8 refused", err.message);
    if (!valid && st != GPT_ERR_INVALID_ARGUMENT)
        fail("invalid UTF-8 not refused with INVALID_ARGUMENT",
             st == GPT_OK ? "" : err.message);
    if (st == GPT_OK)
        gpt_free(ids);
    ids = NULL;

    if (gpt_utf8_sanitize(text, len, &clean, &clean_len, &err) != GPT_OK)
        fail("sanitize", err.message);
    if (gpt_utf8_valid_prefix(clean, clean_len) != clean_len)
        fail("sanitize gave invalid UTF-8", "");
    if (gpt_tokenize(model, clean, clean_len, &ids, &n, &err) != GPT_OK)
        fail("sanitized text refused", err.message);
    if (gpt_token_count(model, clean, clean_len, &count, &err) != GPT_OK ||
        count != n)
        fail("gpt_token_count differs from gpt_tokenize", "");
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= n_vocab)
            fail("id out of range", "");
    if (gpt_detokenize(model, ids, n, &back, &out_len, &err) != GPT_OK)
        fail("detokenize of encoded ids", err.message);
    if (out_len != clean_len || memcmp(back, clean, clean_len) != 0 ||
        back[out_len] != '\0')
        fail("encode/decode does not round-trip", "");
    gpt_free(back);
    gpt_free(ids);
    gpt_free(clean);
}

static void
check_decode(const uint8_t *p, size_t len)
{
    size_t n = len / 4, i, out_len = 0, raw_len = 0, san_len = 0, n2 = 0;
    int32_t *ids = malloc((n ? n : 1) * sizeof *ids), *ids2 = NULL;
    int bad = 0;
    char *text = NULL, *raw, *san = NULL, *text2 = NULL;
    gpt_error err;
    gpt_status st;

    for (i = 0; i < n; i++) {
        uint32_t v;
        memcpy(&v, p + 4 * i, 4);
        /* top bit clear: fold into [-8, n_vocab + 8); set: keep raw */
        if (!(v & 0x80000000u))
            ids[i] = (int32_t)(v % (uint32_t)(n_vocab + 16)) - 8;
        else
            ids[i] = (int32_t)v;
        if (ids[i] < 0 || ids[i] >= n_vocab)
            bad = 1;
    }
    st = gpt_detokenize(model, ids, n, &text, &out_len, &err);
    if (bad) {
        if (st != GPT_ERR_INVALID_ARGUMENT)
            fail("out-of-range id not refused", "");
        free(ids);
        return;
    }
    if (st != GPT_OK)
        fail("valid ids refused", err.message);
    if (text[out_len] != '\0' ||
        gpt_utf8_valid_prefix(text, out_len) != out_len)
        fail("decoded text not valid UTF-8 / not terminated", "");

    /* the expected text: the tokens' raw bytes, sanitized */
    for (i = 0; i < n; i++) {
        size_t l = 0;
        if (!gpt_token_bytes(model, ids[i], &l))
            fail("gpt_token_bytes NULL for a valid id", "");
        raw_len += l;
    }
    raw = malloc(raw_len ? raw_len : 1);
    raw_len = 0;
    for (i = 0; i < n; i++) {
        size_t l = 0;
        const char *b = gpt_token_bytes(model, ids[i], &l);
        memcpy(raw + raw_len, b, l);
        raw_len += l;
    }
    if (gpt_utf8_sanitize(raw, raw_len, &san, &san_len, &err) != GPT_OK)
        fail("sanitize", err.message);
    if (san_len != out_len || memcmp(san, text, out_len) != 0)
        fail("decode differs from the sanitized token bytes", "");

    /* streaming, one token at a time: every piece is valid UTF-8 on its
     * own, and the pieces plus the flush are the decoded text */
    {
        gpt_utf8_stream us;
        char *acc = malloc(out_len + 4), piece[GPT_UTF8_STREAM_MAX_OUT(64)];
        char *big = NULL;
        size_t acc_len = 0, k;

        gpt_utf8_stream_init(&us);
        for (i = 0; i < n; i++) {
            size_t l = 0;
            const char *b = gpt_token_bytes(model, ids[i], &l);
            char *dst = piece;
            if (GPT_UTF8_STREAM_MAX_OUT(l) > sizeof piece)
                dst = big = realloc(big, GPT_UTF8_STREAM_MAX_OUT(l));
            k = gpt_utf8_stream_push(&us, b, l, dst);
            if (gpt_utf8_valid_prefix(dst, k) != k)
                fail("a streamed piece is not valid UTF-8", "");
            if (acc_len + k > out_len)
                fail("streamed text longer than the decoded text", "");
            memcpy(acc + acc_len, dst, k);
            acc_len += k;
        }
        k = gpt_utf8_stream_flush(&us, piece);
        if (acc_len + k != out_len)
            fail("streamed text length differs from the decoded text", "");
        memcpy(acc + acc_len, piece, k);
        if (memcmp(acc, text, out_len) != 0)
            fail("streamed text differs from the decoded text", "");
        free(big);
        free(acc);
    }

    /* re-encoding the text decodes to the same text */
    if (gpt_tokenize(model, text, out_len, &ids2, &n2, &err) != GPT_OK)
        fail("decoded text does not encode", err.message);
    if (gpt_detokenize(model, ids2, n2, &text2, &san_len, &err) != GPT_OK)
        fail("re-decode", err.message);
    if (san_len != out_len || memcmp(text2, text, out_len) != 0)
        fail("decode(encode(decode(ids))) != decode(ids)", "");

    gpt_free(text2);
    gpt_free(ids2);
    gpt_free(san);
    free(raw);
    gpt_free(text);
    free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1) {
        check_decode(data + 1, size - 1);
    } else if ((data[0] & 2) && size > 1) {
        /* long inputs cheaply: the payload repeated up to 16 KB (pieces
         * over 48 bytes take the tokenizer's heap path; 64 KB made the
         * fuzzer 20 times slower) */
        size_t reps = ((size_t)(data[0] >> 2) + 1) * 4, n = size - 1, i;
        char *buf;
        if (reps * n > 16384)
            reps = 16384 / n + 1;
        buf = malloc(reps * n);
        for (i = 0; i < reps; i++)
            memcpy(buf + i * n, data + 1, n);
        check_encode(buf, reps * n);
        free(buf);
    } else {
        check_encode((const char *)data + 1, size - 1);
    }
    return 0;
}
