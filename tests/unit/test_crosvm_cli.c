/* crosvm compatibility mode: real crosvm command lines give the same vm_config as the
 * equivalent native flags (compared field by field); bad ones are refused naming the flag;
 * crosvm's exit statuses; the control socket's protocol. Every worked example in
 * docs/crosvm-compat.md is here. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vmm/cli.h"
#include "vmm/control.h"
#include "arch/arch.h"
#include "vmm/crosvm_cli.h"
#include "vmm/exit_status.h"

static struct vm_config crosvm_cfg, native_cfg;
static struct crosvm_cli out;

static int count_args(const char *const *args)
{
	int n = 0;
	while (args[n])
		n++;
	cr_assert_lt(n, 255);
	return n;
}

/* getopt permutes argv: each parser gets its own copy of the array. */
static enum crosvm_command parse_crosvm(const char *const *args)
{
	static char *argv[256];
	int argc = count_args(args);
	memcpy(argv, args, sizeof(char *) * (size_t)(argc + 1));
	return crosvm_cli_parse(argc, argv, &crosvm_cfg, &out);
}

static void parse_native(const char *const *args)
{
	static char *argv[256];
	char err[256] = "";
	int argc = count_args(args);
	memcpy(argv, args, sizeof(char *) * (size_t)(argc + 1));
	cr_assert_eq(cli_parse(argc, argv, &native_cfg, err, sizeof(err)), CLI_RUN, "native: %s", err);
}

#define CROSVM(...) parse_crosvm((const char *const[]){ __VA_ARGS__, NULL })
#define NATIVE(...) parse_native((const char *const[]){ "n90vmm", __VA_ARGS__, NULL })

static void assert_str_same(const char *what, const char *a, const char *b)
{
	if (!a || !b)
		cr_assert_eq(a, b, "%s: '%s' vs '%s'", what, a ? a : "(null)", b ? b : "(null)");
	else
		cr_assert_str_eq(a, b, "%s: '%s' vs '%s'", what, a, b);
}

/* Every field of struct vm_config, so a new field cannot silently differ. */
static void assert_same_config(void)
{
	const struct vm_config *c = &crosvm_cfg, *n = &native_cfg;
	assert_str_same("kernel", c->kernel_path, n->kernel_path);
	assert_str_same("rootfs", c->rootfs_path, n->rootfs_path);
	assert_str_same("initrd", c->initrd_path, n->initrd_path);
	assert_str_same("cmdline", c->cmdline, n->cmdline);
	assert_str_same("profile", c->profile_name, n->profile_name);
	cr_assert_eq(c->cpus, n->cpus, "cpus %u vs %u", c->cpus, n->cpus);
	cr_assert_eq(c->mem_bytes, n->mem_bytes, "mem %llu vs %llu", (unsigned long long)c->mem_bytes,
		     (unsigned long long)n->mem_bytes);
	cr_assert_eq(c->timeout_sec, n->timeout_sec);
	cr_assert_eq(c->verbose, n->verbose);
	cr_assert_eq(c->stats, n->stats);
	cr_assert_eq(c->stdin_enabled, n->stdin_enabled);
	cr_assert_eq(c->ndisks, n->ndisks, "disks %u vs %u", c->ndisks, n->ndisks);
	for (unsigned int i = 0; i < c->ndisks; i++) {
		assert_str_same("disk path", c->disks[i].path, n->disks[i].path);
		cr_assert_eq(c->disks[i].read_only, n->disks[i].read_only, "disk %u ro", i);
		cr_assert_eq(c->disks[i].direct, n->disks[i].direct, "disk %u direct", i);
	}
	cr_assert_eq(c->nnets, n->nnets);
	for (unsigned int i = 0; i < c->nnets; i++) {
		assert_str_same("tap", c->nets[i].tap_name, n->nets[i].tap_name);
		cr_assert_eq(c->nets[i].tap_fd, n->nets[i].tap_fd);
		cr_assert_eq(c->nets[i].host_ip, n->nets[i].host_ip);
		cr_assert_eq(c->nets[i].netmask, n->nets[i].netmask);
		cr_assert_eq(c->nets[i].has_mac, n->nets[i].has_mac);
		cr_assert_arr_eq(c->nets[i].mac, n->nets[i].mac, 6);
		cr_assert_eq(c->nets[i].vhost_net, n->nets[i].vhost_net);
	}
	cr_assert_eq(c->transport, n->transport);
	cr_assert_eq(c->console, n->console);
	cr_assert_eq(c->harness.ncommands, n->harness.ncommands);
	assert_str_same("console log", c->console_log, n->console_log);
	cr_assert_eq(c->sandbox, n->sandbox);
	cr_assert_eq(c->serial.kind, n->serial.kind, "serial kind %d vs %d", c->serial.kind, n->serial.kind);
	assert_str_same("serial path", c->serial.path, n->serial.path);
	assert_str_same("control socket", c->control_socket, n->control_socket);
	/* The one intended difference: compatibility mode exits with crosvm's statuses. */
	cr_assert(c->crosvm_exit_codes);
	cr_assert_not(n->crosvm_exit_codes);
}

