/*
 * model.c - opening a GGUF file as a GPT-2 model.
 *
 * The file is mapped read-only and shared (MAP_SHARED, PROT_READ): every
 * process that opens the same file shares one copy of the weights through
 * the page cache, and nothing is copied to the heap.  Everything the forward
 * pass will touch is validated here first: hyperparameters, and for every
 * tensor its presence, type and shape.  After gpt_model_open() returns, the
 * model is immutable, so any number of threads may use it.
 *
 * A file that is truncated in place while mapped makes reads of the lost
 * pages raise SIGBUS; replace model files by rename (write a new file, then
 * mv it over the old name) so that mapped copies stay valid.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mapping.h"
#include "model.h"

#define MAX_CTX (1 << 20)
#define MAX_EMBD 65536
#define MAX_LAYERS 1024
#define MAX_VOCAB (1 << 24)

static char *
dup_str(const char *s, size_t n)
{
    char *p = gpt_malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Maps path read-only.  Refuses what is not a regular file (a directory, a
 * fifo: opened non-blocking so a fifo cannot hang us). */
static gpt_status
map_file(const char *path, void **map, size_t *size, gpt_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    void *p;

    if (fd < 0) {
        int e = errno;
        return gpt_set_error(err, e == ENOENT ? GPT_ERR_NOT_FOUND
                                              : GPT_ERR_NOT_FOUND,
                             "cannot open model file: %s", strerror(e));
    }
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return gpt_set_error(err, GPT_ERR_NOT_FOUND,
                             "cannot stat model file: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return gpt_set_error(err, GPT_ERR_NOT_FOUND,
                             "model path is not a regular file (it is a %s)",
                             S_ISDIR(st.st_mode)    ? "directory"
                             : S_ISFIFO(st.st_mode) ? "fifo"
                                                    : "special file");
    }
    if (st.st_size == 0) {
        close(fd);
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "model file is empty");
    }
    p = gpt_map_aligned(fd, (size_t)st.st_size);
    close(fd);
    if (p == MAP_FAILED)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "cannot map model file: %s", strerror(errno));
    *map = p;
    *size = (size_t)st.st_size;
    return GPT_OK;
}

/* Finds a tensor and checks its type class and shape.  Shapes are printed
 * in GGUF order ([ne0, ne1], ne0 contiguous). */
static gpt_status
get_tensor(const gguf_file *f, const char *name, int ne0, int ne1,
           int vector_only, const gguf_tensor **out, gpt_error *err)
{
    const gguf_tensor *t = gguf_find_tensor(f, name);
    int want_dims = ne1 > 0 ? 2 : 1;

    if (!t)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %s is missing", name);
    if (t->n_dims != (uint32_t)want_dims || t->ne[0] != (uint64_t)ne0 ||
        (want_dims == 2 && t->ne[1] != (uint64_t)ne1)) {
        char have[96], want[64];
        if (t->n_dims == 1)
            snprintf(have, sizeof have, "[%llu]",
                     (unsigned long long)t->ne[0]);
        else if (t->n_dims == 2)
            snprintf(have, sizeof have, "[%llu, %llu]",
                     (unsigned long long)t->ne[0],
                     (unsigned long long)t->ne[1]);
        else
            snprintf(have, sizeof have, "%u dimensions", t->n_dims);
        if (want_dims == 1)
            snprintf(want, sizeof want, "[%d]", ne0);
        else
            snprintf(want, sizeof want, "[%d, %d]", ne0, ne1);
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %s has shape %s, expected %s", name,
                             have, want);
    }
    if (vector_only && t->type != GGML_F32)
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "tensor %s has type %s; norms and biases must "
                             "be F32",
                             name, ggml_type_name(t->type));
    if (t->type == GGML_F32 && ((uintptr_t)t->data & 3) != 0)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "tensor %s is not 4-byte aligned", name);
    *out = t;
    return GPT_OK;
}

static gpt_status
get_vector(const gguf_file *f, const char *name, int n, const float **out,
           gpt_error *err)
{
    const gguf_tensor *t;
    gpt_status st = get_tensor(f, name, n, 0, 1, &t, err);

    if (st == GPT_OK)
        *out = t->data;
    return st;
}

