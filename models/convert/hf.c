/*
 * hf.c - Hugging Face GPT-2 checkpoint folder -> GGUF in llama.cpp's gpt2
 * layout.
 *
 * Inputs: config.json (hyperparameters), model.safetensors (weights),
 * vocab.json (token -> id) and merges.txt (BPE merges, "#version" first).
 *
 * Tensor mapping (HF shape -> GGUF ne):
 *   wte.weight            (V, E)    -> token_embd.weight     ne [E, V]
 *   wpe.weight            (C, E)    -> position_embd.weight  ne [E, C]  F32
 *   h.N.ln_1.{weight,bias} (E)      -> blk.N.attn_norm.*                F32
 *   h.N.attn.c_attn.weight (E, 3E)  -> blk.N.attn_qkv.weight ne [E, 3E] (T)
 *   h.N.attn.c_attn.bias  (3E)      -> blk.N.attn_qkv.bias              F32
 *   h.N.attn.c_proj.weight (E, E)   -> blk.N.attn_output.weight        (T)
 *   h.N.ln_2.*            (E)       -> blk.N.ffn_norm.*                 F32
 *   h.N.mlp.c_fc.weight   (E, F)    -> blk.N.ffn_up.weight   ne [E, F]  (T)
 *   h.N.mlp.c_proj.weight (F, E)    -> blk.N.ffn_down.weight ne [F, E]  (T)
 *   ln_f.*                (E)       -> output_norm.*                    F32
 *   lm_head.weight        (V, E)    -> output.weight (only if not = wte)
 * (T): Conv1D stores (in, out); GGUF wants rows of `in` values per output,
 * i.e. the transpose.  h.N.attn.bias / h.N.attn.masked_bias are the causal
 * mask buffers, not weights: skipped.  A "transformer." prefix is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert.h"
#include "internal.h"
#include "json.h"
#include "safetensors.h"

#define EOT_TEXT "<|endoftext|>"

typedef struct hparams {
    uint64_t n_embd, n_layer, n_head, n_ctx, n_vocab, n_ff;
    double eps;
} hparams;

typedef struct vocab {
    char **tokens;    /* by id; NUL-terminated copies */
    size_t *lens;
    int32_t *types;
    uint64_t n;
    uint32_t eot;
    const char **merges; /* point into merges_buf */
    size_t *merge_lens;
    uint64_t n_merges;
    char *merges_buf;
} vocab;

static char *
join(const char *dir, const char *file)
{
    size_t n = strlen(dir) + strlen(file) + 2;
    char *p = gpt_malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, file);
    return p;
}

/* ------------------------------------------------------------ config.json */

static gpt_status
cfg_uint(const json_value *cfg, const char *path, const char *key,
         uint64_t min, uint64_t max, uint64_t *out, gpt_error *err)
{
    const json_value *v = json_get(cfg, key);

    if (!v)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL, "%s: \"%s\" is missing",
                             path, key);
    if (v->type != JSON_NUMBER || !v->is_int || v->integer < (int64_t)min ||
        (uint64_t)v->integer > max)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "%s: \"%s\" must be an integer from %llu to %llu",
                             path, key, (unsigned long long)min,
                             (unsigned long long)max);
    *out = (uint64_t)v->integer;
    return GPT_OK;
}

