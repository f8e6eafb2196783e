/* The arm64 device tree, built for crosvm-arm64 and parsed back with libfdt: every node a
 * guest looks for, with the profile's addresses (PLATFORMS.md §3). KVM-free. */
#include <criterion/criterion.h>
#include <errno.h>
#include <libfdt.h>
#include <string.h>

#include "arch/aarch64/fdt.h"

static uint8_t blob[A64_FDT_BUILD_SIZE];
static struct machine_layout layout;
static const struct arch_profile *p;
static char err[256];

static int build(unsigned int ncpus, bool pci, unsigned int nmmio, uint64_t initrd_start, uint64_t initrd_size)
{
	p = a64_profile_find("crosvm-arm64");
	cr_assert_not_null(p);
	a64_layout_from_profile(p, 2ull << 30, &layout);
	struct a64_fdt_input in = { .profile = p, .layout = &layout, .ncpus = ncpus, .cmdline = "console=ttyS0",
				    .initrd_start = initrd_start, .initrd_size = initrd_size, .virtio_pci = pci,
				    .n_virtio_mmio = nmmio };
	int size = a64_fdt_build(&in, blob, sizeof(blob), err, sizeof(err));
	if (size > 0)
		cr_assert_eq(fdt_check_header(blob), 0);
	return size;
}

static int node(const char *path)
{
	int off = fdt_path_offset(blob, path);
	cr_assert_geq(off, 0, "%s: %s", path, fdt_strerror(off));
	return off;
}

static uint64_t cell64(const fdt32_t *c)
{
	return (uint64_t)fdt32_to_cpu(c[0]) << 32 | fdt32_to_cpu(c[1]);
}

static const fdt32_t *prop(int off, const char *name, int *len)
{
	const fdt32_t *v = fdt_getprop(blob, off, name, len);
	cr_assert_not_null(v, "property %s missing", name);
	return v;
}

static bool compatible(int off, const char *c)
{
	return fdt_node_check_compatible(blob, off, c) == 0;
}

Test(a64_fdt, memory_cpus_psci_and_chosen)
{
	cr_assert_gt(build(2, true, 0, 0xfd000000, 0x1000), 0, "%s", err);
	int len, mem = node("/memory@80000000");
	const fdt32_t *reg = prop(mem, "reg", &len);
	cr_assert_eq(len, 16);
	cr_assert_eq(cell64(reg), 0x80000000ull);
	cr_assert_eq(cell64(reg + 2), 2ull << 30);
	cr_assert_str_eq(fdt_getprop(blob, mem, "device_type", NULL), "memory");
	for (unsigned int i = 0; i < 2; i++) {
		char path[32];
		snprintf(path, sizeof(path), "/cpus/cpu@%u", i);
		int cpu = node(path);
		cr_assert_str_eq(fdt_getprop(blob, cpu, "enable-method", NULL), "psci");
		cr_assert_eq(fdt32_to_cpu(*prop(cpu, "reg", &len)), i, "reg is the MPIDR");
	}
	cr_assert_lt(fdt_path_offset(blob, "/cpus/cpu@2"), 0, "two CPUs, not three");
	int psci = node("/psci");
	cr_assert(compatible(psci, "arm,psci-0.2"));
	cr_assert_str_eq(fdt_getprop(blob, psci, "method", NULL), "hvc");
	int chosen = node("/chosen");
	cr_assert_str_eq(fdt_getprop(blob, chosen, "bootargs", NULL), "console=ttyS0");
	cr_assert_str_eq(fdt_getprop(blob, chosen, "stdout-path", NULL), "/uart@3f8");
	/* Properties are only 4-byte aligned in the blob: read 64-bit values as two cells. */
	const fdt32_t *start = fdt_getprop(blob, chosen, "linux,initrd-start", &len);
	cr_assert_not_null(start);
	cr_assert_eq(cell64(start), 0xfd000000ull);
	const fdt32_t *end = fdt_getprop(blob, chosen, "linux,initrd-end", NULL);
	cr_assert_eq(cell64(end), 0xfd001000ull);
}

