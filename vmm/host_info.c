/* What this host's KVM can do (host_info.h). Self-contained: the monitor core calls it at
 * three points (--host-info, before the boot, after an internal error). */
#include "vmm/host_info.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vmm/exit_status.h"
#include "vmm/log.h"

#ifndef KVM_CAP_NESTED_STATE
#define KVM_CAP_NESTED_STATE 157
#endif

#define CPUID_1_ECX_VMX (1u << 5)
#define CPUID_80000001_ECX_SVM (1u << 2)
#define CPUID_80000001_EDX_GBPAGES (1u << 26)

void host_say(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static bool module_loaded(const char *name)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

void host_kvm_gather(struct host_kvm_facts *f, bool probe)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->arch = arch_name;
	f->api_version = -1;
	f->gbpages_probe = -1;
	f->mod_kvm_pvm = module_loaded("kvm_pvm");
	f->mod_kvm_intel = module_loaded("kvm_intel");
	f->mod_kvm_amd = module_loaded("kvm_amd");
	/* 20 ms of sleeping: only for the report, never before a boot. */
	if (probe)
		f->tsc_khz = arch_host_tsc_khz();
	/* A missing /dev/kvm must not be created by the probe: stat first, never O_CREAT. */
	f->dev_present = stat("/dev/kvm", &st) == 0 && S_ISCHR(st.st_mode);
	if (!f->dev_present) {
		f->open_errno = ENOENT;
		return;
	}
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		f->open_errno = errno;
		return;
	}
	f->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	f->cap_nested_state = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NESTED_STATE);
	f->cap_max_vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	f->cap_nr_vcpus = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	f->cap_irqchip = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP);
	if (f->cap_nested_state < 0)
		f->cap_nested_state = 0;
	/* What only this architecture asks KVM (x86: the supported CPUID, the 1 GiB probe). */
	arch_host_kvm_gather(fd, f, probe);
	close(fd);
}

static const struct host_cpuid_leaf *leaf(const struct host_kvm_facts *f, uint32_t function)
{
	for (unsigned int i = 0; i < f->ncpuid && i < HOST_CPUID_MAX; i++)
		if (f->cpuid[i].function == function && f->cpuid[i].index == 0)
			return &f->cpuid[i];
	return NULL;
}

const char *host_kvm_flavour_name(enum host_kvm_flavour fl)
{
	switch (fl) {
	case HOST_KVM_REAL:
		return "real";
	case HOST_KVM_PVM:
		return "kvm-pvm";
	case HOST_KVM_NONE:
		break;
	}
	return "none";
}

/* The measured flavour and what decided it. */
static enum host_kvm_flavour measure(const struct host_kvm_facts *f, char *why, size_t len)
{
	if (!f->dev_present) {
		host_say(why, len, "no /dev/kvm character device");
		return HOST_KVM_NONE;
	}
	if (f->open_errno) {
		host_say(why, len, "/dev/kvm cannot be opened read/write: %s", strerror(f->open_errno));
		return HOST_KVM_NONE;
	}
	if (f->api_version != KVM_API_VERSION) {
		host_say(why, len, "/dev/kvm speaks API version %d, not %d", f->api_version, KVM_API_VERSION);
		return HOST_KVM_NONE;
	}
	if (strcmp(f->arch, "x86_64") != 0) {
		host_say(why, len, "KVM on %s (kvm-pvm exists only for x86-64)", f->arch);
		return HOST_KVM_REAL;
	}
	/* kvm_intel and kvm_amd both implement nested_ops->get_state, so KVM reports the
	 * nested-state size (> 0) whatever their nested= parameter; 0 means a vendor module
	 * that is neither VMX nor SVM. */
	if (f->cap_nested_state > 0) {
		host_say(why, len, "KVM_CAP_NESTED_STATE is %d: a VMX/SVM vendor module (kvm_intel or kvm_amd)",
		    f->cap_nested_state);
		return HOST_KVM_REAL;
	}
	const struct host_cpuid_leaf *l1 = leaf(f, 1), *e1 = leaf(f, 0x80000001);
	if ((l1 && (l1->ecx & CPUID_1_ECX_VMX)) || (e1 && (e1->ecx & CPUID_80000001_ECX_SVM))) {
		host_say(why, len, "KVM's supported CPUID offers %s to guests: a hardware vendor module",
		    l1 && (l1->ecx & CPUID_1_ECX_VMX) ? "VMX" : "SVM");
		return HOST_KVM_REAL;
	}
	if (f->mod_kvm_pvm) {
		host_say(why, len, "KVM_CAP_NESTED_STATE is 0 and the supported CPUID has no VMX/SVM (no "
			      "kvm_intel/kvm_amd behind /dev/kvm); /sys/module/kvm_pvm is loaded");
		return HOST_KVM_PVM;
	}
	if (f->mod_kvm_intel || f->mod_kvm_amd) {
		host_say(why, len, "KVM_CAP_NESTED_STATE is 0 but /sys/module/%s is loaded (a kernel without "
			      "nested-state support)", f->mod_kvm_intel ? "kvm_intel" : "kvm_amd");
		return HOST_KVM_REAL;
	}
	host_say(why, len, "KVM_CAP_NESTED_STATE is 0 and the supported CPUID has no VMX/SVM: the vendor "
		      "module is neither kvm_intel nor kvm_amd (kvm-pvm; /sys/module shows none of them)");
	return HOST_KVM_PVM;
}

