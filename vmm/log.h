/* Logging: one line per message on stderr, prefixed with the time since start. Text from
 * outside (paths, arguments, socket replies, guest-controlled strings) is escaped on its way
 * out, warnings a guest can cause are rate-limited, and no write to stderr waits for long on
 * a reader that stopped reading (docs/reliability.md). */
#ifndef N90_LOG_H
#define N90_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Messages above this level are dropped; --verbose raises it to LOG_DEBUG. */
extern enum log_level log_threshold;

void log_init(void);
/* Nanoseconds since log_init(), from CLOCK_MONOTONIC. */
uint64_t log_elapsed_ns(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_threshold >= LOG_DEBUG)                                                    \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

/* One line for the user on stderr, whatever the arguments hold: the formatted text with
 * control characters escaped, then a newline ("n90vmm: disk '...': ..." messages). */
void log_user(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies in[0..inlen) to out as text safe for a terminal and a single line: printable ASCII
 * and well-formed UTF-8 pass; control characters, DEL, C1 controls, bidirectional overrides
 * and line separators become \n, \r, \t, \xHH or \u{HHHH}; malformed UTF-8 bytes \xHH. The
 * result is NUL-terminated and cut with "..." when out is too small. Returns its length.
 * Pure: unit-tested. */
size_t log_escape(char *out, size_t outlen, const char *in, size_t inlen);

/* Makes the process's `stderr` stream wait at most LOG_STDERR_WAIT_MS for room: a reader that
 * stopped reading costs one wait, then lines are dropped (counted) until it reads again. Every
 * fprintf(stderr, ...) goes through it; call once at start. */
#define LOG_STDERR_WAIT_MS 250
void log_guard_stderr(void);
/* Writes buf to fd as the guarded stderr does (exposed for tests). Returns false when the
 * bytes were dropped. */
bool log_write_bounded(int fd, const char *buf, size_t len);
/* Lines dropped because stderr had no room. */
uint64_t log_stderr_dropped(void);

/* Warnings a guest can cause (a failed disk request, a malformed ring): the first
 * LOG_LIMIT_BURST of a kind are logged, then at most one "N more suppressed" line per
 * LOG_LIMIT_INTERVAL_S, and a last one at exit; all are counted for --stats. Each call site
 * keeps its own state (log_warn_limited). */
#define LOG_LIMIT_BURST 10
#define LOG_LIMIT_INTERVAL_S 10

struct log_limit {
	const char *kind;
	uint64_t interval_ns; /* between "more suppressed" lines */
	pthread_mutex_t lock;
	bool registered;
	uint64_t logged, suppressed, pending; /* pending: suppressed since the last summary line */
	uint64_t last_summary_ns;
	struct log_limit *next;
};

#define LOG_LIMIT_INIT(kind_name)                                                                  \
	{ .kind = (kind_name), .interval_ns = LOG_LIMIT_INTERVAL_S * 1000000000ull, .lock = PTHREAD_MUTEX_INITIALIZER }

void log_limited(struct log_limit *limit, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* At exit: the last "N more suppressed" line of every kind that has one pending. */
void log_limit_flush(void);
/* --stats: one line per kind that fired. */
void log_limit_print_stats(void);

#define log_warn_limited(kind, ...)                                                                \
	do {                                                                                       \
		static struct log_limit limit_ = LOG_LIMIT_INIT(kind);                             \
		log_limited(&limit_, LOG_WARN, __VA_ARGS__);                                       \
	} while (0)

#endif
