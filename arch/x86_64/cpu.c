/* Per-vCPU state at power-on: CPUID, boot MSRs, FPU, LAPIC LINT pins, and for the boot vCPU
 * the registers the boot plan's entry mode calls for. Application processors keep KVM's
 * reset state and wait, with the in-kernel LAPIC, for INIT-SIPI-SIPI. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <seccomp.h>
#include <sys/ioctl.h>

#include "vmm/host_info.h"
#include "vmm/log.h"
#include "vmm/sandbox.h"
#include "arch/x86_64/pc.h"

#define MSR_IA32_TSC 0x10
#define MSR_IA32_SYSENTER_CS 0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE 0x1a0
#define MSR_MTRR_DEF_TYPE 0x2ff
#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_SYSCALL_MASK 0xc0000084
#define MSR_KERNEL_GS_BASE 0xc0000102

static const struct {
	uint32_t index;
	const char *name;
	uint64_t value;
} boot_msrs[] = {
	{ MSR_IA32_SYSENTER_CS, "SYSENTER_CS", 0 },
	{ MSR_IA32_SYSENTER_ESP, "SYSENTER_ESP", 0 },
	{ MSR_IA32_SYSENTER_EIP, "SYSENTER_EIP", 0 },
	{ MSR_STAR, "STAR", 0 },
	{ MSR_LSTAR, "LSTAR", 0 },
	{ MSR_CSTAR, "CSTAR", 0 },
	{ MSR_SYSCALL_MASK, "SYSCALL_MASK", 0 },
	{ MSR_KERNEL_GS_BASE, "KERNEL_GS_BASE", 0 },
	{ MSR_IA32_TSC, "TSC", 0 },
	{ MSR_IA32_MISC_ENABLE, "MISC_ENABLE", 1 /* fast strings */ },
	/* MTRRs enabled, default type write-back: without this guests map RAM uncached. */
	{ MSR_MTRR_DEF_TYPE, "MTRR_DEF_TYPE", (1 << 11) | 6 },
};

/* Each MSR is written on its own so that one the host refuses (kvm-pvm refuses some) is
 * named, reported once for the whole VM, and skipped rather than failing the boot. */
static void set_boot_msrs(struct arch_vm *a, struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entry;
	} msr;
	for (size_t i = 0; i < sizeof(boot_msrs) / sizeof(boot_msrs[0]); i++) {
		memset(&msr, 0, sizeof(msr));
		msr.hdr.nmsrs = 1;
		msr.entry.index = boot_msrs[i].index;
		msr.entry.data = boot_msrs[i].value;
		if (ioctl(vcpu->fd, KVM_SET_MSRS, &msr) == 1)
			continue;
		if (!(a->refused_msrs & (1u << i))) {
			a->refused_msrs |= 1u << i;
			log_warn("host refused MSR 0x%x (%s) = 0x%llx; continuing without it", boot_msrs[i].index,
				 boot_msrs[i].name, (unsigned long long)boot_msrs[i].value);
		}
	}
}

static int set_cpuid(struct vm *vm, struct vcpu *vcpu)
{
	struct arch_vm *a = vm->arch;
	struct cpuid_patch patch = {
		.apic_id = vcpu->index,
		.ncpus = vm->ncpus,
		.tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0,
	};
	int khz = ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	patch.tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	if (vcpu->index == 0 && khz > 0)
		log_debug("TSC %d kHz (CPUID leaf 0x16 = %d MHz)", khz, khz / 1000);

	struct kvm_cpuid2 *cpuid = cpuid_for_vcpu(a->supported_cpuid, &patch);
	if (!cpuid)
		return -ENOMEM;
	int ret = ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0 ? -errno : 0;
	free(cpuid);
	if (ret)
		log_err("vCPU %u: KVM_SET_CPUID2 failed: %s", vcpu->index, strerror(-ret));
	return ret;
}

static int set_fpu_and_lapic(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;
	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87 reset default: all exceptions masked, 64-bit precision */
	fpu.mxcsr = 0x1f80; /* SSE reset default */
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;

	/* LINT0 = ExtINT (the 8259 behind it), LINT1 = NMI: the PC wiring guests assume. */
	struct kvm_lapic_state lapic;
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	uint32_t lvt;
	memcpy(&lvt, lapic.regs + 0x350, 4);
	lvt = (lvt & ~0x700u) | (7u << 8);
	memcpy(lapic.regs + 0x350, &lvt, 4);
	memcpy(&lvt, lapic.regs + 0x360, 4);
	lvt = (lvt & ~0x700u) | (4u << 8);
	memcpy(lapic.regs + 0x360, &lvt, 4);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static void flat_segment(struct kvm_segment *s, uint16_t selector, uint8_t type, int long_mode)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = selector;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = long_mode;
	s->db = !long_mode;
}

