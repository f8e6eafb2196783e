/* The command line: every flag, sizes, and each way a command line can be wrong. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vmm/cli.h"

static struct vm_config cfg;
static char err[256];

/* Parses {"n90vmm", args..., NULL}. The argv array is copied: getopt permutes it. */
static enum cli_result parse_args(const char *const *args)
{
	static char *argv[256];
	int argc = 0;
	while (args[argc]) {
		cr_assert_lt(argc, 255);
		argv[argc] = (char *)args[argc];
		argc++;
	}
	argv[argc] = NULL;
	memset(err, 0, sizeof(err));
	return cli_parse(argc, argv, &cfg, err, sizeof(err));
}

#define PARSE(...) parse_args((const char *const[]){ "n90vmm", __VA_ARGS__, NULL })
#define PARSE_NOTHING() parse_args((const char *const[]){ "n90vmm", NULL })

/* An error: CLI_ERROR and a one-line message that contains `needle`. */
#define assert_error(result, needle)                                                               \
	do {                                                                                       \
		cr_assert_eq((result), CLI_ERROR);                                                 \
		cr_assert_neq(err[0], '\0', "an error needs a message");                           \
		cr_assert_null(strchr(err, '\n'), "one line: '%s'", err);                           \
		cr_assert_not_null(strstr(err, (needle)), "'%s' should mention '%s'", err, (needle)); \
	} while (0)

Test(cli, kernel_alone_gives_the_defaults)
{
	cr_assert_eq(PARSE("kernel.bin"), CLI_RUN);
	cr_assert_str_eq(cfg.kernel_path, "kernel.bin");
	cr_assert_null(cfg.rootfs_path);
	cr_assert_null(cfg.initrd_path);
	cr_assert_null(cfg.profile_name);
	cr_assert_str_eq(cfg.cmdline, "");
	cr_assert_eq(cfg.cpus, 0, "0 = the profile's default");
	cr_assert_eq(cfg.mem_bytes, 0);
	cr_assert_eq(cfg.timeout_sec, 0);
	cr_assert_not(cfg.verbose);
	cr_assert_not(cfg.stats);
	cr_assert(cfg.stdin_enabled);
	cr_assert_eq(cfg.ndisks, 0);
	cr_assert_eq(cfg.transport, VIRTIO_TRANSPORT_PCI);
	cr_assert_eq(cfg.console, CONSOLE_SERIAL);
	cr_assert_eq(cfg.sandbox, SANDBOX_ENFORCE);
	cr_assert_eq(cfg.harness.ncommands, 0);
	cr_assert_null(cfg.console_log);
}

Test(cli, every_long_flag)
{
	cr_assert_eq(PARSE("--cpus", "4", "--mem", "2G", "--cmdline", "console=ttyS0", "--initrd", "ird.cpio",
			   "--profile", "crosvm-x86", "--timeout", "2.5", "--no-stdin", "--stats", "--verbose",
			   "--virtio-transport", "mmio", "--console", "virtio", "--console-log", "con.log",
			   "--disable-sandbox", "vmlinux", "root.ext4"),
		     CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 4);
	cr_assert_eq(cfg.mem_bytes, 2ull << 30);
	cr_assert_str_eq(cfg.cmdline, "console=ttyS0");
	cr_assert_str_eq(cfg.initrd_path, "ird.cpio");
	cr_assert_str_eq(cfg.profile_name, "crosvm-x86");
	cr_assert_eq(cfg.timeout_sec, 2.5);
	cr_assert_not(cfg.stdin_enabled);
	cr_assert(cfg.stats);
	cr_assert(cfg.verbose);
	cr_assert_eq(cfg.transport, VIRTIO_TRANSPORT_MMIO);
	cr_assert_eq(cfg.console, CONSOLE_VIRTIO);
	cr_assert_str_eq(cfg.console_log, "con.log");
	cr_assert_eq(cfg.sandbox, SANDBOX_OFF);
	cr_assert_str_eq(cfg.kernel_path, "vmlinux");
	cr_assert_str_eq(cfg.rootfs_path, "root.ext4");
	cr_assert_eq(cfg.ndisks, 1, "ROOTFS becomes a disk");
	cr_assert_str_eq(cfg.disks[0].path, "root.ext4");
	cr_assert_not(cfg.disks[0].read_only);
}

