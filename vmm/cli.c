#include "vmm/cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"

enum long_only_option {
	OPT_TIMEOUT = 0x100,
	OPT_PROFILE,
	OPT_STATS,
	OPT_FEATURES,
	OPT_NO_STDIN,
	OPT_DISK,
	OPT_NET,
	OPT_JAIL,
	OPT_UID,
	OPT_GID,
	OPT_TRANSPORT,
	OPT_CONSOLE,
	OPT_COMMAND,
	OPT_SCRIPT,
	OPT_PROMPT,
	OPT_BOOT_TIMEOUT,
	OPT_COMMAND_TIMEOUT,
	OPT_STRICT,
	OPT_RESULT_JSON,
	OPT_CONSOLE_LOG,
	OPT_DUMP_FDT,
	OPT_CONNECT,
	OPT_LISTEN,
	OPT_LAUNCH,
	OPT_DISABLE_SANDBOX,
	OPT_SECCOMP_LOG,
	OPT_SERIAL,
	OPT_SOCKET,
};

static const struct option long_options[] = {
	{ "cpus", required_argument, NULL, 'c' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cmdline", required_argument, NULL, 'p' },
	{ "append", required_argument, NULL, 'p' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "net", required_argument, NULL, OPT_NET },
	{ "virtio-transport", required_argument, NULL, OPT_TRANSPORT },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "command", required_argument, NULL, OPT_COMMAND },
	{ "script", required_argument, NULL, OPT_SCRIPT },
	{ "prompt", required_argument, NULL, OPT_PROMPT },
	{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
	{ "command-timeout", required_argument, NULL, OPT_COMMAND_TIMEOUT },
	{ "strict", no_argument, NULL, OPT_STRICT },
	{ "result-json", required_argument, NULL, OPT_RESULT_JSON },
	{ "console-log", required_argument, NULL, OPT_CONSOLE_LOG },
	{ "dump-fdt", required_argument, NULL, OPT_DUMP_FDT },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "launch", required_argument, NULL, OPT_LAUNCH },
	{ "disable-sandbox", no_argument, NULL, OPT_DISABLE_SANDBOX },
	{ "seccomp-log", no_argument, NULL, OPT_SECCOMP_LOG },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "no-stdin", no_argument, NULL, OPT_NO_STDIN },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "verbose", no_argument, NULL, 'v' },
	{ "features", no_argument, NULL, OPT_FEATURES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

void cli_print_help(void)
{
	char profiles[256] = "";
	for (unsigned int i = 0; arch_profile_name(i); i++)
		snprintf(profiles + strlen(profiles), sizeof(profiles) - strlen(profiles), "%s%s", i ? ", " : "",
			 arch_profile_name(i));
	printf("Usage: n90vmm [options] KERNEL [ROOTFS]\n"
	       "Boot KERNEL (%s) on KVM (%s).\n\n", arch_kernel_formats, arch_name);
	printf("  -c, --cpus N          vCPUs (default: the profile's)\n"
	       "  -m, --mem SIZE        guest RAM; MiB, or with K/M/G suffix (default: the profile's)\n"
	       "  -p, --cmdline STR     kernel command line (alias --append)\n"
	       "  -i, --initrd FILE     initial ramdisk / multiboot module\n"
	       "      --profile NAME    machine layout: %s\n"
	       "                        (default: chosen from the kernel format)\n", profiles);
	printf("      --disk PATH[,ro][,direct][,io=auto|uring|sync][,queues=N]\n"
	       "                        virtio-blk disk (repeatable; ROOTFS is added last);\n"
	       "                        io_uring unless unavailable, one queue per vCPU\n"
	       "      --net tap=NAME[,mac=MAC] | host-ip=IP,netmask=MASK[,mac=MAC]\n"
	       "                        virtio-net NIC on a TAP device, existing or created\n"
	       "                        and configured by n90vmm (repeatable, up to 4)\n"
	       "      --virtio-transport pci|mmio\n"
	       "                        how virtio devices attach (default pci; mmio adds\n"
	       "                        virtio_mmio.device= to a Linux command line)\n"
	       "      --console serial|virtio\n"
	       "                        console device: COM1 (default) or virtio-console (hvc0)\n"
	       "      --serial stdio|none|file:PATH|unix:PATH|unix-connect:PATH|unix-dgram:PATH|syslog\n"
	       "                        where the console goes (default stdio); unix:PATH listens\n"
	       "                        and keeps output until a client connects\n"
	       "      --socket PATH     control socket: 'n90vmm stop PATH' ends the VM (exit 0)\n"
	       "      --timeout SEC     stop the guest after SEC seconds (exit 124)\n"
	       "Harness mode (run commands in the guest's shell; exit with the last one's status):\n"
	       "      --command CMD     run CMD at the shell prompt (repeatable)\n"
	       "      --script FILE     one command per line ('timeout=SEC CMD' for its own timeout)\n"
	       "      --prompt STR      the guest shell's prompt (default 'starry:~# ')\n"
	       "      --boot-timeout SEC    time to the first prompt (default 60; exit 124)\n"
	       "      --command-timeout SEC time per command (default 600; exit 124)\n"
	       "      --strict          put a random nonce in the exit marker (unforgeable)\n"
	       "      --result-json FILE    boot time, each command's status, time and output\n"
	       "      --console-log FILE    guest console to FILE instead of stderr\n"
	       "      --no-stdin        do not feed standard input to the guest console\n"
	       "      --stats           print device and exit counters when the VM stops\n"
	       "      --dump-fdt FILE   write the guest's device tree blob to FILE (arm64)\n"
	       "      --disable-sandbox don't confine threads with seccomp (debugging only)\n"
	       "      --seccomp-log     log forbidden syscalls instead of killing (debugging)\n"
	       "      --jail DIR        chroot into the empty directory DIR once everything is\n"
	       "                        open (root only)\n"
	       "      --uid ID|NAME     then run as this user (root only)\n"
	       "      --gid ID|NAME     and this group (default with --uid: the user's group)\n"
	       "  -v, --verbose         log boot steps, port 0x80 codes and unclaimed accesses\n"
	       "      --features        list the features built into this binary\n"
	       "      --host-info       what this host's KVM can do, as JSON (alone; exit 0)\n"
	       "  -h, --help            this text\n"
	       "  -V, --version         version\n\n"
	       "Also: n90vmm stop SOCKET; n90vmm run <crosvm flags> KERNEL (docs/crosvm-compat.md).\n"
	       "Console: COM1 on standard output; standard input goes to the guest. When standard\n"
	       "input is a terminal it is put in raw mode: press Ctrl-A then x to quit, Ctrl-A twice\n"
	       "to send Ctrl-A itself.\n"
	       "Exit status: 0 guest powered off, 64 bad usage, 65 bad kernel image, 66 missing\n"
	       "input file, 71 host setup failure, 80 guest reset, 81 triple fault, 82 KVM error,\n"
	       "124 timeout, 130 stopped by the user. See docs/exit-codes.md.\n");
}

void cli_print_features(void)
{
	static const char *const features[] = {
		"serial-16550", "virtio-mmio", "virtio-pci", "pci-intx", "virtio-blk", "virtio-console", "virtio-net", "harness", "crosvm-cli", "seccomp",
	};
	for (size_t i = 0; arch_features[i]; i++)
		printf("%s\n", arch_features[i]);
	for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
		printf("%s\n", features[i]);
}

int cli_parse_size(const char *text, uint64_t *bytes)
{
	char *end;
	errno = 0;
	if (!text || !*text || *text == '-')
		return -EINVAL;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text)
		return -EINVAL;
	unsigned int shift;
	switch (*end) {
	case '\0':
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	case 'K':
	case 'k':
		shift = 10;
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] != '\0' && !(end[1] == 'i' && end[2] == 'B' && end[3] == '\0') &&
	    !((end[1] == 'B' || end[1] == 'b') && end[2] == '\0'))
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out);

