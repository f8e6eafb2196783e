/* The arm64 machine (crosvm-arm64): profile choice and layout, the Image + initrd + FDT in
 * guest memory, the in-kernel GICv3, the pKVM hypercall filter, and the MMIO 16550 and PL031. */
#include "arch/aarch64/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <unistd.h>

#include "arch/aarch64/fdt.h"
#include "arch/aarch64/image.h"
#include "vmm/console.h"
#include "vmm/exit_status.h"
#include "vmm/host_info.h"
#include "vmm/log.h"
#include "vmm/machine.h"

/* Linux >= 6.4 (include/uapi/asm/kvm.h); Debian 12's headers are older. */
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL 0
#define KVM_ARM_VM_SMCCC_FILTER 0
#define KVM_SMCCC_FILTER_FWD_TO_USER 2
struct kvm_smccc_filter {
	__u32 base;
	__u32 nr_functions;
	__u8 action;
	__u8 pad[15];
};
#endif

#define TWO_MIB (2ull << 20)

const char arch_name[] = "aarch64";
const char arch_kernel_formats[] = "arm64 Image";
const char *const arch_features[] = { "aarch64", "arm64-image", "fdt", "gicv3", "psci", "pl031", "pkvm-shim", NULL };
const char arch_serial_earlycon[] = "uart8250,mmio,0x3f8";

void arch_host_kvm_gather(int fd, struct host_kvm_facts *facts, bool probe)
{
	(void)fd, (void)facts, (void)probe; /* no kvm-pvm on arm64: the generic facts decide */
}

unsigned long arch_host_tsc_khz(void)
{
	return 0; /* QEMU's TCG arm64 guests read the generic timer, whose rate the FDT gives */
}

const char *arch_profile_name(unsigned int index)
{
	const struct arch_profile *p = a64_profile_at(index);
	return p ? p->name : NULL;
}

int arch_choose_machine(const struct vm_config *cfg, const uint8_t *kernel, size_t kernel_size,
			struct machine_choice *choice)
{
	const struct arch_profile *p;
	struct a64_image hdr;
	char err[256];

	if (a64_image_parse(kernel, kernel_size, &hdr, err, sizeof(err))) {
		fprintf(stderr, "n90vmm: kernel '%s': %s\n", cfg->kernel_path, err);
		return EXIT_BAD_IMAGE;
	}
	if (cfg->profile_name) {
		p = a64_profile_find(cfg->profile_name);
		if (!p) {
			char names[256] = "";
			for (unsigned int i = 0; a64_profile_at(i); i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
					 a64_profile_at(i)->name);
			fprintf(stderr, "n90vmm: --profile: unknown profile '%s' (known: %s)\n", cfg->profile_name, names);
			return EXIT_USAGE;
		}
	} else {
		p = a64_profile_default();
	}
	choice->profile = p;
	choice->ncpus = cfg->cpus ? cfg->cpus : p->default_cpus;
	choice->vm_type = 0; /* KVM's default 40-bit IPA space holds every address below */
	if (choice->ncpus > A64_MAX_CPUS) {
		fprintf(stderr, "n90vmm: --cpus: %u vCPUs requested; at most %d are supported\n", choice->ncpus,
			A64_MAX_CPUS);
		return EXIT_USAGE;
	}
	uint64_t mem = cfg->mem_bytes ? cfg->mem_bytes : p->default_mem_mib << 20;
	if (mem < p->min_mem_mib << 20) {
		fprintf(stderr, "n90vmm: --mem: profile %s needs at least %llu MiB (its kernel assumes them)\n", p->name,
			(unsigned long long)p->min_mem_mib);
		return EXIT_USAGE;
	}
	if (mem > (1ull << 40) - p->ram_base) {
		fprintf(stderr, "n90vmm: --mem: %llu MiB does not fit in a 40-bit guest address space\n",
			(unsigned long long)(mem >> 20));
		return EXIT_USAGE;
	}
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
	uint64_t host_bytes = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
	if (host_bytes && mem > host_bytes) {
		fprintf(stderr, "n90vmm: --mem: %llu MiB is more than this host's %llu MiB of RAM\n",
			(unsigned long long)(mem >> 20), (unsigned long long)(host_bytes >> 20));
		return EXIT_USAGE;
	}
	struct machine_layout *l = &choice->layout;
	a64_layout_from_profile(p, mem, l);
	log_debug("profile %s (%s), arm64 Image (text_offset 0x%llx, %llu bytes), %u vCPUs, %llu MiB", p->name,
		  p->summary, (unsigned long long)hdr.text_offset, (unsigned long long)hdr.image_size, choice->ncpus,
		  (unsigned long long)(mem >> 20));
	return machine_check_config(l, cfg);
}

