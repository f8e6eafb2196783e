#include "devices/pci.h"

#include <errno.h>
#include <string.h>

#include "vmm/bytes.h"

/* conf1 address register (PCI 3.0 §3.2.2.3.2): bit 31 enables the data window; bits 30:24 are
 * reserved and bits 1:0 read-only, both reading 0. */
#define CONF1_ENABLE 0x80000000u
#define CONF1_WRITABLE 0x80fffffcu
#define BAR_TYPE_MEM32 0x0 /* memory, 32-bit, not prefetchable (PCI 3.0 §6.2.5.1) */
#define BAR_MIN_SIZE 0x1000
#define BAR_MAX_SIZE 0x80000000ull /* the largest a 32-bit BAR can describe */
#define ECAM_FUNCTION_SIZE 0x1000
#define CAP_START 0x40 /* first byte after the type-0 header (PCI 3.0 §6.7) */
#define MAX_CAPS ((PCI_CONFIG_SIZE - CAP_START) / 4)

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
	/* Writable: command (IO, MEMORY, MASTER, INTX_DISABLE) and interrupt line. BARs have
	 * their own write path (sizing); the rest of the header, status included, is read-only:
	 * we raise no error bits, so its write-1-to-clear bits have nothing to clear. */
	dev->wmask[PCI_COMMAND] = PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	dev->wmask[PCI_COMMAND + 1] = PCI_COMMAND_INTX_DISABLE >> 8;
	dev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	dev->next_cap = CAP_START;
	dev->ops = ops;
	dev->opaque = opaque;
}

void pci_set_wmask(struct pci_device *dev, uint32_t offset, uint8_t mask, uint32_t len)
{
	for (uint32_t i = 0; i < len && offset < PCI_CONFIG_SIZE && i < PCI_CONFIG_SIZE - offset; i++)
		dev->wmask[offset + i] = mask;
}

uint8_t pci_add_capability(struct pci_device *dev, uint8_t id, const uint8_t *body, uint8_t len)
{
	uint32_t at = dev->next_cap, total = 2u + len;
	if (at < CAP_START || at % 4 || total > PCI_CONFIG_SIZE - at || (len && !body))
		return 0;
	dev->config[at] = id;
	dev->config[at + 1] = 0; /* end of list (PCI 3.0 §6.7) */
	if (len)
		memcpy(dev->config + at + 2, body, len);
	/* Link from the list's end: the header's pointer or the last capability's next byte. The
	 * walk is bounded so that a list someone made cyclic cannot hang us. */
	uint8_t *link = &dev->config[PCI_CAPABILITY_LIST];
	for (unsigned int n = 0; *link >= CAP_START && *link < PCI_CONFIG_SIZE - 1 && n < MAX_CAPS; n++)
		link = &dev->config[*link + 1u];
	*link = (uint8_t)at;
	put_le16(dev->config + PCI_STATUS, get_le16(dev->config + PCI_STATUS) | PCI_STATUS_CAP_LIST);
	/* Capabilities are DWORD aligned (PCI 3.0 §6.7); past the last DWORD the space is full. */
	uint32_t next = (at + total + 3) & ~3u;
	dev->next_cap = next < PCI_CONFIG_SIZE ? (uint8_t)next : 0;
	return (uint8_t)at;
}

void pci_bus_init(struct pci_bus *bus, uint64_t ecam_base, uint64_t window_base, uint64_t window_size)
{
	memset(bus, 0, sizeof(*bus));
	pthread_mutex_init(&bus->lock, NULL);
	pthread_mutex_init(&bus->config_lock, NULL);
	bus->ecam_base = ecam_base;
	bus->window_base = bus->window_next = window_base;
	bus->window_size = window_size;
	/* Slot 0: a host bridge (class 06/00/00), which guests scanning bus 0 expect to find.
	 * QEMU's "PCIe host bridge" IDs, which guests already know. */
	pci_device_init(&bus->host_bridge, 0x1b36, 0x0008, 0x060000, 0x1af4, 0x1100, NULL, NULL);
	bus->host_bridge.config[PCI_INTERRUPT_PIN] = 0;
	bus->host_bridge.bus = bus;
	bus->devices[0] = &bus->host_bridge;
}

