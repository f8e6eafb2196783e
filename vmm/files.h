/* Opening what the user names without ever waiting, and describing what was found there.
 * open(2) on a FIFO waits for the other end; n90vmm opens every path with O_NONBLOCK and
 * checks the type before using it, so nothing blocks before the timer and signals are live
 * (docs/reliability.md). */
#ifndef N90_FILES_H
#define N90_FILES_H

#include <stddef.h>
#include <sys/stat.h>

/* open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode) and fstat: the fd, or -errno.
 * The fd stays non-blocking; file_set_blocking() clears it where blocking I/O is wanted. */
int file_open(const char *path, int flags, mode_t mode, struct stat *st);
int file_set_blocking(int fd);
/* "a FIFO", "a directory", "a socket", "a character device", "a block device", "a regular
 * file", "a symbolic link" or "an unknown kind of file". */
const char *file_kind(mode_t mode);

/* A new, private open file description of the pipe, FIFO or terminal behind fd, non-blocking
 * (through /proc/self/fd): an inherited stdout/stderr is shared with other processes, so its
 * own flags must not change. The fd, or -errno (-ENXIO: a pipe nobody reads). */
int file_reopen_nonblocking(int fd);

/* "process 1234 (n90vmm)" for the process holding a lock on the file st describes, from
 * /proc/locks; "another process" when it cannot be told. */
void file_lock_holder(const struct stat *st, char *out, size_t outlen);

#endif
