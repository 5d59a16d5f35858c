/*
 * gguf.c - GGUF container parsing with every byte checked.
 *
 * Layout (GGUF v2/v3, little-endian):
 *   u32 magic "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x { string key, u32 type, value },
 *   n_tensors x { string name, u32 n_dims, u64 ne[n_dims], u32 type,
 *                 u64 offset },
 *   padding to general.alignment (default 32), tensor data.
 * A string is u64 length + bytes; an array is u32 type + u64 count +
 * elements.  Nested arrays are accepted by the spec but never used by
 * gpt2 models; we refuse them (it also bounds recursion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "internal.h"
#include "mapping.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as little-endian u32 */
#define GGUF_MAX_TENSORS 65536
#define GGUF_MAX_KV 65536
#define GGUF_MAX_NAME 256        /* ggml's GGML_MAX_NAME is 64; be lenient */
#define GGUF_MAX_DIMS 4

typedef struct cursor {
    const uint8_t *p;
    size_t left;
    size_t size;        /* whole buffer, for offsets in messages */
    gpt_error *err;
} cursor;

static size_t
cur_offset(const cursor *c)
{
    return c->size - c->left;
}

static gpt_status
truncated(cursor *c, const char *what)
{
    return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                         "file is truncated: %s at byte %zu needs more bytes "
                         "than the %zu in the file",
                         what, cur_offset(c), c->size);
}

static gpt_status
take(cursor *c, size_t n, const uint8_t **out, const char *what)
{
    if (n > c->left)
        return truncated(c, what);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return GPT_OK;
}

static gpt_status
read_u32(cursor *c, uint32_t *v, const char *what)
{
    const uint8_t *p = NULL;
    gpt_status st = take(c, 4, &p, what);

    if (st == GPT_OK)
        memcpy(v, p, 4);
    return st;
}

static gpt_status
read_u64(cursor *c, uint64_t *v, const char *what)
{
    const uint8_t *p = NULL;
    gpt_status st = take(c, 8, &p, what);

    if (st == GPT_OK)
        memcpy(v, p, 8);
    return st;
}

static gpt_status
read_str(cursor *c, gguf_str *s, const char *what)
{
    uint64_t len;
    const uint8_t *p = NULL;
    gpt_status st = read_u64(c, &len, what);

    if (st != GPT_OK)
        return st;
    if (len > c->left)
        return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                             "%s at byte %zu has length %llu, past the end of "
                             "the file",
                             what, cur_offset(c) - 8, (unsigned long long)len);
    st = take(c, (size_t)len, &p, what);
    s->ptr = (const char *)p;
    s->len = len;
    return st;
}

static size_t
scalar_size(uint32_t type)
{
    switch (type) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static int
str_eq(gguf_str s, const char *z)
{
    size_t n = strlen(z);

    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

/* Prints a key or name for messages: at most 80 bytes, non-printable bytes
 * replaced, so a hostile file cannot inject control characters. */
static const char *
safe_name(gguf_str s, char *buf, size_t bufsz)
{
    size_t n = s.len < 80 ? (size_t)s.len : 80, i;

    for (i = 0; i < n && i + 1 < bufsz; i++) {
        unsigned char ch = (unsigned char)s.ptr[i];
        buf[i] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    buf[i] = '\0';
    return buf;
}

static gpt_status
read_value(cursor *c, gguf_kv *kv, const char *key)
{
    char what[128];

    snprintf(what, sizeof what, "value of %s", key);
    kv->value = c->p;
    if (kv->type == GGUF_STRING) {
        gguf_str s;
        return read_str(c, &s, what);
    }
    if (kv->type == GGUF_ARRAY) {
        uint64_t i;
        gpt_status st;

        if ((st = read_u32(c, &kv->arr_type, what)) != GPT_OK ||
            (st = read_u64(c, &kv->arr_n, what)) != GPT_OK)
            return st;
        kv->value = c->p;
        if (kv->arr_type == GGUF_STRING) {
            /* each element needs at least its 8-byte length */
            if (kv->arr_n > c->left / 8)
                return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                                     "array %s claims %llu strings, more than "
                                     "the file can hold",
                                     key, (unsigned long long)kv->arr_n);
            for (i = 0; i < kv->arr_n; i++) {
                gguf_str s;
                if ((st = read_str(c, &s, what)) != GPT_OK)
                    return st;
            }
            return GPT_OK;
        }
        if (scalar_size(kv->arr_type) == 0)
            return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                                 "array %s has element type %u, expected a "
                                 "scalar or string type",
                                 key, kv->arr_type);
        if (kv->arr_n > c->left / scalar_size(kv->arr_type))
            return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                                 "array %s claims %llu elements, more than "
                                 "the file can hold",
                                 key, (unsigned long long)kv->arr_n);
        {
            const uint8_t *p;
            return take(c, (size_t)kv->arr_n * scalar_size(kv->arr_type), &p,
                        what);
        }
    }
    if (scalar_size(kv->type) == 0)
        return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s has unknown value type %u", key,
                             kv->type);
    {
        const uint8_t *p;
        return take(c, scalar_size(kv->type), &p, what);
    }
}

