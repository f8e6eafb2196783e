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
