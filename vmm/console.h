/* The user's terminal: guest console output to stdout, stdin to the guest. A terminal on
 * stdin is put in raw mode (so Ctrl-C reaches the guest) and restored on every way out,
 * including fatal signals. Escape: Ctrl-A then x quits; Ctrl-A Ctrl-A sends one Ctrl-A.
 *
 * Output never waits for its reader. The thread running the console device (vCPU, I/O)
 * appends to a bounded ring under a short lock and wakes the main loop through an eventfd
 * only when the loop is not already on it; the loop writes the output out with non-blocking
 * writes (console_drain) and stays on it for CONSOLE_LINGER_MS after the ring empties
 * (console_output_idle), so a guest printing byte by byte costs one wakeup per linger, not
 * one system call per byte. When a reader falls CONSOLE_BACKLOG_BYTES behind, the oldest
 * output goes and is counted (--stats). docs/reliability.md has the whole policy. */
#ifndef N90_CONSOLE_H
#define N90_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */
/* Output waiting for its sink: for a reader that is slow or stopped, or for a --serial
 * unix:PATH client yet to connect. Beyond it the oldest bytes go (and are counted). */
#define CONSOLE_BACKLOG_BYTES (1u << 20)
/* At exit, what is left is written while the sink keeps taking it; one that takes nothing for
 * this long (or the whole flush beyond CONSOLE_FLUSH_MAX_MS) loses the rest, counted. */
#define CONSOLE_STALL_MS 500
/* After the ring empties the main loop drains again this much later before it lets the
 * device's thread wake it: output arrives in batches, at most this late. */
#define CONSOLE_LINGER_MS 2
#define CONSOLE_FLUSH_MAX_MS 5000
/* Datagram and syslog sinks send one line per message; a longer line is cut here (crosvm's
 * serial WriteSocket uses the same 1 KiB). */
#define CONSOLE_LINE_MAX 1024

struct console_output;
struct console_listener;
struct console_lines;
#define CONSOLE_QUIT_CHAR 'x'

struct console {
	int in_fd;  /* -1 when input is disabled or at EOF */
	bool raw_tty;
	bool escape_pending;
	int rx_ready_fd; /* eventfd: the guest's receive FIFO has room again */
	/* A second consumer of guest output (the harness); called before the output is queued. */
	void (*tap)(void *opaque, const uint8_t *buf, size_t len);
	void *tap_opaque;
	uint64_t out_bytes; /* delivered to the sink */
	struct console_output *output;     /* byte-stream sinks: stdout, file:, unix:, unix-connect: */
	struct console_listener *listener; /* unix:PATH: the listening socket */
	struct console_lines *lines;       /* unix-dgram:PATH and syslog: one message per line */
	bool socket_input;                 /* in_fd is a socket (unix:, unix-connect:), not stdin */
};

/* in_fd < 0 disables input; out_fd < 0 discards output. Raw mode is set only when in_fd is a
 * terminal. out_fd (stdout, stderr) is written through a private non-blocking description
 * when it is a pipe, FIFO or terminal, so its shared flags are left as they are. */
int console_init(struct console *c, int in_fd, int out_fd);
/* Restores the terminal; idempotent and async-signal-safe. */
void console_restore(void);
/* Queues guest output: never blocks, never makes a system call unless the main loop must be
 * woken (it is not draining already). Any thread. */
void console_write(struct console *c, const uint8_t *buf, size_t len);
void console_put_byte(void *opaque, uint8_t byte);
/* Serial sink callback: wakes the main loop to offer held-back input again. */
void console_rx_ready(void *opaque);

/* Main loop only. The eventfd that says output is queued (-1 without a byte-stream sink). */
int console_output_wake_fd(const struct console *c);
/* Writes queued output until the ring is empty or the sink is full, without blocking.
 * Returns true when output is left and the sink is full: wait until console_output_fd() is
 * writable, then drain again. Otherwise drain again CONSOLE_LINGER_MS later and ask
 * console_output_idle(). */
bool console_drain(struct console *c);
/* True when nothing was queued since the last drain: the device's thread wakes the main loop
 * again from now on. False: drain again (and linger again). */
bool console_output_idle(struct console *c);
/* The fd to wait on for writability, or -1 (no sink, or one that never blocks). May be in_fd
 * (a socket is both). */
int console_output_fd(const struct console *c);
/* At exit: writes what is left while the sink takes it (CONSOLE_STALL_MS, CONSOLE_FLUSH_MAX_MS);
 * the rest is counted as dropped. */
void console_flush(struct console *c);
/* Output lost because the reader fell behind (or no unix: client came). */
uint64_t console_dropped(const struct console *c);
void console_print_stats(const struct console *c);

/* Points the console at the --serial sink (after console_init; before the sandbox: it opens,
 * binds or connects). 0, or an exit status after printing one line naming --serial. */
int console_attach_sink(struct console *c, const struct serial_config *serial);
/* Whether the sink brings its own input (unix:, unix-connect:), so stdin is not read. */
bool console_sink_has_input(const struct serial_config *serial);
/* unix:PATH: the listening fd for the main loop, or -1 for other sinks. */
int console_listen_fd(const struct console *c);
/* unix:PATH: the socket file bound (to remove at exit), or NULL. */
const char *console_socket_path(const struct console *c);
/* unix:PATH: accepts a client (non-blocking) and makes it the output, the backlog first;
 * returns its fd (for the main loop to read input from and drain output to) or -1 (none
 * pending, or one is connected already). */
int console_accept_client(struct console *c);
/* The main loop saw EOF on in_fd: a unix:PATH client is dropped and output is kept for the
 * next one. */
void console_input_closed(struct console *c);
/* Closes sockets and files and frees the output. */
void console_detach_sink(struct console *c);

/* Filters raw input through the escape sequence. Returns bytes for the guest in out (at
 * most len + 1), sets *quit when the user asked to quit. Pure: unit-tested. */
size_t console_filter_input(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit);

#endif
