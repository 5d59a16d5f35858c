/*
 * kernels.h - the matrix kernels of the forward pass.
 *
 * Every output is computed in one canonical order, whatever the CPU path
 * (AVX-512, AVX2, portable C), the thread split or the number of tokens in
 * the call.  This is what makes logits bit-identical for any thread count,
 * batch or cache state, and the same on every x86-64 machine.
 *
 * F32, F16, BF16 weights (and the attention dot products): 16 lanes, lane
 * j accumulating elements j, j+16, ... with fused multiply-adds into two
 * accumulators (even and odd 16-element chunks), summed lane-wise and then
 * reduced by a fixed tree (16 -> 8 -> 4 -> 2 -> 1, gpt_reduce16).
 *
 * Q8_0 weights (int8 path, like llama.cpp's): the input vector is itself
 * quantized to 8 bits per 32-element block, once per matrix product, and
 * the products are exact integer sums.  For each block b of 32 floats x:
 *   amax = the largest |x[i]| (NaN if any is NaN);
 *   d_x  = amax / 127                                 (IEEE float division)
 *   id   = amax >= 2^-100 ? 127 / amax : 0            (tinier blocks -> 0s)
 *   q[i] = x[i] * id (float multiply) rounded to the nearest integer, ties
 *          to even (the current rounding mode, i.e. cvtps2dq), clamped to
 *          [-127, 127]; a NaN product gives -127.
 * A weight row is blocks of (f16 d_w, 32 int8 w).  Block b contributes its
 * exact integer dot product
 *   p = sum over i = 0..31 of w[i] * q[i]             (|p| < 2^19)
 * to one float accumulator per output,
 *   acc = fma(d_w * d_x (float multiply), (float)p, acc)
 * for b = 0, 1, ... in order, from acc = +0; the output is acc.  (float)p
 * is exact.  The integer sums may be formed in any way (vpdpbusd with an
 * offset, maddubs with the sign trick, any grouping): they are exact, so
 * only the float steps above fix the bits, and with one accumulator per
 * output a SIMD path may put rows or tokens in its lanes as it likes.
 */
#ifndef GPT_KERNELS_H
#define GPT_KERNELS_H

#include "model.h"

/* y[t*ldy + r] = dot(W[r], x[t*ldx ...]) for r in [r0, r1), t in [0, T). */
typedef void (*gpt_matmul_fn)(const gpt_matrix *W, const float *x, int ldx,
                              int T, float *y, int ldy, int r0, int r1);

/* Canonical dot product of two float vectors (attention scores). */
typedef float (*gpt_dot_fn)(const float *a, const float *b, int n);
/* y[i] = fma(a, x[i], y[i]): lane-independent, so exact on every path. */
typedef void (*gpt_axpy_fn)(float a, const float *x, float *y, int n);

/* y[i] = gelu_tanh(y[i] + bias[i]), GPT-2's GELU, in the canonical
 * sequence of IEEE operations written out in kernels.c (gelu_one), so every
 * path gives the same bits. */
typedef void (*gpt_gelu_fn)(float *y, const float *bias, int n);

/* Attention over n cached rows of IEEE half floats (the KV cache, F16 as
 * llama.cpp keeps it by default; row j at rows + j * stride).  Each row is
 * widened to float exactly, so the canonical orders are those of the float
 * kernels above:
 * scores: out[j] = dot(q, row j, len) * scale, each dot in the canonical
 *         order of gpt_dot_fn;
 * mix:    acc = fma(w[j], row j, acc) for j = 0, 1, ... n-1 in order, as
 *         n calls of gpt_axpy_fn would.
 * pf (may be NULL): n rows of len halves at the same stride that the next
 * step will read (the values after the keys, the next head's keys after
 * the values), fetched into the cache alongside; a hint only, never read. */
typedef void (*gpt_scores_fn)(const float *q, const uint16_t *rows, size_t stride,
                              int n, int len, float scale, float *out,
                              const uint16_t *pf);
typedef void (*gpt_mix_fn)(const float *w, const uint16_t *rows, size_t stride,
                           int n, int len, float *acc, const uint16_t *pf);
/* mix for GPT_MIX_Q queries at once over the same rows: acc[q] as
 * mix(w[q], rows, stride, n, len, acc[q]) would leave it, for each q
 * (each row loaded once for all of them; the fmas into one acc[q] stay in
 * row order). */
#define GPT_MIX_Q 4
typedef void (*gpt_mixq_fn)(const float *const *w, const uint16_t *rows,
                            size_t stride, int n, int len, float *const *acc);
/* Attention weights: x[0..n) <- softmax(x) in one canonical sequence:
 * m = the largest x (NaNs skipped); e[i] = gpt_exp(x[i] - m);
 * sum = e[i] accumulated in 16 lanes (lane j: i = j, j+16, ... in order,
 * from +0) and reduced by gpt_reduce16; x[i] = e[i] * (1 / sum). */
typedef void (*gpt_softmax_fn)(float *x, int n);
/* h[i] = x[i] as an IEEE half, rounded to nearest, ties to even (F16C's
 * vcvtps2ph; gpt_f32_to_f16 spells it out): the keys and values stored
 * into the cache. */
typedef void (*gpt_to_f16_fn)(const float *x, uint16_t *h, int n);

/* Q8_0 activations: T vectors of n floats (n % 32 == 0, stride ldx)
 * quantized as above into xq, gpt_q8x_stride(n) bytes per vector: n int8
 * q, then n / 32 floats d_x, then n / 32 int32 c = 128 * (sum of the
 * block's q), the offset a product taking w + 128 as unsigned bytes
 * (vpdpbusd) subtracts. */
