#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <unistd.h>

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

void console_write(struct console *c, const uint8_t *buf, size_t len)
{
	if (c->tap)
		c->tap(c->tap_opaque, buf, len);
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
