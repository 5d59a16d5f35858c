/*
 * maptouch.c - the floor under the attach cost, for `make bench`: a new
 * process maps a model file read-only and shared, as gpt_model_open does,
 * and reads one byte of every 4 KiB page, as the first forward pass does.
 * The file is in the page cache, so this times only the page-table work a
 * fresh process must do before it can read shared weights (on a virtual
 * machine with shadow or nested paging, every fault costs an exit).  It maps
 * the file with gpt_model_open's own gpt_map_aligned (a 2 MiB boundary,
 * MADV_HUGEPAGE), so where the page cache holds the file in 2 MiB folios it
 * takes one fault per folio, not per 4 KiB page; pmd_kib says how much was
 * mapped that way.
 * Prints JSON: {"bytes": N, "pages": P, "touch_ms": T, "pmd_kib": K}.
 *
 *   maptouch FILE
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapping.h"

/* FilePmdMapped of /proc/self/smaps_rollup: file pages mapped 2 MiB at a
 * time; -1 where the kernel does not say. */
static long
pmd_mapped_kib(void)
{
    char line[256];
    long kib = -1;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");

    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "FilePmdMapped: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int
main(int argc, char **argv)
{
    struct stat st;
    struct timespec t0, t1;
    const volatile unsigned char *p;
    unsigned long sum = 0;
    size_t i;
    int fd;

    if (argc != 2) {
        fprintf(stderr, "usage: maptouch FILE\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
        perror(argv[1]);
        return 1;
    }
    p = gpt_map_aligned(fd, (size_t)st.st_size);
    if (p == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    /* a first pass outside the timing would be wrong: it is the first
     * touch in this process that costs; the file itself is already cached
     * by the runs before */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < (size_t)st.st_size; i += 4096)
        sum += p[i];
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("{\"bytes\": %lld, \"pages\": %zu, \"touch_ms\": %.3f, "
           "\"pmd_kib\": %ld, \"checksum\": %lu}\n", (long long)st.st_size,
           ((size_t)st.st_size + 4095) / 4096,
           (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
               (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6,
           pmd_mapped_kib(), sum);
    return 0;
}
