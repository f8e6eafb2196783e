/* runstat: run a command, pass its stdout through, and report as one JSON line on stderr
 * the time to its first stdout byte, the time to its exit, its exit status and the peak RSS
 * of its process tree (getrusage RUSAGE_CHILDREN). Used by the boot-time benchmark to time
 * n90vmm and QEMU on the same guest file; it measures, it never judges.
 * With -m START END it also reports span_ms, the host time from the first output holding
 * START to the first holding END: the blk benchmark times the guest's request loop with it,
 * on the host's clock (a guest's TSC calibration under nested emulation is not to be
 * trusted). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Finds `mark` in the output stream across read boundaries: `seen` keeps the last
 * strlen(mark) - 1 bytes. Returns true once the mark has been seen. */
struct marker {
	const char *text;
	char seen[128];
	size_t seen_len;
	double at_ms;
};

static void watch(struct marker *m, const char *buf, size_t n, double t)
{
	if (!m->text || m->at_ms >= 0)
		return;
	size_t mlen = strlen(m->text);
	for (size_t i = 0; i < n; i++) {
		if (m->seen_len == sizeof(m->seen))
			m->seen_len = 0;
		m->seen[m->seen_len++] = buf[i];
		if (m->seen_len >= mlen && memcmp(m->seen + m->seen_len - mlen, m->text, mlen) == 0) {
			m->at_ms = t;
			return;
		}
		/* Keep only what can still be the start of a match. */
		if (m->seen_len == sizeof(m->seen)) {
			memmove(m->seen, m->seen + m->seen_len - (mlen - 1), mlen - 1);
			m->seen_len = mlen - 1;
		}
	}
}

int main(int argc, char **argv)
{
	int fds[2];
	struct marker start_mark = { .at_ms = -1 }, end_mark = { .at_ms = -1 };
	if (argc > 4 && strcmp(argv[1], "-m") == 0) {
		start_mark.text = argv[2];
		end_mark.text = argv[3];
		if (strlen(argv[2]) >= 64 || strlen(argv[3]) >= 64 || !argv[2][0] || !argv[3][0]) {
			fprintf(stderr, "runstat: markers must be 1..63 bytes\n");
			return 2;
		}
		argv += 3;
		argc -= 3;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: runstat [-m START END] LABEL COMMAND [ARGS...]\n");
		return 2;
	}
	if (pipe(fds) < 0)
		return 2;
	double start = now_ms(), first = -1;
	pid_t pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		close(fds[0]);
		close(fds[1]);
		execvp(argv[2], argv + 2);
		fprintf(stderr, "runstat: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	char buf[4096];
	for (;;) {
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		double t = now_ms() - start;
		if (first < 0)
			first = t;
		watch(&start_mark, buf, (size_t)n, t);
		if (start_mark.at_ms >= 0)
			watch(&end_mark, buf, (size_t)n, t);
		if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
			break;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	double total = now_ms() - start;
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	char span[48] = "";
	if (start_mark.text)
		snprintf(span, sizeof(span), ",\"span_ms\":%.1f",
			 start_mark.at_ms >= 0 && end_mark.at_ms >= 0 ? end_mark.at_ms - start_mark.at_ms : -1.0);
	fprintf(stderr,
		"{\"label\":\"%s\",\"first_byte_ms\":%.1f,\"exit_ms\":%.1f,\"exit_status\":%d,\"max_rss_kib\":%ld%s}\n",
		argv[1], first, total, code, ru.ru_maxrss, span);
	return code;
}