#define assert_crosvm_error(result, needle)                                                             \
	do {                                                                                            \
		cr_assert_eq((result), CROSVM_CMD_ERROR);                                               \
		cr_assert_null(strchr(out.err, '\n'), "one line: '%s'", out.err);                        \
		cr_assert_not_null(strstr(out.err, (needle)), "'%s' should name '%s'", out.err, (needle)); \
	} while (0)

/* docs/crosvm-compat.md, example 1: the upstream StarryOS crosvm runner, verbatim
 * (scripts/starry_crosvm_runner.py with --rootfs and --net; its --rwroot has no value). */
Test(crosvm_cli, starry_runner_command_line)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--cpus", "num-cores=2", "--mem", "size=2048", "--serial",
			    "type=stdout,num=1,console=true,stdin=true", "--root", "/srv/rootfs.img", "--rwroot", "--net",
			    "tap-name=crosvm-tap", "--params", "console=ttyS0 root=/dev/vda rw",
			    "/srv/StarryOS/arceos/starryos.bin"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("-c", "2", "-m", "2048", "--disk", "/srv/rootfs.img", "--net", "tap=crosvm-tap", "-p",
	       "panic=-1 console=ttyS0 console=ttyS0 root=/dev/vda rw root=/dev/vda rw", "/srv/StarryOS/arceos/starryos.bin");
	assert_same_config();
	cr_assert_eq(out.nwarnings, 0);
}

/* Example 2: the test guest, crosvm style (tests/integration/kvm-cases.sh boots this). */
Test(crosvm_cli, minimal_run_as_n90vmm_run)
{
	cr_assert_eq(CROSVM("n90vmm", "run", "--cpus", "1", "--mem", "256", "-p", "action=reset", "mb.bin"), CROSVM_CMD_RUN,
		     "%s", out.err);
	NATIVE("-c", "1", "-m", "256", "-p", "panic=-1 console=ttyS0 action=reset", "mb.bin");
	assert_same_config();
}

Test(crosvm_cli, argv0_crosvm_with_global_options)
{
	cr_assert_eq(CROSVM("/usr/local/bin/crosvm", "--log-level", "info", "--no-syslog", "run", "-c", "4", "-m", "512",
			    "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("-c", "4", "-m", "512", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
	cr_assert_eq(out.nwarnings, 1, "--log-level is ignored with a warning");
	cr_assert_not_null(strstr(out.warnings[0], "--log-level"));
}

/* Example 3: --block with a root disk and options, repeated --params, an initrd. */
Test(crosvm_cli, block_root_and_params)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--block", "/img/root.ext4,root", "--block", "path=/img/data.img,ro,direct=true",
			    "-i", "initrd.gz", "-p", "quiet", "--params", "init=/sbin/init", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--disk", "/img/root.ext4", "--disk", "/img/data.img,ro,direct", "-i", "initrd.gz", "-p",
	       "panic=-1 console=ttyS0 quiet init=/sbin/init root=/dev/vda rw", "vmlinuz");
	assert_same_config();
}

/* Example 4: the deprecated disk flags; the root disk's letter is its place among all disks. */
Test(crosvm_cli, deprecated_disk_flags)
{
	cr_assert_eq(CROSVM("crosvm", "run", "-d", "ro.img", "--rwdisk", "rw.img,o_direct=true", "-r", "root.img,sparse=false",
			    "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--disk", "ro.img,ro", "--disk", "rw.img,direct", "--disk", "root.img,ro", "-p",
	       "panic=-1 console=ttyS0 root=/dev/vdc ro", "vmlinuz");
	assert_same_config();
	cr_assert_eq(out.nwarnings, 1);
	cr_assert_not_null(strstr(out.warnings[0], "sparse=false"));
}

Test(crosvm_cli, rwroot_with_a_path)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--disk", "a.img", "--rwroot", "root.img", "vmlinuz"), CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--disk", "a.img,ro", "--disk", "root.img", "-p", "panic=-1 console=ttyS0 root=/dev/vdb rw", "vmlinuz");
	assert_same_config();
}

