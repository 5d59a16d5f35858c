/*
 * write.c - turns a conversion plan into a GGUF file on disk.
 *
 * The file is written to OUT.tmp, flushed to disk, optionally opened with
 * the core (so we never leave a file the runtime rejects) and only then
 * renamed over OUT: a process that has the old OUT mapped keeps its pages,
 * and a crash leaves the old file intact.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert.h"
#include "internal.h"
#include "kernels.h"
#include "quant.h"

uint32_t
cv_file_type(uint32_t ggml_type)
{
    switch (ggml_type) {
    case GGML_F16: return 1;  /* LLAMA_FTYPE_MOSTLY_F16 */
    case GGML_Q8_0: return 7; /* LLAMA_FTYPE_MOSTLY_Q8_0 */
    case GGML_BF16: return 32;
    default: return 0;        /* LLAMA_FTYPE_ALL_F32 */
    }
}

gpt_status
cv_read_file(const char *path, char **buf, size_t *len, gpt_error *err)
{
    FILE *fp = fopen(path, "rb");
    struct stat sb;
    size_t n;

    *buf = NULL;
    *len = 0;
    if (!fp)
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "%s: cannot open: %s",
                             path, strerror(errno));
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return gpt_set_error(err, GPT_ERR_NOT_FOUND,
                             "%s: not a regular file", path);
    }
    if ((uint64_t)sb.st_size > (1u << 30)) {
        fclose(fp);
        return gpt_set_error(err, GPT_ERR_INVALID_ARGUMENT,
                             "%s: %lld bytes is too large for this file",
                             path, (long long)sb.st_size);
    }
    *buf = gpt_malloc((size_t)sb.st_size + 1);
    if (!*buf) {
        fclose(fp);
        return gpt_set_error(err, GPT_ERR_NOMEM, "%s: out of memory", path);
    }
    n = fread(*buf, 1, (size_t)sb.st_size, fp);
    fclose(fp);
    if (n != (size_t)sb.st_size) {
        gpt_free(*buf);
        *buf = NULL;
        return gpt_set_error(err, GPT_ERR_NOT_FOUND, "%s: read error", path);
    }
    (*buf)[n] = '\0';
    *len = n;
    return GPT_OK;
}

/* Element i of a source tensor of type t, as float. */
static float
load_elem(const uint8_t *src, uint32_t t, uint64_t i)
{
    if (t == GGML_F32) {
        float f;
        memcpy(&f, src + 4 * i, 4);
        return f;
    } else {
        uint16_t h;
        memcpy(&h, src + 2 * i, 2);
        return t == GGML_F16 ? cv_fp16_to_fp32(h) : cv_bf16_to_fp32(h);
    }
}

/* The tensor as floats in output order: (ne[1] rows, ne[0] columns).
 * A transposed source holds the same matrix as (ne[0] rows, ne[1] cols). */
static float *
load_floats(const cv_tensor *t, uint64_t n)
{
    const uint8_t *src = t->src;
    float *f = gpt_malloc((size_t)n * sizeof *f);
    uint64_t i;

    if (!f)
        return NULL;
    if (!t->transpose) {
        if (t->src_type == GGML_F32)
            memcpy(f, src, (size_t)n * 4);
        else
            for (i = 0; i < n; i++)
                f[i] = load_elem(src, t->src_type, i);
    } else {
        uint64_t rows = t->ne[1], cols = t->ne[0], r0, c0, r, c;
        const uint64_t B = 64; /* tiles keep both sides in cache */

        for (r0 = 0; r0 < rows; r0 += B)
            for (c0 = 0; c0 < cols; c0 += B)
                for (c = c0; c < c0 + B && c < cols; c++)
                    for (r = r0; r < r0 + B && r < rows; r++)
                        /* out[r][c] = src[c][r] */
                        f[r * cols + c] = load_elem(src, t->src_type,
                                                    c * rows + r);
    }
    return f;
}

/* Writes tensor `index`.  Conversion errors name the source tensor; write
 * errors the file being written (tmp). */
