/* Opening without waiting (vmm/files.c) and the socket-file cleanup helper (vmm/cleanup.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/cleanup.h"
#include "vmm/files.h"

static char dir[32];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/n90-files-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(files, .init = setup, .fini = teardown);
TestSuite(cleanup, .init = setup, .fini = teardown);

/* A FIFO with nobody at the other end: open(2) would wait for ever, file_open returns at
 * once (read side: the FIFO, for the caller to refuse; write side: -ENXIO). */
Test(files, a_fifo_never_blocks_open, .timeout = 5)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "%s/fifo", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	int fd = file_open(path, O_RDONLY, 0, &st);
	cr_assert_geq(fd, 0);
	cr_assert(S_ISFIFO(st.st_mode));
	cr_assert_str_eq(file_kind(st.st_mode), "a FIFO");
	close(fd);
	cr_assert_eq(file_open(path, O_WRONLY, 0, &st), -ENXIO);
	cr_assert_eq(file_open("/nonexistent/x", O_RDONLY, 0, &st), -ENOENT);
	cr_assert_str_eq(file_kind(S_IFDIR), "a directory");
	cr_assert_str_eq(file_kind(S_IFSOCK), "a socket");
}

Test(files, reopen_gives_a_private_nonblocking_description)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	int fd = file_reopen_nonblocking(fds[1]);
	cr_assert_geq(fd, 0);
	cr_assert(fcntl(fd, F_GETFL) & O_NONBLOCK);
	cr_assert_not(fcntl(fds[1], F_GETFL) & O_NONBLOCK, "the original keeps its flags");
	cr_assert_eq(write(fd, "x", 1), 1);
	char c;
	cr_assert_eq(read(fds[0], &c, 1), 1);
	cr_assert_eq(c, 'x');
	close(fd);
	close(fds[0]);
	close(fds[1]);
}

Test(files, the_lock_holder_is_named)
{
	char path[64], holder[128];
	snprintf(path, sizeof(path), "%s/disk.img", dir);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	if (pid == 0) {
		int lfd = open(path, O_RDWR);
		if (lfd < 0 || flock(lfd, LOCK_EX) < 0 || write(ready[1], "1", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	file_lock_holder(&st, holder, sizeof(holder));
	char want[64];
	snprintf(want, sizeof(want), "process %d (", (int)pid);
	cr_assert(strncmp(holder, want, strlen(want)) == 0, "holder: '%s', want '%s...'", holder, want);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	file_lock_holder(&st, holder, sizeof(holder));
	cr_assert_str_eq(holder, "another process", "no lock any more");
	close(fd);
}

/* Also called in forked children, which must not use cr_assert: false on failure. */
static bool make_socket_file(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return ok;
}

/* n90vmm killed with SIGKILL (no exit path of its own runs): the helper removes the socket
 * files it created; a file someone else put at one of the paths meanwhile stays. */
Test(cleanup, socket_files_go_even_after_sigkill, .timeout = 10)
{
	char ours[64], replaced[64];
	snprintf(ours, sizeof(ours), "%s/vm.sock", dir);
	snprintf(replaced, sizeof(replaced), "%s/console.sock", dir);
	int ready[2];
	cr_assert_eq(pipe(ready), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (!make_socket_file(ours) || !make_socket_file(replaced))
			_exit(1);
		cleanup_add(ours);
		cleanup_add(replaced);
		if (cleanup_start() < 0 || write(ready[1], "1", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1);
	/* Another run took console.sock over: a new file at the same path. */
	cr_assert_eq(unlink(replaced), 0);
	usleep(10000); /* a later file, even where the inode number comes back */
	cr_assert(make_socket_file(replaced));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	struct stat st;
	for (int i = 0; i < 100 && stat(ours, &st) == 0; i++)
		usleep(20000);
	cr_assert_neq(stat(ours, &st), 0, "the helper removed it");
	cr_assert_eq(stat(replaced, &st), 0, "not the file n90vmm created: left alone");
}

/* A normal exit: the files are gone by the time cleanup_run returns. */
Test(cleanup, normal_exit_removes_before_returning)
{
	char path[64];
	snprintf(path, sizeof(path), "%s/vm.sock", dir);
	pid_t pid = fork();
	if (pid == 0) {
		if (!make_socket_file(path))
			_exit(3);
		cleanup_add(path);
		if (cleanup_start() < 0)
			_exit(1);
		cleanup_run();
		struct stat st;
		_exit(stat(path, &st) == 0 ? 2 : 0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}
