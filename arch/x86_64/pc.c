/* The PC: profile choice, the machine layout, irqchip + PIT, ISA interrupt routing and the
 * legacy devices (COM1-4, CMOS RTC, i8042, ACPI PM1, port 0x80, 0xCF9). */
#include "arch/x86_64/pc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/exit_status.h"
#include "vmm/log.h"
#include "arch/x86_64/tables.h"
#include "vmm/machine.h"

#define MIN_MEM_BYTES (16ull << 20)

const char arch_name[] = "x86_64";
const char arch_kernel_formats[] = "multiboot, ELF/PVH vmlinux or bzImage";
const char *const arch_features[] = { "x86_64", "multiboot", "pvh", "bzimage", "acpi", "mptable", "cmos-rtc", NULL };
const char arch_serial_earlycon[] = "uart8250,io,0x3f8";

const char *arch_profile_name(unsigned int index)
{
	const struct arch_profile *p = x86_profile_at(index);
	return p ? p->name : NULL;
}

int arch_choose_machine(const struct vm_config *cfg, const uint8_t *kernel, size_t kernel_size,
			struct machine_choice *choice)
{
	enum x86_kernel_format format = x86_detect_format(kernel, kernel_size);
	const struct arch_profile *profile;

	if (format == X86_FORMAT_UNKNOWN) {
		fprintf(stderr, "n90vmm: kernel '%s': not a kernel n90vmm can boot (no multiboot header, ELF or bzImage signature)\n",
			cfg->kernel_path);
		return EXIT_BAD_IMAGE;
	}

	if (cfg->dump_fdt) {
		fprintf(stderr, "n90vmm: --dump-fdt: an x86 guest has no device tree (it reads ACPI tables)\n");
		return EXIT_USAGE;
	}
	if (cfg->profile_name) {
		profile = x86_profile_find(cfg->profile_name);
		if (!profile) {
			char names[256] = "";
			for (unsigned int i = 0; x86_profile_at(i); i++) {
				strncat(names, i ? ", " : "", sizeof(names) - strlen(names) - 1);
				strncat(names, x86_profile_at(i)->name, sizeof(names) - strlen(names) - 1);
			}
			fprintf(stderr, "n90vmm: --profile: unknown profile '%s' (known: %s)\n", cfg->profile_name, names);
			return EXIT_USAGE;
		}
	} else {
		profile = x86_profile_default(format == X86_FORMAT_MULTIBOOT);
	}
	choice->profile = profile;
	choice->ncpus = cfg->cpus ? cfg->cpus : profile->default_cpus;
	choice->vm_type = 0;
	struct machine_layout *l = &choice->layout;
	*l = (struct machine_layout){
		.ram_base = 0,
		.mem_bytes = cfg->mem_bytes ? cfg->mem_bytes : profile->default_mem_mib << 20,
		.mmio_hole_start = profile->mmio_hole_start,
		.pci_access = PCI_CONFIG_ECAM,
		.pci_conf1 = true,
		.pci_config_base = profile->pci_ecam_base,
		.pci_config_size = profile->pci_ecam_size,
		.pci_window_base = profile->pci_window_base,
		.pci_window_size = profile->pci_window_size,
		.msi = true,
		.virtio_mmio_base = profile->virtio_mmio_base,
		.virtio_mmio_slots = sizeof(profile->virtio_mmio_gsis),
	};
	memcpy(l->pci_intx_gsis, profile->pci_intx_gsis, sizeof(l->pci_intx_gsis));
	memcpy(l->virtio_mmio_gsis, profile->virtio_mmio_gsis, sizeof(profile->virtio_mmio_gsis));

	if (choice->ncpus > X86_MAX_CPUS) {
		fprintf(stderr, "n90vmm: --cpus: %u vCPUs requested; at most %d are supported\n", choice->ncpus,
			X86_MAX_CPUS);
		return EXIT_USAGE;
	}
	if (l->mem_bytes < MIN_MEM_BYTES) {
		fprintf(stderr, "n90vmm: --mem: %llu KiB is too little; give the guest at least 16M\n",
			(unsigned long long)(l->mem_bytes >> 10));
		return EXIT_USAGE;
	}
	long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
	uint64_t host_bytes = pages > 0 && page_size > 0 ? (uint64_t)pages * (uint64_t)page_size : 0;
	if (host_bytes && l->mem_bytes > host_bytes) {
		fprintf(stderr, "n90vmm: --mem: %llu MiB is more than this host's %llu MiB of RAM\n",
			(unsigned long long)(l->mem_bytes >> 20), (unsigned long long)(host_bytes >> 20));
		return EXIT_USAGE;
	}
	log_debug("profile %s (%s), kernel format %s, %u vCPUs, %llu MiB", profile->name, profile->summary,
		  x86_format_name(format), choice->ncpus, (unsigned long long)(l->mem_bytes >> 20));
	return machine_check_config(l, cfg);
}

