/* `n90vmm harness`: the same protocol engine and session as inside n90vmm, driving another
 * hypervisor's serial port through a socket, so a suite can run under QEMU or crosvm and be
 * compared with n90vmm's results. Optionally launches that hypervisor (--launch, a shell
 * command line) and stops it when the harness is done. */
#include "harness/client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/exit_status.h"
#include "harness/session.h"

#define CONNECT_RETRY_MS 50
#define POLL_SLICE_MS 200      /* also how often a launched hypervisor's exit is noticed */
#define HYPERVISOR_GRACE_MS 5000 /* after the serial port closes, or after SIGTERM */

struct client {
	struct harness_session session;
	int sock;
	int console_fd;
	pid_t child; /* the launched hypervisor, or 0 */
	int child_status; /* waitpid status once reaped */
	bool child_reaped;
};

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* --listen: the hypervisor connects to us (QEMU's `-serial unix:PATH`, crosvm's
 * unix-stream), so nothing it prints can be lost before the connection exists. */
static int listen_unix(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a socket left by an earlier run */
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* One connection attempt; -errno when the far side is not (yet) there. */
static int try_connect(const char *target)
{
	if (strncmp(target, "unix:", 5) == 0) {
		struct sockaddr_un a = { .sun_family = AF_UNIX };
		if (strlen(target + 5) >= sizeof(a.sun_path))
			return -ENAMETOOLONG;
		strcpy(a.sun_path, target + 5);
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		return fd;
	}
	/* tcp:HOST:PORT, the port after the last colon (HOST may be [v6]). */
	char host[256];
	const char *spec = target + 4, *colon = strrchr(spec, ':');
	if (!colon || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EINVAL;
	int fd = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0)
			continue;
		if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
			fd = s;
			break;
		}
		fd = -errno;
		close(s);
	}
	freeaddrinfo(res);
	return fd;
}

static bool child_running(struct client *c)
{
	if (!c->child || c->child_reaped)
		return false;
	if (waitpid(c->child, &c->child_status, WNOHANG) == c->child) {
		c->child_reaped = true;
		return false;
	}
	return true;
}

/* Waits up to ms for the launched hypervisor to end by itself. */
static void wait_child(struct client *c, unsigned int ms)
{
	for (unsigned int waited = 0; child_running(c) && waited < ms; waited += 20)
		sleep_ms(20);
}

/* SIGTERM to the hypervisor's process group, SIGKILL if it lingers. */
static void stop_child(struct client *c)
{
	if (!child_running(c))
		return;
	kill(-c->child, SIGTERM);
	wait_child(c, HYPERVISOR_GRACE_MS);
	if (child_running(c)) {
		kill(-c->child, SIGKILL);
		waitpid(c->child, &c->child_status, 0);
		c->child_reaped = true;
	}
}

static int launch(struct client *c, const char *command)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Its own process group, so stopping it also stops what its shell started. */
		setpgid(0, 0);
		/* The hypervisor's own console noise must not mix with the payload on stdout. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	c->child = pid;
	return 0;
}

static void send_to_guest(void *ctx, const uint8_t *buf, size_t len)
{
	struct client *c = ctx;
	while (len) {
		ssize_t n = send(c->sock, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* the far side went away: EOF on the read side ends the run */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static void write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

/* The hypervisor's own ending, as the status the harness reports when the guest stopped
 * before the command finished: 0 for a clean exit, else its exit code or 128+signal. */
static int hypervisor_status(const struct client *c)
{
	if (!c->child || !c->child_reaped)
		return 0;
	if (WIFEXITED(c->child_status))
		return WEXITSTATUS(c->child_status);
	return 128 + WTERMSIG(c->child_status);
}

