/* libFuzzer: configuration-space and BAR accesses to a virtio-pci-shaped function, as
 * (op, bus/dev/fn, offset, length, value) records. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci.h"

static void bar_read(struct pci_device *d, unsigned int bar, uint64_t off, uint8_t *data, uint32_t len)
{
	(void)d;
	(void)bar;
	if (off + len > 0x4000)
		abort(); /* dispatch must keep accesses inside the BAR */
	memset(data, 0, len);
}

static void bar_write(struct pci_device *d, unsigned int bar, uint64_t off, const uint8_t *data, uint32_t len)
{
	(void)d;
	(void)bar;
	(void)data;
	if (off + len > 0x4000)
		abort();
}

static const struct pci_device_ops ops = { .bar_read = bar_read, .bar_write = bar_write };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pci_bus bus;
	static struct pci_device dev;
	pci_bus_init(&bus, 0xb0000000, 0xfe000000, 0x100000);
	pci_device_init(&dev, 0x1af4, 0x1042, 0x018000, 0x1af4, 2, &ops, NULL);
	pci_device_add_bar(&bus, &dev, 0, 0x4000);
	uint8_t cap[10] = { 1 };
	pci_add_capability(&dev, PCI_CAP_ID_MSIX, cap, sizeof(cap));
	pci_bus_add_device(&bus, &dev);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *r = data + i;
		uint32_t len = 1u << (r[1] % 4), value;
		uint64_t where = ((uint64_t)r[2] << 16 | (uint64_t)r[3] << 8 | r[4]) % 0x110000;
		uint8_t buf[8];
		memcpy(&value, r + 4, 4);
		switch (r[0] % 6) {
		case 0:
			pci_conf1_address_ops.write(&bus, 0, (const uint8_t *)&value, len);
			break;
		case 1:
			pci_conf1_data_ops.read(&bus, r[5] % 4, buf, len > 4 ? 4 : len);
			break;
		case 2:
			pci_conf1_data_ops.write(&bus, r[5] % 4, (const uint8_t *)&value, len > 4 ? 4 : len);
			break;
		case 3:
			pci_ecam_ops.write(&bus, where, (const uint8_t *)&value, len > 4 ? 4 : len);
			break;
		case 4:
			pci_ecam_ops.read(&bus, where, buf, len);
			break;
		case 5:
			pci_window_ops.read(&bus, where, buf, len);
			break;
		}
	}
	return 0;
}
