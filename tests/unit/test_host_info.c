/* host_info: what the facts KVM reports say about the host (n90vmm --host-info), fed with
 * the CPUID tables and capability values of real AMD and Intel hosts, a kvm-pvm host and
 * hosts without KVM; the forced mode (N90_HOST_KVM); the JSON; Linux image detection; the
 * "IDT holds no gate" rule behind the kvm-pvm triple fault. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/host_info.h"

#define VMX (1u << 5)
#define SVM (1u << 2)
#define GBPAGES (1u << 26)

static void add_leaf(struct host_kvm_facts *f, uint32_t function, uint32_t ecx, uint32_t edx)
{
	f->cpuid[f->ncpuid++] = (struct host_cpuid_leaf){ .function = function, .ecx = ecx, .edx = edx };
}

static struct host_kvm_facts *base(void)
{
	struct host_kvm_facts *f = calloc(1, sizeof(*f));
	f->arch = "x86_64";
	f->dev_present = true;
	f->api_version = 12;
	f->cap_max_vcpus = 1024;
	f->cap_nr_vcpus = 2;
	f->cap_irqchip = 1;
	f->gbpages_probe = -1;
	add_leaf(f, 0, 0, 0);
	return f;
}

/* An AMD EPYC host with kvm_amd (nested=1: SVM offered to guests). */
static struct host_kvm_facts *real_amd(bool nested)
{
	struct host_kvm_facts *f = base();
	f->cap_nested_state = 16384 + 4096; /* kvm_amd: sizeof header + VMCB */
	add_leaf(f, 1, 0x7ed8320b, 0x178bfbff);
	add_leaf(f, 0x80000001, 0x00000121 | (nested ? SVM : 0), 0x2fd3fbff | GBPAGES);
	f->mod_kvm_amd = true;
	return f;
}

/* An Intel host with kvm_intel (nested=0: no VMX offered; the nested-state size still is). */
static struct host_kvm_facts *real_intel(bool nested)
{
	struct host_kvm_facts *f = base();
	f->cap_nested_state = 8192 + 128;
	add_leaf(f, 1, (0x7ffafbbf & ~VMX) | (nested ? VMX : 0), 0x0f8bfbff);
	add_leaf(f, 0x80000001, 0x00000121, 0x2c100800 | GBPAGES);
	f->mod_kvm_intel = true;
	return f;
}

/* kvm-pvm as measured on this project's machines: no nested state, no VMX/SVM, no PDPE1GB
 * although the CPU has it. */
static struct host_kvm_facts *pvm(bool sysfs)
{
	struct host_kvm_facts *f = base();
	f->cap_nested_state = 0;
	add_leaf(f, 1, 0x7ed8320b & ~VMX, 0x178bfbff);
	add_leaf(f, 0x80000001, 0x00000121 & ~SVM, 0x2fd3fbff & ~GBPAGES);
	f->mod_kvm_pvm = sysfs;
	return f;
}

static struct host_kvm_info classify(const struct host_kvm_facts *f, const char *forced)
{
	struct host_kvm_info info;
	cr_assert_eq(host_kvm_classify(f, forced, &info), 0);
	return info;
}

Test(host_info, real_amd)
{
	struct host_kvm_facts *f = real_amd(true);
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect_not(i.forced);
	cr_expect(i.gbpages);
	cr_expect(i.nested);
	cr_expect(i.linux_ok);
	cr_expect(strstr(i.reason, "KVM_CAP_NESTED_STATE is 20480"), "%s", i.reason);
	free(f);
}

Test(host_info, real_intel_without_nested_is_still_real)
{
	struct host_kvm_facts *f = real_intel(false);
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect(i.gbpages);
	cr_expect_not(i.nested);
	cr_expect(i.linux_ok);
	free(f);
	f = real_intel(true);
	i = classify(f, NULL);
	cr_expect(i.nested);
	free(f);
}

Test(host_info, real_without_nested_state_cap_by_module)
{
	/* An old kernel (no KVM_CAP_NESTED_STATE): the vendor module in /sys/module decides. */
	struct host_kvm_facts *f = real_amd(false);
	f->cap_nested_state = 0;
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect(strstr(i.reason, "kvm_amd"), "%s", i.reason);
	free(f);
}

Test(host_info, real_by_cpuid_vmx)
{
	struct host_kvm_facts *f = real_intel(true);
	f->cap_nested_state = 0;
	f->mod_kvm_intel = false;
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect(strstr(i.reason, "VMX"), "%s", i.reason);
	free(f);
}

Test(host_info, pvm)
{
	struct host_kvm_facts *f = pvm(true);
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_PVM);
	cr_expect_eq(i.measured_flavour, HOST_KVM_PVM);
	cr_expect_not(i.gbpages);
	cr_expect_not(i.nested);
	cr_expect_not(i.linux_ok);
	cr_expect(strstr(i.reason, "kvm_pvm"), "%s", i.reason);
	cr_expect(strstr(i.gbpages_reason, "lacks PDPE1GB"), "%s", i.gbpages_reason);
	free(f);
}

