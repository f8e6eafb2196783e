#include "vmm/log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vmm/clock.h"
#include "vmm/files.h"

enum log_level log_threshold = LOG_WARN;
static uint64_t start_ns;

void log_init(void)
{
	start_ns = monotonic_ns();
}

uint64_t log_elapsed_ns(void)
{
	return monotonic_ns() - start_ns;
}

/* --- escaping ------------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at
 * most U+10FFFF) and its code point; 0 when malformed. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char b = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (b >= 0xc2 && b <= 0xdf) {
		len = 2;
		*cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		len = 3;
		*cp = b & 0x0f;
		if (b == 0xe0)
			lo = 0xa0;
		if (b == 0xed)
			hi = 0x9f;
	} else if (b >= 0xf0 && b <= 0xf4) {
		len = 4;
		*cp = b & 0x07;
		if (b == 0xf0)
			lo = 0x90;
		if (b == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

/* Code points that pass as UTF-8 but can rearrange or split what a terminal shows: C1
 * controls, LRM/RLM, the bidirectional embeddings, overrides and isolates ("Trojan Source"),
 * the line and paragraph separators, and the BOM. */
static bool invisible_control(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff;
}

/* The escaped form of the character at s[0..n): its length in piece, *consumed input bytes. */
static size_t escape_one(const unsigned char *s, size_t n, char piece[16], size_t *consumed)
{
	unsigned char b = s[0];
	uint32_t cp;
	*consumed = 1;
	if (b >= 0x20 && b < 0x7f) {
		piece[0] = (char)b;
		return 1;
	}
	if (b == '\n' || b == '\r' || b == '\t') {
		piece[0] = '\\';
		piece[1] = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
		return 2;
	}
	size_t len = b >= 0x80 ? utf8_decode(s, n, &cp) : 0;
	if (len == 0)
		return (size_t)snprintf(piece, 16, "\\x%02x", b);
	*consumed = len;
	if (invisible_control(cp))
		return (size_t)snprintf(piece, 16, "\\u{%04x}", (unsigned)cp);
	memcpy(piece, s, len);
	return len;
}

size_t log_escape(char *out, size_t outlen, const char *in, size_t inlen)
{
	const unsigned char *s = (const unsigned char *)in;
	char piece[16];
	size_t consumed, total = 0;
	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < inlen; i += consumed)
		total += escape_one(s + i, inlen - i, piece, &consumed);
	/* When it does not all fit, "..." at the end says so. */
	size_t room = total < outlen ? outlen - 1 : outlen - 1 < 3 ? 0 : outlen - 4;
	size_t o = 0;
	for (size_t i = 0; i < inlen; i += consumed) {
		size_t plen = escape_one(s + i, inlen - i, piece, &consumed);
		if (o + plen > room)
			break;
		memcpy(out + o, piece, plen);
		o += plen;
	}
	if (total >= outlen) {
		size_t dots = outlen - 1 - o < 3 ? outlen - 1 - o : 3;
		memcpy(out + o, "...", dots);
		o += dots;
	}
	out[o] = '\0';
	return o;
}

/* --- stderr that never waits long ---------------------------------------------------------- */

static struct {
	bool guarded; /* log_guard_stderr ran */
	bool socket;  /* send(MSG_DONTWAIT) */
	bool gated;   /* a shared blocking fd: poll before each write of at most PIPE_BUF */
	bool stalled; /* the last write found no room: do not wait again until one succeeds */
	uint64_t dropped;
} err_out;

/* Waits until deadline_ms for fd to take bytes; false when it does not. */
static bool wait_writable(int fd, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = monotonic_ms();
		int left = deadline_ms > now ? (int)(deadline_ms - now) : 0;
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		int r = poll(&p, 1, left);
		if (r > 0)
			return (p.revents & POLLOUT) != 0;
		if (r == 0 || errno != EINTR)
			return false;
	}
}

bool log_write_bounded(int fd, const char *buf, size_t len)
{
	uint64_t deadline = monotonic_ms() + (err_out.stalled ? 0 : LOG_STDERR_WAIT_MS);
	while (len > 0) {
		size_t chunk = len;
		if (err_out.gated) {
			if (!wait_writable(fd, deadline))
				goto stalled;
			if (chunk > PIPE_BUF)
				chunk = PIPE_BUF; /* with room reported, a write this small does not block */
		}
		ssize_t n = err_out.socket ? send(fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, buf, chunk);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			err_out.stalled = false;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_writable(fd, deadline))
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			goto stalled;
		err_out.dropped++; /* EPIPE and the like: nobody reads stderr any more */
		return false;
	}
	return true;
