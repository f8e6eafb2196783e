/* crosvm's command-line grammar (crosvm src/crosvm/cmdline.rs: argh options; the key=value
 * lists are serde_keyvalue: the first value may omit its key, a bare key is a true boolean)
 * mapped onto struct vm_config. Every flag crosvm's `run` knows is in flag_table: implemented,
 * accepted with a warning (harmless: it asks for something n90vmm does not have and the guest
 * cannot miss), or refused by name. */
#include "vmm/crosvm_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "vmm/cli.h"
#include "vmm/exit_status.h"

/* Copies of argument pieces (split key=value lists, the built kernel command line). One
 * parse at a time; the configuration of the last parse points into it. */
static char arena[65536];
static size_t arena_used;

static char *arena_dup(const char *s, size_t len)
{
	if (len + 1 > sizeof(arena) - arena_used)
		return NULL;
	char *p = arena + arena_used;
	memcpy(p, s, len);
	p[len] = '\0';
	arena_used += len + 1;
	return p;
}

enum flag_kind {
	F_CPUS,
	F_MEM,
	F_INITRD,
	F_PARAMS,
	F_BLOCK,
	F_DISK,   /* deprecated: read-only disk */
	F_RWDISK, /* deprecated: writable disk */
	F_ROOT,   /* deprecated: read-only root disk */
	F_RWROOT, /* deprecated: writable root disk */
	F_NET,
	F_TAP_NAME, /* deprecated per-NIC flags */
	F_TAP_FD,
	F_HOST_IP,
	F_NETMASK,
	F_MAC,
	F_SERIAL,
	F_SOCKET,
	F_DISABLE_SANDBOX,
	F_SECCOMP_LOG,
	F_KVM_DEVICE,
	F_DUMP_FDT,
	F_WARN,   /* accepted; `note` is the warning */
	F_REJECT, /* refused; `note` says why */
};

struct flag {
	const char *name;
	char short_name;
	bool takes_value;
	enum flag_kind kind;
	const char *note;
};

#define OPT(n, s, k) { n, s, true, k, NULL }
#define SWITCH(n, k) { n, 0, false, k, NULL }
#define WARN_SW(n, why) { n, 0, false, F_WARN, why }
#define WARN_OPT(n, why) { n, 0, true, F_WARN, why }
#define REJECT_SW(n, why) { n, 0, false, F_REJECT, why }
#define REJECT_OPT(n, why) { n, 0, true, F_REJECT, why }

