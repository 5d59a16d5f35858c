/*
 * fuzz_convert.c - libFuzzer target for gpt-convert's readers of a Hugging
 * Face checkpoint: the safetensors header (models/convert/safetensors.c),
 * config.json (hf.c) and the JSON parser under both (json.c), and behind
 * them the tensor plan and the GGUF writer.
 *
 * A tiny checkpoint (tests/fuzz/hf_tiny/, or $GPT_FUZZ_HF; written by
 * make_seeds.py) is read once.  Input: the first byte chooses the mode
 * (bits 0-1) and the output type (bits 2-3: f16, f32, q8_0, f16):
 *   0: the rest is a .safetensors file, opened alone with st_open() (from a
 *      memfd, so no disk is touched);
 *   1: the rest is config.json, converted with the tiny checkpoint's other
 *      files by cv_convert_hf(), the converter's whole path;
 *   2: the rest is model.safetensors, converted likewise;
 *   3: both: a 2-byte little-endian length, config.json, model.safetensors.
 * Conversions run in a private directory (in /dev/shm when there is one)
 * with the runtime check of the result on (verify).  GPT_FUZZ_VERBOSE=1
 * prints each outcome (to see what the seeds reach).
 *
 * Properties checked (a violation aborts, which libFuzzer reports):
 *   - no crash, leak, out-of-bounds read or UB (ASan/UBSan);
 *   - st_open: a refusal is CORRUPT_MODEL with a message and leaves nothing
 *     mapped; an accepted file's tensors have non-empty names without NUL,
 *     at most 8 dimensions, n_elems = the product of the shape, nbytes =
 *     n_elems x element size, and lie inside the file's data section;
 *   - conversion: a refusal is CORRUPT_MODEL or UNSUPPORTED (or
 *     INVALID_ARGUMENT for a JSON syntax error in config.json) with a
 *     non-empty message, never "the converted file does not load in the
 *     runtime" (the converter must not write what the core rejects), and
 *     leaves neither OUT nor OUT.tmp; a success leaves OUT and no OUT.tmp.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "memfd_input.h"
#include "safetensors.h"

static memfd_input in;
static char dir[256], cfg_path[300], st_path[300], out_path[300],
    tmp_path[310];
static char *base_cfg, *base_st;
static size_t base_cfg_len, base_st_len;
static int verbose; /* GPT_FUZZ_VERBOSE=1: print each outcome */

static void
fail(const char *what, const char *msg)
{
    fprintf(stderr, "fuzz_convert: %s: %s\n", what, msg ? msg : "");
    abort();
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long n;

    if (!fp || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0)
        fail("cannot read (set GPT_FUZZ_HF to the tiny checkpoint)", path);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n)
        fail("cannot read", path);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void
spill(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len) ||
        close(fd) != 0)
        fail("cannot write", path);
}

static void
cleanup(void)
{
    static const char *const names[] = {"config.json", "vocab.json",
                                        "merges.txt", "model.safetensors",
                                        "out.gguf", "out.gguf.tmp"};
    char p[320];
    size_t i;

    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *hf = getenv("GPT_FUZZ_HF");
    struct stat sb;
    char p[320];
    char *buf;
    size_t len;

    if (!hf || !*hf)
        hf = "tests/fuzz/hf_tiny";
    verbose = getenv("GPT_FUZZ_VERBOSE") != NULL;
    memfd_input_open(&in, "fuzz_convert");

    snprintf(dir, sizeof dir, "%s/gpt-fuzz-convert.XXXXXX",
             stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) &&
                     access("/dev/shm", W_OK) == 0
                 ? "/dev/shm"
                 : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp"));
    if (!mkdtemp(dir))
        fail("mkdtemp", dir);
    atexit(cleanup);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    snprintf(out_path, sizeof out_path, "%s/out.gguf", dir);
    snprintf(tmp_path, sizeof tmp_path, "%s/out.gguf.tmp", dir);

    snprintf(p, sizeof p, "%s/config.json", hf);
    base_cfg = slurp(p, &base_cfg_len);
    snprintf(p, sizeof p, "%s/model.safetensors", hf);
    base_st = slurp(p, &base_st_len);
    /* the files the fuzzer never changes */
    snprintf(p, sizeof p, "%s/vocab.json", hf);
    buf = slurp(p, &len);
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    spill(p, buf, len);
    free(buf);
    snprintf(p, sizeof p, "%s/merges.txt", hf);
    buf = slurp(p, &len);
    snprintf(p, sizeof p, "%s/merges.txt", dir);
    spill(p, buf, len);
    free(buf);
    return 0;
}

