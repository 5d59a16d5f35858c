/*
 * error.c - error messages and the allocation wrappers every core file uses.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

GPT_API const char *
gpt_status_name(gpt_status s)
{
    switch (s) {
    case GPT_OK: return "ok";
    case GPT_ERR_INVALID_ARGUMENT: return "invalid argument";
    case GPT_ERR_NOT_FOUND: return "model file not found";
    case GPT_ERR_CORRUPT_MODEL: return "corrupt model";
    case GPT_ERR_UNSUPPORTED: return "unsupported model";
    case GPT_ERR_CONTEXT_OVERFLOW: return "context overflow";
    case GPT_ERR_NOMEM: return "out of memory";
    case GPT_ERR_CANCELLED: return "cancelled";
    case GPT_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

gpt_status
gpt_set_error(gpt_error *err, gpt_status code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void
gpt_error_prefix(gpt_error *err, const char *prefix)
{
    char tmp[GPT_ERROR_MAX];

    if (!err || !prefix)
        return;
    snprintf(tmp, sizeof tmp, "%.200s: %.300s", prefix, err->message);
    memcpy(err->message, tmp, sizeof tmp);
}

/* Allocation counting/failure injection.  Relaxed atomics: the counters are
 * only meaningful in single-threaded tests, but must not be a data race. */
static _Atomic uint64_t alloc_count;
static _Atomic uint64_t alloc_fail_at; /* 0: never */

static int
alloc_should_fail(void)
{
    uint64_t at = atomic_load_explicit(&alloc_fail_at, memory_order_relaxed);
    uint64_t n = atomic_fetch_add_explicit(&alloc_count, 1, memory_order_relaxed) + 1;
    return at != 0 && n >= at;
}

uint64_t
gpt_alloc_fail_after(uint64_t nth)
{
    uint64_t n = atomic_exchange(&alloc_count, 0);
    atomic_store(&alloc_fail_at, nth);
    return n;
}

void *
gpt_malloc(size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
gpt_calloc(size_t n, size_t size)
{
    if (alloc_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *
gpt_realloc(void *p, size_t n)
{
    if (alloc_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

GPT_API void
gpt_free(void *p)
{
    free(p);
}