static int set_boot_registers(struct vm *vm, struct vcpu *vcpu)
{
	const struct x86_boot_plan *plan = &vm->arch->plan;
	int long_mode = plan->mode == X86_ENTRY_LONG64;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	flat_segment(&sregs.cs, X86_GDT_CODE, 0xb, long_mode); /* execute/read, accessed */
	flat_segment(&sregs.ds, X86_GDT_DATA, 0x3, 0);         /* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	if (long_mode)
		sregs.ds.db = sregs.es.db = sregs.fs.db = sregs.gs.db = sregs.ss.db = 1;
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.selector = X86_GDT_TSS;
	sregs.tr.limit = 0x67;
	sregs.tr.type = 0xb; /* busy 32/64-bit TSS: what VM entry requires of TR */
	sregs.tr.present = 1;
	sregs.gdt.base = plan->gdt_addr;
	sregs.gdt.limit = 5 * 8 - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;

	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr4 = 0;
	sregs.efer = 0;
	if (long_mode) {
		sregs.cr3 = plan->page_tables_addr;
		sregs.cr4 = 0x20;            /* PAE */
		sregs.cr0 |= 0x80000000 | 0x20; /* PG | NE */
		sregs.efer = 0x500;          /* LME | LMA */
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = plan->rip;
	regs.rsp = plan->rsp;
	regs.rax = plan->rax;
	regs.rbx = plan->rbx;
	regs.rsi = plan->rsi;
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	int ret = set_cpuid(vm, vcpu);
	if (ret)
		return ret;
	set_boot_msrs(vm->arch, vcpu);
	ret = set_fpu_and_lapic(vcpu);
	if (ret) {
		log_err("vCPU %u: FPU/LAPIC setup failed: %s", vcpu->index, strerror(-ret));
		return ret;
	}
	if (vcpu->index != 0)
		return 0;
	ret = set_boot_registers(vm, vcpu);
	if (ret)
		log_err("vCPU 0: setting entry registers failed: %s", strerror(-ret));
	return ret;
}

static void x86_vcpu_dump(struct vcpu *vcpu)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	if (ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		return;
	fprintf(stderr,
		"vcpu%u: rip=%016llx rsp=%016llx rflags=%08llx\n"
		"  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx\n"
		"  rsi=%016llx rdi=%016llx rbp=%016llx\n"
		"  cr0=%08llx cr2=%016llx cr3=%016llx cr4=%08llx efer=%llx\n"
		"  cs=%04x(base %llx l%u db%u) ss=%04x gdt=%llx/%x idt=%llx/%x\n",
		vcpu->index, (unsigned long long)r.rip, (unsigned long long)r.rsp, (unsigned long long)r.rflags,
		(unsigned long long)r.rax, (unsigned long long)r.rbx, (unsigned long long)r.rcx,
		(unsigned long long)r.rdx, (unsigned long long)r.rsi, (unsigned long long)r.rdi,
		(unsigned long long)r.rbp, (unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4, (unsigned long long)s.efer, s.cs.selector,
		(unsigned long long)s.cs.base, s.cs.l, s.cs.db, s.ss.selector, (unsigned long long)s.gdt.base,
		s.gdt.limit, (unsigned long long)s.idt.base, s.idt.limit);
}

/* kvm-pvm delivers exceptions in software and reports one that cannot be delivered as an
 * emulation failure; with no IDT gate at all that is a shutdown on hardware (a triple
 * fault). Only ever on kvm-pvm: real KVM reports KVM_EXIT_SHUTDOWN itself. */
static int x86_internal_error(struct vcpu *vcpu)
{
	struct kvm_sregs s;
	if (host_info_flavour() != HOST_KVM_PVM || vcpu->run->internal.suberror != KVM_INTERNAL_ERROR_EMULATION ||
	    ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0 || !host_idt_holds_no_gate(s.cr0, s.efer, s.idt.limit))
		return VM_STOP_KVM_ERROR;
	log_err("vCPU %u: triple fault (kvm-pvm reported an emulation failure delivering an exception through an "
		"IDT that holds no gate)",
		vcpu->index);
	x86_vcpu_dump(vcpu);
	return VM_STOP_TRIPLE_FAULT;
}

const struct vcpu_exit_ops x86_exit_ops = {
	.dump = x86_vcpu_dump,
	.internal_error = x86_internal_error,
};

/* The x86 vCPU thread reads registers for its crash dump. */
const struct sandbox_rule arch_vcpu_sandbox_rules[] = {
	{ SCMP_SYS(ioctl), KVM_GET_REGS, "register dump on a guest crash" },
	{ SCMP_SYS(ioctl), KVM_GET_SREGS, "register dump on a guest crash" },
};
const unsigned int arch_vcpu_sandbox_rule_count = sizeof(arch_vcpu_sandbox_rules) / sizeof(arch_vcpu_sandbox_rules[0]);