int harness_client_run(const struct vm_config *cfg)
{
	struct client c = { .sock = -1, .console_fd = STDERR_FILENO };
	int status = EXIT_SETUP, listener = -1;

	if (cfg->console_log) {
		c.console_fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (c.console_fd < 0) {
			fprintf(stderr, "n90vmm: --console-log '%s': %s\n", cfg->console_log, strerror(errno));
			return EXIT_NO_INPUT;
		}
	}
	if (harness_session_init(&c.session, &cfg->harness) < 0) {
		fprintf(stderr, "n90vmm: harness: cannot start the session\n");
		goto out;
	}
	if (cfg->client.listen) {
		listener = listen_unix(cfg->client.listen + 5);
		if (listener < 0) {
			fprintf(stderr, "n90vmm: harness: --listen '%s': %s\n", cfg->client.listen, strerror(-listener));
			status = EXIT_USAGE;
			goto out;
		}
	}
	if (cfg->client.launch && launch(&c, cfg->client.launch) < 0) {
		fprintf(stderr, "n90vmm: harness: cannot launch '%s': %s\n", cfg->client.launch, strerror(errno));
		goto out;
	}

	/* The hypervisor creates its socket (or connects to ours) some time after it starts:
	 * retry until the boot timeout, which covers that wait as it covers the prompt's. */
	int last_err = 0;
	for (;;) {
		int fd = listener >= 0 ? accept4(listener, NULL, NULL, SOCK_CLOEXEC) : try_connect(cfg->client.connect);
		if (listener >= 0 && fd < 0)
			fd = -errno;
		if (fd >= 0) {
			c.sock = fd;
			break;
		}
		last_err = -fd;
		if (fd == -EINVAL || fd == -ENAMETOOLONG) {
			fprintf(stderr, "n90vmm: harness: bad --connect '%s'\n", cfg->client.connect);
			status = EXIT_USAGE;
			goto out;
		}
		if (c.child && !child_running(&c)) {
			fprintf(stderr, "n90vmm: harness: the hypervisor exited (status %d) before its serial port opened\n",
				hypervisor_status(&c));
			goto out;
		}
		if (harness_session_tick(&c.session)) {
			if (listener >= 0)
				fprintf(stderr, "n90vmm: harness: nothing connected to %s within the boot timeout\n",
					cfg->client.listen);
			else
				fprintf(stderr, "n90vmm: harness: cannot connect to %s within the boot timeout: %s\n",
					cfg->client.connect, strerror(last_err));
			status = EXIT_TIMEOUT;
			goto out;
		}
		sleep_ms(CONNECT_RETRY_MS);
	}

	/* Console bytes go to the console log and through the session's pipe into the engine,
	 * exactly as the serial device's tap feeds it inside n90vmm. */
	bool eof = false;
	while (!eof && !harness_session_wants_stop(&c.session)) {
		int timeout = harness_session_timeout_ms(&c.session);
		if (timeout < 0 || timeout > POLL_SLICE_MS)
			timeout = POLL_SLICE_MS;
		struct pollfd p = { .fd = c.sock, .events = POLLIN };
		int n = poll(&p, 1, timeout);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0) {
			uint8_t buf[4096];
			ssize_t got = recv(c.sock, buf, sizeof(buf), 0);
			if (got <= 0) {
				eof = got == 0 || errno != EINTR;
			} else {
				write_all(c.console_fd, buf, (size_t)got);
				harness_session_tap(&c.session, buf, (size_t)got);
				harness_session_read(&c.session, send_to_guest, &c);
			}
		}
		if (harness_session_tick(&c.session))
			break;
		if (c.child && !child_running(&c))
			eof = true; /* the hypervisor ended; what it wrote last is still in the socket */
	}
	/* Drain what is left in the socket without waiting. */
	for (;;) {
		uint8_t buf[4096];
		ssize_t got = recv(c.sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (got <= 0)
			break;
		write_all(c.console_fd, buf, (size_t)got);
		harness_session_tap(&c.session, buf, (size_t)got);
		harness_session_read(&c.session, NULL, NULL);
	}
	/* After `exit` the guest powers off and the hypervisor ends by itself; give it the
	 * grace period, then stop it. */
	if (c.child) {
		wait_child(&c, HYPERVISOR_GRACE_MS);
		stop_child(&c);
	}
	status = harness_session_finish(&c.session, hypervisor_status(&c));
out:
	if (listener >= 0) {
		close(listener);
		unlink(cfg->client.listen + 5);
	}
	if (c.child)
		stop_child(&c);
	if (c.sock >= 0)
		close(c.sock);
	harness_session_destroy(&c.session);
	if (c.console_fd != STDERR_FILENO)
		close(c.console_fd);
	return status;
}
