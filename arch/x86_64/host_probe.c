/* What this host's x86 KVM says that only x86 asks: the supported CPUID (VMX/SVM, PDPE1GB),
 * and the 1 GiB page probe (vmm/host_info.h). */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vmm/host_info.h"

#define CPUID_80000001_EDX_GBPAGES (1u << 26)

static void probe_alarm(int sig)
{
	(void)sig; /* interrupts KVM_RUN with EINTR */
}

/* The 1 GiB page probe: guest RAM is 2 MiB at 0; PML4 (0x1000) -> PDPT (0x2000) whose entry
 * 0 maps 0..1 GiB as one page; long mode is entered directly through KVM_SET_SREGS at 0x3000:
 *     mov al, [0x4000] ; out 0x80, al ; hlt
 * so both an instruction fetch and a data read go through the 1 GiB mapping. Passes when
 * KVM reports the `out` with the byte from 0x4000; anything else (kvm-pvm's shutdown or
 * emulation failure, a failed entry, no exit within a second) fails. */
static void probe_gbpages(int kvm_fd, const struct kvm_cpuid2 *cpuid, struct host_kvm_facts *f)
{
	const size_t ram = 2u << 20;
	int vm = -1, vcpu = -1, run_size;
	uint8_t *mem = MAP_FAILED;
	struct kvm_run *run = MAP_FAILED;
	struct sigaction sa = { .sa_handler = probe_alarm }, old_sa;
	struct itimerval one_second = { .it_value = { .tv_sec = 1 } }, off = { 0 };

	f->gbpages_probe = 0;
	run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
	if (run_size <= 0 || vm < 0) {
		host_say(f->probe_detail, sizeof(f->probe_detail), "cannot create a VM: %s", strerror(errno));
		goto out;
	}
	ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul); /* VMX wants one; others ignore or refuse it */
	mem = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem == MAP_FAILED)
		goto fail_errno;
	uint64_t *pml4 = (uint64_t *)(mem + 0x1000), *pdpt = (uint64_t *)(mem + 0x2000);
	pml4[0] = 0x2000 | 0x3;            /* present, writable */
	pdpt[0] = 0x0 | 0x3 | (1u << 7);   /* present, writable, PS: a 1 GiB page at 0 */
	static const uint8_t code[] = { 0x8a, 0x04, 0x25, 0x00, 0x40, 0x00, 0x00, 0xe6, 0x80, 0xf4 };
	memcpy(mem + 0x3000, code, sizeof(code));
	mem[0x4000] = 0x5a;
	struct kvm_userspace_memory_region region = { .slot = 0, .guest_phys_addr = 0, .memory_size = ram,
						      .userspace_addr = (uintptr_t)mem };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto fail_errno;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto fail_errno;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED || ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0)
		goto fail_errno;

	struct kvm_sregs s;
	if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
		goto fail_errno;
	struct kvm_segment code_seg = { .base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 0xb,
					.present = 1, .s = 1, .l = 1, .g = 1 };
	struct kvm_segment data_seg = { .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0x3,
					.present = 1, .s = 1, .db = 1, .g = 1 };
	s.cs = code_seg;
	s.ds = s.es = s.fs = s.gs = s.ss = data_seg;
	s.tr = (struct kvm_segment){ .selector = 0x18, .limit = 0x67, .type = 0xb, .present = 1 };
	s.cr3 = 0x1000;
	s.cr4 = 0x20;                      /* PAE */
	s.cr0 = 0x80000000u | 0x20 | 0x1;  /* PG | NE | PE */
	s.efer = 0x500;                    /* LME | LMA */
	if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
		goto fail_errno;
	struct kvm_regs r = { .rip = 0x3000, .rsp = 0x8000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &r) < 0)
		goto fail_errno;

	sigaction(SIGALRM, &sa, &old_sa); /* no SA_RESTART: KVM_RUN returns EINTR */
	setitimer(ITIMER_REAL, &one_second, NULL);
	int ret = ioctl(vcpu, KVM_RUN, 0);
	int run_errno = errno;
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &old_sa, NULL);
	if (ret < 0) {
		host_say(f->probe_detail, sizeof(f->probe_detail), "KVM_RUN: %s%s", strerror(run_errno),
		    run_errno == EINTR ? " (no exit within a second)" : "");
	} else if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x80 &&
		   run->io.direction == KVM_EXIT_IO_OUT && ((uint8_t *)run)[run->io.data_offset] == 0x5a) {
		f->gbpages_probe = 1;
		host_say(f->probe_detail, sizeof(f->probe_detail), "a guest's code and data in a 1 GiB page ran");
	} else {
		host_say(f->probe_detail, sizeof(f->probe_detail), "a guest touching a 1 GiB page stopped with %s",
		    run->exit_reason == KVM_EXIT_SHUTDOWN	  ? "a triple fault (KVM_EXIT_SHUTDOWN)"
		    : run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? "a KVM internal error"
								  : "an unexpected exit");
	}
	goto out;
fail_errno:
	host_say(f->probe_detail, sizeof(f->probe_detail), "probe setup failed: %s", strerror(errno));
out:
	if (run != MAP_FAILED)
		munmap(run, (size_t)run_size);
	if (vcpu >= 0)
		close(vcpu);
	if (vm >= 0)
		close(vm);
	if (mem != MAP_FAILED)
		munmap(mem, ram);
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static uint64_t ns_of(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

/* One TSC reading paired with the clock: the TSC read on both sides of the clock read, kept
 * only when the two are close (no preemption in between). */
static bool tsc_pair(uint64_t *tsc, uint64_t *ns)
{
	for (int tries = 0; tries < 10; tries++) {
		struct timespec t;
		uint64_t a = rdtsc();
		clock_gettime(CLOCK_MONOTONIC_RAW, &t);
		uint64_t b = rdtsc();
		if (b - a < 100000) {
			*tsc = a + (b - a) / 2;
			*ns = ns_of(&t);
			return true;
		}
	}
	return false;
}

unsigned long arch_host_tsc_khz(void)
{
	uint64_t tsc0, ns0, tsc1, ns1;
	struct timespec twenty_ms = { .tv_nsec = 20000000 };
	if (!tsc_pair(&tsc0, &ns0))
		return 0;
	nanosleep(&twenty_ms, NULL);
	if (!tsc_pair(&tsc1, &ns1) || ns1 <= ns0 || tsc1 <= tsc0)
		return 0;
	return (unsigned long)((tsc1 - tsc0) * 1000000u / (ns1 - ns0));
}

void arch_host_kvm_gather(int fd, struct host_kvm_facts *f, bool probe)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 256 * sizeof(struct kvm_cpuid_entry2));
	if (!c)
		return;
	c->nent = 256;
	if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
		const struct host_cpuid_leaf *e1 = NULL;
		for (unsigned int i = 0; i < c->nent && f->ncpuid < HOST_CPUID_MAX; i++) {
			const struct kvm_cpuid_entry2 *e = &c->entries[i];
			f->cpuid[f->ncpuid] = (struct host_cpuid_leaf){ e->function, e->index, e->eax, e->ebx, e->ecx, e->edx };
			if (e->function == 0x80000001 && e->index == 0)
				e1 = &f->cpuid[f->ncpuid];
			f->ncpuid++;
		}
		/* Only where KVM says guests may use 1 GiB pages: the probe confirms it (on kvm-pvm,
		 * whose CPUID says no, it would only add a kernel-log error). */
		if (probe && f->api_version == KVM_API_VERSION && e1 && (e1->edx & CPUID_80000001_EDX_GBPAGES))
			probe_gbpages(fd, c, f);
	}
	free(c);
}
