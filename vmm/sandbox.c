#include "vmm/sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/if_tun.h>
#include <linux/io_uring.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <string.h>

#include "vmm/log.h"

enum sandbox_mode sandbox_mode = SANDBOX_ENFORCE;

#define ALLOW(name, why) { SCMP_SYS(name), 0, why }
#define IOCTL(req, why) { SCMP_SYS(ioctl), req, why }

/* What every thread does: memory, locks, console and log output, thread exit, signals. */
static const struct sandbox_rule common_rules[] = {
	ALLOW(read, "eventfds, pipes, stdin, signalfd, timerfd"),
	ALLOW(write, "console output, log lines, eventfd and irqfd kicks"),
	ALLOW(futex, "mutexes, condition variables, pthread_join"),
	ALLOW(mmap, "malloc arenas and large allocations"),
	ALLOW(munmap, "free of large allocations; teardown"),
	ALLOW(mprotect, "malloc growing a thread arena"),
	ALLOW(madvise, "malloc trimming"),
	ALLOW(brk, "malloc on the main arena"),
	ALLOW(rt_sigreturn, "return from the vCPU kick handler"),
	ALLOW(rt_sigprocmask, "pthread internals"),
	ALLOW(clock_gettime, "timestamps when the vDSO is not used"),
	ALLOW(gettid, "pthread internals"),
	ALLOW(getpid, "pthread_kill"),
	ALLOW(tgkill, "pthread_kill: kicking vCPUs out of KVM_RUN; raise() after a fatal signal"),
	ALLOW(sched_yield, "lock contention"),
	ALLOW(newfstatat, "stdio sizing a stream buffer on first use"),
	ALLOW(close, "teardown; console and control socket clients"),
	ALLOW(sendto, "console output to a socket sink, console lines to a --serial unix-dgram: or syslog "
		      "socket, control replies (send() with MSG_DONTWAIT)"),
	ALLOW(poll, "bounded waits for room on stderr (log lines) and on the console sink at exit"),
	ALLOW(ppoll, "the same where glibc's poll() is ppoll (arm64)"),
	ALLOW(exit, "thread exit"),
	ALLOW(exit_group, "process exit"),
	IOCTL(TCSETS, "restoring the terminal (also from a fatal-signal handler)"),
	IOCTL(TCSETSW, "restoring the terminal"),
	IOCTL(TCSETSF, "restoring the terminal"),
	IOCTL(TCGETS, "tcsetattr reads back what it set"),
};

/* Only in sanitizer builds (make sanitize), whose runtime gives each thread an alternate
 * signal stack and removes it when the thread ends. The shipped binary does not have it. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifdef SANITIZER_BUILD
static const struct sandbox_rule sanitizer_rules[] = {
	ALLOW(sigaltstack, "ASan runtime: per-thread alternate signal stack (sanitizer builds only)"),
};
#endif

static const struct sandbox_rule vcpu_rules[] = {
	IOCTL(KVM_RUN, "running the guest"),
	/* A queue notify that reaches user space (no ioeventfd matched) is served right on
	 * the vCPU thread, so it may do virtio-blk I/O too. */
	ALLOW(preadv, "virtio-blk reads on a user-space notify"),
	ALLOW(pwritev, "virtio-blk writes on a user-space notify"),
	ALLOW(fdatasync, "virtio-blk flush on a user-space notify"),
	ALLOW(fallocate, "virtio-blk discard on a user-space notify"),
	ALLOW(pwrite64, "virtio-blk write-zeroes fallback on a user-space notify"),
	ALLOW(readv, "virtio-net receive into guest buffers when the guest posts some (user-space notify)"),
	ALLOW(writev, "virtio-net transmit on a user-space notify"),
	IOCTL(TUNSETOFFLOAD, "virtio-net: the guest's receive offloads, programmed when its driver starts"),
	IOCTL(KVM_IRQ_LINE, "legacy device interrupts (16550)"),
	IOCTL(KVM_SET_GSI_ROUTING, "MSI-X table writes update the vector's route"),
	IOCTL(KVM_IOEVENTFD, "a guest moving a virtio-pci BAR moves its notify ioeventfds"),
};