/* "PATH[,ro][,direct][,io=auto|uring|sync][,queues=N]". The path points into disk->spec, freed by cli_config_release. */
static int parse_disk(const char *text, struct disk_config *disk, char *err, size_t errlen)
{
	memset(disk, 0, sizeof(*disk));
	char *spec = disk->spec = strdup(text);
	if (!spec) {
		snprintf(err, errlen, "--disk: out of memory");
		return -ENOMEM;
	}
	char *opt = strchr(spec, ',');
	if (opt)
		*opt++ = '\0';
	if (!*spec) {
		snprintf(err, errlen, "--disk: missing path");
		return -EINVAL;
	}
	disk->path = spec;
	while (opt && *opt) {
		char *next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		if (strcmp(opt, "ro") == 0)
			disk->read_only = true;
		else if (strcmp(opt, "direct") == 0)
			disk->direct = true;
		else if (strcmp(opt, "io=auto") == 0)
			disk->io = DISK_IO_AUTO;
		else if (strcmp(opt, "io=uring") == 0 || strcmp(opt, "io=io_uring") == 0)
			disk->io = DISK_IO_URING;
		else if (strcmp(opt, "io=sync") == 0)
			disk->io = DISK_IO_SYNC;
		else if (strncmp(opt, "queues=", 7) == 0) {
			unsigned long n;
			if (parse_uint(opt + 7, 64, &n) < 0 || n == 0) {
				snprintf(err, errlen, "--disk: queues= takes 1..64 (capped at the device's limit)");
				return -EINVAL;
			}
			disk->queues = (unsigned int)n;
		} else {
			snprintf(err, errlen, "--disk: unknown option '%s' (ro, direct, io=auto|uring|sync, queues=N)", opt);
			return -EINVAL;
		}
		opt = next;
	}
	return 0;
}

