/*
 * quant.c - half/bfloat16 conversion and the Q8_0 quantizer (see quant.h).
 *
 * Written out in integer arithmetic rather than with F16C so the result does
 * not depend on the build machine.  Float to half is the core's
 * gpt_f32_to_f16 (the KV cache's rounding), which equals the hardware's
 * round-to-nearest-even conversion.
 */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

float
cv_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    float f;

    if (exp == 0x1F) {
        bits = sign | 0x7F800000 | (mant << 13); /* inf / NaN */
    } else if (exp == 0) {
        /* zero or subnormal: mant * 2^-24, exact in float */
        f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    memcpy(&f, &bits, 4);
    return f;
}

float
cv_bf16_to_fp32(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float f;

    memcpy(&f, &bits, 4);
    return f;
}

void
cv_quantize_q8_0(const float *x, size_t n, uint8_t *out)
{
    size_t b, j;

    for (b = 0; b < n / Q8_0_BLOCK; b++) {
        const float *xb = x + b * Q8_0_BLOCK;
        uint8_t *ob = out + b * Q8_0_BLOCK_BYTES;
        float amax = 0.0f, d, id;
        uint16_t dh;

        for (j = 0; j < Q8_0_BLOCK; j++) {
            float a = fabsf(xb[j]);
            if (a > amax)
                amax = a;
        }
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        dh = gpt_f32_to_f16(d);
        ob[0] = (uint8_t)(dh & 0xFF);
        ob[1] = (uint8_t)(dh >> 8);
        for (j = 0; j < Q8_0_BLOCK; j++) {
            /* |x * id| <= 127 (+ rounding) for finite input */
            float q = roundf(xb[j] * id);
            if (q > 127.0f)
                q = 127.0f;
            if (q < -127.0f)
                q = -127.0f;
            ob[2 + j] = (uint8_t)(int8_t)q;
        }
    }
}