const char *
ggml_type_name(uint32_t type)
{
    switch (type) {
    case GGML_F32: return "F32";
    case GGML_F16: return "F16";
    case GGML_Q4_0: return "Q4_0";
    case GGML_Q8_0: return "Q8_0";
    case GGML_BF16: return "BF16";
    default: return NULL;
    }
}

uint32_t
ggml_block_size(uint32_t type)
{
    switch (type) {
    case GGML_F32: case GGML_F16: case GGML_BF16: return 1;
    case GGML_Q4_0: case GGML_Q8_0: return 32;
    default: return 0;
    }
}

uint32_t
ggml_block_bytes(uint32_t type)
{
    switch (type) {
    case GGML_F32: return 4;
    case GGML_F16: case GGML_BF16: return 2;
    case GGML_Q4_0: return 18; /* f16 scale + 16 bytes of nibbles */
    case GGML_Q8_0: return 34; /* f16 scale + 32 int8 */
    default: return 0;
    }
}

static gpt_status
read_tensor_info(cursor *c, gguf_tensor *t, uint64_t index)
{
    char name[96], what[160];
    uint32_t d;
    gpt_status st;

    snprintf(what, sizeof what, "name of tensor %llu",
             (unsigned long long)index);
    if ((st = read_str(c, &t->name, what)) != GPT_OK)
        return st;
    safe_name(t->name, name, sizeof name);
    if (t->name.len == 0 || t->name.len > GGUF_MAX_NAME)
        return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %llu has a name of %llu bytes, expected "
                             "1 to %d",
                             (unsigned long long)index,
                             (unsigned long long)t->name.len, GGUF_MAX_NAME);
    snprintf(what, sizeof what, "shape of tensor %s", name);
    if ((st = read_u32(c, &t->n_dims, what)) != GPT_OK)
        return st;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %s has %u dimensions, expected 1 to %d",
                             name, t->n_dims, GGUF_MAX_DIMS);
    for (d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (d = 0; d < t->n_dims; d++) {
        if ((st = read_u64(c, &t->ne[d], what)) != GPT_OK)
            return st;
        if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40))
            return gpt_set_error(c->err, GPT_ERR_CORRUPT_MODEL,
                                 "tensor %s has dimension %u of size %llu",
                                 name, d, (unsigned long long)t->ne[d]);
    }
    snprintf(what, sizeof what, "type of tensor %s", name);
    if ((st = read_u32(c, &t->type, what)) != GPT_OK)
        return st;
    if (!ggml_type_name(t->type))
        return gpt_set_error(c->err, GPT_ERR_UNSUPPORTED,
                             "tensor %s has type %u, which is not supported "
                             "(supported: F32, F16, BF16, Q8_0, Q4_0)",
                             name, t->type);
    snprintf(what, sizeof what, "offset of tensor %s", name);
    return read_u64(c, &t->offset, what);
}

/* Size in bytes of a tensor, or an error if the row does not split into
 * whole blocks or the size overflows. */