static int parse_ipv4(const char *text, uint32_t *out)
{
	struct in_addr a;
	if (inet_pton(AF_INET, text, &a) != 1)
		return -EINVAL;
	*out = ntohl(a.s_addr);
	return 0;
}

static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;
	if (sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	/* A multicast address cannot be a NIC's own. */
	return (mac[0] & 1) ? -EINVAL : 0;
}

int cli_parse_net(const char *text, struct net_config *net, char *err, size_t errlen)
{
	memset(net, 0, sizeof(*net));
	net->tap_fd = -1;
	bool has_ip = false, has_mask = false;
	char *spec = net->spec = strdup(text); /* tap_name points into it; see cli_config_release */
	if (!spec) {
		snprintf(err, errlen, "--net: out of memory");
		return -ENOMEM;
	}
	for (char *opt = spec, *next; opt && *opt; opt = next) {
		next = strchr(opt, ',');
		if (next)
			*next++ = '\0';
		char *value = strchr(opt, '=');
		if (!value) {
			snprintf(err, errlen, "--net: '%s' is not KEY=VALUE", opt);
			return -EINVAL;
		}
		*value++ = '\0';
		unsigned long fd;
		if (strcmp(opt, "tap") == 0 || strcmp(opt, "tap-name") == 0) {
			if (!*value || strlen(value) >= 16) { /* IFNAMSIZ */
				snprintf(err, errlen, "--net: bad interface name '%s'", value);
				return -EINVAL;
			}
			net->tap_name = value;
		} else if (strcmp(opt, "tap-fd") == 0) {
			if (parse_uint(value, INT32_MAX, &fd) || fd < 3) {
				snprintf(err, errlen, "--net: tap-fd '%s' is not an inherited descriptor", value);
				return -EINVAL;
			}
			net->tap_fd = (int)fd;
		} else if (strcmp(opt, "host-ip") == 0) {
			if (parse_ipv4(value, &net->host_ip)) {
				snprintf(err, errlen, "--net: host-ip '%s' is not an IPv4 address", value);
				return -EINVAL;
			}
			has_ip = true;
		} else if (strcmp(opt, "netmask") == 0) {
			uint32_t m;
			/* A netmask is contiguous ones from the top. */
			if (parse_ipv4(value, &m) || (m & (~m >> 1))) {
				snprintf(err, errlen, "--net: netmask '%s' is not a contiguous IPv4 mask", value);
				return -EINVAL;
			}
			net->netmask = m;
			has_mask = true;
		} else if (strcmp(opt, "mac") == 0) {
			if (parse_mac(value, net->mac)) {
				snprintf(err, errlen, "--net: mac '%s' is not a unicast MAC address", value);
				return -EINVAL;
			}
			net->has_mac = true;
		} else if (strcmp(opt, "vhost-net") == 0) {
			snprintf(err, errlen, "--net: vhost-net is not supported");
			return -EINVAL;
		} else {
			snprintf(err, errlen, "--net: unknown option '%s' (tap, tap-fd, host-ip, netmask, mac)", opt);
			return -EINVAL;
		}
	}
	int backends = (net->tap_name != NULL) + (net->tap_fd >= 0) + (has_ip || has_mask);
	if (backends != 1) {
		snprintf(err, errlen, "--net: give exactly one of tap=NAME, tap-fd=N or host-ip=IP,netmask=MASK");
		return -EINVAL;
	}
	if (has_ip != has_mask) {
		snprintf(err, errlen, "--net: host-ip and netmask go together");
		return -EINVAL;
	}
	return 0;
}