Test(host_info, pvm_without_sysfs)
{
	/* /sys/module hidden (a container): KVM's own report still says kvm-pvm. */
	struct host_kvm_facts *f = pvm(false);
	struct host_kvm_info i = classify(f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_PVM);
	cr_expect_not(i.linux_ok);
	free(f);
}

Test(host_info, nested_state_beats_the_pvm_module)
{
	/* kvm_pvm loaded beside kvm_intel, /dev/kvm served by kvm_intel: KVM's report wins. */
	struct host_kvm_facts *f = real_intel(false);
	f->mod_kvm_pvm = true;
	cr_expect_eq(classify(f, NULL).flavour, HOST_KVM_REAL);
	free(f);
}

Test(host_info, none)
{
	struct host_kvm_facts f = { .arch = "x86_64", .open_errno = ENOENT, .api_version = -1 };
	struct host_kvm_info i = classify(&f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_NONE);
	cr_expect_not(i.gbpages);
	cr_expect_not(i.linux_ok);
	cr_expect(strstr(i.reason, "no /dev/kvm"), "%s", i.reason);

	f.dev_present = true;
	f.open_errno = EACCES;
	i = classify(&f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_NONE);
	cr_expect(strstr(i.reason, "Permission denied"), "%s", i.reason);

	struct host_kvm_facts *g = real_amd(true);
	g->api_version = 11;
	cr_expect_eq(classify(g, NULL).flavour, HOST_KVM_NONE);
	free(g);
}

Test(host_info, aarch64_is_real)
{
	struct host_kvm_facts f = { .arch = "aarch64", .dev_present = true, .api_version = 12, .cap_irqchip = 1 };
	struct host_kvm_info i = classify(&f, NULL);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect(i.linux_ok);
}

Test(host_info, forced)
{
	struct host_kvm_facts *f = pvm(true);
	struct host_kvm_info i = classify(f, "none");
	cr_expect_eq(i.flavour, HOST_KVM_NONE);
	cr_expect_eq(i.measured_flavour, HOST_KVM_PVM);
	cr_expect(i.forced);
	cr_expect_not(i.linux_ok);
	i = classify(f, "real");
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	cr_expect(i.gbpages);
	cr_expect(i.linux_ok);
	cr_expect_not(i.nested); /* the machine still has no VMX/SVM to give */
	free(f);

	f = real_amd(true);
	i = classify(f, "pvm");
	cr_expect_eq(i.flavour, HOST_KVM_PVM);
	cr_expect_not(i.gbpages);
	cr_expect_not(i.linux_ok);
	i = classify(f, "kvm-pvm");
	cr_expect_eq(i.flavour, HOST_KVM_PVM);
	i = classify(f, "");
	cr_expect_not(i.forced);
	cr_expect_eq(i.flavour, HOST_KVM_REAL);
	struct host_kvm_info bad;
	cr_expect_eq(host_kvm_classify(f, "yes", &bad), -EINVAL);
	free(f);
}

Test(host_info, json)
{
	struct host_kvm_facts *f = pvm(true);
	f->tsc_khz = 2445412;
	struct host_kvm_info i = classify(f, NULL);
	char buf[4096];
	size_t n = host_kvm_json(f, &i, buf, sizeof(buf));
	cr_assert_lt(n, sizeof(buf));
	cr_expect_eq(strlen(buf), n);
	cr_expect(strstr(buf, "\n  \"flavour\": \"kvm-pvm\",\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"linux_ok\": false\n}\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"gbpages\": false,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"api_version\": 12,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"max_vcpus\": 1024,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"irqchip\": true,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"forced\": false,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"kvm_error\": null,\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"arch\": \"x86_64\",\n"), "%s", buf);
	cr_expect(strstr(buf, "\n  \"tsc_khz\": 2445412,\n"), "%s", buf);

	/* Truncation counts like snprintf and never overruns. */
	char small[32];
	memset(small, 'X', sizeof(small));
	cr_expect_eq(host_kvm_json(f, &i, small, 16), n);
	cr_expect_eq(small[15], '\0');
	cr_expect_eq(small[16], 'X');
	free(f);

	struct host_kvm_facts none = { .arch = "x86_64", .dev_present = true, .open_errno = EACCES, .api_version = -1 };
	i = classify(&none, "none");
	host_kvm_json(&none, &i, buf, sizeof(buf));
	cr_expect(strstr(buf, "\"kvm_error\": \"Permission denied\""), "%s", buf);
	cr_expect(strstr(buf, "\"forced\": true"), "%s", buf);
	cr_expect(strstr(buf, "\"kvm_openable\": false"), "%s", buf);
}

Test(host_info, json_escapes)
{
	struct host_kvm_facts f = { .arch = "x\"y\\z\n" };
	struct host_kvm_info i = classify(&f, NULL);
	char buf[4096];
	host_kvm_json(&f, &i, buf, sizeof(buf));
	cr_expect(strstr(buf, "\"arch\": \"x\\\"y\\\\z\\u000a\","), "%s", buf);
}

