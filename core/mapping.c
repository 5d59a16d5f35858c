/*
 * mapping.c - memory the core maps itself.
 *
 * Why it matters: a fresh 4 KiB page costs a trap on first touch, about
 * 2 us on bare metal and 12 us in the virtual machines we measured.  A new
 * PostgreSQL backend or sqlite3 process pays that for every page of the
 * weights it reads and of the buffers it writes, so these are mapped so
 * that few traps cover them:
 *
 * - Model files at an address that is a multiple of 2 MiB, with
 *   MADV_HUGEPAGE.  When the page cache holds the file in 2 MiB folios, a
 *   mapping whose address and file offset agree modulo 2 MiB gets a whole
 *   folio per fault (a 124M Q8_0 file in about 2 ms instead of 70);
 *   MADV_HUGEPAGE makes the first read of the file (readahead through this
 *   mapping) allocate such folios.
 * - Large scratch buffers and KV caches likewise aligned and advised, then
 *   mapped whole by one madvise(MADV_POPULATE_WRITE) (Linux 5.14): 16 MiB
 *   in about 1 ms instead of 50 (12 us x 4096 faults).
 * - The tables that opening a model builds (the tokenizer's, ~4 MB) are
 *   malloc'd as usual, then their pages mapped by the same madvise.
 *
 * All of it is a hint: where the kernel lacks huge pages or
 * MADV_POPULATE_WRITE, these are plain mappings that fault in as usual.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "mapping.h"

#define HUGE_ALIGN ((size_t)2 << 20)
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif

static void populate(void *p, size_t size);

static size_t
page_round(size_t n)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

/* mmap(NULL, size, prot, flags, fd, 0), but when size is at least 2 MiB
 * at a 2 MiB boundary (reserve size + 2 MiB of address space, map at its
 * first boundary, give the rest back) and with MADV_HUGEPAGE. */
static void *
map_huge(size_t size, int prot, int flags, int fd)
{
    size_t len = size + HUGE_ALIGN, head, tail;
    char *res, *p;

    if (size < HUGE_ALIGN)
        return mmap(NULL, size, prot, flags, fd, 0);
    res = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED)
        return mmap(NULL, size, prot, flags, fd, 0);
    p = (char *)(((uintptr_t)res + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (mmap(p, size, prot, flags | MAP_FIXED, fd, 0) == MAP_FAILED) {
        munmap(res, len);
        return MAP_FAILED;
    }
    head = (size_t)(p - res);
    tail = head + page_round(size);
    if (head)
        munmap(res, head);
    if (tail < len)
        munmap(res + tail, len - tail);
#ifdef MADV_HUGEPAGE
    (void)madvise(p, size, MADV_HUGEPAGE);
#endif
    return p;
}

void *
gpt_map_aligned(int fd, size_t size)
{
    return map_huge(size, PROT_READ, MAP_SHARED, fd);
}

void *
gpt_alloc_mapped(size_t size)
{
    void *p;

    if (gpt_alloc_should_fail())
        return NULL;
    p = map_huge(size ? size : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    if (p == MAP_FAILED)
        return NULL;
    populate(p, page_round(size ? size : 1));
    return p;
}

void
gpt_free_mapped(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}

/* Maps the pages of [p, p + size) not mapped yet, those wholly inside it
 * (its first and last may be shared with other allocations). */
static void
populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t b = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t e = ((uintptr_t)p + size) & ~(uintptr_t)(page - 1);

    if (e > b)
        (void)madvise((void *)b, e - b, MADV_POPULATE_WRITE);
#else
    (void)p, (void)size;
#endif
}

void *
gpt_malloc_whole(size_t size)
{
    void *p = gpt_malloc(size);

    if (p && size >= ((size_t)64 << 10))
        populate(p, size);
    return p;
}
