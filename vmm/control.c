#include "vmm/control.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int make_address(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

/* Whether a socket file at addr has a listener behind it. */
static bool socket_alive(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	bool alive = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return alive;
}

bool control_socket_in_use(const char *path)
{
	struct sockaddr_un addr;
	return make_address(path, &addr) == 0 && socket_alive(&addr);
}

int control_listen(const char *path, char *bound, size_t boundlen, char *err, size_t errlen)
{
	struct sockaddr_un addr;
	struct stat st;
	char dir_path[sizeof(addr.sun_path) + 32];

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(dir_path, sizeof(dir_path), "%s/crosvm-%d.sock", path, (int)getpid());
		path = dir_path;
	}
	if (make_address(path, &addr)) {
		snprintf(err, errlen, "--socket '%s': path longer than %zu bytes", path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode) || socket_alive(&addr)) {
			snprintf(err, errlen, "--socket '%s': %s", path,
				 S_ISSOCK(st.st_mode) ? "another VM is listening there" : "exists and is not a socket");
			return -EEXIST;
		}
		unlink(path); /* left behind by a VM that was killed */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4) < 0) {
		int e = errno;
		snprintf(err, errlen, "--socket '%s': %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	snprintf(bound, boundlen, "%s", path);
	return fd;
}

int control_accept(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	return fd < 0 ? -1 : fd;
}

enum control_request control_parse_request(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == 4 && memcmp(line, "stop", 4) == 0 ? CONTROL_STOP : CONTROL_INVALID;
}

static void reply(int fd, const char *text)
{
	/* A client that stopped reading loses the reply; the request still counts. */
	if (write(fd, text, strlen(text)) < 0)
		return;
}

void control_refuse_busy(int fd)
{
	reply(fd, "error busy\n");
	close(fd);
}

enum control_request control_serve(int fd, char *buf, size_t *len)
{
	ssize_t n = read(fd, buf + *len, CONTROL_REQUEST_MAX - *len);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? CONTROL_NONE : CONTROL_CLOSED;
	if (n == 0)
		return CONTROL_CLOSED;
	*len += (size_t)n;
	char *nl = memchr(buf, '\n', *len);
	if (!nl) {
		if (*len < CONTROL_REQUEST_MAX)
			return CONTROL_NONE;
		reply(fd, "error request too long\n");
		return CONTROL_INVALID;
	}
	enum control_request r = control_parse_request(buf, (size_t)(nl - buf));
	reply(fd, r == CONTROL_STOP ? "ok\n" : "error unknown request\n");
	return r;
}

int control_send_stop(const char *path)
{
	struct sockaddr_un addr;
	char answer[CONTROL_REQUEST_MAX];
	size_t got = 0;

	if (make_address(path, &addr)) {
		fprintf(stderr, "n90vmm stop: socket path '%s' is too long\n", path);
		return -ENAMETOOLONG;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;
		fprintf(stderr, "n90vmm stop: cannot reach a VM at '%s': %s\n", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (write(fd, "stop\n", 5) != 5) {
		int e = errno;
		fprintf(stderr, "n90vmm stop: '%s': %s\n", path, strerror(e));
		close(fd);
		return -e;
	}
	/* The VM answers at once from its main loop; 10 s means it is wedged. */
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (got < sizeof(answer) - 1 && !memchr(answer, '\n', got) && poll(&p, 1, 10000) > 0) {
		ssize_t n = read(fd, answer + got, sizeof(answer) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	answer[got] = '\0';
	if (strcmp(answer, "ok\n") != 0) {
		answer[strcspn(answer, "\n")] = '\0';
		fprintf(stderr, "n90vmm stop: '%s' answered '%s', not 'ok'\n", path, answer);
		return -EPROTO;
	}
	return 0;
}
