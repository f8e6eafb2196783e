#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "vmm/control.h"
#include "vmm/exit_status.h"
#include "vmm/sandbox.h"

/* --serial unix:PATH. Output is written by whichever thread runs the console device (vCPU,
 * I/O) while the main thread accepts and drops clients: the lock orders the two, so the
 * backlog reaches a new client before anything written after it. */
struct console_listener {
	pthread_mutex_t lock;
	int listen_fd;
	int client_fd; /* output goes here when >= 0; owned by the main loop (it closes it) */
	uint8_t *ring;
	size_t head, len; /* the oldest byte is ring[head] */
	uint64_t dropped;
	char path[108];
};

/* --serial unix-dgram:PATH and syslog: one message per line, prefix first (syslog's
 * "<PRI>tag: "), CR before LF dropped, as crosvm's datagram serial does. */
struct console_lines {
	pthread_mutex_t lock;
	int fd;
	size_t prefix_len, len;
	char buf[32 + CONSOLE_LINE_MAX];
};

/* Saved terminal state lives in statics so a signal handler can restore it. */
static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;
static int saved_fd = -1;

void console_restore(void)
{
	if (termios_saved) {
		tcsetattr(saved_fd, TCSAFLUSH, &saved_termios);
		termios_saved = 0;
	}
}

static void fatal_signal_handler(int sig)
{
	console_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

int console_init(struct console *c, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->out_fd = out_fd;
	c->rx_ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->rx_ready_fd < 0)
		return -errno;
	if (in_fd < 0 || !isatty(in_fd))
		return 0;

	struct termios raw;
	if (tcgetattr(in_fd, &saved_termios) < 0)
		return -errno;
	saved_fd = in_fd;
	termios_saved = 1;
	atexit(console_restore);
	/* Crashes must not leave the user's shell in raw mode. */
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGQUIT };
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal_handler);

	raw = saved_termios;
	cfmakeraw(&raw);
	if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
		return -errno;
	c->raw_tty = true;
	return 0;
}

/* Writes all of buf to a blocking fd; false when the reader is gone. */
static bool write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

static void backlog_append(struct console_listener *l, const uint8_t *buf, size_t len)
{
	if (len >= CONSOLE_BACKLOG_BYTES) { /* only the newest CONSOLE_BACKLOG_BYTES survive */
		l->dropped += l->len + (len - CONSOLE_BACKLOG_BYTES);
		buf += len - CONSOLE_BACKLOG_BYTES;
		len = CONSOLE_BACKLOG_BYTES;
		l->head = l->len = 0;
	}
	size_t over = l->len + len > CONSOLE_BACKLOG_BYTES ? l->len + len - CONSOLE_BACKLOG_BYTES : 0;
	l->head = (l->head + over) % CONSOLE_BACKLOG_BYTES;
	l->len -= over;
	l->dropped += over;
	size_t tail = (l->head + l->len) % CONSOLE_BACKLOG_BYTES;
	size_t first = len < CONSOLE_BACKLOG_BYTES - tail ? len : CONSOLE_BACKLOG_BYTES - tail;
	memcpy(l->ring + tail, buf, first);
	memcpy(l->ring, buf + first, len - first);
	l->len += len;
}

static void listener_write(struct console *c, const uint8_t *buf, size_t len)
{
	struct console_listener *l = c->listener;
	pthread_mutex_lock(&l->lock);
	if (l->client_fd >= 0 && write_all(l->client_fd, buf, len))
		c->out_bytes += len;
	else {
		/* No client, or it stopped reading: keep the output for the next one. The main
		 * loop closes the dead client when its read side reports EOF. */
		l->client_fd = -1;
		backlog_append(l, buf, len);
	}
	pthread_mutex_unlock(&l->lock);
}

