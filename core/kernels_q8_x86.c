/*
 * kernels_q8_x86.c - the int8 path for Q8_0 weights on AVX-512 (VNNI) and
 * AVX2: activation quantization and Q8_0 x Q8_0 matrix products in the
 * canonical order of kernels.h (the portable version is kernels_q8.c).
 *
 * AVX-512 puts 16 rows in the lanes: a tile loads one block of 16 rows,
 * transposes it in registers so that vector j holds bytes 4j..4j+3 of
 * every row, and then each token costs 8 vpdpbusd against its broadcast
 * activations, one conversion and one fma for all 16 rows.  The transpose
 * is paid once per block and shared by up to 16 tokens, so prefill and
 * batched decoding run near int8 throughput.  Decode (one token) skips
 * the transpose and folds each row's partial sums instead.  Both read the
 * weights in 16-row runs, contiguous in memory, and prefetch the next run.
 * Rows left over (fewer than 16) take the portable dot, same bits.
 *
 * AVX2 (no VNNI) keeps rows in memory order: maddubs with the sign trick
 * makes 8 exact partial sums per row and block, and horizontal adds fold
 * 4 rows' into one vector.
 */
#include <immintrin.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#define T512Q __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
#define T256Q __attribute__((target("avx2,fma,f16c")))
#define INLINE inline __attribute__((always_inline))

/* ------------------------------------------------------------- AVX-512 */

T512Q void
gpt_quantize_avx512(const float *x, int ldx, int T, int n, uint8_t *xq)
{
    const __m512i absmask = _mm512_set1_epi32(0x7fffffff);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
    size_t ldq = gpt_q8x_stride(n);
    int nb = n / 32, t, b, h;

    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        uint8_t *q = xq + (size_t)t * ldq;
        float *d = gpt_q8x_scales(q, n);
        int32_t *c = gpt_q8x_offsets(q, n);
        for (b = 0; b < nb; b++) {
            __m512 v[2] = {_mm512_loadu_ps(xt + b * 32), _mm512_loadu_ps(xt + b * 32 + 16)};
            __m512i qi[2];
            union { uint32_t u; float f; } amax;
            __m512 id;

            amax.u = _mm512_reduce_max_epu32(
                _mm512_max_epu32(_mm512_and_si512(_mm512_castps_si512(v[0]), absmask),
                                 _mm512_and_si512(_mm512_castps_si512(v[1]), absmask)));
            d[b] = amax.f / 127.0f;
            id = _mm512_set1_ps(gpt_q8x_inv_scale(amax.f));
            for (h = 0; h < 2; h++) {
                qi[h] = _mm512_cvtps_epi32(_mm512_mul_ps(v[h], id));
                qi[h] = _mm512_min_epi32(_mm512_max_epi32(qi[h], lo), hi);
                _mm_storeu_si128((__m128i *)(q + b * 32 + h * 16), _mm512_cvtepi32_epi8(qi[h]));
            }
            c[b] = 128 * _mm512_reduce_add_epi32(_mm512_add_epi32(qi[0], qi[1]));
        }
    }
}

#define ROWS 16 /* rows per tile, one per lane */
#define TT 16   /* most tokens per tile: batches of 16 share one transpose */

/* Lane i: row i's byte offset from the tile's first row. */
T512Q static INLINE __m512i
row_offsets(size_t rb)
{
    return _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
        _mm512_set1_epi32((int)rb));
}

/* Lane i: the f16 scale of block b of row i, from the 4 bytes at each
 * block's start (its scale, then 2 weights). */
T512Q static INLINE __m512
scales_16(const uint8_t *g, int b, __m512i off)
{
    return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(
        _mm512_i32gather_epi32(off, (const void *)(g + (size_t)b * 34), 1)));
}

/* The same block of the next tile's 16 rows, one line per row, as the
 * hardware prefetcher does not follow 16 interleaved streams (with this
 * pattern decode reads the weights as fast as with 8 rows per tile). */
