/*
 * n90vmm arm64 test guest: what the shared virtio code needs from arm64 (virtio.h's
 * "architecture" section): the FDT's PCI host and virtio-mmio slots, and GIC SPIs for
 * interrupts - PCI functions through INTx (the GICv3 here has no ITS for MSI-X: n90vmm's
 * crosvm-arm64 has none, and QEMU's is left unused so both behave alike).
 */
#include "guest.h"
#include "virtio.h"

struct pci_host *arch_pci_host(void)
{
	return mach.have_pci ? &mach.pci : 0;
}

void arch_mmio_scan(void)
{
	for (u32 i = 0; i < mach.nvmmio; i++)
		vdev_add_mmio(mach.vmmio[i].base, mach.vmmio[i].intid, mach.vmmio[i].edge);
}

int platform_intx(u32 dev, u32 pin, u32 *intid, u8 *edge)
{
	if (pin < 1 || pin > 4)
		return -1;
	/* Bus 0, no bridges: no swizzling; the map is keyed by phys.hi and the pin. */
	u32 devfn = (dev << 11) & mach.intx_mask_devfn, p = pin & mach.intx_mask_pin;
	for (u32 i = 0; i < mach.nintx; i++)
		if (mach.intx[i].devfn == devfn && mach.intx[i].pin == p) {
			*intid = mach.intx[i].intid;
			*edge = mach.intx[i].edge;
			return 0;
		}
	return -1;
}

void arch_irq_init(void)
{
	/* The GIC and this CPU's interface are up since check gic. */
}

const char *arch_irq_prepare(struct vdev *d)
{
	if (d->t == T_PCI) {
		u32 pin = pci_rd8(d->cfg, 0x3d);
		if (!pin)
			return "the function has no INTx pin (and MSI-X needs an ITS)";
		if (platform_intx(d->slot, pin, &d->line, &d->line_edge))
			return failf("no interrupt-map entry for device %u pin INT%c", d->slot, 'A' + pin - 1);
	}
	if (d->line < 32)
		return "no SPI for it in the FDT";
	d->msix = 0;
	return 0;
}

void arch_irq_enable(struct vdev *d)
{
	gic_enable(d->line, d->line_edge);
}

void platform_irq(u32 intid)
{
	struct vdev *d;
	for (u32 i = 0; (d = vdev_get(i)); i++)
		if (d->irq && d->line == intid)
			vdev_interrupt(d);
}

/* MMIO decoded by the platform but backed by nothing: the top page of the PCI memory window
 * (BARs are placed from its bottom); without PCI, the GIC distributor. */
u64 arch_mmio_hole(void)
{
	if (mach.have_pci)
		return mach.pci.mem.cpu + mach.pci.mem.size - 0x1000;
	return mach.gicd;
}
