/*
 * internal.h - helpers shared by the core's source files (not installed).
 */
#ifndef GPT_INTERNAL_H
#define GPT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

#define GPT_INTERNAL __attribute__((visibility("hidden")))
#define GPT_API __attribute__((visibility("default")))

/* Sets err (may be NULL) to code and a printf-style message; returns code. */
gpt_status gpt_set_error(gpt_error *err, gpt_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err's message with "prefix: " (used to add the file name). */
void gpt_error_prefix(gpt_error *err, const char *prefix);

/* All core allocations go through these so that tests can make the Nth one
 * fail.  They return NULL on failure (and for size 0 they return a valid
 * pointer). gpt_free() releases them. */
void *gpt_malloc(size_t n);
void *gpt_calloc(size_t n, size_t size);
void *gpt_realloc(void *p, size_t n);

/* Allocation-failure injection for tests: the nth allocation from now fails
 * (1 = the next one); 0 turns it off.  Returns the number of allocations made
 * since the last call. */
uint64_t gpt_alloc_fail_after(uint64_t nth);
/* Counts an allocation; 1 when it is the one to fail (for allocators
 * outside error.c, such as gpt_alloc_mapped). */
int gpt_alloc_should_fail(void);

#endif
