/*
 * clang_compat.h - force-included (-include) into the core sources of the
 * fuzz build only.  clang 14's __builtin_cpu_supports() does not know
 * "f16c" (gcc's does), so core/kernels.c does not compile with it; this
 * routes the calls through a function that answers "f16c" from CPUID and
 * passes every other feature to the real builtin.
 */
#ifndef GPT_FUZZ_CLANG_COMPAT_H
#define GPT_FUZZ_CLANG_COMPAT_H
#if defined(__clang__) && defined(__x86_64__)
#include <cpuid.h>

static inline int
gpt_fuzz_cpu_supports(const char *f)
{
    unsigned a, b, c, d;

    if (__builtin_strcmp(f, "f16c") == 0)
        return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
    if (__builtin_strcmp(f, "fma") == 0)
        return __builtin_cpu_supports("fma");
    if (__builtin_strcmp(f, "avx2") == 0)
        return __builtin_cpu_supports("avx2");
    if (__builtin_strcmp(f, "avx512f") == 0)
        return __builtin_cpu_supports("avx512f");
    if (__builtin_strcmp(f, "avx512bw") == 0)
        return __builtin_cpu_supports("avx512bw");
    if (__builtin_strcmp(f, "avx512vl") == 0)
        return __builtin_cpu_supports("avx512vl");
    return 0;
}
#define __builtin_cpu_supports(f) gpt_fuzz_cpu_supports(f)
#endif
#endif
