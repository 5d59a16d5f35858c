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
/* size rounded up to whole 2 MiB pages: a table of a few hundred KiB that
 * is written whole gets one huge page instead of a 4 KiB page (and, on a
 * virtual machine, a trap to the host) per 4 KiB. */
size_t gpt_mapped_round(size_t size);

#endif
