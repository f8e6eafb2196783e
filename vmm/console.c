#include "vmm/console.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
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

#include "vmm/byte_ring.h"
#include "vmm/clock.h"
#include "vmm/control.h"
#include "vmm/exit_status.h"
#include "vmm/files.h"
#include "vmm/log.h"

/* Byte-stream output (stdout, file:, unix:, unix-connect:). The lock covers the ring and
 * `discard`/`woken`; everything else belongs to the main loop. */
enum output_mode {
	OUT_WRITE, /* write(): our own non-blocking description, or a regular file */
	OUT_SEND,  /* send(MSG_DONTWAIT): a socket */
	OUT_GATED, /* a shared blocking fd we could not reopen: poll, then at most PIPE_BUF */
};

struct console_output {
	pthread_mutex_t lock;
	struct byte_ring ring;
	bool discard; /* no sink and nothing to keep output for: console_write drops at once */
	bool woken;   /* the main loop was woken and has not found the ring idle since */
	int wake_fd;  /* eventfd */
	/* Main loop only. */
	int fd;       /* -1: none (unix: without a client keeps the ring for the next one) */
	bool own_fd;  /* close it when done */
	bool keep;    /* no sink now, but keep output (unix:) */
	enum output_mode mode;
	uint8_t chunk[64 * 1024]; /* taken from the ring, partly written */
	size_t chunk_off, chunk_len;
	uint64_t lost_at_exit;
};

/* --serial unix:PATH: the listening socket. The client's socket is console.in_fd and the
 * output's fd at once. */
struct console_listener {
	int listen_fd;
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

/* Makes fd the output. A pipe, FIFO or terminal we did not open ourselves is shared with
 * other processes (the shell, make): it is written through a private non-blocking description
 * of it, so a reader that stops reading returns EAGAIN instead of stopping us, and the shared
 * flags stay as they are. */
static void output_set(struct console_output *o, int fd, bool own)
{
	struct stat st;
	o->fd = fd;
	o->own_fd = own;
	o->mode = OUT_WRITE;
	o->keep = false;
	if (fd < 0 || fstat(fd, &st) < 0)
		goto none;
	if (S_ISSOCK(st.st_mode)) {
		o->mode = OUT_SEND;
	} else if ((S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) && !(fcntl(fd, F_GETFL) & O_NONBLOCK)) {
		int nfd = file_reopen_nonblocking(fd);
		if (nfd == -ENXIO)
			goto none; /* a pipe nobody reads: as after EPIPE */
		if (nfd >= 0) {
			if (own)
				close(fd);
			o->fd = nfd;
			o->own_fd = true;
		} else {
			o->mode = OUT_GATED;
		}
	}
	pthread_mutex_lock(&o->lock);
	o->discard = false;
	pthread_mutex_unlock(&o->lock);
	return;
none:
	if (fd >= 0 && own)
		close(fd);
	o->fd = -1;
	o->own_fd = false;
	pthread_mutex_lock(&o->lock);
	o->discard = true;
	o->ring.head = o->ring.len = 0;
	pthread_mutex_unlock(&o->lock);
}

static void output_close_fd(struct console_output *o)
{
	if (o->fd >= 0 && o->own_fd)
		close(o->fd);
	o->fd = -1;
	o->own_fd = false;
}

int console_init(struct console *c, int in_fd, int out_fd)
{
	memset(c, 0, sizeof(*c));
	c->in_fd = in_fd;
	c->rx_ready_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->rx_ready_fd < 0)
		return -errno;
	struct console_output *o = calloc(1, sizeof(*o));
	if (!o || byte_ring_init(&o->ring, CONSOLE_BACKLOG_BYTES) < 0) {
		free(o);
		return -ENOMEM;
	}
	pthread_mutex_init(&o->lock, NULL);
	o->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->output = o;
	if (o->wake_fd < 0)
		return -errno;
	output_set(o, out_fd, false);
	if (in_fd < 0 || !isatty(in_fd))
		return 0;

	struct termios raw;
	if (tcgetattr(in_fd, &saved_termios) < 0)
		return -errno;
	saved_fd = in_fd;
	termios_saved = 1;
	atexit(console_restore);
	/* Crashes must not leave the user's shell in raw mode. (SIGQUIT is not one: it stops the
	 * VM like SIGTERM, through the main loop.) */
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		signal(fatal[i], fatal_signal_handler);

	raw = saved_termios;
	cfmakeraw(&raw);
	if (tcsetattr(in_fd, TCSANOW, &raw) < 0)
		return -errno;
	c->raw_tty = true;
	return 0;
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
	if (c->lines) {
		lines_write(c, buf, len);
		return;
	}
	struct console_output *o = c->output;
	if (!o)
		return;
	bool wake = false;
	pthread_mutex_lock(&o->lock);
	if (!o->discard) {
		byte_ring_put(&o->ring, buf, len);
		wake = !o->woken;
		o->woken = true;
	}
	pthread_mutex_unlock(&o->lock);
	uint64_t one = 1;
	if (wake && write(o->wake_fd, &one, sizeof(one)) < 0)
		return; /* counter saturated: a wakeup is pending anyway */
}