/* Example 5: console on a unix stream socket crosvm connects to, a control socket. */
Test(crosvm_cli, unix_stream_serial_and_control_socket)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=unix-stream,path=/tmp/console.sock,console", "-s",
			    "/tmp/vm.sock", "--disable-sandbox", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--serial", "unix-connect:/tmp/console.sock", "--socket", "/tmp/vm.sock", "--disable-sandbox", "-p",
	       "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
}

/* Example 6: virtio-console written to a file, earlycon on... serial hardware only. */
Test(crosvm_cli, virtio_console_to_file)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=file,path=/tmp/console.log,hardware=virtio-console,console",
			    "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--console", "virtio", "--serial", "file:/tmp/console.log", "-p", "panic=-1 console=hvc0", "vmlinuz");
	assert_same_config();
}

Test(crosvm_cli, earlycon_and_sink_ports)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=stdout,earlycon,console", "--serial", "type=sink,num=2",
			    "--serial", "type=unix,path=/run/vmlog.sock,num=1,hardware=virtio-console", "vmlinuz"),
		     CROSVM_CMD_ERROR, "two console ports");
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=stdout,earlycon,console", "--serial", "type=sink,num=2",
			    "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	/* The console UART's earlycon is the architecture's: port I/O on x86, MMIO on arm64. */
	char cmdline[128];
	snprintf(cmdline, sizeof(cmdline), "panic=-1 console=ttyS0 earlycon=%s", arch_serial_earlycon);
	NATIVE("-p", cmdline, "vmlinuz");
	assert_same_config();
}

Test(crosvm_cli, syslog_and_datagram_serial)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=syslog", "vmlinuz"), CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--serial", "syslog", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=unix,path=/run/vmlog.sock", "vmlinuz"), CROSVM_CMD_RUN, "%s",
		     out.err);
	NATIVE("--serial", "unix-dgram:/run/vmlog.sock", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
	/* Without console, crosvm still makes serial 1 the console when no port claims it. */
	cr_assert_eq(CROSVM("crosvm", "run", "--serial", "type=sink", "vmlinuz"), CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--serial", "none", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
}

/* Example 7: the older per-NIC flags, and --net with crosvm's keys. */
Test(crosvm_cli, network_flags)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--host-ip", "192.168.10.1", "--netmask", "255.255.255.0", "--mac",
			    "52:54:00:12:34:56", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--net", "host-ip=192.168.10.1,netmask=255.255.255.0,mac=52:54:00:12:34:56", "-p", "panic=-1 console=ttyS0",
	       "vmlinuz");
	assert_same_config();
	cr_assert_eq(CROSVM("crosvm", "run", "--net", "tap-fd=5,mac=52:54:00:00:00:01", "--tap-name", "vmtap0", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--net", "tap-fd=5,mac=52:54:00:00:00:01", "--net", "tap=vmtap0", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
}

/* Example 8: harmless flags are accepted, each with a one-line warning naming it. */
Test(crosvm_cli, harmless_flags_warn)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--no-balloon", "--no-rng", "--no-usb", "--seccomp-policy-dir",
			    "/usr/share/policy/crosvm", "--seccomp-log-failures", "--kvm-device", "/dev/kvm", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	NATIVE("--seccomp-log", "-p", "panic=-1 console=ttyS0", "vmlinuz");
	assert_same_config();
	static const char *const named[] = { "--no-balloon", "--no-rng", "--no-usb", "--seccomp-policy-dir" };
	cr_assert_eq(out.nwarnings, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_not_null(strstr(out.warnings[i], named[i]), "'%s'", out.warnings[i]);
		cr_assert_null(strchr(out.warnings[i], '\n'));
	}
}

Test(crosvm_cli, long_options_with_equals)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--cpus=2", "--mem=size=128", "--params=a=b", "--", "-kernel"), CROSVM_CMD_RUN,
		     "%s", out.err);
	NATIVE("-c", "2", "-m", "128", "-p", "panic=-1 console=ttyS0 a=b", "--", "-kernel");
	assert_same_config();
}

