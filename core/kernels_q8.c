/*
 * kernels_q8.c - the portable int8 path for Q8_0 weights: activation
 * quantization and the Q8_0 x Q8_0 matrix product, written one output at
 * a time in the canonical order of kernels.h (section "Q8_0"), which the
 * AVX-512 and AVX2 versions in kernels_q8_x86.c reproduce bit for bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

size_t
gpt_q8x_stride(int n)
{
    size_t b = (size_t)n + (size_t)(n / 32) * (sizeof(float) + sizeof(int32_t));
    return (b + 63) & ~(size_t)63;
}

/* The largest |x| of a block, as the integer maximum of the bit patterns
 * with the sign cleared: order-free, and a NaN wins like on every path. */
static float
block_amax(const float *x)
{
    union { uint32_t u; float f; } v, m = {0};
    int i;

    for (i = 0; i < 32; i++) {
        v.f = x[i];
        v.u &= 0x7fffffffu;
        if (v.u > m.u)
            m.u = v.u;
    }
    return m.f;
}

/* round-to-nearest-even of v into [-127, 127]; NaN gives -127 as the x86
 * conversion (its "integer indefinite", INT_MIN) followed by the clamp. */
static int
q8_round(float v)
{
    float r;

    if (v != v)
        return -127;
    r = nearbyintf(v);
    return r > 127.0f ? 127 : r < -127.0f ? -127 : (int)r;
}

void
gpt_quantize_generic(const float *x, int ldx, int T, int n, uint8_t *xq)
{
    size_t ldq = gpt_q8x_stride(n);
    int nb = n / 32, t, b, i;

    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        int8_t *q = (int8_t *)(xq + (size_t)t * ldq);
        float *d = gpt_q8x_scales(xq + (size_t)t * ldq, n);
        int32_t *c = gpt_q8x_offsets(xq + (size_t)t * ldq, n);
        for (b = 0; b < nb; b++) {
            float amax = block_amax(xt + b * 32), id = gpt_q8x_inv_scale(amax);
            int32_t sum = 0;
            d[b] = amax / 127.0f;
            for (i = 0; i < 32; i++) {
                q[b * 32 + i] = (int8_t)q8_round(xt[b * 32 + i] * id);
                sum += q[b * 32 + i];
            }
            c[b] = 128 * sum;
        }
    }
}

float
gpt_dot_q8_generic(const uint8_t *row, int nb, const uint8_t *xq)
{
    const int8_t *q = (const int8_t *)xq;
    const float *dx = gpt_q8x_scales(xq, nb * 32);
    float acc = 0.0f;
    int b, i;

    for (b = 0; b < nb; b++) {
        const uint8_t *blk = row + (size_t)b * 34;
        int32_t p = 0;
        uint16_t h;

        memcpy(&h, blk, 2);
        for (i = 0; i < 32; i++)
            p += (int32_t)(int8_t)blk[2 + i] * q[b * 32 + i];
        acc = fmaf(gpt_f16_to_f32(h) * dx[b], (float)p, acc);
    }
    return acc;
}

void
gpt_matmul_q8_generic(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
                  float *y, int ldy, int r0, int r1)
{
    int r, t;

    for (r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)W->data + (size_t)r * W->row_bytes;
        for (t = 0; t < T; t++)
            y[(size_t)t * ldy + r] = gpt_dot_q8_generic(row, W->cols / 32, xq + (size_t)t * ldq);
    }
}

void
gpt_matmul_q8_float(const gpt_kernels *k, const gpt_matrix *W, const float *x,
                    int ldx, int T, float *y, int ldy, int r0, int r1)
{
    size_t ldq = gpt_q8x_stride(W->cols);
    uint8_t *xq = malloc(ldq * (size_t)(T > 0 ? T : 1));
    int r, t;

    if (!xq) {  /* void API for tests and benchmarks: say so in the output */
        for (t = 0; t < T; t++)
            for (r = r0; r < r1; r++)
                y[(size_t)t * ldy + r] = NAN;
        return;
    }
    k->quantize(x, ldx, T, W->cols, xq);
    k->matmul_q8(W, xq, ldq, T, y, ldy, r0, r1);
    free(xq);
}
