#include "pci.h"

#include <errno.h>
#include <string.h>

#include "../vmm/bytes.h"

#define CONF1_ENABLE 0x80000000u
#define BAR_TYPE_MEM32 0x0 /* memory, 32-bit, not prefetchable */
#define ECAM_FUNCTION_SIZE 0x1000

void pci_device_init(struct pci_device *dev, uint16_t vendor, uint16_t device, uint32_t class_code,
		     uint16_t subsys_vendor, uint16_t subsys_id, const struct pci_device_ops *ops, void *opaque)
{
	memset(dev, 0, sizeof(*dev));
	put_le16(dev->config + PCI_VENDOR_ID, vendor);
	put_le16(dev->config + PCI_DEVICE_ID, device);
	dev->config[PCI_CLASS_PROG] = (uint8_t)class_code;
	dev->config[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	dev->config[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	put_le16(dev->config + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	put_le16(dev->config + PCI_SUBSYSTEM_ID, subsys_id);
	dev->config[PCI_INTERRUPT_PIN] = 1; /* INTA# */
	/* Writable: command (IO, MEMORY, MASTER, INTX_DISABLE), interrupt line. BARs are
	 * handled apart (sizing); everything else is read-only unless a capability says so. */
	dev->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	dev->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = 0x40;
	dev->ops = ops;
	dev->opaque = opaque;
}

void pci_set_wmask(struct pci_device *dev, uint32_t offset, uint8_t mask, uint32_t len)
{
	for (uint32_t i = 0; i < len && offset + i < PCI_CONFIG_SIZE; i++)
		dev->wmask[offset + i] = mask;
}

uint8_t pci_add_capability(struct pci_device *dev, uint8_t id, const uint8_t *body, uint8_t len)
{
	uint32_t at = dev->next_cap, total = 2u + len;
	if (at < 0x40 || at + total > PCI_CONFIG_SIZE)
		return 0;
	dev->config[at] = id;
	dev->config[at + 1] = 0;
	memcpy(dev->config + at + 2, body, len);
	/* Link from the list's end: the header pointer or the last capability's next byte. */
	uint8_t *link = &dev->config[PCI_CAPABILITY_LIST];
	while (*link)
		link = &dev->config[*link + 1];
	*link = (uint8_t)at;
	dev->config[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->next_cap = (uint8_t)((at + total + 3) & ~3u);
	if (at + total + 3 > 0xff)
		dev->next_cap = 0; /* full */
	return (uint8_t)at;
}

void pci_bus_init(struct pci_bus *bus, uint64_t ecam_base, uint64_t window_base, uint64_t window_size)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	bus->ecam_base = ecam_base;
	bus->window_base = bus->window_next = window_base;
	bus->window_size = window_size;
	/* Slot 0: a host bridge, so guests scanning bus 0 find what they expect there. */
	pci_device_init(&bus->host_bridge, 0x1b36, 0x0008, 0x060000, 0x1af4, 0x1100, NULL, NULL);
	bus->host_bridge.config[PCI_INTERRUPT_PIN] = 0;
	bus->devices[0] = &bus->host_bridge;
}

int pci_device_add_bar(struct pci_bus *bus, struct pci_device *dev, unsigned int bar, uint64_t size)
{
	if (bar >= PCI_BARS || size < 0x1000 || (size & (size - 1)))
		return -EINVAL;
	uint64_t addr = (bus->window_next + size - 1) & ~(size - 1); /* naturally aligned */
	if (addr + size > bus->window_base + bus->window_size || addr + size > 0x100000000ull)
		return -ENOSPC;
	bus->window_next = addr + size;
	dev->bars[bar].addr = addr;
	dev->bars[bar].size = size;
	put_le32(dev->config + PCI_BAR0 + 4 * bar, (uint32_t)addr | BAR_TYPE_MEM32);
	return 0;
}

int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev)
{
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES; slot++) {
		if (!bus->devices[slot]) {
			pthread_mutex_lock(&bus->lock);
			dev->slot = slot;
			bus->devices[slot] = dev;
			pthread_mutex_unlock(&bus->lock);
			return 0;
		}
	}
	return -ENOSPC;
}

uint64_t pci_device_bar_addr(const struct pci_device *dev, unsigned int bar)
{
	uint16_t command;
	memcpy(&command, dev->config + PCI_COMMAND, 2);
	if (bar >= PCI_BARS || !dev->bars[bar].size || !(command & PCI_COMMAND_MEMORY))
		return 0;
	return dev->bars[bar].addr;
}

static struct pci_device *lookup(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func)
{
	if (busnr != 0 || slot >= PCI_MAX_DEVICES || func != 0)
		return NULL;
	return bus->devices[slot];
}

void pci_config_read(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		     uint32_t offset, uint8_t *data, uint32_t len)
{
	pthread_mutex_lock(&bus->lock);
	struct pci_device *dev = lookup(bus, busnr, slot, func);
	for (uint32_t i = 0; i < len; i++) {
		uint32_t off = offset + i;
		if (!dev)
			data[i] = 0xff; /* no function: all ones (PCI 3.0 §6.1) */
		else if (off >= PCI_CONFIG_SIZE)
			data[i] = 0; /* no extended capabilities */
		else if (off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_BARS && dev->bars[(off - PCI_BAR0) / 4].sizing) {
			/* Sizing: the size mask, with the type bits. */
			const struct pci_bar *b = &dev->bars[(off - PCI_BAR0) / 4];
			uint32_t mask = (uint32_t)~(b->size - 1) | BAR_TYPE_MEM32;
			data[i] = (uint8_t)(mask >> (8 * ((off - PCI_BAR0) % 4)));
		} else
			data[i] = dev->config[off];
	}
	pthread_mutex_unlock(&bus->lock);
}

struct bar_event {
	struct pci_device *dev;
	unsigned int bar;
	uint64_t addr;
};

/* A 32-bit write to a BAR register: all ones starts sizing, anything else places it. */
static void bar_write(struct pci_device *dev, unsigned int bar, uint32_t value)
{
	struct pci_bar *b = &dev->bars[bar];
	if (!b->size)
		return; /* unimplemented BAR: reads 0, ignores writes */
	if (value == 0xffffffffu) {
		b->sizing = true;
		return;
	}
	b->sizing = false;
	b->addr = value & ~(uint32_t)(b->size - 1);
	put_le32(dev->config + PCI_BAR0 + 4 * bar, (uint32_t)b->addr | BAR_TYPE_MEM32);
}

void pci_config_write(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		      uint32_t offset, const uint8_t *data, uint32_t len)
{
	struct bar_event events[PCI_BARS];
	unsigned int nevents = 0;
	bool cap_written = false;

	if (offset >= PCI_CONFIG_SIZE || len > PCI_CONFIG_SIZE - offset)
		return;
	pthread_mutex_lock(&bus->lock);
	struct pci_device *dev = lookup(bus, busnr, slot, func);
	if (!dev || dev == &bus->host_bridge) {
		pthread_mutex_unlock(&bus->lock);
		return;
	}
	uint64_t before[PCI_BARS];
	for (unsigned int b = 0; b < PCI_BARS; b++)
		before[b] = pci_device_bar_addr(dev, b);

	if (offset >= PCI_BAR0 && offset < PCI_BAR0 + 4 * PCI_BARS) {
		/* BARs are written whole (drivers do 32-bit accesses); narrower writes are
		 * merged into the register first. */
		unsigned int bar = (offset - PCI_BAR0) / 4;
		uint32_t reg;
		memcpy(&reg, dev->config + PCI_BAR0 + 4 * bar, 4);
		if (dev->bars[bar].sizing)
			reg = (uint32_t)~(dev->bars[bar].size - 1);
		for (uint32_t i = 0; i < len && (offset + i) / 4 == (offset / 4); i++)
			((uint8_t *)&reg)[(offset + i) % 4] = data[i];
		bar_write(dev, bar, reg);
	} else {
		for (uint32_t i = 0; i < len; i++) {
			uint32_t off = offset + i;
			dev->config[off] = (uint8_t)((dev->config[off] & ~dev->wmask[off]) | (data[i] & dev->wmask[off]));
		}
		cap_written = offset + len > 0x40;
	}
	for (unsigned int b = 0; b < PCI_BARS; b++) {
		uint64_t now = pci_device_bar_addr(dev, b);
		if (now != before[b])
			events[nevents++] = (struct bar_event){ dev, b, now };
	}
	pthread_mutex_unlock(&bus->lock);

	/* Device callbacks run without the bus lock: they take their own. */
	for (unsigned int i = 0; i < nevents; i++)
		if (dev->ops && dev->ops->bar_moved)
			dev->ops->bar_moved(events[i].dev, events[i].bar, events[i].addr);
	if (cap_written && dev->ops && dev->ops->config_written)
		dev->ops->config_written(dev, offset, len);
}

/* conf1 (PCI 3.0 §3.2.2.3.2): address register at 0xCF8, data window at 0xCFC..0xCFF. */
static void conf1_address_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	(void)offset;
	if (len != 4) {
		memset(data, 0xff, len);
		return;
	}
	bus_data_put(data, 4, __atomic_load_n(&bus->conf1_address, __ATOMIC_RELAXED));
}

