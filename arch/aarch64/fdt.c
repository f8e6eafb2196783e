#include "arch/aarch64/fdt.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "devices/virtio/mmio.h"

#define PHANDLE_GIC 1
#define PHANDLE_APB_PCLK 2
#define PL031_SIZE 0x1000
#define UART_SIZE 8

/* Every libfdt call in the builder goes through this: the first failure is kept and the
 * rest become no-ops, so the builder reads as the tree it writes. */
struct fdt_writer {
	void *fdt;
	int err;
};

static void w_check(struct fdt_writer *w, int ret)
{
	if (ret < 0 && !w->err)
		w->err = ret;
}

static void begin(struct fdt_writer *w, const char *name)
{
	if (!w->err)
		w_check(w, fdt_begin_node(w->fdt, name));
}

static void end(struct fdt_writer *w)
{
	if (!w->err)
		w_check(w, fdt_end_node(w->fdt));
}

static void prop(struct fdt_writer *w, const char *name, const void *val, int len)
{
	if (!w->err)
		w_check(w, fdt_property(w->fdt, name, val, len));
}

static void prop_u32(struct fdt_writer *w, const char *name, uint32_t v)
{
	if (!w->err)
		w_check(w, fdt_property_u32(w->fdt, name, v));
}

static void prop_str(struct fdt_writer *w, const char *name, const char *s)
{
	if (!w->err)
		w_check(w, fdt_property_string(w->fdt, name, s));
}

/* A property of big-endian cells. */
static void prop_cells(struct fdt_writer *w, const char *name, const uint32_t *cells, unsigned int n)
{
	fdt32_t be[64];
	for (unsigned int i = 0; i < n && i < 64; i++)
		be[i] = cpu_to_fdt32(cells[i]);
	prop(w, name, be, (int)(n * sizeof(fdt32_t)));
}

/* reg = <address size> with #address-cells = #size-cells = 2. */
static void prop_reg64(struct fdt_writer *w, uint64_t addr, uint64_t size)
{
	uint32_t c[4] = { (uint32_t)(addr >> 32), (uint32_t)addr, (uint32_t)(size >> 32), (uint32_t)size };
	prop_cells(w, "reg", c, 4);
}

static void prop_irq(struct fdt_writer *w, uint32_t type, uint32_t num, uint32_t flags)
{
	uint32_t c[3] = { type, num, flags };
	prop_cells(w, "interrupts", c, 3);
}

static void node_name(char *buf, size_t len, const char *base, uint64_t addr)
{
	snprintf(buf, len, "%s@%llx", base, (unsigned long long)addr);
}

static void add_cpus(struct fdt_writer *w, unsigned int ncpus)
{
	char name[32];
	begin(w, "cpus");
	prop_u32(w, "#address-cells", 1);
	prop_u32(w, "#size-cells", 0);
	for (unsigned int i = 0; i < ncpus; i++) {
		uint64_t mpidr = a64_mpidr(i);
		node_name(name, sizeof(name), "cpu", mpidr);
		begin(w, name);
		prop_str(w, "device_type", "cpu");
		prop_str(w, "compatible", "arm,arm-v8");
		prop_str(w, "enable-method", "psci");
		prop_u32(w, "reg", (uint32_t)mpidr);
		end(w);
	}
	end(w);
}

static void add_gic(struct fdt_writer *w, const struct arch_profile *p, unsigned int ncpus)
{
	char name[32];
	node_name(name, sizeof(name), "intc", p->gicd_base);
	begin(w, name);
	prop_str(w, "compatible", "arm,gic-v3");
	prop(w, "interrupt-controller", NULL, 0);
	prop_u32(w, "#interrupt-cells", 3);
	/* #address-cells 2 as QEMU's virt has it: the PCI interrupt-map's parent unit address
	 * is two cells. */
	prop_u32(w, "#address-cells", 2);
	prop_u32(w, "#size-cells", 2);
	uint64_t gicr = a64_gicr_base(p, ncpus), gicr_size = A64_GICR_STRIDE * ncpus;
	uint32_t reg[8] = { (uint32_t)(p->gicd_base >> 32), (uint32_t)p->gicd_base, 0, (uint32_t)A64_GICD_SIZE,
			    (uint32_t)(gicr >> 32),          (uint32_t)gicr,          (uint32_t)(gicr_size >> 32),
			    (uint32_t)gicr_size };
	prop_cells(w, "reg", reg, 8);
	prop_u32(w, "phandle", PHANDLE_GIC);
	end(w);
}