static gpt_status
get_matrix(const gguf_file *f, const char *name, int rows, int cols,
           gpt_matrix *m, gpt_error *err)
{
    const gguf_tensor *t;
    gpt_status st = get_tensor(f, name, cols, rows, 0, &t, err);

    if (st != GPT_OK)
        return st;
    if (t->type == GGML_Q4_0)
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "tensor %s has type Q4_0, which this build "
                             "does not run; use F32, F16, BF16 or Q8_0",
                             name);
    m->type = t->type;
    m->data = t->data;
    m->rows = rows;
    m->cols = cols;
    m->row_bytes = (size_t)cols / ggml_block_size(t->type) *
                   ggml_block_bytes(t->type);
    return GPT_OK;
}

static gpt_status
read_hparams(gpt_model *m, gpt_error *err)
{
    const gguf_file *f = &m->gguf;
    gguf_str s;
    uint64_t v;
    double eps;
    gpt_status st;

    if ((st = gguf_get_string(f, "general.architecture", &s, err)) != GPT_OK)
        return st;
    if (s.len != 4 || memcmp(s.ptr, "gpt2", 4) != 0) {
        char arch[40];
        size_t n = s.len < 32 ? (size_t)s.len : 32, i;
        for (i = 0; i < n; i++)
            arch[i] = (s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f) ? s.ptr[i] : '?';
        arch[n] = '\0';
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "architecture is \"%s\", only \"gpt2\" is "
                             "supported",
                             arch);
    }
#define GET(key, max, field)                                              \
    do {                                                                  \
        if ((st = gguf_get_uint(f, key, max, &v, err)) != GPT_OK)         \
            return st;                                                    \
        if (v == 0)                                                       \
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,              \
                                 "metadata %s is 0", key);                \
        m->field = (int)v;                                                \
    } while (0)
    GET("gpt2.context_length", MAX_CTX, n_ctx);
    GET("gpt2.embedding_length", MAX_EMBD, n_embd);
    GET("gpt2.feed_forward_length", 4 * MAX_EMBD, n_ff);
    GET("gpt2.block_count", MAX_LAYERS, n_layer);
    GET("gpt2.attention.head_count", MAX_EMBD, n_head);
#undef GET
    if (m->n_embd % m->n_head != 0)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "embedding length %d is not a multiple of the "
                             "head count %d",
                             m->n_embd, m->n_head);
    if ((st = gguf_get_float(f, "gpt2.attention.layer_norm_epsilon", &eps,
                             err)) != GPT_OK)
        return st;
    if (!(eps > 0 && eps < 1))
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "gpt2.attention.layer_norm_epsilon is %g, "
                             "expected a small positive number",
                             eps);
    m->norm_eps = (float)eps;

    if ((st = gguf_get_string(f, "tokenizer.ggml.model", &s, err)) != GPT_OK)
        return st;
    if (s.len != 4 || memcmp(s.ptr, "gpt2", 4) != 0)
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "tokenizer.ggml.model is not \"gpt2\"; only "
                             "GPT-2's byte-level BPE is supported");
    if (gguf_get_string(f, "general.name", &s, NULL) == GPT_OK)
        m->name = dup_str(s.ptr, (size_t)s.len);
    else
        m->name = dup_str("", 0);
    if (!m->name)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    return GPT_OK;
}

