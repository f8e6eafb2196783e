/* The user's terminal: guest console output to stdout, stdin to the guest. A terminal on
 * stdin is put in raw mode (so Ctrl-C reaches the guest) and restored on every way out,
 * including fatal signals. Escape: Ctrl-A then x quits; Ctrl-A Ctrl-A sends one Ctrl-A. */
#ifndef N90_CONSOLE_H
#define N90_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */
/* --serial unix:PATH keeps at most this much output for a client yet to connect; beyond it
 * the oldest bytes go (and are counted). */
#define CONSOLE_BACKLOG_BYTES (1u << 20)
/* Datagram and syslog sinks send one line per message; a longer line is cut here (crosvm's
 * serial WriteSocket uses the same 1 KiB). */
#define CONSOLE_LINE_MAX 1024

struct console_listener;
struct console_lines;
#define CONSOLE_QUIT_CHAR 'x'

struct console {
	int in_fd;  /* -1 when input is disabled or at EOF */
	int out_fd;
	bool raw_tty;
	bool escape_pending;
	int rx_ready_fd; /* eventfd: the guest's receive FIFO has room again */
	/* A second consumer of guest output (the harness); called after out_fd got it. */
	void (*tap)(void *opaque, const uint8_t *buf, size_t len);
	void *tap_opaque;
	uint64_t out_bytes;
	/* --serial sinks other than stdio/file/none (NULL otherwise: the stdout path is unchanged). */
	struct console_listener *listener; /* unix:PATH: listening socket, backlog, the client */
	struct console_lines *lines;       /* unix-dgram:PATH and syslog: one message per line */
	bool socket_input;                 /* in_fd is a socket (unix:, unix-connect:), not stdin */
};

/* in_fd < 0 disables input. Raw mode is set only when in_fd is a terminal. */
int console_init(struct console *c, int in_fd, int out_fd);
/* Restores the terminal; idempotent and async-signal-safe. */
void console_restore(void);
/* Writes guest output; never blocks the guest on a closed stdout (output is then dropped). */
void console_write(struct console *c, const uint8_t *buf, size_t len);
void console_put_byte(void *opaque, uint8_t byte);
/* Serial sink callback: wakes the main loop to offer held-back input again. */
void console_rx_ready(void *opaque);

/* Points the console at the --serial sink (after console_init; before the sandbox: it opens,
 * binds or connects). 0, or an exit status after printing one line naming --serial. */
int console_attach_sink(struct console *c, const struct serial_config *serial);
/* Whether the sink brings its own input (unix:, unix-connect:), so stdin is not read. */
bool console_sink_has_input(const struct serial_config *serial);
/* unix:PATH: the listening fd for the main loop, or -1 for other sinks. */
int console_listen_fd(const struct console *c);
/* unix:PATH: accepts a client, sends it the backlog and makes it the output; returns its fd
 * (for the main loop to read input from) or -1 (none pending, or one is connected already). */
int console_accept_client(struct console *c);
/* The main loop saw EOF on in_fd: a unix:PATH client is dropped and output is kept for the
 * next one. */
void console_input_closed(struct console *c);
/* Output dropped because the backlog was full. */
uint64_t console_backlog_dropped(const struct console *c);
/* Closes sockets and removes a unix:PATH socket file. */
void console_detach_sink(struct console *c);

/* Filters raw input through the escape sequence. Returns bytes for the guest in out (at
 * most len + 1), sets *quit when the user asked to quit. Pure: unit-tested. */
size_t console_filter_input(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit);

#endif
