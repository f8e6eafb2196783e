#include "harness/session.h"

#include "vmm/exit_status.h"
#include "vmm/files.h"
#include "vmm/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BOOT_TIMEOUT 60.0
#define DEFAULT_COMMAND_TIMEOUT 600.0
#define POWEROFF_GRACE_MS 5000
#define PAYLOAD_MAX HARNESS_CAPTURE_MAX
#define SCRIPT_MAX_BYTES (1 << 20)

uint64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t to_ms(double sec, double dflt)
{
	return (uint64_t)((sec > 0 ? sec : dflt) * 1000.0);
}

int harness_load_script(struct harness_options *opt, const char *path, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO must not hang the start-up; it is refused below like any file that
	 * is not a regular one (/dev/zero, /dev/stdin would never end). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		snprintf(err, errlen, "--script '%s': %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > SCRIPT_MAX_BYTES) {
		snprintf(err, errlen, "--script '%s': not a regular file of at most %d bytes", path, SCRIPT_MAX_BYTES);
		close(fd);
		return -EINVAL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		snprintf(err, errlen, "--script '%s': out of memory", path);
		return -ENOMEM;
	}
	char line[4200];
	while (fgets(line, sizeof(line), f)) {
		size_t len = strcspn(line, "\r\n");
		if (line[len] == '\0' && !feof(f)) {
			snprintf(err, errlen, "--script '%s': a line is longer than %zu bytes", path, sizeof(line) - 2);
			fclose(f);
			return -E2BIG;
		}
		line[len] = '\0';
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		double timeout = 0;
		if (strncmp(p, "timeout=", 8) == 0) {
			char *end;
			timeout = strtod(p + 8, &end);
			if (end == p + 8 || timeout <= 0 || (*end != ' ' && *end != '\t')) {
				snprintf(err, errlen, "--script '%s': bad timeout= in line '%s'", path, line);
				fclose(f);
				return -EINVAL;
			}
			p = end + strspn(end, " \t");
		}
		if (opt->ncommands >= HARNESS_MAX_COMMANDS) {
			snprintf(err, errlen, "--script '%s': more than %d commands", path, HARNESS_MAX_COMMANDS);
			fclose(f);
			return -E2BIG;
		}
		opt->command_timeouts[opt->ncommands] = timeout;
		opt->commands[opt->ncommands++] = strdup(p);
	}
	fclose(f);
	if (opt->ncommands == 0) {
		snprintf(err, errlen, "--script '%s': no commands", path);
		return -EINVAL;
	}
	return 0;
}

int harness_session_init(struct harness_session *s, const struct harness_options *opt)
{
	memset(s, 0, sizeof(*s));
	s->opt = opt;
	s->pipe_rd = s->pipe_wr = -1;
	for (unsigned int i = 0; i < opt->ncommands; i++)
		s->commands[i] = (struct harness_command){ opt->commands[i], to_ms(opt->command_timeouts[i], 0) };
	if (opt->strict) {
		uint8_t rnd[8];
		if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
			return -EIO;
		for (int i = 0; i < 8; i++)
			snprintf(s->nonce + 2 * i, 3, "%02x", rnd[i]);
	}
	struct harness_config cfg = {
		.prompt = opt->prompt,
		.nonce = opt->strict ? s->nonce : NULL,
		.boot_timeout_ms = to_ms(opt->boot_timeout, DEFAULT_BOOT_TIMEOUT),
		.command_timeout_ms = to_ms(opt->command_timeout, DEFAULT_COMMAND_TIMEOUT),
		.poweroff_grace_ms = POWEROFF_GRACE_MS,
		.commands = s->commands,
		.ncommands = opt->ncommands,
	};
	s->start_ms = harness_now_ms();
	int ret = harness_init(&s->engine, &cfg, s->start_ms);
	if (ret)
		return ret;
	if (opt->result_json) {
		/* Opened without waiting (a FIFO with no reader is refused, not waited for); the
		 * result is written once, at the end, with ordinary blocking writes. */
		struct stat st;
		int fd = file_open(opt->result_json, O_WRONLY | O_CREAT | O_TRUNC, 0644, &st);
		if (fd >= 0)
			file_set_blocking(fd);
		s->result_file = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!s->result_file) {
			log_user("n90vmm: --result-json '%s': %s", opt->result_json,
				 fd == -ENXIO ? "a FIFO or socket nobody reads (n90vmm does not wait)" : strerror(fd < 0 ? -fd : errno));
			if (fd >= 0)
				close(fd);
			return fd < 0 ? fd : -errno;
		}
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	s->pipe_rd = fds[0];
	s->pipe_wr = fds[1];
	fcntl(s->pipe_rd, F_SETFL, O_NONBLOCK);
	/* The console's thread never waits on the main loop: a roomy pipe it writes without
	 * blocking, which the main loop (itself never blocked) empties at once. */
	fcntl(s->pipe_wr, F_SETFL, O_NONBLOCK);
	fcntl(s->pipe_wr, F_SETPIPE_SZ, 1 << 20);
	return 0;
}