static void conf1_address_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	(void)offset;
	if (len == 4)
		__atomic_store_n(&bus->conf1_address, (uint32_t)bus_data_get(data, 4), __ATOMIC_RELAXED);
}

static bool conf1_target(struct pci_bus *bus, uint64_t offset, unsigned int *b, unsigned int *s, unsigned int *f,
			 uint32_t *reg)
{
	uint32_t a = __atomic_load_n(&bus->conf1_address, __ATOMIC_RELAXED);
	if (!(a & CONF1_ENABLE))
		return false;
	*b = (a >> 16) & 0xff;
	*s = (a >> 11) & 0x1f;
	*f = (a >> 8) & 0x7;
	*reg = (a & 0xfc) + (uint32_t)offset;
	return true;
}

static void conf1_data_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	unsigned int b, s, f;
	uint32_t reg;
	if (!conf1_target(opaque, offset, &b, &s, &f, &reg) || offset + len > 4) {
		memset(data, 0xff, len);
		return;
	}
	pci_config_read(opaque, b, s, f, reg, data, len);
}

static void conf1_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	unsigned int b, s, f;
	uint32_t reg;
	if (conf1_target(opaque, offset, &b, &s, &f, &reg) && offset + len <= 4)
		pci_config_write(opaque, b, s, f, reg, data, len);
}

