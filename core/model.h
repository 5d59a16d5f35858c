/*
 * model.h - a GPT-2 model: hyperparameters, weight views into the mapped
 * GGUF file, and the tokenizer.  Immutable after gpt_model_open().
 */
#ifndef GPT_MODEL_H
#define GPT_MODEL_H

#include <stdatomic.h>

#include "gguf.h"
#include "gpt.h"
#include "tokenizer.h"

/* A weight matrix W[rows][cols] in the file, rows contiguous: GGUF dims are
 * [cols, rows] (ne[0] = cols).  y = W x reads one row per output. */
typedef struct gpt_matrix {
    uint32_t type;       /* enum ggml_type */
    const void *data;
    int rows, cols;
    size_t row_bytes;
} gpt_matrix;

typedef struct gpt_layer {
    const float *ln1_w, *ln1_b;     /* [n_embd] */
    gpt_matrix qkv;                 /* [3*n_embd][n_embd] */
    const float *qkv_b;             /* [3*n_embd] */
    gpt_matrix proj;                /* [n_embd][n_embd] */
    const float *proj_b;            /* [n_embd] */
    const float *ln2_w, *ln2_b;     /* [n_embd] */
    gpt_matrix fc;                  /* [n_ff][n_embd] */
    const float *fc_b;              /* [n_ff] */
    gpt_matrix fc_proj;             /* [n_embd][n_ff] */
    const float *fc_proj_b;         /* [n_embd] */
} gpt_layer;

struct gpt_model {
    _Atomic int refcount;
    char *path;
    char *name;
    void *map;            /* mmap of the whole file */
    size_t map_size;
    gguf_file gguf;

    int n_ctx, n_embd, n_ff, n_layer, n_head, n_vocab;
    float norm_eps;
    int32_t bos_id, eos_id;

    gpt_matrix tok_embd;  /* [n_vocab][n_embd] */
    gpt_matrix pos_embd;  /* [n_ctx][n_embd] */
    gpt_layer *layers;    /* [n_layer] */
    const float *lnf_w, *lnf_b;
    gpt_matrix output;    /* [n_vocab][n_embd]; tok_embd when tied */
    int tied_output;

    gpt_tokenizer *tok;
    int64_t n_params;
    char weight_type[16];
    char tensor_types[128];
};

#endif