void harness_session_tap(void *opaque, const uint8_t *buf, size_t len)
{
	struct harness_session *s = opaque;
	while (len) {
		ssize_t n = write(s->pipe_wr, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Full (the main loop has stopped reading: the VM is stopping) or closed. */
			__atomic_add_fetch(&s->tap_dropped, len, __ATOMIC_RELAXED);
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void handle_actions(struct harness_session *s, struct harness_action *a, size_t n,
			   void (*send)(void *ctx, const uint8_t *buf, size_t len), void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		switch (a[i].type) {
		case HARNESS_SEND:
			if (send)
				send(ctx, a[i].data, a[i].len);
			break;
		case HARNESS_COMMAND_DONE:
			break;
		case HARNESS_BOOT_TIMEOUT:
			s->boot_timed_out = true;
			s->stop_requested = true;
			break;
		case HARNESS_COMMAND_TIMEOUT:
			s->command_timed_out = true;
			s->stop_requested = true;
			break;
		case HARNESS_STOP:
			s->stop_requested = true;
			break;
		}
	}
}

void harness_session_read(struct harness_session *s, void (*send)(void *ctx, const uint8_t *buf, size_t len),
			  void *ctx)
{
	uint8_t buf[4096];
	struct harness_action actions[8];
	ssize_t n;
	while ((n = read(s->pipe_rd, buf, sizeof(buf))) > 0) {
		size_t na = harness_feed(&s->engine, buf, (size_t)n, harness_now_ms(), actions, 8);
		handle_actions(s, actions, na, send, ctx);
	}
}

bool harness_session_tick(struct harness_session *s)
{
	struct harness_action actions[8];
	size_t na = harness_tick(&s->engine, harness_now_ms(), actions, 8);
	handle_actions(s, actions, na, NULL, NULL);
	return s->stop_requested;
}

int harness_session_timeout_ms(const struct harness_session *s)
{
	uint64_t deadline = harness_next_deadline(&s->engine), now = harness_now_ms();
	if (deadline == UINT64_MAX)
		return -1;
	return deadline <= now ? 0 : (int)(deadline - now > 1000000000 ? 1000000000 : deadline - now);
}

bool harness_session_wants_stop(const struct harness_session *s)
{
	return s->stop_requested;
}

static void json_string(FILE *f, const char *str)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void write_result_json(struct harness_session *s, int status, char *payload)
{
	FILE *f = s->result_file;
	const struct harness_engine *e = &s->engine;
	fprintf(f, "{\"boot_ms\":%lld,\"exit_status\":%d,\"boot_timed_out\":%s,\"commands\":[",
		e->boot_ms ? (long long)(e->boot_ms - s->start_ms) : -1LL, status, s->boot_timed_out ? "true" : "false");
	for (unsigned int i = 0; i < s->opt->ncommands; i++) {
		const struct harness_result *r = &e->results[i];
		harness_clean_output(e, i, payload, PAYLOAD_MAX);
		fprintf(f, "%s{\"command\":", i ? "," : "");
		json_string(f, s->opt->commands[i]);
		fprintf(f, ",\"finished\":%s,\"timed_out\":%s,\"status\":%d,\"duration_ms\":%lld,\"output\":",
			r->finished ? "true" : "false", r->timed_out ? "true" : "false", r->finished ? r->status : -1,
			r->started_ms ? (long long)((r->finished_ms ? r->finished_ms : harness_now_ms()) - r->started_ms)
				      : -1LL);
		json_string(f, payload);
		fputc('}', f);
	}
	fprintf(f, "]}\n");
	fclose(f);
	s->result_file = NULL;
}

int harness_session_finish(struct harness_session *s, int vm_status)
{
	const struct harness_engine *e = &s->engine;
	char *payload = malloc(PAYLOAD_MAX);
	unsigned int last = s->opt->ncommands - 1;
	int status;

	if (!payload)
		return vm_status;
	if (s->boot_timed_out || s->command_timed_out)
		status = EXIT_TIMEOUT;
	else if (e->results[last].finished)
		status = e->results[last].status & 0xff;
	else
		status = vm_status ? vm_status : EXIT_HARNESS_INCOMPLETE;
	/* Payloads on stdout, in command order, including what a timed-out command printed. */
	for (unsigned int i = 0; i <= last; i++) {
		if (!e->results[i].started_ms)
			break;
		size_t n = harness_clean_output(e, i, payload, PAYLOAD_MAX);
		if (n) {
			fwrite(payload, 1, n, stdout);
			fputc('\n', stdout);
		}
	}
	fflush(stdout);
	if (s->tap_dropped)
		log_warn("harness: %llu bytes of console output did not reach the harness (its pipe was full)",
			 (unsigned long long)s->tap_dropped);
	if (s->boot_timed_out)
		fprintf(stderr, "n90vmm: harness: no prompt within the boot timeout\n");
	else if (s->command_timed_out)
		fprintf(stderr, "n90vmm: harness: command %u did not finish within its timeout\n", e->current + 1);
	else if (!e->results[last].finished)
		fprintf(stderr, "n90vmm: harness: the guest stopped before the command finished\n");
	if (s->result_file)
		write_result_json(s, status, payload);
	free(payload);
	return status;
}

void harness_session_destroy(struct harness_session *s)
{
	if (!s->opt)
		return; /* never initialised */
	harness_free(&s->engine);
	if (s->result_file)
		fclose(s->result_file);
	if (s->pipe_rd >= 0)
		close(s->pipe_rd);
	if (s->pipe_wr >= 0)
		close(s->pipe_wr);
	s->pipe_rd = s->pipe_wr = -1;
}