void console_put_byte(void *opaque, uint8_t byte)
{
	console_write(opaque, &byte, 1);
}

int console_output_wake_fd(const struct console *c)
{
	return c->output ? c->output->wake_fd : -1;
}

int console_output_fd(const struct console *c)
{
	return c->output ? c->output->fd : -1;
}

static ssize_t output_write(struct console_output *o, const uint8_t *buf, size_t len)
{
	switch (o->mode) {
	case OUT_SEND:
		return send(o->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	case OUT_GATED: {
		struct pollfd p = { .fd = o->fd, .events = POLLOUT };
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLOUT)) {
			errno = p.revents & (POLLERR | POLLHUP) ? EPIPE : EAGAIN;
			return -1;
		}
		/* With room reported, a pipe takes up to PIPE_BUF bytes without waiting. */
		return write(o->fd, buf, len < PIPE_BUF ? len : PIPE_BUF);
	}
	case OUT_WRITE:
		break;
	}
	return write(o->fd, buf, len);
}

/* The reader went away (EPIPE, a reset). A unix: client's output is kept for the next one;
 * any other sink is gone for good and the guest runs on without one. */
static void output_lost(struct console *c)
{
	struct console_output *o = c->output;
	if (c->listener) {
		o->fd = -1; /* the client socket is in_fd: the main loop closes it on EOF */
		o->own_fd = false;
		o->keep = true;
		return;
	}
	output_close_fd(o);
	pthread_mutex_lock(&o->lock);
	o->discard = true;
	o->ring.head = o->ring.len = 0;
	o->woken = false;
	pthread_mutex_unlock(&o->lock);
	o->chunk_off = o->chunk_len = 0;
}

bool console_drain(struct console *c)
{
	struct console_output *o = c->output;
	if (!o || o->fd < 0) /* nowhere to write: kept for a unix: client, or discarded */
		return false;
	for (;;) {
		if (o->chunk_off == o->chunk_len) {
			/* `woken` stays set: console_output_idle() clears it once a linger passed
			 * with nothing new, so a guest printing byte by byte wakes the loop once
			 * per linger, not once per byte. */
			pthread_mutex_lock(&o->lock);
			o->chunk_len = byte_ring_take(&o->ring, o->chunk, sizeof(o->chunk));
			pthread_mutex_unlock(&o->lock);
			o->chunk_off = 0;
			if (o->chunk_len == 0)
				return false;
		}
		ssize_t n = output_write(o, o->chunk + o->chunk_off, o->chunk_len - o->chunk_off);
		if (n > 0) {
			o->chunk_off += (size_t)n;
			c->out_bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		output_lost(c);
		return false;
	}
}

bool console_output_idle(struct console *c)
{
	struct console_output *o = c->output;
	if (!o)
		return true;
	pthread_mutex_lock(&o->lock);
	bool idle = o->ring.len == 0;
	if (idle)
		o->woken = false;
	pthread_mutex_unlock(&o->lock);
	return idle;
}

void console_flush(struct console *c)
{
	struct console_output *o = c->output;
	if (!o)
		return;
	uint64_t end = monotonic_ms() + CONSOLE_FLUSH_MAX_MS;
	while (console_drain(c)) {
		uint64_t now = monotonic_ms();
		struct pollfd p = { .fd = o->fd, .events = POLLOUT };
		int wait = now >= end ? 0 : end - now < CONSOLE_STALL_MS ? (int)(end - now) : CONSOLE_STALL_MS;
		if (wait == 0 || poll(&p, 1, wait) <= 0)
			break;
	}
	pthread_mutex_lock(&o->lock);
	o->lost_at_exit = o->ring.len + (o->chunk_len - o->chunk_off);
	pthread_mutex_unlock(&o->lock);
}

uint64_t console_dropped(const struct console *c)
{
	struct console_output *o = c->output;
	if (!o)
		return 0;
	pthread_mutex_lock(&o->lock);
	uint64_t n = o->ring.dropped + o->lost_at_exit;
	pthread_mutex_unlock(&o->lock);
	return n;
}

void console_print_stats(const struct console *c)
{
	fprintf(stderr, "stats: console written=%llu dropped=%llu\n", (unsigned long long)c->out_bytes,
		(unsigned long long)console_dropped(c));
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
	log_user("n90vmm: --serial '%s': %s", serial->path ? serial->path : "syslog", what);
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
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!l || fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		free(l);
		if (fd >= 0)
			close(fd);
		return sink_error(serial, strerror(e), EXIT_SETUP);
	}
	l->listen_fd = fd;
	snprintf(l->path, sizeof(l->path), "%s", serial->path);
	c->listener = l;
	c->socket_input = true;
	/* No client yet: output is kept (the backlog) for the first one. */
	output_set(c->output, -1, false);
	pthread_mutex_lock(&c->output->lock);
	c->output->discard = false;
	pthread_mutex_unlock(&c->output->lock);
	c->output->keep = true;
	return 0;
}

