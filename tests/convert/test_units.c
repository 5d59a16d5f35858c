/*
 * test_units.c - unit tests of the converter's parts: the JSON parser
 * (valid and invalid documents, messages), half-precision conversion
 * (against the CPU's F16C instruction where present, and exhaustively
 * half -> float -> half), the Q8_0 quantizer's edge cases, and the GGUF
 * writer read back by the core's validating reader.
 *
 * Prints "units: N passed, M failed"; exit status 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_write.h"
#include "json.h"
#include "kernels.h"
#include "quant.h"

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            n_pass++;                                                      \
        } else {                                                           \
            n_fail++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

static void
test_json_valid(void)
{
    static const char doc[] =
        " {\"a\": [1, -2, 3.5e2, true, false, null, \"x\\u00e9\\ud83d\\ude00"
        "\\n\\\"\"], \"b\": {}, \"c\": [], \"\\u0000k\": -0, \"big\": "
        "9223372036854775807, \"huge\": 1e400} ";
    json_value v;
    gpt_error err = {0};
    const json_value *a, *k;

    CHECK(json_parse(doc, strlen(doc), &v, &err) == GPT_OK, "parse: %s",
          err.message);
    if (v.type != JSON_OBJECT)
        return;
    CHECK(v.len == 6, "6 members, got %zu", v.len);
    a = json_get(&v, "a");
    CHECK(a && a->type == JSON_ARRAY && a->len == 7, "array a");
    if (a && a->len == 7) {
        CHECK(a->items[0].is_int && a->items[0].integer == 1, "1");
        CHECK(a->items[1].is_int && a->items[1].integer == -2, "-2");
        CHECK(!a->items[2].is_int && a->items[2].number == 350.0, "3.5e2");
        CHECK(a->items[3].type == JSON_BOOL && a->items[3].boolean, "true");
        CHECK(a->items[4].type == JSON_BOOL && !a->items[4].boolean, "false");
        CHECK(a->items[5].type == JSON_NULL, "null");
        CHECK(a->items[6].type == JSON_STRING && a->items[6].len == 9 &&
              memcmp(a->items[6].str, "x\xc3\xa9\xf0\x9f\x98\x80\n\"", 9) ==
                  0, "escapes decoded");
    }
    /* a key with an escaped NUL: found by length, not by C string */
    CHECK(json_get(&v, "k") == NULL, "NUL key is not \"k\"");
    CHECK(v.members[3].key_len == 2 && v.members[3].key[0] == '\0',
          "NUL key kept");
    k = json_get(&v, "big");
    CHECK(k && k->is_int && k->integer == INT64_MAX, "int64 max exact");
    k = json_get(&v, "huge");
    CHECK(k && !k->is_int && isinf(k->number), "1e400 -> inf, not an int");
    json_free(&v);
}

