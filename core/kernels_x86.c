/*
 * kernels_x86.c - AVX-512 and AVX2 matrix kernels.
 *
 * Both compute exactly the canonical order described in kernels.h (see the
 * portable version in kernels.c): a 16-lane accumulator pair per output,
 * even chunks (blocks) into A and odd ones into B, then A + B and the fixed
 * tree reduction.  AVX2 holds each 16-lane accumulator as two 8-lane halves.
 * Functions carry target attributes so the rest of the core is compiled for
 * the baseline ISA and the right path is picked at run time.
 *
 * Shape of a call: W is [rows][cols], x is T vectors of cols floats
 * (stride ldx), y receives T vectors (stride ldy) for rows [r0, r1).
 * Prefill (T > 1) takes register tiles of rows x tokens (AVX-512: 4 x 6,
 * AVX2: 3 x 4; see prefill_tile_512) so that each loaded (and converted)
 * weight chunk feeds every token of the tile and each x chunk every row;
 * row blocks stay in L2 while all the tokens pass over them, so the
 * weights stream from memory once per call.  Decode (T = 1) takes tiles of
 * more rows (AVX-512: 8 F32 or 12 F16/BF16; AVX2: 3) with a prefetch tuned
 * for streaming, and groups of rows (4 for AVX-512, 2 for AVX2) for the
 * rows left over.
 * Q8_0 weights take the int8 path of kernels_q8_x86.c.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)

#define T512 __attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
#define T256 __attribute__((target("avx2,fma,f16c")))

/* Decode streams every weight from memory once per token in short rows
 * (a 768-weight Q8_0 row is 816 bytes), too short for the hardware
 * prefetcher to ramp up: fetch the same offset PREFETCH_ROWS rows ahead.
 * (A prefetch past the end of the matrix or mapping never faults.) */
#define PREFETCH_ROWS 8
static inline void
prefetch_ahead(const uint8_t *row, size_t ahead, size_t off)
{
    __builtin_prefetch(row + ahead + off, 0, 0);
    __builtin_prefetch(row + ahead + off + 64, 0, 0);
}

/* A prefill tile: columns [kb, ke) of rows[0..] times nu tokens (nu fixed
 * per instance).  Its accumulators live in acc (a slot of PREFILL_SLOT
 * bytes) between column blocks: read unless kb == 0; when ke == n the
 * results go to y[u * ldy + g] for the first nr rows. */
typedef void (*prefill_fn)(const uint8_t *const *rows, int kb, int ke, int n,
                           const float *x, int ldx, float *y, int ldy, int nr,
                           void *acc);
#define PREFILL_SLOT 3072   /* bytes: 2 x 4 x 6 zmm, 4 x 3 x 4 ymm */
#define PREFILL_SLOTS 8     /* row tiles sharing a token tile's column block */

/*
 * The prefill loop of both paths.  Row blocks of about rblk_bytes of
 * weights stay in L2 while every token tile passes over them.  A row of at
 * most kblk columns is one column block: each row tile of the block then
 * runs whole, and the token tile's x (PU x 3 KiB for 768 F32 columns)
 * stays in L1 for all the block's row tiles.  Longer rows (768 x 3072, the
 * MLP down-projection) take column blocks in the middle loop instead, over
 * at most PREFILL_SLOTS row tiles whose accumulators wait in acc[] between
 * blocks, so that each block of the token tile's x again stays in L1 for
 * all those row tiles rather than the whole row of x (PU x 12 KiB) being
 * fetched from L2 for each.
 */
static inline void
prefill_loop(const prefill_fn *fn, int pr, int pu, size_t rblk_bytes, int kblk,
             const gpt_matrix *W, const float *x, int ldx, int T, float *y,
             int ldy, int r0, int r1)
{
    _Alignas(64) unsigned char acc[PREFILL_SLOTS][PREFILL_SLOT];
    const uint8_t *base = W->data;
    const uint8_t *rows[8];
    int n = W->cols, rb, re, r, t, g, kb, ke;
    int rblk = (int)(rblk_bytes / W->row_bytes) / pr * pr;

    if (n > kblk && rblk > PREFILL_SLOTS * pr)
        rblk = PREFILL_SLOTS * pr;
    if (rblk < pr)
        rblk = pr;
    for (rb = r0; rb < r1; rb = re) {
        re = r1 - rb < rblk ? r1 : rb + rblk;
        for (t = 0; t < T; t += pu) {
            prefill_fn f = fn[(T - t < pu ? T - t : pu) - 1];
            for (kb = 0; kb < n; kb = ke) {
                ke = n - kb > kblk ? kb + kblk : n;
                for (r = rb; r < re; r += pr) {
                    int nr = re - r < pr ? re - r : pr;
                    for (g = 0; g < pr; g++)   /* pad a short tile with its last row */
                        rows[g] = base + (size_t)(r + (g < nr ? g : nr - 1)) * W->row_bytes;
                    f(rows, kb, ke, n, x + (size_t)t * ldx, ldx, y + (size_t)t * ldy + r,
                      ldy, nr, acc[n > kblk ? (r - rb) / pr : 0]);
                }
            }
        }
    }
}

/* ------------------------------------------------------------- AVX-512 */

T512 static inline float
hsum512(__m512 v)
{
    __m256 lo = _mm512_castps512_ps256(v);
    __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    __m256 s8 = _mm256_add_ps(lo, hi);                     /* s[i] + s[i+8] */
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(s8),
                          _mm256_extractf128_ps(s8, 1));   /* + s[i+4] */
    __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));         /* + s[i+2] */
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
}

/* 16 weights of a float-typed row starting at element i, masked. */
T512 static inline __m512
load16_512(uint32_t type, const uint8_t *row, int i, __mmask16 m)
{
    switch (type) {
    case GGML_F16:
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + (size_t)i * 2));
    case GGML_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, row + (size_t)i * 2)),
            16));
    default:
        return _mm512_maskz_loadu_ps(m, row + (size_t)i * 4);
    }
}

#define G512 4 /* rows per group */

T512 static void
float_group_512(const gpt_matrix *W, const uint8_t *rows[G512], const float *x,
                float out[G512])
{
    __m512 A[G512], B[G512];
    int n = W->cols, nchunks = (n + 15) / 16, c, g;
    uint32_t type = W->type;
    size_t esize = type == GGML_F32 ? 4 : 2, pf = PREFETCH_ROWS * W->row_bytes;

    #pragma GCC unroll 4

    for (g = 0; g < G512; g++)
        A[g] = B[g] = _mm512_setzero_ps();
    for (c = 0; c + 1 < nchunks; c += 2) {
        __mmask16 m1 = (c + 1) * 16 + 16 <= n ? (__mmask16)0xffff
                                               : (__mmask16)((1u << (n - (c + 1) * 16)) - 1);
        __m512 x0 = _mm512_loadu_ps(x + c * 16);
        __m512 x1 = _mm512_maskz_loadu_ps(m1, x + (c + 1) * 16);
        #pragma GCC unroll 4
        for (g = 0; g < G512; g++) {
            prefetch_ahead(rows[g], pf, (size_t)c * 16 * esize);
            A[g] = _mm512_fmadd_ps(load16_512(type, rows[g], c * 16, 0xffff), x0, A[g]);
            B[g] = _mm512_fmadd_ps(load16_512(type, rows[g], (c + 1) * 16, m1), x1, B[g]);
        }
    }
    if (c < nchunks) {
        __mmask16 m0 = c * 16 + 16 <= n ? (__mmask16)0xffff
                                         : (__mmask16)((1u << (n - c * 16)) - 1);
        __m512 x0 = _mm512_maskz_loadu_ps(m0, x + c * 16);
        #pragma GCC unroll 4
        for (g = 0; g < G512; g++)
            A[g] = _mm512_fmadd_ps(load16_512(type, rows[g], c * 16, m0), x0, A[g]);
    }
    #pragma GCC unroll 4
    for (g = 0; g < G512; g++)
        out[g] = hsum512(_mm512_add_ps(A[g], B[g]));
}