T512Q static INLINE void
prefetch_next_16(const uint8_t *p, size_t rb)
{
    int k;

    #pragma GCC unroll 16
    for (k = 0; k < ROWS; k++)
        __builtin_prefetch(p + (ROWS + k) * rb, 0, 0);
}

/* Rows k, k+4 (k < 4) or k+4, k+8 (k >= 4) of block b's weights at p, in
 * the two halves of one vector: this pairing leaves rows in lane order
 * after the unpacks below. */
T512Q static INLINE __m512i
row_pair(const uint8_t *p, size_t rb, int k)
{
    int r = k < 4 ? k : k + 4;
    return _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p + r * rb))),
        _mm256_loadu_si256((const __m256i *)(p + (r + 4) * rb)), 1);
}

/*
 * Block b of the 16 rows at g (row i at g + i * rb), transposed: lane i
 * of wt[j] holds bytes 4j..4j+3 of row i's weights plus 128 (XOR 0x80),
 * the unsigned operand vpdpbusd wants.  Two rounds of unpacks and one of
 * 128-bit shuffles.
 */
T512Q static INLINE void
transpose_16(const uint8_t *p, size_t rb, __m512i wt[8])
{
    const __m512i c80 = _mm512_set1_epi8((char)0x80);
    __m512i z[8], u[8], v[8];
    int k, j;

    #pragma GCC unroll 8
    for (k = 0; k < 8; k++)
        z[k] = row_pair(p, rb, k);
    #pragma GCC unroll 2
    for (k = 0; k < 8; k += 4) {
        u[k] = _mm512_unpacklo_epi32(z[k], z[k + 1]);
        u[k + 1] = _mm512_unpackhi_epi32(z[k], z[k + 1]);
        u[k + 2] = _mm512_unpacklo_epi32(z[k + 2], z[k + 3]);
        u[k + 3] = _mm512_unpackhi_epi32(z[k + 2], z[k + 3]);
        v[k] = _mm512_unpacklo_epi64(u[k], u[k + 2]);         /* dwords 0, 4 */
        v[k + 1] = _mm512_unpackhi_epi64(u[k], u[k + 2]);     /* 1, 5 */
        v[k + 2] = _mm512_unpacklo_epi64(u[k + 1], u[k + 3]); /* 2, 6 */
        v[k + 3] = _mm512_unpackhi_epi64(u[k + 1], u[k + 3]); /* 3, 7 */
    }
    #pragma GCC unroll 4
    for (j = 0; j < 4; j++) {
        wt[j] = _mm512_xor_si512(_mm512_shuffle_i32x4(v[j], v[j + 4], 0x88), c80);
        wt[j + 4] = _mm512_xor_si512(_mm512_shuffle_i32x4(v[j], v[j + 4], 0xdd), c80);
    }
}

T512Q static INLINE __m512i
bcast4(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/*
 * One tile: 16 rows from g x tt tokens (tt <= TT, a constant after
 * inlining).  Per token and block, sum (w + 128) q - c = sum w q exactly,
 * in two chains of 4 vpdpbusd.  pf: prefetch the next tile's rows.
 */
T512Q static INLINE void
tile_512(const uint8_t *g, size_t rb, int n, const uint8_t *xq, size_t ldq,
         int tt, float *y, int ldy, int pf)
{
    const __m512i off = row_offsets(rb);
    int nb = n / 32, b, t;
    __m512 acc[TT];

    #pragma GCC unroll 16
    for (t = 0; t < tt; t++)
        acc[t] = _mm512_setzero_ps();
    for (b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * 34 + 2;
        __m512i wt[8];
        __m512 dw;

        transpose_16(p, rb, wt);
        dw = scales_16(g, b, off);
        if (pf)
            prefetch_next_16(p, rb);
        #pragma GCC unroll 16
        for (t = 0; t < tt; t++) {
            const uint8_t *qt = xq + (size_t)t * ldq, *q = qt + (size_t)b * 32;
            __m512i s0 = _mm512_dpbusd_epi32(_mm512_set1_epi32(-gpt_q8x_offsets(qt, n)[b]), wt[0], bcast4(q));
            __m512i s1 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wt[1], bcast4(q + 4));
            s0 = _mm512_dpbusd_epi32(s0, wt[2], bcast4(q + 8));
            s1 = _mm512_dpbusd_epi32(s1, wt[3], bcast4(q + 12));
            s0 = _mm512_dpbusd_epi32(s0, wt[4], bcast4(q + 16));
            s1 = _mm512_dpbusd_epi32(s1, wt[5], bcast4(q + 20));
            s0 = _mm512_dpbusd_epi32(s0, wt[6], bcast4(q + 24));
            s1 = _mm512_dpbusd_epi32(s1, wt[7], bcast4(q + 28));
            acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(gpt_q8x_scales(qt, n)[b])),
                                     _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), acc[t]);
        }
    }
    #pragma GCC unroll 16
    for (t = 0; t < tt; t++)
        _mm512_storeu_ps(y + (size_t)t * ldy, acc[t]);
}

