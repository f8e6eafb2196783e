#include "vmm/control.h"

#include <errno.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/log.h"

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
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 16) < 0) {
		int e = errno;
		snprintf(err, errlen, "--socket '%s': %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	snprintf(bound, boundlen, "%s", path);
	return fd;
}

void control_server_init(struct control_server *s, int listen_fd)
{
	memset(s, 0, sizeof(*s));
	s->listen_fd = listen_fd;
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
}

static void reply(int fd, const char *text)
{
	/* Non-blocking and without SIGPIPE: a client that stopped reading, or left, loses the
	 * reply; the request still counts. */
	if (send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return;
}

static void client_close(struct control_client *c)
{
	close(c->fd); /* also leaves the main loop's epoll set */
	c->fd = -1;
	c->len = 0;
}

int control_server_accept(struct control_server *s, uint64_t now_ms)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &s->clients[i];
		if (c->fd < 0) {
			c->fd = fd;
			c->len = 0;
			c->deadline_ms = now_ms + CONTROL_CLIENT_DEADLINE_MS;
			return (int)i;
		}
	}
	reply(fd, "error busy\n");
	close(fd);
	return -2;
}

enum control_request control_parse_request(const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	return len == 4 && memcmp(line, "stop", 4) == 0 ? CONTROL_STOP : CONTROL_INVALID;
}

enum control_request control_server_serve(struct control_server *s, unsigned int slot)
{
	if (slot >= CONTROL_MAX_CLIENTS || s->clients[slot].fd < 0)
		return CONTROL_NONE;
	struct control_client *c = &s->clients[slot];
	ssize_t n = read(c->fd, c->buf + c->len, CONTROL_REQUEST_MAX - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return CONTROL_NONE;
	if (n <= 0) {
		client_close(c);
		return CONTROL_CLOSED;
	}
	c->len += (size_t)n;
	char *nl = memchr(c->buf, '\n', c->len);
	enum control_request r;
	if (!nl) {
		if (c->len < CONTROL_REQUEST_MAX)
			return CONTROL_NONE;
		reply(c->fd, "error request too long\n");
		r = CONTROL_INVALID;
	} else {
		r = control_parse_request(c->buf, (size_t)(nl - c->buf));
		reply(c->fd, r == CONTROL_STOP ? "ok\n" : "error unknown request\n");
	}
	client_close(c);
	return r;
}

int control_server_expire(struct control_server *s, uint64_t now_ms)
{
	int next = -1;
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &s->clients[i];
		if (c->fd < 0)
			continue;
		if (now_ms >= c->deadline_ms) {
			reply(c->fd, "error timeout\n");
			client_close(c);
			continue;
		}
		int left = (int)(c->deadline_ms - now_ms);
		if (next < 0 || left < next)
			next = left;
	}
	return next;
}

void control_server_close(struct control_server *s)
{
	for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
		if (s->clients[i].fd >= 0)
			client_close(&s->clients[i]);
}

/* One connection: sends "stop", reads one line into answer (until `deadline`). Returns the
 * answer's length (0: none), or -errno when the VM could not be reached. */
static int stop_once(const struct sockaddr_un *addr, char *answer, size_t answerlen, uint64_t deadline)
{
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	/* A server that answered and closed first (busy) makes this fail with EPIPE: its answer
	 * is still there to read. */
	if (send(fd, "stop\n", 5, MSG_NOSIGNAL) < 0)
		errno = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (got < answerlen - 1 && !memchr(answer, '\n', got)) {
		uint64_t now = monotonic_ms();
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) <= 0)
			break;
		ssize_t n = read(fd, answer + got, answerlen - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	answer[got] = '\0';
	return (int)got;
}

int control_send_stop(const char *path)
{
	struct sockaddr_un addr;
	char answer[CONTROL_REQUEST_MAX];

	if (make_address(path, &addr)) {
		log_user("n90vmm stop: socket path '%s' is longer than %zu bytes", path, sizeof(addr.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	/* The VM answers at once from its main loop: 10 s without an answer means it is wedged.
	 * A busy server (every client slot taken) frees one within a second: try again for 3 s. */
	uint64_t start = monotonic_ms();
	int len;
	for (;;) {
		len = stop_once(&addr, answer, sizeof(answer), monotonic_ms() + 10000);
		if (len < 0) {
			log_user("n90vmm stop: cannot reach a VM at '%s': %s", path, strerror(-len));
			return len;
		}
		if (strcmp(answer, "ok\n") == 0)
			return 0;
		if (strcmp(answer, "error busy\n") != 0 || monotonic_ms() - start > 3000)
			break;
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000 * 1000 }, NULL);
	}
	if (len == 0) {
		log_user("n90vmm stop: '%s' closed the connection without answering", path);
		return -EPROTO;
	}
	/* Whatever the server sent, NUL bytes included, is shown escaped: one line. */
	char *nl = memchr(answer, '\n', (size_t)len);
	char shown[4 * CONTROL_REQUEST_MAX + 4];
	log_escape(shown, sizeof(shown), answer, nl ? (size_t)(nl - answer) : (size_t)len);
	log_user("n90vmm stop: '%s' answered '%s', not 'ok'", path, shown);
	return -EPROTO;
}
