/* l1-kvm-probe-arm64: proves that the arm64 rig's L1 has a working KVM at EL2, with the
 * pieces n90vmm's arm64 backend builds on. It prints one "PROBE key=value" line per fact and
 * ends with PROBE-OK (exit 0) or PROBE-FAIL (exit 1):
 *   - the IPA size limit (KVM_CAP_ARM_VM_IPA_SIZE) and the preferred vCPU target;
 *   - a GICv3 (KVM_CREATE_DEVICE KVM_DEV_TYPE_ARM_VGIC_V3, placed and initialised);
 *   - the SMCCC filter (Linux 6.4+). It has no KVM_CAP_* of its own: the number 228 sometimes
 *     quoted for it is KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE. It is found with KVM_HAS_DEVICE_ATTR
 *     on the VM (group KVM_ARM_VM_SMCCC_CTRL, attribute KVM_ARM_VM_SMCCC_FILTER) and used here;
 *   - a vCPU really running guest code: an HVC forwarded to user space by the filter, whose
 *     answer the guest then writes to an MMIO address (both exits checked).
 * Static (aarch64-linux-gnu-gcc -static), so L1 needs no libraries for it. The cross
 * toolchain's headers are Linux 6.1's, older than the filter: its definitions are below. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL 0
#define KVM_ARM_VM_SMCCC_FILTER 0
#define KVM_SMCCC_FILTER_FWD_TO_USER 2
struct kvm_smccc_filter {
	uint32_t base;
	uint32_t nr_functions;
	uint8_t action;
	uint8_t pad[15];
};
#endif

#define RAM_BASE 0x40000000ULL /* where QEMU's virt machine puts RAM, as n90vmm will */
#define RAM_SIZE 0x10000ULL
#define MMIO_ADDR 0x10000000ULL	  /* no memory slot there: a write exits to user space */
#define GICD_BASE 0x08000000ULL	  /* virt's distributor ... */
#define GICR_BASE 0x080a0000ULL	  /* ... and redistributors */
#define SIP_CALL 0xc2000000U	  /* SMC64 fast call, SiP owner: a range user space may take */
#define ANSWER 42ULL

static int failed;

static void fail(const char *what)
{
	printf("PROBE-FAIL %s: %s\n", what, strerror(errno));
	failed = 1;
}

static int set_reg(int vcpu, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&v };
	return ioctl(vcpu, KVM_SET_ONE_REG, &r);
}