static void add_timer(struct fdt_writer *w)
{
	const uint32_t ppis[4] = { A64_TIMER_PPI_SEC, A64_TIMER_PPI_PHYS, A64_TIMER_PPI_VIRT, A64_TIMER_PPI_HYP };
	uint32_t cells[12];
	for (unsigned int i = 0; i < 4; i++) {
		cells[i * 3] = A64_GIC_PPI;
		cells[i * 3 + 1] = ppis[i];
		cells[i * 3 + 2] = A64_IRQ_LEVEL_HIGH;
	}
	begin(w, "timer");
	prop_str(w, "compatible", "arm,armv8-timer");
	prop_cells(w, "interrupts", cells, 12);
	prop(w, "always-on", NULL, 0);
	end(w);
}

/* The PCI host (Linux: Documentation/devicetree/bindings/pci/host-generic-pci.yaml). Every
 * slot's four pins are mapped, swizzled as devices/pci.c routes them. */
static void add_pci(struct fdt_writer *w, const struct machine_layout *l)
{
	char name[32];
	node_name(name, sizeof(name), "pci", l->pci_config_base);
	begin(w, name);
	prop_str(w, "compatible", l->pci_access == PCI_CONFIG_CAM ? "pci-host-cam-generic" : "pci-host-ecam-generic");
	prop_str(w, "device_type", "pci");
	prop_u32(w, "#address-cells", 3);
	prop_u32(w, "#size-cells", 2);
	prop_u32(w, "#interrupt-cells", 1);
	uint32_t bus_range[2] = { 0, 0 }; /* bus 0 only: all devices sit there */
	prop_cells(w, "bus-range", bus_range, 2);
	prop_reg64(w, l->pci_config_base, l->pci_config_size);
	/* 32-bit non-prefetchable memory, identity mapped. */
	uint32_t ranges[7] = { 0x02000000,
			       (uint32_t)(l->pci_window_base >> 32),
			       (uint32_t)l->pci_window_base,
			       (uint32_t)(l->pci_window_base >> 32),
			       (uint32_t)l->pci_window_base,
			       (uint32_t)(l->pci_window_size >> 32),
			       (uint32_t)l->pci_window_size };
	prop_cells(w, "ranges", ranges, 7);
	prop(w, "dma-coherent", NULL, 0);
	uint32_t mask[4] = { 0xf800, 0, 0, 7 };
	prop_cells(w, "interrupt-map-mask", mask, 4);
	/* child (3 address cells + 1 pin), parent phandle, parent address (2), GIC spec (3). */
	enum { ENTRY = 10, SLOTS = 32, PINS = 4 };
	uint32_t map[SLOTS * PINS * ENTRY];
	unsigned int n = 0;
	for (uint32_t slot = 0; slot < SLOTS; slot++)
		for (uint32_t pin = 1; pin <= PINS; pin++) {
			uint32_t *e = &map[n++ * ENTRY];
			e[0] = slot << 11;
			e[1] = e[2] = 0;
			e[3] = pin;
			e[4] = PHANDLE_GIC;
			e[5] = e[6] = 0;
			e[7] = A64_GIC_SPI;
			e[8] = l->pci_intx_gsis[(slot + pin - 1) % 4];
			e[9] = A64_IRQ_LEVEL_HIGH;
		}
	fdt32_t *be = (fdt32_t *)map;
	for (unsigned int i = 0; i < n * ENTRY; i++)
		be[i] = cpu_to_fdt32(map[i]);
	prop(w, "interrupt-map", be, (int)(n * ENTRY * sizeof(fdt32_t)));
	end(w);
}

static void add_virtio_mmio(struct fdt_writer *w, const struct machine_layout *l, unsigned int n)
{
	char name[40];
	/* Linux probes the nodes in this order, so slot 0 becomes /dev/vda, as on PCI. */
	for (unsigned int i = 0; i < n; i++) {
		uint64_t addr = machine_virtio_mmio_addr(l, i);
		node_name(name, sizeof(name), "virtio_mmio", addr);
		begin(w, name);
		prop_str(w, "compatible", "virtio,mmio");
		prop_reg64(w, addr, VIRTIO_MMIO_SIZE);
		prop_irq(w, A64_GIC_SPI, l->virtio_mmio_gsis[i], A64_IRQ_EDGE_RISING);
		prop(w, "dma-coherent", NULL, 0);
		end(w);
	}
}