static gpt_status
emit(gguf_writer *w, FILE *fp, const char *tmp, size_t index,
     const cv_tensor *t, gpt_error *err)
{
    uint64_t n = 1, i;
    uint32_t k;
    float *f;
    void *enc = NULL;
    uint64_t enc_bytes;
    gpt_status st;

    for (k = 0; k < t->n_dims; k++)
        n *= t->ne[k];
    if (!t->transpose && t->src_type == t->out_type) {
        if ((st = gw_write_tensor(w, fp, index, t->src, t->src_nbytes,
                                  err)) != GPT_OK)
            gpt_error_prefix(err, tmp);
        return st;
    }
    if (n > SIZE_MAX / 8)
        return gpt_set_error(err, GPT_ERR_NOMEM, "%s: too large",
                             t->src_name);
    f = load_floats(t, n);
    if (!f)
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory converting %s", t->src_name);
    switch (t->out_type) {
    case GGML_F32:
        enc = f;
        enc_bytes = n * 4;
        break;
    case GGML_F16: {
        uint16_t *h = gpt_malloc((size_t)n * 2);
        if (h)
            for (i = 0; i < n; i++)
                h[i] = gpt_f32_to_f16(f[i]);
        enc = h;
        enc_bytes = n * 2;
        break;
    }
    case GGML_Q8_0:
        for (i = 0; i < n; i++)
            if (!isfinite(f[i])) {
                gpt_free(f);
                return gpt_set_error(err, GPT_ERR_CORRUPT_MODEL,
                                     "%s: tensor %s holds NaN or infinite "
                                     "values (element %llu); cannot "
                                     "quantize it", t->src_file,
                                     t->src_name, (unsigned long long)i);
            }
        enc_bytes = n / Q8_0_BLOCK * Q8_0_BLOCK_BYTES;
        enc = gpt_malloc((size_t)enc_bytes);
        if (enc)
            cv_quantize_q8_0(f, (size_t)n, enc);
        break;
    default:
        gpt_free(f);
        return gpt_set_error(err, GPT_ERR_INTERNAL, "cannot write type %u",
                             t->out_type);
    }
    if (!enc) {
        gpt_free(f);
        return gpt_set_error(err, GPT_ERR_NOMEM,
                             "out of memory converting %s", t->src_name);
    }
    if ((st = gw_write_tensor(w, fp, index, enc, enc_bytes, err)) != GPT_OK)
        gpt_error_prefix(err, tmp);
    if (enc != f)
        gpt_free(enc);
    gpt_free(f);
    return st;
}

gpt_status
cv_write_file(const cv_options *o, gguf_writer *w, const cv_tensor *plan,
              size_t n, gpt_error *err)
{
    size_t tlen = strlen(o->out) + 5, i;
    char *tmp = gpt_malloc(tlen);
    gpt_status st = GPT_OK;
    FILE *fp;

    if (!tmp)
        return gpt_set_error(err, GPT_ERR_NOMEM, "out of memory");
    snprintf(tmp, tlen, "%s.tmp", o->out);
    fp = fopen(tmp, "wb");
    if (!fp) {
        st = gpt_set_error(err, GPT_ERR_NOT_FOUND, "%s: cannot create: %s",
                           tmp, strerror(errno));
        gpt_free(tmp);
        return st;
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    if ((st = gw_write_header(w, fp, err)) != GPT_OK)
        gpt_error_prefix(err, tmp);
    for (i = 0; st == GPT_OK && i < n; i++) {
        st = emit(w, fp, tmp, i, &plan[i], err);
        if (!o->quiet && st == GPT_OK)
            fprintf(stderr, "  %-28s %-4s -> %-4s [%llu x %llu]\n",
                    plan[i].name, ggml_type_name(plan[i].src_type),
                    ggml_type_name(plan[i].out_type),
                    (unsigned long long)plan[i].ne[0],
                    (unsigned long long)plan[i].ne[1]);
    }
    if (st == GPT_OK && (st = gw_finish(w, fp, err)) != GPT_OK)
        gpt_error_prefix(err, tmp);
    if (st == GPT_OK && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        st = gpt_set_error(err, GPT_ERR_INTERNAL, "%s: write failed: %s",
                           tmp, strerror(errno));
    /* drop the written (clean, 4 KiB) pages from the page cache: the first
     * gpt_model_open then reads the file back in 2 MiB folios, which every
     * new process maps in a few faults (gpt_map_aligned in core/mapping.c) */
    if (st == GPT_OK)
        (void)posix_fadvise(fileno(fp), 0, 0, POSIX_FADV_DONTNEED);
    if (fclose(fp) != 0 && st == GPT_OK)
        st = gpt_set_error(err, GPT_ERR_INTERNAL, "%s: write failed: %s",
                           tmp, strerror(errno));
    if (st == GPT_OK && o->verify) {
        gpt_model *m = NULL;
        st = gpt_model_open(tmp, &m, err);
        gpt_model_release(m);
        if (st != GPT_OK)
            gpt_error_prefix(err, "the converted file does not load in the "
                                  "runtime");
    }
    if (st == GPT_OK && rename(tmp, o->out) != 0)
        st = gpt_set_error(err, GPT_ERR_NOT_FOUND, "cannot rename %s to %s: %s",
                           tmp, o->out, strerror(errno));
    if (st != GPT_OK)
        unlink(tmp);
    gpt_free(tmp);
    return st;
}