stalled:
	err_out.stalled = true;
	err_out.dropped++;
	return false;
}

uint64_t log_stderr_dropped(void)
{
	return err_out.dropped;
}

static ssize_t stderr_cookie_write(void *cookie, const char *buf, size_t len)
{
	(void)cookie;
	log_write_bounded(STDERR_FILENO, buf, len);
	return (ssize_t)len; /* a dropped line is counted, not an error the stream keeps */
}

void log_guard_stderr(void)
{
	struct stat st;
	if (err_out.guarded || fstat(STDERR_FILENO, &st) < 0)
		return;
	err_out.guarded = true;
	if (S_ISSOCK(st.st_mode)) {
		err_out.socket = true;
	} else if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
		/* Our own non-blocking description of the same pipe or terminal: the one we
		 * inherited is shared (with the shell, with make), so its flags stay as they are. */
		int fd = file_reopen_nonblocking(STDERR_FILENO);
		if (fd < 0 || dup2(fd, STDERR_FILENO) < 0)
			err_out.gated = true;
		if (fd >= 0)
			close(fd);
	}
	static cookie_io_functions_t io = { .write = stderr_cookie_write };
	FILE *f = fopencookie(NULL, "w", io);
	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	stderr = f; /* glibc: stdin, stdout and stderr are variables a program may set */
}

/* --- messages ------------------------------------------------------------------------------ */

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char msg[1024], line[2048];
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	uint64_t t = log_elapsed_ns();
	n = snprintf(line, sizeof(line), "n90vmm [%4llu.%06llu] %s: ", (unsigned long long)(t / 1000000000ull),
		     (unsigned long long)(t / 1000ull % 1000000ull), names[level]);
	n += (int)log_escape(line + n, sizeof(line) - 1 - (size_t)n, msg, strlen(msg));
	line[n++] = '\n';
	/* One write per message so lines from different threads never interleave. */
	fwrite(line, 1, (size_t)n, stderr);
}

void log_user(const char *fmt, ...)
{
	char msg[1024], line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size_t n = log_escape(line, sizeof(line) - 1, msg, strlen(msg));
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

/* --- rate limits --------------------------------------------------------------------------- */

static pthread_mutex_t limits_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_limit *limits;

/* Taken before the limit's own lock, never inside it: the flush holds limits_lock, then each
 * limit's. */
static void limit_register(struct log_limit *l)
{
	if (__atomic_load_n(&l->registered, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&limits_lock);
	if (!l->registered) {
		l->next = limits;
		limits = l;
		__atomic_store_n(&l->registered, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&limits_lock);
}

void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	uint64_t now = log_elapsed_ns(), summary = 0;
	bool last_of_burst = false, print = false;
	limit_register(l);
	pthread_mutex_lock(&l->lock);
	if (l->logged < LOG_LIMIT_BURST) {
		l->logged++;
		last_of_burst = l->logged == LOG_LIMIT_BURST;
		if (last_of_burst)
			l->last_summary_ns = now;
		print = true;
	} else {
		l->suppressed++;
		l->pending++;
		if (now - l->last_summary_ns >= l->interval_ns) {
			summary = l->pending;
			l->pending = 0;
			l->last_summary_ns = now;
		}
	}
	pthread_mutex_unlock(&l->lock);
	double interval_s = (double)l->interval_ns / 1e9;
	if (print && last_of_burst)
		log_msg(level, "%s (further ones: one line per %g s)", msg, interval_s);
	else if (print)
		log_msg(level, "%s", msg);
	else if (summary)
		log_msg(level, "%s: %llu more in the last %g s, the latest: %s", l->kind, (unsigned long long)summary,
			interval_s, msg);
}

void log_limit_flush(void)
{
	pthread_mutex_lock(&limits_lock);
	for (struct log_limit *l = limits; l; l = l->next) {
		pthread_mutex_lock(&l->lock);
		uint64_t pending = l->pending;
		l->pending = 0;
		pthread_mutex_unlock(&l->lock);
		if (pending)
			log_msg(LOG_WARN, "%s: %llu more since the last report", l->kind, (unsigned long long)pending);
	}
	pthread_mutex_unlock(&limits_lock);
}

void log_limit_print_stats(void)
{
	pthread_mutex_lock(&limits_lock);
	for (struct log_limit *l = limits; l; l = l->next)
		fprintf(stderr, "stats: log '%s' logged=%llu suppressed=%llu\n", l->kind, (unsigned long long)l->logged,
			(unsigned long long)l->suppressed);
	if (err_out.dropped)
		fprintf(stderr, "stats: log stderr-dropped=%llu\n", (unsigned long long)err_out.dropped);
	pthread_mutex_unlock(&limits_lock);
}
