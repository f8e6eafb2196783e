/* seccomp sandbox: each thread role (main loop, vCPU, I/O) installs its own allow-list
 * before it handles anything the guest controls. Everything the process needs is opened
 * before; after, no thread may open a file, execute a program or make an ioctl outside the
 * KVM/terminal requests its role uses. The lists are data (vmm/sandbox.c) and documented in
 * docs/sandbox.md. */
#ifndef N90_SANDBOX_H
#define N90_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum sandbox_role {
	SANDBOX_MAIN,
	SANDBOX_VCPU,
	SANDBOX_IO,
	SANDBOX_CLEANUP, /* the helper process that removes socket files at exit (vmm/cleanup.c) */
	SANDBOX_ROLES,
};

enum sandbox_mode {
	SANDBOX_ENFORCE, /* a forbidden syscall kills the process (SIGSYS) */
	SANDBOX_LOG,     /* --seccomp-log: forbidden syscalls are logged by the kernel, allowed */
	SANDBOX_OFF,     /* --disable-sandbox */
};

extern enum sandbox_mode sandbox_mode;
/* Set before the threads start when a disk uses the io_uring backend: the roles then also
 * allow io_uring_enter (and the main thread io_uring_register(IORING_UNREGISTER_FILES)). */
extern bool sandbox_io_uring;

/* One allowed syscall (for ioctl: one allowed request), with the reason it is needed. */
struct sandbox_rule {
	int syscall;
	unsigned long ioctl; /* for ioctl: the one request allowed; 0 for other syscalls */
	const char *why;
};

/* What only this architecture's vCPU threads need (arch/<arch>/: x86 reads registers with
 * KVM_GET_REGS/SREGS, arm64 reads and writes them with KVM_{GET,SET}_ONE_REG). */
extern const struct sandbox_rule arch_vcpu_sandbox_rules[];
extern const unsigned int arch_vcpu_sandbox_rule_count;

/* Installs the calling thread's filter (no-op when off). 0 or -errno; a failure is fatal to
 * the caller's role, since running unsandboxed silently is not an option. */
int sandbox_enter(enum sandbox_role role);
const char *sandbox_role_name(enum sandbox_role role);
/* Whether the calling thread runs under a filter (then it must not call what its role does
 * not allow, e.g. unlink). */
bool sandbox_thread_confined(void);
/* Number of rules in a role's allow-list (for tests and docs). */
unsigned int sandbox_rule_count(enum sandbox_role role);

/* After everything is opened and before any thread starts: chroot into an empty directory
 * and/or drop to another user and group (root only). Fields unset when has_* is false /
 * dir is NULL. */
struct sandbox_jail {
	const char *dir; /* --jail DIR: must exist, be a directory and be empty */
	bool has_uid, has_gid;
	uid_t uid; /* --uid */
	gid_t gid; /* --gid */
};

/* Applies the jail in the calling process (single-threaded: glibc's set*id would otherwise
 * have to signal every thread). 0, or -errno with err holding one line. Checks afterwards
 * that root cannot be regained. */
int sandbox_apply_jail(const struct sandbox_jail *jail, char *err, size_t errlen);

#endif