static gpt_status
tensor_nbytes(gguf_tensor *t, gpt_error *err)
{
    char name[96];
    uint64_t bs = ggml_block_size(t->type), bb = ggml_block_bytes(t->type);
    uint64_t n = t->ne[0] / bs * bb;
    uint32_t d;

    safe_name(t->name, name, sizeof name);
    if (t->ne[0] % bs != 0)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %s has rows of %llu weights, not a "
                             "multiple of the %s block size %llu",
                             name, (unsigned long long)t->ne[0],
                             ggml_type_name(t->type), (unsigned long long)bs);
    for (d = 1; d < GGUF_MAX_DIMS; d++) {
        if (n > (UINT64_MAX >> 1) / t->ne[d])
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "tensor %s is impossibly large", name);
        n *= t->ne[d];
    }
    t->nbytes = n;
    return GPT_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    const gguf_str *x = a, *y = b;

    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->ptr, y->ptr, (size_t)x->len);
}

/* Refuses two metadata keys (tensors = 0) or two tensor names (tensors = 1)
 * that are equal.  Sorting a copy of the names costs O(n log n); comparing
 * every pair would let a hostile 1 MB file of 65536 short keys cost
 * seconds of CPU in the loader. */
static gpt_status
check_unique(const gguf_file *f, int tensors, gpt_error *err)
{
    uint64_t n = tensors ? f->n_tensors : f->n_kv, i;
    gguf_str *names = gpt_malloc((size_t)n * sizeof *names);
    gpt_status st = GPT_OK;

    if (!names)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory reading the GGUF header");
    for (i = 0; i < n; i++)
        names[i] = tensors ? f->tensors[i].name : f->kv[i].key;
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    for (i = 1; i < n; i++)
        if (cmp_str(&names[i - 1], &names[i]) == 0) {
            char name[96];
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               tensors ? "tensor %s appears twice"
                                       : "metadata key %s appears twice",
                               safe_name(names[i], name, sizeof name));
            break;
        }
    gpt_free(names);
    return st;
}

