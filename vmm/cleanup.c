#include "vmm/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/sandbox.h"

/* Which file: device and inode, and its birth time (or, where the file system keeps none,
 * its change time), since a file made at the same path later may get the same inode. */
struct file_id {
	uint64_t dev, ino;
	int64_t sec;
	uint32_t nsec;
};

static struct {
	char path[108]; /* sun_path's size: these are socket files */
	struct file_id id;
} files[CLEANUP_MAX_PATHS];
static unsigned int nfiles;
static int to_helper = -1, from_helper = -1;

static int file_id(const char *path, struct file_id *id)
{
	struct statx sx;
	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_INO | STATX_BTIME | STATX_CTIME, &sx) < 0)
		return -errno;
	id->dev = (uint64_t)sx.stx_dev_major << 32 | sx.stx_dev_minor;
	id->ino = sx.stx_ino;
	const struct statx_timestamp *t = sx.stx_mask & STATX_BTIME ? &sx.stx_btime : &sx.stx_ctime;
	id->sec = t->tv_sec;
	id->nsec = t->tv_nsec;
	return 0;
}

void cleanup_add(const char *path)
{
	if (nfiles == CLEANUP_MAX_PATHS || file_id(path, &files[nfiles].id) < 0)
		return;
	snprintf(files[nfiles].path, sizeof(files[nfiles].path), "%s", path);
	nfiles++;
}

static void remove_files(void)
{
	for (unsigned int i = 0; i < nfiles; i++) {
		struct file_id now;
		const struct file_id *was = &files[i].id;
		if (file_id(files[i].path, &now) == 0 && now.dev == was->dev && now.ino == was->ino && now.sec == was->sec &&
		    now.nsec == was->nsec)
			unlink(files[i].path);
	}
}

/* The helper: reads until n90vmm's end of the pipe closes, removes, exits (closing its end
 * of the answer pipe, which is the answer). */
static void __attribute__((noreturn)) helper_main(int down, int up)
{
	if (dup2(down, 0) < 0 || dup2(up, 1) < 0)
		_exit(1);
	/* Nothing else of n90vmm's: not its terminal, not a pipe a shell waits on, not KVM. */
	close_range(2, ~0u, 0);
	static const int ignored[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGTSTP };
	for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
		signal(ignored[i], SIG_IGN);
	prctl(PR_SET_NAME, "n90vmm-cleanup");
	if (sandbox_enter(SANDBOX_CLEANUP) < 0)
		_exit(1);
	char buf[64];
	ssize_t n;
	while ((n = read(0, buf, sizeof(buf))) != 0)
		if (n < 0 && errno != EINTR)
			break;
	remove_files();
	_exit(0);
}

int cleanup_start(void)
{
	int down[2], up[2];
	if (nfiles == 0 || to_helper >= 0)
		return 0;
	if (pipe2(down, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(up, O_CLOEXEC) < 0) {
		int e = errno;
		close(down[0]);
		close(down[1]);
		return -e;
	}
	pid_t pid = fork();
	if (pid == 0)
		helper_main(down[0], up[1]);
	int e = errno;
	close(down[0]);
	close(up[1]);
	if (pid < 0) {
		close(down[1]);
		close(up[0]);
		return -e;
	}
	to_helper = down[1];
	from_helper = up[0];
	return 0;
}

void cleanup_run(void)
{
	bool direct = !sandbox_thread_confined();
	if (direct)
		remove_files();
	if (to_helper < 0)
		return;
	close(to_helper);
	to_helper = -1;
	if (!direct) {
		/* The helper closes its end when it is done. */
		struct pollfd p = { .fd = from_helper, .events = POLLIN };
		while (poll(&p, 1, CLEANUP_WAIT_MS) < 0 && errno == EINTR)
			;
	}
	close(from_helper);
	from_helper = -1;
}
