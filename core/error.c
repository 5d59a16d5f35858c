/*
 * error.c - error messages and the allocation wrappers every core file uses.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "utf8.h"

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

/* Messages quote names and values from files and callers, and are cut at
 * GPT_ERROR_MAX bytes, possibly inside a character; the hosts need valid
 * UTF-8 (PostgreSQL converts every message to the client's encoding and
 * fails on invalid bytes) and one line.  So each byte that is not part of
 * a valid character, and each control character, becomes '?'. */
static void
clean_message(char *m)
{
    size_t n = strlen(m), i = 0;

    while (i < n) {
        size_t v = gpt_utf8_valid_prefix(m + i, n - i), end = i + v;
        for (; i < end; i++)
            if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f)
                m[i] = '?';
        if (i < n)
            m[i++] = '?';
    }
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
        clean_message(err->message);
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
    clean_message(err->message);
}

/* Allocation counting/failure injection.  Relaxed atomics: the counters are
 * only meaningful in single-threaded tests, but must not be a data race. */
static _Atomic uint64_t alloc_count;
static _Atomic uint64_t alloc_fail_at; /* 0: never */

int
gpt_alloc_should_fail(void)
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
    if (gpt_alloc_should_fail())
        return NULL;
    return malloc(n ? n : 1);
}

void *
gpt_calloc(size_t n, size_t size)
{
    if (gpt_alloc_should_fail())
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}

void *
gpt_realloc(void *p, size_t n)
{
    if (gpt_alloc_should_fail())
        return NULL;
    return realloc(p, n ? n : 1);
}

GPT_API void
gpt_free(void *p)
{
    free(p);
}
