/*
 * test_session.c - behaviour of the core's model, sessions and generation on
 * a real GGUF test model (argv[1]):
 *   - every kernel path this CPU has (AVX-512, AVX2, portable) gives
 *     bit-identical matrix products, for F32, F16, BF16 and Q8_0 rows, and
 *     the same Q8_0 activation quantization, which follows its definition
 *     (kernels.h) on hand-picked values (ties, zeros, tiny, NaN, inf);
 *   - whole sessions on every path give bit-identical logits, for 1 to 4
 *     threads and token by token;
 *   - logits are bit-identical for 1, 2, 3 and 4 threads;
 *   - incremental decoding with the KV cache (and prefix reuse) gives the
 *     same logits, bit for bit, as a fresh session on the whole sequence;
 *   - prefix reuse copies keys/values from another cache bit for bit (and
 *     keeps only valid positions when canceled), and batches and single
 *     calls give the same bytes with it on and off;
 *   - generation is deterministic, seeds matter, streaming concatenates to
 *     the whole text, stop strings cut, options are validated, context
 *     overflow is an error, cancellation returns GPT_ERR_CANCELLED and leaves
 *     the session usable.
 * Prints "session: N passed, M failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpt.h"
#include "kernels.h"
#include "sampler.h"
#include "session.h"  /* to run a session on a chosen kernel path */

static int passed, failed;

#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (cond) {                                                         \
            passed++;                                                       \
        } else {                                                            \
            failed++;                                                       \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                     \
            printf(__VA_ARGS__);                                            \
            printf("\n");                                                   \
        }                                                                   \
    } while (0)

static gpt_model *model;
static int n_vocab, n_ctx;

static float *
logits_of(int threads, const int32_t *ids, size_t n)
{
    gpt_session *s;
    gpt_error err;
    float *l = NULL;

    if (gpt_session_new(model, &s, &err) != GPT_OK)
        return NULL;
    gpt_session_set_threads(s, threads, &err);
    if (gpt_eval_logits(s, ids, n, &l, &err) != GPT_OK)
        printf("eval: %s\n", err.message);
    gpt_session_free(s);
    return l;
}

/* ---- kernels: every path equals the portable one, bit for bit ---- */