static void
test_json_invalid(void)
{
    static const struct {
        const char *doc, *msg;
    } cases[] = {
        {"", "unexpected end of input"},
        {"{\"a\": 1,}", "expected a string key"},
        {"[1, 2,]", "expected a value"},
        {"{\"a\" 1}", "expected ':'"},
        {"{\"a\": 1} x", "unexpected text after"},
        {"\"abc", "unterminated string"},
        {"\"a\tb\"", "control character"},
        {"\"\\x\"", "unknown escape"},
        {"\"\\u12G4\"", "bad \\u escape"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"\\ud800x\"", "high surrogate not followed"},
        {"\"\xc0\xaf\"", "invalid UTF-8"},
        {"\"\xed\xa0\x80\"", "invalid UTF-8"},
        {"01", "leading zero"},
        {"1.", "digit expected after the decimal point"},
        {"1e+", "digit expected in the exponent"},
        {"-", "expected a value"},
        {"tru", "expected a value"},
        {"{\"a\": 1, \"a\": 2}", "appears twice"},
        {"// c\n{}", "expected a value"},
        {"[1]\n\n  ]", "line 3 column 3"},
    };
    size_t i;
    char deep[200];

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_value v;
        gpt_error err = {0};
        gpt_status st = json_parse(cases[i].doc, strlen(cases[i].doc), &v,
                                   &err);
        CHECK(st != GPT_OK && strstr(err.message, cases[i].msg) &&
                  v.type == JSON_NULL,
              "%s: got \"%s\", want \"%s\"", cases[i].doc, err.message,
              cases[i].msg);
    }
    /* nesting beyond the limit is an error, not a stack overflow */
    memset(deep, '[', sizeof deep);
    {
        json_value v;
        gpt_error err = {0};
        CHECK(json_parse(deep, sizeof deep, &v, &err) != GPT_OK &&
                  strstr(err.message, "nested too deeply"),
              "deep nesting: %s", err.message);
    }
    /* every prefix of a valid document fails cleanly */
    {
        static const char doc[] = "{\"x\": [1.5e3, \"\\u00e9\", {\"y\": null}]}";
        size_t n;
        for (n = 0; n < sizeof doc - 1; n++) {
            json_value v;
            gpt_error err = {0};
            CHECK(json_parse(doc, n, &v, &err) != GPT_OK,
                  "prefix of %zu bytes accepted", n);
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) static uint16_t
hw_fp16_f16c(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
#endif

static int
have_f16c(void)
{
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    return (c & bit_F16C) != 0;
#else
    return 0;
#endif
}

static void
test_fp16(void)
{
    uint32_t h, bad = 0;
    uint64_t i;

    /* half -> float -> half is the identity for every non-NaN half */
    for (h = 0; h < 0x10000; h++) {
        float f = cv_fp16_to_fp32((uint16_t)h);
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF))
            continue;
        if (gpt_f32_to_f16(f) != h)
            bad++;
    }
    CHECK(bad == 0, "%u halves do not round-trip", bad);
    CHECK(cv_fp16_to_fp32(0x3C00) == 1.0f && cv_fp16_to_fp32(0xC000) == -2.0f &&
              cv_fp16_to_fp32(0x0001) == 0x1p-24f,
          "known halves");
    CHECK(gpt_f32_to_f16(65520.0f) == 0x7C00 &&
              gpt_f32_to_f16(65519.0f) == 0x7BFF,
          "overflow to infinity at 65520");
    CHECK(gpt_f32_to_f16(0x1p-25f) == 0 &&
              gpt_f32_to_f16(0x1.000002p-25f) == 1 &&
              gpt_f32_to_f16(0x3p-25f) == 2,
          "subnormal ties to even");
    CHECK(cv_bf16_to_fp32(0x3F80) == 1.0f, "bf16 1.0");
    if (!have_f16c()) {
        printf("skip F16C comparison (no F16C)\n");
        return;
    }
#if defined(__x86_64__)
    /* random bit patterns, and every float near the half range's edges */
    bad = 0;
    srand(12345);
    for (i = 0; i < 4000000; i++) {
        uint32_t bits = ((uint32_t)rand() << 16) ^ (uint32_t)rand() ^
                        ((uint32_t)rand() << 31);
        float f;
        memcpy(&f, &bits, 4);
        if (isnan(f))
            continue;
        if (gpt_f32_to_f16(f) != hw_fp16_f16c(f))
            bad++;
    }
    for (i = 0; i < (1u << 23) * 2; i += 7) {
        /* exponents 2^-26 .. 2^-23 (subnormal halves) and 2^15 (overflow) */
        uint32_t bits = (uint32_t)((101u << 23) + i % (4u << 23));
        uint32_t big = (uint32_t)((142u << 23) + i % (1u << 23));
        float f, g;
        memcpy(&f, &bits, 4);
        memcpy(&g, &big, 4);
        if (gpt_f32_to_f16(f) != hw_fp16_f16c(f))
            bad++;
        if (gpt_f32_to_f16(g) != hw_fp16_f16c(g))
            bad++;
    }
    CHECK(bad == 0, "%u floats convert differently from F16C", bad);
#endif
}

static void
test_q8_0(void)
{
    float x[64];
    uint8_t out[68];
    int j;

    /* block 1: zeros -> d = 0, all q 0; block 2: amax 127 -> d = 1 and
     * halves round away from zero (2.5 -> 3, -2.5 -> -3) */
    for (j = 0; j < 32; j++)
        x[j] = 0.0f;
    for (j = 0; j < 32; j++)
        x[32 + j] = (float)(j - 16);
    x[32] = 127.0f;
    x[33] = 2.5f;
    x[34] = -2.5f;
    x[35] = -127.0f;
    cv_quantize_q8_0(x, 64, out);
    for (j = 0; j < 34; j++)
        if (out[j] != 0)
            break;
    CHECK(j == 34, "zero block is all zero bytes");
    CHECK(out[34] == 0x00 && out[35] == 0x3C, "d = 1.0 (fp16 0x3C00)");
    CHECK((int8_t)out[36] == 127 && (int8_t)out[37] == 3 &&
              (int8_t)out[38] == -3 && (int8_t)out[39] == -127 &&
              (int8_t)out[40] == -12,
          "q values %d %d %d %d %d", (int8_t)out[36], (int8_t)out[37],
          (int8_t)out[38], (int8_t)out[39], (int8_t)out[40]);
}

