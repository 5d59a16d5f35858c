/*
 * test_malformed.c - every malformed model file is refused with the right
 * status and a message that names the file and the problem.
 *
 * Reads a valid model (the tiny F32 model of tests/gen_models.py), builds
 * the malformed variants in memory (byte edits at offsets found by parsing
 * the good file, header splices that insert or remove entries, truncations
 * at thousands of offsets), writes each to a temporary file and checks what
 * gpt_model_open() says; then makes each allocation of a good open fail in
 * turn.  A few positive controls (version 2, an explicit
 * general.alignment, a spliced header) prove that the editing machinery
 * itself produces loadable files, so a failure really is the edit's.
 *
 *   make core   (or make SANITIZE=1 core, then use build-san/)
 *   cc -std=c11 -D_GNU_SOURCE -O2 -g -Icore tests/core/test_malformed.c \
 *      build/libgptcore.a -lpthread -lm -o build/test_malformed
 *   build/test_malformed build/models/tiny-f32.gguf
 *
 * Prints "malformed: N passed, M failed" last; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gpt.h"
#include "internal.h"
#include "model.h"
#include "utf8.h"

static int n_pass, n_fail;
static char tmpdir[256];
static int verbose;

typedef struct blob {
    uint8_t *p;
    size_t n;
} blob;

/* The good file and its parse (offsets of everything we edit). */
static blob orig;
static gguf_file g;
static size_t header_end; /* end of the last tensor info */

/* ------------------------------------------------------------ helpers */

static void
die(const char *what)
{
    fprintf(stderr, "test_malformed: %s: %s\n", what, strerror(errno));
    exit(2);
}

static blob
copy_orig(void)
{
    blob b = {malloc(orig.n), orig.n};

    if (!b.p)
        die("malloc");
    memcpy(b.p, orig.p, orig.n);
    return b;
}

static void
put_u32(blob *b, size_t off, uint32_t v)
{
    memcpy(b->p + off, &v, 4);
}

static void
put_u64(blob *b, size_t off, uint64_t v)
{
    memcpy(b->p + off, &v, 8);
}

static uint64_t
get_u64(const blob *b, size_t off)
{
    uint64_t v;
    memcpy(&v, b->p + off, 8);
    return v;
}

/* Replaces del bytes at off with ins[0..ins_n). */
static void
blob_splice(blob *b, size_t off, size_t del, const void *ins, size_t ins_n)
{
    uint8_t *p = malloc(b->n - del + ins_n);

    if (!p)
        die("malloc");
    memcpy(p, b->p, off);
    memcpy(p + off, ins, ins_n);
    memcpy(p + off + ins_n, b->p + off + del, b->n - off - del);
    free(b->p);
    b->p = p;
    b->n = b->n - del + ins_n;
}

/* After a splice changed the header's length by delta bytes, moves the
 * tensor data to the next multiple of align after the new header end (the
 * tensor offsets are relative to the data section, so they stay valid). */
static void
realign(blob *b, long delta, size_t align)
{
    size_t new_end = (size_t)((long)header_end + delta);
    size_t old_data = g.data_offset + (size_t)delta;
    size_t new_data = (new_end + align - 1) / align * align;
    size_t data_n = b->n - old_data;
    uint8_t *p = calloc(1, new_data + data_n);

    if (!p)
        die("calloc");
    memcpy(p, b->p, new_end);
    memcpy(p + new_data, b->p + old_data, data_n);
    free(b->p);
    b->p = p;
    b->n = new_data + data_n;
}

static const gguf_kv *
kv(const char *key)
{
    const gguf_kv *k = gguf_find_kv(&g, key);

    if (!k) {
        fprintf(stderr, "test_malformed: the model has no %s\n", key);
        exit(2);
    }
    return k;
}

/* Offsets in the file of a metadata entry's parts. */
static size_t kv_start(const char *key) /* the key's length field */
{ return (size_t)((const uint8_t *)kv(key)->key.ptr - orig.p) - 8; }
static size_t kv_type_off(const char *key)
{ const gguf_kv *k = kv(key);
  return (size_t)((const uint8_t *)k->key.ptr - orig.p) + k->key.len; }
static size_t kv_value_off(const char *key) /* scalars; strings: length */
{ return kv_type_off(key) + 4; }

/* End of a metadata entry (the start of the next one or of the tensor
 * infos). */
static size_t
kv_end(const char *key)
{
    const gguf_kv *k = kv(key);
    size_t i = (size_t)(k - g.kv);

    if (i + 1 < g.n_kv)
        return (size_t)((const uint8_t *)g.kv[i + 1].key.ptr - orig.p) - 8;
    return (size_t)((const uint8_t *)g.tensors[0].name.ptr - orig.p) - 8;
}

static const gguf_tensor *
tensor(const char *name)
{
    const gguf_tensor *t = gguf_find_tensor(&g, name);

    if (!t) {
        fprintf(stderr, "test_malformed: the model has no tensor %s\n", name);
        exit(2);
    }
    return t;
}

static size_t t_start(const char *name)
{ return (size_t)((const uint8_t *)tensor(name)->name.ptr - orig.p) - 8; }
static size_t t_ndims_off(const char *name)
{ const gguf_tensor *t = tensor(name);
  return (size_t)((const uint8_t *)t->name.ptr - orig.p) + t->name.len; }
static size_t t_ne_off(const char *name, int d)
{ return t_ndims_off(name) + 4 + 8 * (size_t)d; }
static size_t t_type_off(const char *name)
{ return t_ne_off(name, (int)tensor(name)->n_dims); }
static size_t t_offset_off(const char *name)
{ return t_type_off(name) + 4; }
static size_t t_end(const char *name)
{ return t_offset_off(name) + 8; }

