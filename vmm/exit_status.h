/* Process exit status of n90vmm (native mode). docs/exit-codes.md is the user-facing table;
 * keep the two in step. Codes 64..78 follow sysexits(3) where the meaning matches. */
#ifndef N90_EXIT_STATUS_H
#define N90_EXIT_STATUS_H

enum exit_status {
	EXIT_POWEROFF = 0,        /* guest powered off (ACPI S5, 0x604 write) */
	EXIT_USAGE = 64,          /* invalid command line (EX_USAGE) */
	EXIT_BAD_IMAGE = 65,      /* kernel/initrd unreadable as any supported format (EX_DATAERR) */
	EXIT_NO_INPUT = 66,       /* kernel/initrd file missing, unreadable or not a file (EX_NOINPUT) */
	EXIT_SETUP = 71,          /* host setup failed: /dev/kvm, memory, vCPU creation (EX_OSERR) */
	EXIT_PROTOCOL = 76,       /* `n90vmm stop`: the control socket gave an unexpected answer (EX_PROTOCOL) */
	EXIT_NO_PERMISSION = 77,  /* --jail/--uid/--gid without root, or root not given up (EX_NOPERM) */
	EXIT_GUEST_RESET = 80,    /* guest asked for a reset (0xCF9, i8042 0xFE, ACPI reset) */
	EXIT_TRIPLE_FAULT = 81,   /* KVM_EXIT_SHUTDOWN: the guest triple-faulted */
	EXIT_KVM_ERROR = 82,      /* KVM internal error, failed entry, unhandled exit */
	EXIT_TIMEOUT = 124,       /* --timeout, --boot-timeout or --command-timeout expired */
	EXIT_HARNESS_INCOMPLETE = 125, /* the guest powered off before the harness command finished */
	EXIT_USER_QUIT = 130,     /* escape sequence, SIGINT, SIGTERM or SIGHUP */
};

#endif