int arch_vm_alloc(struct vm *vm, const struct machine_choice *choice)
{
	struct arch_vm *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->profile = choice->profile;
	a->layout = &choice->layout;
	a->gic_fd = -1;
	vm->arch = a;
	vm->exit_ops = &a64_exit_ops;
	return 0;
}

static int write_fdt_file(const char *path, const void *fdt, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, fdt, size) != (ssize_t)size) {
		fprintf(stderr, "n90vmm: --dump-fdt '%s': %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_NO_INPUT;
	}
	close(fd);
	return 0;
}

/* Guest memory from the top: the FDT in the last 2 MiB block below 4 GiB (StarryOS reads it
 * only below 4 GiB and reserves 2 MiB from its address), the initrd right under it, the
 * kernel at the bottom where its header says. */
int arch_load_kernel(struct vm *vm, const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd,
		     size_t initrd_size)
{
	struct arch_vm *a = vm->arch;
	const struct machine_layout *l = a->layout;
	struct a64_image hdr;
	char err[256];

	if (a64_image_parse(kernel, kernel_size, &hdr, err, sizeof(err)) ||
	    a64_image_load(&vm->mem, l->ram_base, kernel, &hdr, &a->entry, err, sizeof(err))) {
		fprintf(stderr, "n90vmm: kernel '%s': %s\n", vm->cfg->kernel_path, err);
		return EXIT_BAD_IMAGE;
	}
	uint64_t ram_end = l->ram_base + l->mem_bytes, top = ram_end < (1ull << 32) ? ram_end : (1ull << 32);
	a->fdt_addr = (top - A64_FDT_MAX_SIZE) & ~(TWO_MIB - 1);
	uint64_t kernel_end = a->entry + hdr.image_size, initrd_start = 0;
	if (initrd_size) {
		initrd_start = (a->fdt_addr - initrd_size) & ~0xfffull;
		if (initrd_size > a->fdt_addr || initrd_start < kernel_end) {
			fprintf(stderr, "n90vmm: initrd '%s' (%zu bytes) does not fit between the kernel and the device tree\n",
				vm->cfg->initrd_path, initrd_size);
			return EXIT_BAD_IMAGE;
		}
		guest_mem_write(&vm->mem, initrd_start, initrd, initrd_size);
	}
	if (a->fdt_addr < kernel_end) {
		fprintf(stderr, "n90vmm: kernel '%s': no room for the device tree above the kernel\n", vm->cfg->kernel_path);
		return EXIT_BAD_IMAGE;
	}
	uint8_t seed[64];
	bool seeded = getrandom(seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed);
	struct a64_fdt_input in = {
		.profile = a->profile,
		.layout = l,
		.ncpus = vm->ncpus,
		.cmdline = vm->cfg->cmdline,
		.initrd_start = initrd_start,
		.initrd_size = initrd_size,
		.virtio_pci = vm->cfg->transport == VIRTIO_TRANSPORT_PCI,
		.n_virtio_mmio = machine_virtio_count(l, vm->cfg),
		.rng_seed = seeded ? seed : NULL,
		.rng_seed_len = sizeof(seed),
	};
	void *fdt = gpa_to_hva_checked(&vm->mem, a->fdt_addr, A64_FDT_BUILD_SIZE);
	int size = fdt ? a64_fdt_build(&in, fdt, A64_FDT_BUILD_SIZE, err, sizeof(err)) : -EFAULT;
	if (size < 0) {
		fprintf(stderr, "n90vmm: %s\n", fdt ? err : "no RAM for the device tree");
		return size == -E2BIG || size == -ENOSPC || size == -EINVAL ? EXIT_USAGE : EXIT_SETUP;
	}
	if (vm->cfg->dump_fdt) {
		int ret = write_fdt_file(vm->cfg->dump_fdt, fdt, (size_t)size);
		if (ret)
			return ret;
	}
	log_debug("arm64 Image at 0x%llx (%llu bytes), initrd %zu bytes at 0x%llx, FDT %d bytes at 0x%llx",
		  (unsigned long long)a->entry, (unsigned long long)hdr.image_size, initrd_size,
		  (unsigned long long)initrd_start, size, (unsigned long long)a->fdt_addr);
	return 0;
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, const void *value)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uintptr_t)value };
	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