static const struct sandbox_rule io_rules[] = {
	ALLOW(epoll_wait, "the I/O thread's event loop"),
	ALLOW(epoll_pwait, "the I/O thread's event loop"),
	ALLOW(preadv, "virtio-blk reads into guest buffers"),
	ALLOW(pwritev, "virtio-blk writes from guest buffers"),
	ALLOW(fdatasync, "virtio-blk flush"),
	ALLOW(fallocate, "virtio-blk discard and write-zeroes"),
	ALLOW(pwrite64, "virtio-blk write-zeroes fallback"),
	ALLOW(readv, "virtio-net receive: tap frames straight into guest buffers"),
	ALLOW(writev, "virtio-net transmit: guest buffers straight to the tap"),
};

static const struct sandbox_rule main_rules[] = {
	ALLOW(epoll_wait, "the main loop"),
	ALLOW(epoll_pwait, "the main loop"),
	ALLOW(epoll_ctl, "pausing and resuming stdin"),
	ALLOW(timerfd_settime, "the --timeout timer"),
	ALLOW(accept4, "clients of the --serial unix: socket and of the --socket control socket"),
	ALLOW(fdatasync, "disks synced at exit, so what the guest wrote is durable once n90vmm has exited"),
	IOCTL(KVM_IRQ_LINE, "console input raises the 16550's interrupt"),
	IOCTL(KVM_SET_GSI_ROUTING, "none expected; kept for symmetry with device setup"),
};

/* The helper process that waits for n90vmm to exit and removes the socket files it created
 * (vmm/cleanup.c): it reads its pipe, looks at each path and unlinks what is still the file
 * n90vmm created. */
static const struct sandbox_rule cleanup_rules[] = {
	ALLOW(statx, "is the file at the path still the one n90vmm created (inode, birth time)"),
	ALLOW(unlink, "removing a --socket or --serial unix: socket file n90vmm created (x86_64 glibc)"),
	ALLOW(unlinkat, "the same where glibc's unlink() is unlinkat (arm64)"),
};

/* Only when a disk's io_uring backend is in use (sandbox_io_uring): io_uring_setup is
 * never allowed (each ring exists before the filters go in), and a VM whose disks all fell
 * back to sync, or that has none, gets none of these. */
bool sandbox_io_uring;

static const struct sandbox_rule vcpu_uring_rules[] = {
	ALLOW(io_uring_enter, "virtio-blk: submitting to the disk's io_uring on a user-space notify, and waiting for "
			      "what is in flight when the driver resets the device"),
};

static const struct sandbox_rule io_uring_rules[] = {
	ALLOW(io_uring_enter, "virtio-blk: submitting a batch to the disk's io_uring and waiting for it (the ring "
			      "itself only takes READV/WRITEV/FSYNC/FALLOCATE on the image)"),
};

static const struct sandbox_rule main_uring_rules[] = {
	ALLOW(io_uring_enter, "virtio-blk: waiting for requests still in flight when the VM stops"),
	/* Argument 1 of io_uring_register is its opcode: compared like an ioctl request. */
	{ SCMP_SYS(io_uring_register), IORING_UNREGISTER_FILES,
	  "virtio-blk: IORING_UNREGISTER_FILES only, giving the image back to the kernel at exit (the ring's "
	  "restrictions allow no other register opcode either)" },
};

static const struct {
	const struct sandbox_rule *rules;
	unsigned int count;
} uring_roles[SANDBOX_ROLES] = {
	[SANDBOX_MAIN] = { main_uring_rules, sizeof(main_uring_rules) / sizeof(main_uring_rules[0]) },
	[SANDBOX_VCPU] = { vcpu_uring_rules, sizeof(vcpu_uring_rules) / sizeof(vcpu_uring_rules[0]) },
	[SANDBOX_IO] = { io_uring_rules, sizeof(io_uring_rules) / sizeof(io_uring_rules[0]) },
};

static const struct {
	const struct sandbox_rule *rules;
	unsigned int count;
	const char *name;
} roles[SANDBOX_ROLES] = {
	[SANDBOX_MAIN] = { main_rules, sizeof(main_rules) / sizeof(main_rules[0]), "main" },
	[SANDBOX_VCPU] = { vcpu_rules, sizeof(vcpu_rules) / sizeof(vcpu_rules[0]), "vcpu" },
	[SANDBOX_IO] = { io_rules, sizeof(io_rules) / sizeof(io_rules[0]), "io" },
	[SANDBOX_CLEANUP] = { cleanup_rules, sizeof(cleanup_rules) / sizeof(cleanup_rules[0]), "cleanup" },
};

static __thread bool thread_confined;

bool sandbox_thread_confined(void)
{
	return thread_confined;
}