int host_kvm_classify(const struct host_kvm_facts *f, const char *forced, struct host_kvm_info *info)
{
	memset(info, 0, sizeof(*info));
	info->measured_flavour = measure(f, info->reason, sizeof(info->reason));
	info->flavour = info->measured_flavour;
	if (forced && *forced) {
		if (strcmp(forced, "none") == 0)
			info->flavour = HOST_KVM_NONE;
		else if (strcmp(forced, "pvm") == 0 || strcmp(forced, "kvm-pvm") == 0)
			info->flavour = HOST_KVM_PVM;
		else if (strcmp(forced, "real") == 0)
			info->flavour = HOST_KVM_REAL;
		else
			return -EINVAL;
		info->forced = true;
	}

	bool x86 = strcmp(f->arch, "x86_64") == 0;
	const struct host_cpuid_leaf *l1 = leaf(f, 1), *e1 = leaf(f, 0x80000001);
	if (info->forced) {
		/* What that kind of host would say: real KVM offers 1 GiB pages (TDP passes the
		 * CPU's, the shadow MMU emulates them), kvm-pvm does not. */
		info->gbpages = info->flavour == HOST_KVM_REAL;
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason), "forced by N90_HOST_KVM=%s", forced);
		info->nested = info->flavour == HOST_KVM_REAL && info->measured_flavour == HOST_KVM_REAL &&
			       (!x86 || (l1 && (l1->ecx & CPUID_1_ECX_VMX)) ||
				(e1 && (e1->ecx & CPUID_80000001_ECX_SVM)));
	} else if (info->flavour == HOST_KVM_NONE) {
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason), "no KVM");
	} else if (!x86) {
		info->gbpages = true;
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason), "not an x86 question (%s)", f->arch);
		info->nested = false;
	} else if (!e1) {
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason),
		    "KVM's supported CPUID could not be read (no leaf 0x80000001)");
	} else if (!(e1->edx & CPUID_80000001_EDX_GBPAGES)) {
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason),
		    "KVM's supported CPUID 0x80000001 EDX lacks PDPE1GB (bit 26)");
	} else {
		/* The CPUID says yes; a probe that ran and failed says no. */
		info->gbpages = f->gbpages_probe != 0;
		host_say(info->gbpages_reason, sizeof(info->gbpages_reason),
		    "KVM's supported CPUID 0x80000001 EDX has PDPE1GB (bit 26)%s%s%s",
		    f->gbpages_probe < 0 ? "" : f->gbpages_probe ? "; probe: " : " but the probe failed: ",
		    f->gbpages_probe < 0 ? "" : f->probe_detail, f->gbpages_probe < 0 ? " (not probed)" : "");
		info->nested = (l1 && (l1->ecx & CPUID_1_ECX_VMX)) || (e1->ecx & CPUID_80000001_ECX_SVM);
	}
	info->linux_ok = info->flavour == HOST_KVM_REAL;
	return 0;
}

/* Appends to a bounded buffer, snprintf-style: *used keeps counting past the end. */
struct out {
	char *buf;
	size_t len, used;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t room = o->used < o->len ? o->len - o->used : 0;
	int n = vsnprintf(room ? o->buf + o->used : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->used += (size_t)n;
}

static void put_string(struct out *o, const char *key, const char *s)
{
	put(o, "  \"%s\": \"", key);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			put(o, "\\%c", c);
		else if (c < 0x20)
			put(o, "\\u%04x", c);
		else
			put(o, "%c", c);
	}
	put(o, "\",\n");
}