/* SIGINT, SIGTERM, SIGHUP or SIGQUIT arrived (they are blocked until the main loop reads
 * them): a wait during setup gives up. */
static bool stop_signal_pending(void)
{
	sigset_t pending;
	return sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1 ||
					     sigismember(&pending, SIGHUP) == 1 || sigismember(&pending, SIGQUIT) == 1);
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
	 * start after it); n90vmm gives up after 30 s, or at once on a stop signal, rather than
	 * hang. type=unix-stream connects once, as crosvm's UnixStream::connect does. */
	int tries = type == SOCK_DGRAM ? 3000 : 1;
	while (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		if (--tries == 0 || (errno != ENOENT && errno != ECONNREFUSED)) {
			int e = errno;
			close(fd);
			return sink_error(serial, strerror(e), EXIT_NO_INPUT);
		}
		if (stop_signal_pending()) {
			close(fd);
			return sink_error(serial, "stopped by a signal while waiting for the reader", EXIT_USER_QUIT);
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
	output_set(c->output, -1, false);
	return 0;
}

/* --serial file:PATH, appended as crosvm opens it. A FIFO works when a reader has it open
 * (written without blocking, like a pipe) and is refused otherwise: open(2) would wait for one. */
static int attach_file(struct console *c, const struct serial_config *serial)
{
	struct stat st;
	int fd = file_open(serial->path, O_WRONLY | O_CREAT | O_APPEND, 0644, &st);
	if (fd == -ENXIO && stat(serial->path, &st) == 0 && S_ISFIFO(st.st_mode))
		return sink_error(serial, "a FIFO nobody reads (n90vmm does not wait for a reader)", EXIT_NO_INPUT);
	if (fd == -ENXIO && stat(serial->path, &st) == 0 && S_ISSOCK(st.st_mode))
		return sink_error(serial, "a socket, not a file (unix-connect:PATH writes to one)", EXIT_NO_INPUT);
	if (fd < 0)
		return sink_error(serial, strerror(-fd), EXIT_NO_INPUT);
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		file_set_blocking(fd); /* never waits for a reader; see OUT_WRITE */
	output_set(c->output, fd, true);
	return 0;
}

int console_attach_sink(struct console *c, const struct serial_config *serial)
{
	int fd;
	switch (serial->kind) {
	case SERIAL_SINK_STDIO:
		return 0;
	case SERIAL_SINK_NONE:
		output_set(c->output, -1, false);
		return 0;
	case SERIAL_SINK_FILE:
		return attach_file(c, serial);
	case SERIAL_SINK_UNIX_LISTEN:
		return attach_listener(c, serial);
	case SERIAL_SINK_UNIX_CONNECT: {
		int status = connect_socket(serial, SOCK_STREAM, &fd);
		if (status)
			return status;
		/* Input and output on one socket; the output side owns it. */
		c->in_fd = fd;
		c->socket_input = true;
		output_set(c->output, fd, true);
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

const char *console_socket_path(const struct console *c)
{
	return c->listener ? c->listener->path : NULL;
}

int console_accept_client(struct console *c)
{
	struct console_listener *l = c->listener;
	int fd = accept4(l->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return -1;
	if (c->in_fd >= 0) {
		/* One client at a time: two readers would each see half the output. */
		static const char busy[] = "n90vmm: the console has a client already\n";
		if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			errno = 0;
		close(fd);
		return -1;
	}
	/* The backlog goes first: what was taken from the ring for a client that left is still
	 * in the chunk, then the ring in order. The main loop drains it from here. */
	struct console_output *o = c->output;
	o->fd = fd;
	o->own_fd = false; /* it is in_fd too: console_input_closed closes it */
	o->mode = OUT_SEND;
	o->keep = false;
	return fd;
}

void console_input_closed(struct console *c)
{
	if (!c->listener || c->in_fd < 0)
		return;
	struct console_output *o = c->output;
	if (o->fd == c->in_fd) {
		o->fd = -1;
		o->keep = true;
	}
	close(c->in_fd);
	c->in_fd = -1;
}

void console_detach_sink(struct console *c)
{
	if (c->listener) {
		/* The socket file stays until vmm/cleanup.c removes it (the sandbox has no unlink). */
		if (c->in_fd >= 0) {
			close(c->in_fd);
			c->in_fd = -1;
		}
		if (c->output && c->output->fd >= 0 && !c->output->own_fd)
			c->output->fd = -1;
		close(c->listener->listen_fd);
		free(c->listener);
		c->listener = NULL;
	}
	if (c->lines) {
		close(c->lines->fd);
		free(c->lines);
		c->lines = NULL;
	}
	struct console_output *o = c->output;
	if (o) {
		c->output = NULL;
		if (o->fd >= 0 && o->fd == c->in_fd)
			c->in_fd = -1; /* unix-connect: one socket, owned by the output */
		output_close_fd(o);
		if (o->wake_fd >= 0)
			close(o->wake_fd);
		byte_ring_free(&o->ring);
		free(o);
	}
	if (c->rx_ready_fd >= 0)
		close(c->rx_ready_fd);
	c->rx_ready_fd = -1;
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