static void
check_safetensors(const uint8_t *data, size_t size)
{
    st_file f;
    gpt_error err;
    gpt_status st;
    size_t done = 0, i, hlen;
    const uint8_t *lo, *hi;

    memfd_input_set(&in, data, size);
    memset(&err, 0, sizeof err);
    st = st_open(in.path, &f, &err);
    if (verbose)
        fprintf(stderr, "fuzz_convert: st_open: %s (%zu tensors)\n",
                st == GPT_OK ? "ok" : err.message, f.n_tensors);
    if (st != GPT_OK) {
        if (st != GPT_ERR_CORRUPT_MODEL)
            fail("st_open: unexpected status", err.message);
        if (err.code != st || err.message[0] == '\0' ||
            !memchr(err.message, '\0', sizeof err.message))
            fail("st_open: no message", "");
        if (f.map || f.tensors || f.n_tensors)
            fail("st_open: something left after a refusal", "");
        return;
    }
    hlen = 0;
    for (i = 0; i < 8; i++)
        hlen |= (size_t)data[i] << (8 * i);
    lo = (const uint8_t *)f.map + 8 + hlen;
    hi = (const uint8_t *)f.map + f.size;
    if (f.size != size)
        fail("st_open: mapped size differs from the file", "");
    for (i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        uint64_t n = 1;
        uint32_t k;

        if (!t->name || !t->name[0])
            fail("st_open: tensor without a name", "");
        if (t->n_dims > ST_MAX_DIMS)
            fail("st_open: too many dimensions", t->name);
        for (k = 0; k < t->n_dims; k++)
            n *= t->shape[k];
        if (n != t->n_elems || t->nbytes != n * t->elem_size)
            fail("st_open: size does not follow from shape and dtype",
                 t->name);
        if (t->data < lo || t->data > hi ||
            t->nbytes > (uint64_t)(hi - t->data))
            fail("st_open: tensor data outside the data section", t->name);
        /* touch both ends: a bad span faults here */
        if (t->nbytes) {
            volatile uint8_t x = t->data[0];
            x = t->data[t->nbytes - 1];
            (void)x;
        }
    }
    st_close(&f);
}

static void
check_convert(const uint8_t *cfg, size_t cfg_len, const uint8_t *stb,
              size_t st_len, uint32_t type)
{
    cv_options o;
    gpt_error err;
    gpt_status st;

    spill(cfg_path, cfg, cfg_len);
    spill(st_path, stb, st_len);
    unlink(out_path);
    memset(&o, 0, sizeof o);
    o.in = dir;
    o.out = out_path;
    o.type = type;
    o.name = "fuzz";
    o.verify = 1;
    o.quiet = 1;
    memset(&err, 0, sizeof err);
    st = cv_convert_hf(&o, &err);
    if (verbose)
        fprintf(stderr, "fuzz_convert: conversion: %s\n",
                st == GPT_OK ? "ok" : err.message);
    if (access(tmp_path, F_OK) == 0)
        fail("OUT.tmp left behind", err.message);
    if (st == GPT_OK) {
        if (access(out_path, F_OK) != 0)
            fail("success without OUT", "");
        return;
    }
    /* INVALID_ARGUMENT: json.c's status for a syntax error, which
     * read_config passes on (st_open turns it into CORRUPT_MODEL) */
    if (st != GPT_ERR_CORRUPT_MODEL && st != GPT_ERR_UNSUPPORTED &&
        !(st == GPT_ERR_INVALID_ARGUMENT &&
          strncmp(err.message, cfg_path, strlen(cfg_path)) == 0 &&
          strncmp(err.message + strlen(cfg_path), ": invalid JSON", 14) == 0))
        fail("conversion: unexpected status", err.message);
    if (err.code != st || err.message[0] == '\0' ||
        !memchr(err.message, '\0', sizeof err.message))
        fail("conversion: no message", "");
    if (strncmp(err.message, "the converted file does not load", 32) == 0)
        fail("the converter wrote a file the runtime rejects", err.message);
    if (access(out_path, F_OK) == 0)
        fail("OUT written although the conversion failed", err.message);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t types[4] = {GGML_F16, GGML_F32, GGML_Q8_0,
                                      GGML_F16};
    uint32_t type;
    size_t n;

    if (size == 0 || size > (1u << 20))
        return 0;
    type = types[(data[0] >> 2) & 3];
    switch (data[0] & 3) {
    case 0:
        check_safetensors(data + 1, size - 1);
        break;
    case 1:
        check_convert(data + 1, size - 1, (const uint8_t *)base_st,
                      base_st_len, type);
        break;
    case 2:
        check_convert((const uint8_t *)base_cfg, base_cfg_len, data + 1,
                      size - 1, type);
        break;
    default:
        if (size < 3)
            return 0;
        n = (size_t)data[1] | (size_t)data[2] << 8;
        if (n > size - 3)
            n = size - 3;
        check_convert(data + 3, n, data + 3 + n, size - 3 - n, type);
        break;
    }
    return 0;
}