size_t host_kvm_json(const struct host_kvm_facts *f, const struct host_kvm_info *info, char *buf, size_t len)
{
	struct out o = { buf, len, 0 };
	const char *tf[] = { "false", "true" };
	bool opened = f->dev_present && !f->open_errno;

	if (len)
		buf[0] = '\0';
	put(&o, "{\n");
	put_string(&o, "arch", f->arch);
	put(&o, "  \"kvm_present\": %s,\n", tf[f->dev_present]);
	put(&o, "  \"kvm_openable\": %s,\n", tf[opened]);
	if (opened)
		put(&o, "  \"kvm_error\": null,\n");
	else
		put_string(&o, "kvm_error", f->dev_present ? strerror(f->open_errno) : "no /dev/kvm");
	put(&o, "  \"api_version\": %d,\n", f->api_version);
	put_string(&o, "flavour", host_kvm_flavour_name(info->flavour));
	put_string(&o, "measured_flavour", host_kvm_flavour_name(info->measured_flavour));
	put(&o, "  \"forced\": %s,\n", tf[info->forced]);
	put_string(&o, "reason", info->reason);
	put(&o, "  \"gbpages\": %s,\n", tf[info->gbpages]);
	put_string(&o, "gbpages_reason", info->gbpages_reason);
	put(&o, "  \"nested\": %s,\n", tf[info->nested]);
	put(&o, "  \"nested_state_size\": %d,\n", opened ? f->cap_nested_state : 0);
	put(&o, "  \"max_vcpus\": %d,\n", opened ? f->cap_max_vcpus : 0);
	put(&o, "  \"recommended_vcpus\": %d,\n", opened ? f->cap_nr_vcpus : 0);
	put(&o, "  \"irqchip\": %s,\n", tf[opened && f->cap_irqchip > 0]);
	put(&o, "  \"kvm_pvm_module\": %s,\n", tf[f->mod_kvm_pvm]);
	put(&o, "  \"tsc_khz\": %lu,\n", f->tsc_khz);
	put(&o, "  \"linux_ok\": %s\n", tf[info->linux_ok]);
	put(&o, "}\n");
	return o.used;
}

int host_info_main(void)
{
	static struct host_kvm_facts facts;
	struct host_kvm_info info;
	char json[4096];
	const char *forced = getenv("N90_HOST_KVM");

	host_kvm_gather(&facts, true);
	if (host_kvm_classify(&facts, forced, &info) < 0) {
		fprintf(stderr, "n90vmm: N90_HOST_KVM='%s': expected none, pvm or real\n", forced);
		return EXIT_USAGE;
	}
	host_kvm_json(&facts, &info, json, sizeof(json));
	fputs(json, stdout);
	return 0;
}

/* --- n90vmm's own boot --------------------------------------------------------------------- */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

bool host_image_is_linux(const uint8_t *img, size_t size)
{
	/* bzImage: boot flag 0xAA55 at 0x1fe, "HdrS" at 0x202; kernel_version (0x20e, protocol
	 * 2.00+) points, 0x200 on, at "6.1.0-57-cloud-amd64 (...) #1 SMP ...". */
	if (size >= 0x210 && le16(img + 0x1fe) == 0xaa55 && memcmp(img + 0x202, "HdrS", 4) == 0) {
		size_t off = (size_t)le16(img + 0x20e) + 0x200;
		if (le16(img + 0x20e) == 0 || off + 3 > size)
			return false;
		const uint8_t *v = img + off;
		size_t i = 0;
		while (off + i < size && i < 4 && v[i] >= '0' && v[i] <= '9')
			i++;
		return i > 0 && off + i + 1 < size && v[i] == '.' && v[i + 1] >= '0' && v[i + 1] <= '9';
	}
	/* An ELF vmlinux carries Linux's banner uncompressed in .rodata. */
	static const char banner[] = "Linux version ";
	if (size >= 64 && memcmp(img, "\x7f" "ELF", 4) == 0)
		return memmem(img, size, banner, sizeof(banner) - 1) != NULL;
	return false;
}

bool host_idt_holds_no_gate(uint64_t cr0, uint64_t efer, uint32_t idt_limit)
{
	/* The limit is the last valid byte: vector 0 needs limit >= gate size - 1. */
	uint32_t gate = !(cr0 & 1) ? 4 : (efer & (1u << 10)) ? 16 : 8; /* real / long (LMA) / protected */
	return idt_limit < gate - 1;
}

static enum host_kvm_flavour boot_flavour = HOST_KVM_NONE;

void host_info_before_boot(const uint8_t *kernel, size_t size, const char *path)
{
	static struct host_kvm_facts facts;
	struct host_kvm_info info;

	host_kvm_gather(&facts, false); /* no probe: a boot needs only the flavour */
	host_kvm_classify(&facts, NULL, &info); /* the real host: N90_HOST_KVM is for the scripts */
	boot_flavour = info.measured_flavour;
	if (boot_flavour == HOST_KVM_PVM && host_image_is_linux(kernel, size))
		fprintf(stderr,
			"n90vmm: warning: this host's KVM is kvm-pvm, which cannot run an unmodified Linux kernel "
			"like '%s': expect it to hang or to stop with a KVM error (use a host with real KVM, or "
			"the rig's L1: n90vmm --host-info, docs/testing.md)\n",
			path);
}

enum host_kvm_flavour host_info_flavour(void)
{
	return boot_flavour;
}