Test(crosvm_cli, refusals_name_the_flag)
{
	assert_crosvm_error(CROSVM("crosvm", "run", "--gpu", "backend=2d", "vmlinuz"), "--gpu");
	assert_crosvm_error(CROSVM("crosvm", "run", "--frobnicate", "vmlinuz"), "--frobnicate");
	assert_crosvm_error(CROSVM("crosvm", "run", "-z", "vmlinuz"), "-z");
	assert_crosvm_error(CROSVM("crosvm", "run", "--vhost-net", "vmlinuz"), "--vhost-net");
	assert_crosvm_error(CROSVM("crosvm", "run", "--cpus", "0", "vmlinuz"), "--cpus");
	assert_crosvm_error(CROSVM("crosvm", "run", "--cpus", "65", "vmlinuz"), "--cpus");
	assert_crosvm_error(CROSVM("crosvm", "run", "--cpus", "num-cores=2,clusters=[[0]]", "vmlinuz"), "clusters");
	assert_crosvm_error(CROSVM("crosvm", "run", "--mem", "2G", "vmlinuz"), "--mem");
	assert_crosvm_error(CROSVM("crosvm", "run", "--mem", "size=-1", "vmlinuz"), "--mem");
	assert_crosvm_error(CROSVM("crosvm", "run", "--mem"), "--mem");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=pty", "vmlinuz"), "--serial");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=file", "vmlinuz"), "path");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=stdout,input=/dev/null", "vmlinuz"), "input");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=stdout,num=2", "vmlinuz"), "num=2");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=stdout", "--serial", "num=1", "vmlinuz"), "twice");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "console,type=stdout", "--serial", "type=sink,num=2,console",
				   "vmlinuz"),
			    "console");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "hardware=debugcon", "vmlinuz"), "hardware");
	assert_crosvm_error(CROSVM("crosvm", "run", "--serial", "type=unix-stream,path=/tmp/" /* 120 bytes */
				   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
				   "vmlinuz"),
			    "longer");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "a.img,ro=maybe", "vmlinuz"), "--block");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "ro=true", "vmlinuz"), "no path");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "a.img,block-size=4096", "vmlinuz"), "block-size");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "a.img,id=123456789012345678901", "vmlinuz"), "id");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "a.img,root", "--root", "b.img", "vmlinuz"), "root");
	assert_crosvm_error(CROSVM("crosvm", "run", "--disk", "a.img,ro", "vmlinuz"), "--disk");
	assert_crosvm_error(CROSVM("crosvm", "run", "--rwroot", "--mem", "64", "vmlinuz"), "--rwroot");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "", "vmlinuz"), "--block");
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "a,,ro", "vmlinuz"), "--block");
	assert_crosvm_error(CROSVM("crosvm", "run", "--net", "vhost-net=true", "vmlinuz"), "--net");
	assert_crosvm_error(CROSVM("crosvm", "run", "--host-ip", "10.0.0.1", "vmlinuz"), "netmask");
	assert_crosvm_error(CROSVM("crosvm", "run", "--no-balloon=true", "vmlinuz"), "--no-balloon");
	assert_crosvm_error(CROSVM("crosvm", "run", "--kvm-device", "/dev/null", "vmlinuz"), "--kvm-device");
	assert_crosvm_error(CROSVM("crosvm", "run", "-s", "", "vmlinuz"), "--socket");
	assert_crosvm_error(CROSVM("crosvm", "run", "--cpus", "2"), "KERNEL");
	assert_crosvm_error(CROSVM("crosvm", "run", "vmlinuz", "rootfs.img"), "rootfs.img");
	assert_crosvm_error(CROSVM("crosvm", "balloon", "1", "vm.sock"), "balloon");
	assert_crosvm_error(CROSVM("crosvm", "--frob", "run", "vmlinuz"), "--frob");
	assert_crosvm_error(CROSVM("crosvm"), "subcommand");
	assert_crosvm_error(CROSVM("crosvm", "stop"), "stop");
	assert_crosvm_error(CROSVM("crosvm", "stop", "a", "b"), "stop");
}

Test(crosvm_cli, every_block_disk_is_counted)
{
	cr_assert_eq(CROSVM("crosvm", "run", "--block", "1", "--block", "2", "--block", "3", "--block", "4", "--block", "5",
			    "--block", "6", "--block", "7", "--block", "8", "vmlinuz"),
		     CROSVM_CMD_RUN, "%s", out.err);
	cr_assert_eq(crosvm_cfg.ndisks, 8);
	assert_crosvm_error(CROSVM("crosvm", "run", "--block", "1", "--block", "2", "--block", "3", "--block", "4", "--block",
				   "5", "--block", "6", "--block", "7", "--block", "8", "--block", "9", "vmlinuz"),
			    "at most");
}

Test(crosvm_cli, subcommands)
{
	cr_assert_eq(CROSVM("crosvm", "stop", "/run/vm.sock"), CROSVM_CMD_STOP);
	cr_assert_str_eq(out.stop_socket, "/run/vm.sock");
	cr_assert_eq(CROSVM("crosvm", "version"), CROSVM_CMD_VERSION);
	cr_assert_eq(CROSVM("crosvm", "--help"), CROSVM_CMD_HELP);
	cr_assert_eq(CROSVM("crosvm", "run", "--help"), CROSVM_CMD_HELP);
}

