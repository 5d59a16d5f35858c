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
 * - The tables that opening a model builds the same way, each rounded up
 *   to whole 2 MiB pages (gpt_mapped_round): the tokenizer's hash table
 *   and arrays (2 + 2 MiB for GPT-2) and, while it is built, the indexes
 *   of the vocabulary's and the merges' strings.  Even a populated 4 KiB
 *   page costs a trap to the host on its first write in these virtual
 *   machines, and these tables are written whole (each of the two saved
 *   about 2 ms of the 12 ms that opening the 124M model took).
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

size_t
gpt_mapped_round(size_t size)
{
    return (size + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
}

void
gpt_free_mapped(void *p, size_t size)
{
    if (p)
        munmap(p, size ? size : 1);
}

/* Maps every page of [p, p + size), a page-aligned mapping of ours. */
static void
populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
    (void)madvise(p, size, MADV_POPULATE_WRITE);
#else
    (void)p, (void)size;
#endif
}

