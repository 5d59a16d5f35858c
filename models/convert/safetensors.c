/*
 * safetensors.c - maps a .safetensors file and validates its header.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "json.h"
#include "safetensors.h"

static const struct {
    const char *name;
    uint32_t size;
} dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
    {"I16", 2}, {"I8", 1}, {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1},
    {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
};

static gpt_status
bad(gpt_error *err, const char *tname, const char *what)
{
    return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                         "header entry \"%.100s\": %s", tname, what);
}

/* A non-negative JSON integer. */
static int
get_u64(const json_value *v, uint64_t *out)
{
    if (!v || v->type != JSON_NUMBER || !v->is_int || v->integer < 0)
        return 0;
    *out = (uint64_t)v->integer;
    return 1;
}

static gpt_status
read_entry(const json_member *m, st_tensor *t, const uint8_t *data,
           uint64_t data_size, gpt_error *err)
{
    const json_value *v = &m->value, *dt, *shape, *offs;
    uint64_t b, e, n = 1;
    size_t i;

    if (strlen(m->key) != m->key_len || m->key_len == 0)
        return bad(err, m->key, "tensor name is empty or contains NUL");
    if (v->type != JSON_OBJECT)
        return bad(err, m->key, "expected an object");
    dt = json_get(v, "dtype");
    shape = json_get(v, "shape");
    offs = json_get(v, "data_offsets");
    if (!dt || dt->type != JSON_STRING)
        return bad(err, m->key, "\"dtype\" missing or not a string");
    if (!shape || shape->type != JSON_ARRAY)
        return bad(err, m->key, "\"shape\" missing or not an array");
    if (!offs || offs->type != JSON_ARRAY || offs->len != 2)
        return bad(err, m->key, "\"data_offsets\" missing or not [begin, end]");
    for (i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dt->str, dtypes[i].name) == 0)
            break;
    if (i == sizeof dtypes / sizeof dtypes[0])
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "header entry \"%.100s\": unknown dtype \"%.20s\"",
                             m->key, dt->str);
    t->elem_size = dtypes[i].size;
    snprintf(t->dtype, sizeof t->dtype, "%s", dtypes[i].name);
    if (shape->len > ST_MAX_DIMS)
        return bad(err, m->key, "more than 8 dimensions");
    t->n_dims = (uint32_t)shape->len;
    for (i = 0; i < shape->len; i++) {
        if (!get_u64(&shape->items[i], &t->shape[i]))
            return bad(err, m->key, "shape holds a value that is not a "
                                    "non-negative integer");
        if (t->shape[i] != 0 && n > UINT64_MAX / 16 / t->shape[i])
            return bad(err, m->key, "shape is impossibly large");
        n *= t->shape[i];
    }
    t->n_elems = n;
    if (!get_u64(&offs->items[0], &b) || !get_u64(&offs->items[1], &e))
        return bad(err, m->key, "data_offsets are not non-negative integers");
    if (b > e || e > data_size)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "header entry \"%.100s\": data_offsets [%llu, "
                             "%llu] lie outside the %llu bytes of tensor data "
                             "(the file is truncated or the header is wrong)",
                             m->key, (unsigned long long)b,
                             (unsigned long long)e,
                             (unsigned long long)data_size);
    if (e - b != n * t->elem_size)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "header entry \"%.100s\": data_offsets span %llu "
                             "bytes, but shape and dtype %s need %llu",
                             m->key, (unsigned long long)(e - b), t->dtype,
                             (unsigned long long)(n * t->elem_size));
    t->data = data + b;
    t->nbytes = e - b;
    return GPT_OK;
}

gpt_status
st_open(const char *path, st_file *out, gpt_error *err)
{
    struct stat sb;
    const uint8_t *base;
    uint64_t hlen = 0;
    json_value hdr = {0};
    gpt_status st;
    size_t i, n = 0;
    int fd;

    memset(out, 0, sizeof *out);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "cannot open: %s",
                             strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "not a regular file");
    }
    if (sb.st_size < 8) {
        close(fd);
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "file is %lld bytes, too short for the 8-byte "
                             "header length (truncated?)",
                             (long long)sb.st_size);
    }
    out->size = (size_t)sb.st_size;
    out->map = mmap(NULL, out->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (out->map == MAP_FAILED) {
        out->map = NULL;
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "cannot map: %s",
                             strerror(errno));
    }
    base = out->map;
    for (i = 0; i < 8; i++)
        hlen |= (uint64_t)base[i] << (8 * i);
    if (hlen > out->size - 8) {
        st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                           "header length %llu runs past the end of the %zu-"
                           "byte file (truncated, or not a safetensors file)",
                           (unsigned long long)hlen, out->size);
        goto fail;
    }
    if (hlen > ST_MAX_HEADER || hlen < 2) {
        st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                           "header length %llu is implausible (not a "
                           "safetensors file?)", (unsigned long long)hlen);
        goto fail;
    }
    if ((st = json_parse((const char *)base + 8, (size_t)hlen, &hdr, err)) !=
        GPT_OK) {
        gpt_error_prefix(err, "header");
        if (err)
            err->code = st = GPT_ERR_CORRUPT_MODEL;
        goto fail;
    }
    if (hdr.type != JSON_OBJECT) {
        st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                           "header is %s, expected an object",
                           json_type_name(hdr.type));
        goto fail;
    }
    out->tensors = gpt_calloc(hdr.len, sizeof *out->tensors);
    if (!out->tensors) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (i = 0; i < hdr.len; i++) {
        const json_member *m = &hdr.members[i];
        st_tensor *t;

        if (strcmp(m->key, "__metadata__") == 0)
            continue;
        t = &out->tensors[n];
        if ((st = read_entry(m, t, base + 8 + hlen,
                             (uint64_t)(out->size - 8 - hlen), err)) != GPT_OK)
            goto fail;
        t->name = m->key;
        n++;
        out->n_tensors = n;
        /* the tensor owns the key string from now on */
        hdr.members[i].key = NULL;
    }
    json_free(&hdr);
    return GPT_OK;

fail:
    json_free(&hdr);
    st_close(out);
    return st;
}

void
st_close(st_file *f)
{
    size_t i;

    if (f->tensors) {
        for (i = 0; i < f->n_tensors; i++)
            gpt_free(f->tensors[i].name);
        gpt_free(f->tensors);
    }
    if (f->map)
        munmap(f->map, f->size);
    memset(f, 0, sizeof *f);
}