/*
 * Decode (T = 1) reads every weight once per token and is bound by how many
 * cache-line misses are in flight, not by arithmetic.  A tile of nr
 * consecutive rows (8 for F32, 12 for the half-size F16/BF16 rows; 2 x nr
 * accumulators, two per row as in float_group_512, so each row's order is
 * unchanged) keeps nr independent streams going, and each stream prefetches
 * DEC_LA bytes ahead of where it reads: the lookahead is counted along the
 * stream (row g, then row g + nr of the next tile, ...), so it stays the
 * same in bytes whatever the row length (a 768-float F32 row is 3 KiB, a
 * 3072-float one 12 KiB).  Short lookaheads won on AVX-512 (8 KiB in
 * flight for F32, 6 KiB for F16: 1 KiB and 512 bytes per stream; against
 * 3 KiB per stream, F16 decode gained 13%, F32 3%, corebench 128 + 128 on
 * one thread); AVX2's 3-row tiles keep 3 KiB per stream, where 512 bytes
 * lost 15% (F16).  The last tiles of a call that ends inside the matrix
 * look ahead only as far as its rows go (matmul_avx512): with several
 * threads the rows past a thread's share are another thread's, and
 * decode's QKV job gives each thread three short ranges (forward.c,
 * qkv_attn_task).  Tuned with bench/kernbench.c and `gpt bench` on the
 * 124M models against the 4-row group with an 8-row prefetch distance
 * (README, Benchmarks); the -D overrides are for such tuning runs.
 */
#define INLINE inline __attribute__((always_inline))
#ifndef DR32
#define DR32 8    /* rows per F32 tile */
#endif
#ifndef DR16
#define DR16 12   /* rows per F16/BF16 tile: more rows for half the bytes */
#endif
#define DRMAX 12
#ifndef DEC_LA32
#define DEC_LA32 1024
#endif
#ifndef DEC_LA16
#define DEC_LA16 512
#endif
#ifndef DEC_LA_256
#define DEC_LA_256 3072   /* AVX2, F32 and F16/BF16 alike */
#endif
#ifndef DEC_HINT
#define DEC_HINT 3 /* prefetcht0 */
#endif

/* 16 weights at p, unmasked. */
T512 static INLINE __m512
loadw16_512(uint32_t type, const uint8_t *p)
{
    switch (type) {
    case GGML_F16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
    case GGML_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
    default:
        return _mm512_loadu_ps(p);
    }
}

/* out[0..nr) = the nr rows starting at row0 (stride rb) times x, with a
 * lookahead of la bytes (see above). */
T512 static INLINE void
decode_tile_512(uint32_t type, int nr, const uint8_t *row0, size_t rb, int n,
                const float *x, float *out, size_t la)
{
    const size_t es = type == GGML_F32 ? 4 : 2;
    const uint8_t *rows[DRMAX];
    __m512 A[DRMAX], B[DRMAX];
    int c, g;
    /* the prefetch point: row g + pd / rb, byte po (pd a whole tile step) */
    size_t pd = la / rb * nr * rb, po = la % rb;

    #pragma GCC unroll 12
    for (g = 0; g < nr; g++) {
        rows[g] = row0 + (size_t)g * rb;
        A[g] = B[g] = _mm512_setzero_ps();
    }
    for (c = 0; c * 16 + 32 <= n; c += 2) {
        __m512 x0 = _mm512_loadu_ps(x + c * 16), x1 = _mm512_loadu_ps(x + c * 16 + 16);
        size_t off = (size_t)c * 16 * es;
        #pragma GCC unroll 12
        for (g = 0; g < nr; g++) {
            __builtin_prefetch(rows[g] + pd + po, 0, DEC_HINT);
            if (es == 4)
                __builtin_prefetch(rows[g] + pd + po + 64, 0, DEC_HINT);
            A[g] = _mm512_fmadd_ps(loadw16_512(type, rows[g] + off), x0, A[g]);
            B[g] = _mm512_fmadd_ps(loadw16_512(type, rows[g] + off + 16 * es), x1, B[g]);
        }
        po += 32 * es;
        if (po >= rb) {
            po -= rb;
            pd += nr * rb;
        }
    }
    if (c * 16 < n) {   /* the last one or two chunks, masked as in float_group_512 */
        int rem = n - c * 16;
        if (rem > 16) {
            __mmask16 m1 = (__mmask16)((1u << (rem - 16)) - 1);
            __m512 x0 = _mm512_loadu_ps(x + c * 16);
            __m512 x1 = _mm512_maskz_loadu_ps(m1, x + (c + 1) * 16);
            #pragma GCC unroll 12
            for (g = 0; g < nr; g++) {
                A[g] = _mm512_fmadd_ps(load16_512(type, rows[g], c * 16, 0xffff), x0, A[g]);
                B[g] = _mm512_fmadd_ps(load16_512(type, rows[g], (c + 1) * 16, m1), x1, B[g]);
            }
        } else {
            __mmask16 m0 = rem == 16 ? (__mmask16)0xffff : (__mmask16)((1u << rem) - 1);
            __m512 x0 = _mm512_maskz_loadu_ps(m0, x + c * 16);
            #pragma GCC unroll 12
            for (g = 0; g < nr; g++)
                A[g] = _mm512_fmadd_ps(load16_512(type, rows[g], c * 16, m0), x0, A[g]);
        }
    }
    #pragma GCC unroll 12
    for (g = 0; g < nr; g++)
        out[g] = hsum512(_mm512_add_ps(A[g], B[g]));
}

/* One instance per weight type, so the type test leaves the inner loop. */
#define DECODE512(NAME, TYPE, NR)                                            \
    T512 static void NAME(const uint8_t *row0, size_t rb, int n,            \
                          const float *x, float *out, size_t la)            \
    {                                                                       \
        decode_tile_512(TYPE, NR, row0, rb, n, x, out, la);                 \
    }
DECODE512(decode_f32_512, GGML_F32, DR32)
DECODE512(decode_f16_512, GGML_F16, DR16)
DECODE512(decode_bf16_512, GGML_BF16, DR16)