int pci_device_add_bar(struct pci_bus *bus, struct pci_device *dev, unsigned int bar, uint64_t size)
{
	if (bar >= PCI_BARS || size < BAR_MIN_SIZE || size > BAR_MAX_SIZE || (size & (size - 1)) ||
	    dev->bars[bar].size || (dev->bus && dev->bus != bus))
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	/* Naturally aligned (PCI 3.0 §6.2.5.1: a BAR's low bits below its size are zero), and
	 * never at 0, which bar_moved uses for "not decoding". */
	uint64_t start = bus->window_next ? bus->window_next : 1;
	uint64_t addr = (start + size - 1) & ~(size - 1);
	uint64_t window_end = bus->window_base + bus->window_size;
	if (addr < start || addr + size > window_end || addr + size > 0x100000000ull) {
		pthread_mutex_unlock(&bus->lock);
		return -ENOSPC;
	}
	bus->window_next = addr + size;
	dev->bus = bus;
	dev->bars[bar] = (struct pci_bar){ .addr = addr, .size = size };
	put_le32(dev->config + PCI_BAR0 + 4 * bar, (uint32_t)addr | BAR_TYPE_MEM32);
	pthread_mutex_unlock(&bus->lock);
	return 0;
}

void pci_bus_set_intx_gsis(struct pci_bus *bus, const uint8_t gsis[4])
{
	memcpy(bus->intx_gsis, gsis, sizeof(bus->intx_gsis));
}

unsigned int pci_device_intx_gsi(const struct pci_device *dev)
{
	uint8_t pin = dev->config[PCI_INTERRUPT_PIN];
	if (!dev->bus || pin < 1 || pin > 4)
		return 0;
	return dev->bus->intx_gsis[(dev->slot + pin - 1u) % 4];
}