static void
test_gguf_roundtrip(void)
{
    gguf_writer w;
    gpt_error err = {0};
    const char *strs[] = {"a", "", "h\xc3\xa9llo"};
    size_t lens[] = {1, 0, 6};
    int32_t ints[] = {1, -3};
    uint64_t ne1[1] = {3}, ne2[2] = {32, 2};
    float t1[3] = {1, 2, 3}, t2[64];
    uint8_t q[68];
    char *buf = NULL;
    size_t size = 0;
    FILE *fp = open_memstream(&buf, &size);
    gguf_file gf;
    uint64_t u;
    gguf_str s;
    const gguf_tensor *t;
    int i;

    for (i = 0; i < 64; i++)
        t2[i] = (float)i / 10.0f;
    cv_quantize_q8_0(t2, 64, q);
    gw_init(&w);
    CHECK(gw_add_u32(&w, "k.u32", 7, &err) == GPT_OK &&
              gw_add_f32(&w, "k.f32", 0.5f, &err) == GPT_OK &&
              gw_add_string(&w, "k.str", "gpt2", 4, &err) == GPT_OK &&
              gw_add_string_array(&w, "k.strs", strs, lens, 3, &err) ==
                  GPT_OK &&
              gw_add_i32_array(&w, "k.ints", ints, 2, &err) == GPT_OK,
          "add metadata: %s", err.message);
    CHECK(gw_add_u32(&w, "k.u32", 8, &err) != GPT_OK, "duplicate key");
    CHECK(gw_add_tensor(&w, "t1", 1, ne1, GGML_F32, &err) == GPT_OK &&
              gw_add_tensor(&w, "t2", 2, ne2, GGML_Q8_0, &err) == GPT_OK,
          "add tensors: %s", err.message);
    {
        uint64_t bad_ne[2] = {33, 2};
        CHECK(gw_add_tensor(&w, "t3", 2, bad_ne, GGML_Q8_0, &err) != GPT_OK,
              "Q8_0 rows of 33 refused");
    }
    CHECK(gw_write_header(&w, fp, &err) == GPT_OK &&
              gw_write_tensor(&w, fp, 0, t1, sizeof t1, &err) == GPT_OK &&
              gw_write_tensor(&w, fp, 1, q, sizeof q, &err) == GPT_OK &&
              gw_finish(&w, fp, &err) == GPT_OK,
          "write: %s", err.message);
    fclose(fp);
    gw_free(&w);
    CHECK(size % 32 == 0, "file size %zu is aligned", size);
    CHECK(gguf_parse(buf, size, &gf, &err) == GPT_OK, "read back: %s",
          err.message);
    if (gf.kv) {
        CHECK(gguf_get_uint(&gf, "k.u32", 100, &u, &err) == GPT_OK && u == 7,
              "u32");
        CHECK(gguf_get_string(&gf, "k.str", &s, &err) == GPT_OK &&
                  s.len == 4 && memcmp(s.ptr, "gpt2", 4) == 0,
              "string");
        t = gguf_find_tensor(&gf, "t2");
        CHECK(t && t->type == GGML_Q8_0 && t->ne[0] == 32 && t->ne[1] == 2 &&
                  t->nbytes == 68 && memcmp(t->data, q, 68) == 0 &&
                  t->offset % 32 == 0,
              "Q8_0 tensor");
        t = gguf_find_tensor(&gf, "t1");
        CHECK(t && t->n_dims == 1 && memcmp(t->data, t1, 12) == 0, "F32");
        gguf_free(&gf);
    }
    free(buf);
}

int
main(void)
{
    test_json_valid();
    test_json_invalid();
    test_fp16();
    test_q8_0();
    test_gguf_roundtrip();
    printf("units: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail ? 1 : 0;
}