/*
 * Prefill (T > 1): register tiles of PR512 rows x PU512 tokens.
 *
 * The 4-row group above, run once per token, spends 5 loads (and for F16
 * or BF16 4 conversions) on 4 fmas: bound by loads, it reached ~55 GFLOP/s
 * for F32 on Zen 5 (kernbench, T = 64), a quarter of the fma peak.  A tile
 * loads (and converts) each 16-weight chunk of its PR512 rows once and each
 * 16-float chunk of its PU512 tokens once, and does all PR512 x PU512 fmas
 * between them from registers.
 *
 * Bit-identity: each (row, token) pair still gets exactly the fmas of
 * float_group_512 in the same order: accumulator A takes the even 16-chunks
 * in order, B the odd ones, a short last chunk masked to zeros, then
 * hsum512(A + B).  A and B never meet before that final add, so the tile
 * runs them as two passes (A over the even chunks, then B over the odd
 * ones) instead of interleaved: one accumulator per pair instead of two,
 * which is what lets the tile be 4 x 6 (24 zmm accumulators, 4 weights and
 * one x vector, no spills: 10 loads per 24 fmas, against 7 per 12 for the
 * interleaved 3 x 4 tile, ~90 against ~115 GFLOP/s for F32).  The loads go
 * through an empty asm so that gcc keeps them in registers rather than
 * folding them into the fmas as memory operands, which would load each x
 * chunk once per row (15 loads per 12 fmas: back to ~57 GFLOP/s).
 *
 * Column blocks: a pass reads every other 64-byte line of its rows, so
 * between the two passes the tile's rows and tokens must stay in L1; rows
 * longer than KBLK512 columns are cut into blocks of that many, each block
 * doing both passes, with the tile's 2 x 24 accumulators parked in a slot
 * of prefill_loop between blocks (a store and a reload: the same bits).
 * prefill_loop (above) then runs a column block over several row tiles
 * before the next, so that the token tile's x block stays in L1 for all of
 * them: 768 x 3072 F32 ~78 -> ~98 GFLOP/s, F16 ~104 -> ~140 against the
 * whole row of each tile in turn.
 *
 * Loop order (prefill_loop): row blocks of about RBLK512 bytes of weights
 * (they stay in L2), then token tiles, (column blocks,) then the row tiles
 * of the block, so a token tile's x stays in L1 while the block's rows
 * stream from L2.

 * Ragged edges: a short row tile repeats its last row (results dropped); a
 * short token tile is an instance for that many tokens (one per count).
 * The sizes were picked with bench/kernbench.c and a matmul loop on the
 * 124M shapes (3072 x 768 and 768 x 3072): 3 x 4, 4 x 3, 2 x 6 and 6 x 2
 * interleaved, 4 x 6, 6 x 4, 5 x 5 and 3 x 8 in two passes; 4 x 6 rows
 * divide the threads' 16-row shares.
 */
#ifndef PR512
#define PR512 4      /* rows per prefill tile */
#endif
#ifndef PU512
#define PU512 6      /* tokens per prefill tile (at most 6) */
#endif
#ifndef KBLK512
#define KBLK512 768  /* columns per column block (a multiple of 32) */
#endif
#ifndef RBLK512
#define RBLK512 (384 * 1024) /* bytes of weights per row block */
#endif
#if 2 * PR512 * PU512 * 64 > PREFILL_SLOT
#error "PR512 x PU512: the accumulators exceed PREFILL_SLOT"
#endif

/* Keeps v in a register: the fmas then read it there, not from memory. */
#define IN_REG(v) __asm__("" : "+v"(v))

T512 static INLINE void
prefill_tile_512(uint32_t type, int nu, const uint8_t *const *rows, int kb,
                 int ke, int n, const float *x, int ldx, float *y, int ldy,
                 int nr, void *slot)
{
    const size_t es = type == GGML_F32 ? 4 : 2;
    __m512 acc[PR512][PU512], w[PR512], (*S)[PR512][PU512] = slot;
    int c, g, u, p;

    for (p = 0; p < 2; p++) {   /* p = 0: A, even chunks; 1: B, odd */
        #pragma GCC unroll 8
        for (g = 0; g < PR512; g++)
            #pragma GCC unroll 8
            for (u = 0; u < nu; u++)
                acc[g][u] = kb ? S[p][g][u] : _mm512_setzero_ps();
        for (c = kb / 16 + p; c * 16 + 16 <= ke; c += 2) {
            size_t off = (size_t)c * 16 * es;
            #pragma GCC unroll 8
            for (g = 0; g < PR512; g++) {
                w[g] = loadw16_512(type, rows[g] + off);
                IN_REG(w[g]);
            }
            #pragma GCC unroll 8
            for (u = 0; u < nu; u++) {
                __m512 xv = _mm512_loadu_ps(x + (size_t)u * ldx + c * 16);
                IN_REG(xv);
                #pragma GCC unroll 8
                for (g = 0; g < PR512; g++)
                    acc[g][u] = _mm512_fmadd_ps(w[g], xv, acc[g][u]);
            }
        }
        if (c * 16 < ke) {   /* the short last chunk, masked as in float_group_512 */
            __mmask16 m = (__mmask16)((1u << (ke - c * 16)) - 1);
            #pragma GCC unroll 8
            for (g = 0; g < PR512; g++)
                w[g] = load16_512(type, rows[g], c * 16, m);
            #pragma GCC unroll 8
            for (u = 0; u < nu; u++) {
                __m512 xv = _mm512_maskz_loadu_ps(m, x + (size_t)u * ldx + c * 16);
                #pragma GCC unroll 8
                for (g = 0; g < PR512; g++)
                    acc[g][u] = _mm512_fmadd_ps(w[g], xv, acc[g][u]);
            }
        }
        #pragma GCC unroll 8
        for (g = 0; g < PR512; g++)
            #pragma GCC unroll 8
            for (u = 0; u < nu; u++)
                S[p][g][u] = acc[g][u];
    }
    if (ke < n)
        return;
    #pragma GCC unroll 8
    for (u = 0; u < nu; u++)
        #pragma GCC unroll 8
        for (g = 0; g < PR512; g++)
            if (g < nr)
                y[(size_t)u * ldy + g] = hsum512(_mm512_add_ps(S[0][g][u], S[1][g][u]));
}

#define PREFILL512(NAME, TYPE, NU)                                           \
    T512 static void NAME(const uint8_t *const *rows, int kb, int ke, int n, \
                          const float *x, int ldx, float *y, int ldy,       \
                          int nr, void *acc)                                \
    {                                                                       \
        prefill_tile_512(TYPE, NU, rows, kb, ke, n, x, ldx, y, ldy, nr, acc); \
    }
