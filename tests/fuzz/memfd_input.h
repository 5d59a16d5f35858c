/*
 * memfd_input.h - the fuzz input as a file, for targets whose code under
 * test opens a path: one memfd per process, created once and refilled for
 * each input, named /proc/self/fd/N (no disk is touched).
 */
#ifndef GPT_FUZZ_MEMFD_INPUT_H
#define GPT_FUZZ_MEMFD_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct memfd_input {
    int fd;
    char path[64];
} memfd_input;

static void
memfd_input_open(memfd_input *m, const char *name)
{
    m->fd = memfd_create(name, MFD_CLOEXEC);
    if (m->fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(m->path, sizeof m->path, "/proc/self/fd/%d", m->fd);
}

/* The file's contents become data[0, size). */
static void
memfd_input_set(const memfd_input *m, const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (ftruncate(m->fd, 0) != 0)
        abort();
    while (done < size) {
        ssize_t w = pwrite(m->fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
}

#endif