static uint16_t
f32_to_f16_rne(float f)
{
    /* enough for test data in the normal range */
    union { float f; uint32_t u; } v = {f};
    uint32_t sign = (v.u >> 16) & 0x8000, exp = (v.u >> 23) & 0xff, man = v.u & 0x7fffff;
    int e = (int)exp - 127 + 15;
    uint32_t h;
    if (e <= 0)
        return (uint16_t)sign;
    h = sign | ((uint32_t)e << 10) | (man >> 13);
    if ((man & 0x1fff) > 0x1000 || ((man & 0x1fff) == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)h;
}

static void
test_gelu_accuracy(void)
{
    const gpt_kernels *g = gpt_kernels_generic();
    float worst = 0;
    int i;

    for (i = -20000; i <= 20000; i++) {
        float x = (float)i / 1000.0f, y = x, zero = 0.0f;
        double u = 0.7978845608028654 * (x + 0.044715 * (double)x * x * x);
        double want = 0.5 * x * (1.0 + tanh(u));
        double e;
        g->gelu(&y, &zero, 1);
        e = fabs(y - want) / (fabs(want) > 1e-3 ? fabs(want) : 1e-3);
        if (e > worst)
            worst = (float)e;
    }
    CHECK(worst < 1e-6f, "gelu relative error %g over [-20, 20]", worst);
}

static void
test_kernels(void)
{
    static const char *paths[] = {"avx512", "avx2"};
    const gpt_kernels *ref = gpt_kernels_generic();
    uint32_t types[] = {GGML_F32, GGML_F16, GGML_BF16, GGML_Q8_0};
    int cols_list[] = {64, 96, 768, 40, 17, 128};
    unsigned seed = 12345;
    int ti, ci, pi;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (ti = 0; ti < 4; ti++)
        for (ci = 0; ci < 5; ci++) {
            int rows = 13, cols = cols_list[ci], T = 3, r, i, t;
            uint32_t type = types[ti];
            size_t row_bytes;
            uint8_t *data;
            float *x, *y0, *y1;
            gpt_matrix W;

            if (type == GGML_Q8_0 && cols % 32)
                continue;
            row_bytes = type == GGML_F32 ? cols * 4u : type == GGML_Q8_0 ? cols / 32 * 34u : cols * 2u;
            data = malloc(rows * row_bytes);
            x = malloc(sizeof(float) * cols * T);
            y0 = calloc((size_t)rows * T, sizeof(float));
            y1 = calloc((size_t)rows * T, sizeof(float));
            for (r = 0; r < rows; r++) {
                uint8_t *row = data + r * row_bytes;
                for (i = 0; i < cols; i++) {
                    float v = RND();
                    if (type == GGML_F32) memcpy(row + 4 * i, &v, 4);
                    else if (type == GGML_F16) { uint16_t h = f32_to_f16_rne(v); memcpy(row + 2 * i, &h, 2); }
                    else if (type == GGML_BF16) { union { float f; uint32_t u; } u = {v}; uint16_t h = (uint16_t)(u.u >> 16); memcpy(row + 2 * i, &h, 2); }
                    else {
                        uint8_t *b = row + (i / 32) * 34;
                        if (i % 32 == 0) { uint16_t h = f32_to_f16_rne(0.01f + (float)(r % 5) * 0.003f); memcpy(b, &h, 2); }
                        b[2 + i % 32] = (uint8_t)(int8_t)(v * 127);
                    }
                }
            }
            for (i = 0; i < cols * T; i++)
                x[i] = RND();
            W.type = type;
            W.data = data;
            W.rows = rows;
            W.cols = cols;
            W.row_bytes = row_bytes;
            ref->matmul(&W, x, cols, T, y0, rows, 0, rows);
            for (pi = 0; pi < 2; pi++) {
                const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
                if (!k)
                    continue;
                memset(y1, 0, sizeof(float) * rows * T);
                k->matmul(&W, x, cols, T, y1, rows, 0, 7);   /* split like threads do */
                k->matmul(&W, x, cols, T, y1, rows, 7, rows);
                CHECK(memcmp(y0, y1, sizeof(float) * rows * T) == 0,
                      "%s matmul differs from generic (type %s, cols %d)", paths[pi],
                      type == GGML_F32 ? "F32" : type == GGML_F16 ? "F16" : type == GGML_BF16 ? "BF16" : "Q8_0", cols);
                /* one token at a time equals T at once */
                for (t = 0; t < T; t++) {
                    float one[13];
                    k->matmul(&W, x + t * cols, cols, 1, one, rows, 0, rows);
                    CHECK(memcmp(one, y0 + t * rows, sizeof one) == 0, "%s: T=1 differs from T=%d", paths[pi], T);
                }
                if (ti == 0) {
                    /* GELU over a wide range, ragged lengths included */
                    float g0[800], g1[800], gb[800];
                    for (i = 0; i < cols; i++) {
                        g0[i] = g1[i] = x[i] * (float)(1 + i % 23);
                        gb[i] = x[cols + i] * 0.5f;
                    }
                    ref->gelu(g0, gb, cols);
                    k->gelu(g1, gb, cols);
                    CHECK(memcmp(g0, g1, sizeof(float) * cols) == 0, "%s gelu differs (n=%d)", paths[pi], cols);
                }
                if (ti == 0 && cols * 3 <= 800) {
                    /* attention over 13 rows of a strided F16 cache (stride
                     * cols + 5), against dot and axpy on the widened rows;
                     * the portable kernels too (pi 2) */
                    static uint16_t cache[13 * 805];
                    static float wide[13 * 805];
                    float s0[13], s1[13], m0[800], m1[800];
                    int rws = 13, j, qi;
                    size_t stride = (size_t)cols + 5;
                    for (i = 0; i < rws * (int)stride; i++) {
                        cache[i] = gpt_f32_to_f16(x[i % (cols * 3)] * (float)(1 + i % 7));
                        wide[i] = gpt_f16_to_f32(cache[i]);
                    }
                    for (j = 0; j < rws; j++)
                        s0[j] = ref->dot(x, wide + j * stride, cols) * 0.125f;
                    for (qi = 0; qi < 2; qi++) {
                        const gpt_kernels *kk = qi ? ref : k;
                        const char *name = qi ? "generic" : paths[pi];
                        /* pf (rows to prefetch) is a hint: any rows, same bits */
                        kk->scores(x, cache, stride, rws, cols, 0.125f, s1, cache + stride);
                        CHECK(memcmp(s0, s1, sizeof s0) == 0, "%s scores differ (len %d)", name, cols);
                        memset(m0, 0, sizeof m0);
                        memset(m1, 0, sizeof m1);
                        for (j = 0; j < rws; j++)
                            ref->axpy(s0[j], wide + j * stride, m0, cols);
                        kk->mix(s0, cache, stride, rws, cols, m1, cache);
                        CHECK(memcmp(m0, m1, sizeof(float) * cols) == 0, "%s mix differs (len %d)", name, cols);
                    }
                }
                if (ti == 0) {
                    float d0 = ref->dot(x, x + cols, cols), d1 = k->dot(x, x + cols, cols);
                    float a0[800], a1[800];
                    CHECK(memcmp(&d0, &d1, 4) == 0, "%s dot differs (n=%d)", paths[pi], cols);
                    memcpy(a0, x + cols, sizeof(float) * cols);
                    memcpy(a1, x + cols, sizeof(float) * cols);
                    ref->axpy(0.37f, x, a0, cols);
                    k->axpy(0.37f, x, a1, cols);
                    CHECK(memcmp(a0, a1, sizeof(float) * cols) == 0, "%s axpy differs", paths[pi]);
                }
            }
            free(data);
            free(x);
            free(y0);
            free(y1);
        }
#undef RND
}

/* The prefill tiles (T > 1) of every SIMD path against the portable
 * kernel: ragged rows and token counts, column counts that are not
 * multiples of 16 or that span several column blocks, strided x and y, and
 * row ranges split as threads split them. */
static void
test_prefill_tiles(void)
{
    static const char *paths[] = {"avx512", "avx2"};
    const gpt_kernels *ref = gpt_kernels_generic();
    static const uint32_t types[] = {GGML_F32, GGML_F16, GGML_BF16};
    static const int cols_list[] = {17, 40, 96, 768, 1100, 2080};
    static const int T_list[] = {2, 3, 5, 6, 7, 12, 13, 64};
    static const int rows_list[] = {13, 30, 70};
    unsigned seed = 777;
    int ti, ci, ri, Ti, pi, i;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (ti = 0; ti < 3; ti++)
        for (ci = 0; ci < 6; ci++)
            for (ri = 0; ri < 3; ri++) {
                int rows = rows_list[ri], cols = cols_list[ci], ldx = cols + 3, ldy = rows + 5;
                uint32_t type = types[ti];
                size_t row_bytes = type == GGML_F32 ? cols * 4u : cols * 2u;
                uint8_t *data = malloc(rows * row_bytes);
                float *x = malloc(sizeof(float) * ldx * 64);
                float *y0 = malloc(sizeof(float) * ldy * 64), *y1 = malloc(sizeof(float) * ldy * 64);
                gpt_matrix W;

                for (i = 0; i < rows * cols; i++) {
                    float v = RND();
                    uint8_t *p = data + (size_t)i * (row_bytes / cols);
                    if (type == GGML_F32) memcpy(p, &v, 4);
                    else if (type == GGML_F16) { uint16_t h = f32_to_f16_rne(v); memcpy(p, &h, 2); }
                    else { union { float f; uint32_t u; } u = {v}; uint16_t h = (uint16_t)(u.u >> 16); memcpy(p, &h, 2); }
                }
                for (i = 0; i < ldx * 64; i++)
                    x[i] = RND();
                W.type = type;
                W.data = data;
                W.rows = rows;
                W.cols = cols;
                W.row_bytes = row_bytes;
                for (Ti = 0; Ti < 8; Ti++) {
                    int T = T_list[Ti];
                    for (i = 0; i < ldy * 64; i++)
                        y0[i] = -1.0f;
                    ref->matmul(&W, x, ldx, T, y0, ldy, 0, rows);
                    for (pi = 0; pi < 2; pi++) {
                        const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
                        int mid;
                        if (!k)
                            continue;
                        for (i = 0; i < ldy * 64; i++)
                            y1[i] = -1.0f;
                        mid = rows < 16 ? rows : 16;
                        k->matmul(&W, x, ldx, T, y1, ldy, 0, 7);
                        k->matmul(&W, x, ldx, T, y1, ldy, 7, mid);
                        k->matmul(&W, x, ldx, T, y1, ldy, mid, rows);
                        CHECK(memcmp(y0, y1, sizeof(float) * ldy * 64) == 0,
                              "%s prefill differs from generic (type %u, rows %d, cols %d, T %d)",
                              paths[pi], type, rows, cols, T);
                    }
                }
                free(data);
                free(x);
                free(y0);
                free(y1);
            }
#undef RND
}

/* float -> half (the KV cache's rounding): gpt_f32_to_f16 against each
 * path's to_f16 (F16C's vcvtps2ph) on a stride through every float bit
 * pattern and around each boundary; and every half survives a round trip. */
static void
test_f16_rounding(void)
{
    static const char *paths[] = {"avx512", "avx2"};
    static const uint32_t edges[] = {
        0x00000000u, 0x80000000u, 0x00000001u, 0x33000000u, 0x33000001u, 0x337fffffu,
        0x33800000u, 0x33c00000u, 0x387fc000u, 0x387fe000u, 0x387fffffu, 0x38800000u,
        0x3f800000u, 0x3f801000u, 0x3f803000u, 0x477fe000u, 0x477fefffu, 0x477ff000u,
        0x477fffffu, 0x47800000u, 0x7f7fffffu, 0x7f800000u, 0xff800000u, 0x7f800001u,
        0x7fc00000u, 0xffc12345u, 0x7f802000u};
    enum { N = 4096, NE = sizeof edges / sizeof *edges };
    static float f[N];
    static uint16_t h0[N], h1[N];
    uint64_t u = 0;
    int i, pi, n, mismatches = 0;

    for (i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue;   /* NaN: quieted, not kept */
        if (gpt_f32_to_f16(gpt_f16_to_f32(h)) != h)
            mismatches++;
    }
    CHECK(mismatches == 0, "f16 round trip: %d halves change", mismatches);
    for (n = 0; n < 2 * NE; n++) {   /* the edges, both signs */
        uint32_t b = edges[n % NE] ^ (n >= NE ? 0x80000000u : 0);
        memcpy(&f[n], &b, 4);
    }
    while (u <= 0xffffffffu) {
        for (; n < N && u <= 0xffffffffu; n++, u += 4099) {
            uint32_t b = (uint32_t)u;
            memcpy(&f[n], &b, 4);
        }
        for (i = 0; i < n; i++)
            h0[i] = gpt_f32_to_f16(f[i]);
        for (pi = 0; pi < 2; pi++) {
            const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
            if (!k)
                continue;
            memset(h1, 0, sizeof h1);
            k->to_f16(f, h1, n);
            for (i = 0; i < n; i++)
                if (h0[i] != h1[i] && mismatches++ < 5)
                    printf("FAIL: %s to_f16(%a) = %04x, gpt_f32_to_f16 %04x\n", paths[pi],
                           (double)f[i], h1[i], h0[i]);
        }
        n = 0;
    }
    CHECK(mismatches == 0, "to_f16 differs from gpt_f32_to_f16 (%d values)", mismatches);
    CHECK(gpt_f32_to_f16(65504.0f) == 0x7bff && gpt_f32_to_f16(65519.99f) == 0x7bff &&
              gpt_f32_to_f16(65520.0f) == 0x7c00 && gpt_f32_to_f16(-1.0f) == 0xbc00 &&
              gpt_f32_to_f16(0x1p-24f) == 0x0001 && gpt_f32_to_f16(0x1p-25f) == 0 &&
              gpt_f32_to_f16(0x1.8p-25f) == 0x0001,
          "f16 rounding: hand-picked values");
}

/* The attention softmax: every path gives the portable one's bits, for
 * lengths around multiples of 16 and 8, and it is a softmax (within 1e-6
 * of one computed in double with libm's exp). */
static void
test_softmax(void)
{
    static const char *paths[] = {"avx512", "avx2"};
    static const int n_list[] = {1, 2, 7, 8, 15, 16, 17, 31, 33, 100, 1024};
    const gpt_kernels *ref = gpt_kernels_generic();
    static float x[1024], y0[1024], y1[1024];
    unsigned seed = 777;
    int ni, i, pi;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (ni = 0; ni < (int)(sizeof n_list / sizeof *n_list); ni++) {
        int n = n_list[ni];
        double mx = -INFINITY, sum = 0, worst = 0;
        for (i = 0; i < n; i++)
            x[i] = RND() * (ni % 3 ? 12.0f : 120.0f);   /* some beyond exp's -80 */
        memcpy(y0, x, sizeof(float) * n);
        ref->softmax(y0, n);
        for (pi = 0; pi < 2; pi++) {
            const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
            if (!k)
                continue;
            memcpy(y1, x, sizeof(float) * n);
            k->softmax(y1, n);
            CHECK(memcmp(y0, y1, sizeof(float) * n) == 0, "%s softmax differs (n %d)", paths[pi], n);
        }
        for (i = 0; i < n; i++)
            mx = x[i] > mx ? x[i] : mx;
        for (i = 0; i < n; i++)
            sum += exp((double)x[i] - mx);
        for (i = 0; i < n; i++) {
            double want = exp((double)x[i] - mx) / sum, e = fabs(y0[i] - want);
            if (e > worst)
                worst = e;
        }
        CHECK(worst < 1e-6, "softmax off by %g (n %d)", worst, n);
    }
#undef RND
}

/* Attention scores of 64-half heads against the portable dot on the
 * widened rows, for row counts around multiples of 16. */
static void
test_scores64(void)
{
    static const char *paths[] = {"avx512", "avx2"};
    const gpt_kernels *ref = gpt_kernels_generic();
    static const int n_list[] = {1, 15, 16, 17, 40, 64, 100};
    enum { STRIDE = 64 * 3 + 5, NMAX = 100 };
    static uint16_t cache[NMAX * STRIDE];
    static float wide[NMAX * STRIDE];
    float q[64], s0[NMAX], s1[NMAX];
    unsigned seed = 4242;
    int i, ni, pi;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (i = 0; i < NMAX * STRIDE; i++) {
        cache[i] = gpt_f32_to_f16(RND() * (float)(1 + i % 5));
        wide[i] = gpt_f16_to_f32(cache[i]);
    }
    for (i = 0; i < 64; i++)
        q[i] = RND();
    for (ni = 0; ni < 7; ni++) {
        int n = n_list[ni];
        for (i = 0; i < n; i++)
            s0[i] = ref->dot(q, wide + (size_t)i * STRIDE, 64) * 0.125f;
        for (pi = 0; pi < 2; pi++) {
            const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
            if (!k || !k->scores)
                continue;
            memset(s1, 0, sizeof s1);
            k->scores(q, cache, STRIDE, n, 64, 0.125f, s1, ni % 2 ? cache : NULL);
            CHECK(memcmp(s0, s1, sizeof(float) * n) == 0, "%s scores differ (len 64, n %d)", paths[pi], n);
        }
        /* GPT_MIX_Q weighted sums at once (len 64 and a ragged 40) equal
         * axpy over the rows in order, from a nonzero start */
        for (pi = 0; pi < 2; pi++) {
            const gpt_kernels *k = gpt_kernels_by_name(paths[pi]);
            int len, qi;
            if (!k || !k->mixq)
                continue;
            for (len = 40; len <= 64; len += 24) {
                float a0[GPT_MIX_Q][64], a1[GPT_MIX_Q][64], wq[GPT_MIX_Q][NMAX];
                const float *wp[GPT_MIX_Q];
                float *ap[GPT_MIX_Q];
                for (qi = 0; qi < GPT_MIX_Q; qi++) {
                    for (i = 0; i < 64; i++)
                        a0[qi][i] = a1[qi][i] = RND();
                    for (i = 0; i < n; i++)
                        wq[qi][i] = RND();
                    for (i = 0; i < n; i++)
                        ref->axpy(wq[qi][i], wide + (size_t)i * STRIDE, a0[qi], len);
                    wp[qi] = wq[qi];
                    ap[qi] = a1[qi];
                }
                k->mixq(wp, cache, STRIDE, n, len, ap);
                CHECK(memcmp(a0, a1, sizeof a0) == 0, "%s mixq differs (len %d, n %d)", paths[pi], len, n);
            }
        }
    }
#undef RND
}

/* ---- the int8 path of Q8_0 weights ---- */

static const char *const simd_paths[] = {"avx512", "avx2"};

static float
f32_bits(uint32_t u)
{
    union { uint32_t u; float f; } v = {u};
    return v.f;
}

static void
test_q8_quantize(void)
{
    enum { NB = 8, N = 32 * NB, T = 3 };
    const gpt_kernels *ref = gpt_kernels_generic();
    size_t ldq = gpt_q8x_stride(N);
    uint8_t *q0 = calloc(T, ldq), *q1 = calloc(T, ldq);
    float x[T * N], d[NB];
    int32_t c[NB];
    unsigned seed = 99;
    int i, pi;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (i = 0; i < T * N; i++)
        x[i] = RND() * (float)(1 + i % 37) * (i >= N ? 3.0f : 0.0f);
    /* block 0: amax 127, so id = 1 and q = x rounded half to even */
    x[0] = 127.0f; x[1] = 2.5f; x[2] = 3.5f; x[3] = -2.5f; x[4] = -0.0f;
    x[5] = 0.49999997f; x[6] = -127.0f; x[7] = 126.5f; x[8] = 1.5f;
    /* block 1 zeros; block 2 below 2^-100 (zeros, d kept); block 3 a NaN;
     * block 4 an inf; block 5 subnormals; block 6 wide range; 7 ties */
    x[2 * 32 + 3] = 1e-35f;
    x[3 * 32 + 5] = NAN;
    x[3 * 32 + 6] = 1.0f;
    x[4 * 32 + 7] = INFINITY;
    x[4 * 32 + 8] = -3.0f;
    x[5 * 32 + 1] = f32_bits(5);
    x[5 * 32 + 2] = -f32_bits(0x7fffff);
    for (i = 0; i < 32; i++) {
        x[6 * 32 + i] = (float)(i - 16) * 1e3f * (float)(1 + i % 3);
        x[7 * 32 + i] = 0.5f * (float)(i - 15);   /* amax 8: id = 127/8 */
    }
    ref->quantize(x, N, T, N, q0);
    memcpy(d, q0 + N, sizeof d);
    memcpy(c, q0 + N + sizeof d, sizeof c);
#define Q(i) ((int8_t)q0[i])
    CHECK(Q(0) == 127 && Q(1) == 2 && Q(2) == 4 && Q(3) == -2 && Q(4) == 0 &&
          Q(5) == 0 && Q(6) == -127 && Q(7) == 126 && Q(8) == 2 && Q(9) == 0 && d[0] == 1.0f,
          "q8 quantize block 0: %d %d %d %d %d %d %d %d %d, d %g", Q(0), Q(1), Q(2), Q(3),
          Q(4), Q(5), Q(6), Q(7), Q(8), d[0]);
    for (i = 32; i < 64; i++)
        CHECK(Q(i) == 0, "q8 zero block byte %d = %d", i, Q(i));
    CHECK(d[1] == 0.0f && c[1] == 0 && d[2] == 1e-35f / 127.0f && Q(2 * 32 + 3) == 0,
          "q8 tiny block: d %g, q %d", d[2], Q(2 * 32 + 3));
    CHECK(isnan(d[3]) && Q(3 * 32 + 5) == -127 && Q(3 * 32 + 6) == 0,
          "q8 NaN block: d %g, q %d %d", d[3], Q(3 * 32 + 5), Q(3 * 32 + 6));
    CHECK(isinf(d[4]) && Q(4 * 32 + 7) == -127 && Q(4 * 32 + 8) == 0,
          "q8 inf block: d %g, q %d %d", d[4], Q(4 * 32 + 7), Q(4 * 32 + 8));
    for (i = 0; i < 32; i++) {
        /* x * (127 / 8) rounded half to even, from the definition */
        float v = x[7 * 32 + i] * (127.0f / 8.0f);
        int want = (int)nearbyint(v);
        CHECK(Q(7 * 32 + i) == want, "q8 block 7 byte %d: %d, want %d", i, Q(7 * 32 + i), want);
    }
    for (i = 0; i < NB; i++) {
        /* c = 128 x the block's sum of q */
        int j, sum = 0;
        for (j = 0; j < 32; j++)
            sum += Q(i * 32 + j);
        CHECK(c[i] == 128 * sum, "q8 block %d: c %d, want %d", i, c[i], 128 * sum);
    }
#undef Q
    for (pi = 0; pi < 2; pi++) {
        const gpt_kernels *k = gpt_kernels_by_name(simd_paths[pi]);
        if (!k)
            continue;
        memset(q1, 0xee, T * ldq);
        memcpy(q1, q0, T * ldq);  /* padding bytes equal; the rest rewritten */
        memset(q1, 0x11, N);
        memset(q1 + ldq, 0x11, ldq - 64);
        k->quantize(x, N, T, N, q1);
        CHECK(memcmp(q0, q1, T * ldq) == 0, "%s quantize differs from generic", simd_paths[pi]);
    }
#undef RND
    free(q0);
    free(q1);
}

/* Products over ragged tiles: T = 19 (16 + 3 tokens), 53 rows (three
 * 16-row tiles and 5 left over) split at 5 and at 16 as threads split
 * them, odd block counts, weights at -128 and 127, scales of both signs. */
static void
test_q8_matmul(void)
{
    const gpt_kernels *ref = gpt_kernels_generic();
    int cols_list[] = {32, 96, 768, 3072}, ci, pi;
    unsigned seed = 4242;

#define RND() ((seed = seed * 1103515245u + 12345u), ((int)((seed >> 8) & 0xffff) - 32768) / 32768.0f)
    for (ci = 0; ci < 4; ci++) {
        int rows = 53, cols = cols_list[ci], T = 19, r, i, t;
        size_t rb = cols / 32 * 34u, ldq = gpt_q8x_stride(cols);
        uint8_t *data = malloc(rows * rb), *xq = malloc(T * ldq);
        float *x = malloc(sizeof(float) * cols * T);
        float *y0 = calloc((size_t)rows * T, sizeof(float)), *y1 = calloc((size_t)rows * T, sizeof(float));
        gpt_matrix W = {GGML_Q8_0, data, rows, cols, rb};

        for (r = 0; r < rows; r++)
            for (i = 0; i < cols; i++) {
                uint8_t *b = data + r * rb + (i / 32) * 34;
                if (i % 32 == 0) {
                    uint16_t h = f32_to_f16_rne((0.002f + (float)(r % 7) * 0.001f) * (r % 3 ? 1.0f : -1.0f));
                    memcpy(b, &h, 2);
                }
                b[2 + i % 32] = (uint8_t)(i % 11 == 0 ? -128 : i % 13 == 0 ? 127 : (int)(RND() * 127));
            }
        for (i = 0; i < cols * T; i++)
            x[i] = RND() * (float)(1 + i % 5);
        ref->quantize(x, cols, T, cols, xq);
        ref->matmul_q8(&W, xq, ldq, T, y0, rows, 0, rows);
        /* the generic product is the definition, spelled out here once more */
        {
            double worst = 0, big = 0;
            for (t = 0; t < T; t++)
                for (r = 0; r < rows; r++) {
                    double want = 0;
                    for (i = 0; i < cols; i++) {
                        const uint8_t *b = data + r * rb + (i / 32) * 34;
                        const float *dx = (const float *)(xq + t * ldq + cols);
                        uint16_t h;
                        memcpy(&h, b, 2);
                        want += (double)gpt_f16_to_f32(h) * (int8_t)b[2 + i % 32] * dx[i / 32] *
                                (int8_t)xq[t * ldq + i];
                    }
                    if (fabs(y0[t * rows + r] - want) > worst)
                        worst = fabs(y0[t * rows + r] - want);
                    if (fabs(want) > big)
                        big = fabs(want);
                }
            /* float32 sums of up to 24 blocks against float64 */
            CHECK(worst <= 1e-6 * big, "q8 matmul off its definition by %g of %g (cols %d)", worst, big, cols);
        }
        for (pi = 0; pi < 2; pi++) {
            const gpt_kernels *k = gpt_kernels_by_name(simd_paths[pi]);
            if (!k)
                continue;
            int split;
            for (split = 5; split <= 16; split += 11) {
                memset(y1, 0, sizeof(float) * rows * T);
                k->matmul_q8(&W, xq, ldq, T, y1, rows, 0, split);
                k->matmul_q8(&W, xq, ldq, T, y1, rows, split, rows);
                CHECK(memcmp(y0, y1, sizeof(float) * rows * T) == 0,
                      "%s q8 matmul differs from generic (cols %d, split at %d)", simd_paths[pi],
                      cols, split);
            }
            for (t = 0; t < T; t++) {
                float one[53];
                k->matmul_q8(&W, xq + t * ldq, ldq, 1, one, rows, 0, rows);
                CHECK(memcmp(one, y0 + t * rows, sizeof one) == 0,
                      "%s q8: T=1 differs from T=%d (token %d, cols %d)", simd_paths[pi], T, t, cols);
            }
        }
        free(data);
        free(xq);
        free(x);
        free(y0);
        free(y1);
    }
#undef RND
}

/* Whole sessions on each path: the same logits bit for bit as the portable
 * path on one thread, for 1-4 threads, and token by token. */
static float *
logits_on(const gpt_kernels *k, int threads, const int32_t *ids, size_t n, int incremental)
{
    gpt_session *s;
    gpt_error err;
    float *l = NULL;
    size_t i;

    if (gpt_session_new(model, &s, &err) != GPT_OK)
        return NULL;
    s->kern = k;
    gpt_session_set_threads(s, threads, &err);
    for (i = incremental ? 1 : n; i <= n; i++) {
        gpt_free(l);
        l = NULL;
        if (gpt_eval_logits(s, ids, i, &l, &err) != GPT_OK) {
            printf("eval: %s\n", err.message);
            break;
        }
    }
    gpt_session_free(s);
    return l;
}

static void
test_paths_whole_model(void)
{
    int32_t ids[40];
    size_t n = n_ctx < 41 ? (size_t)n_ctx - 1 : 40;
    float *base, *l;
    int i, pi, t;

    for (i = 0; i < 40; i++)
        ids[i] = (int32_t)((i * 4241 + 7) % n_vocab);
    base = logits_on(gpt_kernels_generic(), 1, ids, n, 0);
    CHECK(base != NULL, "generic eval failed");
    if (!base)
        return;
    for (pi = 0; pi < 2; pi++) {
        const gpt_kernels *k = gpt_kernels_by_name(simd_paths[pi]);
        if (!k)
            continue;
        for (t = 1; t <= 4; t++) {
            l = logits_on(k, t, ids, n, 0);
            CHECK(l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
                  "%s, %d threads: logits differ from generic", simd_paths[pi], t);
            gpt_free(l);
        }
        l = logits_on(k, 2, ids, n, 1);
        CHECK(l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
              "%s: token-by-token logits differ from generic prefill", simd_paths[pi]);
        gpt_free(l);
    }
    l = logits_on(gpt_kernels_generic(), 3, ids, n, 1);
    CHECK(l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
          "generic: 3 threads token by token differ from 1 thread prefill");
    gpt_free(l);
    gpt_free(base);
}

/* ---- threads and KV cache ---- */

static void
test_threads_and_cache(void)
{
    int32_t ids[100];
    float *base, *l;
    int i, t;
    gpt_session *s;
    gpt_error err;
    size_t n = n_ctx < 100 ? (size_t)n_ctx - 1 : 99;

    for (i = 0; i < 100; i++)
        ids[i] = (int32_t)((i * 7919 + 11) % n_vocab);
    base = logits_of(1, ids, n);
    CHECK(base != NULL, "eval failed");
    if (!base)
        return;
    for (t = 2; t <= 4; t++) {
        l = logits_of(t, ids, n);
        CHECK(l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
              "logits with %d threads differ from 1 thread", t);
        gpt_free(l);
    }
    /* incremental: feed one token at a time in one session */
    if (gpt_session_new(model, &s, &err) == GPT_OK) {
        gpt_session_set_threads(s, 2, &err);
        for (i = 1; i <= (int)n; i++) {
            l = NULL;
            if (gpt_eval_logits(s, ids, (size_t)i, &l, &err) != GPT_OK)
                break;
            if (i < (int)n)
                gpt_free(l);
        }
        CHECK(i > (int)n && l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
              "incremental decoding differs from a full prefill");
        gpt_free(l);
        /* prefix reuse after a divergent sequence */
        ids[50] = (ids[50] + 1) % n_vocab;
        gpt_eval_logits(s, ids, n, &l, &err);
        gpt_free(l);
        ids[50] = (ids[50] + n_vocab - 1) % n_vocab;
        l = NULL;
        gpt_eval_logits(s, ids, n, &l, &err);
        CHECK(l && memcmp(base, l, sizeof(float) * n_vocab) == 0,
              "logits after prefix reuse differ");
        gpt_free(l);
        gpt_session_free(s);
    }
    gpt_free(base);
}

/* ---- generation ---- */

static char *
gen(gpt_session *s, const char *prompt, const gpt_gen_options *o, gpt_status *st_out)
{
    char *out = NULL;
    size_t n;
    gpt_error err;
    gpt_status st = gpt_generate(s, prompt, strlen(prompt), o, &out, &n, &err);

    if (st_out)
        *st_out = st;
    if (st != GPT_OK) {
        if (!st_out)
            printf("generate: %s\n", err.message);
        return NULL;
    }
    CHECK(strlen(out) == n, "generate returned an embedded NUL or wrong length");
    return out;
}

static int cancel_after;
static int
cancel_cb(void *arg)
{
    (void)arg;
    return --cancel_after < 0;
}

static void
test_generation(void)
{
    gpt_session *s, *s2;
    gpt_error err;
    gpt_gen_options o;
    char *a, *b, *c;
    gpt_status st;

    if (gpt_session_new(model, &s, &err) != GPT_OK ||
        gpt_session_new(model, &s2, &err) != GPT_OK) {
        CHECK(0, "session: %s", err.message);
        return;
    }
    gpt_gen_options_init(&o);
    o.max_tokens = 24;
    a = gen(s, "The cat is lying on the", &o, NULL);
    b = gen(s2, "The cat is lying on the", &o, NULL);
    CHECK(a && b && strcmp(a, b) == 0, "same seed gives different text");
    gpt_session_set_threads(s2, 1, &err);
    c = gen(s2, "The cat is lying on the", &o, NULL);
    CHECK(a && c && strcmp(a, c) == 0, "1 thread gives different text");
    free(c);
    o.seed = 42;
    c = gen(s, "The cat is lying on the", &o, NULL);
    CHECK(a && c && strcmp(a, c) != 0, "another seed gives the same text");
    free(c);
    free(b);

    /* streaming = whole text */
    {
        gpt_step step;
        char buf[8192] = "";
        size_t len = 0;
        int steps = 0;
        o.seed = 0;
        CHECK(gpt_generate_begin(s, "The cat is lying on the", 23, &o, &err) == GPT_OK, "begin: %s", err.message);
        do {
            if (gpt_generate_next(s, &step, &err) != GPT_OK) {
                CHECK(0, "next: %s", err.message);
                break;
            }
            if (!step.done) {
                steps++;
                CHECK(step.logprob <= 0 && step.logprob > -100, "logprob %f out of range", step.logprob);
            }
            memcpy(buf + len, step.text, step.text_len);
            len += step.text_len;
        } while (!step.done);
        buf[len] = '\0';
        CHECK(a && strcmp(buf, a) == 0, "streamed text differs from gpt_generate");
        CHECK(steps <= 24, "more steps than max_tokens");
    }

    /* stop strings: output is cut before the first occurrence */
    if (a && strlen(a) > 6) {
        char stop[4];
        memcpy(stop, a + 5, 3);
        stop[3] = '\0';
        o.stop[0] = stop;
        o.n_stop = 1;
        c = gen(s, "The cat is lying on the", &o, NULL);
        CHECK(c && strstr(a, c) == a && strstr(c, stop) == NULL && strlen(c) <= 5,
              "stop string not honoured: \"%s\" in \"%s\" gave \"%s\"", stop, a, c ? c : "(null)");
        free(c);
        o.n_stop = 0;
    }

    /* greedy is deterministic and ignores the seed */
    o.temperature = 0;
    o.seed = 1;
    b = gen(s, "Hello", &o, NULL);
    o.seed = 2;
    c = gen(s, "Hello", &o, NULL);
    CHECK(b && c && strcmp(b, c) == 0, "greedy depends on the seed");
    free(b);
    free(c);

    /* empty prompt and max_tokens 0 */
    o.max_tokens = 5;
    b = gen(s, "", &o, NULL);
    CHECK(b != NULL, "empty prompt failed");
    free(b);
    o.max_tokens = 0;
    b = gen(s, "Hello", &o, NULL);
    CHECK(b && b[0] == '\0', "max_tokens 0 must give an empty string");
    free(b);

    /* validation */
    gpt_gen_options_init(&o);
    o.max_tokens = -1;
    CHECK(gen(s, "x", &o, &st) == NULL && st == GPT_ERR_INVALID_ARGUMENT, "max_tokens -1 accepted");
    gpt_gen_options_init(&o);
    o.temperature = -0.5;
    CHECK(gen(s, "x", &o, &st) == NULL && st == GPT_ERR_INVALID_ARGUMENT, "temperature < 0 accepted");
    gpt_gen_options_init(&o);
    o.top_p = 0;
    CHECK(gen(s, "x", &o, &st) == NULL && st == GPT_ERR_INVALID_ARGUMENT, "top_p 0 accepted");
    o.top_p = 1.5;
    CHECK(gen(s, "x", &o, &st) == NULL && st == GPT_ERR_INVALID_ARGUMENT, "top_p 1.5 accepted");
    gpt_gen_options_init(&o);
    o.top_k = -1;
    CHECK(gen(s, "x", &o, &st) == NULL && st == GPT_ERR_INVALID_ARGUMENT, "top_k -1 accepted");
    gpt_gen_options_init(&o);
    o.max_tokens = n_ctx;
    CHECK(gen(s, "Hello", &o, &st) == NULL && st == GPT_ERR_CONTEXT_OVERFLOW, "overflow accepted");
    o.max_tokens = 4;
    o.truncate_prompt = 1;
    {
        char *longp = malloc((size_t)n_ctx * 4 + 1);
        int i;
        for (i = 0; i < n_ctx; i++)
            memcpy(longp + i * 4, " cat", 4);
        longp[n_ctx * 4] = '\0';
        b = gen(s, longp, &o, NULL);
        CHECK(b != NULL, "truncate_prompt did not truncate");
        free(b);
        o.truncate_prompt = 0;
        CHECK(gen(s, longp, &o, &st) == NULL && st == GPT_ERR_CONTEXT_OVERFLOW, "long prompt accepted");
        free(longp);
    }

    /* cancellation: stops, then the session works again */
    gpt_gen_options_init(&o);
    o.max_tokens = 20;
    cancel_after = 5;
    gpt_session_set_cancel(s, cancel_cb, NULL);
    CHECK(gen(s, "The cat is lying on the", &o, &st) == NULL && st == GPT_ERR_CANCELLED, "cancel not honoured");
    gpt_session_set_cancel(s, NULL, NULL);
    b = gen(s, "The cat is lying on the", &o, NULL);
    CHECK(a && b && strncmp(a, b, strlen(b)) == 0, "session not reusable after cancel");
    free(b);

    /* next-token probabilities */
    {
        gpt_token_prob *p;
        size_t n, i;
        double sum = 0;
        CHECK(gpt_next_token_probs(s, "The cat", 7, 5, &p, &n, &err) == GPT_OK && n == 5, "probs failed");
        for (i = 0; i + 1 < n; i++)
            CHECK(p[i].prob >= p[i + 1].prob, "probs not sorted");
        for (i = 0; i < n; i++)
            sum += p[i].prob;
        CHECK(sum > 0 && sum <= 1.0000001, "probabilities sum to %f", sum);
        gpt_free(p);
        CHECK(gpt_next_token_probs(s, "x", 1, 0, &p, &n, &err) == GPT_ERR_INVALID_ARGUMENT, "k 0 accepted");
    }
    free(a);
    gpt_session_free(s);
    gpt_session_free(s2);
}

/* ---- batches equal one-by-one generation; scores equal log-probs ---- */

static void
test_batch_and_score(void)
{
    const char *base[] = {"The cat is lying on the", "Hello", "", "讲一个“行权”和“A+”的故事",
                          "<|endoftext|> once upon a time", "x"};
    const char *prompts[21];
    size_t lens[21], out_lens[21];
    char *texts[21];
    gpt_session *s, *one;
    gpt_error err;
    gpt_gen_options o;
    int i, round;

    if (gpt_session_new(model, &s, &err) != GPT_OK || gpt_session_new(model, &one, &err) != GPT_OK) {
        CHECK(0, "session: %s", err.message);
        return;
    }
    for (i = 0; i < 21; i++) {
        prompts[i] = i == 7 ? NULL : base[i % 6];
        lens[i] = prompts[i] ? strlen(prompts[i]) : 0;
    }
    for (round = 0; round < 3; round++) {
        gpt_gen_options_init(&o);
        o.max_tokens = 12 + round * 5;
        if (round == 1) {
            o.temperature = 0;
        } else if (round == 2) {
            o.stop[0] = "e";
            o.n_stop = 1;
            o.seed = 7;
        }
        CHECK(gpt_generate_batch(s, prompts, lens, 21, &o, texts, out_lens, &err) == GPT_OK,
              "batch: %s", err.message);
        for (i = 0; i < 21; i++) {
            if (!prompts[i]) {
                CHECK(texts[i] == NULL, "NULL prompt must give NULL");
                continue;
            }
            char *t = gen(one, prompts[i], &o, NULL);
            CHECK(t && texts[i] && out_lens[i] == strlen(texts[i]) && strcmp(t, texts[i]) == 0,
                  "batch text %d differs from one-by-one (round %d): \"%s\" vs \"%s\"", i, round,
                  texts[i] ? texts[i] : "(null)", t ? t : "(null)");
            free(t);
            gpt_free(texts[i]);
        }
    }
    /* scores: an empty prompt equals the per-token log-probabilities */
    {
        const char *text = "The cat is lying on the mat.";
        int32_t *ids;
        double *lp, sum = 0, score;
        size_t n, nt, k;
        CHECK(gpt_token_logprobs(s, text, strlen(text), &ids, &lp, &n, &err) == GPT_OK, "logprobs: %s", err.message);
        for (k = 0; k < n; k++)
            sum += lp[k];
        CHECK(gpt_score(s, "", 0, text, strlen(text), &score, &nt, &err) == GPT_OK && nt == n,
              "score: %s", err.message);
        CHECK(score == sum, "score %.17g != sum of logprobs %.17g", score, sum);
        gpt_free(ids);
        gpt_free(lp);
        /* a prompt then a continuation, twice (the second reuses the cache) */
        double a1, a2;
        CHECK(gpt_score(s, "The cat is", 10, " happy", 6, &a1, NULL, &err) == GPT_OK, "score");
        CHECK(gpt_score(one, "The cat is", 10, " sad", 4, &a2, NULL, &err) == GPT_OK, "score");
        CHECK(gpt_score(one, "The cat is", 10, " happy", 6, &a2, NULL, &err) == GPT_OK && a1 == a2,
              "score depends on the cache: %.17g vs %.17g", a1, a2);
        CHECK(gpt_score(s, "x", 1, "", 0, &a1, &nt, &err) == GPT_OK && a1 == 0 && nt == 0, "empty continuation");
    }
    gpt_session_free(s);
    gpt_session_free(one);
}

/* ---- prefix reuse across caches: copied keys/values are exact ---- */

static int cancel_now;
static int
cancel_now_cb(void *arg)
{
    (void)arg;
    return cancel_now;
}

/* kv[slot] of s holds the same n positions, bit for bit, as kv[0] of t. */
static int
kv_equal(gpt_session *s, int slot, gpt_session *t, int n)
{
    const gpt_model *m = s->model;
    const gpt_kv *a = &s->kv[slot], *b = &t->kv[0];
    size_t len = (size_t)(m->n_embd / m->n_head) * sizeof(uint16_t);
    int v, l, h, p;

    if (a->n_cached < n || b->n_cached < n || a->base || b->base ||
        memcmp(a->ids, b->ids, (size_t)n * sizeof *a->ids))
        return 0;
    for (v = 0; v < 2; v++)
        for (l = 0; l < m->n_layer; l++)
            for (h = 0; h < m->n_head; h++)
                for (p = 0; p < n; p++)
                    if (memcmp(gpt_kv_row(a, m, v, l, h, p), gpt_kv_row(b, m, v, l, h, p), len))
                        return 0;
    return 1;
}

static void
test_prefix_copy(void)
{
    int32_t a[100], b[100];
    int n = n_ctx < 101 ? n_ctx - 1 : 100, i, k, threads;
    gpt_error err;

    for (i = 0; i < 100; i++)
        a[i] = b[i] = (int32_t)((i * 6007 + 3) % n_vocab);
    for (threads = 1; threads <= 2; threads++) {
        /* shared prefixes of 1, 63, 64, 65 (chunk edges) and n - 10 tokens,
         * a prompt equal to the cached one and one that is its prefix */
        int commons[] = {1, 63, 64, 65, n - 10, n, n - 7};
        for (k = 0; k < (int)(sizeof commons / sizeof commons[0]); k++) {
            int c = commons[k], nb = k == 6 ? c : n;
            gpt_session *s, *fresh;
            float *want = NULL;
            if (gpt_session_new(model, &s, &err) != GPT_OK || gpt_session_new(model, &fresh, &err) != GPT_OK)
                return;
            gpt_session_set_threads(s, threads, &err);
            gpt_session_set_threads(fresh, threads, &err);
            memcpy(b, a, sizeof a);
            if (c < nb)
                b[c] = (b[c] + 1) % n_vocab;
            CHECK(gpt_session_kv(s, 3, &err) == GPT_OK, "kv: %s", err.message);
            CHECK(gpt_prefill(s, 0, a, n, &err) == GPT_OK, "prefill: %s", err.message);
            /* slot 2 holds something else that shares less */
            CHECK(gpt_prefill(s, 2, a, c > 1 ? c / 2 : 1, &err) == GPT_OK, "prefill");
            /* slot 1 copies the common part from slot 0; a cancel right
             * after the copy leaves it holding exactly the copied part */
            cancel_now = 1;
            gpt_session_set_cancel(s, cancel_now_cb, NULL);
            CHECK(gpt_prefill(s, 1, b, nb, &err) == GPT_ERR_CANCELLED, "cancel not honoured");
            gpt_session_set_cancel(s, NULL, NULL);
            CHECK(s->kv[1].n_cached == (c < nb ? c : nb - 1),
                  "common %d: after a cancel slot 1 holds %d positions", c, s->kv[1].n_cached);
            CHECK(gpt_prefill(s, 1, b, nb, &err) == GPT_OK, "prefill: %s", err.message);
            CHECK(gpt_eval_logits(fresh, b, (size_t)nb, &want, &err) == GPT_OK, "eval: %s", err.message);
            CHECK(want && memcmp(want, s->logits, sizeof(float) * n_vocab) == 0,
                  "%d threads, common %d of %d: logits with copied KV differ from computed",
                  threads, c, nb);
            CHECK(kv_equal(s, 1, fresh, nb), "%d threads, common %d: copied KV differs", threads, c);
            /* and the other way: slot 0 takes b's prefix back from slot 1 */
            gpt_free(want);
            want = NULL;
            CHECK(gpt_prefill(s, 0, b, nb, &err) == GPT_OK && memcmp(s->kv[0].ids, b, (size_t)nb * 4) == 0,
                  "prefill slot 0");
            CHECK(kv_equal(s, 0, fresh, nb), "common %d: KV of slot 0 differs", c);
            gpt_session_free(s);
            gpt_session_free(fresh);
        }
    }
}

/* Batches (and single calls) give the same bytes with prefix reuse on and
 * off, for prompts sharing prefixes of many lengths, equal prompts and
 * prompts that are prefixes of others, after a previous single call. */
static void
test_prefix_batch(void)
{
    enum { NP = 23 };
    const char *pre = " The history of the small town by the river goes back to the time when"
                      " the first settlers came from the north with their cattle and their"
                      " old stories about the mountains";
    const char *tails[] = {"", " and", " and the", " and the sea", " but", " but not",
                           "!", " and the", "", " or"};
    char *prompts[NP];
    size_t lens[NP], out_lens[2][NP];
    char *texts[2][NP];
    gpt_session *s[2];
    gpt_gen_options o;
    gpt_error err;
    int i, on, threads, round;

    for (i = 0; i < NP; i++) {
        size_t pl = strlen(pre);
        /* prefixes of the long sentence of several lengths, then a tail */
        size_t cut = i % 4 == 3 ? pl / 3 : i % 4 == 2 ? pl * 2 / 3 : pl;
        const char *tail = tails[i % 10];
        prompts[i] = malloc(pl + 32);
        memcpy(prompts[i], pre, cut);
        strcpy(prompts[i] + cut, tail);
        if (i == 20)
            strcpy(prompts[i], "A different start");
        if (i == 21)
            strcpy(prompts[i], "A different start and more");
        lens[i] = strlen(prompts[i]);
    }
    for (threads = 1; threads <= 2; threads++)
        for (round = 0; round < 2; round++) {
            gpt_gen_options_init(&o);
            o.max_tokens = 10 + 5 * round;
            o.temperature = round ? 0 : 0.9;
            o.seed = 3;
            for (on = 0; on < 2; on++) {
                char *single;
                size_t sl;
                if (gpt_session_new(model, &s[on], &err) != GPT_OK)
                    return;
                gpt_session_set_threads(s[on], threads, &err);
                gpt_session_set_prefix_reuse(s[on], on);
                CHECK(gpt_session_prefix_reuse(s[on]) == on, "switch not kept");
                /* round 0: a single call first, so kv[0] holds a prompt the
                 * batch shares; round 1: empty caches, so the batch's first
                 * prompts wait for one another's prefixes */
                if (round == 0) {
                    CHECK(gpt_generate(s[on], prompts[1], lens[1], &o, &single, &sl, &err) == GPT_OK,
                          "generate: %s", err.message);
                    gpt_free(single);
                }
                CHECK(gpt_generate_batch(s[on], (const char *const *)prompts, lens, NP, &o,
                                         texts[on], out_lens[on], &err) == GPT_OK,
                      "batch: %s", err.message);
            }
            for (i = 0; i < NP; i++) {
                CHECK(texts[0][i] && texts[1][i] && out_lens[0][i] == out_lens[1][i] &&
                          strcmp(texts[0][i], texts[1][i]) == 0,
                      "%d threads, round %d: text %d differs with prefix reuse: \"%s\" vs \"%s\"",
                      threads, round, i, texts[1][i] ? texts[1][i] : "(null)",
                      texts[0][i] ? texts[0][i] : "(null)");
                gpt_free(texts[0][i]);
                gpt_free(texts[1][i]);
            }
            /* a second batch on the same sessions (kv[0] kept) and the
             * single calls after it agree too */
            for (on = 0; on < 2; on++)
                CHECK(gpt_generate_batch(s[on], (const char *const *)prompts + 5, lens + 5, 7, &o,
                                         texts[on], out_lens[on], &err) == GPT_OK,
                      "batch: %s", err.message);
            for (i = 0; i < 7; i++) {
                CHECK(strcmp(texts[0][i], texts[1][i]) == 0, "second batch: text %d differs", i);
                gpt_free(texts[0][i]);
                gpt_free(texts[1][i]);
            }
            for (i = 0; i < NP; i += 4) {
                char *t[2];
                for (on = 0; on < 2; on++)
                    t[on] = gen(s[on], prompts[i], &o, NULL);
                CHECK(t[0] && t[1] && strcmp(t[0], t[1]) == 0, "single %d differs with reuse", i);
                free(t[0]);
                free(t[1]);
            }
            gpt_session_free(s[0]);
            gpt_session_free(s[1]);
        }
    for (i = 0; i < NP; i++)
        free(prompts[i]);
}

/* ---- batches share the common prefix instead of copying it ---- */

/* No cache of s points at a shared prefix and kv[0] holds, bit for bit,
 * the keys and values a fresh evaluation of its ids gives. */
static void
check_unshared(gpt_session *s, const char *what)
{
    gpt_session *fresh;
    gpt_error err;
    float *l = NULL;
    int n = s->kv[0].n_cached, j;

    CHECK(s->pfx.chunk == NULL, "%s: the shared prefix cache is still there", what);
    for (j = 0; j < s->n_kv; j++)
        CHECK(s->kv[j].base == NULL && s->kv[j].n_base == 0, "%s: kv[%d] keeps a base", what, j);
    if (n < 1 || gpt_session_new(model, &fresh, &err) != GPT_OK)
        return;
    fresh->kern = s->kern;
    CHECK(gpt_eval_logits(fresh, s->kv[0].ids, (size_t)n, &l, &err) == GPT_OK, "eval: %s", err.message);
    CHECK(kv_equal(s, 0, fresh, n), "%s: kv[0] (%d positions) differs from a fresh evaluation", what, n);
    gpt_free(l);
    gpt_session_free(fresh);
}

/* " w0 w1 ..." words from first until the text has at least ntok tokens. */
static char *
words(int first, int ntok)
{
    char *p = calloc(1, 4096);
    size_t n = 0;
    int i = first;

    while (p && n < (size_t)ntok) {
        size_t l = strlen(p);
        snprintf(p + l, 4096 - l, " %s%d", i % 3 ? "word" : "the", i);
        i++;
        if (gpt_token_count(model, p, strlen(p), &n, NULL) != GPT_OK)
            break;
    }
    return p;
}

static int cancel_polls;
static int
cancel_polls_cb(void *arg)
{
    (void)arg;
    return --cancel_polls < 0;
}

static void
test_share_batch(void)
{
    enum { NP = 24, NSET = 6 };
    /* the shared prefix crosses a chunk edge (64 tokens) */
    char *pre = words(0, 70), *other = words(500, 40), *tail[NP];
    char *sets[NSET][NP];
    size_t lens[NP], out_lens[2][NP];
    char *texts[2][NP];
    int np[NSET], i, k, threads, on, set, K, cfg;
    gpt_gen_options o;
    gpt_error err;

    for (i = 0; i < NP; i++)
        tail[i] = words(1000 + 7 * i, 1 + i % 5);
    for (set = 0; set < NSET; set++)
        for (i = 0; i < NP; i++)
            sets[set][i] = NULL;
    /* 0: all share the prefix, more prompts than slots */
    np[0] = 21;
    for (i = 0; i < np[0]; i++) {
        sets[0][i] = malloc(strlen(pre) + strlen(tail[i]) + 1);
        strcpy(sets[0][i], pre);
        strcat(sets[0][i], tail[i]);
    }
    /* 1: some share it, some share another prefix, some nothing, NULLs */
    np[1] = NP;
    for (i = 0; i < NP; i++) {
        const char *head = i % 3 == 0 ? pre : i % 3 == 1 ? other : "";
        if (i % 7 == 5)
            continue; /* NULL */
        sets[1][i] = malloc(strlen(head) + strlen(tail[i]) + 16);
        sprintf(sets[1][i], "%s%s", head, i % 3 == 2 ? tail[(i * 5) % NP] : tail[i]);
    }
    /* 2: nothing shared */
    np[2] = 18;
    for (i = 0; i < np[2]; i++)
        sets[2][i] = words(2000 + 40 * i, 3 + i % 6);
    /* 3: a prompt equal to the prefix, prompts shorter than it (cut at
     * several places), an empty one, the prefix plus tails */
    np[3] = 20;
    for (i = 0; i < np[3]; i++) {
        size_t pl = strlen(pre), cut = i % 4 == 0 ? pl : i % 4 == 1 ? pl / 2 : i % 4 == 2 ? pl - 3 : pl;
        sets[3][i] = calloc(1, pl + strlen(tail[i]) + 1);
        memcpy(sets[3][i], pre, cut);
        if (i % 4 == 3)
            strcat(sets[3][i], tail[i]);
        if (i == 9)
            sets[3][i][0] = 0;
    }
    /* 4: two prompts only, both the prefix plus a tail */
    np[4] = 2;
    for (i = 0; i < 2; i++) {
        sets[4][i] = malloc(strlen(pre) + strlen(tail[i + 3]) + 1);
        strcpy(sets[4][i], pre);
        strcat(sets[4][i], tail[i + 3]);
    }

    /* 5: a short shared prefix and long tails: each slot's own rows (from
     * the prefix's end) run past a chunk edge (64 positions) while it reads
     * the prefix from the shared cache */
    np[5] = 3;
    for (i = 0; i < np[5]; i++) {
        char *p6 = words(0, 6), *t = words(3000 + 100 * i, 66 + i);
        sets[5][i] = malloc(strlen(p6) + strlen(t) + 1);
        strcpy(sets[5][i], p6);
        strcat(sets[5][i], t);
        free(p6);
        free(t);
    }

    /* the default kernels with 1 and 2 threads, then the generic ones
     * (slow: the small batch only) and the AVX2 ones: scores and mixes
     * split at the shared prefix's end on every path */
    for (cfg = 0; cfg < 4; cfg++) {
        gpt_session *s[2];
        const gpt_kernels *kern = cfg == 2 ? gpt_kernels_generic() : cfg == 3 ? gpt_kernels_by_name("avx2") : NULL;
        threads = cfg == 0 || cfg == 3 ? 1 : 2;
        if (cfg == 3 && !kern)
            continue;
        if (gpt_session_new(model, &s[0], &err) != GPT_OK || gpt_session_new(model, &s[1], &err) != GPT_OK)
            return;
        for (on = 0; on < 2; on++) {
            gpt_session_set_threads(s[on], threads, &err);
            gpt_session_set_prefix_reuse(s[on], on);
            if (kern)
                s[on]->kern = kern;
        }
        /* every set, twice (the second time kv[0] holds the last one's
         * sequence), a single call after each batch, then cancels */
        for (k = cfg == 2 ? NSET - 1 : 0; k < (cfg < 2 ? 2 * NSET : NSET); k++) {
            int sn = k % NSET;
            char what[64];
            gpt_gen_options_init(&o);
            o.max_tokens = k == 7 ? 0 : 4 + k % 3;
            o.temperature = k % 2 ? 0 : 0.9;
            o.seed = (uint64_t)k;
            snprintf(what, sizeof what, "config %d, %d threads, batch %d (set %d)", cfg, threads, k, sn);
            for (i = 0; i < np[sn]; i++)
                lens[i] = sets[sn][i] ? strlen(sets[sn][i]) : 0;
            for (on = 0; on < 2; on++)
                CHECK(gpt_generate_batch(s[on], (const char *const *)sets[sn], lens, (size_t)np[sn], &o,
                                         texts[on], out_lens[on], &err) == GPT_OK,
                      "%s: %s", what, err.message);
            check_unshared(s[1], what);
            for (i = 0; i < np[sn]; i++) {
                CHECK(!sets[sn][i] == !texts[1][i] && out_lens[0][i] == out_lens[1][i] &&
                          (!texts[1][i] || strcmp(texts[0][i], texts[1][i]) == 0),
                      "%s: text %d differs with prefix reuse: \"%s\" vs \"%s\"", what, i,
                      texts[1][i] ? texts[1][i] : "(null)", texts[0][i] ? texts[0][i] : "(null)");
                /* and one by one on a session without reuse, for some */
                if (sets[sn][i] && i % 5 == k % 5) {
                    char *one = gen(s[0], sets[sn][i], &o, NULL);
                    CHECK(one && texts[1][i] && strcmp(one, texts[1][i]) == 0,
                          "%s: text %d differs from one-by-one", what, i);
                    free(one);
                }
                gpt_free(texts[0][i]);
                gpt_free(texts[1][i]);
            }
            /* a single call that can reuse kv[0] */
            {
                const char *p = sets[sn][np[sn] - 1] ? sets[sn][np[sn] - 1] : pre;
                char *t[2];
                for (on = 0; on < 2; on++)
                    t[on] = gen(s[on], p, &o, NULL);
                CHECK(t[0] && t[1] && strcmp(t[0], t[1]) == 0, "%s: the single call after differs", what);
                free(t[0]);
                free(t[1]);
                check_unshared(s[1], what);
            }
        }
        /* cancel mid-batch (also in the shared prefix's own prefill), then
         * a new batch: same texts as without reuse */
        for (K = 1; K < (cfg < 2 ? 400 : cfg == 2 ? 0 : 5); K = K * 3 + 1) {
            gpt_status st;
            gpt_gen_options_init(&o);
            o.max_tokens = 5;
            o.seed = (uint64_t)K;
            for (i = 0; i < np[0]; i++)
                lens[i] = strlen(sets[0][i]);
            cancel_polls = K;
            gpt_session_set_cancel(s[1], cancel_polls_cb, NULL);
            st = gpt_generate_batch(s[1], (const char *const *)sets[0], lens, (size_t)np[0], &o, texts[1],
                                    out_lens[1], &err);
            gpt_session_set_cancel(s[1], NULL, NULL);
            CHECK(st == GPT_ERR_CANCELLED || st == GPT_OK, "cancel after %d polls: %d", K, (int)st);
            if (st == GPT_OK)
                for (i = 0; i < np[0]; i++)
                    gpt_free(texts[1][i]);
            else
                for (i = 0; i < np[0]; i++)
                    CHECK(texts[1][i] == NULL, "cancel: text %d left", i);
            check_unshared(s[1], "after a cancel");
            set = K % 2 ? 1 : 3;
            for (i = 0; i < np[set]; i++)
                lens[i] = sets[set][i] ? strlen(sets[set][i]) : 0;
            for (on = 0; on < 2; on++)
                CHECK(gpt_generate_batch(s[on], (const char *const *)sets[set], lens, (size_t)np[set], &o,
                                         texts[on], out_lens[on], &err) == GPT_OK,
                      "batch after a cancel: %s", err.message);
            for (i = 0; i < np[set]; i++) {
                CHECK(!texts[0][i] == !texts[1][i] && (!texts[1][i] || strcmp(texts[0][i], texts[1][i]) == 0),
                      "%d threads, cancel after %d: next batch's text %d differs", threads, K, i);
                gpt_free(texts[0][i]);
                gpt_free(texts[1][i]);
            }
            check_unshared(s[1], "batch after a cancel");
        }
        gpt_session_free(s[0]);
        gpt_session_free(s[1]);
    }
    for (set = 0; set < NSET; set++)
        for (i = 0; i < NP; i++)
            free(sets[set][i]);
    for (i = 0; i < NP; i++)
        free(tail[i]);
    free(pre);
    free(other);
}

/* Greedy sampling is the first index of the largest logit, as the plain
 * scan "best = i when logits[i] > logits[best]" defines it: NaN never wins
 * except at index 0, ties go to the lowest id, -0 equals +0; on random
 * arrays of every length around the 8-lane blocks, and placed extremes. */
static void
test_greedy(void)
{
    gpt_gen_options o;
    gpt_sampler_buf buf = {0};
    gpt_rng rng;
    float v[40];
    unsigned x = 12345;
    int n, t, i, bad = 0;

    gpt_gen_options_init(&o);
    o.temperature = 0;
    gpt_rng_seed(&rng, 1);
    for (t = 0; t < 4000; t++) {
        int best = 0;
        n = 1 + t % 40;
        for (i = 0; i < n; i++) {
            x = x * 1103515245u + 12345u;
            /* few distinct values, so ties are common */
            v[i] = (float)((int)(x >> 16) % 7) - 3.0f;
            if (t % 5 == 1 && (x >> 8) % 9 == 0)
                v[i] = NAN;
            if (t % 7 == 2 && (x >> 9) % 11 == 0)
                v[i] = (x >> 4) % 2 ? -0.0f : 0.0f;
            if (t % 11 == 3 && (x >> 10) % 13 == 0)
                v[i] = (x >> 5) % 2 ? INFINITY : -INFINITY;
        }
        if (t % 13 == 4)
            v[0] = NAN;
        if (t % 17 == 5)
            for (i = 0; i < n; i++)
                v[i] = NAN;
        for (i = 1; i < n; i++)
            if (v[i] > v[best])
                best = i;
        if (gpt_sample(v, n, &o, &rng, &buf) != best)
            bad++;
    }
    CHECK(bad == 0, "greedy sampling differs from the scan on %d of 4000 arrays\n", bad);
    gpt_free(buf.idx);
    gpt_free(buf.p);
}

/* A key beyond the F16 cache's range is an error that says so, not an inf
 * in the cache: a copy of the model whose layer-0 key biases are 1e5. */
static void
test_kv_overflow(const char *path)
{
    const gpt_layer *L = &model->layers[0];
    gpt_model_info info;
    size_t off, size;
    char tmp[] = "/tmp/gpt-kv-overflow-XXXXXX";
    unsigned char *bytes;
    FILE *f;
    gpt_model *m2 = NULL;
    gpt_session *s2 = NULL;
    gpt_error err;
    float *logits = NULL, big = 1e5f;
    int32_t ids[2] = {464, 3797};
    int i, fd;

    gpt_model_get_info(model, &info);
    size = (size_t)info.file_size;
    off = (size_t)((const unsigned char *)L->qkv_b - (const unsigned char *)model->map);
    CHECK(off + 3 * sizeof(float) * (size_t)info.n_embd <= size, "qkv bias inside the file");
    bytes = malloc(size);
    f = fopen(path, "rb");
    CHECK(bytes && f && fread(bytes, 1, size, f) == size, "read %s", path);
    if (f)
        fclose(f);
    for (i = 0; i < info.n_embd; i++)   /* the key part: [n_embd, 2 n_embd) */
        memcpy(bytes + off + sizeof(float) * (size_t)(info.n_embd + i), &big, sizeof big);
    fd = mkstemp(tmp);
    CHECK(fd >= 0 && write(fd, bytes, size) == (ssize_t)size, "write %s", tmp);
    if (fd >= 0)
        close(fd);
    free(bytes);
    CHECK(gpt_model_open(tmp, &m2, &err) == GPT_OK, "open the patched copy: %s", err.message);
    if (m2 && gpt_session_new(m2, &s2, &err) == GPT_OK) {
        gpt_status st = gpt_eval_logits(s2, ids, 2, &logits, &err);
        CHECK(st == GPT_ERR_UNSUPPORTED && strstr(err.message, "F16 KV cache") &&
                  strstr(err.message, "key of layer 0"),
              "kv overflow: status %d, %s", (int)st, st ? err.message : "no error");
        gpt_free(logits);
    }
    gpt_session_free(s2);
    gpt_model_release(m2);
    unlink(tmp);
}

int
main(int argc, char **argv)
{
    gpt_error err;
    gpt_model_info info;

    if (argc < 2) {
        fprintf(stderr, "usage: test_session MODEL.gguf\n");
        return 2;
    }
    if (gpt_model_open(argv[1], &model, &err) != GPT_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    gpt_model_get_info(model, &info);
    n_vocab = info.n_vocab;
    n_ctx = info.n_ctx;
    test_greedy();
    test_gelu_accuracy();
    test_kernels();
    test_prefill_tiles();
    test_f16_rounding();
    test_softmax();
    test_scores64();
    test_q8_quantize();
    test_q8_matmul();
    test_paths_whole_model();
    test_threads_and_cache();
    test_generation();
    test_batch_and_score();
    test_prefix_copy();
    test_prefix_batch();
    test_share_batch();
    if (model->layers[0].qkv_b)
        test_kv_overflow(argv[1]);
    gpt_model_release(model);
    printf("session: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