#if PU512 > 6
#error "PU512: at most 6 tokens per tile"
#endif
#define PREFILL512_TYPE(P, TYPE)                                             \
    PREFILL512(P##1, TYPE, 1) PREFILL512(P##2, TYPE, 2)                     \
    PREFILL512(P##3, TYPE, 3) PREFILL512(P##4, TYPE, 4)                     \
    PREFILL512(P##5, TYPE, 5) PREFILL512(P##6, TYPE, 6)
PREFILL512_TYPE(prefill_f32_512_, GGML_F32)
PREFILL512_TYPE(prefill_f16_512_, GGML_F16)
PREFILL512_TYPE(prefill_bf16_512_, GGML_BF16)
#define PREFILL512_ROW(P) {P##1, P##2, P##3, P##4, P##5, P##6}
static const prefill_fn prefill_512[3][6] = {
    PREFILL512_ROW(prefill_f32_512_), PREFILL512_ROW(prefill_f16_512_),
    PREFILL512_ROW(prefill_bf16_512_),
};

T512 static void
matmul_avx512(const gpt_matrix *W, const float *x, int ldx, int T, float *y,
              int ldy, int r0, int r1)
{
    const uint8_t *base = W->data;
    int r, t, g;

    if (W->type == GGML_Q8_0) {
        gpt_matmul_q8_float(&gpt_kernels_avx512_impl, W, x, ldx, T, y, ldy, r0, r1);
        return;
    }
    if (T > 1) {    /* prefill tiles */
        prefill_loop(prefill_512[W->type == GGML_F16 ? 1 : W->type == GGML_BF16 ? 2 : 0],
                     PR512, PU512, RBLK512, KBLK512, W, x, ldx, T, y, ldy, r0, r1);
        return;
    }
    if (T == 1) {   /* whole decode tiles, then groups for the rest */
        void (*tile)(const uint8_t *, size_t, int, const float *, float *, size_t) =
            W->type == GGML_F16 ? decode_f16_512
            : W->type == GGML_BF16 ? decode_bf16_512 : decode_f32_512;
        int nr = W->type == GGML_F32 ? DR32 : DR16;
        size_t la = W->type == GGML_F32 ? DEC_LA32 : DEC_LA16;
        for (; r0 + nr <= r1; r0 += nr) {
            /* a range that ends inside W: its last tiles look ahead only
             * as far as the whole tiles left in [r0, r1), since the rows
             * past r1 are another thread's (or another call's) and would
             * be fetched twice.  Past the end of W they run on into what
             * the file holds next, as always. */
            size_t left = r1 < W->rows ? (size_t)((r1 - r0) / nr - 1) * W->row_bytes : la;
            tile(base + (size_t)r0 * W->row_bytes, W->row_bytes, W->cols, x,
                 y + r0, la < left ? la : left);
        }
    }
    for (r = r0; r < r1; r += G512) {
        const uint8_t *rows[G512];
        int nr = r1 - r < G512 ? r1 - r : G512;
        float out[G512];

        #pragma GCC unroll 4

        for (g = 0; g < G512; g++)   /* pad a short group with its last row */
            rows[g] = base + (size_t)(r + (g < nr ? g : nr - 1)) * W->row_bytes;
        for (t = 0; t < T; t++) {
            float_group_512(W, rows, x + (size_t)t * ldx, out);
            for (g = 0; g < nr; g++)
                y[(size_t)t * ldy + r + g] = out[g];
        }
    }
}

/* 16 halves at h (the first n of them when n < 16, the rest 0) as floats */
T512 static inline __m512
load_h16(const uint16_t *h, int n)
{
    if (n >= 16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16((__mmask16)((1u << n) - 1), h));
}

/* The canonical dot of a with b, or with the halves h widened when b is
 * NULL: one body, so both keep the same order. */
T512 static inline float
dot_fh_avx512(const float *a, const float *b, const uint16_t *h, int n)
{
    __m512 A = _mm512_setzero_ps(), B = _mm512_setzero_ps();
    int c, nchunks = (n + 15) / 16;

    for (c = 0; c < nchunks; c++) {
        __mmask16 m = c * 16 + 16 <= n ? (__mmask16)0xffff
                                        : (__mmask16)((1u << (n - c * 16)) - 1);
        __m512 p = _mm512_maskz_loadu_ps(m, a + c * 16);
        __m512 q = b ? _mm512_maskz_loadu_ps(m, b + c * 16) : load_h16(h + c * 16, n - c * 16);
        if (c & 1)
            B = _mm512_fmadd_ps(p, q, B);
        else
            A = _mm512_fmadd_ps(p, q, A);
    }
    return hsum512(_mm512_add_ps(A, B));
}

T512 static float
dot_avx512(const float *a, const float *b, int n)
{
    return dot_fh_avx512(a, b, NULL, n);
}

T512 static void
axpy_avx512(float a, const float *x, float *y, int n)
{
    __m512 va = _mm512_set1_ps(a);
    int i;

    for (i = 0; i < n; i += 16) {
        __mmask16 m = i + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, _mm512_maskz_loadu_ps(m, x + i),
                                              _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* gpt_exp of kernels.c, 16 lanes at a time. */
T512 static inline __m512
exp16_avx512(__m512 z)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 nn, r, p;
    __m512i bits;

    z = _mm512_min_ps(_mm512_max_ps(z, _mm512_set1_ps(-GPT_EXP_CLAMP)), _mm512_set1_ps(GPT_EXP_CLAMP));
    nn = _mm512_roundscale_ps(_mm512_mul_ps(z, _mm512_set1_ps(GPT_EXP_LOG2E)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_fmadd_ps(nn, _mm512_set1_ps(-GPT_EXP_LN2_HI), z);
    r = _mm512_fmadd_ps(nn, _mm512_set1_ps(-GPT_EXP_LN2_LO), r);
    p = _mm512_fmadd_ps(_mm512_set1_ps(1.0f / 5040), r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, one);
    p = _mm512_fmadd_ps(p, r, one);
    bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(nn), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

/* The canonical GELU of kernels.c (gelu_one), 16 lanes at a time. */
T512 static void
gelu_avx512(float *y, const float *bias, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int i;

    for (i = 0; i < n; i += 16) {
        __mmask16 m = i + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 x = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), _mm512_maskz_loadu_ps(m, bias + i));
        __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
        __m512 e = exp16_avx512(_mm512_mul_ps(_mm512_set1_ps(GPT_GELU_2C),
                                              _mm512_fmadd_ps(_mm512_set1_ps(GPT_GELU_K), x3, x)));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(x, _mm512_div_ps(e, _mm512_add_ps(e, one))));
    }
}

/* The canonical softmax of kernels.h, lane j of the sums in lane j; the
 * ragged end by gpt_exp into the same lanes. */
T512 static void
softmax_avx512(float *x, int n)
{
    __m512 vm = _mm512_set1_ps(-INFINITY), acc = _mm512_setzero_ps();
    float mx, s[16], inv;
    int i, full = n & ~15;

    for (i = 0; i < full; i += 16)   /* max(v, m): a NaN v leaves m */
        vm = _mm512_max_ps(_mm512_loadu_ps(x + i), vm);
    mx = _mm512_reduce_max_ps(vm);
    for (; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    for (i = 0; i < full; i += 16) {
        __m512 e = exp16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(mx)));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    _mm512_storeu_ps(s, acc);
    for (; i < n; i++) {
        x[i] = gpt_exp(x[i] - mx);
        s[i % 16] += x[i];
    }
    inv = 1.0f / gpt_reduce16(s);
    for (i = 0; i < full; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), _mm512_set1_ps(inv)));
    for (; i < n; i++)
        x[i] *= inv;
}

/* The 64 halves (2 cache lines) of a cached row that the next attention
 * step will read (pf of gpt_scores_fn and gpt_mix_fn). */
T512 static inline void
prefetch_row64(const uint16_t *p)
{
    __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(p + 32, 0, 3);
}

/* axpy_avx512(a, row, acc) on a half row */
T512 static void
axpy_h_avx512(float a, const uint16_t *h, float *y, int n)
{
    __m512 va = _mm512_set1_ps(a);
    int i;

    for (i = 0; i < n; i += 16) {
        __mmask16 m = i + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m,
                              _mm512_fmadd_ps(va, load_h16(h + i, n - i),
                                              _mm512_maskz_loadu_ps(m, y + i)));
    }
}

/* Attention scores; rows of 64 (GPT-2's head size) take the fast path,
 * others dot_fh_avx512.  Each row's dot is exactly dot_avx512's: chunks
 * alternate between A and B. */
T512 static void
scores_avx512(const float *q, const uint16_t *rows, size_t stride, int n,
              int len, float scale, float *out, const uint16_t *pf)
{
    int j = 0;

    if (len == 64) {
        __m512 q0 = _mm512_loadu_ps(q), q1 = _mm512_loadu_ps(q + 16);
        __m512 q2 = _mm512_loadu_ps(q + 32), q3 = _mm512_loadu_ps(q + 48);
        for (; j < n; j++) {
            const uint16_t *k = rows + (size_t)j * stride;
            if (pf)
                prefetch_row64(pf + (size_t)j * stride);
            /* fma onto +0, not a multiply: the same bits as dot_avx512
             * even for a product of -0 */
            __m512 A = _mm512_fmadd_ps(load_h16(k, 16), q0, _mm512_setzero_ps());
            __m512 B = _mm512_fmadd_ps(load_h16(k + 16, 16), q1, _mm512_setzero_ps());
            A = _mm512_fmadd_ps(load_h16(k + 32, 16), q2, A);
            B = _mm512_fmadd_ps(load_h16(k + 48, 16), q3, B);
            out[j] = hsum512(_mm512_add_ps(A, B)) * scale;
        }
    }
    for (; j < n; j++)
        out[j] = dot_fh_avx512(q, NULL, rows + (size_t)j * stride, len) * scale;
}

/* The weighted sum of value rows, the accumulator kept in registers. */
T512 static void
mix_avx512(const float *w, const uint16_t *rows, size_t stride, int n, int len,
           float *acc, const uint16_t *pf)
{
    int j;

    if (len == 64) {
        __m512 a0 = _mm512_loadu_ps(acc), a1 = _mm512_loadu_ps(acc + 16);
        __m512 a2 = _mm512_loadu_ps(acc + 32), a3 = _mm512_loadu_ps(acc + 48);
        for (j = 0; j < n; j++) {
            const uint16_t *v = rows + (size_t)j * stride;
            if (pf)
                prefetch_row64(pf + (size_t)j * stride);
            __m512 wj = _mm512_set1_ps(w[j]);
            a0 = _mm512_fmadd_ps(wj, load_h16(v, 16), a0);
            a1 = _mm512_fmadd_ps(wj, load_h16(v + 16, 16), a1);
            a2 = _mm512_fmadd_ps(wj, load_h16(v + 32, 16), a2);
            a3 = _mm512_fmadd_ps(wj, load_h16(v + 48, 16), a3);
        }
        _mm512_storeu_ps(acc, a0);
        _mm512_storeu_ps(acc + 16, a1);
        _mm512_storeu_ps(acc + 32, a2);
        _mm512_storeu_ps(acc + 48, a3);
        return;
    }
    for (j = 0; j < n; j++)
        axpy_h_avx512(w[j], rows + (size_t)j * stride, acc, len);
}

/* mix_avx512 for GPT_MIX_Q queries over the same value rows: each 64-half
 * row is loaded once for the 4 queries, and the 16 accumulators are 16
 * independent fma chains where one query's 4 wait on each other's latency
 * (~3 ns per row and query for mix_avx512, most of it that wait).  Each
 * acc[q] still takes its rows' fmas in order. */
T512 static void
mixq_avx512(const float *const *w, const uint16_t *rows, size_t stride, int n,
            int len, float *const *acc)
{
    __m512 a[GPT_MIX_Q][4];
    int j, q, i;

    if (len != 64) {
        for (q = 0; q < GPT_MIX_Q; q++)
            mix_avx512(w[q], rows, stride, n, len, acc[q], NULL);
        return;
    }
    #pragma GCC unroll 4
    for (q = 0; q < GPT_MIX_Q; q++)
        #pragma GCC unroll 4
        for (i = 0; i < 4; i++)
            a[q][i] = _mm512_loadu_ps(acc[q] + 16 * i);
    for (j = 0; j < n; j++) {
        const uint16_t *v = rows + (size_t)j * stride;
        __m512 v0 = load_h16(v, 16), v1 = load_h16(v + 16, 16);
        __m512 v2 = load_h16(v + 32, 16), v3 = load_h16(v + 48, 16);
        #pragma GCC unroll 4
        for (q = 0; q < GPT_MIX_Q; q++) {
            __m512 wj = _mm512_set1_ps(w[q][j]);
            a[q][0] = _mm512_fmadd_ps(wj, v0, a[q][0]);
            a[q][1] = _mm512_fmadd_ps(wj, v1, a[q][1]);
            a[q][2] = _mm512_fmadd_ps(wj, v2, a[q][2]);
            a[q][3] = _mm512_fmadd_ps(wj, v3, a[q][3]);
        }
    }
    #pragma GCC unroll 4
    for (q = 0; q < GPT_MIX_Q; q++)
        #pragma GCC unroll 4
        for (i = 0; i < 4; i++)
            _mm512_storeu_ps(acc[q] + 16 * i, a[q][i]);
}

T512 static void
to_f16_avx512(const float *x, uint16_t *h, int n)
{
    int i;

    for (i = 0; i < n; i += 16) {
        __mmask16 m = i + 16 <= n ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(h + i, m,
                                 _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
}

const gpt_kernels gpt_kernels_avx512_impl = {
    "avx512", matmul_avx512, dot_avx512, axpy_avx512, gelu_avx512,
    scores_avx512, mix_avx512, mixq_avx512, to_f16_avx512, softmax_avx512,
    gpt_quantize_avx512, gpt_matmul_q8_avx512};

/* ---------------------------------------------------------------- AVX2 */

/* A 16-lane vector as two 8-lane halves. */
typedef struct v16 { __m256 lo, hi; } v16;

T256 static inline float
hsum256x2(v16 v)
{
    __m256 s8 = _mm256_add_ps(v.lo, v.hi);                 /* s[i] + s[i+8] */
    __m128 a = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 b = _mm_add_ps(a, _mm_movehl_ps(a, a));
    return _mm_cvtss_f32(_mm_add_ss(b, _mm_shuffle_ps(b, b, 1)));
}

/* 8 weights at element i (the caller guarantees i + 8 <= cols). */
T256 static inline __m256
load8_256(uint32_t type, const uint8_t *row, int i)
{
    switch (type) {
    case GGML_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + (size_t)i * 2)));
    case GGML_BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(row + (size_t)i * 2))), 16));
    default:
        return _mm256_loadu_ps((const float *)(row + (size_t)i * 4));
    }
}

