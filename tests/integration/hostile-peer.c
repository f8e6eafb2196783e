/*
 * hostile-peer: the other end of n90vmm's pipes and sockets, behaving badly on purpose
 * (tests/integration/hostile-host.sh). A shell cannot shrink a pipe, hold a unix socket
 * open without reading it, or answer a control request with binary junk; this does.
 *
 * usage:
 *   hostile-peer stall SECONDS            stdin (a pipe) shrunk to one page, never read
 *   hostile-peer stall-fifo PATH SECONDS  opens the FIFO for reading, shrinks it, never reads;
 *                                         prints "ready" once open
 *   hostile-peer connect PATH SECONDS     connects to the unix socket (waiting up to 10 s for
 *                                         it to appear), then neither reads nor writes
 *   hostile-peer serve PATH close|junk SECONDS
 *                                         listens on PATH; every client is closed at once
 *                                         without a read (close) or sent 50 kB of every
 *                                         byte value, newlines and escapes included (junk)
 * Each sleeps SECONDS (or serves that long), then exits 0; 2 on a usage or setup error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what)
{
	fprintf(stderr, "hostile-peer: %s: %s\n", what, strerror(errno));
	return 2;
}

static void address(const char *path, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s", path);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "stall") == 0) {
		fcntl(0, F_SETPIPE_SZ, 4096); /* the smallest pipe: full after one page */
		sleep((unsigned)atoi(argv[2]));
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "stall-fifo") == 0) {
		int fd = open(argv[2], O_RDONLY | O_NONBLOCK);
		if (fd < 0)
			return fail(argv[2]);
		fcntl(fd, F_SETPIPE_SZ, 4096);
		printf("ready\n");
		fflush(stdout);
		sleep((unsigned)atoi(argv[3]));
		return 0;
	}
	if (argc == 4 && strcmp(argv[1], "connect") == 0) {
		struct sockaddr_un a;
		address(argv[2], &a);
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			return fail("socket");
		double end = now() + 10;
		while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			if (now() > end)
				return fail(argv[2]);
			usleep(20000);
		}
		sleep((unsigned)atoi(argv[3]));
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "serve") == 0) {
		struct sockaddr_un a;
		address(argv[2], &a);
		unlink(argv[2]);
		int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 64) < 0)
			return fail(argv[2]);
		bool junk = strcmp(argv[3], "junk") == 0;
		static char blob[50000];
		for (size_t i = 0; i < sizeof(blob); i++)
			blob[i] = (char)(1 + i % 255); /* control bytes first, newline at 10; no NUL */
		double end = now() + atoi(argv[4]);
		for (;;) {
			double left = end - now();
			struct pollfd p = { .fd = lfd, .events = POLLIN };
			if (left <= 0 || poll(&p, 1, (int)(left * 1000)) <= 0)
				break;
			int c = accept(lfd, NULL, NULL);
			if (c < 0)
				continue;
			if (junk && send(c, blob, sizeof(blob), MSG_NOSIGNAL) < 0)
				errno = 0;
			close(c);
		}
		close(lfd);
		unlink(argv[2]);
		return 0;
	}
	fprintf(stderr, "usage: hostile-peer stall SEC | stall-fifo PATH SEC | connect PATH SEC | "
			"serve PATH close|junk SEC\n");
	return 2;
}