int pci_bus_add_device(struct pci_bus *bus, struct pci_device *dev)
{
	int ret = -ENOSPC;
	if (dev->bus && dev->bus != bus)
		return -EINVAL;
	pthread_mutex_lock(&bus->lock);
	for (unsigned int slot = 0; slot < PCI_MAX_DEVICES; slot++)
		if (bus->devices[slot] == dev)
			ret = -EEXIST;
	for (unsigned int slot = 1; slot < PCI_MAX_DEVICES && ret == -ENOSPC; slot++) {
		if (!bus->devices[slot]) {
			dev->slot = slot;
			dev->bus = bus;
			bus->devices[slot] = dev;
			/* What firmware would leave there: the line the pin is wired to. */
			dev->config[PCI_INTERRUPT_LINE] = (uint8_t)pci_device_intx_gsi(dev);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&bus->lock);
	return ret;
}

/* A BAR decodes while memory decoding is on (PCI 3.0 §6.2.2, command bit 1) and it lies
 * wholly inside the window: only the window is routed to us, so a BAR the guest moved
 * elsewhere (RAM, ECAM, above the window) stops answering instead of shadowing that range. */
uint64_t pci_device_bar_addr(const struct pci_device *dev, unsigned int bar)
{
	if (bar >= PCI_BARS || !dev->bus)
		return 0;
	const struct pci_bar *b = &dev->bars[bar];
	const struct pci_bus *bus = dev->bus;
	if (!b->size || !b->addr || !(get_le16(dev->config + PCI_COMMAND) & PCI_COMMAND_MEMORY))
		return 0;
	if (b->addr < bus->window_base || b->addr - bus->window_base > bus->window_size ||
	    b->size > bus->window_size - (b->addr - bus->window_base))
		return 0;
	return b->addr;
}

static struct pci_device *lookup(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func)
{
	/* One bus, single-function devices: function 0 only (header type bit 7 clear). */
	if (busnr != 0 || slot >= PCI_MAX_DEVICES || func != 0)
		return NULL;
	return bus->devices[slot];
}

static bool is_bar_byte(uint32_t off)
{
	return off >= PCI_BAR0 && off < PCI_BAR0 + 4 * PCI_BARS;
}

/* What the guest reads from a BAR register: the size mask with the type bits while sizing
 * (PCI 3.0 §6.2.5.1), else the address and type; 0 for an unused BAR. */
static uint32_t bar_register(const struct pci_device *dev, unsigned int bar)
{
	const struct pci_bar *b = &dev->bars[bar];
	if (b->size && b->sizing)
		return (uint32_t)~(b->size - 1) | BAR_TYPE_MEM32;
	return get_le32(dev->config + PCI_BAR0 + 4 * bar);
}

void pci_config_read(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		     uint32_t offset, uint8_t *data, uint32_t len)
{
	pthread_mutex_lock(&bus->lock);
	struct pci_device *dev = lookup(bus, busnr, slot, func);
	for (uint32_t i = 0; i < len; i++) {
		uint64_t off = (uint64_t)offset + i;
		if (!dev || off >= ECAM_FUNCTION_SIZE)
			data[i] = 0xff; /* no function answers: all ones (PCI 3.0 §6.1) */
		else if (off >= PCI_CONFIG_SIZE)
			data[i] = 0; /* no extended capabilities (PCIe base spec §7.6.3: ID 0 ends the list) */
		else if (is_bar_byte((uint32_t)off))
			data[i] = (uint8_t)(bar_register(dev, (unsigned int)(off - PCI_BAR0) / 4) >> (8 * (off % 4)));
		else
			data[i] = dev->config[off];
	}
	pthread_mutex_unlock(&bus->lock);
}

/* A whole BAR register as written: all ones in every address bit starts sizing (PCI 3.0
 * §6.2.5.1), anything else places the BAR, its bits below the size being hardwired to 0. */
static void bar_write(struct pci_device *dev, unsigned int bar, uint32_t value)
{
	struct pci_bar *b = &dev->bars[bar];
	if (!b->size)
		return; /* unimplemented BAR: reads 0, ignores writes */
	uint32_t address_bits = (uint32_t)~(b->size - 1);
	if ((value & address_bits) == address_bits) {
		b->sizing = true;
		return;
	}
	b->sizing = false;
	b->addr = value & address_bits;
	put_le32(dev->config + PCI_BAR0 + 4 * bar, (uint32_t)b->addr | BAR_TYPE_MEM32);
}

void pci_config_write(struct pci_bus *bus, unsigned int busnr, unsigned int slot, unsigned int func,
		      uint32_t offset, const uint8_t *data, uint32_t len)
{
	uint64_t before[PCI_BARS], after[PCI_BARS];
	uint32_t bar_value[PCI_BARS];
	bool bar_touched[PCI_BARS] = { false };

	if (offset >= PCI_CONFIG_SIZE)
		return; /* 0x100..0xFFF: no extended registers to write */
	uint32_t n = len < PCI_CONFIG_SIZE - offset ? len : PCI_CONFIG_SIZE - offset;

	pthread_mutex_lock(&bus->config_lock);
	pthread_mutex_lock(&bus->lock);
	struct pci_device *dev = lookup(bus, busnr, slot, func);
	if (!dev) {
		pthread_mutex_unlock(&bus->lock);
		pthread_mutex_unlock(&bus->config_lock);
		return;
	}
	for (unsigned int b = 0; b < PCI_BARS; b++)
		before[b] = pci_device_bar_addr(dev, b);
	/* Byte by byte, so a write of any width or alignment lands the same way: BAR bytes are
	 * merged into their register, which is then written whole; the rest obeys wmask. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = offset + i;
		if (is_bar_byte(off)) {
			unsigned int b = (off - PCI_BAR0) / 4, shift = 8 * (off % 4);
			if (!bar_touched[b]) {
				bar_value[b] = bar_register(dev, b);
				bar_touched[b] = true;
			}
			bar_value[b] = (bar_value[b] & ~(0xffu << shift)) | (uint32_t)data[i] << shift;
		} else {
			dev->config[off] = (uint8_t)((dev->config[off] & ~dev->wmask[off]) | (data[i] & dev->wmask[off]));
		}
	}
	for (unsigned int b = 0; b < PCI_BARS; b++) {
		if (bar_touched[b])
			bar_write(dev, b, bar_value[b]);
		after[b] = pci_device_bar_addr(dev, b);
	}
	__atomic_store_n(&dev->intx_disabled, (get_le16(dev->config + PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) != 0,
			 __ATOMIC_RELAXED);
	pthread_mutex_unlock(&bus->lock);

	/* Device callbacks run without the bus lock (they take their own, and dispatch to other
	 * devices goes on meanwhile) but under config_lock, so moves are reported in order. */
	const struct pci_device_ops *ops = dev->ops;
	for (unsigned int b = 0; b < PCI_BARS; b++)
		if (after[b] != before[b] && ops && ops->bar_moved)
			ops->bar_moved(dev, b, after[b]);
	if (offset + n > CAP_START && ops && ops->config_written) {
		uint32_t from = offset > CAP_START ? offset : CAP_START;
		ops->config_written(dev, from, offset + n - from);
	}
	pthread_mutex_unlock(&bus->config_lock);
}

/* conf1 (PCI 3.0 §3.2.2.3.2): address register at 0xCF8, data window at 0xCFC..0xCFF. Only a
 * DWORD access at 0xCF8 itself reaches the address register; narrower ones belong to other
 * registers sharing those ports on a PC (0xCF9 reset control). */
static void conf1_address_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	if (offset != 0 || len != 4) {
		memset(data, 0xff, len);
		return;
	}
	bus_data_put(data, 4, __atomic_load_n(&bus->conf1_address, __ATOMIC_RELAXED));
}

static void conf1_address_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct pci_bus *bus = opaque;
	if (offset == 0 && len == 4)
		__atomic_store_n(&bus->conf1_address, (uint32_t)bus_data_get(data, 4) & CONF1_WRITABLE,
				 __ATOMIC_RELAXED);
}

/* Decodes the latched address for a data access at 0xCFC + offset; false when the window is
 * disabled or the access does not fit in the data DWORD. */