/* Loads 8 lanes starting at element i of a row, zero beyond n. */
T256 static inline __m256
load8_tail(uint32_t type, const uint8_t *row, int i, int n)
{
    float tmp[8];
    int j;

    if (i + 8 <= n)
        return load8_256(type, row, i);
    for (j = 0; j < 8; j++) {
        if (i + j < n) {
            if (type == GGML_F32) {
                memcpy(&tmp[j], row + (size_t)(i + j) * 4, 4);
            } else {
                uint16_t h;
                memcpy(&h, row + (size_t)(i + j) * 2, 2);
                tmp[j] = type == GGML_F16 ? gpt_f16_to_f32(h) : gpt_bf16_to_f32(h);
            }
        } else {
            tmp[j] = 0.0f;
        }
    }
    return _mm256_loadu_ps(tmp);
}

T256 static inline __m256
loadx8_tail(const float *x, int i, int n)
{
    float tmp[8];
    int j;

    if (i + 8 <= n)
        return _mm256_loadu_ps(x + i);
    for (j = 0; j < 8; j++)
        tmp[j] = i + j < n ? x[i + j] : 0.0f;
    return _mm256_loadu_ps(tmp);
}

#define G256 2

T256 static void
float_group_256(const gpt_matrix *W, const uint8_t *rows[G256], const float *x,
                float out[G256])
{
    v16 A[G256], B[G256];
    int n = W->cols, nchunks = (n + 15) / 16, c, g;
    uint32_t type = W->type;
    size_t esize = type == GGML_F32 ? 4 : 2, pf = PREFETCH_ROWS * W->row_bytes;

    #pragma GCC unroll 4

    for (g = 0; g < G256; g++)
        A[g].lo = A[g].hi = B[g].lo = B[g].hi = _mm256_setzero_ps();
    for (c = 0; c < nchunks; c++) {
        int i = c * 16;
        __m256 xl = loadx8_tail(x, i, n), xh = loadx8_tail(x, i + 8, n);
        #pragma GCC unroll 4
        for (g = 0; g < G256; g++) {
            v16 *acc = (c & 1) ? &B[g] : &A[g];
            prefetch_ahead(rows[g], pf, (size_t)i * esize);
            acc->lo = _mm256_fmadd_ps(load8_tail(type, rows[g], i, n), xl, acc->lo);
            acc->hi = _mm256_fmadd_ps(load8_tail(type, rows[g], i + 8, n), xh, acc->hi);
        }
    }
    #pragma GCC unroll 4
    for (g = 0; g < G256; g++) {
        v16 s = {_mm256_add_ps(A[g].lo, B[g].lo), _mm256_add_ps(A[g].hi, B[g].hi)};
        out[g] = hsum256x2(s);
    }
}