gpt_status
gguf_parse(const void *base, size_t size, gguf_file *f, gpt_error *err)
{
    cursor c = {(const uint8_t *)base, size, size, err};
    uint32_t magic;
    uint64_t i;
    gpt_status st;

    memset(f, 0, sizeof *f);
    f->base = base;
    f->size = size;
    f->alignment = 32;

    if (size < 4 || read_u32(&c, &magic, "magic") != GPT_OK ||
        magic != GGUF_MAGIC)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "not a GGUF file (the first 4 bytes are not "
                             "\"GGUF\")");
    if ((st = read_u32(&c, &f->version, "version")) != GPT_OK)
        return st;
    if (f->version != 2 && f->version != 3)
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "GGUF version %u is not supported (supported: 2 "
                             "and 3); convert the model again with a current "
                             "converter",
                             f->version);
    if ((st = read_u64(&c, &f->n_tensors, "tensor count")) != GPT_OK ||
        (st = read_u64(&c, &f->n_kv, "metadata count")) != GPT_OK)
        return st;
    if (f->n_tensors > GGUF_MAX_TENSORS)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "file claims %llu tensors, more than the limit "
                             "of %d",
                             (unsigned long long)f->n_tensors,
                             GGUF_MAX_TENSORS);
    if (f->n_kv > GGUF_MAX_KV)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "file claims %llu metadata entries, more than "
                             "the limit of %d",
                             (unsigned long long)f->n_kv, GGUF_MAX_KV);

    f->kv = gpt_calloc((size_t)f->n_kv, sizeof *f->kv);
    f->tensors = gpt_calloc((size_t)f->n_tensors, sizeof *f->tensors);
    if (!f->kv || !f->tensors) {
        gguf_free(f);
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory reading the GGUF header");
    }

    for (i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        char key[96], what[64];

        snprintf(what, sizeof what, "key of metadata entry %llu",
                 (unsigned long long)i);
        if ((st = read_str(&c, &kv->key, what)) != GPT_OK)
            goto fail;
        safe_name(kv->key, key, sizeof key);
        if (kv->key.len == 0) {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "metadata entry %llu has an empty key",
                               (unsigned long long)i);
            goto fail;
        }
        if ((st = read_u32(&c, &kv->type, "metadata value type")) != GPT_OK)
            goto fail;
        if (kv->type == GGUF_ARRAY || kv->type == GGUF_STRING ||
            scalar_size(kv->type)) {
            if ((st = read_value(&c, kv, key)) != GPT_OK)
                goto fail;
        } else {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "metadata %s has unknown value type %u", key,
                               kv->type);
            goto fail;
        }
        if (str_eq(kv->key, "general.alignment")) {
            uint32_t a;
            if (kv->type != GGUF_U32) {
                st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                   "general.alignment must be a uint32");
                goto fail;
            }
            memcpy(&a, kv->value, 4);
            if (a == 0 || (a & (a - 1)) != 0 || a > 65536) {
                st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                   "general.alignment is %u, expected a "
                                   "power of two up to 65536",
                                   a);
                goto fail;
            }
            f->alignment = a;
        }
    }

    for (i = 0; i < f->n_tensors; i++) {
        if ((st = read_tensor_info(&c, &f->tensors[i], i)) != GPT_OK)
            goto fail;
        if ((st = tensor_nbytes(&f->tensors[i], err)) != GPT_OK)
            goto fail;
    }
    if ((st = check_unique(f, 0, err)) != GPT_OK ||
        (st = check_unique(f, 1, err)) != GPT_OK)
        goto fail;

    /* The data section starts at the next multiple of the alignment. */
    {
        size_t off = cur_offset(&c);
        size_t pad = (f->alignment - off % f->alignment) % f->alignment;

        if (f->n_tensors > 0 && pad > size - off) {
            st = truncated(&c, "padding before the tensor data");
            goto fail;
        }
        f->data_offset = off + (pad <= size - off ? pad : 0);
    }
    for (i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        char name[96];
        uint64_t avail = size - f->data_offset;

        safe_name(t->name, name, sizeof name);
        if (t->offset % f->alignment != 0) {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "tensor %s has offset %llu, not a multiple of "
                               "the alignment %u",
                               name, (unsigned long long)t->offset,
                               f->alignment);
            goto fail;
        }
        if (t->offset > avail || t->nbytes > avail - t->offset) {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "tensor %s (%llu bytes at offset %llu) ends "
                               "past the end of the file (%llu bytes of "
                               "tensor data); the file is truncated or corrupt",
                               name, (unsigned long long)t->nbytes,
                               (unsigned long long)t->offset,
                               (unsigned long long)avail);
            goto fail;
        }
        t->data = f->base + f->data_offset + t->offset;
    }
    return GPT_OK;

fail:
    gguf_free(f);
    return st;
}

void
gguf_free(gguf_file *f)
{
    gpt_free(f->kv);
    gpt_free(f->tensors);
    f->kv = NULL;
    f->tensors = NULL;
}

/* Linear searches: a gpt2 file has at most 12 * 1024 + 5 tensors (model.c
 * checks that before its lookups); the length is compared first so most
 * entries cost one comparison. */
const gguf_kv *
gguf_find_kv(const gguf_file *f, const char *key)
{
    size_t n = strlen(key);
    uint64_t i;

    for (i = 0; i < f->n_kv; i++)
        if (f->kv[i].key.len == n && memcmp(f->kv[i].key.ptr, key, n) == 0)
            return &f->kv[i];
    return NULL;
}

const gguf_tensor *
gguf_find_tensor(const gguf_file *f, const char *name)
{
    size_t n = strlen(name);
    uint64_t i;

    for (i = 0; i < f->n_tensors; i++)
        if (f->tensors[i].name.len == n &&
            memcmp(f->tensors[i].name.ptr, name, n) == 0)
            return &f->tensors[i];
    return NULL;
}

static const char *
value_type_name(uint32_t t)
{
    static const char *names[] = {"uint8", "int8", "uint16", "int16",
                                  "uint32", "int32", "float32", "bool",
                                  "string", "array", "uint64", "int64",
                                  "float64"};
    return t < GGUF_N_VALUE_TYPES ? names[t] : "unknown";
}