/* The pKVM calls go to user space (KVM_EXIT_HYPERCALL) instead of KVM's "not supported". */
static int install_smccc_filter(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	struct kvm_smccc_filter filter = {
		.base = PKVM_HYP_FIRST,
		.nr_functions = PKVM_HYP_COUNT,
		.action = KVM_SMCCC_FILTER_FWD_TO_USER,
	};
	struct kvm_device_attr attr = { .group = KVM_ARM_VM_SMCCC_CTRL, .attr = KVM_ARM_VM_SMCCC_FILTER,
					.addr = (uintptr_t)&filter };
	if (ioctl(vm->vm_fd, KVM_SET_DEVICE_ATTR, &attr) < 0) {
		log_warn("this host's KVM cannot forward hypercalls (KVM_ARM_VM_SMCCC_FILTER needs Linux 6.4+: %s): "
			 "a StarryOS crosvm build will panic at its first pKVM call",
			 strerror(errno));
		return 0;
	}
	a->smccc_filter = true;
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	const struct arch_profile *p = a->profile;
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		log_err("cannot create the in-kernel GICv3 (KVM_CREATE_DEVICE): %s", strerror(errno));
		return -errno;
	}
	a->gic_fd = (int)dev.fd;
	uint64_t gicd = p->gicd_base, gicr = a64_gicr_base(p, vm->ncpus);
	uint32_t nr_irqs = 32 + p->nr_spis;
	int ret = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &gicd);
	if (!ret)
		ret = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &gicr);
	if (!ret)
		ret = gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret) {
		log_err("cannot place the GICv3 (distributor 0x%llx, redistributors 0x%llx): %s", (unsigned long long)gicd,
			(unsigned long long)gicr, strerror(-ret));
		return ret;
	}
	if (p->pkvm_hypercalls)
		return install_smccc_filter(vm);
	return 0;
}

/* An SPI on the in-kernel GIC (KVM_IRQ_LINE's arm64 encoding: type SPI, INTID = 32 + n). */
static void irq_line_spi(void *opaque, unsigned int spi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + spi),
				     .level = (uint32_t)level };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_debug("KVM_IRQ_LINE SPI %u=%d failed: %s", spi, level, strerror(errno));
}

int arch_create_devices(struct vm *vm, struct machine *m, struct console *console)
{
	struct arch_vm *a = vm->arch;
	const struct arch_profile *p = a->profile;
	struct irq_line irq = { irq_line_spi, vm, p->uart_spi };
	struct serial_sink sink = { 0 };
	if (vm->cfg->console == CONSOLE_SERIAL)
		sink = (struct serial_sink){ console_put_byte, console_rx_ready, console };
	serial_init(&a->uart, "uart", irq, sink);
	/* No OUT2 gate off a PC; the SPI is edge-triggered (PLATFORMS.md §3), so each new event
	 * pulses it. */
	serial_set_wiring(&a->uart, (struct serial_wiring){ .out2_gates_irq = false, .edge = true });
	pl031_init(&a->rtc);
	int ret = bus_register(&vm->mmio, p->uart_base, SERIAL_REG_COUNT, &serial_bus_ops, &a->uart, "uart-16550");
	ret |= bus_register(&vm->mmio, p->rtc_base, PL031_MMIO_SIZE, &pl031_bus_ops, &a->rtc, "rtc-pl031");
	if (ret) {
		log_err("device address ranges overlap in profile %s", p->name);
		return -EEXIST;
	}
	m->console_uart = &a->uart;
	return 0;
}

int arch_vm_finalize(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	/* Every vCPU exists and is initialised: the GIC can size its redistributors. */
	if (gic_attr(a->gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL) < 0) {
		log_err("cannot initialise the GICv3: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

void arch_print_stats(const struct vm *vm)
{
	const struct arch_vm *a = vm->arch;
	const struct serial_stats *s = &a->uart.stats;
	fprintf(stderr, "stats: uart tx=%llu rx=%llu overruns=%llu irqs=%llu\n", (unsigned long long)s->tx_bytes,
		(unsigned long long)s->rx_bytes, (unsigned long long)s->rx_overruns, (unsigned long long)s->irqs);
	if (a->profile->pkvm_hypercalls)
		fprintf(stderr, "stats: pkvm calls=%llu mmio-guard-maps=%llu mem-shares=%llu unsupported=%llu ns/call=%llu%s\n",
			(unsigned long long)a->pkvm.calls, (unsigned long long)a->pkvm.mmio_guard_maps,
			(unsigned long long)a->pkvm.mem_shares, (unsigned long long)a->pkvm.unsupported,
			(unsigned long long)(a->pkvm.calls ? a->hypercall_ns / a->pkvm.calls : 0),
			a->smccc_filter ? "" : " (not forwarded: no SMCCC filter)");
}

void arch_vm_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	if (!a)
		return;
	if (a->uart.name)
		serial_destroy(&a->uart);
	pl031_destroy(&a->rtc);
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	free(a);
	vm->arch = NULL;
}