/* AVX2 decode tiles, as the AVX-512 ones above but of DR256 rows: a row's
 * 16-lane pair of accumulators takes 4 of the 16 ymm registers, so 3 rows
 * (12 accumulators, x and a converted weight) is what fits. */
#ifndef DR256
#define DR256 3
#endif

/* 8 weights at p, unmasked. */
T256 static INLINE __m256
loadw8_256(uint32_t type, const uint8_t *p)
{
    switch (type) {
    case GGML_F16:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    case GGML_BF16:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
    default:
        return _mm256_loadu_ps((const float *)p);
    }
}

T256 static INLINE void
decode_tile_256(uint32_t type, const uint8_t *row0, size_t rb, int n,
                const float *x, float out[DR256])
{
    const size_t es = type == GGML_F32 ? 4 : 2;
    const size_t la = DEC_LA_256;
    size_t pd = la / rb * DR256 * rb, po = la % rb;
    const uint8_t *rows[DR256];
    v16 A[DR256], B[DR256];
    int nchunks = (n + 15) / 16, c, g;

    #pragma GCC unroll 4
    for (g = 0; g < DR256; g++) {
        rows[g] = row0 + (size_t)g * rb;
        A[g].lo = A[g].hi = B[g].lo = B[g].hi = _mm256_setzero_ps();
    }
    for (c = 0; c * 16 + 32 <= n; c += 2) {
        size_t off = (size_t)c * 16 * es;
        __m256 xv = _mm256_loadu_ps(x + c * 16);
        #pragma GCC unroll 4
        for (g = 0; g < DR256; g++) {
            __builtin_prefetch(rows[g] + pd + po, 0, DEC_HINT);
            if (es == 4)
                __builtin_prefetch(rows[g] + pd + po + 64, 0, DEC_HINT);
            A[g].lo = _mm256_fmadd_ps(loadw8_256(type, rows[g] + off), xv, A[g].lo);
        }
        xv = _mm256_loadu_ps(x + c * 16 + 8);
        #pragma GCC unroll 4
        for (g = 0; g < DR256; g++)
            A[g].hi = _mm256_fmadd_ps(loadw8_256(type, rows[g] + off + 8 * es), xv, A[g].hi);
        xv = _mm256_loadu_ps(x + c * 16 + 16);
        #pragma GCC unroll 4
        for (g = 0; g < DR256; g++)
            B[g].lo = _mm256_fmadd_ps(loadw8_256(type, rows[g] + off + 16 * es), xv, B[g].lo);
        xv = _mm256_loadu_ps(x + c * 16 + 24);
        #pragma GCC unroll 4
        for (g = 0; g < DR256; g++)
            B[g].hi = _mm256_fmadd_ps(loadw8_256(type, rows[g] + off + 24 * es), xv, B[g].hi);
        po += 32 * es;
        if (po >= rb) {
            po -= rb;
            pd += DR256 * rb;
        }
    }
    for (; c < nchunks; c++) {   /* the rest, as float_group_256 does it */
        int i = c * 16;
        __m256 xl = loadx8_tail(x, i, n), xh = loadx8_tail(x, i + 8, n);
        #pragma GCC unroll 4
        for (g = 0; g < DR256; g++) {
            v16 *acc = (c & 1) ? &B[g] : &A[g];
            acc->lo = _mm256_fmadd_ps(load8_tail(type, rows[g], i, n), xl, acc->lo);
            acc->hi = _mm256_fmadd_ps(load8_tail(type, rows[g], i + 8, n), xh, acc->hi);
        }
    }
    #pragma GCC unroll 4
    for (g = 0; g < DR256; g++) {
        v16 s = {_mm256_add_ps(A[g].lo, B[g].lo), _mm256_add_ps(A[g].hi, B[g].hi)};
        out[g] = hsum256x2(s);
    }
}

#define DECODE256(NAME, TYPE)                                                \
    T256 static void NAME(const uint8_t *row0, size_t rb, int n,            \
                          const float *x, float *out)                       \
    {                                                                       \
        decode_tile_256(TYPE, row0, rb, n, x, out);                         \
    }
DECODE256(decode_f32_256, GGML_F32)
DECODE256(decode_f16_256, GGML_F16)
DECODE256(decode_bf16_256, GGML_BF16)

/*
 * AVX2 prefill tiles (T > 1), as the AVX-512 ones above: PR256 rows x
 * PU256 tokens, each (row, token) pair with the fmas of float_group_256 in
 * the same order.  A 16-lane accumulator pair is four independent 8-lane
 * sequences here (A.lo, A.hi, B.lo, B.hi), so the tile runs four passes,
 * one per sequence, each with one ymm accumulator per pair: 3 x 4 takes 12
 * accumulators, 3 weights and one x vector, the 16 registers.  Columns are
 * cut in KBLK256-byte blocks (all four passes per block) so the tile's
 * data stays in L1 between passes.
 */
