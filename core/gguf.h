/*
 * gguf.h - a validating, zero-copy reader of GGUF files (versions 2 and 3).
 *
 * gguf_parse() works on bytes already in memory (the model's mmap, or a
 * fuzzer's buffer): it checks every count, length, offset and size against
 * the buffer before anything points into it, so a truncated or hostile file
 * gives an error and never an out-of-bounds read.  Strings and tensor data
 * are not copied: they point into the buffer.
 */
#ifndef GPT_GGUF_H
#define GPT_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

enum gguf_value_type {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4,
    GGUF_I32 = 5, GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8,
    GGUF_ARRAY = 9, GGUF_U64 = 10, GGUF_I64 = 11, GGUF_F64 = 12,
    GGUF_N_VALUE_TYPES
};

/* ggml tensor types we know the layout of (ggml.h numbering). */
enum ggml_type {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q8_0 = 8, GGML_BF16 = 30
};

typedef struct gguf_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    uint32_t type;        /* enum gguf_value_type */
    const uint8_t *value; /* the value's bytes (for arrays: the elements) */
    uint32_t arr_type;    /* arrays only */
    uint64_t arr_n;       /* arrays only */
} gguf_kv;

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];       /* ne[0] is the contiguous dimension; unused = 1 */
    uint32_t type;        /* enum ggml_type */
    uint64_t offset;      /* relative to the data section */
    const void *data;
    uint64_t nbytes;
} gguf_tensor;

typedef struct gguf_file {
    const uint8_t *base;
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv, n_tensors;
    gguf_kv *kv;
    gguf_tensor *tensors;
    size_t data_offset;
} gguf_file;

/* Parses and validates the container (not the gpt2 semantics). */
gpt_status gguf_parse(const void *base, size_t size, gguf_file *out,
                      gpt_error *err);
void gguf_free(gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: a missing key or a wrong type is an error naming the key.
 * Integer getters accept any integer type whose value fits. */
gpt_status gguf_get_uint(const gguf_file *f, const char *key, uint64_t max,
                         uint64_t *out, gpt_error *err);
gpt_status gguf_get_float(const gguf_file *f, const char *key, double *out,
                          gpt_error *err);
gpt_status gguf_get_string(const gguf_file *f, const char *key, gguf_str *out,
                           gpt_error *err);
/* A string array: fills ptrs/lens, both in one allocation that
 * gguf_free_string_array(*ptrs, *n) releases (NULL ok). */
gpt_status gguf_get_string_array(const gguf_file *f, const char *key,
                                 const char ***ptrs, uint32_t **lens,
                                 uint64_t *n, gpt_error *err);
void gguf_free_string_array(const char **ptrs, uint64_t n);

const char *ggml_type_name(uint32_t type);
/* Block size (weights per block) and bytes per block; 0 if unknown. */
uint32_t ggml_block_size(uint32_t type);
uint32_t ggml_block_bytes(uint32_t type);

#endif