/* ECAM (PCIe base spec §7.2.2): bus << 20 | device << 15 | function << 12 | register. */
static void ecam_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	uint32_t reg = offset & (ECAM_FUNCTION_SIZE - 1);
	if (reg + len > ECAM_FUNCTION_SIZE) {
		memset(data, 0xff, len);
		return;
	}
	pci_config_read(opaque, (unsigned int)(offset >> 20) & 0xff, (unsigned int)(offset >> 15) & 0x1f,
			(unsigned int)(offset >> 12) & 0x7, reg, data, len);
}

static void ecam_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	uint32_t reg = offset & (ECAM_FUNCTION_SIZE - 1);
	if (reg + len <= ECAM_FUNCTION_SIZE)
		pci_config_write(opaque, (unsigned int)(offset >> 20) & 0xff, (unsigned int)(offset >> 15) & 0x1f,
				 (unsigned int)(offset >> 12) & 0x7, reg, data, len);
}

/* Finds the BAR decoding [addr, addr+len) under the lock; the access runs after it. */
static struct pci_device *window_target(struct pci_bus *bus, uint64_t addr, uint32_t len, unsigned int *bar,
					uint64_t *bar_offset)
{
	struct pci_device *found = NULL;
	pthread_mutex_lock(&bus->lock);
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES && !found; slot++) {
		struct pci_device *dev = bus->devices[slot];
		if (!dev)
			continue;
		for (unsigned int b = 0; b < PCI_BARS; b++) {
			uint64_t base = pci_device_bar_addr(dev, b), size = dev->bars[b].size;
			if (base && addr >= base && addr - base < size && len <= size - (addr - base)) {
				found = dev;
				*bar = b;
				*bar_offset = addr - base;
				break;
			}
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return found;
}

static void window_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int bar;
	uint64_t off;
	struct pci_device *dev = window_target(bus, bus->window_base + offset, len, &bar, &off);
	if (!dev || !dev->ops || !dev->ops->bar_read) {
		memset(data, 0xff, len);
		return;
	}
	dev->ops->bar_read(dev, bar, off, data, len);
}

static void window_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	unsigned int bar;
	uint64_t off;
	struct pci_device *dev = window_target(bus, bus->window_base + offset, len, &bar, &off);
	if (dev && dev->ops && dev->ops->bar_write)
		dev->ops->bar_write(dev, bar, off, data, len);
}

const struct bus_ops pci_conf1_address_ops = { .read = conf1_address_read, .write = conf1_address_write };
const struct bus_ops pci_conf1_data_ops = { .read = conf1_data_read, .write = conf1_data_write };
const struct bus_ops pci_ecam_ops = { .read = ecam_read, .write = ecam_write };
const struct bus_ops pci_window_ops = { .read = window_read, .write = window_write };