static bool conf1_target(struct pci_bus *bus, uint64_t offset, uint32_t len, unsigned int *b, unsigned int *s,
			 unsigned int *f, uint32_t *reg)
{
	uint32_t a = __atomic_load_n(&bus->conf1_address, __ATOMIC_RELAXED);
	if (!(a & CONF1_ENABLE) || offset >= 4 || len > 4 - offset)
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
	if (!conf1_target(opaque, offset, len, &b, &s, &f, &reg)) {
		memset(data, 0xff, len);
		return;
	}
	pci_config_read(opaque, b, s, f, reg, data, len);
}

static void conf1_data_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	unsigned int b, s, f;
	uint32_t reg;
	if (conf1_target(opaque, offset, len, &b, &s, &f, &reg))
		pci_config_write(opaque, b, s, f, reg, data, len);
}

/* Memory-mapped configuration space: offset = bus | device | function | register, each
 * function owning 1 << function_shift bytes. ECAM (PCIe base spec §7.2.2) gives a function
 * 4 KiB (bus << 20 | device << 15 | function << 12); CAM, the pre-PCIe form Linux calls
 * pci-host-cam-generic, gives it 256 bytes (bus << 16 | device << 11 | function << 8). An
 * access must stay inside one function's space. */
static bool mapped_config_target(uint64_t offset, uint32_t len, unsigned int function_shift, unsigned int *b,
				 unsigned int *s, unsigned int *f, uint32_t *reg)
{
	uint32_t function_size = 1u << function_shift;
	if (offset >= 256ull << (function_shift + 8))
		return false;
	*b = (unsigned int)(offset >> (function_shift + 8)) & 0xff;
	*s = (unsigned int)(offset >> (function_shift + 3)) & 0x1f;
	*f = (unsigned int)(offset >> function_shift) & 0x7;
	*reg = (uint32_t)offset & (function_size - 1);
	return len <= function_size - *reg;
}

#define ECAM_FUNCTION_SHIFT 12
#define CAM_FUNCTION_SHIFT 8

static void mapped_config_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, unsigned int shift)
{
	unsigned int b, s, f;
	uint32_t reg;
	if (!mapped_config_target(offset, len, shift, &b, &s, &f, &reg)) {
		memset(data, 0xff, len);
		return;
	}
	pci_config_read(opaque, b, s, f, reg, data, len);
}

static void mapped_config_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len, unsigned int shift)
{
	unsigned int b, s, f;
	uint32_t reg;
	if (mapped_config_target(offset, len, shift, &b, &s, &f, &reg))
		pci_config_write(opaque, b, s, f, reg, data, len);
}

static void ecam_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	mapped_config_read(opaque, offset, data, len, ECAM_FUNCTION_SHIFT);
}

static void ecam_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	mapped_config_write(opaque, offset, data, len, ECAM_FUNCTION_SHIFT);
}

static void cam_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	mapped_config_read(opaque, offset, data, len, CAM_FUNCTION_SHIFT);
}

static void cam_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	mapped_config_write(opaque, offset, data, len, CAM_FUNCTION_SHIFT);
}

/* Finds the BAR decoding all of [addr, addr+len) under the lock and returns a snapshot of
 * (device, BAR, offset); the access itself runs after the lock is dropped. Devices are never
 * removed, so the pointer stays valid. BARs a guest made overlap: the lowest slot wins. */
static struct pci_device *window_target(struct pci_bus *bus, uint64_t offset, uint32_t len, unsigned int *bar,
					uint64_t *bar_offset)
{
	struct pci_device *found = NULL;
	if (offset >= bus->window_size || len == 0)
		return NULL;
	uint64_t addr = bus->window_base + offset;
	pthread_mutex_lock(&bus->lock);
	for (unsigned int slot = 0; slot < PCI_MAX_DEVICES && !found; slot++) {
		struct pci_device *dev = bus->devices[slot];
		for (unsigned int b = 0; dev && b < PCI_BARS; b++) {
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
	unsigned int bar;
	uint64_t off;
	struct pci_device *dev = window_target(opaque, offset, len, &bar, &off);
	if (!dev || !dev->ops || !dev->ops->bar_read) {
		memset(data, 0xff, len); /* nothing decodes it: master abort */
		return;
	}
	dev->ops->bar_read(dev, bar, off, data, len);
}

static void window_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	unsigned int bar;
	uint64_t off;
	struct pci_device *dev = window_target(opaque, offset, len, &bar, &off);
	if (dev && dev->ops && dev->ops->bar_write)
		dev->ops->bar_write(dev, bar, off, data, len);
}

const struct bus_ops pci_conf1_address_ops = { .read = conf1_address_read, .write = conf1_address_write };
const struct bus_ops pci_conf1_data_ops = { .read = conf1_data_read, .write = conf1_data_write };
const struct bus_ops pci_ecam_ops = { .read = ecam_read, .write = ecam_write };
const struct bus_ops pci_cam_ops = { .read = cam_read, .write = cam_write };
const struct bus_ops pci_window_ops = { .read = window_read, .write = window_write };