static void lines_send(struct console_lines *k)
{
	size_t n = k->len;
	if (n > k->prefix_len && k->buf[n - 1] == '\r')
		n--;
	/* A datagram nobody receives (the reader restarted) is lost, as with crosvm. */
	if (send(k->fd, k->buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		errno = 0;
	k->len = k->prefix_len;
}

static void lines_write(struct console *c, const uint8_t *buf, size_t len)
{
	struct console_lines *k = c->lines;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			lines_send(k);
			continue;
		}
		k->buf[k->len++] = (char)buf[i];
		if (k->len - k->prefix_len == CONSOLE_LINE_MAX)
			lines_send(k);
	}
	c->out_bytes += len;
	pthread_mutex_unlock(&k->lock);
}

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	if (c->tap)
		c->tap(c->tap_opaque, buf, len);
	if (c->listener) {
		listener_write(c, buf, len);
		return;
	}
	if (c->lines) {
		lines_write(c, buf, len);
		return;
	}
	while (len && c->out_fd >= 0) {
		ssize_t n = write(c->out_fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EPIPE or similar: nobody reads the console any more. The guest runs on. */
			c->out_fd = -1;
			return;
		}
		buf += n;
		len -= (size_t)n;
		c->out_bytes += (uint64_t)n;
	}
}

void console_put_byte(void *opaque, uint8_t byte)
{
	console_write(opaque, &byte, 1);
}

