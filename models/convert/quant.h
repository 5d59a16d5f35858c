/*
 * quant.h - number formats the converter reads and writes: IEEE half and
 * bfloat16 to float, and ggml's Q8_0 blocks.  Float to half (round to
 * nearest even, as ggml and numpy) is the core's gpt_f32_to_f16 (kernels.h).
 */
#ifndef GPT_CONVERT_QUANT_H
#define GPT_CONVERT_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define Q8_0_BLOCK 32       /* weights per block */
#define Q8_0_BLOCK_BYTES 34 /* fp16 scale + 32 int8 */

float cv_fp16_to_fp32(uint16_t h);
float cv_bf16_to_fp32(uint16_t b);

/* n floats (a multiple of 32) -> n/32 Q8_0 blocks at out, exactly as ggml's
 * reference quantizer (quantize_row_q8_0_ref): per block amax, d = amax/127
 * in float, stored as fp16, q = roundf(x * (1/d)), d == 0 -> all zeros.
 * The input must be finite. */
void cv_quantize_q8_0(const float *x, size_t n, uint8_t *out);

#endif
