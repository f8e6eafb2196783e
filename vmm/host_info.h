/* What this host's KVM can do: `n90vmm --host-info`, the test scripts' one source of truth
 * (tests/lib/host-kvm.sh), and n90vmm's own warnings and diagnoses on kvm-pvm.
 *
 * Gathering (host_kvm_gather) talks to /dev/kvm and /sys/module; everything that decides
 * (host_kvm_classify, host_kvm_json, host_image_is_linux, host_idt_holds_no_gate) is a pure
 * function of what was gathered, unit-tested in tests/unit/test_host_info.c. */
#ifndef N90_HOST_INFO_H
#define N90_HOST_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum host_kvm_flavour {
	HOST_KVM_NONE,  /* no usable /dev/kvm */
	HOST_KVM_REAL,  /* a hardware-assisted vendor module: kvm_intel (VMX) or kvm_amd (SVM) */
	HOST_KVM_PVM,   /* kvm-pvm: KVM on a software switcher; runs our test guests, not Linux */
};

/* One entry of KVM_GET_SUPPORTED_CPUID (x86), without the flags. */
struct host_cpuid_leaf {
	uint32_t function, index;
	uint32_t eax, ebx, ecx, edx;
};

#define HOST_CPUID_MAX 128

/* Everything gathered from the host. Unit tests fill one in by hand. */
struct host_kvm_facts {
	const char *arch;      /* "x86_64", "aarch64", ... */
	bool dev_present;      /* /dev/kvm exists and is a character device */
	int open_errno;        /* 0: opened read/write */
	int api_version;       /* KVM_GET_API_VERSION; -1 when not opened */
	int cap_nested_state;  /* KVM_CHECK_EXTENSION(KVM_CAP_NESTED_STATE): the state size, 0 none */
	int cap_max_vcpus;     /* KVM_CAP_MAX_VCPUS */
	int cap_nr_vcpus;      /* KVM_CAP_NR_VCPUS (recommended) */
	int cap_irqchip;       /* KVM_CAP_IRQCHIP */
	unsigned int ncpuid;   /* KVM_GET_SUPPORTED_CPUID entries (x86; 0 elsewhere or on failure) */
	struct host_cpuid_leaf cpuid[HOST_CPUID_MAX];
	bool mod_kvm_pvm, mod_kvm_intel, mod_kvm_amd; /* /sys/module/<name> exists */
	/* The 1 GiB page probe (x86, only where the supported CPUID offers PDPE1GB): a tiny
	 * long-mode guest whose code and data sit in a 1 GiB page does `out`. */
	int gbpages_probe;     /* -1 not run, 0 failed, 1 the guest reached its `out` */
	char probe_detail[96]; /* what the probe saw */
	/* The host CPU's TSC rate in kHz, measured with probe (x86; 0 elsewhere, without probe
	 * or when unmeasurable). Not
	 * a KVM fact: QEMU's TCG hands guests the host's TSC, and a Linux guest there must be
	 * told its rate (harness/exec-cases.sh: tsc_early_khz), or its clock runs off. */
	unsigned long tsc_khz;
};

/* What the facts mean. */
struct host_kvm_info {
	enum host_kvm_flavour flavour;          /* the verdict (forced by N90_HOST_KVM if set) */
	enum host_kvm_flavour measured_flavour; /* what the facts alone say */
	bool forced;
	char reason[320];     /* what decided the measured flavour */
	bool gbpages;         /* 1 GiB guest pages work */
	char gbpages_reason[160];
	bool nested;          /* guests get VMX/SVM (a KVM inside the guest would be real) */
	bool linux_ok;        /* an unmodified Linux kernel runs as a guest here */
};

/* Fills facts from this host (never fails: what cannot be read stays "absent"). probe: run
 * what costs time, for the --host-info report only: the 1 GiB page probe where the CPUID says
 * yes (a VM for a few milliseconds) and the TSC rate measurement (20 ms). */
void host_kvm_gather(struct host_kvm_facts *facts, bool probe);

/* Decides. forced: N90_HOST_KVM's value or NULL; "none", "pvm" (or "kvm-pvm") and "real"
 * override the verdict. Returns 0, or -EINVAL for any other forced value. */
int host_kvm_classify(const struct host_kvm_facts *facts, const char *forced, struct host_kvm_info *info);

/* "none", "real", "kvm-pvm". */
const char *host_kvm_flavour_name(enum host_kvm_flavour f);

/* The --host-info document: one key per line (scripts read it with sed as well as JSON
 * parsers). Returns the length written (truncated at len - 1 like snprintf). */
size_t host_kvm_json(const struct host_kvm_facts *facts, const struct host_kvm_info *info, char *buf,
		     size_t len);

/* `n90vmm --host-info`: gathers, classifies with N90_HOST_KVM, prints the JSON. Exit status:
 * 0 (also without KVM: it is a report), 64 for a bad N90_HOST_KVM value. */
int host_info_main(void);

/* Is this kernel image an unmodified Linux kernel: a bzImage whose setup header names a
 * release ("6.1.0-..."), or an ELF holding Linux's banner ("Linux version ")? The project's
 * own bzImage and PVH test guests are not. */
bool host_image_is_linux(const uint8_t *image, size_t size);

/* x86: can the IDT described by idt_limit hold even vector 0's gate in the mode CR0/EFER
 * say (4-byte real-mode vectors, 8-byte protected-mode gates, 16-byte long-mode gates)? */
bool host_idt_holds_no_gate(uint64_t cr0, uint64_t efer, uint32_t idt_limit);

/* n90vmm's own boot: learns this host's flavour (measured, never forced), and prints one
 * warning line when it is kvm-pvm and the kernel is Linux. Call before the boot, before
 * any sandboxing. */
void host_info_before_boot(const uint8_t *kernel, size_t size, const char *path);
/* The flavour host_info_before_boot measured (HOST_KVM_NONE before it ran). */
enum host_kvm_flavour host_info_flavour(void);

/* What only the architecture asks KVM, into facts (arch/<arch>/: x86 reads the supported
 * CPUID and, with probe, runs the 1 GiB page probe; arm64 has nothing to add). fd is an open
 * /dev/kvm. */
void arch_host_kvm_gather(int fd, struct host_kvm_facts *facts, bool probe);

/* This host CPU's TSC rate in kHz, measured against CLOCK_MONOTONIC_RAW over ~20 ms (x86);
 * 0 where the architecture has no such question or the measurement failed. */
unsigned long arch_host_tsc_khz(void);

/* snprintf into a reason buffer. */
void host_say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
