/* seccomp sandbox: each thread role (main loop, vCPU, I/O) installs its own allow-list
 * before it handles anything the guest controls. Everything the process needs is opened
 * before; after, no thread may open a file, execute a program or make an ioctl outside the
 * KVM/terminal requests its role uses. The lists are data (vmm/sandbox.c) and documented in
 * docs/sandbox.md. */
#ifndef N90_SANDBOX_H
#define N90_SANDBOX_H

#include <stdbool.h>

enum sandbox_role { SANDBOX_MAIN, SANDBOX_VCPU, SANDBOX_IO, SANDBOX_ROLES };

enum sandbox_mode {
	SANDBOX_ENFORCE, /* a forbidden syscall kills the process (SIGSYS) */
	SANDBOX_LOG,     /* --seccomp-log: forbidden syscalls are logged by the kernel, allowed */
	SANDBOX_OFF,     /* --disable-sandbox */
};

extern enum sandbox_mode sandbox_mode;

/* Installs the calling thread's filter (no-op when off). 0 or -errno; a failure is fatal to
 * the caller's role, since running unsandboxed silently is not an option. */
int sandbox_enter(enum sandbox_role role);
const char *sandbox_role_name(enum sandbox_role role);
/* Number of rules in a role's allow-list (for tests and docs). */
unsigned int sandbox_rule_count(enum sandbox_role role);

#endif