Test(cli, short_flags_and_clusters)
{
	cr_assert_eq(PARSE("-c", "2", "-m", "512", "-p", "a b", "-i", "rd", "-v", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 2);
	cr_assert_eq(cfg.mem_bytes, 512ull << 20);
	cr_assert_str_eq(cfg.cmdline, "a b");
	cr_assert_str_eq(cfg.initrd_path, "rd");
	cr_assert(cfg.verbose);
	cr_assert_eq(PARSE("-vc3", "-m1G", "k"), CLI_RUN, "%s", err);
	cr_assert(cfg.verbose);
	cr_assert_eq(cfg.cpus, 3);
	cr_assert_eq(cfg.mem_bytes, 1ull << 30);
}

Test(cli, equals_form_append_alias_and_abbreviations)
{
	cr_assert_eq(PARSE("--cpus=8", "--append=quiet", "--mem=64M", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 8);
	cr_assert_str_eq(cfg.cmdline, "quiet");
	cr_assert_eq(cfg.mem_bytes, 64ull << 20);
	/* getopt_long takes unambiguous prefixes. */
	cr_assert_eq(PARSE("--cpu", "5", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 5);
}

Test(cli, options_after_the_kernel_and_double_dash)
{
	cr_assert_eq(PARSE("k", "--cpus", "2"), CLI_RUN, "%s", err);
	cr_assert_str_eq(cfg.kernel_path, "k");
	cr_assert_eq(cfg.cpus, 2);
	cr_assert_eq(PARSE("--", "-kernel-with-dash"), CLI_RUN, "%s", err);
	cr_assert_str_eq(cfg.kernel_path, "-kernel-with-dash");
}

Test(cli, sizes)
{
	uint64_t b;
	cr_assert_eq(cli_parse_size("512", &b), 0);
	cr_assert_eq(b, 512ull << 20, "no suffix: MiB");
	cr_assert_eq(cli_parse_size("512M", &b), 0);
	cr_assert_eq(b, 512ull << 20);
	cr_assert_eq(cli_parse_size("512m", &b), 0);
	cr_assert_eq(b, 512ull << 20);
	cr_assert_eq(cli_parse_size("2G", &b), 0);
	cr_assert_eq(b, 2ull << 30);
	cr_assert_eq(cli_parse_size("2g", &b), 0);
	cr_assert_eq(b, 2ull << 30);
	cr_assert_eq(cli_parse_size("1024K", &b), 0);
	cr_assert_eq(b, 1ull << 20);
	cr_assert_eq(cli_parse_size("1024k", &b), 0);
	cr_assert_eq(b, 1ull << 20);
	cr_assert_eq(cli_parse_size("1T", &b), 0);
	cr_assert_eq(b, 1ull << 40);
	cr_assert_eq(cli_parse_size("256MiB", &b), 0);
	cr_assert_eq(b, 256ull << 20);
	cr_assert_eq(cli_parse_size("4GB", &b), 0);
	cr_assert_eq(b, 4ull << 30);
	cr_assert_eq(cli_parse_size("0", &b), 0);
	cr_assert_eq(b, 0);
	cr_assert_eq(cli_parse_size("16777215T", &b), 0, "the largest size that fits in 64 bits");
	cr_assert_eq(b, 16777215ull << 40);
}

Test(cli, bad_sizes)
{
	static const char *const bad[] = {
		"", "-1", "-0", "12X", "M", "G", "1.5G", "12MM", "12Mi", "12MiBs", "12 M", "0x10",
		"99999999999999999999G", "99999999999999999999", "18446744073709551615G", "16777216T",
		"17179869184G", "18446744073709551615K",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t b = 0x5a5a;
		int ret = cli_parse_size(bad[i], &b);
		cr_assert(ret == -EINVAL || ret == -ERANGE, "'%s' gave %d", bad[i], ret);
		cr_assert_eq(b, 0x5a5a, "'%s': output untouched on error", bad[i]);
	}
	uint64_t b;
	cr_assert_eq(cli_parse_size(NULL, &b), -EINVAL);
}

Test(cli, bad_mem_values_on_the_command_line)
{
	static const char *const bad[] = { "", "-1", "12X", "99999999999999999999G", "0", "0G" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(PARSE("--mem", bad[i], "k"), "--mem");
}

Test(cli, missing_kernel)
{
	assert_error(PARSE_NOTHING(), "KERNEL");
	assert_error(PARSE("--cpus", "2", "--verbose"), "KERNEL");
}

Test(cli, extra_positional_arguments)
{
	assert_error(PARSE("k", "rootfs", "extra"), "extra");
	assert_error(PARSE("k", "rootfs", "x", "y"), "x");
}

Test(cli, unknown_flags)
{
	assert_error(PARSE("--bogus", "k"), "--bogus");
	assert_error(PARSE("k", "--no-such-flag"), "--no-such-flag");
	assert_error(PARSE("-z", "k"), "-z");
	assert_error(PARSE("--help=yes", "k"), "--help");
	/* Ambiguous prefix: --c is --cpus, --cmdline, --console, --command... */
	cr_assert_eq(PARSE("--c", "1", "k"), CLI_ERROR);
	cr_assert_neq(err[0], '\0');
}

/* Regression test, once a bug (vmm/cli.c, `default:` case of cli_parse): an unknown short option that is not the last
 * character of its cluster ("-zv") is reported with argv[optind - 1], but getopt has not
 * advanced optind yet, so the message names the previous argument, here argv[0]:
 * "unknown option 'n90vmm'" instead of naming -z. The unknown character is in optopt. */
Test(cli, unknown_short_option_inside_a_cluster_is_named)
{
	assert_error(PARSE("-zv", "k"), "z");
	cr_assert_null(strstr(err, "n90vmm"), "names the program instead of the option: '%s'", err);
}

Test(cli, missing_values)
{
	static const char *const flags[] = {
		"--cpus", "--mem", "--cmdline", "--append", "--initrd", "--profile", "--disk", "--virtio-transport",
		"--console", "--command", "--script", "--prompt", "--boot-timeout", "--command-timeout",
		"--result-json", "--console-log", "--timeout", "-c", "-m", "-p", "-i",
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		cr_assert_eq(parse_args((const char *const[]){ "n90vmm", "k", flags[i], NULL }), CLI_ERROR, "%s",
			     flags[i]);
		cr_assert_not_null(strstr(err, flags[i]), "'%s' should name %s", err, flags[i]);
		cr_assert_not_null(strstr(err, "value"), "'%s'", err);
	}
}

Test(cli, cpu_counts)
{
	cr_assert_eq(PARSE("--cpus", "1", "k"), CLI_RUN);
	cr_assert_eq(cfg.cpus, 1);
	cr_assert_eq(PARSE("--cpus", "64", "k"), CLI_RUN);
	cr_assert_eq(cfg.cpus, 64);
	static const char *const bad[] = { "0", "65", "-1", "", "abc", "4x", "99999999999999999999", "1e2", "0x4" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(PARSE("--cpus", bad[i], "k"), "--cpus");
}

Test(cli, timeouts)
{
	cr_assert_eq(PARSE("--timeout", "30", "k"), CLI_RUN);
	cr_assert_eq(cfg.timeout_sec, 30.0);
	cr_assert_eq(PARSE("--timeout", "0.25", "k"), CLI_RUN);
	cr_assert_eq(cfg.timeout_sec, 0.25);
	cr_assert_eq(PARSE("--timeout", "1e3", "k"), CLI_RUN);
	cr_assert_eq(cfg.timeout_sec, 1000.0);
	static const char *const bad[] = { "0", "-1", "-0.5", "", "abc", "5s", "nan", "inf", "-inf", "1e8", "1e400", "0x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_error(PARSE("--timeout", bad[i], "k"), "--timeout");
	assert_error(PARSE("--boot-timeout", "0", "k"), "--boot-timeout");
	assert_error(PARSE("--command-timeout", "x", "k"), "--command-timeout");
	cr_assert_eq(PARSE("--boot-timeout", "12", "--command-timeout", "3.5", "k"), CLI_RUN);
	cr_assert_eq(cfg.harness.boot_timeout, 12.0);
	cr_assert_eq(cfg.harness.command_timeout, 3.5);
}

Test(cli, help_version_features)
{
	cr_assert_eq(PARSE("--help"), CLI_HELP, "no KERNEL needed");
	cr_assert_eq(PARSE("-h"), CLI_HELP);
	cr_assert_eq(PARSE("--version"), CLI_VERSION);
	cr_assert_eq(PARSE("-V"), CLI_VERSION);
	cr_assert_eq(PARSE("--features"), CLI_FEATURES);
	cr_assert_eq(PARSE("k", "--cpus", "2", "--help"), CLI_HELP);
	cr_assert_eq(PARSE("--version", "--help"), CLI_VERSION, "the first one wins");
	assert_error(PARSE("--cpus", "0", "--help"), "--cpus");
}

/* Runs fn with stdout going to a temporary file; returns what it printed (caller frees). */
static char *capture_stdout(void (*fn)(void))
{
	fflush(stdout);
	FILE *tmp = tmpfile();
	cr_assert_not_null(tmp);
	int saved = dup(STDOUT_FILENO);
	cr_assert_geq(saved, 0);
	cr_assert_geq(dup2(fileno(tmp), STDOUT_FILENO), 0);
	fn();
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	cr_assert_eq(fseek(tmp, 0, SEEK_END), 0);
	long len = ftell(tmp);
	cr_assert_geq(len, 0);
	rewind(tmp);
	/* A leading newline so every line, the first included, can be found as "\nname\n". */
	char *buf = calloc(1, (size_t)len + 2);
	buf[0] = '\n';
	cr_assert_eq(fread(buf + 1, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return buf;
}

Test(cli, features_list_one_per_line)
{
	char *out = capture_stdout(cli_print_features);
	/* The architecture's own first (its name leads), then the generic ones. */
	cr_assert(strncmp(out + 1, arch_name, strlen(arch_name)) == 0 && out[1 + strlen(arch_name)] == '\n', "%s", out);
	static const char *const expected[] = { "serial-16550", "virtio-pci", "virtio-blk", "harness", "seccomp" };
	for (size_t i = 0; arch_features[i]; i++) {
		char line[64];
		snprintf(line, sizeof(line), "%s\n", arch_features[i]);
		cr_assert_not_null(strstr(out, line), "feature '%s' missing from:%s", arch_features[i], out);
	}
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		char line[64];
		snprintf(line, sizeof(line), "\n%s\n", expected[i]);
		cr_assert_not_null(strstr(out, line), "feature '%s' missing from:%s", expected[i], out);
	}
	cr_assert_eq(out[strlen(out) - 1], '\n');
	cr_assert_null(strchr(out, ' '), "one bare name per line");
	free(out);
}

Test(cli, help_mentions_usage_and_escape)
{
	char *out = capture_stdout(cli_print_help);
	cr_assert_not_null(strstr(out, "Usage: n90vmm"));
	cr_assert_not_null(strstr(out, "--cpus"));
	cr_assert_not_null(strstr(out, "Ctrl-A"));
	free(out);
}

Test(cli, console_and_transport_values)
{
	cr_assert_eq(PARSE("--console", "serial", "--virtio-transport", "pci", "k"), CLI_RUN);
	cr_assert_eq(cfg.console, CONSOLE_SERIAL);
	cr_assert_eq(cfg.transport, VIRTIO_TRANSPORT_PCI);
	assert_error(PARSE("--console", "vga", "k"), "vga");
	assert_error(PARSE("--console", "", "k"), "--console");
	assert_error(PARSE("--virtio-transport", "ccw", "k"), "ccw");
	assert_error(PARSE("--virtio-transport", "PCI", "k"), "PCI");
}

Test(cli, disks)
{
	cr_assert_eq(PARSE("--disk", "a.img", "--disk", "b.img,ro", "--disk", "c.img,direct,ro", "k", "root.img"),
		     CLI_RUN, "%s", err);
	cr_assert_eq(cfg.ndisks, 4);
	cr_assert_str_eq(cfg.disks[0].path, "a.img");
	cr_assert_not(cfg.disks[0].read_only);
	cr_assert_not(cfg.disks[0].direct);
	cr_assert_str_eq(cfg.disks[1].path, "b.img");
	cr_assert(cfg.disks[1].read_only);
	cr_assert_str_eq(cfg.disks[2].path, "c.img");
	cr_assert(cfg.disks[2].read_only);
	cr_assert(cfg.disks[2].direct);
	cr_assert_str_eq(cfg.disks[3].path, "root.img", "ROOTFS comes last");
	assert_error(PARSE("--disk", ",ro", "k"), "path");
	assert_error(PARSE("--disk", "", "k"), "path");
	assert_error(PARSE("--disk", "a.img,rw", "k"), "rw");
	assert_error(PARSE("--disk", "a.img,,ro", "k"), "--disk");
}

Test(cli, disk_limit)
{
	const char *args[64] = { "n90vmm" };
	int n = 1;
	for (int i = 0; i < CONFIG_MAX_DISKS; i++) {
		args[n++] = "--disk";
		args[n++] = "d.img";
	}
	args[n++] = "k";
	args[n] = NULL;
	cr_assert_eq(parse_args(args), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.ndisks, CONFIG_MAX_DISKS);
	/* One more through ROOTFS... */
	args[n++] = "root.img";
	args[n] = NULL;
	assert_error(parse_args(args), "ROOTFS");
	/* ...or through --disk. */
	args[n - 2] = "--disk";
	args[n - 1] = "d.img";
	args[n++] = "k";
	args[n] = NULL;
	assert_error(parse_args(args), "--disk");
}

Test(cli, harness_commands_and_prompt)
{
	cr_assert_eq(PARSE("--command", "uname -a", "--command", "true", "--prompt", "# ", "--strict",
			   "--result-json", "r.json", "k"),
		     CLI_RUN, "%s", err);
	cr_assert_eq(cfg.harness.ncommands, 2);
	cr_assert_str_eq(cfg.harness.commands[0], "uname -a");
	cr_assert_str_eq(cfg.harness.commands[1], "true");
	cr_assert_str_eq(cfg.harness.prompt, "# ");
	cr_assert(cfg.harness.strict);
	cr_assert_str_eq(cfg.harness.result_json, "r.json");
	assert_error(PARSE("--command", "", "k"), "--command");
	assert_error(PARSE("--command", "a\nb", "k"), "--command");
	char *long_cmd = malloc(4098);
	memset(long_cmd, 'x', 4097);
	long_cmd[4097] = '\0';
	assert_error(parse_args((const char *const[]){ "n90vmm", "--command", long_cmd, "k", NULL }), "--command");
	long_cmd[4096] = '\0';
	cr_assert_eq(parse_args((const char *const[]){ "n90vmm", "--command", long_cmd, "k", NULL }), CLI_RUN,
		     "4096 bytes is the limit, not over it");
	free(long_cmd);
	assert_error(PARSE("--prompt", "", "k"), "--prompt");
	char prompt[202];
	memset(prompt, '$', 201);
	prompt[201] = '\0';
	assert_error(parse_args((const char *const[]){ "n90vmm", "--prompt", prompt, "k", NULL }), "--prompt");
}

Test(cli, too_many_commands)
{
	const char *args[2 * HARNESS_MAX_COMMANDS + 8] = { "n90vmm" };
	int n = 1;
	for (int i = 0; i < HARNESS_MAX_COMMANDS; i++) {
		args[n++] = "--command";
		args[n++] = "true";
	}
	args[n++] = "k";
	args[n] = NULL;
	cr_assert_eq(parse_args(args), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.harness.ncommands, HARNESS_MAX_COMMANDS);
	args[n - 1] = "--command";
	args[n++] = "one-more";
	args[n++] = "k";
	args[n] = NULL;
	assert_error(parse_args(args), "--command");
}

Test(cli, script_file)
{
	char path[] = "/tmp/n90-cli-script-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	static const char script[] = "# comment\n\necho one\n  timeout=7 sleep 1\n";
	cr_assert_eq(write(fd, script, sizeof(script) - 1), (ssize_t)(sizeof(script) - 1));
	close(fd);
	enum cli_result r = parse_args((const char *const[]){ "n90vmm", "--script", path, "k", NULL });
	unlink(path);
	cr_assert_eq(r, CLI_RUN, "%s", err);
	cr_assert_eq(cfg.harness.ncommands, 2);
	cr_assert_str_eq(cfg.harness.commands[0], "echo one");
	cr_assert_str_eq(cfg.harness.commands[1], "sleep 1");
	cr_assert_eq(cfg.harness.command_timeouts[0], 0);
	cr_assert_eq(cfg.harness.command_timeouts[1], 7.0);
	assert_error(PARSE("--script", "/nonexistent/n90-script", "k"), "/nonexistent/n90-script");
}

/* Found by the CLI fuzzer: --script /dev/full read zeros for ever. Device files, FIFOs and
 * directories are refused at once; so is a line too long to be one command. */
Test(cli, script_must_be_a_bounded_regular_file)
{
	assert_error(PARSE("--script", "/dev/full", "k"), "regular file");
	assert_error(PARSE("--script", "/dev/zero", "k"), "regular file");
	assert_error(PARSE("--script", "/tmp", "k"), "regular file");
	char path[] = "/tmp/n90-cli-script-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	static char longline[5000];
	memset(longline, 'x', sizeof(longline) - 1);
	cr_assert_eq(write(fd, longline, sizeof(longline) - 1), (ssize_t)(sizeof(longline) - 1));
	close(fd);
	enum cli_result r = parse_args((const char *const[]){ "n90vmm", "--script", path, "k", NULL });
	unlink(path);
	cr_assert_eq(r, CLI_ERROR);
	cr_assert_not_null(strstr(err, "longer than"), "%s", err);
}

Test(cli, sandbox_flags)
{
	cr_assert_eq(PARSE("--seccomp-log", "k"), CLI_RUN);
	cr_assert_eq(cfg.sandbox, SANDBOX_LOG);
	cr_assert_eq(PARSE("--seccomp-log", "--disable-sandbox", "k"), CLI_RUN);
	cr_assert_eq(cfg.sandbox, SANDBOX_OFF);
	cr_assert_eq(PARSE("--disable-sandbox", "--seccomp-log", "k"), CLI_RUN);
	cr_assert_eq(cfg.sandbox, SANDBOX_OFF, "off stays off whatever the order");
}

Test(cli, each_parse_starts_from_scratch)
{
	cr_assert_eq(PARSE("--cpus", "4", "-v", "--disk", "x.img", "--command", "c", "k", "r"), CLI_RUN);
	cr_assert_eq(PARSE("k2"), CLI_RUN);
	cr_assert_eq(cfg.cpus, 0);
	cr_assert_not(cfg.verbose);
	cr_assert_eq(cfg.ndisks, 0);
	cr_assert_eq(cfg.harness.ncommands, 0);
	cr_assert_str_eq(cfg.kernel_path, "k2");
	/* A parse that stopped inside a short-option cluster must not leak into the next one:
	 * glibc keeps a pointer to the rest of the cluster unless optind is reset to 0. Here the
	 * rest of "-zv" is rewritten to "V" after the first parse; a stale pointer would make the
	 * second parse report --version. */
	char cluster[] = "-zv";
	char *argv1[] = { "n90vmm", cluster, "k", NULL };
	cr_assert_eq(cli_parse(3, argv1, &cfg, err, sizeof(err)), CLI_ERROR);
	cluster[2] = 'V';
	cr_assert_eq(PARSE("-c", "2", "k3"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.cpus, 2);
	cr_assert_str_eq(cfg.kernel_path, "k3");
}

Test(cli, error_message_fits_a_small_buffer)
{
	char small[8];
	char *argv[] = { "n90vmm", "--cpus", "1000000", "k", NULL };
	cr_assert_eq(cli_parse(4, argv, &cfg, small, sizeof(small)), CLI_ERROR);
	cr_assert_eq(strlen(small), sizeof(small) - 1, "truncated, still terminated");
}

/* ---- --net ------------------------------------------------------------------------------- */

static struct net_config net;

Test(cli, net_tap_by_name)
{
	cr_assert_eq(cli_parse_net("tap=n90tap0,mac=02:00:00:00:00:01", &net, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(net.tap_name, "n90tap0");
	cr_assert_eq(net.tap_fd, -1);
	cr_assert(net.has_mac);
	cr_assert_eq(net.mac[5], 1);
	cr_assert_eq(cli_parse_net("tap-name=vm0", &net, err, sizeof(err)), 0, "crosvm's spelling: %s", err);
	cr_assert_str_eq(net.tap_name, "vm0");
	cr_assert_not(net.has_mac);
}

Test(cli, net_created_tap)
{
	cr_assert_eq(cli_parse_net("host-ip=192.168.10.1,netmask=255.255.255.252,mac=52:54:00:12:34:56", &net, err,
				   sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(net.host_ip, 0xc0a80a01u);
	cr_assert_eq(net.netmask, 0xfffffffcu);
	cr_assert_null(net.tap_name);
	cr_assert_eq(cli_parse_net("tap-fd=7", &net, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(net.tap_fd, 7);
}

Test(cli, net_bad_values)
{
	static const char *const bad[][2] = {
		{ "", "exactly one" },
		{ "mac=02:00:00:00:00:01", "exactly one" },
		{ "tap=a,host-ip=10.0.0.1,netmask=255.0.0.0", "exactly one" },
		{ "host-ip=10.0.0.1", "together" },
		{ "netmask=255.0.0.0", "together" },
		{ "host-ip=10.0.0.256,netmask=255.0.0.0", "host-ip" },
		{ "host-ip=10.0.0.1,netmask=255.0.255.0", "netmask" },
		{ "tap=x,mac=01:00:00:00:00:01", "unicast" },
		{ "tap=x,mac=02:00:00:00:00", "mac" },
		{ "tap=x,mac=02:00:00:00:00:01:02", "mac" },
		{ "tap=this-name-is-too-long", "interface name" },
		{ "tap=", "interface name" },
		{ "tap-fd=1", "tap-fd" },
		{ "tap-fd=x", "tap-fd" },
		{ "tap", "KEY=VALUE" },
		{ "tap=x,speed=10", "unknown option 'speed'" },
		{ "tap=x,vhost-net=true", "vhost-net" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_neq(cli_parse_net(bad[i][0], &net, err, sizeof(err)), 0, "'%s' accepted", bad[i][0]);
		cr_assert_not_null(strstr(err, bad[i][1]), "'%s': error '%s' should mention '%s'", bad[i][0], err,
				   bad[i][1]);
	}
}

Test(cli, net_flag_is_repeatable_up_to_the_limit)
{
	cr_assert_eq(PARSE("--net", "tap=a", "--net", "host-ip=10.1.0.1,netmask=255.255.255.252", "k"), CLI_RUN,
		     "%s", err);
	cr_assert_eq(cfg.nnets, 2);
	cr_assert_str_eq(cfg.nets[0].tap_name, "a");
	cr_assert_eq(cfg.nets[1].host_ip, 0x0a010001u);
	assert_error(PARSE("--net", "tap=a", "--net", "tap=b", "--net", "tap=c", "--net", "tap=d", "--net", "tap=e",
			   "k"),
		     "at most 4");
}

Test(cli, jail_flags)
{
	cr_assert_eq(PARSE("--jail", "/var/empty", "--uid", "65534", "--gid", "65533", "k"), CLI_RUN, "%s", err);
	cr_assert_str_eq(cfg.jail.dir, "/var/empty");
	cr_assert(cfg.jail.has_uid && cfg.jail.has_gid);
	cr_assert_eq(cfg.jail.uid, 65534);
	cr_assert_eq(cfg.jail.gid, 65533);
	/* A user name brings its group unless --gid says otherwise, in either order. */
	cr_assert_eq(PARSE("--uid", "nobody", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.jail.uid, 65534);
	cr_assert(cfg.jail.has_gid);
	cr_assert_eq(cfg.jail.gid, 65534);
	cr_assert_eq(PARSE("--uid", "nobody", "--gid", "0", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.jail.gid, 0);
	cr_assert_eq(PARSE("--gid", "0", "--uid", "nobody", "k"), CLI_RUN, "%s", err);
	cr_assert_eq(cfg.jail.gid, 0);
	cr_assert_eq(PARSE("k"), CLI_RUN);
	cr_assert_not(cfg.jail.has_uid || cfg.jail.has_gid || cfg.jail.dir);
	assert_error(PARSE("--uid", "no-such-user-n90", "k"), "no-such-user-n90");
	assert_error(PARSE("--gid", "no-such-group-n90", "k"), "no-such-group-n90");
	assert_error(PARSE("--jail", "", "k"), "--jail");
}