static const struct flag flag_table[] = {
	OPT("cpus", 'c', F_CPUS),
	OPT("mem", 'm', F_MEM),
	OPT("initrd", 'i', F_INITRD),
	OPT("params", 'p', F_PARAMS),
	OPT("block", 0, F_BLOCK),
	OPT("disk", 'd', F_DISK),
	OPT("rwdisk", 0, F_RWDISK),
	OPT("root", 'r', F_ROOT),
	OPT("rwroot", 0, F_RWROOT),
	OPT("net", 0, F_NET),
	OPT("tap-name", 0, F_TAP_NAME),
	OPT("tap-fd", 0, F_TAP_FD),
	OPT("host-ip", 0, F_HOST_IP),
	OPT("netmask", 0, F_NETMASK),
	OPT("mac", 0, F_MAC),
	OPT("serial", 0, F_SERIAL),
	OPT("socket", 's', F_SOCKET),
	SWITCH("disable-sandbox", F_DISABLE_SANDBOX),
	SWITCH("seccomp-log-failures", F_SECCOMP_LOG),
	OPT("kvm-device", 0, F_KVM_DEVICE),
	OPT("dump-device-tree-blob", 0, F_DUMP_FDT),
	WARN_OPT("seccomp-policy-dir", "n90vmm's seccomp policy is built in (docs/sandbox.md)"),
	WARN_OPT("pivot-root", "n90vmm does not pivot_root; its sandbox is seccomp"),
	WARN_OPT("syslog-tag", "n90vmm logs to stderr"),
	WARN_OPT("balloon-bias-mib", "n90vmm has no balloon device"),
	WARN_OPT("balloon-control", "n90vmm has no balloon device"),
	WARN_SW("no-balloon", "n90vmm has no balloon device"),
	WARN_SW("balloon-page-reporting", "n90vmm has no balloon device"),
	WARN_SW("strict-balloon", "n90vmm has no balloon device"),
	WARN_SW("no-rng", "n90vmm has no virtio-rng device"),
	WARN_SW("no-usb", "n90vmm has no USB controller"),
	WARN_SW("no-smt", "n90vmm's vCPUs are not SMT siblings"),
	WARN_SW("no-i8042", "the i8042 stays: its reset line is how x86 guests reboot"),
	WARN_SW("no-rtc", "the CMOS RTC stays: StarryOS reads it at boot"),
	WARN_SW("delay-rt", "n90vmm does not use real-time vCPU priority"),
	WARN_SW("hugepages", "guest RAM uses normal pages"),
	WARN_SW("lock-guest-memory", "guest RAM is not mlock()ed"),
	WARN_SW("per-vm-core-scheduling", "n90vmm does not set core-scheduling cookies"),
	WARN_SW("disable-virtio-intx", "INTx stays wired but is used only while the guest keeps MSI-X off"),
	REJECT_OPT("ac97", "no audio devices"),
	REJECT_OPT("acpi-table", "n90vmm builds its own ACPI tables"),
	REJECT_OPT("android-fstab", "no Android device tree"),
	REJECT_OPT("battery", "no battery device"),
	REJECT_OPT("bios", "n90vmm boots kernels directly, not firmware"),
	REJECT_OPT("cid", "no virtio-vsock device"),
	REJECT_OPT("vsock", "no virtio-vsock device"),
	REJECT_OPT("coiommu", "no IOMMU"),
	REJECT_OPT("cpu-capacity", "no CPU capacity or cluster topology"),
	REJECT_OPT("cpu-cluster", "no CPU capacity or cluster topology"),
	REJECT_OPT("cpu-affinity", "vCPU threads are not pinned"),
	REJECT_OPT("rt-cpus", "vCPU threads are not pinned"),
	REJECT_OPT("direct-edge-irq", "no host device passthrough"),
	REJECT_OPT("direct-level-irq", "no host device passthrough"),
	REJECT_OPT("direct-fixed-event", "no host device passthrough"),
	REJECT_OPT("direct-gpe", "no host device passthrough"),
	REJECT_OPT("direct-mmio", "no host device passthrough"),
	REJECT_OPT("direct-pmio", "no host device passthrough"),
	REJECT_OPT("pcie-root-port", "no host device passthrough"),
	REJECT_OPT("vfio", "no host device passthrough"),
	REJECT_OPT("vfio-platform", "no host device passthrough"),
	REJECT_SW("vfio-isolate-hotplug", "no host device passthrough"),
	REJECT_SW("display-window-keyboard", "no display"),
	REJECT_SW("display-window-mouse", "no display"),
	REJECT_OPT("dmi", "no SMBIOS/DMI tables"),
	REJECT_SW("enable-hwp", "CPU power features are not exposed"),
	REJECT_SW("enable-pnp-data", "CPU power features are not exposed"),
	REJECT_SW("itmt", "CPU power features are not exposed"),
	REJECT_SW("host-cpu-topology", "the guest CPU topology is n90vmm's own"),
	REJECT_SW("force-calibrated-tsc-leaf", "CPUID is fixed by the machine profile"),
	REJECT_OPT("file-backed-mapping", "guest memory is anonymous RAM only"),
	REJECT_OPT("gdb", "no gdb stub"),
	REJECT_OPT("gpu", "no GPU"),
	REJECT_OPT("gpu-display", "no GPU"),
	REJECT_OPT("gpu-render-server", "no GPU"),
	REJECT_OPT("hypervisor", "KVM only"),
	REJECT_OPT("init-mem", "no balloon: guest RAM is --mem from boot"),
	REJECT_OPT("mmio-address-range", "the memory map is fixed by the machine profile"),
	REJECT_OPT("pci-start", "the memory map is fixed by the machine profile"),
	REJECT_OPT("pcie-ecam", "the memory map is fixed by the machine profile"),
	REJECT_OPT("net-vq-pairs", "virtio-net has one queue pair"),
	REJECT_SW("vhost-net", "vhost-net is not supported"),
	REJECT_OPT("vhost-net-device", "vhost-net is not supported"),
	REJECT_OPT("pflash", "no flash device"),
	REJECT_OPT("pmem-device", "no virtio-pmem device"),
	REJECT_OPT("rw-pmem-device", "no virtio-pmem device"),
	REJECT_OPT("pmem", "no virtio-pmem device"),
	REJECT_OPT("plugin", "no plugin VMs"),
	REJECT_OPT("plugin-root", "no plugin VMs"),
	REJECT_OPT("plugin-mount", "no plugin VMs"),
	REJECT_OPT("plugin-mount-file", "no plugin VMs"),
	REJECT_OPT("plugin-gid-map", "no plugin VMs"),
	REJECT_OPT("plugin-gid-map-file", "no plugin VMs"),
	REJECT_SW("privileged-vm", "no host power management passthrough"),
	REJECT_SW("protected-vm", "no protected VMs"),
	REJECT_SW("protected-vm-without-firmware", "no protected VMs"),
	REJECT_OPT("pvm-fw", "no protected VMs"),
	REJECT_OPT("unprotected-vm-with-firmware", "no protected VMs"),
	REJECT_OPT("swiotlb", "no protected VMs"),
	REJECT_OPT("pstore", "no pstore device"),
	REJECT_SW("s2idle", "no suspend to idle"),
	REJECT_OPT("shared-dir", "no virtio-fs or 9p"),
	REJECT_SW("software-tpm", "no TPM"),
	REJECT_SW("vtpm-proxy", "no TPM"),
	REJECT_OPT("sound", "no audio devices"),
	REJECT_OPT("virtio-snd", "no audio devices"),
	REJECT_SW("split-irqchip", "the irqchip is always in-kernel"),
	REJECT_OPT("stub-pci-device", "no stub PCI devices"),
	REJECT_OPT("userspace-msr", "MSRs are handled by KVM"),
	REJECT_OPT("vcpu-cgroup-path", "vCPU threads are not moved between cgroups"),
	REJECT_OPT("vhost-user-blk", "no vhost-user devices"),
	REJECT_OPT("vhost-user-console", "no vhost-user devices"),
	REJECT_OPT("vhost-user-fs", "no vhost-user devices"),
	REJECT_OPT("vhost-user-gpu", "no vhost-user devices"),
	REJECT_OPT("vhost-user-mac80211-hwsim", "no vhost-user devices"),
	REJECT_OPT("vhost-user-net", "no vhost-user devices"),
	REJECT_OPT("vhost-user-snd", "no vhost-user devices"),
	REJECT_OPT("vhost-user-video-decoder", "no vhost-user devices"),
	REJECT_OPT("vhost-user-vsock", "no vhost-user devices"),
	REJECT_OPT("vhost-user-wl", "no vhost-user devices"),
	REJECT_OPT("vhost-vsock-device", "no virtio-vsock device"),
	REJECT_OPT("vhost-vsock-fd", "no virtio-vsock device"),
	REJECT_OPT("video-decoder", "no virtio-video device"),
	REJECT_OPT("video-encoder", "no virtio-video device"),
	REJECT_OPT("evdev", "no virtio-input devices"),
	REJECT_OPT("keyboard", "no virtio-input devices"),
	REJECT_OPT("mouse", "no virtio-input devices"),
	REJECT_OPT("multi-touch", "no virtio-input devices"),
	REJECT_OPT("single-touch", "no virtio-input devices"),
	REJECT_OPT("switches", "no virtio-input devices"),
	REJECT_OPT("trackpad", "no virtio-input devices"),
	REJECT_OPT("vvu-proxy", "no vhost-user devices"),
	REJECT_OPT("wayland-sock", "no Wayland forwarding"),
	REJECT_OPT("x-display", "no display"),
};

