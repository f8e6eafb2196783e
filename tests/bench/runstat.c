/* runstat: run a command, pass its stdout through, and report as one JSON line on stderr
 * the time to its first stdout byte, the time to its exit, its exit status and the peak RSS
 * of its process tree (getrusage RUSAGE_CHILDREN). Used by the boot-time benchmark to time
 * n90vmm and QEMU on the same guest file; it measures, it never judges. */
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

int main(int argc, char **argv)
{
	int fds[2];
	if (argc < 3) {
		fprintf(stderr, "usage: runstat LABEL COMMAND [ARGS...]\n");
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
		if (first < 0)
			first = now_ms() - start;
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
	fprintf(stderr,
		"{\"label\":\"%s\",\"first_byte_ms\":%.1f,\"exit_ms\":%.1f,\"exit_status\":%d,\"max_rss_kib\":%ld}\n",
		argv[1], first, total, code, ru.ru_maxrss);
	return code;
}
