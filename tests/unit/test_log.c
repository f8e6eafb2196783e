/* Log lines: one per message on stderr, time-stamped, filtered by level. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmm/log.h"

/* Everything logged while fn runs (stderr redirected to a temporary file). */
static char *capture_stderr(void (*fn)(void))
{
	fflush(stderr);
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	int saved = dup(STDERR_FILENO);
	cr_assert_geq(dup2(fileno(tmp), STDERR_FILENO), 0);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	long len = (fseek(tmp, 0, SEEK_END), ftell(tmp));
	rewind(tmp);
	char *buf = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(buf, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return buf;
}

static void log_all_levels(void)
{
	log_err("e %d", 1);
	log_warn("w %s", "2");
	log_info("i");
	log_debug("d");
}

static size_t count_lines(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

Test(log, default_threshold_shows_errors_and_warnings)
{
	log_init();
	log_threshold = LOG_WARN;
	char *out = capture_stderr(log_all_levels);
	cr_assert_eq(count_lines(out), 2, "%s", out);
	cr_assert_not_null(strstr(out, "error: e 1\n"));
	cr_assert_not_null(strstr(out, "warning: w 2\n"));
	cr_assert_null(strstr(out, "info"));
	cr_assert(strncmp(out, "n90vmm [", 8) == 0, "prefix: %s", out);
	free(out);
}

Test(log, verbose_shows_everything)
{
	log_init();
	log_threshold = LOG_DEBUG;
	char *out = capture_stderr(log_all_levels);
	cr_assert_eq(count_lines(out), 4, "%s", out);
	cr_assert_not_null(strstr(out, "info: i\n"));
	cr_assert_not_null(strstr(out, "debug: d\n"));
	free(out);
}

Test(log, errors_only)
{
	log_threshold = LOG_ERROR;
	char *out = capture_stderr(log_all_levels);
	cr_assert_eq(count_lines(out), 1, "%s", out);
	free(out);
}

static void log_long(void)
{
	char big[4000];
	memset(big, 'L', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_err("%s", big);
}

Test(log, overlong_message_is_cut_to_one_line)
{
	log_threshold = LOG_WARN;
	char *out = capture_stderr(log_long);
	cr_assert_eq(count_lines(out), 1);
	cr_assert_lt(strlen(out), 1100, "bounded by the line buffer");
	free(out);
}

Test(log, elapsed_time_is_monotonic)
{
	log_init();
	uint64_t a = log_elapsed_ns(), b = log_elapsed_ns();
	cr_assert_geq(b, a, "CLOCK_MONOTONIC never goes back");
}

/* ---- escaping: what reaches a terminal is one line of visible text ------------------------ */

static const char *esc(const char *in, size_t len)
{
	static char out[512];
	log_escape(out, sizeof(out), in, len);
	return out;
}

Test(log_escape, printable_text_and_utf8_pass)
{
	cr_assert_str_eq(esc("disk 'a b.img': ok", 18), "disk 'a b.img': ok");
	cr_assert_str_eq(esc("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 17), "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
}

Test(log_escape, controls_are_escaped)
{
	cr_assert_str_eq(esc("a\nb\rc\td", 7), "a\\nb\\rc\\td");
	cr_assert_str_eq(esc("\x1b[2J\x07\x7f", 6), "\\x1b[2J\\x07\\x7f");
	cr_assert_str_eq(esc("x\0y", 3), "x\\x00y");
}

Test(log_escape, utf8_that_can_fool_a_terminal_is_escaped)
{
	cr_assert_str_eq(esc("\xc2\x9b" "31m", 5), "\\u{009b}31m", "C1 CSI");
	cr_assert_str_eq(esc("a\xe2\x80\xae" "b", 5), "a\\u{202e}b", "right-to-left override");
	cr_assert_str_eq(esc("\xe2\x81\xa6", 3), "\\u{2066}", "isolate");
	cr_assert_str_eq(esc("\xe2\x80\xa8", 3), "\\u{2028}", "line separator");
}

Test(log_escape, malformed_utf8_is_escaped_byte_by_byte)
{
	cr_assert_str_eq(esc("\xc0\xaf", 2), "\\xc0\\xaf", "overlong");
	cr_assert_str_eq(esc("\xed\xa0\x80", 3), "\\xed\\xa0\\x80", "surrogate");
	cr_assert_str_eq(esc("\xe6\x97", 2), "\\xe6\\x97", "truncated");
	cr_assert_str_eq(esc("\xff\xfe", 2), "\\xff\\xfe");
	cr_assert_str_eq(esc("\xf4\x90\x80\x80", 4), "\\xf4\\x90\\x80\\x80", "above U+10FFFF");
}

Test(log_escape, long_input_is_cut_with_dots_within_the_buffer)
{
	char in[50000], out[64];
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (char)(i % 256);
	size_t n = log_escape(out, sizeof(out), in, sizeof(in));
	cr_assert_lt(n, sizeof(out));
	cr_assert_eq(strlen(out), n);
	cr_assert_str_eq(out + n - 3, "...");
	cr_assert_null(strchr(out, '\n'));
	for (size_t i = 0; i < n; i++)
		cr_assert(out[i] >= 0x20 && out[i] < 0x7f, "byte %zu is 0x%02x", i, (unsigned char)out[i]);
	/* Exactly full: no dots. */
	cr_assert_eq(log_escape(out, 4, "abc", 3), 3);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(log_escape(out, 4, "abcd", 4), 3);
	cr_assert_str_eq(out, "...");
}

static void user_line_with_binary(void)
{
	char arg[50000];
	for (size_t i = 0; i < sizeof(arg) - 1; i++)
		arg[i] = (char)(1 + i % 255);
	arg[sizeof(arg) - 1] = '\0';
	log_user("n90vmm: unknown option '%s'", arg);
	log_warn("guest said '%s'", "line one\nline two\x1b]0;title\x07");
}

Test(log, user_lines_and_log_lines_stay_one_line)
{
	log_threshold = LOG_WARN;
	char *out = capture_stderr(user_line_with_binary);
	cr_assert_eq(count_lines(out), 2, "%s", out);
	cr_assert(strncmp(out, "n90vmm: unknown option '\\x01\\x02", 32) == 0, "%.60s", out);
	cr_assert_not_null(strstr(out, "guest said 'line one\\nline two\\x1b]0;title\\x07'\n"));
	free(out);
}

/* ---- rate limits --------------------------------------------------------------------------- */

static struct log_limit test_limit = { .kind = "test failure", .interval_ns = 200000000ull,
				       .lock = PTHREAD_MUTEX_INITIALIZER };

static void flood(void)
{
	for (int i = 0; i < 1000; i++)
		log_limited(&test_limit, LOG_WARN, "request %d failed", i);
	usleep(250000);
	log_limited(&test_limit, LOG_WARN, "request %d failed", 1000); /* the interval is over */
	for (int i = 1001; i < 1005; i++)
		log_limited(&test_limit, LOG_WARN, "request %d failed", i);
	log_limit_flush();
	log_limit_print_stats();
}

Test(log, a_flood_gives_the_burst_then_one_line_per_interval)
{
	log_init();
	log_threshold = LOG_WARN;
	char *out = capture_stderr(flood);
	/* 10 lines, one summary when the interval passed, one at the flush, one stats line. */
	cr_assert_eq(count_lines(out), LOG_LIMIT_BURST + 3, "%s", out);
	cr_assert_not_null(strstr(out, "request 0 failed\n"));
	cr_assert_not_null(strstr(out, "request 9 failed (further ones: one line per 0.2 s)\n"));
	cr_assert_null(strstr(out, "request 10 failed\n"));
	cr_assert_not_null(strstr(out, "test failure: 991 more in the last 0.2 s, the latest: request 1000 failed\n"), "%s", out);
	cr_assert_not_null(strstr(out, "test failure: 4 more since the last report\n"));
	cr_assert_not_null(strstr(out, "stats: log 'test failure' logged=10 suppressed=995\n"));
	free(out);
}

/* ---- stderr with a reader that stopped ------------------------------------------------------ */

#include <fcntl.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A full pipe nobody reads: the first line waits LOG_STDERR_WAIT_MS and is dropped, the next
 * ones are dropped at once; a line goes out again as soon as there is room. */
Test(log, stuck_stderr_costs_one_bounded_wait)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(fcntl(fds[0], F_SETPIPE_SZ, 4096), 4096);
	fcntl(fds[1], F_SETFL, O_NONBLOCK);
	char fill[4096];
	memset(fill, 'f', sizeof(fill));
	while (write(fds[1], fill, sizeof(fill)) > 0)
		;
	double t0 = now_s();
	cr_assert_not(log_write_bounded(fds[1], "one\n", 4));
	double t1 = now_s();
	cr_assert_not(log_write_bounded(fds[1], "two\n", 4));
	double t2 = now_s();
	cr_assert_geq(t1 - t0, LOG_STDERR_WAIT_MS / 1000.0 * 0.9);
	cr_assert_lt(t2 - t1, 0.1, "stalled: no second wait");
	cr_assert_eq(log_stderr_dropped(), 2);
	cr_assert_eq(read(fds[0], fill, sizeof(fill)), (ssize_t)sizeof(fill));
	cr_assert(log_write_bounded(fds[1], "three\n", 6));
	close(fds[0]);
	close(fds[1]);
}
