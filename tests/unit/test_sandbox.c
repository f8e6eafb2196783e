/* Each role's seccomp filter really confines: a forbidden syscall kills with SIGSYS, an
 * allowed one works. Runs the filtered code in a child so the test runner stays free. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/sandbox.h"

static int run_confined(enum sandbox_role role, int (*body)(void))
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		sandbox_mode = SANDBOX_ENFORCE;
		if (sandbox_enter(role) < 0)
			_exit(90);
		_exit(body());
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static int open_a_file(void)
{
	int fd = open("/dev/null", O_RDONLY);
	return fd >= 0 ? 0 : 1;
}

static int execute_a_program(void)
{
	execl("/bin/true", "true", (char *)NULL);
	return 1;
}

static int write_and_exit(void)
{
	return write(STDERR_FILENO, "", 0) == 0 ? 7 : 1;
}

Test(sandbox, open_is_forbidden_for_every_role)
{
	for (int role = 0; role < SANDBOX_ROLES; role++) {
		int status = run_confined((enum sandbox_role)role, open_a_file);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: open() not killed",
			  sandbox_role_name((enum sandbox_role)role));
	}
}

Test(sandbox, exec_is_forbidden)
{
	int status = run_confined(SANDBOX_VCPU, execute_a_program);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS);
}

/* Under AddressSanitizer the runtime makes syscalls of its own (shadow memory, reports)
 * that no role allows, so only the plain build can show the allowed path. */
#ifdef __SANITIZE_ADDRESS__
#define PLAIN_BUILD_ONLY .disabled = true
#else
#define PLAIN_BUILD_ONLY .disabled = false
#endif

Test(sandbox, allowed_syscalls_work, PLAIN_BUILD_ONLY)
{
	int status = run_confined(SANDBOX_IO, write_and_exit);
	cr_assert(WIFEXITED(status), "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 7);
}

/* io_uring_enter on no ring: EBADF when allowed (exit 7), SIGSYS when not. */
static int uring_enter(void)
{
	return syscall(__NR_io_uring_enter, -1, 0, 0, 0, NULL, 0) < 0 ? 7 : 1;
}

static int uring_setup(void)
{
	return syscall(__NR_io_uring_setup, 0, NULL) < 0 ? 7 : 1;
}

/* io_uring is only in the filters of a VM whose disk has a ring; io_uring_setup never. */
Test(sandbox, io_uring_only_where_a_disk_uses_it, PLAIN_BUILD_ONLY)
{
	for (int role = 0; role < SANDBOX_ROLES; role++) {
		sandbox_io_uring = false;
		unsigned int without = sandbox_rule_count((enum sandbox_role)role);
		int status = run_confined((enum sandbox_role)role, uring_enter);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: io_uring_enter allowed without a ring",
			  sandbox_role_name((enum sandbox_role)role));
		sandbox_io_uring = true;
		status = run_confined((enum sandbox_role)role, uring_enter);
		if (role == SANDBOX_CLEANUP) {
			/* The socket cleanup helper never touches a disk: no ring rules, ever. */
			cr_assert_eq(sandbox_rule_count((enum sandbox_role)role), without);
			cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "cleanup: io_uring_enter allowed");
		} else {
			cr_assert_gt(sandbox_rule_count((enum sandbox_role)role), without);
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 7, "%s: io_uring_enter refused with a ring",
				  sandbox_role_name((enum sandbox_role)role));
		}
		status = run_confined((enum sandbox_role)role, uring_setup);
		cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS, "%s: io_uring_setup allowed",
			  sandbox_role_name((enum sandbox_role)role));
	}
	sandbox_io_uring = false;
}

Test(sandbox, roles_have_lists)
{
	for (int role = 0; role < SANDBOX_ROLES; role++)
		cr_assert_gt(sandbox_rule_count((enum sandbox_role)role), 20);
}

/* ---- --jail / --uid / --gid ---------------------------------------------------------------- */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#define NOBODY 65534

/* Runs sandbox_apply_jail in a child; the child reports through its exit status:
 * 0 = confined as asked, 10+ = a check failed, 100 + errno = apply refused. */
static int jail_child(const struct sandbox_jail *jail, bool drop_first)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char err[256];
		if (drop_first && setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(9);
		int ret = sandbox_apply_jail(jail, err, sizeof(err));
		if (ret < 0)
			_exit(100 + (-ret & 0x7f));
		if (jail->has_uid && (getuid() != jail->uid || geteuid() != jail->uid))
			_exit(10);
		if (jail->has_gid && (getgid() != jail->gid || getegid() != jail->gid))
			_exit(11);
		if (jail->has_uid && (setuid(0) == 0 || seteuid(0) == 0))
			_exit(12);
		/* Inside the jail the host's files are gone. */
		if (jail->dir && (access("/etc/passwd", F_OK) == 0 || errno != ENOENT))
			_exit(13);
		if (getgroups(0, NULL) != 0)
			_exit(14);
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (privilege drop and chroot)");
}

Test(sandbox, jail_chroots_and_drops_privileges)
{
	need_root();
	char dir[] = "/tmp/n90-jail-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	/* Searchable by the dropped user, so a missing file says ENOENT, not EACCES. */
	cr_assert_eq(chmod(dir, 0755), 0);
	struct sandbox_jail jail = { .dir = dir, .has_uid = true, .uid = NOBODY, .has_gid = true, .gid = NOBODY };
	int rc = jail_child(&jail, false);
	rmdir(dir);
	cr_assert_eq(rc, 0, "child check %d failed", rc);
}

Test(sandbox, jail_refuses_a_directory_with_files)
{
	need_root();
	char dir[] = "/tmp/n90-jail-XXXXXX", file[64];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/secret", dir);
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fclose(f);
	struct sandbox_jail jail = { .dir = dir };
	int rc = jail_child(&jail, false);
	unlink(file);
	rmdir(dir);
	cr_assert_eq(rc, 100 + ENOTEMPTY);
	struct sandbox_jail missing = { .dir = "/nonexistent/n90-jail" };
	cr_assert_eq(jail_child(&missing, false), 100 + ENOENT);
}

Test(sandbox, jail_needs_root)
{
	need_root();
	struct sandbox_jail jail = { .has_uid = true, .uid = NOBODY };
	cr_assert_eq(jail_child(&jail, true), 100 + EPERM);
}

Test(sandbox, no_jail_is_a_no_op)
{
	struct sandbox_jail none = { 0 };
	char err[64];
	cr_assert_eq(sandbox_apply_jail(&none, err, sizeof(err)), 0);
}
