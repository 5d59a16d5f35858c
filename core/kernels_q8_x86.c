/*
 * kernels_q8_x86.c - the int8 path for Q8_0 weights on AVX-512 (VNNI) and
 * AVX2: activation quantization and Q8_0 x Q8_0 matrix products in the
 * canonical order of kernels.h (the portable version is kernels_q8.c).
 *
 * Products are register-tiled over rows x tokens: a tile's weight blocks
 * are loaded (and their scales and corrections computed) once and used for
 * up to 8 tokens, so prefill and batched decoding run at int8 throughput
 * while the weights stream from memory once per call.  T = 1 (decode) is
 * bandwidth-bound and prefetches rows ahead.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#define T512Q __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define T256Q __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

/* Prefetch distance for decode, as in kernels_x86.c: rows of a few hundred
 * bytes are too short for the hardware prefetcher to ramp up. */
#define PF_ROWS 8

/* ------------------------------------------------------------- AVX-512 */

T512Q void
gpt_quantize_avx512(const float *x, int ldx, int T, int n, uint8_t *xq)
{
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    const __m512i off = _mm512_set1_epi32(128);
    size_t ldq = gpt_q8x_stride(n);
    int nb = n / 32, t, b, h;

    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        uint8_t *q = xq + (size_t)t * ldq;
        float *d = (float *)(q + n);
        for (b = 0; b < nb; b++) {
            __m512 v[2] = {_mm512_loadu_ps(xt + b * 32), _mm512_loadu_ps(xt + b * 32 + 16)};
            union { uint32_t u; float f; } amax;
            __m512 id;

            amax.u = _mm512_reduce_max_epu32(
                _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(v[0]), absmask),
                                 _mm512_and_si512(_mm512_castps_si512(v[1]), absmask)));
            d[b] = amax.f / 127.0f;
            id = _mm512_set1_ps(gpt_q8x_inv_scale(amax.f));
            for (h = 0; h < 2; h++) {
                __m512i qi = _mm512_cvtps_epi32(_mm512_mul_ps(v[h], id));
                qi = _mm512_min_epi32(_mm512_max_epi32(qi, lo), hi);
                _mm_storeu_si128((__m128i *)(q + b * 32 + h * 16),
                                 _mm512_cvtepi32_epi8(_mm512_add_epi32(qi, off)));
            }
        }
    }
}

/* The 8-lane tree of gpt_reduce8. */
T512Q static INLINE float
hsum8_512(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
}

#define RP 4 /* most row pairs per tile: lanes 0-7 one row, 8-15 the next */
#define TT 8 /* most tokens per tile */

/*
 * One tile: rows[0..2*rp) x tt tokens (rp <= RP, tt <= TT, constants after
 * inlining; 2 x 8 for prefill and batches, 4 x 1 for decode, where more
 * rows in flight hide more memory latency).  Per block, w holds both rows' 32 int8 weights; the
 * activations are stored as q + 128 (unsigned, what vpdpbusd wants), so
 * vpdpbusd(-128 * sum of w, q + 128, w) is exactly the sum of w * q.
 */
T512Q static INLINE void
tile_512(const uint8_t *const rows[2 * RP], int nb, const uint8_t *xq,
         size_t ldq, int rp, int tt, float out[TT][2 * RP], size_t pf)
{
    const __m512i c80 = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    const __m512i dperm = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    __m512 acc[RP][TT];
    int b, p, t;

    #pragma GCC unroll 8
    for (t = 0; t < tt; t++)
        #pragma GCC unroll 4
        for (p = 0; p < rp; p++)
            acc[p][t] = _mm512_setzero_ps();
    for (b = 0; b < nb; b++) {
        __m512i w[RP], nc[RP];
        __m512 dw[RP];
        #pragma GCC unroll 4
        for (p = 0; p < rp; p++) {
            const uint8_t *b0 = rows[2 * p] + (size_t)b * 34, *b1 = rows[2 * p + 1] + (size_t)b * 34;
            uint16_t h0, h1;
            memcpy(&h0, b0, 2);
            memcpy(&h1, b1, 2);
            w[p] = _mm512_inserti64x4(
                _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(b0 + 2))),
                _mm256_loadu_si256((const __m256i *)(b1 + 2)), 1);
            dw[p] = _mm512_permutexvar_ps(
                dperm, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)(h0 | (uint32_t)h1 << 16)))));
            nc[p] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, c80, w[p]));
            if (pf) {
                __builtin_prefetch(b0 + pf, 0, 0);
                __builtin_prefetch(b1 + pf, 0, 0);
            }
        }
        #pragma GCC unroll 8
        for (t = 0; t < tt; t++) {
            const uint8_t *qt = xq + (size_t)t * ldq;
            __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qt + b * 32)));
            float dxs;
            __m512 dx;
            memcpy(&dxs, qt + (size_t)nb * 32 + (size_t)b * 4, 4);
            dx = _mm512_set1_ps(dxs);
            #pragma GCC unroll 4
            for (p = 0; p < rp; p++) {
                __m512 f = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(nc[p], xv, w[p]));
                acc[p][t] = _mm512_fmadd_ps(_mm512_mul_ps(dw[p], dx), f, acc[p][t]);
            }
        }
    }
    #pragma GCC unroll 8
    for (t = 0; t < tt; t++)
        #pragma GCC unroll 4
        for (p = 0; p < rp; p++) {
            out[t][2 * p] = hsum8_512(_mm512_castps512_ps256(acc[p][t]));
            out[t][2 * p + 1] = hsum8_512(_mm256_castpd_ps(
                _mm512_extractf64x4_pd(_mm512_castps_pd(acc[p][t]), 1)));
        }
}

