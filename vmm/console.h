/* The user's terminal: guest console output to stdout, stdin to the guest. A terminal on
 * stdin is put in raw mode (so Ctrl-C reaches the guest) and restored on every way out,
 * including fatal signals. Escape: Ctrl-A then x quits; Ctrl-A Ctrl-A sends one Ctrl-A. */
#ifndef N90_CONSOLE_H
#define N90_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_ESCAPE_CHAR 0x01 /* Ctrl-A */
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

/* Filters raw input through the escape sequence. Returns bytes for the guest in out (at
 * most len + 1), sets *quit when the user asked to quit. Pure: unit-tested. */
size_t console_filter_input(struct console *c, const uint8_t *in, size_t len, uint8_t *out, bool *quit);

#endif