static gpt_status
read_tokenizer(gpt_model *m, gpt_error *err)
{
    const char **tokens = NULL, **merges = NULL;
    uint32_t *token_lens = NULL, *merge_lens = NULL;
    uint64_t n_tokens = 0, n_merges = 0, v;
    gpt_status st;

    st = gguf_get_string_array(&m->gguf, "tokenizer.ggml.tokens", &tokens,
                               &token_lens, &n_tokens, err);
    if (st == GPT_OK)
        st = gguf_get_string_array(&m->gguf, "tokenizer.ggml.merges",
                                   &merges, &merge_lens, &n_merges, err);
    if (st == GPT_OK && (n_tokens < 256 || n_tokens > MAX_VOCAB))
        st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                           "tokenizer.ggml.tokens has %llu tokens, expected "
                           "256 to %d",
                           (unsigned long long)n_tokens, MAX_VOCAB);
    if (st == GPT_OK)
        st = gpt_tokenizer_new(tokens, token_lens, (uint32_t)n_tokens,
                               merges, merge_lens, (uint32_t)n_merges,
                               &m->tok, err);
    gguf_free_string_array(tokens, n_tokens);   /* NULL ok */
    gguf_free_string_array(merges, n_merges);
    if (st != GPT_OK)
        return st;
    m->n_vocab = (int)n_tokens;

    /* GPT-2 uses <|endoftext|> as both; default to it when absent. */
    m->eos_id = gpt_tokenizer_lookup(m->tok, "<|endoftext|>", 13);
    if (gguf_find_kv(&m->gguf, "tokenizer.ggml.eos_token_id")) {
        if ((st = gguf_get_uint(&m->gguf, "tokenizer.ggml.eos_token_id",
                                n_tokens - 1, &v, err)) != GPT_OK)
            return st;
        m->eos_id = (int32_t)v;
    }
    m->bos_id = m->eos_id;
    if (gguf_find_kv(&m->gguf, "tokenizer.ggml.bos_token_id")) {
        if ((st = gguf_get_uint(&m->gguf, "tokenizer.ggml.bos_token_id",
                                n_tokens - 1, &v, err)) != GPT_OK)
            return st;
        m->bos_id = (int32_t)v;
    }
    if (m->eos_id < 0)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "the vocabulary has no <|endoftext|> token and "
                             "tokenizer.ggml.eos_token_id is missing");
    return GPT_OK;
}

static const char *const layer_tensors[] = {
    "attn_norm.weight", "attn_norm.bias", "attn_qkv.weight", "attn_qkv.bias",
    "attn_output.weight", "attn_output.bias", "ffn_norm.weight",
    "ffn_norm.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight",
    "ffn_down.bias"};
#define N_LAYER_TENSORS 12

/* Is name one of the tensors of a gpt2 model with n_layer layers? */
static int
known_tensor(gguf_str name, int n_layer)
{
    static const char *const global[] = {"token_embd.weight",
                                         "position_embd.weight",
                                         "output_norm.weight",
                                         "output_norm.bias", "output.weight"};
    char buf[96];
    size_t i, n = name.len < sizeof buf - 1 ? (size_t)name.len : 0;
    int l = -1, used = 0;

    if (n == 0)
        return 0;
    memcpy(buf, name.ptr, n);
    buf[n] = '\0';
    for (i = 0; i < sizeof global / sizeof *global; i++)
        if (strcmp(buf, global[i]) == 0)
            return 1;
    if (sscanf(buf, "blk.%d.%n", &l, &used) != 1 || used == 0 || l < 0 ||
        l >= n_layer)
        return 0;
    {
        char canon[32]; /* "blk.01." or "blk.+1." is not layer 1's name */
        snprintf(canon, sizeof canon, "blk.%d.", l);
        if (strncmp(canon, buf, (size_t)used) != 0 ||
            strlen(canon) != (size_t)used)
            return 0;
    }
    for (i = 0; i < N_LAYER_TENSORS; i++)
        if (strcmp(buf + used, layer_tensors[i]) == 0)
            return 1;
    return 0;
}

/* A gpt2 file holds exactly its model's tensors (llama.cpp refuses others
 * too).  Checking the count first also bounds the cost of the lookups in
 * read_tensors, each linear in the number of tensors. */
