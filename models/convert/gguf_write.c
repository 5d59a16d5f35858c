/*
 * gguf_write.c - GGUF v3 writer (see gguf_write.h).
 *
 * File layout: "GGUF" | u32 3 | u64 n_tensors | u64 n_kv | metadata |
 * tensor infos (name, u32 n_dims, u64 ne[n_dims], u32 type, u64 offset) |
 * zero padding to 32 | data, every tensor at a multiple of 32, the file end
 * padded to 32 as well.
 */
#include <string.h>

#include "gguf_write.h"
#include "internal.h"

void
gw_init(gguf_writer *w)
{
    memset(w, 0, sizeof *w);
}

void
gw_free(gguf_writer *w)
{
    size_t i;

    for (i = 0; i < w->n_kv; i++)
        gpt_free(w->keys[i]);
    gpt_free(w->keys);
    for (i = 0; i < w->n_tensors; i++)
        gpt_free(w->tensors[i].name);
    gpt_free(w->tensors);
    gpt_free(w->kv);
    memset(w, 0, sizeof *w);
}

static gpt_status
nomem(gpt_error *err)
{
    return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory writing GGUF");
}

static int
put(gguf_writer *w, const void *p, size_t n)
{
    if (w->kv_cap - w->kv_len < n) {
        size_t cap = w->kv_cap ? w->kv_cap : 4096;
        uint8_t *nb;
        while (cap - w->kv_len < n)
            cap *= 2;
        nb = gpt_realloc(w->kv, cap);
        if (!nb)
            return 0;
        w->kv = nb;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
    return 1;
}

static int
put_u32(gguf_writer *w, uint32_t v)
{
    uint8_t b[4];
    int i;

    for (i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return put(w, b, 4);
}

static int
put_u64(gguf_writer *w, uint64_t v)
{
    uint8_t b[8];
    int i;

    for (i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return put(w, b, 8);
}

static int
put_str(gguf_writer *w, const char *s, size_t n)
{
    return put_u64(w, n) && put(w, s, n);
}

/* Starts an entry: checks the key is new, writes key and type. */
static gpt_status
begin(gguf_writer *w, const char *key, size_t key_len, uint32_t type,
      gpt_error *err)
{
    char **nk;
    uint64_t i;

    for (i = 0; i < w->n_kv; i++)
        if (strlen(w->keys[i]) == key_len &&
            memcmp(w->keys[i], key, key_len) == 0)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "metadata key %.*s added twice",
                                 (int)(key_len > 200 ? 200 : key_len), key);
    nk = gpt_realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *nk);
    if (!nk)
        return nomem(err);
    w->keys = nk;
    nk[w->n_kv] = gpt_malloc(key_len + 1);
    if (!nk[w->n_kv])
        return nomem(err);
    memcpy(nk[w->n_kv], key, key_len);
    nk[w->n_kv][key_len] = '\0';
    w->n_kv++;
    if (!put_str(w, key, key_len) || !put_u32(w, type))
        return nomem(err);
    return GPT_OK;
}

gpt_status
gw_add_u32(gguf_writer *w, const char *key, uint32_t v, gpt_error *err)
{
    gpt_status st = begin(w, key, strlen(key), GGUF_U32, err);

    if (st == GPT_OK && !put_u32(w, v))
        st = nomem(err);
    return st;
}

gpt_status
gw_add_f32(gguf_writer *w, const char *key, float v, gpt_error *err)
{
    gpt_status st = begin(w, key, strlen(key), GGUF_F32, err);
    uint32_t bits;

    memcpy(&bits, &v, 4);
    if (st == GPT_OK && !put_u32(w, bits))
        st = nomem(err);
    return st;
}

gpt_status
gw_add_string(gguf_writer *w, const char *key, const char *s, size_t len,
              gpt_error *err)
{
    gpt_status st = begin(w, key, strlen(key), GGUF_STRING, err);

    if (st == GPT_OK && !put_str(w, s, len))
        st = nomem(err);
    return st;
}

gpt_status
gw_add_i32_array(gguf_writer *w, const char *key, const int32_t *v,
                 uint64_t n, gpt_error *err)
{
    gpt_status st = begin(w, key, strlen(key), GGUF_ARRAY, err);
    uint64_t i;

    if (st != GPT_OK)
        return st;
    if (!put_u32(w, GGUF_I32) || !put_u64(w, n))
        return nomem(err);
    for (i = 0; i < n; i++)
        if (!put_u32(w, (uint32_t)v[i]))
            return nomem(err);
    return GPT_OK;
}

gpt_status
gw_add_string_array(gguf_writer *w, const char *key, const char *const *s,
                    const size_t *lens, uint64_t n, gpt_error *err)
{
    gpt_status st = begin(w, key, strlen(key), GGUF_ARRAY, err);
    uint64_t i;

    if (st != GPT_OK)
        return st;
    if (!put_u32(w, GGUF_STRING) || !put_u64(w, n))
        return nomem(err);
    for (i = 0; i < n; i++)
        if (!put_str(w, s[i], lens[i]))
            return nomem(err);
    return GPT_OK;
}

gpt_status
gw_add_raw(gguf_writer *w, const char *key, size_t key_len, uint32_t type,
           const void *value, size_t value_len, gpt_error *err)
{
    gpt_status st = begin(w, key, key_len, type, err);

    if (st == GPT_OK && !put(w, value, value_len))
        st = nomem(err);
    return st;
}

uint64_t
gw_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne,
                 gpt_error *err)
{
    uint32_t bs = ggml_block_size(type), bb = ggml_block_bytes(type);
    uint64_t n = 1;
    uint32_t i;

    if (bs == 0 || bb == 0) {
        gpt_set_error(err, GPT_ERR_UNSUPPORTED, "unknown ggml type %u", type);
        return 0;
    }
    if (n_dims == 0 || n_dims > 4 || ne[0] % bs != 0) {
        gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                      "a %s tensor needs rows that are a multiple of %u",
                      ggml_type_name(type), bs);
        return 0;
    }
    for (i = 0; i < n_dims; i++) {
        if (ne[i] == 0 || n > (UINT64_MAX >> 8) / ne[i]) {
            gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                          "tensor shape is empty or too large");
            return 0;
        }
        n *= ne[i];
    }
    return n / bs * bb;
}