/*
 * Decode (one token): the same sums without the transpose, which pays
 * only when several tokens share it.  vpdpbusd of each row pair against
 * the token's block in both halves leaves 8 partial sums per row; two
 * rounds of unpacks and adds and one of 128-bit shuffles fold them into
 * one lane per row, in row order.
 */
T512Q static void
tile_512_dec(const uint8_t *g, size_t rb, int n, const uint8_t *xq, float *y, int pf)
{
    const __m512i off = row_offsets(rb), c80 = _mm512_set1_epi8((char)0x80);
    int nb = n / 32, b, k;
    __m512 acc = _mm512_setzero_ps();

    for (b = 0; b < nb; b++) {
        const uint8_t *p = g + (size_t)b * 34 + 2;
        __m512i xb = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xq + (size_t)b * 32)));
        __m512i s[8], h[2], sum;
        __m512 dw;

        #pragma GCC unroll 8
        for (k = 0; k < 8; k++)
            s[k] = _mm512_dpbusd_epi32(_mm512_setzero_si512(),
                                       _mm512_xor_si512(row_pair(p, rb, k), c80), xb);
        dw = scales_16(g, b, off);
        if (pf)
            prefetch_next_16(p, rb);
        #pragma GCC unroll 2
        for (k = 0; k < 8; k += 4) {
            __m512i a01 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[k], s[k + 1]),
                                           _mm512_unpackhi_epi32(s[k], s[k + 1]));
            __m512i a23 = _mm512_add_epi32(_mm512_unpacklo_epi32(s[k + 2], s[k + 3]),
                                           _mm512_unpackhi_epi32(s[k + 2], s[k + 3]));
            h[k / 4] = _mm512_add_epi32(_mm512_unpacklo_epi64(a01, a23),
                                        _mm512_unpackhi_epi64(a01, a23));
        }
        sum = _mm512_add_epi32(_mm512_shuffle_i32x4(h[0], h[1], 0x88),
                               _mm512_shuffle_i32x4(h[0], h[1], 0xdd));
        acc = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(gpt_q8x_scales(xq, n)[b])),
                              _mm512_cvtepi32_ps(_mm512_sub_epi32(
                                  sum, _mm512_set1_epi32(gpt_q8x_offsets(xq, n)[b]))),
                              acc);
    }
    _mm512_storeu_ps(y, acc);
}

/* Instances for each token count, so every loop above unrolls fully. */
#define TILE512(N)                                                          \
    T512Q static void tile_512_##N(const uint8_t *g, size_t rb, int n,       \
                                   const uint8_t *xq, size_t ldq, float *y, \
                                   int ldy, int pf)                         \
    {                                                                       \
        tile_512(g, rb, n, xq, ldq, N, y, ldy, pf);                         \
    }
TILE512(1)
TILE512(2)
TILE512(3)
TILE512(4)
TILE512(5)
TILE512(6)
TILE512(7)
TILE512(8)
TILE512(9)
TILE512(10)
TILE512(11)
TILE512(12)
TILE512(13)
TILE512(14)
TILE512(15)
TILE512(16)