static gpt_status
check_tensor_count(gpt_model *m, int after_lookups, gpt_error *err)
{
    const gguf_file *f = &m->gguf;
    uint64_t want = 4 + (uint64_t)N_LAYER_TENSORS * (uint64_t)m->n_layer +
                    (after_lookups ? !m->tied_output : 1), i;
    char name[96];

    if (after_lookups ? f->n_tensors == want : f->n_tensors <= want)
        return GPT_OK;
    for (i = 0; i < f->n_tensors; i++)
        if (!known_tensor(f->tensors[i].name, m->n_layer)) {
            size_t n = f->tensors[i].name.len < 80
                           ? (size_t)f->tensors[i].name.len : 80, k;
            for (k = 0; k < n; k++) {
                char ch = f->tensors[i].name.ptr[k];
                name[k] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
            }
            name[n] = '\0';
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "tensor %s is not part of a gpt2 model "
                                 "with %d layers",
                                 name, m->n_layer);
        }
    return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                         "the file has %llu tensors, expected %llu for a "
                         "gpt2 model with %d layers",
                         (unsigned long long)f->n_tensors,
                         (unsigned long long)want, m->n_layer);
}

static gpt_status
read_tensors(gpt_model *m, gpt_error *err)
{
    const gguf_file *f = &m->gguf;
    int d = m->n_embd, l;
    gpt_status st;
    char name[96];

    if ((st = check_tensor_count(m, 0, err)) != GPT_OK)
        return st;
    if ((st = get_matrix(f, "token_embd.weight", m->n_vocab, d, &m->tok_embd,
                         err)) != GPT_OK ||
        (st = get_matrix(f, "position_embd.weight", m->n_ctx, d,
                         &m->pos_embd, err)) != GPT_OK ||
        (st = get_vector(f, "output_norm.weight", d, &m->lnf_w, err)) !=
            GPT_OK ||
        (st = get_vector(f, "output_norm.bias", d, &m->lnf_b, err)) != GPT_OK)
        return st;
    if (gguf_find_tensor(f, "output.weight")) {
        if ((st = get_matrix(f, "output.weight", m->n_vocab, d, &m->output,
                             err)) != GPT_OK)
            return st;
        m->tied_output = 0;
    } else {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }
    m->layers = gpt_calloc((size_t)m->n_layer, sizeof *m->layers);
    if (!m->layers)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    for (l = 0; l < m->n_layer; l++) {
        gpt_layer *L = &m->layers[l];
#define V(suffix, n, field)                                                 \
    snprintf(name, sizeof name, "blk.%d." suffix, l);                       \
    if ((st = get_vector(f, name, n, &L->field, err)) != GPT_OK)            \
        return st;
#define M(suffix, rows, cols, field)                                        \
    snprintf(name, sizeof name, "blk.%d." suffix, l);                       \
    if ((st = get_matrix(f, name, rows, cols, &L->field, err)) != GPT_OK)   \
        return st;
        V("attn_norm.weight", d, ln1_w);
        V("attn_norm.bias", d, ln1_b);
        M("attn_qkv.weight", 3 * d, d, qkv);
        V("attn_qkv.bias", 3 * d, qkv_b);
        M("attn_output.weight", d, d, proj);
        V("attn_output.bias", d, proj_b);
        V("ffn_norm.weight", d, ln2_w);
        V("ffn_norm.bias", d, ln2_b);
        M("ffn_up.weight", m->n_ff, d, fc);
        V("ffn_up.bias", m->n_ff, fc_b);
        M("ffn_down.weight", d, m->n_ff, fc_proj);
        V("ffn_down.bias", d, fc_proj_b);
#undef V
#undef M
    }
    return check_tensor_count(m, 1, err);
}