#ifndef PR256
#define PR256 3
#endif
#ifndef PU256
#define PU256 4      /* at most 4 */
#endif
#ifndef KBLK256
#define KBLK256 2048 /* a multiple of 128 */
#endif
#ifndef RBLK256
#define RBLK256 (384 * 1024)
#endif
#if 4 * PR256 * PU256 * 32 > PREFILL_SLOT
#error "PR256 x PU256: the accumulators exceed PREFILL_SLOT"
#endif

T256 static INLINE void
prefill_tile_256(uint32_t type, int nu, const uint8_t *const *rows, int kb,
                 int ke, int n, const float *x, int ldx, float *y, int ldy,
                 int nr, void *slot)
{
    const size_t es = type == GGML_F32 ? 4 : 2;
    __m256 acc[PR256][4], w[PR256], (*S)[PR256][PU256] = slot;
    int c, g, u, q;

    for (q = 0; q < 4; q++) {   /* A.lo, A.hi, B.lo, B.hi */
        int h = (q & 1) * 8;
        #pragma GCC unroll 4
        for (g = 0; g < PR256; g++)
            #pragma GCC unroll 4
            for (u = 0; u < nu; u++)
                acc[g][u] = kb ? S[q][g][u] : _mm256_setzero_ps();
        for (c = kb / 16 + (q >> 1); c * 16 + 16 <= ke; c += 2) {
            #pragma GCC unroll 4
            for (g = 0; g < PR256; g++) {
                w[g] = loadw8_256(type, rows[g] + (size_t)(c * 16 + h) * es);
                IN_REG(w[g]);
            }
            #pragma GCC unroll 4
            for (u = 0; u < nu; u++) {
                __m256 xv = _mm256_loadu_ps(x + (size_t)u * ldx + c * 16 + h);
                IN_REG(xv);
                #pragma GCC unroll 4
                for (g = 0; g < PR256; g++)
                    acc[g][u] = _mm256_fmadd_ps(w[g], xv, acc[g][u]);
            }
        }
        if (c * 16 < ke) {   /* the short last chunk, zero-filled as in float_group_256 */
            #pragma GCC unroll 4
            for (g = 0; g < PR256; g++)
                w[g] = load8_tail(type, rows[g], c * 16 + h, ke);
            #pragma GCC unroll 4
            for (u = 0; u < nu; u++) {
                __m256 xv = loadx8_tail(x + (size_t)u * ldx, c * 16 + h, ke);
                #pragma GCC unroll 4
                for (g = 0; g < PR256; g++)
                    acc[g][u] = _mm256_fmadd_ps(w[g], xv, acc[g][u]);
            }
        }
        #pragma GCC unroll 4
        for (g = 0; g < PR256; g++)
            #pragma GCC unroll 4
            for (u = 0; u < nu; u++)
                S[q][g][u] = acc[g][u];
    }
    if (ke < n)
        return;
    #pragma GCC unroll 4
    for (u = 0; u < nu; u++)
        #pragma GCC unroll 4
        for (g = 0; g < PR256; g++)
            if (g < nr) {
                v16 s = {_mm256_add_ps(S[0][g][u], S[2][g][u]),
                         _mm256_add_ps(S[1][g][u], S[3][g][u])};
                y[(size_t)u * ldy + g] = hsum256x2(s);
            }
}

#define PREFILL256(NAME, TYPE, NU)                                           \
    T256 static void NAME(const uint8_t *const *rows, int kb, int ke, int n, \
                          const float *x, int ldx, float *y, int ldy,       \
                          int nr, void *acc)                                \
    {                                                                       \
        prefill_tile_256(TYPE, NU, rows, kb, ke, n, x, ldx, y, ldy, nr, acc); \
    }
#if PU256 > 4
#error "PU256: at most 4 tokens per tile"
#endif
#define PREFILL256_TYPE(P, TYPE)                                             \
    PREFILL256(P##1, TYPE, 1) PREFILL256(P##2, TYPE, 2)                     \
    PREFILL256(P##3, TYPE, 3) PREFILL256(P##4, TYPE, 4)
PREFILL256_TYPE(prefill_f32_256_, GGML_F32)
PREFILL256_TYPE(prefill_f16_256_, GGML_F16)
PREFILL256_TYPE(prefill_bf16_256_, GGML_BF16)
#define PREFILL256_ROW(P) {P##1, P##2, P##3, P##4}
static const prefill_fn prefill_256[3][4] = {
    PREFILL256_ROW(prefill_f32_256_), PREFILL256_ROW(prefill_f16_256_),
    PREFILL256_ROW(prefill_bf16_256_),
};

T256 static void
matmul_avx2(const gpt_matrix *W, const float *x, int ldx, int T, float *y,
            int ldy, int r0, int r1)
{
    const uint8_t *base = W->data;
    int r, t, g;

    if (W->type == GGML_Q8_0) {
        gpt_matmul_q8_float(&gpt_kernels_avx2_impl, W, x, ldx, T, y, ldy, r0, r1);
        return;
    }
    if (T > 1) {
        prefill_loop(prefill_256[W->type == GGML_F16 ? 1 : W->type == GGML_BF16 ? 2 : 0],
                     PR256, PU256, RBLK256, KBLK256 / (W->type == GGML_F32 ? 4 : 2), W, x, ldx, T, y, ldy, r0, r1);
        return;
    }
    if (T == 1) {   /* whole decode tiles, then groups for the rest */
        void (*tile)(const uint8_t *, size_t, int, const float *, float *) =
            W->type == GGML_F16 ? decode_f16_256
            : W->type == GGML_BF16 ? decode_bf16_256 : decode_f32_256;
        for (; r0 + DR256 <= r1; r0 += DR256)
            tile(base + (size_t)r0 * W->row_bytes, W->row_bytes, W->cols, x,
                 y + r0);
    }
    for (r = r0; r < r1; r += G256) {
        const uint8_t *rows[G256];
        int nr = r1 - r < G256 ? r1 - r : G256;
        float out[G256];

        #pragma GCC unroll 4

        for (g = 0; g < G256; g++)
            rows[g] = base + (size_t)(r + (g < nr ? g : nr - 1)) * W->row_bytes;
        for (t = 0; t < T; t++) {
            float_group_256(W, rows, x + (size_t)t * ldx, out);
            for (g = 0; g < nr; g++)
                y[(size_t)t * ldy + r + g] = out[g];
        }
    }
}

T256 static float
dot_avx2(const float *a, const float *b, int n)
{
    v16 A = {_mm256_setzero_ps(), _mm256_setzero_ps()}, B = A, s;
    int c, nchunks = (n + 15) / 16;

    for (c = 0; c < nchunks; c++) {
        int i = c * 16;
        v16 *acc = (c & 1) ? &B : &A;
        acc->lo = _mm256_fmadd_ps(loadx8_tail(a, i, n), loadx8_tail(b, i, n), acc->lo);
        acc->hi = _mm256_fmadd_ps(loadx8_tail(a, i + 8, n), loadx8_tail(b, i + 8, n), acc->hi);
    }
    s.lo = _mm256_add_ps(A.lo, B.lo);
    s.hi = _mm256_add_ps(A.hi, B.hi);
    return hsum256x2(s);
}

T256 static void
axpy_avx2(float a, const float *x, float *y, int n)
{
    __m256 va = _mm256_set1_ps(a);
    int i;

    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] = __builtin_fmaf(a, x[i], y[i]);
}

/* Halves i.. of h as 8 floats, 0 beyond n (as loadx8_tail). */
T256 static inline __m256
loadh8_tail(const uint16_t *h, int i, int n)
{
    uint16_t tmp[8] = {0};
    int j;

    if (i + 8 <= n)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
    for (j = 0; i + j < n && j < 8; j++)
        tmp[j] = h[i + j];
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)tmp));
}