static gpt_status
read_config(const char *dir, hparams *hp, gpt_error *err)
{
    char *path = join(dir, "config.json"), *text = NULL;
    json_value cfg = {0};
    const json_value *v;
    size_t len;
    gpt_status st;

    if (!path)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    if ((st = cv_read_file(path, &text, &len, err)) != GPT_OK)
        goto out;
    if ((st = json_parse(text, len, &cfg, err)) != GPT_OK) {
        gpt_error_prefix(err, path);
        goto out;
    }
    st = GPT_ERR_CORRUPT_MODEL;
    if (cfg.type != JSON_OBJECT) {
        gpt_set_error(err, st, "%s: expected a JSON object", path);
        goto out;
    }
    v = json_get(&cfg, "model_type");
    if (!v || v->type != JSON_STRING) {
        gpt_set_error(err, st, "%s: \"model_type\" is missing; expected "
                      "\"gpt2\"", path);
        goto out;
    }
    if (strcmp(v->str, "gpt2") != 0) {
        st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                           "%s: model_type \"%.60s\" is not supported; only "
                           "\"gpt2\" checkpoints (gpt2, distilgpt2, gpt2-"
                           "medium/large/xl) can be converted", path, v->str);
        goto out;
    }
    if ((st = cfg_uint(&cfg, path, "n_embd", 1, 1 << 16, &hp->n_embd, err)) ||
        (st = cfg_uint(&cfg, path, "n_layer", 1, 1024, &hp->n_layer, err)) ||
        (st = cfg_uint(&cfg, path, "n_head", 1, 1024, &hp->n_head, err)) ||
        (st = cfg_uint(&cfg, path, "vocab_size", 1, 1 << 24, &hp->n_vocab,
                       err)))
        goto out;
    st = cfg_uint(&cfg, path, json_get(&cfg, "n_positions") ? "n_positions"
                  : "n_ctx", 1, 1 << 20, &hp->n_ctx, err);
    if (st != GPT_OK)
        goto out;
    v = json_get(&cfg, "n_inner");
    if (!v || v->type == JSON_NULL)
        hp->n_ff = 4 * hp->n_embd;
    else if ((st = cfg_uint(&cfg, path, "n_inner", 1, 1 << 20, &hp->n_ff,
                            err)) != GPT_OK)
        goto out;
    st = GPT_ERR_CORRUPT_MODEL;
    v = json_get(&cfg, "layer_norm_epsilon");
    hp->eps = 1e-5; /* the transformers default */
    if (v) {
        if (v->type != JSON_NUMBER || !(v->number > 0 && v->number < 1)) {
            gpt_set_error(err, st, "%s: \"layer_norm_epsilon\" must be a "
                          "number between 0 and 1", path);
            goto out;
        }
        /* GGUF stores it as a float: 1e-80 would become 0, which the
         * runtime refuses (found by fuzz_convert) */
        if (!((float)v->number > 0 && (float)v->number < 1)) {
            gpt_set_error(err, st, "%s: \"layer_norm_epsilon\" %g is %g as "
                          "a 32-bit float (GGUF stores it so); it must stay "
                          "between 0 and 1", path, v->number,
                          (double)(float)v->number);
            goto out;
        }
        hp->eps = v->number;
    }
    if (hp->n_embd % hp->n_head != 0) {
        gpt_set_error(err, st, "%s: n_embd %llu is not a multiple of n_head "
                      "%llu", path, (unsigned long long)hp->n_embd,
                      (unsigned long long)hp->n_head);
        goto out;
    }
    /* Variants of the architecture that the gpt2 graph does not compute. */
    v = json_get(&cfg, "activation_function");
    if (v && (v->type != JSON_STRING ||
              (strcmp(v->str, "gelu_new") != 0 &&
               strcmp(v->str, "gelu_pytorch_tanh") != 0 &&
               strcmp(v->str, "gelu_fast") != 0))) {
        st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                           "%s: activation_function %.40s%s%s is not "
                           "supported (GPT-2 uses \"gelu_new\")", path,
                           v->type == JSON_STRING ? "\"" : "",
                           v->type == JSON_STRING ? v->str : "(not a string)",
                           v->type == JSON_STRING ? "\"" : "");
        goto out;
    }
    v = json_get(&cfg, "scale_attn_by_inverse_layer_idx");
    if (v && v->type == JSON_BOOL && v->boolean) {
        st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                           "%s: scale_attn_by_inverse_layer_idx is not "
                           "supported", path);
        goto out;
    }
    v = json_get(&cfg, "scale_attn_weights");
    if (v && v->type == JSON_BOOL && !v->boolean) {
        st = gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                           "%s: scale_attn_weights = false is not supported",
                           path);
        goto out;
    }
    st = GPT_OK;
