/* The harness protocol engine (PLATFORMS.md §4, StarryOS's starry_vm_runner.py): wait for the
 * shell prompt, send `CMD; echo __EXIT:$?__`, read the exit status from the marker in the
 * output that follows, send `exit`, and let the guest power off. A pure state machine: bytes
 * and the time go in, actions come out; it does no I/O, so it is tested on recorded
 * transcripts and fuzzed.
 *
 * Strict mode puts a random nonce in the marker (`__N90_<nonce>_EXIT:$?__`) so no command
 * output can forge a result; compatible mode matches upstream's `__EXIT:(-?\d+)__`. */
#ifndef N90_HARNESS_ENGINE_H
#define N90_HARNESS_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HARNESS_MAX_COMMANDS 64
#define HARNESS_CAPTURE_MAX (1u << 20) /* output kept per command; more is counted, not kept */
#define HARNESS_MARKER_MAX 64

enum harness_state {
	HARNESS_WAIT_PROMPT, /* booting, or between commands */
	HARNESS_WAIT_EXIT,   /* command sent, waiting for its marker */
	HARNESS_WAIT_POWEROFF, /* `exit` sent after the last command */
	HARNESS_DONE,
};

enum harness_action_type {
	HARNESS_SEND,            /* write data/len to the guest's console input */
	HARNESS_COMMAND_DONE,    /* command `index` finished with `status` */
	HARNESS_COMMAND_TIMEOUT, /* command `index` did not finish in time */
	HARNESS_BOOT_TIMEOUT,    /* no prompt in time */
	HARNESS_STOP,            /* stop the VM now (grace period after `exit` expired) */
};

struct harness_action {
	enum harness_action_type type;
	unsigned int index;
	int status;
	const uint8_t *data; /* HARNESS_SEND: valid until the next call into the engine */
	size_t len;
};

struct harness_command {
	const char *text;
	uint64_t timeout_ms; /* 0: the engine's default */
};

struct harness_config {
	const char *prompt;          /* default "starry:~# " */
	const char *nonce;           /* NULL: compatible marker; else strict, [A-Za-z0-9]+ */
	uint64_t boot_timeout_ms;    /* to the first prompt */
	uint64_t command_timeout_ms; /* default per command */
	uint64_t poweroff_grace_ms;  /* after `exit`, before HARNESS_STOP */
	const struct harness_command *commands;
	unsigned int ncommands;
};

struct harness_result {
	bool finished;
	bool timed_out;
	int status;
	uint64_t started_ms, finished_ms;
	uint8_t *output; /* raw console text received after the command was sent (\r dropped) */
	size_t output_len;
	uint64_t output_dropped; /* bytes beyond HARNESS_CAPTURE_MAX */
};

struct harness_engine {
	struct harness_config cfg;
	enum harness_state state;
	unsigned int current;
	uint64_t deadline_ms;
	uint64_t boot_ms; /* time of the first prompt, 0 until then */
	char marker_prefix[HARNESS_MARKER_MAX]; /* "__EXIT:" or "__N90_<nonce>_EXIT:" */
	/* Streaming state */
	char line[256];   /* tail of the current line, ANSI escapes and \r removed */
	size_t line_len;
	int esc;          /* inside an ANSI escape sequence: 0 none, 1 after ESC, 2 CSI */
	/* The last bytes received since the command was sent, where the marker is looked for:
	 * separate from the capture, which stops growing at HARNESS_CAPTURE_MAX. */
	char tail[2 * HARNESS_MARKER_MAX];
	size_t tail_len;
	uint8_t sendbuf[4096 + HARNESS_MARKER_MAX * 2];
	struct harness_result results[HARNESS_MAX_COMMANDS];
};

/* Returns 0, or -EINVAL for a bad config (no commands, too many, bad nonce, command too long). */
int harness_init(struct harness_engine *h, const struct harness_config *cfg, uint64_t now_ms);
void harness_free(struct harness_engine *h);
/* Guest console output. Fills up to max actions; returns how many. */
size_t harness_feed(struct harness_engine *h, const uint8_t *buf, size_t len, uint64_t now_ms,
		    struct harness_action *actions, size_t max);
/* Time passing without output: timeouts. */
size_t harness_tick(struct harness_engine *h, uint64_t now_ms, struct harness_action *actions, size_t max);
/* Milliseconds until the engine needs harness_tick, or UINT64_MAX. */
uint64_t harness_next_deadline(const struct harness_engine *h);

/* Upstream's output cleaning for command `index`: drop \r, the echoed command line and
 * prompts, cut at the marker; if a {...} JSON object is present, that object alone.
 * Writes a NUL-terminated string into out (at most outlen); returns its length. */
size_t harness_clean_output(const struct harness_engine *h, unsigned int index, char *out, size_t outlen);

#endif
