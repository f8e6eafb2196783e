/* The harness inside the monitor: drives the protocol engine from the guest console and
 * turns its verdict into the process's output and exit status. Console bytes arrive through
 * a pipe (written by whichever thread runs the console device) and are fed to the engine on
 * the main loop's thread, so the engine itself needs no lock. */
#ifndef N90_HARNESS_SESSION_H
#define N90_HARNESS_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "harness/engine.h"

struct harness_options {
	const char *commands[HARNESS_MAX_COMMANDS];
	double command_timeouts[HARNESS_MAX_COMMANDS]; /* seconds, 0 = default */
	unsigned int ncommands;
	const char *prompt;
	bool strict;              /* nonce in the exit marker */
	double boot_timeout;      /* seconds; 0 = default 60 */
	double command_timeout;   /* seconds; 0 = default 600 */
	const char *result_json;  /* path or NULL */
};

/* Fills opt->commands from a script: one command per line, blank lines and #-comments
 * skipped; "timeout=SEC CMD" sets that command's own timeout. 0 or -errno. */
int harness_load_script(struct harness_options *opt, const char *path, char *err, size_t errlen);

struct harness_session {
	struct harness_engine engine;
	struct harness_command commands[HARNESS_MAX_COMMANDS];
	const struct harness_options *opt;
	char nonce[17];
	int pipe_rd, pipe_wr; /* console tap */
	FILE *result_file;    /* --result-json, opened before the sandbox closes open() */
	uint64_t start_ms;
	bool boot_timed_out, command_timed_out, stop_requested;
	uint64_t tap_dropped; /* console bytes the tap could not queue (the pipe was full) */
};

int harness_session_init(struct harness_session *s, const struct harness_options *opt);
/* Process console output waiting in the pipe; `send` gets bytes for the guest's input. */
void harness_session_read(struct harness_session *s, void (*send)(void *ctx, const uint8_t *buf, size_t len),
			  void *ctx);
/* Timeouts; returns true when the VM should stop now. */
bool harness_session_tick(struct harness_session *s);
/* Milliseconds from now until the next engine deadline (-1: none). */
int harness_session_timeout_ms(const struct harness_session *s);
bool harness_session_wants_stop(const struct harness_session *s);
/* Prints payloads on stdout, writes --result-json and returns the exit status: the last
 * command's status (0..255), 124 on a timeout, `vm_status` if the guest stopped first. */
int harness_session_finish(struct harness_session *s, int vm_status);
void harness_session_destroy(struct harness_session *s);
/* The console sink's tap: append guest output to the pipe. Thread-safe (a write(2)); never
 * blocks (a full pipe drops the bytes, counted in tap_dropped). */
void harness_session_tap(void *opaque, const uint8_t *buf, size_t len);

uint64_t harness_now_ms(void);

#endif