out:
    json_free(&cfg);
    gpt_free(text);
    gpt_free(path);
    return st;
}

/* ------------------------------------------------- vocab.json, merges.txt */

static void
vocab_free(vocab *vb)
{
    uint64_t i;

    if (vb->tokens)
        for (i = 0; i < vb->n; i++)
            gpt_free(vb->tokens[i]);
    gpt_free(vb->tokens);
    gpt_free(vb->lens);
    gpt_free(vb->types);
    gpt_free(vb->merges);
    gpt_free(vb->merge_lens);
    gpt_free(vb->merges_buf);
    memset(vb, 0, sizeof *vb);
}

static gpt_status
read_vocab(const char *dir, const hparams *hp, vocab *vb, gpt_error *err)
{
    char *path = join(dir, "vocab.json"), *text = NULL;
    json_value voc = {0};
    size_t len, i;
    gpt_status st;
    int have_eot = 0;

    if (!path)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    if ((st = cv_read_file(path, &text, &len, err)) != GPT_OK)
        goto out;
    if ((st = json_parse(text, len, &voc, err)) != GPT_OK) {
        gpt_error_prefix(err, path);
        goto out;
    }
    st = GPT_ERR_CORRUPT_MODEL;
    if (voc.type != JSON_OBJECT || voc.len == 0) {
        gpt_set_error(err, st, "%s: expected a non-empty object {token: id}",
                      path);
        goto out;
    }
    if (voc.len > hp->n_vocab) {
        gpt_set_error(err, st, "%s has %zu tokens but config.json says "
                      "vocab_size %llu", path, voc.len,
                      (unsigned long long)hp->n_vocab);
        goto out;
    }
    vb->n = hp->n_vocab;
    vb->tokens = gpt_calloc((size_t)vb->n, sizeof *vb->tokens);
    vb->lens = gpt_calloc((size_t)vb->n, sizeof *vb->lens);
    vb->types = gpt_calloc((size_t)vb->n, sizeof *vb->types);
    if (!vb->tokens || !vb->lens || !vb->types) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < voc.len; i++) {
        json_member *m = &voc.members[i];
        const json_value *v = &m->value;
        if (v->type != JSON_NUMBER || !v->is_int || v->integer < 0 ||
            (uint64_t)v->integer >= voc.len) {
            gpt_set_error(err, st, "%s: token \"%.60s\" has id that is not an "
                          "integer from 0 to %zu", path, m->key, voc.len - 1);
            goto out;
        }
        if (vb->tokens[v->integer]) {
            gpt_set_error(err, st, "%s: id %lld is given to two tokens "
                          "(\"%.60s\" and \"%.60s\")", path,
                          (long long)v->integer, vb->tokens[v->integer],
                          m->key);
            goto out;
        }
        /* take the decoded key */
        vb->tokens[v->integer] = m->key;
        vb->lens[v->integer] = m->key_len;
        m->key = NULL;
        vb->types[v->integer] = 1; /* LLAMA_TOKEN_TYPE_NORMAL */
        if (m->key_len == strlen(EOT_TEXT) && strcmp(vb->tokens[v->integer],
                                                     EOT_TEXT) == 0) {
            vb->eot = (uint32_t)v->integer;
            vb->types[v->integer] = 3; /* CONTROL */
            have_eot = 1;
        }
    }
    /* ids 0..len-1 are now each taken once (len keys, no id twice).  A
     * vocab_size above that (padding for faster matmuls) gets unused
     * placeholder tokens, as llama.cpp's converter writes. */
    for (i = voc.len; i < vb->n; i++) {
        char tmp[32];
        int k = snprintf(tmp, sizeof tmp, "[PAD%zu]", i);
        vb->tokens[i] = gpt_malloc((size_t)k + 1);
        if (!vb->tokens[i]) {
            st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
            goto out;
        }
        memcpy(vb->tokens[i], tmp, (size_t)k + 1);
        vb->lens[i] = (size_t)k;
        vb->types[i] = 5; /* UNUSED */
    }
    if (!have_eot) {
        gpt_set_error(err, st, "%s has no \"" EOT_TEXT "\" token (GPT-2's "
                      "end-of-text and begin token)", path);
        goto out;
    }
    st = GPT_OK;
