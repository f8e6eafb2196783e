/* crosvm compatibility: `n90vmm run <crosvm run flags> KERNEL`, the same when the binary is
 * invoked as `crosvm`, and `crosvm stop SOCKET`. crosvm's `run` flags (key=value,... values
 * included) become the same struct vm_config the native flags give; docs/crosvm-compat.md
 * lists every flag and what n90vmm does with it. Parsing is pure: warnings are collected for
 * the caller to print, so every flag is unit-tested. */
#ifndef N90_CROSVM_CLI_H
#define N90_CROSVM_CLI_H

#include <stdbool.h>

#include "vmm/config.h"

/* crosvm's process exit statuses (crosvm src/main.rs, CommandStatus). */
enum crosvm_exit {
	CROSVM_EXIT_STOP = 0,          /* VM stopped: power off or `crosvm stop` */
	CROSVM_EXIT_FAILURE = 1,       /* any other error (crosvm's anyhow error path) */
	CROSVM_EXIT_RESET = 32,        /* the guest asked for a reset */
	CROSVM_EXIT_CRASH = 33,        /* the VM crashed: triple fault, KVM error */
	CROSVM_EXIT_GUEST_PANIC = 34,  /* pvpanic; n90vmm has no pvpanic device, never returned */
	CROSVM_EXIT_INVALID_ARGS = 35, /* bad command line */
	CROSVM_EXIT_WATCHDOG = 36,     /* vCPU stall detector; not emulated, never returned */
};

enum crosvm_command {
	CROSVM_CMD_ERROR = -1, /* err holds one line naming the flag; exit CROSVM_EXIT_INVALID_ARGS */
	CROSVM_CMD_RUN = 0,
	CROSVM_CMD_STOP,    /* stop_socket is the VM's control socket */
	CROSVM_CMD_VERSION,
	CROSVM_CMD_HELP,
};

#define CROSVM_MAX_WARNINGS 16

struct crosvm_cli {
	const char *stop_socket;
	char err[256];
	unsigned int nwarnings; /* may exceed CROSVM_MAX_WARNINGS; only that many are kept */
	char warnings[CROSVM_MAX_WARNINGS][160];
};

/* Whether argv asks for the compatibility mode: argv[0]'s basename is `crosvm`, or the first
 * argument is `run`. */
bool crosvm_cli_applies(int argc, char *const *argv);

/* Parses a crosvm command line (global options, then a subcommand and its flags). For
 * CROSVM_CMD_RUN cfg is filled in; strings in it point into argv or into storage owned by
 * the parser that the next call reuses. */
enum crosvm_command crosvm_cli_parse(int argc, char *const *argv, struct vm_config *cfg, struct crosvm_cli *out);

/* n90vmm's native exit status (vmm/exit_status.h) as crosvm reports the same ending. */
int crosvm_exit_status(int native_status);

void crosvm_cli_print_help(void);

#endif