/* --uid: a number, or a user name looked up now (before any jail hides /etc/passwd); a
 * name also sets the group unless --gid gives one. */
static int parse_user(const char *text, struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned long id;
	if (parse_uint(text, UINT32_MAX - 1, &id) == 0) {
		cfg->jail.uid = (uid_t)id;
	} else {
		struct passwd *pw = getpwnam(text);
		if (!pw) {
			snprintf(err, errlen, "--uid: no user '%s'", text);
			return -EINVAL;
		}
		cfg->jail.uid = pw->pw_uid;
		if (!cfg->jail.has_gid) {
			cfg->jail.gid = pw->pw_gid;
			cfg->user_gid_default = true;
		}
	}
	cfg->jail.has_uid = true;
	if (cfg->user_gid_default)
		cfg->jail.has_gid = true;
	return 0;
}

static int parse_group(const char *text, struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned long id;
	if (parse_uint(text, UINT32_MAX - 1, &id) == 0) {
		cfg->jail.gid = (gid_t)id;
	} else {
		struct group *gr = getgrnam(text);
		if (!gr) {
			snprintf(err, errlen, "--gid: no group '%s'", text);
			return -EINVAL;
		}
		cfg->jail.gid = gr->gr_gid;
	}
	cfg->jail.has_gid = true;
	cfg->user_gid_default = false;
	return 0;
}

int cli_parse_serial(const char *text, struct serial_config *serial, char *err, size_t errlen)
{
	static const struct {
		const char *prefix;
		enum serial_sink_kind kind;
	} kinds[] = {
		{ "file:", SERIAL_SINK_FILE },
		{ "unix:", SERIAL_SINK_UNIX_LISTEN },
		{ "unix-connect:", SERIAL_SINK_UNIX_CONNECT },
		{ "unix-dgram:", SERIAL_SINK_UNIX_DGRAM },
	};
	memset(serial, 0, sizeof(*serial));
	if (strcmp(text, "stdio") == 0)
		return 0;
	if (strcmp(text, "none") == 0 || strcmp(text, "syslog") == 0) {
		serial->kind = text[0] == 'n' ? SERIAL_SINK_NONE : SERIAL_SINK_SYSLOG;
		return 0;
	}
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(text, kinds[i].prefix, n) != 0)
			continue;
		serial->kind = kinds[i].kind;
		serial->path = text + n;
		return cli_check_path("--serial", serial->kind == SERIAL_SINK_FILE ? 0 : CLI_UNIX_PATH_MAX,
				      serial->path, err, errlen);
	}
	snprintf(err, errlen, "--serial: '%s' is not stdio, none, file:PATH, unix:PATH, unix-connect:PATH, "
		 "unix-dgram:PATH or syslog", text);
	return -EINVAL;
}