out:
    json_free(&voc);
    gpt_free(text);
    gpt_free(path);
    return st;
}

static gpt_status
read_merges(const char *dir, vocab *vb, gpt_error *err)
{
    char *path = join(dir, "merges.txt"), *p, *end;
    size_t len, cap = 0, line_no = 0;
    gpt_status st;

    if (!path)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    if ((st = cv_read_file(path, &vb->merges_buf, &len, err)) != GPT_OK)
        goto out;
    p = vb->merges_buf;
    end = p + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

        line_no++;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (line_no == 1 && n >= 8 && memcmp(p, "#version", 8) == 0)
            goto next;
        if (n == 0)
            goto next;
        sp = memchr(p, ' ', n);
        if (!sp || sp == p || sp == p + n - 1 ||
            memchr(sp + 1, ' ', n - (size_t)(sp - p) - 1) ||
            memchr(p, '\0', n)) {
            st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                               "%s line %zu: expected two tokens separated by "
                               "one space", path, line_no);
            goto out;
        }
        if (vb->n_merges == cap) {
            size_t ncap = cap ? cap * 2 : 1024;
            const char **nm = gpt_realloc(vb->merges, ncap * sizeof *nm);
            size_t *nlens;
            if (!nm) {
                st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
                goto out;
            }
            vb->merges = nm;
            nlens = gpt_realloc(vb->merge_lens, ncap * sizeof *nlens);
            if (!nlens) {
                st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
                goto out;
            }
            vb->merge_lens = nlens;
            cap = ncap;
        }
        vb->merges[vb->n_merges] = p;
        vb->merge_lens[vb->n_merges] = n;
        vb->n_merges++;
    next:
        p = nl ? nl + 1 : end;
    }
    if (vb->n_merges == 0)
        st = gpt_set_error(err, GPT_ERR_CORRUPT_MODEL, "%s holds no merges",
                           path);
out:
    gpt_free(path);
    return st;
}

/* --------------------------------------------------------------- weights */

static const char *
strip_prefix(const char *name)
{
    return strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
}

/* h.N.attn.bias and h.N.attn.masked_bias: mask buffers, not weights. */
static int
is_mask_buffer(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "h.", 2) == 0 &&
           ((n > 10 && strcmp(name + n - 10, ".attn.bias") == 0) ||
            (n > 17 && strcmp(name + n - 17, ".attn.masked_bias") == 0));
}

static const st_tensor *
find(const st_file *sf, const char *name)
{
    size_t i;

    for (i = 0; i < sf->n_tensors; i++)
        if (strcmp(strip_prefix(sf->tensors[i].name), name) == 0)
            return &sf->tensors[i];
    return NULL;
}