typedef void (*tile512_fn)(const uint8_t *, size_t, int, const uint8_t *, size_t,
                           float *, int, int);

/* Rows left over by the 16-row tiles: the portable dot, same bits. */
static void
rows_generic(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
             float *y, int ldy, int r0, int r1)
{
    int r, t;

    for (r = r0; r < r1; r++)
        for (t = 0; t < T; t++)
            y[(size_t)t * ldy + r] = gpt_dot_q8_generic(
                (const uint8_t *)W->data + (size_t)r * W->row_bytes, W->cols / 32,
                xq + (size_t)t * ldq);
}

T512Q void
gpt_matmul_q8_avx512(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
                     float *y, int ldy, int r0, int r1)
{
    static const tile512_fn tiles[TT + 1] = {NULL, tile_512_1, tile_512_2, tile_512_3,
                                             tile_512_4, tile_512_5, tile_512_6,
                                             tile_512_7, tile_512_8, tile_512_9,
                                             tile_512_10, tile_512_11, tile_512_12,
                                             tile_512_13, tile_512_14, tile_512_15,
                                             tile_512_16};
    size_t rb = W->row_bytes;
    int r, t;

    for (r = r0; r + ROWS <= r1; r += ROWS) {
        const uint8_t *g = (const uint8_t *)W->data + (size_t)r * rb;
        /* the next tile's rows, past r1 too (the next head's, in decode's
         * product split by heads); only the first token group streams */
        int pf = r + 2 * ROWS <= W->rows;
        if (T == 1) {
            tile_512_dec(g, rb, W->cols, xq, y + r, pf);
            continue;
        }
        for (t = 0; t < T; t += TT)
            tiles[T - t < TT ? T - t : TT](g, rb, W->cols, xq + (size_t)t * ldq, ldq,
                                           y + (size_t)t * ldy + r, ldy, t == 0 && pf);
    }
    rows_generic(W, xq, ldq, T, y, ldy, r, r1);
}

/* ---------------------------------------------------------------- AVX2 */

T256Q void
gpt_quantize_avx2(const float *x, int ldx, int T, int n, uint8_t *xq)
{
    const __m256i absmask = _mm256_set1_epi32(0x7fffffff);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t ldq = gpt_q8x_stride(n);
    int nb = n / 32, t, b, h;

    for (t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * ldx;
        uint8_t *q = xq + (size_t)t * ldq;
        float *d = gpt_q8x_scales(q, n);
        int32_t *c = gpt_q8x_offsets(q, n);
        for (b = 0; b < nb; b++) {
            __m256 v[4];
            __m256i m = _mm256_setzero_si256(), qi[4], sum;
            __m128i m4, s4;
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
                qi[h] = _mm256_min_epi32(_mm256_max_epi32(qi[h], lo), hi);
            }
            /* -127..127 survive both packs; the packs interleave 128-bit
             * lanes, the permutation puts the dwords back in order */
            _mm256_storeu_si256((__m256i *)(q + b * 32),
                                _mm256_permutevar8x32_epi32(
                                    _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]),
                                                       _mm256_packs_epi32(qi[2], qi[3])),
                                    order));
            sum = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
            s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
            s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
            c[b] = 128 * _mm_cvtsi128_si32(s4);
        }
    }
}

/* Prefetch distance for AVX2 rows, as in kernels_x86.c: rows of a few
 * hundred bytes are too short for the hardware prefetcher to ramp up. */
#define PF_ROWS 8
#define R2 4 /* rows per AVX2 tile */
#define T2 4 /* tokens per AVX2 tile */

/* One tile: rows[0..R2) x tt tokens.  No VNNI here: maddubs multiplies
 * unsigned by signed bytes and saturates pairs at 16 bits, so it gets |w|
 * (<= 128) and q with w's sign (|q| <= 127): pairs stay under 2^15. */
