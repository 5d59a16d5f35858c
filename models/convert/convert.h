/*
 * convert.h - the pieces of gpt-convert shared by its source files.
 *
 * Both modes (Hugging Face checkpoint -> GGUF, GGUF -> requantized GGUF)
 * build a gguf_writer with the metadata and a plan: one cv_tensor per output
 * tensor saying where its source bytes are and how to turn them into the
 * output type.  cv_write_file() then streams the file out.
 */
#ifndef GPT_CONVERT_H
#define GPT_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "gguf_write.h"
#include "gpt.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gpt-convert reads and writes little-endian files on a little-endian host"
#endif

typedef struct cv_options {
    const char *in, *out;
    uint32_t type;    /* GGML_F32, GGML_F16 or GGML_Q8_0 */
    const char *name; /* general.name, or NULL for the folder's name */
    int verify;       /* open the result with the core before renaming */
    int quiet;
} cv_options;

typedef struct cv_tensor {
    char name[96];       /* output name */
    uint32_t n_dims;
    uint64_t ne[4];      /* output shape, ne[0] contiguous */
    uint32_t out_type;   /* ggml type written */
    const void *src;     /* source bytes (unaligned; in a mapping) */
    uint32_t src_type;   /* GGML_F32/F16/BF16, or out_type for a raw copy */
    uint64_t src_nbytes;
    int transpose;       /* 2-D: source is (ne[0] rows, ne[1] cols) */
    char src_name[96];   /* for messages */
    const char *src_file; /* for messages */
} cv_tensor;

/* general.file_type (llama_ftype) of a file whose matrices have this type. */
uint32_t cv_file_type(uint32_t ggml_type);

/* Writes OUT.tmp, checks it loads (o->verify), renames it to o->out. */
gpt_status cv_write_file(const cv_options *o, gguf_writer *w,
                         const cv_tensor *plan, size_t n, gpt_error *err);

/* Reads a whole (small) text file; gpt_free(*buf).  Errors name the file. */
gpt_status cv_read_file(const char *path, char **buf, size_t *len,
                        gpt_error *err);

gpt_status cv_convert_hf(const cv_options *o, gpt_error *err);
gpt_status cv_requantize(const cv_options *o, gpt_error *err);

#endif
