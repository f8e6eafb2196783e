#include "vmm/files.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int file_open(const char *path, int flags, mode_t mode, struct stat *st)
{
	int fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

int file_set_blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFLNK:
		return "a symbolic link";
	}
	return "an unknown kind of file";
}

int file_reopen_nonblocking(int fd)
{
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int flags = fcntl(fd, F_GETFL);
	if (flags < 0)
		return -errno;
	int rw = (flags & O_ACCMODE) == O_RDWR ? O_RDWR : O_WRONLY;
	int nfd = open(path, rw | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return nfd < 0 ? -errno : nfd;
}

void file_lock_holder(const struct stat *st, char *out, size_t outlen)
{
	/* /proc/locks: "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (pid, then the
	 * inode as hex major:minor:decimal inode); a blocked waiter's line has "->". */
	snprintf(out, outlen, "another process");
	FILE *f = fopen("/proc/locks", "re");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f)) {
		char kind[16], mode[16], access[16];
		int pid;
		unsigned int maj, min;
		uint64_t ino;
		if (strstr(line, "->") ||
		    sscanf(line, "%*d: %15s %15s %15s %d %x:%x:%" SCNu64, kind, mode, access, &pid, &maj, &min, &ino) != 7)
			continue;
		if (maj != major(st->st_dev) || min != minor(st->st_dev) || ino != (uint64_t)st->st_ino || pid <= 0)
			continue;
		char comm_path[64], comm[64] = "";
		snprintf(comm_path, sizeof(comm_path), "/proc/%d/comm", pid);
		FILE *c = fopen(comm_path, "re");
		if (c) {
			if (fgets(comm, sizeof(comm), c))
				comm[strcspn(comm, "\n")] = '\0';
			fclose(c);
		}
		if (comm[0])
			snprintf(out, outlen, "process %d (%s)", pid, comm);
		else
			snprintf(out, outlen, "process %d", pid);
		break;
	}
	fclose(f);
}