typedef void (*gpt_quantize_fn)(const float *x, int ldx, int T, int n,
                                uint8_t *xq);
/* y[t*ldy + r] = dot(W[r], quantized vector t) for Q8_0 W, r in [r0, r1). */
typedef void (*gpt_matmul_q8_fn)(const gpt_matrix *W, const uint8_t *xq,
                                 size_t ldq, int T, float *y, int ldy, int r0,
                                 int r1);

typedef struct gpt_kernels {
    const char *name;        /* "avx512", "avx2", "generic" */
    gpt_matmul_fn matmul;    /* any weight type (Q8_0: quantizes x itself,
                                for tests and benchmarks) */
    gpt_dot_fn dot;
    gpt_axpy_fn axpy;
    gpt_gelu_fn gelu;
    gpt_scores_fn scores;
    gpt_mix_fn mix;
    gpt_mixq_fn mixq;        /* NULL: mix per query */
    gpt_to_f16_fn to_f16;
    gpt_softmax_fn softmax;
    gpt_quantize_fn quantize;
    gpt_matmul_q8_fn matmul_q8;
} gpt_kernels;

#define GPT_Q8X_TINY 0x1p-100f
/* Bytes per quantized vector of n floats (a multiple of 64). */
size_t gpt_q8x_stride(int n);
/* Where a quantized vector of n floats keeps its d_x and c (the layout
 * above); like strchr, the pointers are as writable as the caller's. */
static inline float *
gpt_q8x_scales(const uint8_t *xq, int n)
{
    return (float *)(uintptr_t)(xq + n);
}

static inline int32_t *
gpt_q8x_offsets(const uint8_t *xq, int n)
{
    return (int32_t *)(uintptr_t)(xq + n + (size_t)(n / 32) * sizeof(float));
}

/* id of the quantization above. */
static inline float
gpt_q8x_inv_scale(float amax)
{
    return amax >= GPT_Q8X_TINY ? 127.0f / amax : 0.0f;
}
/* matmul for Q8_0 W from float x: quantizes into a temporary buffer (for
 * tests and benchmarks; the forward pass quantizes into session scratch).
 * Out of memory: y gets NaNs. */
void gpt_matmul_q8_float(const gpt_kernels *k, const gpt_matrix *W,
                         const float *x, int ldx, int T, float *y, int ldy,
                         int r0, int r1);

/* Constants of the canonical GELU (see gelu_one in kernels.c). */
#define GPT_GELU_K 0.044715f
#define GPT_GELU_2C 1.5957691216057308f /* 2 * sqrt(2 / pi) */
#define GPT_EXP_LOG2E 1.44269504088896341f
#define GPT_EXP_LN2_HI 0.693145751953125f
#define GPT_EXP_LN2_LO 1.42860682030941723212e-6f
#define GPT_EXP_CLAMP 80.0f

/* The canonical exp (GELU's and softmax's, kernels.c): z clamped to
 * [-80, 80], then the IEEE operations written out there, which the SIMD
 * paths repeat lane by lane. */
float gpt_exp(float z);

/* The best kernels this CPU runs (chosen once, thread-safe). */
const gpt_kernels *gpt_kernels_get(void);
/* The portable kernels (tests compare every path against these). */
const gpt_kernels *gpt_kernels_generic(void);
/* The kernels by name, NULL if this CPU cannot run them. */
const gpt_kernels *gpt_kernels_by_name(const char *name);

/* Row `row` of W as floats (embedding lookups). */
void gpt_dequant_row(const gpt_matrix *W, int row, float *out);

/* IEEE half/bfloat16 -> float, exact. */
float gpt_f16_to_f32(uint16_t h);
/* float -> IEEE half, to nearest, ties to even; beyond 65504 +-inf; a NaN
 * stays a NaN, quieted (as vcvtps2ph). */
uint16_t gpt_f32_to_f16(float f);
static inline float
gpt_bf16_to_f32(uint16_t h)
{
    union { uint32_t u; float f; } v = {(uint32_t)h << 16};
    return v.f;
}

/* The canonical 16-lane tree reduction. */
static inline float
gpt_reduce16(float s[16])
{
    int i;
    for (i = 0; i < 8; i++) s[i] += s[i + 8];
    for (i = 0; i < 4; i++) s[i] += s[i + 4];
    for (i = 0; i < 2; i++) s[i] += s[i + 2];
    return s[0] + s[1];
}

/* The Q8_0 halves of each kernel set (kernels_q8.c, kernels_q8_x86.c). */
void gpt_quantize_generic(const float *x, int ldx, int T, int n, uint8_t *xq);
void gpt_matmul_q8_generic(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                           int T, float *y, int ldy, int r0, int r1);
/* One output in the canonical order: weight row `row` (nb blocks) against
 * one quantized vector (the SIMD paths' ragged rows). */
float gpt_dot_q8_generic(const uint8_t *row, int nb, const uint8_t *xq);
void gpt_quantize_avx512(const float *x, int ldx, int T, int n, uint8_t *xq);
void gpt_matmul_q8_avx512(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                          int T, float *y, int ldy, int r0, int r1);
void gpt_quantize_avx2(const float *x, int ldx, int T, int n, uint8_t *xq);
void gpt_matmul_q8_avx2(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                        int T, float *y, int ldy, int r0, int r1);

/* Implementations, one per file. */
extern const gpt_kernels gpt_kernels_generic_impl;
extern const gpt_kernels gpt_kernels_avx2_impl;
extern const gpt_kernels gpt_kernels_avx512_impl;

#endif
