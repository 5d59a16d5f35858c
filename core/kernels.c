/*
 * kernels.c - kernel dispatch and the portable C kernels.
 *
 * The portable kernels spell out the canonical order of kernels.h with
 * fmaf(), one lane at a time; the SIMD files do exactly the same arithmetic
 * sixteen lanes at a time.  Built with -ffp-contract=off semantics (ISO C
 * mode), so the compiler never fuses or reorders what is written here.
 */
#include <cpuid.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kernels.h"

float
gpt_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    union { uint32_t u; float f; } v;

    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (man << 13);       /* inf / nan */
    } else if (exp != 0) {
        u = sign | ((exp + 112) << 23) | (man << 13); /* normal */
    } else if (man == 0) {
        u = sign;                                    /* zero */
    } else {                                         /* subnormal */
        int e = -1;
        do {
            e++;
            man <<= 1;
        } while ((man & 0x400) == 0);
        u = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3ff) << 13);
    }
    v.u = u;
    return v.f;
}

uint16_t
gpt_f32_to_f16(float f)
{
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000, a = v.u & 0x7fffffff, m, q, rem, half;
    int shift;

    if (a > 0x7f800000u)                       /* NaN: quiet, top payload bits */
        return (uint16_t)(sign | 0x7e00 | ((a >> 13) & 0x3ff));
    if (a >= 0x477ff000u)                      /* >= 65520: rounds to inf */
        return (uint16_t)(sign | 0x7c00);
    if (a >= 0x38800000u) {                    /* a normal half */
        a -= 0x38000000u;                      /* exponent bias 127 -> 15 */
        return (uint16_t)(sign | ((a + 0xfff + ((a >> 13) & 1)) >> 13));
    }
    /* a subnormal half (or zero): units of 2^-24 */
    shift = 126 - (int)(a >> 23);
    if (shift > 24)
        return (uint16_t)sign;                 /* below 2^-25: zero */
    m = (a & 0x7fffff) | 0x800000;
    q = m >> shift;
    rem = m & ((1u << shift) - 1);
    half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return (uint16_t)(sign | q);
}

/* One weight of a row, as float. */
static inline float
weight_at(const gpt_matrix *W, const uint8_t *row, int i)
{
    uint16_t h;

    switch (W->type) {
    case GGML_F32: {
        float f;
        memcpy(&f, row + (size_t)i * 4, 4);
        return f;
    }
    case GGML_F16:
        memcpy(&h, row + (size_t)i * 2, 2);
        return gpt_f16_to_f32(h);
    case GGML_BF16:
        memcpy(&h, row + (size_t)i * 2, 2);
        return gpt_bf16_to_f32(h);
    case GGML_Q8_0: {
        const uint8_t *b = row + (size_t)(i / 32) * 34;
        memcpy(&h, b, 2);
        return gpt_f16_to_f32(h) * (float)(int8_t)b[2 + i % 32];
    }
    }
    return 0.0f;
}

void
gpt_dequant_row(const gpt_matrix *W, int row, float *out)
{
    const uint8_t *r = (const uint8_t *)W->data + (size_t)row * W->row_bytes;
    int i;

    for (i = 0; i < W->cols; i++)
        out[i] = weight_at(W, r, i);
}

/* Canonical dot product for F32/F16/BF16 rows. */
static float
dot_float_row(const gpt_matrix *W, const uint8_t *row, const float *x)
{
    float A[16] = {0}, B[16] = {0}, s[16];
    int n = W->cols, c, j, nchunks = (n + 15) / 16;

    for (c = 0; c < nchunks; c++) {
        float *acc = (c & 1) ? B : A;
        for (j = 0; j < 16; j++) {
            int i = c * 16 + j;
            if (i < n)
                acc[j] = fmaf(weight_at(W, row, i), x[i], acc[j]);
        }
    }
    for (j = 0; j < 16; j++)
        s[j] = A[j] + B[j];
    return gpt_reduce16(s);
}

static void
matmul_generic(const gpt_matrix *W, const float *x, int ldx, int T, float *y,
               int ldy, int r0, int r1)
{
    int r, t;

    if (W->type == GGML_Q8_0) {
        gpt_matmul_q8_float(&gpt_kernels_generic_impl, W, x, ldx, T, y, ldy, r0, r1);
        return;
    }
    for (r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
        for (t = 0; t < T; t++)
            y[(size_t)t * ldy + r] = dot_float_row(W, row, x + (size_t)t * ldx);
    }
}

static float
dot_generic(const float *a, const float *b, int n)
{
    float A[16] = {0}, B[16] = {0}, s[16];
    int c, j, nchunks = (n + 15) / 16;

    for (c = 0; c < nchunks; c++) {
        float *acc = (c & 1) ? B : A;
        for (j = 0; j < 16 && c * 16 + j < n; j++)
            acc[j] = fmaf(a[c * 16 + j], b[c * 16 + j], acc[j]);
    }
    for (j = 0; j < 16; j++)
        s[j] = A[j] + B[j];
    return gpt_reduce16(s);
}

static void
axpy_generic(float a, const float *x, float *y, int n)
{
    int i;
    for (i = 0; i < n; i++)
        y[i] = fmaf(a, x[i], y[i]);
}

/* The attention kernels over F16 rows: dot_generic and axpy_generic on the
 * widened row, element by element. */