/* n_params, the matrices' common type and a "TYPE:count" summary. */
static void
summarize(gpt_model *m)
{
    int counts[64] = {0};
    uint64_t i;
    uint32_t mat_type = UINT32_MAX;
    int mixed = 0;
    size_t off = 0;

    m->n_params = 0;
    for (i = 0; i < m->gguf.n_tensors; i++) {
        const gguf_tensor *t = &m->gguf.tensors[i];
        m->n_params += (int64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
        if (t->type < 64)
            counts[t->type]++;
        if (t->n_dims == 2 &&
            !(t->name.len >= 13 &&
              memcmp(t->name.ptr, "position_embd", 13) == 0)) {
            if (mat_type == UINT32_MAX)
                mat_type = t->type;
            else if (mat_type != t->type)
                mixed = 1;
        }
    }
    snprintf(m->weight_type, sizeof m->weight_type, "%s",
             mixed ? "mixed" : ggml_type_name(mat_type));
    m->tensor_types[0] = '\0';
    for (i = 0; i < 64; i++)
        if (counts[i] && off < sizeof m->tensor_types)
            off += (size_t)snprintf(m->tensor_types + off,
                                    sizeof m->tensor_types - off, "%s%s:%d",
                                    off ? "," : "",
                                    ggml_type_name((uint32_t)i), counts[i]);
}

GPT_API gpt_status
gpt_model_open(const char *path, gpt_model **out, gpt_error *err)
{
    gpt_model *m;
    gpt_status st;

    *out = NULL;
    if (!path || !*path)
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "model path is empty");
    m = gpt_calloc(1, sizeof *m);
    if (!m) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        gpt_error_prefix(err, path);
        return st;
    }
    atomic_init(&m->refcount, 1);
    m->path = dup_str(path, strlen(path));
    if (!m->path) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto fail;
    }
    if ((st = map_file(path, &m->map, &m->map_size, err)) != GPT_OK ||
        (st = gguf_parse(m->map, m->map_size, &m->gguf, err)) != GPT_OK ||
        (st = read_hparams(m, err)) != GPT_OK ||
        (st = read_tokenizer(m, err)) != GPT_OK ||
        (st = read_tensors(m, err)) != GPT_OK)
        goto fail;
    summarize(m);
    *out = m;
    return GPT_OK;

fail:
    gpt_error_prefix(err, path);
    gpt_model_release(m);
    return st;
}

GPT_API void
gpt_model_retain(gpt_model *m)
{
    atomic_fetch_add(&m->refcount, 1);
}

GPT_API void
gpt_model_release(gpt_model *m)
{
    if (!m || atomic_fetch_sub(&m->refcount, 1) != 1)
        return;
    gpt_tokenizer_free(m->tok);
    gpt_free(m->layers);
    gguf_free(&m->gguf);
    if (m->map)
        munmap(m->map, m->map_size);
    gpt_free(m->name);
    gpt_free(m->path);
    gpt_free(m);
}

GPT_API void
gpt_model_get_info(const gpt_model *m, gpt_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->path = m->path;
    info->architecture = "gpt2";
    info->name = m->name;
    info->gguf_version = (int)m->gguf.version;
    info->n_params = m->n_params;
    info->n_ctx = m->n_ctx;
    info->n_embd = m->n_embd;
    info->n_ff = m->n_ff;
    info->n_layer = m->n_layer;
    info->n_head = m->n_head;
    info->norm_eps = m->norm_eps;
    info->n_vocab = m->n_vocab;
    info->bos_id = m->bos_id;
    info->eos_id = m->eos_id;
    info->tied_output = m->tied_output;
    info->weight_type = m->weight_type;
    info->tensor_types = m->tensor_types;
    info->file_size = (int64_t)m->map_size;
    info->bytes_mapped = (int64_t)m->map_size;
}

/* ------------------------------------------------------------ tokenizer */

GPT_API gpt_status
gpt_tokenize(const gpt_model *m, const char *text, size_t len, int32_t **ids,
             size_t *n_ids, gpt_error *err)
{
    return gpt_tokenizer_encode(m->tok, text, len, ids, n_ids, err);
}

GPT_API gpt_status
gpt_token_count(const gpt_model *m, const char *text, size_t len,
                size_t *n_tokens, gpt_error *err)
{
    return gpt_tokenizer_count(m->tok, text, len, n_tokens, err);
}

GPT_API gpt_status
gpt_detokenize(const gpt_model *m, const int32_t *ids, size_t n_ids,
               char **text, size_t *len, gpt_error *err)
{
    return gpt_tokenizer_decode(m->tok, ids, n_ids, text, len, err);
}

GPT_API const char *
gpt_token_bytes(const gpt_model *m, int32_t id, size_t *len)
{
    return gpt_tokenizer_token_bytes(m->tok, id, len);
}