/* Instances for each shape, so every loop above unrolls fully. */
#define TILE512(R, N)                                                       \
    T512Q static void tile_512_##R##_##N(const uint8_t *const rows[2 * RP],  \
                                         int nb, const uint8_t *xq,         \
                                         size_t ldq, float out[TT][2 * RP], \
                                         size_t pf)                         \
    {                                                                       \
        tile_512(rows, nb, xq, ldq, R, N, out, pf);                         \
    }
TILE512(4, 1)
TILE512(2, 1)
TILE512(2, 2)
TILE512(2, 3)
TILE512(2, 4)
TILE512(2, 5)
TILE512(2, 6)
TILE512(2, 7)
TILE512(2, 8)

typedef void (*tile512_fn)(const uint8_t *const *, int, const uint8_t *, size_t,
                           float (*)[2 * RP], size_t);

T512Q void
gpt_matmul_q8_avx512(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
                     float *y, int ldy, int r0, int r1)
{
    static const tile512_fn tiles[TT + 1] = {NULL, tile_512_2_1, tile_512_2_2,
                                             tile_512_2_3, tile_512_2_4, tile_512_2_5,
                                             tile_512_2_6, tile_512_2_7, tile_512_2_8};
    const uint8_t *base = W->data;
    /* prefetch rows ahead for every T: a small batch is as memory-bound as
     * decode; only the first token group reads the rows from memory */
    size_t pf = PF_ROWS * W->row_bytes;
    int nb = W->cols / 32, step = T == 1 ? 2 * RP : 4, r, t, g;

    for (r = r0; r < r1; r += step) {
        const uint8_t *rows[2 * RP];
        int nr = r1 - r < step ? r1 - r : step;

        for (g = 0; g < 2 * RP; g++)   /* pad a short tile with its last row */
            rows[g] = base + (size_t)(r + (g < nr ? g : nr - 1)) * W->row_bytes;
        for (t = 0; t < T; t += TT) {
            int tt = T - t < TT ? T - t : TT, i;
            float out[TT][2 * RP];
            if (T == 1)
                tile_512_4_1(rows, nb, xq, ldq, out, pf);
            else
                tiles[tt](rows, nb, xq + (size_t)t * ldq, ldq, out,
                          t == 0 ? pf : 0);
            for (i = 0; i < tt; i++)
                for (g = 0; g < nr; g++)
                    y[(size_t)(t + i) * ldy + r + g] = out[i][g];
        }
    }
}

/* ---------------------------------------------------------------- AVX2 */

T256Q void
gpt_quantize_avx2(const float *x, int ldx, int T, int n, uint8_t *xq)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    const __m256i off = _mm256_set1_epi32(128);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t ldq = gpt_q8x_stride(n);
    int nb = n / 32, t, b, h;

    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        uint8_t *q = xq + (size_t)t * ldq;
        float *d = (float *)(q + n);
        for (b = 0; b < nb; b++) {
            __m256 v[4];
            __m256i m = _mm256_setzero_si256(), qi[4];
            __m128i m4;
            union { uint32_t u; float f; } amax;
            __m256 id;

            for (h = 0; h < 4; h++) {
                v[h] = _mm256_loadu_ps(xt + b * 32 + h * 8);
                m = _mm256_max_epu32(m, _mm256_and_si256(_mm256_castps_si256(v[h]), absmask));
            }
            m4 = _mm_max_epu32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
            m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0x4e));
            m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0xb1));
            amax.u = (uint32_t)_mm_cvtsi128_si32(m4);
            d[b] = amax.f / 127.0f;
            id = _mm256_set1_ps(gpt_q8x_inv_scale(amax.f));
            for (h = 0; h < 4; h++) {
                qi[h] = _mm256_cvtps_epi32(_mm256_mul_ps(v[h], id));
                qi[h] = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(qi[h], lo), hi), off);
            }
            /* 1..255 survive both packs; the packs interleave 128-bit
             * lanes, the permutation puts the dwords back in order */
            _mm256_storeu_si256((__m256i *)(q + b * 32),
                                _mm256_permutevar8x32_epi32(
                                    _mm256_packus_epi16(_mm256_packs_epi32(qi[0], qi[1]),
                                                        _mm256_packs_epi32(qi[2], qi[3])),
                                    order));
        }
    }
}