static uint8_t *bzimage(const char *version, size_t *size)
{
	*size = 0x1000;
	uint8_t *img = calloc(1, *size);
	img[0x1fe] = 0x55;
	img[0x1ff] = 0xaa;
	memcpy(img + 0x202, "HdrS", 4);
	img[0x20e] = 0x00; /* kernel_version at 0x200 + 0x300 */
	img[0x20f] = 0x03;
	strcpy((char *)img + 0x500, version);
	return img;
}

Test(host_info, linux_images)
{
	size_t n;
	uint8_t *img = bzimage("6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP", &n);
	cr_expect(host_image_is_linux(img, n));
	free(img);
	img = bzimage("n90 test guest", &n);
	cr_expect_not(host_image_is_linux(img, n));
	img[0x20e] = img[0x20f] = 0; /* no kernel_version */
	cr_expect_not(host_image_is_linux(img, n));
	img[0x20e] = img[0x20f] = 0xff; /* points past the end */
	cr_expect_not(host_image_is_linux(img, n));
	free(img);

	static const char banner[] = "Linux version 6.1.0 (gcc) #1";
	uint8_t elf[512] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };
	cr_expect_not(host_image_is_linux(elf, sizeof(elf)));
	memcpy(elf + 300, banner, sizeof(banner) - 1);
	cr_expect(host_image_is_linux(elf, sizeof(elf)));
	/* A multiboot image or junk with the same text is not an ELF vmlinux. */
	elf[0] = 0;
	cr_expect_not(host_image_is_linux(elf, sizeof(elf)));
	cr_expect_not(host_image_is_linux(elf, 3));
}

Test(host_info, idt_holds_no_gate)
{
	const uint64_t PE = 1, PG = 1ull << 31, LMA = 1u << 10, LME = 1u << 8;
	/* Long mode: 16-byte gates. */
	cr_expect(host_idt_holds_no_gate(PE | PG, LME | LMA, 0));
	cr_expect(host_idt_holds_no_gate(PE | PG, LME | LMA, 14));
	cr_expect_not(host_idt_holds_no_gate(PE | PG, LME | LMA, 15));
	cr_expect_not(host_idt_holds_no_gate(PE | PG, LME | LMA, 0xfff));
	/* Protected mode: 8-byte gates (LME without LMA is not long mode yet). */
	cr_expect(host_idt_holds_no_gate(PE, LME, 6));
	cr_expect_not(host_idt_holds_no_gate(PE, 0, 7));
	/* Real mode: 4-byte vectors; the reset IVT (limit 0x3ff) holds them all. */
	cr_expect(host_idt_holds_no_gate(0, 0, 2));
	cr_expect_not(host_idt_holds_no_gate(0, 0, 3));
	cr_expect_not(host_idt_holds_no_gate(0, 0, 0x3ff));
}

Test(host_info, triple_fault_rule_needs_pvm)
{
	/* Before host_info_before_boot measured kvm-pvm (and so on every real-KVM host) the
	 * flavour is not kvm-pvm, which x86's internal_error hook tests first: the rule never
	 * applies there, whatever the vCPU. */
	cr_expect_eq(host_info_flavour(), HOST_KVM_NONE);
}

Test(host_info, gbpages_probe)
{
	/* CPUID says yes and the probe guest ran: yes; the probe failed: no (the bit lied). */
	struct host_kvm_facts *f = real_amd(false);
	f->gbpages_probe = 1;
	strcpy(f->probe_detail, "a guest's code and data in a 1 GiB page ran");
	struct host_kvm_info i = classify(f, NULL);
	cr_expect(i.gbpages);
	cr_expect(strstr(i.gbpages_reason, "has PDPE1GB") && strstr(i.gbpages_reason, "probe: a guest's"), "%s",
		  i.gbpages_reason);
	f->gbpages_probe = 0;
	strcpy(f->probe_detail, "a guest touching a 1 GiB page stopped with a triple fault");
	i = classify(f, NULL);
	cr_expect_not(i.gbpages);
	cr_expect(strstr(i.gbpages_reason, "but the probe failed: a guest touching"), "%s", i.gbpages_reason);
	cr_expect(i.linux_ok); /* still real KVM */
	f->gbpages_probe = -1;
	i = classify(f, NULL);
	cr_expect(i.gbpages);
	cr_expect(strstr(i.gbpages_reason, "(not probed)"), "%s", i.gbpages_reason);
	free(f);
}

/* The measured TSC rate is a CPU's: between 100 MHz and 10 GHz on x86 (QEMU's TCG hands this
 * rate to x86 guests); arm64 has no such question. */
Test(host_info, tsc_khz_measured)
{
	unsigned long khz = arch_host_tsc_khz();
#ifdef __x86_64__
	cr_expect_gt(khz, 100000ul);
	cr_expect_lt(khz, 10000000ul);
#else
	cr_expect_eq(khz, 0ul);
#endif
}