gpt_status
gguf_get_uint(const gguf_file *f, const char *key, uint64_t max,
              uint64_t *out, gpt_error *err)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    int64_t sv = 0;
    uint64_t uv = 0;
    int is_signed = 0;

    if (!kv)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is missing", key);
    switch (kv->type) {
    case GGUF_U8: uv = kv->value[0]; break;
    case GGUF_U16: { uint16_t v; memcpy(&v, kv->value, 2); uv = v; break; }
    case GGUF_U32: { uint32_t v; memcpy(&v, kv->value, 4); uv = v; break; }
    case GGUF_U64: memcpy(&uv, kv->value, 8); break;
    case GGUF_I8: sv = (int8_t)kv->value[0]; is_signed = 1; break;
    case GGUF_I16: { int16_t v; memcpy(&v, kv->value, 2); sv = v; is_signed = 1; break; }
    case GGUF_I32: { int32_t v; memcpy(&v, kv->value, 4); sv = v; is_signed = 1; break; }
    case GGUF_I64: memcpy(&sv, kv->value, 8); is_signed = 1; break;
    default:
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is a %s, expected an integer", key,
                             value_type_name(kv->type));
    }
    if (is_signed) {
        if (sv < 0)
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "metadata %s is %lld, expected a value "
                                 "from 0 to %llu",
                                 key, (long long)sv, (unsigned long long)max);
        uv = (uint64_t)sv;
    }
    if (uv > max)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is %llu, expected at most %llu",
                             key, (unsigned long long)uv,
                             (unsigned long long)max);
    *out = uv;
    return GPT_OK;
}

gpt_status
gguf_get_float(const gguf_file *f, const char *key, double *out,
               gpt_error *err)
{
    const gguf_kv *kv = gguf_find_kv(f, key);

    if (!kv)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is missing", key);
    if (kv->type == GGUF_F32) {
        float v;
        memcpy(&v, kv->value, 4);
        *out = v;
    } else if (kv->type == GGUF_F64) {
        memcpy(out, kv->value, 8);
    } else {
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is a %s, expected a float", key,
                             value_type_name(kv->type));
    }
    return GPT_OK;
}

gpt_status
gguf_get_string(const gguf_file *f, const char *key, gguf_str *out,
                gpt_error *err)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    uint64_t len;

    if (!kv)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is missing", key);
    if (kv->type != GGUF_STRING)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is a %s, expected a string", key,
                             value_type_name(kv->type));
    memcpy(&len, kv->value, 8);
    out->ptr = (const char *)kv->value + 8;
    out->len = len;
    return GPT_OK;
}

static size_t
string_array_bytes(uint64_t n)
{
    return gpt_mapped_round((size_t)n * (sizeof(const char *) + sizeof(uint32_t)));
}

void
gguf_free_string_array(const char **ptrs, uint64_t n)
{
    gpt_free_mapped((void *)ptrs, string_array_bytes(n));
}

gpt_status
gguf_get_string_array(const gguf_file *f, const char *key, const char ***ptrs,
                      uint32_t **lens, uint64_t *n, gpt_error *err)
{
    const gguf_kv *kv = gguf_find_kv(f, key);
    const uint8_t *p;
    uint64_t i;

    if (!kv)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is missing", key);
    if (kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "metadata %s is not an array of strings", key);
    /* indexes of the whole vocabulary, written once: one mapping in 2 MiB
     * pages (mapping.h) */
    *ptrs = gpt_alloc_mapped(string_array_bytes(kv->arr_n));
    *lens = NULL;
    if (!*ptrs)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory reading %s", key);
    *lens = (uint32_t *)(*ptrs + kv->arr_n);
    /* Lengths were validated by gguf_parse. */
    p = kv->value;
    for (i = 0; i < kv->arr_n; i++) {
        uint64_t len;
        memcpy(&len, p, 8);
        if (len > UINT32_MAX) {
            gguf_free_string_array(*ptrs, kv->arr_n);
            *ptrs = NULL;
            *lens = NULL;
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "string %llu of %s is %llu bytes long",
                                 (unsigned long long)i, key,
                                 (unsigned long long)len);
        }
        (*ptrs)[i] = (const char *)p + 8;
        (*lens)[i] = (uint32_t)len;
        p += 8 + len;
    }
    *n = kv->arr_n;
    return GPT_OK;
}