/* ISA interrupts as a PC wires them: GSI n on 8259 pin n (GSI < 16, not the cascade) and
 * on IOAPIC pin n, except the PIT's GSI 0, which reaches IOAPIC pin 2 (the MADT and MP table
 * say so). KVM's default routing puts GSI 0 on pin 0, hence this table. */
static int set_irq_routing(struct vm *vm)
{
	for (unsigned int gsi = 0; gsi < 24; gsi++) {
		struct kvm_irq_routing_entry e = { .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP };
		if (gsi < 16 && gsi != 2) {
			e.u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			e.u.irqchip.pin = gsi % 8;
			vm_route_add(vm, &e);
		}
		if (gsi == 2)
			continue;
		e.u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e.u.irqchip.pin = gsi == 0 ? X86_PIT_IOAPIC_PIN : gsi;
		vm_route_add(vm, &e);
	}
	return vm_routes_commit(vm);
}

int arch_vm_alloc(struct vm *vm, const struct machine_choice *choice)
{
	struct arch_vm *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	vm->arch = a;
	vm->exit_ops = &x86_exit_ops;
	a->profile = choice->profile;
	a->layout = &choice->layout;
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	struct arch_vm *a = vm->arch;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, X86_TSS_ADDR) < 0) {
		log_err("KVM_SET_TSS_ADDR failed: %s", strerror(errno));
		return -errno;
	}
	uint64_t identity = X86_IDENTITY_MAP_ADDR;
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_IDENTITY_MAP_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0) {
		log_err("KVM_SET_IDENTITY_MAP_ADDR failed: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
		return -errno;
	}
	struct kvm_pit_config pit = { .flags = 0 };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2 failed: %s", strerror(errno));
		return -errno;
	}
	int ret = set_irq_routing(vm);
	if (ret) {
		log_err("KVM_SET_GSI_ROUTING failed: %s", strerror(-ret));
		return ret;
	}
	a->supported_cpuid = cpuid_get_supported(vm->kvm_fd);
	if (!a->supported_cpuid) {
		log_err("KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Linux finds virtio-mmio devices in the DSDT (kernels built without
 * VIRTIO_MMIO_CMDLINE_DEVICES, like Debian's, only there) or on its command line: append
 * one virtio_mmio.device= per device as well; a kernel that sees both binds the first and
 * refuses the duplicate's memory region. Multiboot kernels (StarryOS) use PCI and get the
 * user's command line untouched. */
static int build_cmdline(struct vm *vm, enum x86_kernel_format format)
{
	struct arch_vm *a = vm->arch;
	const struct vm_config *cfg = vm->cfg;
	unsigned int ndev = machine_virtio_count(a->layout, cfg);
	size_t len = strlen(cfg->cmdline) + 1 + 64 * ndev;
	a->cmdline = malloc(len);
	if (!a->cmdline)
		return -ENOMEM;
	size_t n = (size_t)snprintf(a->cmdline, len, "%s", cfg->cmdline);
	if (cfg->transport != VIRTIO_TRANSPORT_MMIO || format == X86_FORMAT_MULTIBOOT)
		return 0;
	for (unsigned int i = 0; i < ndev; i++)
		n += (size_t)snprintf(a->cmdline + n, len - n, "%svirtio_mmio.device=4K@0x%llx:%u", n ? " " : "",
				      (unsigned long long)machine_virtio_mmio_addr(a->layout, i),
				      a->layout->virtio_mmio_gsis[i]);
	return 0;
}

int arch_load_kernel(struct vm *vm, const uint8_t *kernel, size_t kernel_size, const uint8_t *initrd,
		     size_t initrd_size)
{
	struct arch_vm *a = vm->arch;
	const struct machine_layout *l = a->layout;
	if (build_cmdline(vm, x86_detect_format(kernel, kernel_size)))
		return EXIT_SETUP;
	/* The DSDT describes the devices vmm/machine.c will place, from the same layout. */
	struct x86_mmio_device mmio[MACHINE_MAX_MMIO_SLOTS];
	unsigned int nmmio = 0;
	if (vm->cfg->transport == VIRTIO_TRANSPORT_MMIO)
		for (; nmmio < machine_virtio_count(l, vm->cfg); nmmio++)
			mmio[nmmio] = (struct x86_mmio_device){ machine_virtio_mmio_addr(l, nmmio), VIRTIO_MMIO_SIZE,
								 l->virtio_mmio_gsis[nmmio] };
	/* The PCI host bridge exists whenever virtio uses PCI, devices or not (guests scan). */
	struct x86_pci_host pci = { (unsigned int)(l->pci_config_size >> 20), l->pci_config_base, l->pci_window_base,
				    l->pci_window_size, { 0 } };
	memcpy(pci.intx_gsis, l->pci_intx_gsis, sizeof(pci.intx_gsis));
	struct x86_boot_input in = {
		.pci = vm->cfg->transport == VIRTIO_TRANSPORT_PCI ? &pci : NULL,
		.mmio_devices = mmio,
		.n_mmio_devices = nmmio,
		.kernel = kernel,
		.kernel_size = kernel_size,
		.initrd = initrd,
		.initrd_size = initrd_size,
		.cmdline = a->cmdline,
		.ncpus = vm->ncpus,
	};
	char err[X86_LOAD_ERR_LEN];
	int ret = x86_load_kernel(&vm->mem, a->profile, &in, &a->plan, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "n90vmm: kernel '%s': %s\n", vm->cfg->kernel_path, err);
		/* An over-long command line is fixed with a flag; everything else is the image. */
		return ret == -E2BIG ? EXIT_USAGE : EXIT_BAD_IMAGE;
	}
	log_debug("%s boot: entry 0x%llx (%s), image [0x%llx, 0x%llx), initrd %llu bytes at 0x%llx, RSDP 0x%llx",
		  a->plan.protocol, (unsigned long long)a->plan.rip,
		  a->plan.mode == X86_ENTRY_LONG64 ? "64-bit" : "32-bit", (unsigned long long)a->plan.kernel_start,
		  (unsigned long long)a->plan.kernel_end, (unsigned long long)a->plan.initrd_size,
		  (unsigned long long)a->plan.initrd_start, (unsigned long long)a->plan.rsdp);
	return 0;
}

static void irq_line_kvm(void *opaque, unsigned int gsi, int level)
{
	struct vm *vm = opaque;
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		log_debug("KVM_IRQ_LINE %u=%d failed: %s", gsi, level, strerror(errno));
}

int arch_vm_finalize(struct vm *vm)
{
	(void)vm; /* nothing waits for the vCPUs on a PC */
	return 0;
}

int arch_create_devices(struct vm *vm, struct machine *m, struct console *console)
{
	struct arch_vm *a = vm->arch;
	const struct arch_profile *p = a->profile;
	static const char *const uart_names[4] = { "COM1", "COM2", "COM3", "COM4" };
	int ret = 0;

	for (unsigned int i = 0; i < 4; i++) {
		struct irq_line irq = { irq_line_kvm, vm, p->uarts[i].irq };
		struct serial_sink sink = { 0 };
		if (i == 0 && vm->cfg->console == CONSOLE_SERIAL)
			sink = (struct serial_sink){ console_put_byte, console_rx_ready, console };
		serial_init(&a->uarts[i], uart_names[i], irq, sink);
		ret |= bus_register(&vm->pio, p->uarts[i].port, SERIAL_REG_COUNT, &serial_bus_ops, &a->uarts[i],
				    uart_names[i]);
	}
	rtc_init(&a->rtc, guest_mem_low_end(&vm->mem), vm->mem.total - guest_mem_low_end(&vm->mem));
	ret |= bus_register(&vm->pio, 0x70, 2, &rtc_bus_ops, &a->rtc, "cmos-rtc");
	i8042_init(&a->kbc, vm->stopper);
	ret |= bus_register(&vm->pio, 0x60, 1, &i8042_data_ops, &a->kbc, "i8042-data");
	ret |= bus_register(&vm->pio, 0x64, 1, &i8042_command_ops, &a->kbc, "i8042-command");
	acpi_pm_init(&a->pm, vm->stopper);
	ret |= bus_register(&vm->pio, p->pm1_base, ACPI_PM_BLOCK_LEN, &acpi_pm_bus_ops, &a->pm, "acpi-pm1");
	ret |= bus_register(&vm->pio, 0x80, 1, &post_code_bus_ops, &a->post, "post-code");
	a->reset.stop = vm->stopper;
	ret |= bus_register(&vm->pio, 0xcf9, 1, &reset_control_bus_ops, &a->reset, "reset-control");
	if (ret) {
		log_err("device address ranges overlap in profile %s", p->name);
		return -EEXIST;
	}
	m->console_uart = &a->uarts[0];
	return 0;
}

void arch_print_stats(const struct vm *vm)
{
	const struct arch_vm *a = vm->arch;
	for (unsigned int i = 0; i < 4; i++) {
		const struct serial_stats *s = &a->uarts[i].stats;
		if (s->tx_bytes || s->rx_bytes)
			fprintf(stderr, "stats: %s tx=%llu rx=%llu overruns=%llu irqs=%llu\n", a->uarts[i].name,
				(unsigned long long)s->tx_bytes, (unsigned long long)s->rx_bytes,
				(unsigned long long)s->rx_overruns, (unsigned long long)s->irqs);
	}
	fprintf(stderr, "stats: post-code writes=%llu last=0x%02x\n", (unsigned long long)a->post.writes, a->post.last);
}

void arch_vm_destroy(struct vm *vm)
{
	struct arch_vm *a = vm->arch;
	if (!a)
		return;
	for (unsigned int i = 0; i < 4; i++)
		if (a->uarts[i].name)
			serial_destroy(&a->uarts[i]);
	free(a->supported_cpuid);
	free(a->cmdline);
	free(a);
	vm->arch = NULL;
}
