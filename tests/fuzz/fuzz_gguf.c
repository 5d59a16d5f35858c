/*
 * fuzz_gguf.c - libFuzzer target for the model loader: the GGUF container
 * (gguf_parse), the gpt2 validation and the tokenizer builder, through the
 * public entry point gpt_model_open().
 *
 * The input is written to a memfd opened once and gpt_model_open() is given
 * its /proc/self/fd path, so the real code path (fstat, mmap, parse,
 * validate) runs on every input without touching the disk.  The buffer is
 * also given to gguf_parse() directly: when the container is refused, the
 * loader must refuse the file with the same status.
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - no crash, leak, out-of-bounds read or UB (ASan/UBSan);
 *   - a refusal is CORRUPT_MODEL or UNSUPPORTED (NOT_FOUND for the empty
 *     input is not possible: empty is CORRUPT), err.code equals the status,
 *     and the message is non-empty, NUL-terminated, valid UTF-8 without
 *     control characters, and starts with the path;
 *   - a model that loads is usable: tokenizing and detokenizing a fixed
 *     text round-trips, and when it is small, a forward pass on one thread
 *     reads nothing out of bounds and gives the same logits, bit for bit,
 *     with the generic, AVX2 and AVX-512 kernels (those this CPU has), or
 *     every path alike refuses weights whose keys or values leave the F16
 *     KV cache's range.
 *
 *   make -f tests/fuzz/fuzz.mk fuzz      (see fuzz.mk)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gguf.h"
#include "memfd_input.h"
#include "gpt.h"
#include "session.h"
#include "utf8.h"

static memfd_input in;

static void
fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_gguf: %s: %s\n", what, msg ? msg : "");
    abort();
}

static void
check_message(const gpt_error *err, gpt_status st)
{
    size_t n = strnlen(err->message, GPT_ERROR_MAX), i;

    if (err->code != st)
        fail("err.code differs from the returned status", err->message);
    if (n == 0 || n == GPT_ERROR_MAX)
        fail("message empty or not terminated", "");
    if (gpt_utf8_valid_prefix(err->message, n) != n)
        fail("message is not valid UTF-8", err->message);
    for (i = 0; i < n; i++)
        if ((unsigned char)err->message[i] < 0x20 ||
            err->message[i] == 0x7f)
            fail("message has a control character", err->message);
    if (strncmp(err->message, in.path, strlen(in.path)) != 0)
        fail("message does not name the file", err->message);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    memfd_input_open(&in, "fuzz_gguf");
    return 0;
}

static void
use_model(gpt_model *m)
{
    static const char text[] = "Hello the world, ünïcode\xE2\x82\xAC 42!";
    gpt_model_info info;
    gpt_error err;
    gpt_status st;
    int32_t *ids = NULL;
    size_t n_ids = 0, len = 0, count = 0;
    char *back = NULL;

    gpt_model_get_info(m, &info);
    if (gpt_tokenize(m, text, sizeof text - 1, &ids, &n_ids, &err) !=
        GPT_OK)
        fail("tokenize failed on a loaded model", err.message);
    if (gpt_token_count(m, text, sizeof text - 1, &count, &err) != GPT_OK ||
        count != n_ids)
        fail("token count differs from tokenize", "");
    if (gpt_detokenize(m, ids, n_ids, &back, &len, &err) != GPT_OK)
        fail("detokenize failed", err.message);
    if (len != sizeof text - 1 || memcmp(back, text, len) != 0)
        fail("tokenize/detokenize does not round-trip", back);
    gpt_free(back);

    /* A forward pass when the model is small (the KV cache is
     * n_layer * n_ctx * n_embd floats twice), with each kernel set this CPU
     * runs: kernels.h promises the same bits on every path. */
    if ((double)info.n_layer * info.n_ctx * info.n_embd < 1e6 &&
        (double)info.n_vocab * info.n_embd < 1e7 && n_ids > 0) {
        static const char *const kernels[] = {"generic", "avx2", "avx512"};
        size_t k = n_ids < (size_t)info.n_ctx ? n_ids : (size_t)info.n_ctx;
        float *ref = NULL;
        char overflow[sizeof err.message] = "";
        int i, n_overflow = 0, n_paths = 0;

        for (i = 0; i < 3; i++) {
            const gpt_kernels *kern = gpt_kernels_by_name(kernels[i]);
            gpt_session *s = NULL;
            float *logits = NULL;
            int v;

            if (!kern)
                continue;
            if (gpt_session_new(m, &s, &err) != GPT_OK)
                fail("session_new failed on a small model", err.message);
            if (gpt_session_set_threads(s, 1, &err) != GPT_OK)
                fail("set_threads", err.message);
            s->kern = kern;
            n_paths++;
            st = gpt_eval_logits(s, ids, k, &logits, &err);
            gpt_session_free(s);
            /* weights whose keys or values leave the F16 cache's range:
             * refused, by every path alike */
            if (st == GPT_ERR_UNSUPPORTED && strstr(err.message, "F16 KV cache")) {
                if (n_overflow++ && strcmp(overflow, err.message) != 0)
                    fail("kernel paths refuse differently", err.message);
                snprintf(overflow, sizeof overflow, "%s", err.message);
                continue;
            }
            if (st != GPT_OK)
                fail("eval_logits failed", err.message);
            if (!ref) {
                ref = logits;
                continue;
            }
            for (v = 0; v < info.n_vocab; v++)
                if (memcmp(&ref[v], &logits[v], sizeof(float)) != 0 &&
                    !(isnan(ref[v]) && isnan(logits[v]))) {
                    fprintf(stderr, "logit %d: generic %a, %s %a\n", v,
                            (double)ref[v], kernels[i], (double)logits[v]);
                    fail("kernel paths disagree", kernels[i]);
                }
            gpt_free(logits);
        }
        if (n_overflow && n_overflow != n_paths)
            fail("one kernel path refuses what another computes", overflow);
        gpt_free(ref);
    }
    gpt_free(ids);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gpt_model *m = NULL;
    gpt_error err, perr;
    gpt_status st, pst;
    gguf_file f;

    if (size > (1u << 22))
        return 0;
    memfd_input_set(&in, data, size);

    memset(&err, 0, sizeof err);
    st = gpt_model_open(in.path, &m, &err);

    memset(&perr, 0, sizeof perr);
    pst = size ? gguf_parse(data, size, &f, &perr) : GPT_ERR_CORRUPT_MODEL;
    if (pst == GPT_OK)
        gguf_free(&f);
    else if (st != pst)
        fail("gguf_parse refused the file but gpt_model_open did not "
             "refuse it the same way", perr.message);

    if (st == GPT_OK) {
        if (!m)
            fail("GPT_OK without a model", "");
        use_model(m);
        gpt_model_release(m);
        return 0;
    }
    if (m)
        fail("*out set on failure", "");
    if (st != GPT_ERR_CORRUPT_MODEL && st != GPT_ERR_UNSUPPORTED)
        fail("unexpected status", err.message);
    check_message(&err, st);
    return 0;
}
