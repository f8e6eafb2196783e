/* arm64 vCPUs: KVM_ARM_VCPU_INIT with in-kernel PSCI 0.2 (secondaries start powered off
 * and wait for CPU_ON), the boot vCPU's entry registers (Linux booting.rst: EL1h with
 * DAIF masked, MMU off, x0 = the FDT, PC = the Image's first byte), the forwarded pKVM
 * hypercalls and the crash dump. */
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <time.h>

#include "arch/aarch64/virt.h"
#include "vmm/log.h"
#include "vmm/sandbox.h"

/* A core register's KVM_{GET,SET}_ONE_REG id (arch/arm64/include/uapi/asm/kvm.h). */
#define CORE_REG(field) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, field) / sizeof(__u32)))
#define X_REG(n) CORE_REG(regs.regs[n])
/* EL1h with D, A, I and F masked: the state Linux and StarryOS expect at entry. */
#define PSTATE_EL1H_DAIF 0x3c5ull

static int set_reg(struct vcpu *vcpu, uint64_t id, uint64_t value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)&value };
	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) < 0 ? -errno : 0;
}

static int get_reg(struct vcpu *vcpu, uint64_t id, uint64_t *value)
{
	struct kvm_one_reg reg = { .id = id, .addr = (uintptr_t)value };
	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) < 0 ? -errno : 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *vcpu)
{
	struct arch_vm *a = vm->arch;
	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		log_err("KVM_ARM_PREFERRED_TARGET failed: %s", strerror(errno));
		return -errno;
	}
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (vcpu->index != 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		log_err("vCPU %u: KVM_ARM_VCPU_INIT failed: %s", vcpu->index, strerror(errno));
		return -errno;
	}
	if (vcpu->index != 0)
		return 0;
	int ret = set_reg(vcpu, CORE_REG(regs.pstate), PSTATE_EL1H_DAIF);
	if (!ret)
		ret = set_reg(vcpu, CORE_REG(regs.pc), a->entry);
	if (!ret)
		ret = set_reg(vcpu, X_REG(0), a->fdt_addr);
	for (unsigned int i = 1; !ret && i < 4; i++)
		ret = set_reg(vcpu, X_REG(i), 0);
	if (ret)
		log_err("vCPU 0: setting entry registers failed: %s", strerror(-ret));
	return ret;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A call the SMCCC filter forwarded: the answer goes into x0.. (PC already points past the
 * HVC/SMC: KVM's documented state at this exit). */
static int handle_hypercall(struct vcpu *vcpu)
{
	struct arch_vm *a = vcpu->vm->arch;
	uint64_t start = now_ns();
	uint32_t function = (uint32_t)vcpu->run->hypercall.nr;
	uint64_t args[3] = { 0, 0, 0 }, ret[4];
	unsigned int needed = pkvm_args_needed(function);
	int err = 0;
	for (unsigned int i = 0; !err && i < 3; i++)
		if (needed & (1u << i))
			err = get_reg(vcpu, X_REG(i + 1), &args[i]);
	/* Counters are per VM and updated by every vCPU: the few calls StarryOS makes from its
	 * second CPU are rare next to the boot CPU's, so a relaxed atomic add is enough. */
	struct pkvm_stats local = { 0 };
	unsigned int nret = pkvm_answer(function, args, ret, &local);
	for (unsigned int i = 0; !err && i < nret; i++)
		err = set_reg(vcpu, X_REG(i), ret[i]);
	if (err) {
		log_err("vCPU %u: answering hypercall 0x%x failed: %s", vcpu->index, function, strerror(-err));
		vm_request_stop(vcpu->vm, VM_STOP_KVM_ERROR);
		return 0;
	}
	__atomic_add_fetch(&a->pkvm.calls, local.calls, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->pkvm.mmio_guard_maps, local.mmio_guard_maps, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->pkvm.mem_shares, local.mem_shares, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->pkvm.unsupported, local.unsupported, __ATOMIC_RELAXED);
	__atomic_add_fetch(&a->hypercall_ns, now_ns() - start, __ATOMIC_RELAXED);
	return 1;
}

static int a64_handle_exit(struct vcpu *vcpu)
{
	if (vcpu->run->exit_reason == KVM_EXIT_HYPERCALL)
		return handle_hypercall(vcpu);
	return -1;
}

static void a64_vcpu_dump(struct vcpu *vcpu)
{
	uint64_t pc = 0, pstate = 0, sp = 0, x[4] = { 0 };
	get_reg(vcpu, CORE_REG(regs.pc), &pc);
	get_reg(vcpu, CORE_REG(regs.pstate), &pstate);
	get_reg(vcpu, CORE_REG(sp_el1), &sp);
	for (unsigned int i = 0; i < 4; i++)
		get_reg(vcpu, X_REG(i), &x[i]);
	fprintf(stderr, "vcpu%u: pc=%016llx pstate=%08llx sp_el1=%016llx\n  x0=%016llx x1=%016llx x2=%016llx x3=%016llx\n",
		vcpu->index, (unsigned long long)pc, (unsigned long long)pstate, (unsigned long long)sp,
		(unsigned long long)x[0], (unsigned long long)x[1], (unsigned long long)x[2], (unsigned long long)x[3]);
}

const struct vcpu_exit_ops a64_exit_ops = {
	.handle_exit = a64_handle_exit,
	.dump = a64_vcpu_dump,
};

/* The arm64 vCPU thread answers forwarded hypercalls in registers and dumps them on a crash. */
const struct sandbox_rule arch_vcpu_sandbox_rules[] = {
	{ SCMP_SYS(ioctl), KVM_GET_ONE_REG, "hypercall arguments; register dump on a guest crash" },
	{ SCMP_SYS(ioctl), KVM_SET_ONE_REG, "hypercall results (the pKVM shim)" },
};
const unsigned int arch_vcpu_sandbox_rule_count = sizeof(arch_vcpu_sandbox_rules) / sizeof(arch_vcpu_sandbox_rules[0]);