const char *sandbox_role_name(enum sandbox_role role)
{
	return role < SANDBOX_ROLES ? roles[role].name : "?";
}

unsigned int sandbox_rule_count(enum sandbox_role role)
{
	if (role >= SANDBOX_ROLES)
		return 0;
	return roles[role].count + (unsigned int)(sizeof(common_rules) / sizeof(common_rules[0])) +
	       (role == SANDBOX_VCPU ? arch_vcpu_sandbox_rule_count : 0) +
	       (sandbox_io_uring ? uring_roles[role].count : 0);
}

static int add_rules(scmp_filter_ctx ctx, const struct sandbox_rule *rules, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		/* ioctl rules compare the request (argument 1) with the one allowed value. */
		struct scmp_arg_cmp request = { .arg = 1, .op = SCMP_CMP_EQ, .datum_a = rules[i].ioctl, .datum_b = 0 };
		int ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, rules[i].syscall, rules[i].ioctl ? 1 : 0,
						 rules[i].ioctl ? &request : NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int sandbox_enter(enum sandbox_role role)
{
	if (sandbox_mode == SANDBOX_OFF)
		return 0;
	if (role >= SANDBOX_ROLES)
		return -EINVAL;
	/* libseccomp sets PR_SET_NO_NEW_PRIVS before loading (SCMP_FLTATR_CTL_NNP). */
	scmp_filter_ctx ctx = seccomp_init(sandbox_mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		return -ENOMEM;
	int ret = add_rules(ctx, common_rules, sizeof(common_rules) / sizeof(common_rules[0]));
	if (!ret)
		ret = add_rules(ctx, roles[role].rules, roles[role].count);
	if (!ret && role == SANDBOX_VCPU)
		ret = add_rules(ctx, arch_vcpu_sandbox_rules, arch_vcpu_sandbox_rule_count);
	if (!ret && sandbox_io_uring)
		ret = add_rules(ctx, uring_roles[role].rules, uring_roles[role].count);
#ifdef SANITIZER_BUILD
	if (!ret)
		ret = add_rules(ctx, sanitizer_rules, sizeof(sanitizer_rules) / sizeof(sanitizer_rules[0]));
#endif
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (!ret)
		thread_confined = true;
	if (ret < 0)
		log_err("cannot install the %s thread's seccomp filter: %s", roles[role].name, strerror(-ret));
	return ret;
}

/* Whether DIR holds nothing but . and .. (a jail with files in it would hand them to
 * anyone who takes over the process). */
static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	int empty = 1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

int sandbox_apply_jail(const struct sandbox_jail *jail, char *err, size_t errlen)
{
	if (!jail->dir && !jail->has_uid && !jail->has_gid)
		return 0;
	if (geteuid() != 0) {
		snprintf(err, errlen, "--jail/--uid/--gid need n90vmm to start as root");
		return -EPERM;
	}
	if (jail->dir) {
		int empty = dir_is_empty(jail->dir);
		if (empty < 0) {
			snprintf(err, errlen, "--jail '%s': %s", jail->dir, strerror(-empty));
			return empty;
		}
		if (!empty) {
			snprintf(err, errlen, "--jail '%s': the directory is not empty", jail->dir);
			return -ENOTEMPTY;
		}
		if (chroot(jail->dir) < 0 || chdir("/") < 0) {
			int e = errno;
			snprintf(err, errlen, "--jail '%s': %s", jail->dir, strerror(e));
			return -e;
		}
	}
	/* Group first: once the uid is dropped, changing groups is no longer allowed. */
	if (jail->has_gid || jail->has_uid) {
		gid_t gid = jail->has_gid ? jail->gid : getgid();
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0) {
			int e = errno;
			snprintf(err, errlen, "--gid %u: %s", (unsigned)gid, strerror(e));
			return -e;
		}
	}
	if (jail->has_uid) {
		if (setresuid(jail->uid, jail->uid, jail->uid) < 0) {
			int e = errno;
			snprintf(err, errlen, "--uid %u: %s", (unsigned)jail->uid, strerror(e));
			return -e;
		}
		/* Dropping must be for good: a process that can become root again was not jailed. */
		if (jail->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
			snprintf(err, errlen, "--uid %u: root could be regained after the drop", (unsigned)jail->uid);
			return -EPERM;
		}
	}
	log_debug("jail: root %s, uid %u, gid %u", jail->dir ? jail->dir : "(unchanged)", (unsigned)getuid(),
		  (unsigned)getgid());
	return 0;
}