static void
scores_generic(const float *q, const uint16_t *rows, size_t stride, int n,
               int len, float scale, float *out, const uint16_t *pf)
{
    int j, c, i;

    (void)pf;
    for (j = 0; j < n; j++) {
        const uint16_t *k = rows + (size_t)j * stride;
        float A[16] = {0}, B[16] = {0}, s[16];
        for (c = 0; c * 16 < len; c++) {
            float *acc = (c & 1) ? B : A;
            for (i = 0; i < 16 && c * 16 + i < len; i++)
                acc[i] = fmaf(q[c * 16 + i], gpt_f16_to_f32(k[c * 16 + i]), acc[i]);
        }
        for (i = 0; i < 16; i++)
            s[i] = A[i] + B[i];
        out[j] = gpt_reduce16(s) * scale;
    }
}

static void
mix_generic(const float *w, const uint16_t *rows, size_t stride, int n, int len,
            float *acc, const uint16_t *pf)
{
    int j, i;

    (void)pf;
    for (j = 0; j < n; j++)
        for (i = 0; i < len; i++)
            acc[i] = fmaf(w[j], gpt_f16_to_f32(rows[(size_t)j * stride + i]), acc[i]);
}

static void
to_f16_generic(const float *x, uint16_t *h, int n)
{
    int i;

    for (i = 0; i < n; i++)
        h[i] = gpt_f32_to_f16(x[i]);
}

/*
 * exp, computed here rather than by libm so that the SIMD paths can do the
 * very same operations: z clamped to [-80, 80]; n = nearest integer of
 * z log2(e); r = z - n ln2 (two fmas, ln2 split in a high and a low part);
 * e^r by its Taylor series to degree 7 (Horner, fmas; |r| <= 0.35 so the
 * error is under 1e-8); times 2^n, exact.
 */
float
gpt_exp(float z)
{
    static const float c[8] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24,
                               1.0f / 6, 0.5f, 1.0f, 1.0f};
    float n, r, p;
    union { uint32_t u; float f; } scale;
    int i;

    /* NaN goes to -80 as in the SIMD max/min: converting NaN to int below
     * would be undefined */
    z = z > GPT_EXP_CLAMP ? GPT_EXP_CLAMP : z >= -GPT_EXP_CLAMP ? z : -GPT_EXP_CLAMP;
    n = nearbyintf(z * GPT_EXP_LOG2E);
    r = fmaf(n, -GPT_EXP_LN2_HI, z);
    r = fmaf(n, -GPT_EXP_LN2_LO, r);
    p = c[0];
    for (i = 1; i < 8; i++)
        p = fmaf(p, r, c[i]);
    scale.u = (uint32_t)((int32_t)n + 127) << 23;
    return p * scale.f;
}

/*
 * GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
 * With e = exp(2u) (gpt_exp) that is x * e / (e + 1), which has no
 * cancellation for any x.
 */
static float
gelu_one(float y, float b)
{
    float x = y + b, x3 = (x * x) * x, p;

    p = gpt_exp(GPT_GELU_2C * fmaf(GPT_GELU_K, x3, x));
    return x * (p / (p + 1.0f));
}

static void
softmax_generic(float *x, int n)
{
    float mx = -INFINITY, s[16] = {0}, inv;
    int i;

    for (i = 0; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    for (i = 0; i < n; i++) {
        x[i] = gpt_exp(x[i] - mx);
        s[i % 16] += x[i];
    }
    inv = 1.0f / gpt_reduce16(s);
    for (i = 0; i < n; i++)
        x[i] *= inv;
}

static void
gelu_generic(float *y, const float *bias, int n)
{
    int i;
    for (i = 0; i < n; i++)
        y[i] = gelu_one(y[i], bias[i]);
}

const gpt_kernels gpt_kernels_generic_impl = {
    "generic", matmul_generic, dot_generic, axpy_generic, gelu_generic,
    scores_generic, mix_generic, NULL, to_f16_generic, softmax_generic,
    gpt_quantize_generic, gpt_matmul_q8_generic};

static const gpt_kernels *best;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

/* F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports
 * does not know "f16c". */
static int
has_f16c(void)
{
    unsigned a, b, c, d;

    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
}

/* AVX512_VNNI from CPUID leaf 7 (ECX bit 11), for the same reason. */
static int
has_avx512vnni(void)
{
    unsigned a, b, c, d;

    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1);
}

/* The AVX-512 set needs VNNI for its Q8_0 products (vpdpbusd); a CPU with
 * AVX-512 but without VNNI runs the AVX2 set. */
static int
cpu_has(const char *name)
{
    if (strcmp(name, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && has_f16c() &&
               has_avx512vnni() &&
               __builtin_cpu_supports("fma");
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma") && has_f16c();
    return strcmp(name, "generic") == 0;
}

static void
choose_best(void)
{
    __builtin_cpu_init();
    if (cpu_has("avx512"))
        best = &gpt_kernels_avx512_impl;
    else if (cpu_has("avx2"))
        best = &gpt_kernels_avx2_impl;
    else
        best = &gpt_kernels_generic_impl;
}

const gpt_kernels *
gpt_kernels_get(void)
{
    pthread_once(&best_once, choose_best);
    return best;
}

const gpt_kernels *
gpt_kernels_generic(void)
{
    return &gpt_kernels_generic_impl;
}

const gpt_kernels *
gpt_kernels_by_name(const char *name)
{
    __builtin_cpu_init();
    if (!cpu_has(name))
        return NULL;
    if (strcmp(name, "avx512") == 0)
        return &gpt_kernels_avx512_impl;
    if (strcmp(name, "avx2") == 0)
        return &gpt_kernels_avx2_impl;
    return &gpt_kernels_generic_impl;
}