static void
shape_str(const uint64_t *s, uint32_t n, char *buf, size_t cap)
{
    size_t o = 0;
    uint32_t i;

    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%llu", i ? ", " : "",
                              (unsigned long long)s[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
}

typedef struct plan_ctx {
    const st_file *sf;
    const char *st_path;
    uint32_t type; /* requested matrix type */
    cv_tensor *plan;
    size_t n;
    gguf_writer *w;
    int quiet;
} plan_ctx;

/* Adds one output tensor from HF tensor `hf` of HF shape (d0[, d1]).
 * kind: 0 = 1-D or position table (F32), 1 = matrix copied as is,
 * 2 = Conv1D matrix (transposed). */
static gpt_status
add(plan_ctx *c, const char *hf, const char *gguf_name, uint64_t d0,
    uint64_t d1, int kind, gpt_error *err)
{
    const st_tensor *t = find(c->sf, hf);
    uint64_t want[2] = {d0, d1};
    uint32_t nd = d1 ? 2 : 1, src_type;
    cv_tensor *ct = &c->plan[c->n];
    char got_s[96], want_s[96];
    gpt_status st;

    if (!t)
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "%s: tensor %s is missing", c->st_path, hf);
    if (t->n_dims != nd || t->shape[0] != d0 || (nd == 2 && t->shape[1] != d1)) {
        shape_str(t->shape, t->n_dims, got_s, sizeof got_s);
        shape_str(want, nd, want_s, sizeof want_s);
        return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                             "%s: tensor %s has shape %s, but config.json "
                             "implies %s", c->st_path, t->name, got_s, want_s);
    }
    if (strcmp(t->dtype, "F32") == 0)
        src_type = GGML_F32;
    else if (strcmp(t->dtype, "F16") == 0)
        src_type = GGML_F16;
    else if (strcmp(t->dtype, "BF16") == 0)
        src_type = GGML_BF16;
    else
        return gpt_set_error(err, GPT_ERR_UNSUPPORTED,
                             "%s: tensor %s has dtype %s; only F32, F16 and "
                             "BF16 weights can be converted", c->st_path,
                             t->name, t->dtype);
    memset(ct, 0, sizeof *ct);
    snprintf(ct->name, sizeof ct->name, "%s", gguf_name);
    snprintf(ct->src_name, sizeof ct->src_name, "%.95s", t->name);
    ct->n_dims = nd;
    ct->ne[0] = ct->ne[1] = ct->ne[2] = ct->ne[3] = 1;
    if (kind == 2) { /* HF (in, out) -> GGUF rows of `in`: ne [in, out] */
        ct->ne[0] = d0;
        ct->ne[1] = d1;
        ct->transpose = 1;
    } else if (nd == 2) { /* HF (rows, cols) -> ne [cols, rows] */
        ct->ne[0] = d1;
        ct->ne[1] = d0;
    } else {
        ct->ne[0] = d0;
    }
    ct->src = t->data;
    ct->src_file = c->st_path;
    ct->src_type = src_type;
    ct->src_nbytes = t->nbytes;
    ct->out_type = kind == 0 ? GGML_F32 : c->type;
    if (ct->out_type == GGML_Q8_0 && ct->ne[0] % 32 != 0) {
        /* Q8_0 needs rows of whole blocks; llama.cpp falls back too. */
        if (!c->quiet)
            fprintf(stderr, "gpt-convert: %s has rows of %llu values, not a "
                    "multiple of 32: stored as F16\n", gguf_name,
                    (unsigned long long)ct->ne[0]);
        ct->out_type = GGML_F16;
    }
    if ((st = gw_add_tensor(c->w, ct->name, nd, ct->ne, ct->out_type,
                            err)) != GPT_OK)
        return st;
    c->n++;
    return GPT_OK;
}

/* Is every HF tensor either used, lm_head or a mask buffer? */
static gpt_status
check_unexpected(const st_file *sf, const char *st_path, uint64_t n_layer,
                 gpt_error *err)
{
    static const char *const layer_names[] = {
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
        "mlp.c_proj.bias"};
    static const char *const top[] = {"wte.weight", "wpe.weight",
                                      "ln_f.weight", "ln_f.bias",
                                      "lm_head.weight"};
    size_t i, k;

    for (i = 0; i < sf->n_tensors; i++) {
        const char *n = strip_prefix(sf->tensors[i].name);
        int ok = is_mask_buffer(n);

        for (k = 0; !ok && k < sizeof top / sizeof top[0]; k++)
            ok = strcmp(n, top[k]) == 0;
        if (!ok && strncmp(n, "h.", 2) == 0 && n[2] >= '0' && n[2] <= '9') {
            char *endp;
            unsigned long layer = strtoul(n + 2, &endp, 10);
            if (endp != n + 2 && *endp == '.' && layer < n_layer &&
                (n[2] != '0' || endp == n + 3))
                for (k = 0; !ok && k < sizeof layer_names / sizeof
                                           layer_names[0]; k++)
                    ok = strcmp(endp + 1, layer_names[k]) == 0;
        }
        if (!ok)
            return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                 "%s: unexpected tensor %.100s (not part of a "
                                 "GPT-2 with %llu layers)", st_path,
                                 sf->tensors[i].name,
                                 (unsigned long long)n_layer);
    }
    /* two names for one tensor ("x" and "transformer.x") */
    for (i = 0; i < sf->n_tensors; i++)
        for (k = i + 1; k < sf->n_tensors; k++)
            if (strcmp(strip_prefix(sf->tensors[i].name),
                       strip_prefix(sf->tensors[k].name)) == 0)
                return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                     "%s: tensors %.100s and %.100s are the "
                                     "same weight", st_path,
                                     sf->tensors[i].name,
                                     sf->tensors[k].name);
    return GPT_OK;
}

