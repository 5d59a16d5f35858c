/*
 * gguf_write.h - writes GGUF version 3 files.
 *
 * Metadata is serialized into memory as it is added; tensors are declared
 * first (name, ggml ne, type) so the header with every data offset can be
 * written before any tensor data, and the data then streams out one tensor
 * at a time (a 1.5B-parameter model never has to fit in memory).
 *
 *   gw_init(&w); gw_add_u32(&w, "gpt2.block_count", 12, err); ...
 *   gw_add_tensor(&w, "token_embd.weight", 2, ne, GGML_Q8_0, err); ...
 *   gw_write_header(&w, fp, err);
 *   for each tensor in order: gw_write_tensor(&w, fp, i, data, nbytes, err);
 *   gw_finish(&w, fp, err); gw_free(&w);
 */
#ifndef GPT_CONVERT_GGUF_WRITE_H
#define GPT_CONVERT_GGUF_WRITE_H

#include <stdint.h>
#include <stdio.h>

#include "gguf.h"
#include "gpt.h"

#define GW_ALIGNMENT 32

typedef struct gw_tensor {
    char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t offset; /* in the data section */
    uint64_t nbytes;
} gw_tensor;

typedef struct gguf_writer {
    uint8_t *kv;     /* serialized metadata entries */
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    char **keys;     /* for the duplicate check */
    gw_tensor *tensors;
    size_t n_tensors, cap_tensors;
    uint64_t data_size; /* bytes of the data section so far */
    uint64_t written;   /* bytes of data section written by gw_write_tensor */
    size_t next;        /* the next tensor gw_write_tensor expects */
} gguf_writer;

void gw_init(gguf_writer *w);
void gw_free(gguf_writer *w);

gpt_status gw_add_u32(gguf_writer *w, const char *key, uint32_t v,
                      gpt_error *err);
gpt_status gw_add_f32(gguf_writer *w, const char *key, float v,
                      gpt_error *err);
gpt_status gw_add_string(gguf_writer *w, const char *key, const char *s,
                         size_t len, gpt_error *err);
gpt_status gw_add_i32_array(gguf_writer *w, const char *key,
                            const int32_t *v, uint64_t n, gpt_error *err);
gpt_status gw_add_string_array(gguf_writer *w, const char *key,
                               const char *const *s, const size_t *lens,
                               uint64_t n, gpt_error *err);
/* An entry copied from another file: type and the value's encoded bytes
 * (for arrays: element type, count and elements). */
gpt_status gw_add_raw(gguf_writer *w, const char *key, size_t key_len,
                      uint32_t type, const void *value, size_t value_len,
                      gpt_error *err);

/* ne[0] is the contiguous dimension. */
gpt_status gw_add_tensor(gguf_writer *w, const char *name, uint32_t n_dims,
                         const uint64_t *ne, uint32_t type, gpt_error *err);

gpt_status gw_write_header(gguf_writer *w, FILE *fp, gpt_error *err);
/* Tensors must come in the order they were added, with exactly the size
 * their type and shape give. */
gpt_status gw_write_tensor(gguf_writer *w, FILE *fp, size_t index,
                           const void *data, uint64_t nbytes, gpt_error *err);
gpt_status gw_finish(gguf_writer *w, FILE *fp, gpt_error *err);

/* Bytes a tensor of this type and shape takes, or 0 (with an error) when
 * the type is unknown or ne[0] is not a multiple of the block size. */
uint64_t gw_tensor_nbytes(uint32_t type, uint32_t n_dims, const uint64_t *ne,
                          gpt_error *err);

#endif