T256Q static INLINE float
hsum8_256(__m256 v)
{
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
}

#define R2 2 /* rows per AVX2 tile */
#define T2 4 /* tokens per AVX2 tile */

/* One tile: rows[0..R2) x tt tokens.  No VNNI here: maddubs multiplies
 * unsigned by signed bytes and saturates pairs at 16 bits, so it gets |w|
 * (<= 128) and q with w's sign (|q| <= 127): pairs stay under 2^15. */
T256Q static INLINE void
tile_256(const uint8_t *const rows[R2], int nb, const uint8_t *xq, size_t ldq,
         int tt, float out[T2][R2], size_t pf)
{
    const __m256i c80 = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256 acc[R2][T2];
    int b, g, t;

    #pragma GCC unroll 4
    for (t = 0; t < tt; t++)
        #pragma GCC unroll 2
        for (g = 0; g < R2; g++)
            acc[g][t] = _mm256_setzero_ps();
    for (b = 0; b < nb; b++) {
        __m256i w[R2], aw[R2];
        __m256 dw[R2];
        #pragma GCC unroll 2
        for (g = 0; g < R2; g++) {
            const uint8_t *blk = rows[g] + (size_t)b * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            dw[g] = _mm256_set1_ps(_cvtsh_ss(h));
            w[g] = _mm256_loadu_si256((const __m256i *)(blk + 2));
            aw[g] = _mm256_abs_epi8(w[g]);
            if (pf)
                __builtin_prefetch(blk + pf, 0, 0);
        }
        #pragma GCC unroll 4
        for (t = 0; t < tt; t++) {
            const uint8_t *qt = xq + (size_t)t * ldq;
            __m256i xs = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(qt + b * 32)), c80);
            float dxs;
            __m256 dx;
            memcpy(&dxs, qt + (size_t)nb * 32 + (size_t)b * 4, 4);
            dx = _mm256_set1_ps(dxs);
            #pragma GCC unroll 2
            for (g = 0; g < R2; g++) {
                __m256i p = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(aw[g], _mm256_sign_epi8(xs, w[g])), ones);
                acc[g][t] = _mm256_fmadd_ps(_mm256_mul_ps(dw[g], dx), _mm256_cvtepi32_ps(p), acc[g][t]);
            }
        }
    }
    #pragma GCC unroll 4
    for (t = 0; t < tt; t++)
        #pragma GCC unroll 2
        for (g = 0; g < R2; g++)
            out[t][g] = hsum8_256(acc[g][t]);
}

#define TILE256(N)                                                          \
    T256Q static void tile_256_##N(const uint8_t *const rows[R2], int nb,    \
                                   const uint8_t *xq, size_t ldq,           \
                                   float out[T2][R2], size_t pf)             \
    {                                                                       \
        tile_256(rows, nb, xq, ldq, N, out, pf);                            \
    }
TILE256(1)
TILE256(2)
TILE256(3)
TILE256(4)

typedef void (*tile256_fn)(const uint8_t *const *, int, const uint8_t *, size_t,
                           float (*)[R2], size_t);

T256Q void
gpt_matmul_q8_avx2(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
                   float *y, int ldy, int r0, int r1)
{
    static const tile256_fn tiles[T2 + 1] = {NULL, tile_256_1, tile_256_2,
                                             tile_256_3, tile_256_4};
    const uint8_t *base = W->data;
    size_t pf = PF_ROWS * W->row_bytes; /* every T, as on AVX-512 */
    int nb = W->cols / 32, r, t, g;

    for (r = r0; r < r1; r += R2) {
        const uint8_t *rows[R2];
        int nr = r1 - r < R2 ? r1 - r : R2;

        for (g = 0; g < R2; g++)
            rows[g] = base + (size_t)(r + (g < nr ? g : nr - 1)) * W->row_bytes;
        for (t = 0; t < T; t += T2) {
            int tt = T - t < T2 ? T - t : T2, i;
            float out[T2][R2];
            tiles[tt](rows, nb, xq + (size_t)t * ldq, ldq, out,
                      t == 0 ? pf : 0);
            for (i = 0; i < tt; i++)
                for (g = 0; g < nr; g++)
                    y[(size_t)(t + i) * ldy + r + g] = out[i][g];
        }
    }
}

#else /* not x86: the tables in kernels_x86.c are empty and unused */

void gpt_quantize_avx512(const float *x, int ldx, int T, int n, uint8_t *xq) {}
void gpt_matmul_q8_avx512(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                          int T, float *y, int ldy, int r0, int r1) {}
void gpt_quantize_avx2(const float *x, int ldx, int T, int n, uint8_t *xq) {}
void gpt_matmul_q8_avx2(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                        int T, float *y, int ldy, int r0, int r1) {}

#endif