int a64_fdt_build(const struct a64_fdt_input *in, void *buf, size_t size, char *err, size_t errlen)
{
	const struct arch_profile *p = in->profile;
	const struct machine_layout *l = in->layout;
	struct fdt_writer w = { buf, 0 };
	char name[40], uart_path[48];

	if (in->ncpus == 0 || in->ncpus > A64_MAX_CPUS) {
		snprintf(err, errlen, "%u vCPUs requested; 1..%d supported", in->ncpus, A64_MAX_CPUS);
		return -EINVAL;
	}
	w_check(&w, fdt_create(buf, (int)size));
	w_check(&w, fdt_finish_reservemap(buf));
	begin(&w, "");
	prop_str(&w, "compatible", "linux,dummy-virt");
	prop_str(&w, "model", "n90vmm");
	prop_u32(&w, "#address-cells", 2);
	prop_u32(&w, "#size-cells", 2);
	prop_u32(&w, "interrupt-parent", PHANDLE_GIC);

	node_name(uart_path, sizeof(uart_path), "/uart", p->uart_base);
	begin(&w, "chosen");
	prop_str(&w, "bootargs", in->cmdline);
	prop_str(&w, "stdout-path", uart_path);
	/* Keep the BARs n90vmm assigned (StarryOS needs them where they are; crosvm says the
	 * same to Linux). */
	prop_u32(&w, "linux,pci-probe-only", 1);
	if (in->initrd_size) {
		uint64_t start = cpu_to_fdt64(in->initrd_start), end = cpu_to_fdt64(in->initrd_start + in->initrd_size);
		prop(&w, "linux,initrd-start", &start, sizeof(start));
		prop(&w, "linux,initrd-end", &end, sizeof(end));
	}
	if (in->rng_seed && in->rng_seed_len)
		prop(&w, "rng-seed", in->rng_seed, (int)in->rng_seed_len);
	end(&w);

	node_name(name, sizeof(name), "memory", l->ram_base);
	begin(&w, name);
	prop_str(&w, "device_type", "memory");
	prop_reg64(&w, l->ram_base, l->mem_bytes);
	end(&w);

	add_cpus(&w, in->ncpus);
	begin(&w, "psci");
	prop_str(&w, "compatible", "arm,psci-0.2");
	prop_str(&w, "method", "hvc");
	end(&w);
	add_gic(&w, p, in->ncpus);
	add_timer(&w);

	begin(&w, "apb-pclk");
	prop_str(&w, "compatible", "fixed-clock");
	prop_u32(&w, "#clock-cells", 0);
	prop_u32(&w, "clock-frequency", 24000000);
	prop_str(&w, "clock-output-names", "clk24mhz");
	prop_u32(&w, "phandle", PHANDLE_APB_PCLK);
	end(&w);

	begin(&w, uart_path + 1);
	prop_str(&w, "compatible", "ns16550a");
	prop_reg64(&w, p->uart_base, UART_SIZE);
	prop_u32(&w, "clock-frequency", p->uart_clock_hz);
	prop_irq(&w, A64_GIC_SPI, p->uart_spi, A64_IRQ_EDGE_RISING);
	end(&w);

	node_name(name, sizeof(name), "rtc", p->rtc_base);
	begin(&w, name);
	static const char rtc_compatible[] = "arm,pl031\0arm,primecell";
	prop(&w, "compatible", rtc_compatible, sizeof(rtc_compatible));
	prop_reg64(&w, p->rtc_base, PL031_SIZE);
	prop_irq(&w, A64_GIC_SPI, p->rtc_spi, A64_IRQ_LEVEL_HIGH);
	prop_u32(&w, "clocks", PHANDLE_APB_PCLK);
	prop_str(&w, "clock-names", "apb_pclk");
	end(&w);

	if (in->virtio_pci)
		add_pci(&w, l);
	else
		add_virtio_mmio(&w, l, in->n_virtio_mmio);
	end(&w);
	w_check(&w, fdt_finish(buf));
	if (w.err) {
		snprintf(err, errlen, "cannot build the device tree: %s", fdt_strerror(w.err));
		return w.err == -FDT_ERR_NOSPACE ? -ENOSPC : -EINVAL;
	}
	return (int)fdt_totalsize(buf);
}