/* What one parse accumulates before it becomes a vm_config. */
struct run_state {
	struct vm_config *cfg;
	struct crosvm_cli *out;
	const char *params[64];
	unsigned int nparams;
	int root_disk; /* index into cfg->disks, -1 when no root disk */
	bool have_serial1;
	bool serial_console, serial_earlycon;
	bool console_set;      /* some --serial said console */
	unsigned int serials_seen; /* bit (hw * 8 + num): crosvm refuses the same port twice */
	const char *tap_name, *tap_fd, *host_ip, *netmask, *mac; /* deprecated NIC flags */
};

static int fail(struct crosvm_cli *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct crosvm_cli *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->err, sizeof(out->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static void warn(struct crosvm_cli *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(struct crosvm_cli *out, const char *fmt, ...)
{
	if (out->nwarnings < CROSVM_MAX_WARNINGS) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(out->warnings[out->nwarnings], sizeof(out->warnings[0]), fmt, ap);
		va_end(ap);
	}
	out->nwarnings++;
}

/* A decimal number in 1..max, nothing else. */
static int parse_number(const char *text, unsigned long max, unsigned long *value)
{
	char *end;
	if (*text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end || v == 0 || v > max)
		return -EINVAL;
	*value = v;
	return 0;
}

/* serde_keyvalue booleans: a bare key is true; otherwise =true / =false. */
static int parse_bool(const char *value, bool *b)
{
	if (!value || strcmp(value, "true") == 0)
		*b = true;
	else if (strcmp(value, "false") == 0)
		*b = false;
	else
		return -EINVAL;
	return 0;
}

/* Splits a key=value list (a copy in the arena) into items; calls item() for each with the
 * key and the value (NULL when the item has no '='). The first item may be a bare value
 * for `first_key` (crosvm: `--block PATH,ro`, `--cpus 4`, `--mem 512`). */
static int for_each_item(struct run_state *st, const char *flag, const char *text, const char *first_key,
			 int (*item)(struct run_state *st, const char *flag, const char *key, const char *value, void *ctx),
			 void *ctx)
{
	char *copy = arena_dup(text, strlen(text));
	if (!copy)
		return fail(st->out, "--%s: command line too long", flag);
	bool first = true;
	for (char *p = copy, *next; p; p = next, first = false) {
		next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		if (!*p) {
			if (!next && first)
				break; /* an empty list: every key keeps its default */
			return fail(st->out, "--%s: empty item in '%s'", flag, text);
		}
		char *value = strchr(p, '=');
		if (value)
			*value++ = '\0';
		const char *key = p;
		if (first && first_key && !value) {
			value = p;
			key = first_key;
		}
		int ret = item(st, flag, key, value, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

static int cpus_item(struct run_state *st, const char *flag, const char *key, const char *value, void *ctx)
{
	(void)ctx;
	unsigned long n;
	if (strcmp(key, "num-cores") != 0)
		return fail(st->out, "--%s: '%s' is not supported (only num-cores)", flag, key);
	if (!value || parse_number(value, 64, &n))
		return fail(st->out, "--%s: num-cores '%s' is not a vCPU count (1..64)", flag, value ? value : "");
	st->cfg->cpus = (unsigned int)n;
	return 0;
}

static int mem_item(struct run_state *st, const char *flag, const char *key, const char *value, void *ctx)
{
	(void)ctx;
	unsigned long mib;
	if (strcmp(key, "size") != 0)
		return fail(st->out, "--%s: '%s' is not supported (only size)", flag, key);
	/* crosvm takes MiB as a plain number; n90vmm's own limits are checked when the VM is made. */
	if (!value || parse_number(value, 1ul << 24, &mib))
		return fail(st->out, "--%s: size '%s' is not a number of MiB", flag, value ? value : "");
	st->cfg->mem_bytes = (uint64_t)mib << 20;
	return 0;
}

struct block_ctx {
	struct disk_config disk;
	bool root;
	bool allow_ro_root; /* --block: ro= and root= are keys; the deprecated flags fix them */
};

static int block_item(struct run_state *st, const char *flag, const char *key, const char *value, void *ctx)
{
	struct block_ctx *b = ctx;
	bool on;
	if (strcmp(key, "path") == 0) {
		if (!value || !*value)
			return fail(st->out, "--%s: empty path", flag);
		b->disk.path = value;
		return 0;
	}
	if (strcmp(key, "id") == 0) {
		/* virtio-blk ids are 20 bytes (crosvm DISK_ID_LEN); n90vmm derives its own. */
		if (!value || strlen(value) > 20)
			return fail(st->out, "--%s: id must be 1..20 characters", flag);
		warn(st->out, "--%s: id=%s ignored: n90vmm gives each disk its own id", flag, value);
		return 0;
	}
	if (strcmp(key, "block-size") == 0 || strcmp(key, "block_size") == 0) {
		unsigned long bs;
		if (!value || parse_number(value, 1ul << 20, &bs) || bs != 512)
			return fail(st->out, "--%s: block-size '%s' is not supported (n90vmm's disks use 512-byte sectors)",
				    flag, value ? value : "");
		return 0;
	}
	if (parse_bool(value, &on))
		return fail(st->out, "--%s: %s='%s' is not true or false", flag, key, value);
	if (strcmp(key, "direct") == 0 || strcmp(key, "o_direct") == 0 || strcmp(key, "o-direct") == 0)
		b->disk.direct = on;
	else if (b->allow_ro_root && strcmp(key, "ro") == 0)
		b->disk.read_only = on;
	else if (b->allow_ro_root && strcmp(key, "root") == 0)
		b->root = on;
	else if (strcmp(key, "sparse") == 0) {
		if (!on)
			warn(st->out, "--%s: sparse=false ignored: n90vmm's disks always accept discard", flag);
	} else if (strcmp(key, "lock") == 0) {
		if (!on)
			warn(st->out, "--%s: lock=false ignored: n90vmm always locks a writable image (flock)", flag);
	} else
		return fail(st->out, "--%s: '%s' is not supported (path, ro, root, direct, sparse, block-size, id, lock)",
			    flag, key);
	return 0;
}

static int add_disk(struct run_state *st, const struct flag *f, const char *value)
{
	struct vm_config *cfg = st->cfg;
	struct block_ctx b = { .allow_ro_root = f->kind == F_BLOCK };
	int ret = for_each_item(st, f->name, value, "path", block_item, &b);
	if (ret)
		return ret;
	if (!b.disk.path)
		return fail(st->out, "--%s: no path", f->name);
	if (f->kind == F_DISK || f->kind == F_ROOT)
		b.disk.read_only = true;
	if (f->kind == F_ROOT || f->kind == F_RWROOT)
		b.root = true;
	if (b.root && st->root_disk >= 0)
		return fail(st->out, "--%s: only one root disk may be given", f->name);
	if (cfg->ndisks >= CONFIG_MAX_DISKS)
		return fail(st->out, "--%s: at most %d disks", f->name, CONFIG_MAX_DISKS);
	if (b.root)
		st->root_disk = (int)cfg->ndisks;
	cfg->disks[cfg->ndisks++] = b.disk;
	return 0;
}

struct serial_ctx {
	const char *type, *path;
	unsigned long num;
	bool virtio, console, earlycon, stdin_set;
};

static int serial_item(struct run_state *st, const char *flag, const char *key, const char *value, void *ctx)
{
	struct serial_ctx *s = ctx;
	bool on;
	if (strcmp(key, "type") == 0) {
		if (!value)
			return fail(st->out, "--%s: type needs a value", flag);
		s->type = value;
	} else if (strcmp(key, "path") == 0) {
		if (!value || !*value)
			return fail(st->out, "--%s: empty path", flag);
		s->path = value;
	} else if (strcmp(key, "num") == 0) {
		if (!value || parse_number(value, 4, &s->num))
			return fail(st->out, "--%s: num '%s' is not 1..4", flag, value ? value : "");
	} else if (strcmp(key, "hardware") == 0) {
		if (value && strcmp(value, "serial") == 0)
			s->virtio = false;
		else if (value && strcmp(value, "virtio-console") == 0)
			s->virtio = true;
		else
			return fail(st->out, "--%s: hardware '%s' is not supported (serial, virtio-console)", flag,
				    value ? value : "");
	} else if (strcmp(key, "console") == 0 || strcmp(key, "earlycon") == 0 || strcmp(key, "stdin") == 0) {
		if (parse_bool(value, &on))
			return fail(st->out, "--%s: %s='%s' is not true or false", flag, key, value);
		if (key[0] == 'c')
			s->console = on;
		else if (key[0] == 'e')
			s->earlycon = on;
		else
			s->stdin_set = on;
	} else {
		return fail(st->out, "--%s: '%s' is not supported (type, path, num, hardware, console, earlycon, stdin)",
			    flag, key);
	}
	return 0;
}

static int add_serial(struct run_state *st, const char *value)
{
	struct serial_ctx s = { .type = "sink", .num = 1 }; /* crosvm's defaults */
	int ret = for_each_item(st, "serial", value, NULL, serial_item, &s);
	if (ret)
		return ret;
	static const struct {
		const char *name;
		enum serial_sink_kind kind;
		bool needs_path;
	} types[] = {
		{ "stdout", SERIAL_SINK_STDIO, false },
		{ "sink", SERIAL_SINK_NONE, false },
		{ "syslog", SERIAL_SINK_SYSLOG, false },
		{ "file", SERIAL_SINK_FILE, true },
		{ "unix", SERIAL_SINK_UNIX_DGRAM, true },
		{ "unix-stream", SERIAL_SINK_UNIX_CONNECT, true },
	};
	size_t t;
	for (t = 0; t < sizeof(types) / sizeof(types[0]); t++)
		if (strcmp(s.type, types[t].name) == 0)
			break;
	if (t == sizeof(types) / sizeof(types[0]))
		return fail(st->out, "--serial: type '%s' is not supported (stdout, sink, syslog, file, unix, unix-stream)",
			    s.type);
	if (types[t].needs_path && !s.path)
		return fail(st->out, "--serial: type=%s needs path=PATH", s.type);
	if (types[t].needs_path && (ret = cli_check_path("--serial", types[t].kind == SERIAL_SINK_FILE ? 0 : CLI_UNIX_PATH_MAX,
							 s.path, st->out->err, sizeof(st->out->err))))
		return ret;
	unsigned int bit = 1u << ((s.virtio ? 8 : 0) + s.num);
	if (st->serials_seen & bit)
		return fail(st->out, "--serial: %s %lu given twice", s.virtio ? "virtio-console" : "serial", s.num);
	st->serials_seen |= bit;
	if (s.console && st->console_set)
		return fail(st->out, "--serial: only one serial device can be the console");
	if (s.earlycon && s.virtio)
		return fail(st->out, "--serial: earlycon needs hardware=serial");
	/* n90vmm connects one port: COM1, or the virtio console. The other ports exist (COM2-4)
	 * but nothing is behind them, which is what type=sink asks for. */
	bool connected = s.num == 1;
	if (!connected && (types[t].kind != SERIAL_SINK_NONE || s.console || s.earlycon))
		return fail(st->out, "--serial: num=%lu: n90vmm connects only port 1 (use type=sink for others)", s.num);
	if (!connected)
		return 0;
	if (st->have_serial1)
		return fail(st->out, "--serial: n90vmm connects one console port (serial 1 or virtio-console 1), not both");
	st->have_serial1 = true;
	st->cfg->serial.kind = types[t].kind;
	st->cfg->serial.path = types[t].needs_path ? s.path : NULL;
	st->cfg->console = s.virtio ? CONSOLE_VIRTIO : CONSOLE_SERIAL;
	st->serial_console = s.console;
	st->serial_earlycon = s.earlycon;
	if (s.console)
		st->console_set = true;
	return 0;
}

/* The older per-NIC flags (--tap-name, --host-ip ...) as one --net spec. */
static int add_legacy_nic(struct run_state *st)
{
	char spec[256];
	int n;
	if (!st->tap_name && !st->tap_fd && !st->host_ip && !st->netmask && !st->mac)
		return 0;
	if (st->tap_name)
		n = snprintf(spec, sizeof(spec), "tap-name=%s", st->tap_name);
	else if (st->tap_fd)
		n = snprintf(spec, sizeof(spec), "tap-fd=%s", st->tap_fd);
	else
		n = snprintf(spec, sizeof(spec), "host-ip=%s,netmask=%s", st->host_ip ? st->host_ip : "",
			     st->netmask ? st->netmask : "");
	if (st->mac && n > 0 && (size_t)n < sizeof(spec))
		n += snprintf(spec + n, sizeof(spec) - (size_t)n, ",mac=%s", st->mac);
	if (n < 0 || (size_t)n >= sizeof(spec))
		return fail(st->out, "--tap-name/--host-ip: values too long");
	if (st->cfg->nnets >= CONFIG_MAX_NICS)
		return fail(st->out, "--net: at most %d NICs", CONFIG_MAX_NICS);
	if (cli_parse_net(spec, &st->cfg->nets[st->cfg->nnets], st->out->err, sizeof(st->out->err)))
		return -EINVAL;
	st->cfg->nnets++;
	return 0;
}

static int apply_flag(struct run_state *st, const struct flag *f, const char *value)
{
	struct vm_config *cfg = st->cfg;
	struct crosvm_cli *out = st->out;
	switch (f->kind) {
	case F_CPUS:
		return for_each_item(st, f->name, value, "num-cores", cpus_item, NULL);
	case F_MEM:
		return for_each_item(st, f->name, value, "size", mem_item, NULL);
	case F_INITRD:
		cfg->initrd_path = value;
		return 0;
	case F_PARAMS:
		if (st->nparams >= sizeof(st->params) / sizeof(st->params[0]))
			return fail(out, "--params: given more than %zu times", sizeof(st->params) / sizeof(st->params[0]));
		st->params[st->nparams++] = value;
		return 0;
	case F_BLOCK:
	case F_DISK:
	case F_RWDISK:
	case F_ROOT:
	case F_RWROOT:
		return add_disk(st, f, value);
	case F_NET:
		if (cfg->nnets >= CONFIG_MAX_NICS)
			return fail(out, "--net: at most %d NICs", CONFIG_MAX_NICS);
		if (cli_parse_net(value, &cfg->nets[cfg->nnets], out->err, sizeof(out->err)))
			return -EINVAL;
		cfg->nnets++;
		return 0;
	case F_TAP_NAME:
		st->tap_name = value;
		return 0;
	case F_TAP_FD:
		st->tap_fd = value;
		return 0;
	case F_HOST_IP:
		st->host_ip = value;
		return 0;
	case F_NETMASK:
		st->netmask = value;
		return 0;
	case F_MAC:
		st->mac = value;
		return 0;
	case F_SERIAL:
		return add_serial(st, value);
	case F_SOCKET:
		if (cli_check_path("--socket", CLI_UNIX_PATH_MAX, value, out->err, sizeof(out->err)))
			return -EINVAL;
		cfg->control_socket = value;
		return 0;
	case F_DISABLE_SANDBOX:
		cfg->sandbox = SANDBOX_OFF;
		return 0;
	case F_SECCOMP_LOG:
		if (cfg->sandbox != SANDBOX_OFF)
			cfg->sandbox = SANDBOX_LOG;
		return 0;
	case F_KVM_DEVICE:
		if (strcmp(value, "/dev/kvm") != 0)
			return fail(out, "--kvm-device: n90vmm uses /dev/kvm only, not '%s'", value);
		return 0;
	case F_DUMP_FDT:
		cfg->dump_fdt = value;
		return 0;
	case F_WARN:
		warn(out, "--%s accepted and ignored: %s", f->name, f->note);
		return 0;
	case F_REJECT:
		return fail(out, "--%s is not supported by n90vmm: %s", f->name, f->note);
	}
	return fail(out, "--%s: internal error", f->name);
}

static const struct flag *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++)
		if (strlen(flag_table[i].name) == len && strncmp(flag_table[i].name, name, len) == 0)
			return &flag_table[i];
	return NULL;
}

static const struct flag *find_short(char c)
{
	for (size_t i = 0; i < sizeof(flag_table) / sizeof(flag_table[0]); i++)
		if (flag_table[i].short_name == c)
			return &flag_table[i];
	return NULL;
}

/* The kernel command line crosvm would build: its base (`panic=-1`), the console and
 * earlycon from --serial, the --params in order, then root= for a root disk (crosvm
 * src/crosvm/cmdline.rs pushes it after the user's params). */
static int build_cmdline(struct run_state *st)
{
	char line[4096];
	size_t n = 0;
	bool virtio = st->cfg->console == CONSOLE_VIRTIO;
	/* Without --serial, crosvm's default serial 1 is stdout, the console and stdin. */
	bool console = !st->console_set ? true : st->serial_console;
	n += (size_t)snprintf(line + n, sizeof(line) - n, "panic=-1");
	if (console)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " console=%s", virtio ? "hvc0" : "ttyS0");
	if (st->serial_earlycon)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " earlycon=%s", arch_serial_earlycon);
	for (unsigned int i = 0; i < st->nparams && n < sizeof(line); i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s", st->params[i]);
	if (st->root_disk >= 0 && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, " root=/dev/vd%c %s", 'a' + st->root_disk,
				      st->cfg->disks[st->root_disk].read_only ? "ro" : "rw");
	if (n >= sizeof(line))
		return fail(st->out, "--params: kernel command line longer than %zu bytes", sizeof(line) - 1);
	st->cfg->cmdline = arena_dup(line, n);
	if (!st->cfg->cmdline)
		return fail(st->out, "--params: command line too long");
	return 0;
}

static void config_defaults(struct vm_config *cfg)
{
	/* The native parser's defaults, so that the two give equal configs. */
	memset(cfg, 0, sizeof(*cfg));
	cfg->cmdline = "";
	cfg->stdin_enabled = true;
	cfg->transport = VIRTIO_TRANSPORT_PCI;
}

static enum crosvm_command parse_run(int argc, char *const *argv, int i, struct vm_config *cfg, struct crosvm_cli *out)
{
	struct run_state st = { .cfg = cfg, .out = out, .root_disk = -1 };
	bool options_done = false;

	for (; i < argc; i++) {
		const char *arg = argv[i];
		const struct flag *f = NULL;
		const char *value = NULL;
		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (options_done || arg[0] != '-' || arg[1] == '\0') {
			if (cfg->kernel_path) {
				fail(out, "unexpected argument '%s' after KERNEL '%s'", arg, cfg->kernel_path);
				return CROSVM_CMD_ERROR;
			}
			cfg->kernel_path = arg;
			continue;
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			if (strncmp(name, "help", len) == 0 && len == 4)
				return CROSVM_CMD_HELP;
			f = find_long(name, len);
			if (!f) {
				fail(out, "unknown flag '--%.*s' (crosvm run flags: docs/crosvm-compat.md)", (int)len, name);
				return CROSVM_CMD_ERROR;
			}
			if (eq) {
				if (!f->takes_value) {
					fail(out, "--%s takes no value", f->name);
					return CROSVM_CMD_ERROR;
				}
				value = eq + 1;
			}
		} else {
			f = arg[2] == '\0' ? find_short(arg[1]) : NULL;
			if (arg[1] == 'h' && arg[2] == '\0')
				return CROSVM_CMD_HELP;
			if (!f) {
				fail(out, "unknown flag '%s' (crosvm run flags: docs/crosvm-compat.md)", arg);
				return CROSVM_CMD_ERROR;
			}
		}
		if (f->takes_value && !value) {
			/* The StarryOS runner writes `--root IMG --rwroot` meaning "the root disk is
			 * writable": a --rwroot with no value (end, or another flag next) says that. */
			if (f->kind == F_RWROOT && (i + 1 >= argc || argv[i + 1][0] == '-')) {
				if (st.root_disk < 0) {
					fail(out, "--rwroot needs a PATH (or a --root before it)");
					return CROSVM_CMD_ERROR;
				}
				cfg->disks[st.root_disk].read_only = false;
				continue;
			}
			if (i + 1 >= argc) {
				fail(out, "--%s needs a value", f->name);
				return CROSVM_CMD_ERROR;
			}
			value = argv[++i];
		}
		if (apply_flag(&st, f, value))
			return CROSVM_CMD_ERROR;
	}
	if (add_legacy_nic(&st))
		return CROSVM_CMD_ERROR;
	if (!cfg->kernel_path) {
		fail(out, "no KERNEL given (crosvm run [flags] KERNEL)");
		return CROSVM_CMD_ERROR;
	}
	if (build_cmdline(&st))
		return CROSVM_CMD_ERROR;
	cfg->crosvm_exit_codes = true;
	return CROSVM_CMD_RUN;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

bool crosvm_cli_applies(int argc, char *const *argv)
{
	if (argc > 0 && strcmp(base_name(argv[0]), "crosvm") == 0)
		return true;
	return argc > 1 && strcmp(argv[1], "run") == 0;
}

enum crosvm_command crosvm_cli_parse(int argc, char *const *argv, struct vm_config *cfg, struct crosvm_cli *out)
{
	int i = 1;
	memset(out, 0, sizeof(*out));
	config_defaults(cfg);
	arena_used = 0;
	/* crosvm's global options come before the subcommand. */
	while (i < argc && argv[i][0] == '-') {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return CROSVM_CMD_HELP;
		if (strcmp(a, "--version") == 0)
			return CROSVM_CMD_VERSION;
		if (strcmp(a, "--no-syslog") == 0) {
			i++; /* n90vmm never logs to syslog */
		} else if (strcmp(a, "--extended-status") == 0) {
			warn(out, "--extended-status accepted: the exit statuses are crosvm's already");
			i++;
		} else if (strcmp(a, "--log-level") == 0 || strcmp(a, "--syslog-tag") == 0) {
			if (i + 1 >= argc) {
				fail(out, "%s needs a value", a);
				return CROSVM_CMD_ERROR;
			}
			warn(out, "%s %s accepted and ignored: n90vmm logs to stderr (-v in native mode)", a, argv[i + 1]);
			i += 2;
		} else {
			fail(out, "unknown flag '%s' before the subcommand", a);
			return CROSVM_CMD_ERROR;
		}
	}
	if (i >= argc) {
		fail(out, "no subcommand (run, stop, version)");
		return CROSVM_CMD_ERROR;
	}
	const char *sub = argv[i++];
	if (strcmp(sub, "run") == 0)
		return parse_run(argc, argv, i, cfg, out);
	if (strcmp(sub, "stop") == 0) {
		if (i != argc - 1 || argv[i][0] == '-') {
			fail(out, "stop: give exactly one VM_SOCKET");
			return CROSVM_CMD_ERROR;
		}
		out->stop_socket = argv[i];
		return CROSVM_CMD_STOP;
	}
	if (strcmp(sub, "version") == 0)
		return CROSVM_CMD_VERSION;
	if (strcmp(sub, "help") == 0)
		return CROSVM_CMD_HELP;
	fail(out, "subcommand '%s' is not supported by n90vmm (run, stop, version)", sub);
	return CROSVM_CMD_ERROR;
}

int crosvm_exit_status(int native_status)
{
	switch (native_status) {
	case EXIT_POWEROFF:
		return CROSVM_EXIT_STOP;
	case EXIT_GUEST_RESET:
		return CROSVM_EXIT_RESET;
	case EXIT_TRIPLE_FAULT:
	case EXIT_KVM_ERROR:
		return CROSVM_EXIT_CRASH;
	case EXIT_USAGE:
		return CROSVM_EXIT_INVALID_ARGS;
	case EXIT_TIMEOUT:
	case EXIT_USER_QUIT:
		/* No crosvm counterpart: kept, so a harness can tell them from a guest ending. */
		return native_status;
	default:
		/* Bad image, missing file, host setup: crosvm's generic error status. */
		return CROSVM_EXIT_FAILURE;
	}
}

void crosvm_cli_print_help(void)
{
	printf("Usage: crosvm [--log-level L] run [flags] KERNEL   (n90vmm run [flags] KERNEL)\n"
	       "       crosvm stop VM_SOCKET                      (n90vmm stop VM_SOCKET)\n"
	       "n90vmm's crosvm compatibility mode. Implemented run flags:\n"
	       "  -c, --cpus N | num-cores=N      -m, --mem N | size=N (MiB)\n"
	       "  -i, --initrd PATH               -p, --params PARAMS (repeatable)\n"
	       "  --block PATH[,ro][,root][,direct][,sparse=B][,block-size=512][,id=ID]\n"
	       "  --disk/--rwdisk/--root/--rwroot PATH[,...]   (deprecated crosvm spellings)\n"
	       "  --net tap-name=N|tap-fd=FD|host-ip=IP,netmask=M[,mac=MAC]\n"
	       "  --serial type=stdout|sink|file|syslog|unix|unix-stream[,path=P][,num=1][,console]\n"
	       "           [,earlycon][,stdin][,hardware=serial|virtio-console]\n"
	       "  -s, --socket PATH (control socket for `stop`)   --disable-sandbox\n"
	       "Harmless flags are accepted with a warning; the rest are refused (exit 35).\n"
	       "Exit status: 0 stop/power off, 32 reset, 33 crash, 35 invalid arguments, 1 other errors.\n"
	       "Every flag: docs/crosvm-compat.md\n");
}