/* An entry for splicing in: key, type, value bytes. */
static size_t
make_kv(uint8_t *buf, const char *key, uint32_t type, const void *val,
        size_t val_n)
{
    uint64_t len = strlen(key);

    memcpy(buf, &len, 8);
    memcpy(buf + 8, key, len);
    memcpy(buf + 8 + len, &type, 4);
    memcpy(buf + 12 + len, val, val_n);
    return 12 + len + val_n;
}

/* Adds a metadata entry at the end of the metadata. */
static void
add_kv(blob *b, const char *key, uint32_t type, const void *val, size_t val_n,
       size_t align)
{
    uint8_t buf[256];
    size_t n = make_kv(buf, key, type, val, val_n);
    size_t at = (size_t)((const uint8_t *)g.tensors[0].name.ptr - orig.p) - 8;

    blob_splice(b, at, 0, buf, n);
    put_u64(b, 16, get_u64(b, 16) + 1);
    realign(b, (long)n, align);
}

static void
remove_kv(blob *b, const char *key)
{
    size_t s = kv_start(key), e = kv_end(key);

    blob_splice(b, s, e - s, "", 0);
    put_u64(b, 16, get_u64(b, 16) - 1);
    realign(b, -(long)(e - s), 32);
}

static void
remove_tensor_info(blob *b, const char *name)
{
    size_t s = t_start(name), e = t_end(name);

    blob_splice(b, s, e - s, "", 0);
    put_u64(b, 8, get_u64(b, 8) - 1);
    realign(b, -(long)(e - s), 32);
}

/* Adds n tensor infos name0, name1, ... (or name when n is 1), F32 of
 * shape [64], at offset 0, after the last one. */
static void
add_tensor_infos(blob *b, const char *name, int n)
{
    uint8_t buf[128];
    size_t total = 0;
    int i;

    for (i = 0; i < n; i++) {
        char nm[64];
        uint64_t len, ne = 64, off = 0;
        uint32_t nd = 1, type = GGML_F32;
        size_t k = 0;
        if (n == 1)
            snprintf(nm, sizeof nm, "%s", name);
        else
            snprintf(nm, sizeof nm, "%s%d", name, i);
        len = strlen(nm);
        memcpy(buf + k, &len, 8), k += 8;
        memcpy(buf + k, nm, len), k += len;
        memcpy(buf + k, &nd, 4), k += 4;
        memcpy(buf + k, &ne, 8), k += 8;
        memcpy(buf + k, &type, 4), k += 4;
        memcpy(buf + k, &off, 8), k += 8;
        blob_splice(b, header_end + total, 0, buf, k);
        total += k;
    }
    put_u64(b, 8, get_u64(b, 8) + (uint64_t)n);
    realign(b, (long)total, 32);
}

/* Offset of the tokens-array string for token id. */
static size_t
token_off(uint64_t id)
{
    const gguf_kv *k = kv("tokenizer.ggml.tokens");
    const uint8_t *p = k->value;
    uint64_t i, len;

    for (i = 0; i < id; i++) {
        memcpy(&len, p, 8);
        p += 8 + len;
    }
    return (size_t)(p - orig.p);
}

/* Is s[0..n) one of the vocabulary's token strings? */
static int
in_vocab(const char *s, size_t n)
{
    const gguf_kv *k = kv("tokenizer.ggml.tokens");
    const uint8_t *p = k->value;
    uint64_t i, len;

    for (i = 0; i < k->arr_n; i++) {
        memcpy(&len, p, 8);
        if (len == n && memcmp(p + 8, s, n) == 0)
            return 1;
        p += 8 + len;
    }
    return 0;
}

/* --------------------------------------------------------- the checks */

static void
write_file(const char *path, const blob *b)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t done = 0;

    if (fd < 0)
        die(path);
    while (done < b->n) {
        ssize_t w = write(fd, b->p + done, b->n - done);
        if (w <= 0)
            die(path);
        done += (size_t)w;
    }
    close(fd);
}

/* Opens path; want GPT_OK means it must load.  Otherwise the status must be
 * want and the message must contain substr (when not NULL) and the path. */
static void
check_open(const char *label, const char *path, gpt_status want,
           const char *substr)
{
    gpt_model *m = NULL;
    gpt_error err;
    gpt_status st;

    memset(&err, 0, sizeof err);
    st = gpt_model_open(path, &m, &err);
    if (want == GPT_OK) {
        if (st == GPT_OK && m) {
            n_pass++;
            if (verbose)
                printf("ok   %-28s loads\n", label);
        } else {
            n_fail++;
            printf("FAIL %s: expected the file to load, got %s: %s\n", label,
                   gpt_status_name(st), err.message);
        }
        gpt_model_release(m);
        return;
    }
    if (st == GPT_OK) {
        n_fail++;
        printf("FAIL %s: the file loaded, expected %s%s%s\n", label,
               gpt_status_name(want), substr ? " with " : "",
               substr ? substr : "");
        gpt_model_release(m);
        return;
    }
    if (m != NULL || st != want || err.code != st ||
        (substr && !strstr(err.message, substr)) ||
        !strstr(err.message, path) ||
        strlen(err.message) >= GPT_ERROR_MAX) {
        n_fail++;
        printf("FAIL %s: got %s \"%s\", expected %s containing \"%s\" and "
               "the path%s\n",
               label, gpt_status_name(st), err.message, gpt_status_name(want),
               substr ? substr : "", m ? " (and *out set)" : "");
        return;
    }
    n_pass++;
    if (verbose)
        printf("ok   %-28s %s\n", label, err.message);
}