static gpt_status
plan_tensors(plan_ctx *c, const hparams *hp, gpt_error *err)
{
    uint64_t E = hp->n_embd, F = hp->n_ff, V = hp->n_vocab, C = hp->n_ctx, l;
    const st_tensor *wte, *lm;
    gpt_status st;
    char hf[64], gg[64];

#define ADD(HF, GG, D0, D1, KIND)                                          \
    do {                                                                   \
        if ((st = add(c, HF, GG, D0, D1, KIND, err)) != GPT_OK)            \
            return st;                                                     \
    } while (0)
#define LAYER(HFS, GGS, D0, D1, KIND)                                      \
    do {                                                                   \
        snprintf(hf, sizeof hf, "h.%llu." HFS, (unsigned long long)l);     \
        snprintf(gg, sizeof gg, "blk.%llu." GGS, (unsigned long long)l);   \
        ADD(hf, gg, D0, D1, KIND);                                         \
    } while (0)

    if ((st = check_unexpected(c->sf, c->st_path, hp->n_layer, err)) != GPT_OK)
        return st;
    ADD("wte.weight", "token_embd.weight", V, E, 1);
    ADD("wpe.weight", "position_embd.weight", C, E, 0);
    for (l = 0; l < hp->n_layer; l++) {
        LAYER("ln_1.weight", "attn_norm.weight", E, 0, 0);
        LAYER("ln_1.bias", "attn_norm.bias", E, 0, 0);
        LAYER("attn.c_attn.weight", "attn_qkv.weight", E, 3 * E, 2);
        LAYER("attn.c_attn.bias", "attn_qkv.bias", 3 * E, 0, 0);
        LAYER("attn.c_proj.weight", "attn_output.weight", E, E, 2);
        LAYER("attn.c_proj.bias", "attn_output.bias", E, 0, 0);
        LAYER("ln_2.weight", "ffn_norm.weight", E, 0, 0);
        LAYER("ln_2.bias", "ffn_norm.bias", E, 0, 0);
        LAYER("mlp.c_fc.weight", "ffn_up.weight", E, F, 2);
        LAYER("mlp.c_fc.bias", "ffn_up.bias", F, 0, 0);
        LAYER("mlp.c_proj.weight", "ffn_down.weight", F, E, 2);
        LAYER("mlp.c_proj.bias", "ffn_down.bias", E, 0, 0);
    }
    ADD("ln_f.weight", "output_norm.weight", E, 0, 0);
    ADD("ln_f.bias", "output_norm.bias", E, 0, 0);
    /* Tied checkpoints may still store lm_head.weight (a copy of wte). */
    wte = find(c->sf, "wte.weight");
    lm = find(c->sf, "lm_head.weight");
    if (lm && !(strcmp(lm->dtype, wte->dtype) == 0 &&
                lm->nbytes == wte->nbytes && lm->n_dims == wte->n_dims &&
                memcmp(lm->data, wte->data, (size_t)lm->nbytes) == 0))
        ADD("lm_head.weight", "output.weight", V, E, 1);
#undef LAYER
#undef ADD
    return GPT_OK;
}

/* ------------------------------------------------------------------ main */