#define CORE_REG(field) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offsetof(struct kvm_regs, field) / 4))

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		fail("open /dev/kvm");
		return 1;
	}
	printf("PROBE api_version=%d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
	int ipa = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	printf("PROBE KVM_CAP_ARM_VM_IPA_SIZE=%d\n", ipa);
	if (ipa < 40) {
		errno = EINVAL;
		fail("IPA size limit below 40 bits");
	}
	printf("PROBE KVM_CAP_ARM_PSCI_0_2=%d KVM_CAP_ARM_PMU_V3=%d KVM_CAP_ONE_REG=%d KVM_CAP_NR_VCPUS=%d\n",
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PMU_V3),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_ONE_REG),
	       ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS));

	int vm = ioctl(kvm, KVM_CREATE_VM, 0); /* type 0: the default 40-bit IPA space */
	if (vm < 0) {
		fail("KVM_CREATE_VM");
		return 1;
	}
	struct kvm_vcpu_init init;
	memset(&init, 0, sizeof(init));
	if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		fail("KVM_ARM_PREFERRED_TARGET");
	else
		printf("PROBE KVM_ARM_PREFERRED_TARGET=%u\n", init.target);

	struct kvm_create_device gic = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	if (ioctl(vm, KVM_CREATE_DEVICE, &gic) < 0) {
		fail("KVM_CREATE_DEVICE VGIC_V3");
	} else {
		uint64_t dist = GICD_BASE, redist = GICR_BASE;
		struct kvm_device_attr a = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
					     .attr = KVM_VGIC_V3_ADDR_TYPE_DIST,
					     .addr = (uintptr_t)&dist };
		struct kvm_device_attr b = { .group = KVM_DEV_ARM_VGIC_GRP_ADDR,
					     .attr = KVM_VGIC_V3_ADDR_TYPE_REDIST,
					     .addr = (uintptr_t)&redist };
		if (ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &a) < 0 || ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &b) < 0)
			fail("VGIC_V3 addresses");
		else
			printf("PROBE KVM_DEV_TYPE_ARM_VGIC_V3=created\n");
	}

	struct kvm_device_attr filter_attr = { .group = KVM_ARM_VM_SMCCC_CTRL,
					       .attr = KVM_ARM_VM_SMCCC_FILTER };
	int has_filter = ioctl(vm, KVM_HAS_DEVICE_ATTR, &filter_attr) == 0;
	printf("PROBE KVM_ARM_VM_SMCCC_FILTER=%s\n", has_filter ? "supported" : "missing");
	printf("PROBE KVM_CHECK_EXTENSION(228)=%d (KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE, not the filter)\n",
	       ioctl(kvm, KVM_CHECK_EXTENSION, 228));
	if (has_filter) {
		/* Must be installed before any vCPU has run. */
		struct kvm_smccc_filter f = { .base = SIP_CALL, .nr_functions = 1,
					      .action = KVM_SMCCC_FILTER_FWD_TO_USER };
		filter_attr.addr = (uintptr_t)&f;
		if (ioctl(vm, KVM_SET_DEVICE_ATTR, &filter_attr) < 0)
			fail("KVM_SET_DEVICE_ATTR SMCCC_FILTER");
	} else {
		errno = ENOTSUP;
		fail("SMCCC filter");
	}

	/* Guest code, at RAM_BASE, MMU off (IPA = VA):
	 *   movz x0, #0xc200, lsl #16   function id SIP_CALL
	 *   movz x1, #0x1234            an argument the exit must show
	 *   hvc  #0                     -> KVM_EXIT_HYPERCALL; user space sets x0 = ANSWER
	 *   movz x2, #0x1000, lsl #16   MMIO_ADDR
	 *   str  x0, [x2]               -> KVM_EXIT_MMIO carrying ANSWER
	 *   b    .                                                                         */
	static const uint32_t code[] = { 0xd2b84000, 0xd2824681, 0xd4000002, 0xd2a20002, 0xf9000040, 0x14000000 };
	void *ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED) {
		fail("mmap");
		return 1;
	}
	memcpy(ram, code, sizeof(code));
	struct kvm_userspace_memory_region slot = { .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE,
						    .userspace_addr = (uintptr_t)ram };
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		fail("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0) {
		fail("KVM_CREATE_VCPU");
		return 1;
	}
	init.features[0] |= 1U << KVM_ARM_VCPU_PSCI_0_2;
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) < 0)
		fail("KVM_ARM_VCPU_INIT");
	if (gic.fd > 0) {
		/* The redistributors exist once the vCPUs do: initialise the GIC now. */
		struct kvm_device_attr ctrl = { .group = KVM_DEV_ARM_VGIC_GRP_CTRL,
						.attr = KVM_DEV_ARM_VGIC_CTRL_INIT };
		if (ioctl(gic.fd, KVM_SET_DEVICE_ATTR, &ctrl) < 0)
			fail("VGIC_V3 init");
		else
			printf("PROBE vgic-v3=initialised\n");
	}
	if (set_reg(vcpu, CORE_REG(regs.pc), RAM_BASE) < 0)
		fail("set pc");
	struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		fail("mmap kvm_run");
		return 1;
	}

	int saw_hvc = 0, saw_mmio = 0;
	for (int i = 0; i < 16 && !saw_mmio && !failed; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			fail("KVM_RUN");
			break;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_HYPERCALL:
			printf("PROBE exit=hypercall nr=%#llx\n", (unsigned long long)run->hypercall.nr);
			if (run->hypercall.nr != SIP_CALL) {
				errno = EPROTO;
				fail("hypercall function id");
			}
			/* The guest's x1 is still in its register file: read it back. */
			{
				uint64_t x1 = 0;
				struct kvm_one_reg r = { .id = CORE_REG(regs.regs[1]), .addr = (uintptr_t)&x1 };
				if (ioctl(vcpu, KVM_GET_ONE_REG, &r) < 0 || x1 != 0x1234) {
					errno = EPROTO;
					fail("hypercall argument x1");
				}
			}
			if (set_reg(vcpu, CORE_REG(regs.regs[0]), ANSWER) < 0)
				fail("set x0");
			saw_hvc = 1;
			break;
		case KVM_EXIT_MMIO: {
			uint64_t v = 0;
			memcpy(&v, run->mmio.data, sizeof(v));
			printf("PROBE exit=mmio addr=%#llx len=%u write=%u data=%llu\n",
			       (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
			       (unsigned long long)v);
			if (run->mmio.phys_addr != MMIO_ADDR || !run->mmio.is_write || v != ANSWER) {
				errno = EPROTO;
				fail("mmio exit");
			}
			saw_mmio = 1;
			break;
		}
		default:
			printf("PROBE exit=%u (unexpected)\n", run->exit_reason);
			errno = EPROTO;
			fail("KVM_RUN exit");
		}
	}
	if (!failed && (!saw_hvc || !saw_mmio)) {
		errno = ETIMEDOUT;
		fail("guest did not reach both exits");
	}
	if (failed)
		return 1;
	printf("PROBE-OK\n");
	return 0;
}