static uint64_t
align_up(uint64_t n)
{
    return (n + GW_ALIGNMENT - 1) / GW_ALIGNMENT * GW_ALIGNMENT;
}

gpt_status
gw_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
              const uint64_t *ne, uint32_t type, gpt_error *err)
{
    gw_tensor *t;
    uint64_t nbytes;
    uint32_t i;
    size_t j;

    for (j = 0; j < w->n_tensors; j++)
        if (strcmp(w->tensors[j].name, name) == 0)
            return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                                 "tensor %s added twice", name);
    nbytes = gw_tensor_nbytes(type, n_dims, ne, err);
    if (nbytes == 0) {
        gpt_error_prefix(err, name);
        return err ? err->code : GPT_ERR_INVALID_ARGUMENT;
    }
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        gw_tensor *nt = gpt_realloc(w->tensors, cap * sizeof *nt);
        if (!nt)
            return nomem(err);
        w->tensors = nt;
        w->cap_tensors = cap;
    }
    t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = gpt_malloc(strlen(name) + 1);
    if (!t->name)
        return nomem(err);
    strcpy(t->name, name);
    w->n_tensors++;
    t->n_dims = n_dims;
    for (i = 0; i < 4; i++)
        t->ne[i] = i < n_dims ? ne[i] : 1;
    t->type = type;
    t->offset = align_up(w->data_size);
    t->nbytes = nbytes;
    w->data_size = t->offset + nbytes;
    return GPT_OK;
}

static gpt_status
write_bytes(FILE *fp, const void *p, size_t n, gpt_error *err)
{
    if (n && fwrite(p, 1, n, fp) != n)
        return gpt_set_error(err, GPT_ERR_INTERNAL,
                             "write failed (disk full?)");
    return GPT_OK;
}

static gpt_status
write_zeros(FILE *fp, uint64_t n, gpt_error *err)
{
    static const uint8_t zeros[GW_ALIGNMENT];

    while (n > 0) {
        size_t k = n > sizeof zeros ? sizeof zeros : (size_t)n;
        gpt_status st = write_bytes(fp, zeros, k, err);
        if (st != GPT_OK)
            return st;
        n -= k;
    }
    return GPT_OK;
}

gpt_status
gw_write_header(gguf_writer *w, FILE *fp, gpt_error *err)
{
    gguf_writer h; /* reuse the byte buffer code for the header */
    gpt_status st = GPT_OK;
    size_t i;
    uint32_t k;

    memset(&h, 0, sizeof h);
    if (!put(&h, "GGUF", 4) || !put_u32(&h, 3) ||
        !put_u64(&h, w->n_tensors) || !put_u64(&h, w->n_kv) ||
        !put(&h, w->kv, w->kv_len))
        st = nomem(err);
    for (i = 0; st == GPT_OK && i < w->n_tensors; i++) {
        const gw_tensor *t = &w->tensors[i];
        int ok = put_str(&h, t->name, strlen(t->name)) &&
                 put_u32(&h, t->n_dims);
        for (k = 0; ok && k < t->n_dims; k++)
            ok = put_u64(&h, t->ne[k]);
        if (!ok || !put_u32(&h, t->type) || !put_u64(&h, t->offset))
            st = nomem(err);
    }
    if (st == GPT_OK)
        st = write_bytes(fp, h.kv, h.kv_len, err);
    if (st == GPT_OK)
        st = write_zeros(fp, align_up(h.kv_len) - h.kv_len, err);
    gpt_free(h.kv);
    w->written = 0;
    w->next = 0;
    return st;
}

gpt_status
gw_write_tensor(gguf_writer *w, FILE *fp, size_t index, const void *data,
                uint64_t nbytes, gpt_error *err)
{
    const gw_tensor *t;
    gpt_status st;

    if (index != w->next || index >= w->n_tensors)
        return gpt_set_error(err, GPT_ERR_INTERNAL,
                             "tensor %zu written out of order", index);
    t = &w->tensors[index];
    if (nbytes != t->nbytes)
        return gpt_set_error(err, GPT_ERR_INTERNAL,
                             "tensor %s: %llu bytes given, %llu expected",
                             t->name, (unsigned long long)nbytes,
                             (unsigned long long)t->nbytes);
    if ((st = write_zeros(fp, t->offset - w->written, err)) != GPT_OK ||
        (st = write_bytes(fp, data, (size_t)nbytes, err)) != GPT_OK)
        return st;
    w->written = t->offset + nbytes;
    w->next++;
    return GPT_OK;
}

gpt_status
gw_finish(gguf_writer *w, FILE *fp, gpt_error *err)
{
    if (w->next != w->n_tensors)
        return gpt_set_error(err, GPT_ERR_INTERNAL,
                             "%zu of %zu tensors written", w->next,
                             w->n_tensors);
    /* pad the end too, as ggml does, so every aligned span fits */
    return write_zeros(fp, align_up(w->written) - w->written, err);
}
