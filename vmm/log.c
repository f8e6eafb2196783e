#include "vmm/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

enum log_level log_threshold = LOG_WARN;
static uint64_t start_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void log_init(void)
{
	start_ns = now_ns();
}

uint64_t log_elapsed_ns(void)
{
	return now_ns() - start_ns;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	va_list ap;
	int n;

	if (level > log_threshold)
		return;
	uint64_t t = log_elapsed_ns();
	n = snprintf(line, sizeof(line), "n90vmm [%4llu.%06llu] %s: ", (unsigned long long)(t / 1000000000ull),
		     (unsigned long long)(t / 1000ull % 1000000ull), names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One fputs per message so lines from different threads never interleave. */
	fprintf(stderr, "%s\n", line);
}