void console_rx_ready(void *opaque)
{
	struct console *c = opaque;
	uint64_t one = 1;
	if (write(c->rx_ready_fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: a wakeup is pending anyway */
}

bool console_sink_has_input(const struct serial_config *serial)
{
	return serial->kind == SERIAL_SINK_UNIX_LISTEN || serial->kind == SERIAL_SINK_UNIX_CONNECT;
}

static int unix_address(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	strcpy(addr->sun_path, path);
	return 0;
}

static int sink_error(const struct serial_config *serial, const char *what, int status)
{
	fprintf(stderr, "n90vmm: --serial '%s': %s\n", serial->path ? serial->path : "syslog", what);
	return status;
}

static int attach_listener(struct console *c, const struct serial_config *serial)
{
	struct sockaddr_un addr;
	struct stat st;
	if (unix_address(serial->path, &addr))
		return sink_error(serial, "socket path too long", EXIT_USAGE);
	/* A socket file left by an earlier run is replaced; any other file is not ours. */
	if (lstat(serial->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return sink_error(serial, "exists and is not a socket", EXIT_USAGE);
		if (control_socket_in_use(serial->path))
			return sink_error(serial, "another program is listening there", EXIT_USAGE);
		unlink(serial->path);
	}
	struct console_listener *l = calloc(1, sizeof(*l));
	uint8_t *ring = malloc(CONSOLE_BACKLOG_BYTES);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!l || !ring || fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		free(l);
		free(ring);
		if (fd >= 0)
			close(fd);
		return sink_error(serial, strerror(e), EXIT_SETUP);
	}
	pthread_mutex_init(&l->lock, NULL);
	l->listen_fd = fd;
	l->client_fd = -1;
	l->ring = ring;
	snprintf(l->path, sizeof(l->path), "%s", serial->path);
	c->listener = l;
	c->socket_input = true;
	c->out_fd = -1;
	return 0;
}

static int connect_socket(const struct serial_config *serial, int type, int *fd_out)
{
	struct sockaddr_un addr;
	if (unix_address(serial->path, &addr))
		return sink_error(serial, "socket path too long", EXIT_USAGE);
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return sink_error(serial, strerror(errno), EXIT_SETUP);
	/* crosvm's type=unix waits for the reader to appear (10 ms steps, vmlog_forwarder may
	 * start after it); n90vmm gives up after 30 s rather than hang. type=unix-stream
	 * connects once, as crosvm's UnixStream::connect does. */
	int tries = type == SOCK_DGRAM ? 3000 : 1;
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (--tries == 0 || (errno != ENOENT && errno != ECONNREFUSED)) {
			int e = errno;
			close(fd);
			return sink_error(serial, strerror(e), EXIT_NO_INPUT);
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	*fd_out = fd;
	return 0;
}

static int attach_lines(struct console *c, const struct serial_config *serial)
{
	static const struct serial_config syslog_socket = { SERIAL_SINK_UNIX_DGRAM, "/dev/log" };
	bool syslog = serial->kind == SERIAL_SINK_SYSLOG;
	int fd, status = connect_socket(syslog ? &syslog_socket : serial, SOCK_DGRAM, &fd);
	if (status)
		return status;
	struct console_lines *k = calloc(1, sizeof(*k));
	if (!k) {
		close(fd);
		return sink_error(serial, "out of memory", EXIT_SETUP);
	}
	pthread_mutex_init(&k->lock, NULL);
	k->fd = fd;
	/* LOG_DAEMON | LOG_INFO, crosvm's facility and level for guest output. */
	if (syslog)
		k->prefix_len = (size_t)snprintf(k->buf, 32, "<30>n90vmm[%d]: ", (int)getpid());
	k->len = k->prefix_len;
	c->lines = k;
	c->out_fd = -1;
	return 0;
}

int console_attach_sink(struct console *c, const struct serial_config *serial)
{
	int fd;
	switch (serial->kind) {
	case SERIAL_SINK_STDIO:
		return 0;
	case SERIAL_SINK_NONE:
		c->out_fd = -1;
		return 0;
	case SERIAL_SINK_FILE:
		/* Appended, as crosvm opens it. */
		fd = open(serial->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0)
			return sink_error(serial, strerror(errno), EXIT_NO_INPUT);
		c->out_fd = fd;
		return 0;
	case SERIAL_SINK_UNIX_LISTEN:
		return attach_listener(c, serial);
	case SERIAL_SINK_UNIX_CONNECT: {
		int status = connect_socket(serial, SOCK_STREAM, &fd);
		if (status)
			return status;
		c->out_fd = c->in_fd = fd;
		c->socket_input = true;
		return 0;
	}
	case SERIAL_SINK_UNIX_DGRAM:
	case SERIAL_SINK_SYSLOG:
		return attach_lines(c, serial);
	}
	return sink_error(serial, "unknown sink", EXIT_USAGE);
}

int console_listen_fd(const struct console *c)
{
	return c->listener ? c->listener->listen_fd : -1;
}

int console_accept_client(struct console *c)
{
	struct console_listener *l = c->listener;
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return -1;
	if (c->in_fd >= 0) {
		/* One client at a time: two readers would each see half the output. */
		static const char busy[] = "n90vmm: the console has a client already\n";
		if (write(fd, busy, sizeof(busy) - 1) < 0)
			errno = 0;
		close(fd);
		return -1;
	}
	pthread_mutex_lock(&l->lock);
	size_t first = l->len < CONSOLE_BACKLOG_BYTES - l->head ? l->len : CONSOLE_BACKLOG_BYTES - l->head;
	if (write_all(fd, l->ring + l->head, first) && write_all(fd, l->ring, l->len - first)) {
		c->out_bytes += l->len;
		l->head = l->len = 0;
		l->client_fd = fd;
	}
	pthread_mutex_unlock(&l->lock);
	return fd;
}

void console_input_closed(struct console *c)
{
	struct console_listener *l = c->listener;
	if (!l || c->in_fd < 0)
		return;
	pthread_mutex_lock(&l->lock);
	l->client_fd = -1;
	pthread_mutex_unlock(&l->lock);
	close(c->in_fd);
	c->in_fd = -1;
}

uint64_t console_backlog_dropped(const struct console *c)
{
	return c->listener ? c->listener->dropped : 0;
}

void console_detach_sink(struct console *c)
{
	if (c->listener) {
		struct console_listener *l = c->listener;
		c->listener = NULL;
		if (l->client_fd >= 0 && l->client_fd != c->in_fd)
			close(l->client_fd);
		close(l->listen_fd);
		/* The sandbox has no unlink (it takes a path); a file left behind is replaced by
		 * the next run. */
		if (sandbox_mode == SANDBOX_OFF)
			unlink(l->path);
		free(l->ring);
		free(l);
	}
	if (c->lines) {
		close(c->lines->fd);
		free(c->lines);
		c->lines = NULL;
	}
}

size_t console_filter_input(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit)
{
	size_t n = 0;
	*quit = false;
	if (!c->raw_tty) {
		memcpy(out, in, len);
		return len;
	}
	for (size_t i = 0; i < len; i++) {
		uint8_t ch = in[i];
		if (c->escape_pending) {
			c->escape_pending = false;
			if (ch == CONSOLE_QUIT_CHAR) {
				*quit = true;
				return n;
			}
			if (ch != CONSOLE_ESCAPE_CHAR)
				out[n++] = CONSOLE_ESCAPE_CHAR; /* not a command: pass both through */
			out[n++] = ch;
		} else if (ch == CONSOLE_ESCAPE_CHAR) {
			c->escape_pending = true;
		} else {
			out[n++] = ch;
		}
	}
	return n;
}
