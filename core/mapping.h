/*
 * mapping.h - memory the core maps itself: model files at a 2 MiB
 * boundary, and large zeroed buffers whose pages are mapped up front.
 */
#ifndef GPT_MAPPING_H
#define GPT_MAPPING_H

#include <stddef.h>

/* Maps size bytes of fd read-only and shared at a 2 MiB boundary, asking
 * for huge pages (mapping.c says why); MAP_FAILED on failure.  Also used
 * by bench/maptouch.c, which times a new process mapping a model this way. */
void *gpt_map_aligned(int fd, size_t size);

/* size bytes of zeroed, writable memory with every page already mapped,
 * in 2 MiB pages where the kernel has them; NULL on failure (and when the
 * test hook of gpt_alloc_fail_after says so).  Release with
 * gpt_free_mapped(p, size). */
void *gpt_alloc_mapped(size_t size);
void gpt_free_mapped(void *p, size_t size);

/* gpt_malloc for a buffer about to be written whole (a table being
 * built): its pages are mapped in one call rather than one trap each.
 * Release with gpt_free. */
void *gpt_malloc_whole(size_t size);

#endif