T256Q static INLINE void
tile_256(const uint8_t *const rows[R2], int n, const uint8_t *xq, size_t ldq,
         int tt, float *y, int ldy, size_t pf)
{
    const __m256i ones = _mm256_set1_epi16(1);
    int nb = n / 32, b, g, t;
    __m128 acc[T2];

    #pragma GCC unroll 4
    for (t = 0; t < tt; t++)
        acc[t] = _mm_setzero_ps();
    for (b = 0; b < nb; b++) {
        __m256i w[R2], aw[R2];
        float d[R2];
        __m128 dw;
        #pragma GCC unroll 4
        for (g = 0; g < R2; g++) {
            const uint8_t *blk = rows[g] + (size_t)b * 34;
            uint16_t h;
            memcpy(&h, blk, 2);
            d[g] = _cvtsh_ss(h);
            w[g] = _mm256_loadu_si256((const __m256i *)(blk + 2));
            aw[g] = _mm256_abs_epi8(w[g]);
            if (pf)
                __builtin_prefetch(blk + pf, 0, 0);
        }
        dw = _mm_loadu_ps(d);
        #pragma GCC unroll 4
        for (t = 0; t < tt; t++) {
            const uint8_t *qt = xq + (size_t)t * ldq;
            __m256i xs = _mm256_loadu_si256((const __m256i *)(qt + b * 32)), p[R2], h;
            __m128i s;
            #pragma GCC unroll 4
            for (g = 0; g < R2; g++)
                p[g] = _mm256_madd_epi16(
                    _mm256_maddubs_epi16(aw[g], _mm256_sign_epi8(xs, w[g])), ones);
            h = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
            s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
            acc[t] = _mm_fmadd_ps(_mm_mul_ps(dw, _mm_set1_ps(gpt_q8x_scales(qt, n)[b])),
                                  _mm_cvtepi32_ps(s), acc[t]);
        }
    }
    #pragma GCC unroll 4
    for (t = 0; t < tt; t++)
        _mm_storeu_ps(y + (size_t)t * ldy, acc[t]);
}

#define TILE256(N)                                                          \
    T256Q static void tile_256_##N(const uint8_t *const rows[R2], int n,     \
                                   const uint8_t *xq, size_t ldq, float *y, \
                                   int ldy, size_t pf)                      \
    {                                                                       \
        tile_256(rows, n, xq, ldq, N, y, ldy, pf);                          \
    }
TILE256(1)
TILE256(2)
TILE256(3)
TILE256(4)

typedef void (*tile256_fn)(const uint8_t *const *, int, const uint8_t *, size_t,
                           float *, int, size_t);

T256Q void
gpt_matmul_q8_avx2(const gpt_matrix *W, const uint8_t *xq, size_t ldq, int T,
                   float *y, int ldy, int r0, int r1)
{
    static const tile256_fn tiles[T2 + 1] = {NULL, tile_256_1, tile_256_2,
                                             tile_256_3, tile_256_4};
    const uint8_t *base = W->data;
    size_t pf = PF_ROWS * W->row_bytes; /* every T: a small batch is as
                                           memory-bound as decode */
    int r, t, g;

    for (r = r0; r + R2 <= r1; r += R2) {
        const uint8_t *rows[R2];
        for (g = 0; g < R2; g++)
            rows[g] = base + (size_t)(r + g) * W->row_bytes;
        for (t = 0; t < T; t += T2)
            tiles[T - t < T2 ? T - t : T2](rows, W->cols, xq + (size_t)t * ldq, ldq,
                                           y + (size_t)t * ldy + r, ldy, t == 0 ? pf : 0);
    }
    rows_generic(W, xq, ldq, T, y, ldy, r, r1);
}

#else /* not x86: the tables in kernels_x86.c are empty and unused */

void gpt_quantize_avx512(const float *x, int ldx, int T, int n, uint8_t *xq) {}
void gpt_matmul_q8_avx512(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                          int T, float *y, int ldy, int r0, int r1) {}
void gpt_quantize_avx2(const float *x, int ldx, int T, int n, uint8_t *xq) {}
void gpt_matmul_q8_avx2(const gpt_matrix *W, const uint8_t *xq, size_t ldq,
                        int T, float *y, int ldy, int r0, int r1) {}

#endif