Test(crosvm_cli, which_command_lines_are_crosvm_style)
{
	char *a[] = { "crosvm", "run", NULL }, *b[] = { "/opt/bin/crosvm", "stop", "x", NULL };
	char *c[] = { "n90vmm", "run", "k", NULL }, *d[] = { "n90vmm", "kernel", NULL }, *e[] = { "n90vmm", NULL };
	char *f[] = { "./crosvm-wrapper", "run", NULL };
	cr_assert(crosvm_cli_applies(2, a));
	cr_assert(crosvm_cli_applies(3, b));
	cr_assert(crosvm_cli_applies(3, c));
	cr_assert_not(crosvm_cli_applies(2, d));
	cr_assert_not(crosvm_cli_applies(1, e));
	cr_assert(crosvm_cli_applies(2, f), "`run` first is enough");
}

Test(crosvm_cli, exit_status_table)
{
	cr_assert_eq(crosvm_exit_status(EXIT_POWEROFF), 0);
	cr_assert_eq(crosvm_exit_status(EXIT_GUEST_RESET), 32);
	cr_assert_eq(crosvm_exit_status(EXIT_TRIPLE_FAULT), 33);
	cr_assert_eq(crosvm_exit_status(EXIT_KVM_ERROR), 33);
	cr_assert_eq(crosvm_exit_status(EXIT_USAGE), 35);
	cr_assert_eq(crosvm_exit_status(EXIT_BAD_IMAGE), 1);
	cr_assert_eq(crosvm_exit_status(EXIT_NO_INPUT), 1);
	cr_assert_eq(crosvm_exit_status(EXIT_SETUP), 1);
	cr_assert_eq(crosvm_exit_status(EXIT_TIMEOUT), 124);
	cr_assert_eq(crosvm_exit_status(EXIT_USER_QUIT), 130);
}

Test(control, request_lines)
{
	cr_assert_eq(control_parse_request("stop", 4), CONTROL_STOP);
	cr_assert_eq(control_parse_request("stop\r", 5), CONTROL_STOP);
	cr_assert_eq(control_parse_request("stopp", 5), CONTROL_INVALID);
	cr_assert_eq(control_parse_request("", 0), CONTROL_INVALID);
	cr_assert_eq(control_parse_request("STOP", 4), CONTROL_INVALID);
}

/* A real round trip: `n90vmm stop` in a child, the server side here. */
Test(control, stop_round_trip_and_stale_socket)
{
	char dir[] = "/tmp/n90-control-XXXXXX", path[128], bound[128], err[256];
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.sock", dir);
	int lfd = control_listen(path, bound, sizeof(bound), err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_str_eq(bound, path);
	cr_assert_lt(control_listen(path, bound, sizeof(bound), err, sizeof(err)), 0, "a live socket is not replaced");
	cr_assert_not_null(strstr(err, "listening"));

	pid_t pid = fork();
	if (pid == 0)
		_exit(control_send_stop(path) == 0 ? 0 : 1);
	/* The refused second listen probed the live socket: that connection comes first and
	 * closes without a request, which the server must shrug off. */
	enum control_request r = CONTROL_NONE;
	for (int conn = 0; conn < 3 && r != CONTROL_STOP; conn++) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		cr_assert_eq(poll(&p, 1, 5000), 1);
		int cfd = control_accept(lfd);
		cr_assert_geq(cfd, 0);
		char buf[CONTROL_REQUEST_MAX];
		size_t len = 0;
		r = CONTROL_NONE;
		p.fd = cfd;
		while (r == CONTROL_NONE && poll(&p, 1, 5000) == 1)
			r = control_serve(cfd, buf, &len);
		close(cfd);
	}
	cr_assert_eq(r, CONTROL_STOP);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the client saw 'ok'");

	/* The VM is gone (listener closed, file left): the next VM may take the path over. */
	close(lfd);
	lfd = control_listen(path, bound, sizeof(bound), err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	close(lfd);
	unlink(path);
	cr_assert_eq(control_send_stop(path), -ENOENT);
	/* A directory gets crosvm's generated name. */
	lfd = control_listen(dir, bound, sizeof(bound), err, sizeof(err));
	cr_assert_geq(lfd, 0, "%s", err);
	cr_assert_not_null(strstr(bound, "/crosvm-"));
	close(lfd);
	unlink(bound);
	rmdir(dir);
}
