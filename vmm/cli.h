/* The native command line: `n90vmm [options] KERNEL [ROOTFS]`. Parsing is separate from
 * acting on it so that every flag is unit-tested. */
#ifndef N90_CLI_H
#define N90_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "vmm/config.h"

enum cli_result {
	CLI_RUN = 0,      /* boot a VM with the config */
	CLI_HELP = 1,     /* --help printed */
	CLI_VERSION = 2,  /* --version printed */
	CLI_FEATURES = 3, /* --features printed */
	CLI_ERROR = -1,   /* err holds one line saying what is wrong */
};

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen);
/* `n90vmm harness [options]` (argv[0] is "harness"): the harness flags, --console-log,
 * --connect (required) and --launch, into cfg->harness, cfg->console_log and cfg->client. */
enum cli_result cli_parse_client(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen);

/* "512", "512M", "2G", "1T", "1048576K": MiB when no suffix. 0 on success, -EINVAL / -ERANGE. */
/* Frees the copies cli_parse made of option texts (after a run or a refusal alike). */
void cli_config_release(struct vm_config *cfg);

int cli_parse_size(const char *text, uint64_t *bytes);

/* One --net value: "tap=NAME[,mac=MAC]", "tap-fd=N[,mac=MAC]" or
 * "host-ip=IP,netmask=MASK[,mac=MAC]" (crosvm's spellings tap-name= and tap-fd= too).
 * 0 on success; otherwise err holds one line naming the problem. */
int cli_parse_net(const char *text, struct net_config *net, char *err, size_t errlen);

/* One --serial value: stdio, none, file:PATH, unix:PATH (listen), unix-connect:PATH,
 * unix-dgram:PATH or syslog. The path points into text. 0 or -errno with err set. */
int cli_parse_serial(const char *text, struct serial_config *serial, char *err, size_t errlen);

/* sun_path's size: a unix socket path must be shorter. */
#define CLI_UNIX_PATH_MAX 108
/* A non-empty path shorter than max bytes (max 0: any length). 0 or -errno with err set. */
int cli_check_path(const char *flag, size_t max, const char *path, char *err, size_t errlen);

void cli_print_help(void);
/* Features built into this binary, one per line (the system-test rig reads this). */
void cli_print_features(void);

#define N90VMM_VERSION "0.1.0"

#endif