int cli_check_path(const char *flag, size_t max, const char *path, char *err, size_t errlen)
{
	if (!*path) {
		snprintf(err, errlen, "%s: missing path", flag);
		return -EINVAL;
	}
	/* sun_path holds 108 bytes including the terminator; a longer path cannot be bound. */
	if (max && strlen(path) >= max) {
		snprintf(err, errlen, "%s: socket path longer than %zu bytes", flag, max - 1);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int parse_seconds(const char *flag, const char *text, double *out, char *err, size_t errlen)
{
	char *end;
	errno = 0;
	*out = strtod(text, &end);
	if (errno || *end || end == text || !(*out > 0) || *out > 1e7) {
		snprintf(err, errlen, "%s: '%s' is not a number of seconds", flag, text);
		return -EINVAL;
	}
	return 0;
}

static int parse_uint(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!text || !*text || *text == '-')
		return -EINVAL;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* Whether getopt's last error was about the long option `arg` rather than a short one.
 * An unknown short option inside a cluster ("-zv") leaves optind on the cluster, so
 * argv[optind - 1] is then some earlier argument; getopt leaves the character in optopt.
 * A long option's error sets optopt to 0 (unknown, ambiguous) or to its own value
 * ("--help=yes"). */
static bool long_option_error(const char *arg, int opt)
{
	if (strncmp(arg, "--", 2) != 0)
		return false;
	if (opt == 0)
		return true;
	size_t name_len = strcspn(arg + 2, "=");
	for (const struct option *o = long_options; o->name; o++)
		if (strncmp(o->name, arg + 2, name_len) == 0 && o->val == opt)
			return true;
	return false;
}

/* The options `n90vmm harness` takes: the harness's own and the console log. Everything
 * else describes a VM, which the client does not run. */
static bool client_option(int opt)
{
	switch (opt) {
	case OPT_COMMAND: case OPT_SCRIPT: case OPT_PROMPT: case OPT_BOOT_TIMEOUT: case OPT_COMMAND_TIMEOUT:
	case OPT_STRICT: case OPT_RESULT_JSON: case OPT_CONSOLE_LOG: case OPT_CONNECT: case OPT_LISTEN: case OPT_LAUNCH:
	case 'v': case 'h': case ':': case '?': case 'V':
		return true;
	}
	return false;
}

static enum cli_result parse(int argc, char **argv, bool client, struct vm_config *cfg, char *err, size_t errlen);

enum cli_result cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	return parse(argc, argv, false, cfg, err, errlen);
}

enum cli_result cli_parse_client(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	enum cli_result r = parse(argc, argv, true, cfg, err, errlen);
	if (r != CLI_RUN)
		return r;
	if (!cfg->client.connect == !cfg->client.listen) {
		snprintf(err, errlen, "harness: give one of --connect unix:PATH|tcp:HOST:PORT or --listen unix:PATH");
		return CLI_ERROR;
	}
	if (cfg->harness.ncommands == 0) {
		snprintf(err, errlen, "harness: no --command or --script given");
		return CLI_ERROR;
	}
	return CLI_RUN;
}

void cli_config_release(struct vm_config *cfg)
{
	/* Every slot, not just the counted ones: a refused option leaves its copy in the next slot. */
	for (unsigned int i = 0; i < CONFIG_MAX_DISKS; i++) {
		free(cfg->disks[i].spec);
		cfg->disks[i].spec = NULL;
	}
	for (unsigned int i = 0; i < CONFIG_MAX_NICS; i++) {
		free(cfg->nets[i].spec);
		cfg->nets[i].spec = NULL;
	}
}

static enum cli_result parse(int argc, char **argv, bool client, struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned long n;
	int opt;

	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->stdin_enabled = true;
	cfg->transport = VIRTIO_TRANSPORT_PCI;
	/* 0, not 1: glibc then also forgets the half-parsed short-option cluster it kept from a
	 * previous argv (found by the fuzzer: a stale pointer into freed memory). */
	optind = 0;
	opterr = 0; /* we report errors ourselves, in one line */
	int longindex = -1;
	while ((opt = getopt_long(argc, argv, ":c:m:p:i:vhV", long_options, &longindex)) != -1) {
		if (client ? !client_option(opt) : (opt == OPT_CONNECT || opt == OPT_LISTEN || opt == OPT_LAUNCH)) {
			/* Named from the table: with "--flag VALUE", argv[optind - 1] is the value. */
			if (longindex >= 0)
				snprintf(err, errlen, "--%s is not an option of '%s'", long_options[longindex].name,
					 client ? "n90vmm harness" : "n90vmm (it belongs to 'n90vmm harness')");
			else
				snprintf(err, errlen, "-%c is not an option of 'n90vmm harness'", opt);
			return CLI_ERROR;
		}
		longindex = -1;
		switch (opt) {
		case OPT_CONNECT:
			if (strncmp(optarg, "unix:", 5) != 0 && strncmp(optarg, "tcp:", 4) != 0) {
				snprintf(err, errlen, "--connect: '%s' is not unix:PATH or tcp:HOST:PORT", optarg);
				return CLI_ERROR;
			}
			cfg->client.connect = optarg;
			break;
		case OPT_LISTEN:
			if (strncmp(optarg, "unix:", 5) != 0 || !optarg[5]) {
				snprintf(err, errlen, "--listen: '%s' is not unix:PATH", optarg);
				return CLI_ERROR;
			}
			cfg->client.listen = optarg;
			break;
		case OPT_LAUNCH:
			cfg->client.launch = optarg;
			break;
		case 'c':
			if (parse_uint(optarg, 64, &n) || n == 0) {
				snprintf(err, errlen, "--cpus: '%s' is not a vCPU count (1..64)", optarg);
				return CLI_ERROR;
			}
			cfg->cpus = (unsigned int)n;
			break;
		case 'm':
			if (cli_parse_size(optarg, &cfg->mem_bytes) || cfg->mem_bytes == 0) {
				snprintf(err, errlen, "--mem: '%s' is not a size (e.g. 512, 512M, 2G)", optarg);
				return CLI_ERROR;
			}
			break;
		case 'p':
			cfg->cmdline = optarg;
			break;
		case 'i':
			cfg->initrd_path = optarg;
			break;
		case OPT_PROFILE:
			cfg->profile_name = optarg;
			break;
		case OPT_DISK:
			if (cfg->ndisks >= CONFIG_MAX_DISKS) {
				snprintf(err, errlen, "--disk: at most %d disks", CONFIG_MAX_DISKS);
				return CLI_ERROR;
			}
			if (parse_disk(optarg, &cfg->disks[cfg->ndisks], err, errlen))
				return CLI_ERROR;
			cfg->ndisks++;
			break;
		case OPT_JAIL:
			if (!*optarg) {
				snprintf(err, errlen, "--jail: empty directory name");
				return CLI_ERROR;
			}
			cfg->jail.dir = optarg;
			break;
		case OPT_UID:
			if (parse_user(optarg, cfg, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_GID:
			if (parse_group(optarg, cfg, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_NET:
			if (cfg->nnets >= CONFIG_MAX_NICS) {
				snprintf(err, errlen, "--net: at most %d NICs", CONFIG_MAX_NICS);
				return CLI_ERROR;
			}
			if (cli_parse_net(optarg, &cfg->nets[cfg->nnets], err, errlen))
				return CLI_ERROR;
			cfg->nnets++;
			break;
		case OPT_COMMAND:
			if (cfg->harness.ncommands >= HARNESS_MAX_COMMANDS) {
				snprintf(err, errlen, "--command: at most %d commands", HARNESS_MAX_COMMANDS);
				return CLI_ERROR;
			}
			if (!*optarg || strchr(optarg, '\n') || strlen(optarg) > 4096) {
				snprintf(err, errlen, "--command: empty, multi-line or longer than 4096 bytes");
				return CLI_ERROR;
			}
			cfg->harness.commands[cfg->harness.ncommands++] = optarg;
			break;
		case OPT_SCRIPT:
			if (harness_load_script(&cfg->harness, optarg, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_PROMPT:
			if (!*optarg || strlen(optarg) > 200) {
				snprintf(err, errlen, "--prompt: empty or longer than 200 bytes");
				return CLI_ERROR;
			}
			cfg->harness.prompt = optarg;
			break;
		case OPT_BOOT_TIMEOUT:
			if (parse_seconds("--boot-timeout", optarg, &cfg->harness.boot_timeout, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_COMMAND_TIMEOUT:
			if (parse_seconds("--command-timeout", optarg, &cfg->harness.command_timeout, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_STRICT:
			cfg->harness.strict = true;
			break;
		case OPT_RESULT_JSON:
			cfg->harness.result_json = optarg;
			break;
		case OPT_CONSOLE_LOG:
			cfg->console_log = optarg;
			break;
		case OPT_DUMP_FDT:
			cfg->dump_fdt = optarg;
			break;
		case OPT_DISABLE_SANDBOX:
			cfg->sandbox = SANDBOX_OFF;
			break;
		case OPT_SECCOMP_LOG:
			if (cfg->sandbox != SANDBOX_OFF)
				cfg->sandbox = SANDBOX_LOG;
			break;
		case OPT_SERIAL:
			if (cli_parse_serial(optarg, &cfg->serial, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_SOCKET:
			if (cli_check_path("--socket", CLI_UNIX_PATH_MAX, optarg, err, errlen))
				return CLI_ERROR;
			cfg->control_socket = optarg;
			break;
		case OPT_CONSOLE:
			if (strcmp(optarg, "serial") == 0)
				cfg->console = CONSOLE_SERIAL;
			else if (strcmp(optarg, "virtio") == 0)
				cfg->console = CONSOLE_VIRTIO;
			else {
				snprintf(err, errlen, "--console: '%s' is not serial or virtio", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_TRANSPORT:
			if (strcmp(optarg, "pci") == 0)
				cfg->transport = VIRTIO_TRANSPORT_PCI;
			else if (strcmp(optarg, "mmio") == 0)
				cfg->transport = VIRTIO_TRANSPORT_MMIO;
			else {
				snprintf(err, errlen, "--virtio-transport: '%s' is not pci or mmio", optarg);
				return CLI_ERROR;
			}
			break;
		case OPT_TIMEOUT:
			if (parse_seconds("--timeout", optarg, &cfg->timeout_sec, err, errlen))
				return CLI_ERROR;
			break;
		case OPT_NO_STDIN:
			cfg->stdin_enabled = false;
			break;
		case OPT_STATS:
			cfg->stats = true;
			break;
		case 'v':
			cfg->verbose = true;
			break;
		case OPT_FEATURES:
			return CLI_FEATURES;
		case 'h':
			return CLI_HELP;
		case 'V':
			return CLI_VERSION;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CLI_ERROR;
		default:
			if (long_option_error(argv[optind - 1], optopt))
				snprintf(err, errlen, "unknown option '%s'", argv[optind - 1]);
			else if (isprint(optopt))
				snprintf(err, errlen, "unknown option '-%c'", optopt);
			else
				snprintf(err, errlen, "unknown option byte 0x%02x", (unsigned)optopt & 0xff);
			return CLI_ERROR;
		}
	}
	if (client) {
		if (optind < argc) {
			snprintf(err, errlen, "harness: unexpected argument '%s'", argv[optind]);
			return CLI_ERROR;
		}
		return CLI_RUN;
	}
	if (optind >= argc) {
		snprintf(err, errlen, "no KERNEL given");
		return CLI_ERROR;
	}
	cfg->kernel_path = argv[optind++];
	if (optind < argc) {
		cfg->rootfs_path = argv[optind++];
		if (cfg->ndisks >= CONFIG_MAX_DISKS) {
			snprintf(err, errlen, "ROOTFS: at most %d disks", CONFIG_MAX_DISKS);
			return CLI_ERROR;
		}
		cfg->disks[cfg->ndisks++] = (struct disk_config){ .path = cfg->rootfs_path };
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' after KERNEL and ROOTFS", argv[optind]);
		return CLI_ERROR;
	}
	return CLI_RUN;
}