static gpt_status
write_metadata(gguf_writer *w, const cv_options *o, const hparams *hp,
               const vocab *vb, gpt_error *err)
{
    const char *name = o->name, *base = o->in, *p;
    char nbuf[256];
    size_t nlen;
    gpt_status st;

    if (!name) { /* the folder's own name */
        size_t n = strlen(base);
        while (n > 1 && base[n - 1] == '/')
            n--;
        for (p = base + n; p > base && p[-1] != '/'; p--)
            ;
        nlen = (size_t)(base + n - p);
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)(nlen > 200 ? 200 : nlen), p);
        name = nbuf;
    }
    /* the order of llama.cpp's converter and tests/gen_models.py */
    if ((st = gw_add_string(w, "general.architecture", "gpt2", 4, err)) ||
        (st = gw_add_string(w, "general.name", name, strlen(name), err)) ||
        (st = gw_add_u32(w, "gpt2.block_count", (uint32_t)hp->n_layer, err)) ||
        (st = gw_add_u32(w, "gpt2.context_length", (uint32_t)hp->n_ctx,
                         err)) ||
        (st = gw_add_u32(w, "gpt2.embedding_length", (uint32_t)hp->n_embd,
                         err)) ||
        (st = gw_add_u32(w, "gpt2.feed_forward_length", (uint32_t)hp->n_ff,
                         err)) ||
        (st = gw_add_u32(w, "gpt2.attention.head_count",
                         (uint32_t)hp->n_head, err)) ||
        (st = gw_add_f32(w, "gpt2.attention.layer_norm_epsilon",
                         (float)hp->eps, err)) ||
        (st = gw_add_u32(w, "general.file_type", cv_file_type(o->type),
                         err)) ||
        (st = gw_add_u32(w, "general.quantization_version", 2, err)) ||
        (st = gw_add_string(w, "tokenizer.ggml.model", "gpt2", 4, err)) ||
        (st = gw_add_string(w, "tokenizer.ggml.pre", "gpt-2", 5, err)) ||
        (st = gw_add_string_array(w, "tokenizer.ggml.tokens",
                                  (const char *const *)vb->tokens, vb->lens,
                                  vb->n, err)) ||
        (st = gw_add_i32_array(w, "tokenizer.ggml.token_type", vb->types,
                               vb->n, err)) ||
        (st = gw_add_string_array(w, "tokenizer.ggml.merges", vb->merges,
                                  vb->merge_lens, vb->n_merges, err)) ||
        (st = gw_add_u32(w, "tokenizer.ggml.bos_token_id", vb->eot, err)) ||
        (st = gw_add_u32(w, "tokenizer.ggml.eos_token_id", vb->eot, err)))
        return st;
    return GPT_OK;
}

gpt_status
cv_convert_hf(const cv_options *o, gpt_error *err)
{
    hparams hp = {0};
    vocab vb = {0};
    st_file sf = {0};
    gguf_writer w;
    plan_ctx c = {0};
    char *st_path = join(o->in, "model.safetensors");
    gpt_status st;

    gw_init(&w);
    if (!st_path)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    if ((st = read_config(o->in, &hp, err)) != GPT_OK ||
        (st = read_vocab(o->in, &hp, &vb, err)) != GPT_OK ||
        (st = read_merges(o->in, &vb, err)) != GPT_OK)
        goto out;
    if ((st = st_open(st_path, &sf, err)) != GPT_OK) {
        gpt_error_prefix(err, st_path);
        goto out;
    }
    if ((st = write_metadata(&w, o, &hp, &vb, err)) != GPT_OK)
        goto out;
    c.sf = &sf;
    c.st_path = st_path;
    c.type = o->type;
    c.w = &w;
    c.quiet = o->quiet;
    c.plan = gpt_calloc((size_t)(4 + 12 * hp.n_layer + 1), sizeof *c.plan);
    if (!c.plan) {
        st = gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
        goto out;
    }
    if ((st = plan_tensors(&c, &hp, err)) != GPT_OK)
        goto out;
    st = cv_write_file(o, &w, c.plan, c.n, err);
out:
    gpt_free(c.plan);
    gw_free(&w);
    st_close(&sf);
    vocab_free(&vb);
    gpt_free(st_path);
    return st;
}