Test(a64_fdt, gic_timer_uart_and_rtc_at_the_profile_addresses)
{
	cr_assert_gt(build(2, true, 0, 0, 0), 0, "%s", err);
	int len, gic = node("/intc@3fff0000");
	cr_assert(compatible(gic, "arm,gic-v3"));
	cr_assert_not_null(fdt_getprop(blob, gic, "interrupt-controller", NULL));
	const fdt32_t *reg = prop(gic, "reg", &len);
	cr_assert_eq(len, 32);
	cr_assert_eq(cell64(reg), 0x3fff0000ull);
	cr_assert_eq(cell64(reg + 4), 0x3ffb0000ull, "GICR for 2 vCPUs, as StarryOS hard-codes");
	cr_assert_eq(cell64(reg + 6), 0x40000ull);
	uint32_t gic_phandle = fdt_get_phandle(blob, gic);
	cr_assert_eq(fdt32_to_cpu(*prop(0, "interrupt-parent", &len)), gic_phandle);

	int timer = node("/timer");
	const fdt32_t *irq = prop(timer, "interrupts", &len);
	cr_assert_eq(len, 48);
	cr_assert_eq(fdt32_to_cpu(irq[3]), A64_GIC_PPI);
	cr_assert_eq(fdt32_to_cpu(irq[4]) + 16, 30, "the non-secure EL1 physical timer is INTID 30");

	int uart = node("/uart@3f8");
	cr_assert(compatible(uart, "ns16550a"));
	reg = prop(uart, "reg", &len);
	cr_assert_eq(cell64(reg), 0x3f8);
	irq = prop(uart, "interrupts", &len);
	cr_assert_eq(fdt32_to_cpu(irq[0]), A64_GIC_SPI);
	cr_assert_eq(fdt32_to_cpu(irq[1]), 0, "SPI 0");
	cr_assert_eq(fdt32_to_cpu(irq[2]), A64_IRQ_EDGE_RISING);

	int rtc = node("/rtc@2000");
	cr_assert(compatible(rtc, "arm,pl031"));
	cr_assert(compatible(rtc, "arm,primecell"));
	uint32_t clk = fdt32_to_cpu(*prop(rtc, "clocks", &len));
	cr_assert_eq(fdt_node_offset_by_phandle(blob, clk), node("/apb-pclk"));
}

Test(a64_fdt, pci_cam_host_with_its_window_and_swizzled_interrupt_map)
{
	cr_assert_gt(build(2, true, 0, 0, 0), 0, "%s", err);
	int len, pci = node("/pci@72000000");
	cr_assert(compatible(pci, "pci-host-cam-generic"));
	const fdt32_t *reg = prop(pci, "reg", &len);
	cr_assert_eq(cell64(reg), 0x72000000ull);
	cr_assert_eq(cell64(reg + 2), 0x1000000ull);
	const fdt32_t *ranges = prop(pci, "ranges", &len);
	cr_assert_eq(len, 28);
	cr_assert_eq(fdt32_to_cpu(ranges[0]), 0x02000000, "32-bit memory space");
	cr_assert_eq(cell64(ranges + 3), 0x70000000ull);
	cr_assert_eq(cell64(ranges + 5), 0x2000000ull, "0x70000000..0x71ffffff");
	const fdt32_t *map = prop(pci, "interrupt-map", &len);
	cr_assert_eq(len, 32 * 4 * 10 * 4, "every slot's four pins");
	/* Slot 1 INTA#: swizzled to intx_spis[(1 + 1 - 1) % 4], level high. */
	const fdt32_t *e = map + (1 * 4 + 0) * 10;
	cr_assert_eq(fdt32_to_cpu(e[0]), 1u << 11);
	cr_assert_eq(fdt32_to_cpu(e[3]), 1);
	cr_assert_eq(fdt32_to_cpu(e[4]), fdt_get_phandle(blob, node("/intc@3fff0000")));
	cr_assert_eq(fdt32_to_cpu(e[8]), p->pci_intx_spis[1]);
	cr_assert_eq(fdt32_to_cpu(e[9]), A64_IRQ_LEVEL_HIGH);
	cr_assert_lt(fdt_path_offset(blob, "/virtio_mmio@73000000"), 0, "no mmio slots with PCI");
	cr_assert_not_null(fdt_getprop(blob, node("/chosen"), "linux,pci-probe-only", NULL));
}

Test(a64_fdt, virtio_mmio_slots_instead_of_pci)
{
	cr_assert_gt(build(1, false, 3, 0, 0), 0, "%s", err);
	cr_assert_lt(fdt_path_offset(blob, "/pci@72000000"), 0);
	for (unsigned int i = 0; i < 3; i++) {
		char path[48];
		snprintf(path, sizeof(path), "/virtio_mmio@%llx", (unsigned long long)(0x73000000ull + i * 0x1000));
		int len, off = node(path);
		cr_assert(compatible(off, "virtio,mmio"));
		const fdt32_t *irq = prop(off, "interrupts", &len);
		cr_assert_eq(fdt32_to_cpu(irq[1]), p->virtio_mmio_spis[i]);
		cr_assert_eq(fdt32_to_cpu(irq[2]), A64_IRQ_EDGE_RISING);
	}
	cr_assert_lt(fdt_path_offset(blob, "/virtio_mmio@73003000"), 0);
}

Test(a64_fdt, bad_inputs_fail_with_a_reason)
{
	cr_assert_lt(build(0, true, 0, 0, 0), 0);
	cr_assert(strstr(err, "vCPUs"), "%s", err);
	cr_assert_lt(build(A64_MAX_CPUS + 1, true, 0, 0, 0), 0);
	/* A buffer too small for the tree. */
	a64_layout_from_profile(p, 2ull << 30, &layout);
	struct a64_fdt_input in = { .profile = p, .layout = &layout, .ncpus = 2, .cmdline = "", .virtio_pci = true };
	cr_assert_eq(a64_fdt_build(&in, blob, 512, err, sizeof(err)), -ENOSPC);
	cr_assert(strstr(err, "device tree"), "%s", err);
}