/* Writes b to <tmpdir>/<label>.gguf, checks it, frees b. */
static void
expect(const char *label, blob *b, gpt_status want, const char *substr)
{
    char path[512];

    snprintf(path, sizeof path, "%s/%s.gguf", tmpdir, label);
    write_file(path, b);
    check_open(label, path, want, substr);
    unlink(path);
    free(b->p);
    b->p = NULL;
}

/* ------------------------------------------------------------ variants */

static void
header_variants(void)
{
    blob b;

    b = copy_orig();
    expect("control-original", &b, GPT_OK, NULL);

    b = copy_orig();
    memcpy(b.p, "GGUX", 4);
    expect("bad-magic", &b, GPT_ERR_CORRUPT_MODEL, "not a GGUF file");

    b = copy_orig();
    memcpy(b.p, "\x7f" "ELF", 4);
    expect("elf-file", &b, GPT_ERR_CORRUPT_MODEL, "not a GGUF file");

    b = copy_orig();
    put_u32(&b, 4, 2);
    expect("control-version-2", &b, GPT_OK, NULL);

    b = copy_orig();
    put_u32(&b, 4, 1);
    expect("version-1", &b, GPT_ERR_UNSUPPORTED,
           "GGUF version 1 is not supported");

    b = copy_orig();
    put_u32(&b, 4, 4);
    expect("version-4", &b, GPT_ERR_UNSUPPORTED,
           "GGUF version 4 is not supported");

    b = copy_orig();
    put_u32(&b, 4, 0x03000000u); /* a big-endian file's version */
    expect("version-big-endian", &b, GPT_ERR_UNSUPPORTED,
           "GGUF version 50331648 is not supported");

    b = copy_orig();
    put_u64(&b, 8, (uint64_t)1 << 40);
    expect("huge-tensor-count", &b, GPT_ERR_CORRUPT_MODEL,
           "claims 1099511627776 tensors, more than the limit");

    b = copy_orig();
    put_u64(&b, 8, UINT64_MAX);
    expect("max-tensor-count", &b, GPT_ERR_CORRUPT_MODEL,
           "tensors, more than the limit");

    b = copy_orig();
    put_u64(&b, 16, (uint64_t)1 << 62);
    expect("huge-kv-count", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata entries, more than the limit");

    /* One metadata entry too many: the first tensor info is read as one. */
    b = copy_orig();
    put_u64(&b, 16, g.n_kv + 1);
    expect("kv-count-plus-one", &b, GPT_ERR_CORRUPT_MODEL, NULL);

    /* One tensor too many: its name length comes from the padding. */
    b = copy_orig();
    put_u64(&b, 8, g.n_tensors + 1);
    expect("tensor-count-plus-one", &b, GPT_ERR_CORRUPT_MODEL, NULL);

    b = copy_orig();
    put_u64(&b, 8, g.n_tensors - 1);
    expect("tensor-count-minus-one", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor output_norm.bias is missing");

    b = copy_orig();
    put_u64(&b, 8, 0);
    expect("no-tensors", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor token_embd.weight is missing");
}

static void
metadata_variants(void)
{
    blob b;
    size_t off;
    uint32_t u;
    uint64_t q;
    float f;

    b = copy_orig();
    put_u64(&b, kv_start("general.architecture"), (uint64_t)1 << 62);
    expect("key-length-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "key of metadata entry 0 at byte 24 has length 4611686018427387904, "
           "past the end of the file");

    b = copy_orig();
    put_u64(&b, kv_start("general.name"), 0);
    expect("empty-key", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata entry 1 has an empty key");

    b = copy_orig();
    put_u64(&b, kv_value_off("general.name"), (uint64_t)1 << 40);
    expect("string-length-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "value of general.name at byte");

    b = copy_orig();
    put_u64(&b, kv_value_off("general.name"), UINT64_MAX);
    expect("string-length-max", &b, GPT_ERR_CORRUPT_MODEL,
           "past the end of the file");

    /* array: u32 element type, u64 count, elements */
    b = copy_orig();
    put_u64(&b, kv_value_off("tokenizer.ggml.tokens") + 4, (uint64_t)1 << 60);
    expect("string-array-count-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "array tokenizer.ggml.tokens claims 1152921504606846976 strings, "
           "more than the file can hold");

    b = copy_orig();
    put_u64(&b, kv_value_off("tokenizer.ggml.token_type") + 4,
            (uint64_t)1 << 61);
    expect("array-count-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "array tokenizer.ggml.token_type claims 2305843009213693952 "
           "elements, more than the file can hold");

    b = copy_orig();
    put_u64(&b, kv_value_off("tokenizer.ggml.token_type") + 4, UINT64_MAX);
    expect("array-count-max", &b, GPT_ERR_CORRUPT_MODEL,
           "more than the file can hold");

    b = copy_orig();
    put_u64(&b, token_off(1000), (uint64_t)1 << 50);
    expect("token-length-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "value of tokenizer.ggml.tokens at byte");

    b = copy_orig();
    put_u32(&b, kv_type_off("general.file_type"), 13);
    expect("unknown-value-type", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata general.file_type has unknown value type 13");

    b = copy_orig();
    put_u32(&b, kv_value_off("tokenizer.ggml.token_type"), GGUF_ARRAY);
    expect("nested-array", &b, GPT_ERR_CORRUPT_MODEL,
           "array tokenizer.ggml.token_type has element type 9");

    b = copy_orig();
    put_u32(&b, kv_value_off("tokenizer.ggml.token_type"), 77);
    expect("array-unknown-element-type", &b, GPT_ERR_CORRUPT_MODEL,
           "array tokenizer.ggml.token_type has element type 77");

    /* "tokenizer.ggml.model" and "general.architecture" have equal lengths */
    b = copy_orig();
    memcpy(b.p + kv_start("tokenizer.ggml.model") + 8, "general.architecture",
           20);
    expect("duplicate-key", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata key general.architecture appears twice");

    b = copy_orig();
    memcpy(b.p + kv_start("gpt2.block_count") + 8, "gpt2.block_cnt_", 15);
    expect("missing-block-count", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata gpt2.block_count is missing");

    b = copy_orig();
    remove_kv(&b, "gpt2.attention.layer_norm_epsilon");
    expect("removed-epsilon", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata gpt2.attention.layer_norm_epsilon is missing");

    b = copy_orig();
    remove_kv(&b, "general.name");
    expect("control-removed-name", &b, GPT_OK, NULL);

    b = copy_orig();
    remove_kv(&b, "tokenizer.ggml.merges");
    expect("removed-merges", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata tokenizer.ggml.merges is missing");

    b = copy_orig();
    remove_kv(&b, "tokenizer.ggml.tokens");
    expect("removed-tokens", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata tokenizer.ggml.tokens is missing");

    b = copy_orig();
    put_u32(&b, kv_type_off("gpt2.block_count"), GGUF_F32);
    expect("block-count-float", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata gpt2.block_count is a float32, expected an integer");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.block_count"), 3);
    expect("block-count-3", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.2.attn_norm.weight is missing");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.block_count"), 0);
    expect("block-count-0", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata gpt2.block_count is 0");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.block_count"), 5000);
    expect("block-count-huge", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata gpt2.block_count is 5000, expected at most 1024");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.context_length"), 256);
    expect("context-length-mismatch", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor position_embd.weight has shape [64, 128], expected "
           "[64, 256]");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.feed_forward_length"), 128);
    expect("ff-length-mismatch", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.0.ffn_up.weight has shape [64, 256], expected "
           "[64, 128]");

    b = copy_orig();
    put_u32(&b, kv_value_off("gpt2.attention.head_count"), 3);
    expect("heads-do-not-divide", &b, GPT_ERR_CORRUPT_MODEL,
           "embedding length 64 is not a multiple of the head count 3");

    b = copy_orig();
    f = -1.0f;
    memcpy(b.p + kv_value_off("gpt2.attention.layer_norm_epsilon"), &f, 4);
    expect("epsilon-negative", &b, GPT_ERR_CORRUPT_MODEL,
           "gpt2.attention.layer_norm_epsilon is -1, expected a small "
           "positive number");

    b = copy_orig();
    u = 0x7fc00000u; /* NaN */
    put_u32(&b, kv_value_off("gpt2.attention.layer_norm_epsilon"), u);
    expect("epsilon-nan", &b, GPT_ERR_CORRUPT_MODEL,
           "expected a small positive number");

    /* string value: u64 length, bytes */
    b = copy_orig();
    memcpy(b.p + kv_value_off("general.architecture") + 8, "gptj", 4);
    expect("wrong-architecture", &b, GPT_ERR_UNSUPPORTED,
           "architecture is \"gptj\", only \"gpt2\" is supported");

    b = copy_orig();
    memcpy(b.p + kv_value_off("general.architecture") + 8, "\x1b[2J", 4);
    expect("architecture-control-chars", &b, GPT_ERR_UNSUPPORTED,
           "architecture is \"?[2J\"");

    b = copy_orig();
    memcpy(b.p + kv_value_off("tokenizer.ggml.model") + 8, "bert", 4);
    expect("wrong-tokenizer-model", &b, GPT_ERR_UNSUPPORTED,
           "tokenizer.ggml.model is not \"gpt2\"");

    b = copy_orig();
    put_u32(&b, kv_value_off("tokenizer.ggml.bos_token_id"), 60000);
    expect("bos-id-out-of-range", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata tokenizer.ggml.bos_token_id is 60000, expected at most "
           "50256");

    b = copy_orig();
    put_u32(&b, kv_type_off("tokenizer.ggml.eos_token_id"), GGUF_I32);
    put_u32(&b, kv_value_off("tokenizer.ggml.eos_token_id"), UINT32_MAX);
    expect("eos-id-negative", &b, GPT_ERR_CORRUPT_MODEL,
           "metadata tokenizer.ggml.eos_token_id is -1, expected a value "
           "from 0 to 50256");

    /* general.alignment: absent from the file, so it is spliced in */
    b = copy_orig();
    u = 32;
    add_kv(&b, "general.alignment", GGUF_U32, &u, 4, 32);
    expect("control-alignment-32", &b, GPT_OK, NULL);

    b = copy_orig();
    u = 256;
    add_kv(&b, "general.alignment", GGUF_U32, &u, 4, 256);
    expect("control-alignment-256", &b, GPT_OK, NULL);

    b = copy_orig();
    u = 48;
    add_kv(&b, "general.alignment", GGUF_U32, &u, 4, 48);
    expect("alignment-not-power-of-two", &b, GPT_ERR_CORRUPT_MODEL,
           "general.alignment is 48, expected a power of two");

    b = copy_orig();
    u = 0;
    add_kv(&b, "general.alignment", GGUF_U32, &u, 4, 32);
    expect("alignment-zero", &b, GPT_ERR_CORRUPT_MODEL,
           "general.alignment is 0, expected a power of two");

    b = copy_orig();
    q = 32;
    add_kv(&b, "general.alignment", GGUF_U64, &q, 8, 32);
    expect("alignment-uint64", &b, GPT_ERR_CORRUPT_MODEL,
           "general.alignment must be a uint32");

    /* every tensor offset must then be a multiple of 4096 */
    b = copy_orig();
    u = 4096;
    add_kv(&b, "general.alignment", GGUF_U32, &u, 4, 4096);
    expect("alignment-4096", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor position_embd.weight has offset 12865792, not a multiple "
           "of the alignment 4096");

    (void)off;
}

static void
tokenizer_variants(void)
{
    blob b;
    const gguf_kv *mk = kv("tokenizer.ggml.merges");
    const uint8_t *p = mk->value;
    uint64_t i, len;
    size_t off;

    /* token 0 is "!": an invalid UTF-8 byte, then a missing byte token */
    b = copy_orig();
    off = token_off(0);
    b.p[off + 8] = 0xFF;
    expect("token-invalid-utf8", &b, GPT_ERR_CORRUPT_MODEL,
           "tokenizer token 0: invalid UTF-8");

    b = copy_orig();
    b.p[off + 8] = '"';
    expect("token-byte-missing", &b, GPT_ERR_CORRUPT_MODEL,
           "tokenizer: no token for byte 0x21");

    /* merge 0 is "\u0120 t" */
    b = copy_orig();
    off = (size_t)(p - orig.p);
    memcpy(b.p + off + 8 + 2, "t", 1);
    expect("merge-without-space", &b, GPT_ERR_CORRUPT_MODEL,
           "tokenizer merge 0 (\"\xC4\xA0tt\"): expected two non-empty parts");

    /* A merge of two ASCII parts of 2+ bytes each; a part replaced by a
     * string of the same length that is not a token. */
    for (i = 0; i < mk->arr_n; i++) {
        const char *s;
        const char *sp;
        memcpy(&len, p, 8);
        s = (const char *)p + 8;
        sp = memchr(s, ' ', len);
        if (sp && sp - s >= 2 && len - (size_t)(sp - s) - 1 >= 2 &&
            len <= 12) {
            char fake[16], label[64];
            size_t la = (size_t)(sp - s), lb = len - la - 1, k;
            int side;
            for (side = 0; side < 2; side++) {
                size_t n = side ? lb : la;
                for (k = 0; k < n; k++)
                    fake[k] = '~';
                fake[n - 1] = 'Q'; /* "~~Q" style: surely not a token */
                if (in_vocab(fake, n))
                    continue;
                b = copy_orig();
                off = (size_t)(p - orig.p) + 8 + (side ? la + 1 : 0);
                memcpy(b.p + off, fake, n);
                snprintf(label, sizeof label, "merge-%s-part-unknown",
                         side ? "right" : "left");
                expect(label, &b, GPT_ERR_CORRUPT_MODEL,
                       side ? "its right part is not in the vocabulary"
                            : "its left part is not in the vocabulary");
            }
            break;
        }
        p += 8 + len;
    }
    if (i == mk->arr_n) {
        n_fail++;
        printf("FAIL no merge with two long ASCII parts found\n");
    }
}

static void
tensor_variants(void)
{
    blob b;

    b = copy_orig();
    put_u64(&b, t_ne_off("blk.1.ffn_up.weight", 0), 256);
    put_u64(&b, t_ne_off("blk.1.ffn_up.weight", 1), 64);
    expect("shape-swapped", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.1.ffn_up.weight has shape [256, 64], expected "
           "[64, 256]");

    b = copy_orig();
    put_u64(&b, t_ne_off("token_embd.weight", 1), 50256);
    expect("shape-vocab", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor token_embd.weight has shape [64, 50256], expected "
           "[64, 50257]");

    b = copy_orig();
    put_u32(&b, t_ndims_off("blk.0.attn_qkv.weight"), 0);
    expect("n-dims-0", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.0.attn_qkv.weight has 0 dimensions, expected 1 to 4");

    b = copy_orig();
    put_u32(&b, t_ndims_off("blk.0.attn_qkv.weight"), 5);
    expect("n-dims-5", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.0.attn_qkv.weight has 5 dimensions, expected 1 to 4");

    b = copy_orig();
    put_u32(&b, t_ndims_off("blk.0.attn_qkv.weight"), UINT32_MAX);
    expect("n-dims-max", &b, GPT_ERR_CORRUPT_MODEL,
           "has 4294967295 dimensions");

    b = copy_orig();
    put_u64(&b, t_ne_off("token_embd.weight", 1), 0);
    expect("dimension-zero", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor token_embd.weight has dimension 1 of size 0");

    b = copy_orig();
    put_u64(&b, t_ne_off("token_embd.weight", 0), (uint64_t)1 << 40);
    put_u64(&b, t_ne_off("token_embd.weight", 1), (uint64_t)1 << 40);
    expect("tensor-impossibly-large", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor token_embd.weight is impossibly large");

    b = copy_orig();
    put_u64(&b, t_ne_off("token_embd.weight", 1), (uint64_t)1 << 30);
    expect("tensor-larger-than-file", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor token_embd.weight (274877906944 bytes at offset 0) ends "
           "past the end of the file");

    b = copy_orig();
    put_u32(&b, t_type_off("blk.0.ffn_down.weight"), 99);
    expect("unknown-tensor-type", &b, GPT_ERR_UNSUPPORTED,
           "tensor blk.0.ffn_down.weight has type 99, which is not "
           "supported");

    b = copy_orig();
    put_u32(&b, t_type_off("blk.0.attn_norm.weight"), GGML_F16);
    expect("norm-not-f32", &b, GPT_ERR_UNSUPPORTED,
           "tensor blk.0.attn_norm.weight has type F16; norms and biases "
           "must be F32");

    b = copy_orig();
    put_u32(&b, t_type_off("blk.0.attn_output.weight"), GGML_Q4_0);
    expect("matrix-q4_0", &b, GPT_ERR_UNSUPPORTED,
           "tensor blk.0.attn_output.weight has type Q4_0");

    b = copy_orig();
    put_u32(&b, t_type_off("blk.0.attn_output.weight"), GGML_F16);
    expect("control-matrix-f16", &b, GPT_OK, NULL);

    b = copy_orig();
    put_u64(&b, t_ne_off("output_norm.bias", 0), 65);
    put_u32(&b, t_type_off("output_norm.bias"), GGML_Q8_0);
    expect("q8-partial-block", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor output_norm.bias has rows of 65 weights, not a multiple "
           "of the Q8_0 block size 32");

    b = copy_orig();
    put_u64(&b, t_offset_off("output_norm.bias"), (uint64_t)1 << 40);
    expect("offset-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor output_norm.bias (256 bytes at offset 1099511627776) ends "
           "past the end of the file");

    b = copy_orig();
    put_u64(&b, t_offset_off("output_norm.bias"), UINT64_MAX - 31);
    expect("offset-wraps", &b, GPT_ERR_CORRUPT_MODEL,
           "ends past the end of the file");

    b = copy_orig();
    put_u64(&b, t_offset_off("blk.0.attn_norm.weight"),
            tensor("blk.0.attn_norm.weight")->offset + 4);
    expect("offset-misaligned", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.0.attn_norm.weight has offset 12898564, not a "
           "multiple of the alignment 32");

    /* Pointing two tensors at the same bytes is allowed (llama.cpp does not
     * forbid it either); it must load. */
    b = copy_orig();
    put_u64(&b, t_offset_off("blk.1.ffn_up.bias"),
            tensor("blk.0.ffn_up.bias")->offset);
    expect("control-shared-offset", &b, GPT_OK, NULL);

    /* "blk.1.ffn_up.weight" renamed: same length, so nothing else moves */
    b = copy_orig();
    memcpy(b.p + t_start("blk.1.ffn_up.weight") + 8 + 6, "xx", 2);
    expect("missing-tensor-renamed", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.1.ffn_up.weight is missing");

    b = copy_orig();
    remove_tensor_info(&b, "blk.0.attn_qkv.bias");
    expect("missing-tensor-removed", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.0.attn_qkv.bias is missing");

    b = copy_orig();
    memcpy(b.p + t_start("blk.0.ffn_up.weight") + 8 + 4, "1", 1);
    expect("duplicate-tensor", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.1.ffn_up.weight appears twice");

    b = copy_orig();
    add_tensor_infos(&b, "rope_freqs.weight", 1);
    expect("unknown-tensor", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor rope_freqs.weight is not part of a gpt2 model with 2 "
           "layers");

    b = copy_orig();
    add_tensor_infos(&b, "blk.2.attn_norm.weight", 1);
    expect("tensor-of-layer-2", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor blk.2.attn_norm.weight is not part of a gpt2 model with "
           "2 layers");

    b = copy_orig();
    add_tensor_infos(&b, "junk.", 40);
    expect("too-many-tensors", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor junk.0 is not part of a gpt2 model with 2 layers");

    b = copy_orig();
    put_u64(&b, t_start("blk.0.attn_norm.weight"), 0);
    expect("tensor-name-empty", &b, GPT_ERR_CORRUPT_MODEL,
           "tensor 2 has a name of 0 bytes");

    b = copy_orig();
    put_u64(&b, t_start("blk.0.attn_norm.weight"), (uint64_t)1 << 45);
    expect("tensor-name-past-end", &b, GPT_ERR_CORRUPT_MODEL,
           "name of tensor 2 at byte");
}

/* Truncations: the file written once, then cut shorter and shorter in place
 * (descending offsets), each length opened. */
static int
cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? 1 : x > y ? -1 : 0; /* descending */
}

static void
truncations(void)
{
    size_t cap = 8192, n = 0, i, need = 0, o;
    size_t *cuts = malloc(cap * sizeof *cuts);
    char path[512];
    int fd;
    int before_fail = n_fail, count = 0;

    if (!cuts)
        die("malloc");
#define CUT(x) do { if (n == cap) { cap *= 2; cuts = realloc(cuts, cap * sizeof *cuts); if (!cuts) die("realloc"); } cuts[n++] = (x); } while (0)
    for (i = 0; i < g.n_tensors; i++) {
        size_t end = g.data_offset + g.tensors[i].offset + g.tensors[i].nbytes;
        if (end > need)
            need = end;
    }
    /* every offset of the fixed header, the scalar metadata and the first
     * tokens */
    for (o = 1; o < 1200; o++)
        CUT(o);
    /* every offset of the first three tensor infos and of the last one
     * with the padding after it (each field of an entry), every 7th byte
     * of the entries in between */
    for (o = t_start("token_embd.weight") - 64;
         o < t_start("blk.0.attn_norm.bias"); o++)
        CUT(o);
    for (; o < t_start("output_norm.bias"); o += 7)
        CUT(o);
    for (o = t_start("output_norm.bias"); o < g.data_offset + 64; o++)
        CUT(o);
    /* a spread over the token, token type and merge arrays */
    for (i = 0; i < 400; i++)
        CUT(1200 + (t_start("token_embd.weight") - 1200) * i / 400 + i % 7);
    /* a spread over the tensor data, and the last bytes of every tensor */
    for (i = 0; i < 200; i++)
        CUT(g.data_offset + (need - g.data_offset) * i / 200 + i % 5);
    for (i = 0; i < g.n_tensors; i++) {
        size_t end = g.data_offset + g.tensors[i].offset + g.tensors[i].nbytes;
        CUT(end - 1);
        if (end < need)
            CUT(end);
    }
    CUT(need - 1);
#undef CUT
    qsort(cuts, n, sizeof *cuts, cmp_size);

    snprintf(path, sizeof path, "%s/truncated.gguf", tmpdir);
    write_file(path, &orig);
    fd = open(path, O_WRONLY);
    if (fd < 0)
        die(path);
    for (i = 0; i < n; i++) {
        char label[64];
        if (i > 0 && cuts[i] == cuts[i - 1])
            continue;
        if (cuts[i] == 0 || cuts[i] >= need)
            continue;
        if (ftruncate(fd, (off_t)cuts[i]) != 0)
            die("ftruncate");
        snprintf(label, sizeof label, "truncated-at-%zu", cuts[i]);
        {
            /* Any of the reader's "it ends early" messages will do; which
             * one depends on what the cut falls in. */
            gpt_model *m = NULL;
            gpt_error err;
            gpt_status st;
            memset(&err, 0, sizeof err);
            st = gpt_model_open(path, &m, &err);
            count++;
            if (st == GPT_ERR_CORRUPT_MODEL && !m &&
                strstr(err.message, path) &&
                (strstr(err.message, "file is truncated") ||
                 strstr(err.message, "past the end of the file") ||
                 strstr(err.message, "more than the file can hold") ||
                 (cuts[i] < 4 && strstr(err.message, "not a GGUF file")))) {
                n_pass++;
            } else {
                n_fail++;
                printf("FAIL %s: got %s \"%s\"\n", label,
                       gpt_status_name(st), err.message);
                gpt_model_release(m);
            }
        }
    }
    close(fd);
    unlink(path);
    free(cuts);
    printf("truncations: %d lengths, %d failed\n", count,
           n_fail - before_fail);
}

static void
special_files(void)
{
    char path[512];
    blob b;

    snprintf(path, sizeof path, "%s/empty.gguf", tmpdir);
    b.p = NULL;
    b.n = 0;
    write_file(path, &b);
    check_open("empty-file", path, GPT_ERR_CORRUPT_MODEL,
               "model file is empty");
    unlink(path);

    b.p = (uint8_t *)"GGU";
    b.n = 3;
    snprintf(path, sizeof path, "%s/three-bytes.gguf", tmpdir);
    write_file(path, &b);
    check_open("three-bytes", path, GPT_ERR_CORRUPT_MODEL, "not a GGUF file");
    unlink(path);

    /* a header with no metadata and no tensors */
    {
        uint8_t h[24] = "GGUF";
        uint32_t v = 3;
        memcpy(h + 4, &v, 4);
        b.p = h;
        b.n = sizeof h;
        snprintf(path, sizeof path, "%s/header-only.gguf", tmpdir);
        write_file(path, &b);
        check_open("header-only", path, GPT_ERR_CORRUPT_MODEL,
                   "metadata general.architecture is missing");
        unlink(path);
    }

    check_open("directory", tmpdir, GPT_ERR_NOT_FOUND,
               "model path is not a regular file (it is a directory)");

    snprintf(path, sizeof path, "%s/fifo.gguf", tmpdir);
    if (mkfifo(path, 0600) != 0)
        die("mkfifo");
    check_open("fifo", path, GPT_ERR_NOT_FOUND,
               "model path is not a regular file (it is a fifo)");
    unlink(path);

    check_open("char-device", "/dev/null", GPT_ERR_NOT_FOUND,
               "model path is not a regular file (it is a special file)");

    snprintf(path, sizeof path, "%s/missing.gguf", tmpdir);
    check_open("missing-file", path, GPT_ERR_NOT_FOUND,
               "No such file or directory");

    snprintf(path, sizeof path, "%s/no-such-dir/model.gguf", tmpdir);
    check_open("missing-directory", path, GPT_ERR_NOT_FOUND,
               "No such file or directory");

    /* Messages quote names as given: bytes that are not valid UTF-8 and
     * control characters come out as '?', and a name cut to fit is not cut
     * inside a character (the hosts need valid UTF-8 on one line). */
    {
        static const char *const names[] = {
            "/a\xff\n\x1b[31m\xe2\x82.gguf", /* "/a???[31m??.gguf" */
            "/\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
            "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"};
        size_t i, k;
        for (i = 0; i < sizeof names / sizeof names[0]; i++) {
            gpt_model *m = NULL;
            gpt_error err;
            char p[1024];
            size_t n = (size_t)snprintf(p, sizeof p, "%s", tmpdir);
            /* the second name repeated past the 200 bytes of a name */
            for (k = 0; k < (i ? 5 : 1); k++)
                n += (size_t)snprintf(p + n, sizeof p - n, "%s",
                                      k ? names[i] + 1 : names[i]);
            gpt_status st = gpt_model_open(p, &m, &err);
            size_t len = strlen(err.message);
            int ok = st == GPT_ERR_NOT_FOUND && !m &&
                     gpt_utf8_valid_prefix(err.message, len) == len &&
                     (i || strstr(err.message, "/a???[31m??.gguf"));
            for (k = 0; k < len; k++)
                ok &= (unsigned char)err.message[k] >= 0x20 &&
                      err.message[k] != 0x7f;
            if (ok) {
                n_pass++;
            } else {
                n_fail++;
                printf("FAIL quoted name %zu: %s \"%s\"\n", i,
                       gpt_status_name(st), err.message);
            }
            gpt_model_release(m);
        }
    }

    /* The empty path has no file to name. */
    {
        gpt_model *m = NULL;
        gpt_error err;
        gpt_status st = gpt_model_open("", &m, &err);
        if (st == GPT_ERR_INVALID_ARGUMENT && !m &&
            strstr(err.message, "model path is empty")) {
            n_pass++;
        } else {
            n_fail++;
            printf("FAIL empty-path: got %s \"%s\"\n", gpt_status_name(st),
                   st == GPT_OK ? "" : err.message);
            gpt_model_release(m);
        }
    }
}

/* Allocation failure: the Nth allocation of gpt_model_open (and every
 * later one) fails, for every N up to the count of a successful open.  Each
 * must return GPT_ERR_NOMEM naming the file, set no model, and leak nothing
 * (LeakSanitizer checks that in the sanitizer build). */
static void
alloc_failures(const char *model)
{
    gpt_model *m = NULL;
    gpt_error err;
    uint64_t total, k;
    int before = n_fail;

    gpt_alloc_fail_after(0);
    if (gpt_model_open(model, &m, &err) != GPT_OK) {
        n_fail++;
        printf("FAIL alloc: the model does not open: %s\n", err.message);
        return;
    }
    total = gpt_alloc_fail_after(0);
    gpt_model_release(m);
    for (k = 1; k <= total; k++) {
        gpt_status st;
        m = NULL;
        memset(&err, 0, sizeof err);
        gpt_alloc_fail_after(k);
        st = gpt_model_open(model, &m, &err);
        gpt_alloc_fail_after(0);
        if (st == GPT_ERR_NOMEM && !m && strstr(err.message, model) &&
            strstr(err.message, "out of memory")) {
            n_pass++;
        } else {
            n_fail++;
            printf("FAIL alloc-fail-%llu of %llu: got %s \"%s\"\n",
                   (unsigned long long)k, (unsigned long long)total,
                   gpt_status_name(st), st == GPT_OK ? "" : err.message);
            gpt_model_release(m);
        }
    }
    printf("allocation failures: %llu allocations, %d failed\n",
           (unsigned long long)total, n_fail - before);
}

/* A good model of 2 MiB or more is mapped at a 2 MiB boundary (so the
 * page cache's huge folios can be mapped whole, see gpt_map_aligned), in full:
 * its last byte reads as the file's. */
static void
mapping(const char *model)
{
    gpt_model *m = NULL;
    gpt_error err;

    if (gpt_model_open(model, &m, &err) != GPT_OK) {
        n_fail++;
        printf("FAIL mapping: the model does not open: %s\n", err.message);
        return;
    }
    if (orig.n >= ((size_t)2 << 20) && ((uintptr_t)m->map & (((uintptr_t)2 << 20) - 1)) == 0 &&
        m->map_size == orig.n &&
        ((const uint8_t *)m->map)[orig.n - 1] == orig.p[orig.n - 1] &&
        memcmp(m->map, orig.p, 4096) == 0)
        n_pass++;
    else {
        n_fail++;
        printf("FAIL mapping: %zu-byte file mapped at %p, %zu bytes\n",
               orig.n, m->map, m->map_size);
    }
    gpt_model_release(m);
}

int
main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "build/models/tiny-f32.gguf";
    const char *tmp = getenv("TMPDIR");
    gpt_error err;
    FILE *fp;
    long n;

    verbose = getenv("MALFORMED_VERBOSE") != NULL;
    fp = fopen(model, "rb");
    if (!fp) {
        fprintf(stderr, "test_malformed: cannot open %s (generate it with "
                        "/usr/bin/python3 tests/gen_models.py --out "
                        "build/models): %s\n", model, strerror(errno));
        return 2;
    }
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    orig.n = (size_t)n;
    orig.p = malloc(orig.n);
    if (!orig.p || fread(orig.p, 1, orig.n, fp) != orig.n)
        die(model);
    fclose(fp);
    if (gguf_parse(orig.p, orig.n, &g, &err) != GPT_OK) {
        fprintf(stderr, "test_malformed: %s does not parse: %s\n", model,
                err.message);
        return 2;
    }
    {
        const gguf_tensor *last = &g.tensors[g.n_tensors - 1];
        header_end = (size_t)((const uint8_t *)last->name.ptr - orig.p) +
                     last->name.len + 4 + 8 * last->n_dims + 4 + 8;
    }
    if (g.n_tensors != 28 || !gguf_find_tensor(&g, "blk.1.ffn_up.weight") ||
        gguf_find_kv(&g, "general.alignment") ||
        tensor("blk.1.ffn_up.weight")->ne[0] != 64 ||
        tensor("blk.1.ffn_up.weight")->ne[1] != 256) {
        fprintf(stderr, "test_malformed: %s is not the tiny F32 model this "
                        "test expects\n", model);
        return 2;
    }

    snprintf(tmpdir, sizeof tmpdir, "%s/gpt-malformed-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tmpdir))
        die("mkdtemp");

    mapping(model);
    header_variants();
    metadata_variants();
    tokenizer_variants();
    tensor_variants();
    special_files();
    truncations();
    alloc_failures(model);

    rmdir(tmpdir);
    gguf_free(&g);
    free(orig.p);
    printf("malformed: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