/* Attention over F16 rows: dot_avx2 and axpy_avx2 on each widened row. */
T256 static void
scores_avx2(const float *q, const uint16_t *rows, size_t stride, int n, int len,
            float scale, float *out, const uint16_t *pf)
{
    int j, c, nchunks = (len + 15) / 16;

    (void)pf;
    for (j = 0; j < n; j++) {
        const uint16_t *k = rows + (size_t)j * stride;
        v16 A = {_mm256_setzero_ps(), _mm256_setzero_ps()}, B = A, s;
        for (c = 0; c < nchunks; c++) {
            int i = c * 16;
            v16 *acc = (c & 1) ? &B : &A;
            acc->lo = _mm256_fmadd_ps(loadx8_tail(q, i, len), loadh8_tail(k, i, len), acc->lo);
            acc->hi = _mm256_fmadd_ps(loadx8_tail(q, i + 8, len), loadh8_tail(k, i + 8, len),
                                      acc->hi);
        }
        s.lo = _mm256_add_ps(A.lo, B.lo);
        s.hi = _mm256_add_ps(A.hi, B.hi);
        out[j] = hsum256x2(s) * scale;
    }
}

T256 static void
mix_avx2(const float *w, const uint16_t *rows, size_t stride, int n, int len,
         float *acc, const uint16_t *pf)
{
    int j, i;

    (void)pf;
    for (j = 0; j < n; j++) {
        const uint16_t *v = rows + (size_t)j * stride;
        __m256 wj = _mm256_set1_ps(w[j]);
        for (i = 0; i + 8 <= len; i += 8)
            _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(wj, loadh8_tail(v, i, len),
                                                      _mm256_loadu_ps(acc + i)));
        for (; i < len; i++)
            acc[i] = __builtin_fmaf(w[j], _cvtsh_ss(v[i]), acc[i]);
    }
}

T256 static void
to_f16_avx2(const float *x, uint16_t *h, int n)
{
    int i;

    for (i = 0; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    for (; i < n; i++)
        h[i] = gpt_f32_to_f16(x[i]);
}

/* gpt_exp of kernels.c, 8 lanes at a time. */
T256 static inline __m256
exp8_avx2(__m256 z)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 nn, r, p;
    __m256i bits;

    z = _mm256_min_ps(_mm256_max_ps(z, _mm256_set1_ps(-GPT_EXP_CLAMP)), _mm256_set1_ps(GPT_EXP_CLAMP));
    nn = _mm256_round_ps(_mm256_mul_ps(z, _mm256_set1_ps(GPT_EXP_LOG2E)),
                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_fmadd_ps(nn, _mm256_set1_ps(-GPT_EXP_LN2_HI), z);
    r = _mm256_fmadd_ps(nn, _mm256_set1_ps(-GPT_EXP_LN2_LO), r);
    p = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 5040), r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, one);
    p = _mm256_fmadd_ps(p, r, one);
    bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(nn), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

/* The canonical softmax of kernels.h: lanes 0-7 and 8-15 of the sums in
 * lo and hi; the ragged end by gpt_exp into the same lanes. */
T256 static void
softmax_avx2(float *x, int n)
{
    __m256 vm = _mm256_set1_ps(-INFINITY), lo = _mm256_setzero_ps(), hi = lo, vmx, vinv;
    float mx, s[16], m8[8], inv;
    int i, j, full = n & ~15;

    for (i = 0; i < full; i += 8)    /* max(v, m): a NaN v leaves m */
        vm = _mm256_max_ps(_mm256_loadu_ps(x + i), vm);
    _mm256_storeu_ps(m8, vm);
    mx = -INFINITY;
    for (j = 0; j < 8; j++)
        if (m8[j] > mx)
            mx = m8[j];
    for (i = full; i < n; i++)
        if (x[i] > mx)
            mx = x[i];
    vmx = _mm256_set1_ps(mx);
    for (i = 0; i < full; i += 16) {
        __m256 a = exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmx));
        __m256 b = exp8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vmx));
        _mm256_storeu_ps(x + i, a);
        _mm256_storeu_ps(x + i + 8, b);
        lo = _mm256_add_ps(lo, a);
        hi = _mm256_add_ps(hi, b);
    }
    _mm256_storeu_ps(s, lo);
    _mm256_storeu_ps(s + 8, hi);
    for (i = full; i < n; i++) {
        x[i] = gpt_exp(x[i] - mx);
        s[i % 16] += x[i];
    }
    inv = 1.0f / gpt_reduce16(s);
    vinv = _mm256_set1_ps(inv);
    for (i = 0; i < full; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (i = full; i < n; i++)
        x[i] *= inv;
}

/* The canonical GELU of kernels.c (gelu_one), 8 lanes at a time. */
T256 static void
gelu_avx2(float *y, const float *bias, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int i;

    for (i = 0; i < n; i += 8) {
        float ty[8], tb[8];
        int k, full = i + 8 <= n;
        __m256 x, x3, z, e;

        for (k = 0; !full && k < 8; k++) {
            ty[k] = i + k < n ? y[i + k] : 0.0f;
            tb[k] = i + k < n ? bias[i + k] : 0.0f;
        }
        x = _mm256_add_ps(_mm256_loadu_ps(full ? y + i : ty), _mm256_loadu_ps(full ? bias + i : tb));
        x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
        z = _mm256_mul_ps(_mm256_set1_ps(GPT_GELU_2C), _mm256_fmadd_ps(_mm256_set1_ps(GPT_GELU_K), x3, x));
        e = exp8_avx2(z);
        e = _mm256_mul_ps(x, _mm256_div_ps(e, _mm256_add_ps(e, one)));
        if (full) {
            _mm256_storeu_ps(y + i, e);
        } else {
            _mm256_storeu_ps(ty, e);
            for (k = 0; i + k < n; k++)
                y[i + k] = ty[k];
        }
    }
}

const gpt_kernels gpt_kernels_avx2_impl = {
    "avx2", matmul_avx2, dot_avx2, axpy_avx2, gelu_avx2, scores_avx2, mix_avx2,
    NULL, to_f16_avx2, softmax_avx2, gpt_quantize_avx2, gpt_matmul_q8_avx2};

#else /* not x86: only the portable kernels exist */

const gpt_kernels gpt_kernels_avx512_impl = {"generic", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
const gpt_kernels gpt_kernels_avx2_impl = {"generic", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};

#endif
