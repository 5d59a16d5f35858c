/*
 * requant.c - GGUF (architecture gpt2) -> the same model with its matrices
 * in another type (F32/F16/BF16 -> Q8_0 or F16, or F32).
 *
 * Metadata is copied byte for byte in the same order, except
 * general.file_type (set to the new type) and general.alignment (the output
 * always uses 32).  Which tensors change follows llama.cpp: 2-D matrices
 * (token_embd and output included) take the new type; 1-D tensors and
 * position_embd keep theirs.  Already quantized matrices are not
 * requantized (that would stack two roundings): convert from F32/F16.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "internal.h"

static size_t
scalar_size(uint32_t t)
{
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

/* The encoded bytes of a metadata value as gguf_parse left them: kv->value
 * points at the scalar, at a string's u64 length, or at an array's first
 * element (its element type and count are the 12 bytes before).  The file
 * was validated, so walking the strings stays inside it. */
static void
raw_value(const gguf_kv *kv, const uint8_t **start, size_t *len)
{
    if (kv->type == GGUF_STRING) {
        uint64_t n;
        memcpy(&n, kv->value, 8);
        *start = kv->value;
        *len = 8 + (size_t)n;
    } else if (kv->type == GGUF_ARRAY) {
        const uint8_t *p = kv->value;
        uint64_t i;
        if (kv->arr_type == GGUF_STRING) {
            for (i = 0; i < kv->arr_n; i++) {
                uint64_t n;
                memcpy(&n, p, 8);
                p += 8 + n;
            }
        } else {
            p += kv->arr_n * scalar_size(kv->arr_type);
        }
        *start = kv->value - 12;
        *len = (size_t)(p - *start);
    } else {
        *start = kv->value;
        *len = scalar_size(kv->type);
    }
}

static int
key_is(const gguf_kv *kv, const char *s)
{
    return kv->key.len == strlen(s) && memcmp(kv->key.ptr, s, kv->key.len) == 0;
}

gpt_status
cv_requantize(const cv_options *o, gpt_error *err)
{
    gguf_file gf;
    gguf_writer w;
    cv_tensor *plan = NULL;
    struct stat sb;
    void *map = MAP_FAILED;
    gguf_str arch;
    gpt_status st;
    uint64_t i;
    int fd, have_ftype = 0, have_qv = 0;

    memset(&gf, 0, sizeof gf);
    gw_init(&w);
    fd = open(o->in, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "%s: cannot open: %s",
                             o->in, strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size == 0) {
        close(fd);
        return gpt_set_error(err, GPT_ERR_NOT_FOUND,
                             "%s: not a regular, non-empty file", o->in);
    }
    map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "%s: cannot map: %s",
                             o->in, strerror(errno));
    if ((st = gguf_parse(map, (size_t)sb.st_size, &gf, err)) != GPT_OK)
        goto fail_named;
    if ((st = gguf_get_string(&gf, "general.architecture", &arch, err)) !=
        GPT_OK)
        goto fail_named;
    if (arch.len != 4 || memcmp(arch.ptr, "gpt2", 4) != 0) {
        st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                           "general.architecture is \"%.*s\", only \"gpt2\" "
                           "files are requantized",
                           (int)(arch.len > 40 ? 40 : arch.len), arch.ptr);
        goto fail_named;
    }

    for (i = 0; i < gf.n_kv; i++) {
        const gguf_kv *kv = &gf.kv[i];
        const uint8_t *start;
        size_t len;

        if (key_is(kv, "general.alignment"))
            continue;
        if (key_is(kv, "general.file_type")) {
            have_ftype = 1;
            st = gw_add_u32(&w, "general.file_type", cv_file_type(o->type),
                            err);
        } else {
            if (key_is(kv, "general.quantization_version"))
                have_qv = 1;
            raw_value(kv, &start, &len);
            st = gw_add_raw(&w, kv->key.ptr, (size_t)kv->key.len, kv->type,
                            start, len, err);
        }
        if (st != GPT_OK)
            goto fail;
    }
    if (!have_ftype &&
        (st = gw_add_u32(&w, "general.file_type", cv_file_type(o->type),
                         err)) != GPT_OK)
        goto fail;
    if (!have_qv &&
        (st = gw_add_u32(&w, "general.quantization_version", 2, err)) != GPT_OK)
        goto fail;

    plan = gpt_calloc((size_t)gf.n_tensors, sizeof *plan);
    if (!plan) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < gf.n_tensors; i++) {
        const gguf_tensor *t = &gf.tensors[i];
        cv_tensor *ct = &plan[i];
        int is_float = t->type == GGML_F32 || t->type == GGML_F16 ||
                       t->type == GGML_BF16;
        int is_matrix = t->n_dims == 2 &&
                        !(t->name.len == 20 &&
                          memcmp(t->name.ptr, "position_embd.weight", 20) == 0);

        if (t->name.len >= sizeof ct->name) {
            st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                               "%s: tensor name of %llu bytes is too long",
                               o->in, (unsigned long long)t->name.len);
            goto fail;
        }
        memcpy(ct->name, t->name.ptr, (size_t)t->name.len);
        memcpy(ct->src_name, ct->name, sizeof ct->src_name);
        ct->n_dims = t->n_dims;
        memcpy(ct->ne, t->ne, sizeof ct->ne);
        ct->src = t->data;
        ct->src_file = o->in;
        ct->src_type = t->type;
        ct->src_nbytes = t->nbytes;
        ct->out_type = t->type;
        if (is_matrix && t->type != o->type) {
            if (!is_float) {
                st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                                   "%s: tensor %s is already %s; requantizing "
                                   "quantized weights would round them "
                                   "twice: convert from the F32 or F16 file",
                                   o->in, ct->name, ggml_type_name(t->type));
                goto fail;
            }
            ct->out_type = o->type;
            if (o->type == GGML_Q8_0 && t->ne[0] % 32 != 0)
                ct->out_type = GGML_F16;
        }
        if ((st = gw_add_tensor(&w, ct->name, ct->n_dims, ct->ne,
                                ct->out_type, err)) != GPT_OK)
            goto fail;
    }
    st = cv_write_file(o, &w, plan, (size_t)gf.n_tensors, err);
    goto done;

fail_named:
    gpt_error_prefix(err, o->in);
fail:
done:
    gpt_free(plan);
    gw_free(&w);
    gguf_free(&gf);
    munmap(map, (size_t)sb.st_size);
    return st;
}
