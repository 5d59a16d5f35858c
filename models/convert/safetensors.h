/*
 * safetensors.h - a validating reader of .safetensors files.
 *
 * Layout: u64 little-endian N | N bytes of JSON header | data.  The header is
 * an object {name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
 * plus an optional "__metadata__" object of strings; offsets are relative to
 * the data start.  The file is mapped read-only; every tensor's span is
 * checked against the data size and against shape x dtype size before any
 * pointer into it is handed out.
 */
#ifndef GPT_CONVERT_SAFETENSORS_H
#define GPT_CONVERT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the format's own limit: 100 MB */

typedef struct st_tensor {
    char *name;          /* as in the file */
    char dtype[16];      /* "F32", "F16", "BF16", ... */
    uint32_t elem_size;  /* bytes per element */
    uint32_t n_dims;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t n_elems;
    const uint8_t *data; /* n_elems * elem_size bytes */
    uint64_t nbytes;
} st_tensor;

typedef struct st_file {
    void *map;
    size_t size;
    st_tensor *tensors;
    size_t n_tensors;
} st_file;

/* Maps and validates path.  Error messages do not name the file (the caller
 * prefixes them). */
gpt_status st_open(const char *path, st_file *out, gpt_error *err);
void st_close(st_file *f);

#endif
