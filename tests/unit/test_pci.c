/* The PCI bus model as guests reach it: conf1 and ECAM configuration access, the type-0
 * header, BAR sizing and placement, window dispatch, the capability list, and hostile offsets. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "devices/pci.h"

#define ECAM_BASE 0xb0000000ull
#define WINDOW_BASE 0xfe000000ull
#define WINDOW_SIZE 0x100000ull

/* A function that records what the bus did to it. */
struct rec_dev {
	struct pci_device pci;
	unsigned int reads, writes;
	unsigned int last_bar;
	uint64_t last_offset;
	uint32_t last_len;
	uint8_t last_data[8];
	unsigned int moves;
	unsigned int moved_bar;
	uint64_t moved_addr;
	unsigned int config_writes;
	uint32_t written_offset, written_len;
};

static struct pci_bus bus;
static struct rec_dev devs[3];

static void rec_bar_read(struct pci_device *d, unsigned int bar, uint64_t offset, uint8_t *data, uint32_t len)
{
	struct rec_dev *r = d->opaque;
	r->reads++;
	r->last_bar = bar;
	r->last_offset = offset;
	r->last_len = len;
	memset(data, 0x40 + (int)d->slot, len);
}

static void rec_bar_write(struct pci_device *d, unsigned int bar, uint64_t offset, const uint8_t *data, uint32_t len)
{
	struct rec_dev *r = d->opaque;
	r->writes++;
	r->last_bar = bar;
	r->last_offset = offset;
	r->last_len = len;
	memcpy(r->last_data, data, len < 8 ? len : 8);
}

static void rec_bar_moved(struct pci_device *d, unsigned int bar, uint64_t addr)
{
	struct rec_dev *r = d->opaque;
	r->moves++;
	r->moved_bar = bar;
	r->moved_addr = addr;
}

static void rec_config_written(struct pci_device *d, uint32_t offset, uint32_t len)
{
	struct rec_dev *r = d->opaque;
	r->config_writes++;
	r->written_offset = offset;
	r->written_len = len;
}

static const struct pci_device_ops rec_ops = {
	.bar_read = rec_bar_read,
	.bar_write = rec_bar_write,
	.bar_moved = rec_bar_moved,
	.config_written = rec_config_written,
};

static void init_dev(struct rec_dev *r, uint16_t device)
{
	memset(r, 0, sizeof(*r));
	pci_device_init(&r->pci, 0x1af4, device, 0x018000, 0x1af4, 0x0002, &rec_ops, r);
}

static void setup(void)
{
	pci_bus_init(&bus, ECAM_BASE, WINDOW_BASE, WINDOW_SIZE);
	for (unsigned int i = 0; i < 3; i++)
		init_dev(&devs[i], (uint16_t)(0x1041 + i));
}

static void teardown(void)
{
	pthread_mutex_destroy(&bus.lock);
	pthread_mutex_destroy(&bus.config_lock);
}

TestSuite(pci, .init = setup, .fini = teardown);

static uint64_t ecam(unsigned int b, unsigned int s, unsigned int f, uint32_t reg)
{
	return (uint64_t)b << 20 | (uint64_t)s << 15 | (uint64_t)f << 12 | reg;
}

static uint32_t ecam_read(uint64_t offset, uint32_t len)
{
	uint8_t d[8] = { 0 };
	pci_ecam_ops.read(&bus, offset, d, len);
	return (uint32_t)bus_data_get(d, len);
}

static void ecam_write(uint64_t offset, uint32_t value, uint32_t len)
{
	uint8_t d[4];
	bus_data_put(d, len, value);
	pci_ecam_ops.write(&bus, offset, d, len);
}

static uint32_t cfg_read(unsigned int slot, uint32_t reg, uint32_t len)
{
	return ecam_read(ecam(0, slot, 0, reg), len);
}

static void cfg_write(unsigned int slot, uint32_t reg, uint32_t value, uint32_t len)
{
	ecam_write(ecam(0, slot, 0, reg), value, len);
}

static void conf1_set(uint32_t address)
{
	uint8_t d[4];
	bus_data_put(d, 4, address);
	pci_conf1_address_ops.write(&bus, 0, d, 4);
}

static uint32_t conf1_get(void)
{
	uint8_t d[4];
	pci_conf1_address_ops.read(&bus, 0, d, 4);
	return (uint32_t)bus_data_get(d, 4);
}

static uint32_t conf1_read(unsigned int port_offset, uint32_t len)
{
	uint8_t d[4] = { 0 };
	pci_conf1_data_ops.read(&bus, port_offset, d, len);
	return (uint32_t)bus_data_get(d, len);
}

static void conf1_write(unsigned int port_offset, uint32_t value, uint32_t len)
{
	uint8_t d[4];
	bus_data_put(d, len, value);
	pci_conf1_data_ops.write(&bus, port_offset, d, len);
}

static uint32_t window_read(uint64_t addr, uint32_t len)
{
	uint8_t d[8] = { 0 };
	pci_window_ops.read(&bus, addr - WINDOW_BASE, d, len);
	return (uint32_t)bus_data_get(d, len);
}

static void window_write(uint64_t addr, uint32_t value, uint32_t len)
{
	uint8_t d[8];
	bus_data_put(d, len, value);
	pci_window_ops.write(&bus, addr - WINDOW_BASE, d, len);
}

/* Adds devs[i] with a BAR 0 of `size`, returning its slot. */
static unsigned int add_with_bar(unsigned int i, uint64_t size)
{
	cr_assert_eq(pci_device_add_bar(&bus, &devs[i].pci, 0, size), 0);
	cr_assert_eq(pci_bus_add_device(&bus, &devs[i].pci), 0);
	return devs[i].pci.slot;
}

Test(pci, conf1_enable_bit_and_address_decoding)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	cr_assert_eq(slot, 1);

	/* Linux's pci_check_type1 writes the enable bit alone and expects it back. */
	conf1_set(0x80000000);
	cr_assert_eq(conf1_get(), 0x80000000);
	cr_assert_eq(conf1_read(0, 4), 0x00081b36, "host bridge at 00:00.0");

	conf1_set(0x80000000 | slot << 11);
	cr_assert_eq(conf1_read(0, 4), 0x10411af4);
	cr_assert_eq(conf1_read(0, 2), 0x1af4);
	cr_assert_eq(conf1_read(2, 2), 0x1041, "0xCFE reaches register + 2");
	cr_assert_eq(conf1_read(3, 1), 0x10);

	/* Register bits 7:2 select the DWORD: class code at 0x08 (revision, prog-if, sub, base). */
	conf1_set(0x80000000 | slot << 11 | PCI_REVISION);
	cr_assert_eq(conf1_read(0, 4) >> 8, 0x018000);
	cr_assert_eq(conf1_read(3, 1), 0x01, "base class byte through 0xCFF");
	cr_assert_eq(conf1_read(2, 2), 0x0180);

	/* Bits 1:0 are not part of the register number and read back as 0, nor do 30:24. */
	conf1_set(0xff000003 | slot << 11 | PCI_REVISION);
	cr_assert_eq(conf1_get(), 0x80000000 | slot << 11 | PCI_REVISION);
	cr_assert_eq(conf1_read(0, 4) >> 8, 0x018000);

	/* Function, bus and slot fields are all decoded. */
	conf1_set(0x80000000 | slot << 11 | 1 << 8);
	cr_assert_eq(conf1_read(0, 4), 0xffffffff, "function 1 does not exist");
	conf1_set(0x80000000 | 1 << 16 | slot << 11);
	cr_assert_eq(conf1_read(0, 4), 0xffffffff, "bus 1 does not exist");
	conf1_set(0x80000000 | 7 << 11);
	cr_assert_eq(conf1_read(0, 4), 0xffffffff, "empty slot");

	/* Enable clear: the data window reads all ones and drops writes. */
	conf1_set(slot << 11 | PCI_COMMAND);
	cr_assert_eq(conf1_read(0, 4), 0xffffffff);
	cr_assert_eq(conf1_read(0, 1), 0xff);
	conf1_write(0, PCI_COMMAND_MASTER, 2);
	cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2), 0);

	/* Enabled: a word write through the data window lands in the command register. */
	conf1_set(0x80000000 | slot << 11 | PCI_COMMAND);
	conf1_write(0, PCI_COMMAND_MASTER, 2);
	cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2), PCI_COMMAND_MASTER);
	cr_assert_eq(conf1_read(0, 2), PCI_COMMAND_MASTER);
}

Test(pci, conf1_address_takes_only_dword_accesses)
{
	conf1_set(0x80000800);
	uint8_t d[4] = { 0x12, 0x34, 0x56, 0x78 };
	pci_conf1_address_ops.write(&bus, 0, d, 1);
	pci_conf1_address_ops.write(&bus, 0, d, 2);
	pci_conf1_address_ops.write(&bus, 1, d, 4); /* if registered wider than 1 port */
	cr_assert_eq(conf1_get(), 0x80000800);
	memset(d, 0, sizeof(d));
	pci_conf1_address_ops.read(&bus, 0, d, 2);
	cr_assert_eq(bus_data_get(d, 2), 0xffff);
	pci_conf1_address_ops.read(&bus, 0, d, 1);
	cr_assert_eq(d[0], 0xff);
}

Test(pci, conf1_data_access_past_the_dword_is_refused)
{
	conf1_set(0x80000000);
	cr_assert_eq(conf1_read(2, 4), 0xffffffff, "an inl at 0xCFE would cross 0xCFF");
	cr_assert_eq(conf1_read(3, 2), 0xffff);
	cr_assert_eq(conf1_read(4, 1), 0xff);
	cr_assert_eq(conf1_read(0xffffffff, 4), 0xffffffff);
	add_with_bar(0, 0x1000);
	conf1_set(0x80000800 | PCI_COMMAND);
	conf1_write(3, 0xffffffff, 4);
	conf1_write(0xfffffffe, 0xffff, 2);
	cr_assert_eq(cfg_read(1, PCI_COMMAND, 2), 0);
}

Test(pci, ecam_absent_functions_read_all_ones_at_every_width)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	const uint64_t absent[] = {
		ecam(0, 5, 0, 0),	     /* empty slot */
		ecam(0, slot, 1, 0),	     /* function 1 of a present device */
		ecam(0, 0, 7, PCI_COMMAND),  /* function 7 of the host bridge */
		ecam(1, 0, 0, 0),	     /* bus 1 */
		ecam(255, 31, 7, 0xffc),     /* the last function there could be */
		ecam(1, slot, 0, 0x100),     /* extended space of an absent function */
	};
	for (unsigned int i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		cr_assert_eq(ecam_read(absent[i], 1), 0xff, "#%u", i);
		cr_assert_eq(ecam_read(absent[i], 2), 0xffff, "#%u", i);
		cr_assert_eq(ecam_read(absent[i], 4), 0xffffffff, "#%u", i);
	}
	/* Writing to an absent function changes nothing that exists. */
	ecam_write(ecam(0, slot, 1, PCI_COMMAND), 0xffff, 2);
	cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2), 0);
}

Test(pci, ecam_extended_space_of_present_function_reads_zero)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	for (uint32_t reg = 0x100; reg < 0x1000; reg += 0x3fc) {
		cr_assert_eq(cfg_read(slot, reg, 4), 0, "0x%x", reg);
		cr_assert_eq(cfg_read(0, reg, 2), 0, "0x%x", reg);
	}
	cr_assert_eq(cfg_read(slot, 0xffc, 4), 0);
	cfg_write(slot, 0x100, 0xffffffff, 4);
	cr_assert_eq(cfg_read(slot, 0x100, 4), 0);
}

Test(pci, host_bridge_in_slot_0)
{
	cr_assert_eq(cfg_read(0, PCI_VENDOR_ID, 2), 0x1b36);
	cr_assert_eq(cfg_read(0, PCI_DEVICE_ID, 2), 0x0008);
	cr_assert_eq(cfg_read(0, PCI_REVISION, 4) >> 8, 0x060000, "class: bridge, host bridge");
	cr_assert_eq(cfg_read(0, PCI_HEADER_TYPE, 1), 0, "type 0, single function");
	cr_assert_eq(cfg_read(0, PCI_INTERRUPT_PIN, 1), 0);
	for (unsigned int b = 0; b < PCI_BARS; b++)
		cr_assert_eq(cfg_read(0, PCI_BAR0 + 4 * b, 4), 0);
}

Test(pci, ids_class_and_subsystem_read_back)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	cr_assert_eq(cfg_read(slot, PCI_VENDOR_ID, 2), 0x1af4);
	cr_assert_eq(cfg_read(slot, PCI_DEVICE_ID, 2), 0x1041);
	cr_assert_eq(cfg_read(slot, PCI_CLASS_PROG, 1), 0x00);
	cr_assert_eq(cfg_read(slot, PCI_CLASS_PROG + 1, 2), 0x0180);
	cr_assert_eq(cfg_read(slot, PCI_SUBSYSTEM_VENDOR_ID, 2), 0x1af4);
	cr_assert_eq(cfg_read(slot, PCI_SUBSYSTEM_ID, 2), 0x0002);
	cr_assert_eq(cfg_read(slot, PCI_HEADER_TYPE, 1), 0);
	cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_PIN, 1), 1);
	cr_assert_eq(cfg_read(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST, 0, "no capabilities yet");
	cr_assert_eq(cfg_read(slot, PCI_CAPABILITY_LIST, 1), 0);
}

Test(pci, read_only_fields_stay_read_only)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	uint8_t cap[2] = { 0x12, 0x34 };
	cr_assert_neq(pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, cap, 2), 0);
	uint8_t before[PCI_CONFIG_SIZE];
	memcpy(before, devs[0].pci.config, sizeof(before));

	/* All ones, then all zeros, at every width over the whole header and capability space
	 * (the BARs have their own test). */
	for (uint32_t pass = 0; pass < 2; pass++) {
		uint32_t v = pass ? 0 : 0xffffffff;
		for (uint32_t len = 1; len <= 4; len *= 2)
			for (uint32_t reg = 0; reg < PCI_CONFIG_SIZE; reg += len)
				if (reg < PCI_BAR0 || reg >= PCI_BAR0 + 4 * PCI_BARS)
					cfg_write(slot, reg, v, len);
		if (!pass) {
			cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2),
				     PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE,
				     "only IO, MEMORY, MASTER and INTX_DISABLE are writable");
			cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_LINE, 1), 0xff);
		}
	}
	cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2), 0);
	cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_LINE, 1), 0);
	for (uint32_t off = 0; off < PCI_CONFIG_SIZE; off++) {
		if (off == PCI_COMMAND || off == PCI_COMMAND + 1 || off == PCI_INTERRUPT_LINE)
			continue;
		cr_assert_eq(devs[0].pci.config[off], before[off], "byte 0x%x changed", off);
	}
	cr_assert_eq(cfg_read(slot, PCI_VENDOR_ID, 4), 0x10411af4);
	cr_assert_eq(cfg_read(slot, PCI_STATUS, 2), PCI_STATUS_CAP_LIST);
}

Test(pci, bar_sizing_4k_and_16k)
{
	cr_assert_eq(pci_device_add_bar(&bus, &devs[0].pci, 0, 0x1000), 0);
	cr_assert_eq(pci_device_add_bar(&bus, &devs[0].pci, 2, 0x4000), 0);
	cr_assert_eq(pci_bus_add_device(&bus, &devs[0].pci), 0);
	unsigned int slot = devs[0].pci.slot;
	const struct {
		unsigned int bar;
		uint32_t mask;
	} cases[] = { { 0, 0xfffff000 }, { 2, 0xffffc000 } };

	for (unsigned int i = 0; i < 2; i++) {
		uint32_t reg = PCI_BAR0 + 4 * cases[i].bar;
		uint32_t original = cfg_read(slot, reg, 4);
		cr_assert_eq(original & 0xf, 0, "32-bit, non-prefetchable memory");
		cr_assert_neq(original, 0);
		/* PCI 3.0 §6.2.5.1: save, write all ones, read the size mask, restore. */
		cfg_write(slot, reg, 0xffffffff, 4);
		cr_assert_eq(cfg_read(slot, reg, 4), cases[i].mask, "BAR%u", cases[i].bar);
		cr_assert_eq(cfg_read(slot, reg + 2, 2), 0xffff);
		cfg_write(slot, reg, original, 4);
		cr_assert_eq(cfg_read(slot, reg, 4), original);
	}
	/* All ones in the address bits alone (type bits are read-only anyway) also sizes. */
	cfg_write(slot, PCI_BAR0, 0xfffffff0, 4);
	cr_assert_eq(cfg_read(slot, PCI_BAR0, 4), 0xfffff000);

	/* Unused BARs read 0 and ignore writes, sizing included. */
	for (unsigned int b = 1; b < PCI_BARS; b++) {
		if (b == 2)
			continue;
		cfg_write(slot, PCI_BAR0 + 4 * b, 0xffffffff, 4);
		cr_assert_eq(cfg_read(slot, PCI_BAR0 + 4 * b, 4), 0, "BAR%u", b);
		cfg_write(slot, PCI_BAR0 + 4 * b, 0xfe080000, 4);
		cr_assert_eq(cfg_read(slot, PCI_BAR0 + 4 * b, 4), 0, "BAR%u", b);
	}
	/* The expansion ROM BAR is not implemented either. */
	cfg_write(slot, 0x30, 0xffffffff, 4);
	cr_assert_eq(cfg_read(slot, 0x30, 4), 0);
}

Test(pci, bar_assignment_inside_window_and_naturally_aligned)
{
	/* A window that starts on a 4 KiB but not a 16 KiB boundary. */
	pci_bus_init(&bus, ECAM_BASE, WINDOW_BASE + 0x1000, 0x20000);
	const uint64_t sizes[] = { 0x1000, 0x4000, 0x2000, 0x8000 };
	uint64_t lo[8], hi[8];
	unsigned int n = 0;
	for (unsigned int i = 0; i < 2; i++) {
		for (unsigned int b = 0; b < 2; b++) {
			uint64_t size = sizes[i * 2 + b];
			cr_assert_eq(pci_device_add_bar(&bus, &devs[i].pci, b, size), 0);
			uint64_t addr = devs[i].pci.bars[b].addr;
			cr_assert_eq(addr % size, 0, "0x%llx not aligned to 0x%llx", (unsigned long long)addr,
				     (unsigned long long)size);
			cr_assert_geq(addr, WINDOW_BASE + 0x1000);
			cr_assert_leq(addr + size, WINDOW_BASE + 0x21000);
			lo[n] = addr;
			hi[n++] = addr + size;
		}
		cr_assert_eq(pci_bus_add_device(&bus, &devs[i].pci), 0);
		cr_assert_eq(cfg_read(devs[i].pci.slot, PCI_BAR0, 4), (uint32_t)devs[i].pci.bars[0].addr);
	}
	for (unsigned int a = 0; a < n; a++)
		for (unsigned int b = a + 1; b < n; b++)
			cr_assert(hi[a] <= lo[b] || hi[b] <= lo[a], "BARs %u and %u overlap", a, b);
	cr_assert_neq(devs[0].pci.slot, devs[1].pci.slot);

	/* 0x21000 - 0x18000 left: a 64 KiB BAR does not fit, a 4 KiB one does. */
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 0, 0x10000), -ENOSPC);
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 0, 0x1000), 0);
	/* Bad requests. */
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 0, 0x1000), -EINVAL, "BAR already assigned");
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, PCI_BARS, 0x1000), -EINVAL);
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 1, 0x800), -EINVAL, "below 4 KiB");
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 1, 0x3000), -EINVAL, "not a power of two");
	cr_assert_eq(pci_device_add_bar(&bus, &devs[2].pci, 1, 0x100000000ull), -EINVAL, "not a 32-bit BAR");
}

Test(pci, window_dispatch_reaches_the_right_device_and_offset)
{
	unsigned int s0 = add_with_bar(0, 0x1000), s1 = add_with_bar(1, 0x4000);
	uint64_t b0 = devs[0].pci.bars[0].addr, b1 = devs[1].pci.bars[0].addr;

	/* Memory decoding is off after reset (PCI 3.0 §6.2.2): nothing answers. */
	cr_assert_eq(window_read(b1 + 0x10, 4), 0xffffffff);
	window_write(b1 + 0x10, 1, 4);
	cr_assert_eq(devs[1].reads + devs[1].writes, 0);

	cfg_write(s0, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cfg_write(s1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(window_read(b1 + 0x10, 4), 0x40404040u + 0x01010101u * s1);
	cr_assert_eq(devs[1].reads, 1);
	cr_assert_eq(devs[1].last_bar, 0);
	cr_assert_eq(devs[1].last_offset, 0x10);
	cr_assert_eq(devs[1].last_len, 4);
	cr_assert_eq(devs[0].reads, 0);

	window_write(b0 + 0xffc, 0xdeadbeef, 4);
	cr_assert_eq(devs[0].writes, 1);
	cr_assert_eq(devs[0].last_offset, 0xffc);
	cr_assert_eq(bus_data_get(devs[0].last_data, 4), 0xdeadbeef);
	cr_assert_eq(devs[1].writes, 0);

	window_write(b1 + 0x3ff8, 0x55, 8);
	cr_assert_eq(devs[1].writes, 1);
	cr_assert_eq(devs[1].last_offset, 0x3ff8);
	cr_assert_eq(devs[1].last_len, 8);

	/* Free window space decodes to nobody. */
	cr_assert_eq(window_read(WINDOW_BASE + WINDOW_SIZE - 4, 4), 0xffffffff);

	/* Clearing COMMAND.MEMORY stops decoding; the other device is unaffected. */
	cfg_write(s1, PCI_COMMAND, 0, 2);
	unsigned int reads = devs[1].reads;
	cr_assert_eq(window_read(b1, 4), 0xffffffff);
	cr_assert_eq(devs[1].reads, reads);
	cr_assert_eq(window_read(b0, 1), 0x40 + s0);
}

Test(pci, moving_a_bar_reports_it_and_dispatch_follows)
{
	unsigned int slot = add_with_bar(0, 0x4000);
	struct rec_dev *r = &devs[0];
	uint64_t old = r->pci.bars[0].addr;

	cfg_write(slot, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(r->moves, 1, "turning decoding on is reported");
	cr_assert_eq(r->moved_addr, old);
	cr_assert_eq(pci_device_bar_addr(&r->pci, 0), old);
	cfg_write(slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	cr_assert_eq(r->moves, 1, "no change, no report");

	/* Sizing while decoding does not move the BAR. */
	cfg_write(slot, PCI_BAR0, 0xffffffff, 4);
	cfg_write(slot, PCI_BAR0, (uint32_t)old, 4);
	cr_assert_eq(r->moves, 1);

	/* Low bits under the size are ignored: the BAR lands on its own alignment. */
	uint64_t now = WINDOW_BASE + 0x80000;
	cfg_write(slot, PCI_BAR0, (uint32_t)now | 0x3ff0, 4);
	cr_assert_eq(cfg_read(slot, PCI_BAR0, 4), (uint32_t)now);
	cr_assert_eq(r->moves, 2);
	cr_assert_eq(r->moved_bar, 0);
	cr_assert_eq(r->moved_addr, now);
	cr_assert_eq(pci_device_bar_addr(&r->pci, 0), now);

	unsigned int reads = r->reads;
	cr_assert_eq(window_read(old + 8, 4), 0xffffffff, "the old address is free");
	cr_assert_eq(r->reads, reads);
	window_read(now + 8, 4);
	cr_assert_eq(r->reads, reads + 1);
	cr_assert_eq(r->last_offset, 8);

	/* A word write to the high half moves it too. */
	cfg_write(slot, PCI_BAR0 + 2, (uint32_t)((WINDOW_BASE + 0x40000) >> 16), 2);
	cr_assert_eq(r->moved_addr, WINDOW_BASE + 0x40000);
	cr_assert_eq(r->moves, 3);

	/* Outside the window the BAR stops decoding: reported as 0, and nothing dispatches. */
	cfg_write(slot, PCI_BAR0, 0x80000000, 4);
	cr_assert_eq(cfg_read(slot, PCI_BAR0, 4), 0x80000000, "the register holds what was written");
	cr_assert_eq(r->moves, 4);
	cr_assert_eq(r->moved_addr, 0);
	cr_assert_eq(pci_device_bar_addr(&r->pci, 0), 0);
	reads = r->reads;
	for (uint64_t a = WINDOW_BASE; a < WINDOW_BASE + WINDOW_SIZE; a += 0x1000)
		cr_assert_eq(window_read(a, 4), 0xffffffff);
	cr_assert_eq(r->reads, reads);
	/* Just above the window: still not decoding, nothing new to report. */
	cfg_write(slot, PCI_BAR0, (uint32_t)(WINDOW_BASE + WINDOW_SIZE), 4);
	cr_assert_eq(r->moves, 4);
	cr_assert_eq(pci_device_bar_addr(&r->pci, 0), 0);

	/* Back inside, then decoding off: reported as 0. */
	cfg_write(slot, PCI_BAR0, (uint32_t)old, 4);
	cr_assert_eq(r->moves, 5);
	cr_assert_eq(r->moved_addr, old);
	cfg_write(slot, PCI_COMMAND, 0, 2);
	cr_assert_eq(r->moves, 6);
	cr_assert_eq(r->moved_addr, 0);
	cr_assert_eq(pci_device_bar_addr(&r->pci, 0), 0);
}

Test(pci, access_straddling_the_end_of_a_bar_is_not_dispatched)
{
	add_with_bar(0, 0x1000);
	add_with_bar(1, 0x1000);
	cfg_write(devs[0].pci.slot, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cfg_write(devs[1].pci.slot, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	uint64_t end = devs[0].pci.bars[0].addr + 0x1000;
	cr_assert_eq(devs[1].pci.bars[0].addr, end, "the two BARs are adjacent");

	cr_assert_eq(window_read(end - 2, 4), 0xffffffff);
	window_write(end - 2, 0x12345678, 4);
	window_write(end - 4, 0x12345678, 8);
	cr_assert_eq(devs[0].reads + devs[0].writes + devs[1].reads + devs[1].writes, 0);

	window_read(end - 4, 4);
	cr_assert_eq(devs[0].reads, 1, "the last DWORD is inside");
	window_read(end, 4);
	cr_assert_eq(devs[1].reads, 1);
	cr_assert_eq(devs[1].last_offset, 0);
}

Test(pci, capability_list_walk)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	uint8_t vndr[14] = { 16, 1 }, msix[10] = { 3 }, small[1] = { 0xaa };
	uint8_t a = pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, vndr, sizeof(vndr));
	uint8_t b = pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, small, sizeof(small));
	uint8_t c = pci_add_capability(&devs[0].pci, PCI_CAP_ID_MSIX, msix, sizeof(msix));
	cr_assert_eq(a, 0x40);
	cr_assert_eq(b, 0x50, "after 16 bytes");
	cr_assert_eq(c, 0x54, "3 bytes rounded up to a DWORD");

	cr_assert(cfg_read(slot, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	const uint8_t ids[] = { PCI_CAP_ID_VNDR, PCI_CAP_ID_VNDR, PCI_CAP_ID_MSIX };
	const uint8_t at[] = { a, b, c };
	uint32_t p = cfg_read(slot, PCI_CAPABILITY_LIST, 1);
	unsigned int n = 0;
	while (p && n < 48) {
		cr_assert_geq(p, 0x40);
		cr_assert_eq(p % 4, 0);
		cr_assert_lt(n, 3, "list longer than what was added");
		cr_assert_eq(p, at[n]);
		cr_assert_eq(cfg_read(slot, p, 1), ids[n]);
		p = cfg_read(slot, p + 1, 1);
		n++;
	}
	cr_assert_eq(n, 3, "terminated by 0 after the last one");
	cr_assert_eq(cfg_read(slot, a + 2, 2), 0x0110, "body follows id and next");
	cr_assert_eq(cfg_read(slot, c + 2, 1), 3);

	/* Config space fills up: the last one fits exactly at 0xFC, then nothing does. */
	uint8_t big[0xfc - 0x60 - 2] = { 0 };
	cr_assert_eq(pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, big, sizeof(big)), 0x60);
	cr_assert_eq(pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, big, 3), 0, "5 bytes at 0xFC");
	cr_assert_eq(pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, NULL, 0), 0xfc);
	cr_assert_eq(pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, NULL, 0), 0);
	cr_assert_eq(cfg_read(slot, 0xfd, 1), 0);
}

Test(pci, capability_wmask_and_config_written)
{
	unsigned int slot = add_with_bar(0, 0x4000);
	uint8_t vndr[2] = { 0 };
	uint8_t msix[10] = { 0x02, 0x00, 0x00, 0x20, 0, 0, 0x00, 0x30, 0, 0 }; /* 3 vectors */
	pci_add_capability(&devs[0].pci, PCI_CAP_ID_VNDR, vndr, sizeof(vndr));
	uint8_t cap = pci_add_capability(&devs[0].pci, PCI_CAP_ID_MSIX, msix, sizeof(msix));
	cr_assert_eq(cap, 0x44);
	/* PCI 3.0 §6.8.2.3: message control bits 15 (enable) and 14 (function mask). */
	pci_set_wmask(&devs[0].pci, cap + 3, 0xc0, 1);

	cfg_write(slot, cap + 2, 0xffff, 2);
	cr_assert_eq(cfg_read(slot, cap + 2, 2), 0xc002, "table size stays, enable and mask stick");
	cr_assert_eq(devs[0].config_writes, 1);
	cr_assert_eq(devs[0].written_offset, cap + 2u);
	cr_assert_eq(devs[0].written_len, 2);
	cfg_write(slot, cap, 0xffffffff, 4);
	cr_assert_eq(cfg_read(slot, cap, 4), 0xc0020000 | PCI_CAP_ID_MSIX | 0x00, "id and next are read-only");
	cr_assert_eq(cfg_read(slot, 0x40 + 1, 1), cap);
	cfg_write(slot, cap + 2, 0x4002, 2);
	cr_assert_eq(cfg_read(slot, cap + 2, 2), 0x4002);
	cr_assert_eq(devs[0].config_writes, 3);

	/* Header writes are not reported; a write reaching into 0x40 reports the part there. */
	cfg_write(slot, PCI_INTERRUPT_LINE, 5, 1);
	cr_assert_eq(devs[0].config_writes, 3);
	cfg_write(slot, 0x3e, 0xffffffff, 4);
	cr_assert_eq(devs[0].config_writes, 4);
	cr_assert_eq(devs[0].written_offset, 0x40);
	cr_assert_eq(devs[0].written_len, 2);

	/* pci_set_wmask stops at the end of config space. */
	pci_set_wmask(&devs[0].pci, 0xfe, 0xff, 100);
	pci_set_wmask(&devs[0].pci, 0xffffffff, 0xff, 2);
	cr_assert_eq(devs[0].pci.wmask[0xff], 0xff);
	cr_assert_eq(devs[0].pci.wmask[0], 0);
}

/* The device sits between guard bytes that no access may touch. */
static struct {
	uint8_t before[256];
	struct pci_device pci;
	uint8_t after[256];
} guarded;

static void hostile_bar_read(struct pci_device *d, unsigned int bar, uint64_t offset, uint8_t *data, uint32_t len)
{
	cr_assert_lt(bar, PCI_BARS);
	cr_assert_leq(offset + len, d->bars[bar].size, "dispatch kept inside the BAR");
	memset(data, 0, len);
}

static void hostile_bar_write(struct pci_device *d, unsigned int bar, uint64_t offset, const uint8_t *data,
			      uint32_t len)
{
	(void)data;
	cr_assert_lt(bar, PCI_BARS);
	cr_assert_leq(offset + len, d->bars[bar].size, "dispatch kept inside the BAR");
}

static const struct pci_device_ops hostile_ops = { .bar_read = hostile_bar_read, .bar_write = hostile_bar_write };

Test(pci, hostile_offsets_and_lengths_are_harmless)
{
	memset(guarded.before, 0xa5, sizeof(guarded.before));
	memset(guarded.after, 0x5a, sizeof(guarded.after));
	pci_device_init(&guarded.pci, 0x1af4, 0x1042, 0x018000, 0x1af4, 2, &hostile_ops, NULL);
	cr_assert_eq(pci_device_add_bar(&bus, &guarded.pci, 0, 0x4000), 0);
	uint8_t body[10] = { 1 };
	pci_add_capability(&guarded.pci, PCI_CAP_ID_MSIX, body, sizeof(body));
	cr_assert_eq(pci_bus_add_device(&bus, &guarded.pci), 0);
	unsigned int slot = guarded.pci.slot;
	cfg_write(slot, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	uint8_t snapshot[PCI_CONFIG_SIZE];
	memcpy(snapshot, guarded.pci.config, sizeof(snapshot));

	uint8_t ones[8], buf[8];
	memset(ones, 0xff, sizeof(ones));
	const uint32_t offsets[] = { 0xff, 0xfe, 0xfd, 0x100, 0xfff, 0xffe, 0x1000, 0x1001, 0xfffffffc, 0xffffffff };
	for (unsigned int i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
		for (uint32_t len = 1; len <= 8; len *= 2) {
			pci_config_write(&bus, 0, slot, 0, offsets[i], ones, len);
			memset(buf, 0, sizeof(buf));
			pci_config_read(&bus, 0, slot, 0, offsets[i], buf, len);
			for (uint32_t k = 0; k < len; k++) {
				uint64_t off = (uint64_t)offsets[i] + k;
				uint8_t want = off >= 0x1000 ? 0xff : off >= 0x100 ? 0 : snapshot[off];
				cr_assert_eq(buf[k], want, "offset 0x%x+%u len %u", offsets[i], k, len);
			}
		}
		/* Absurd slot, bus and function numbers. */
		pci_config_write(&bus, 0xffffffff, 0xffffffff, 0xffffffff, offsets[i], ones, 4);
		pci_config_read(&bus, 0, 0xffffffff, 0, offsets[i], buf, 4);
		cr_assert_eq(bus_data_get(buf, 4), 0xffffffff);
	}
	/* ECAM offsets past 256 MiB and far past; misaligned and straddling the function. */
	const uint64_t ecam_offsets[] = { 0x10000000, 0x10000000 | ecam(0, slot, 0, 0), 0xffffffffffffffffull,
					  0xfffffffffffffffcull, ecam(0, slot, 0, 0xffd), ecam(0, slot, 0, 0xfff),
					  ecam(0, slot, 0, 0x3), ecam(0, slot, 0, 0xff) };
	for (unsigned int i = 0; i < sizeof(ecam_offsets) / sizeof(ecam_offsets[0]); i++)
		for (uint32_t len = 1; len <= 8; len *= 2) {
			pci_ecam_ops.write(&bus, ecam_offsets[i], ones, len);
			pci_ecam_ops.read(&bus, ecam_offsets[i], buf, len);
		}
	cr_assert_eq(ecam_read(0x10000000 | ecam(0, slot, 0, 0), 4), 0xffffffff, "no aliasing past bus 255");
	cr_assert_eq(ecam_read(ecam(0, slot, 0, 0xffe), 4), 0xffffffff, "crosses into the next function");
	/* Window offsets past the window and lengths running past the BAR. */
	const uint64_t window_offsets[] = { WINDOW_SIZE, WINDOW_SIZE - 1, 0xffffffffffffffffull, 0x3fff, 0x3ffd };
	for (unsigned int i = 0; i < sizeof(window_offsets) / sizeof(window_offsets[0]); i++)
		for (uint32_t len = 1; len <= 8; len *= 2) {
			pci_window_ops.write(&bus, window_offsets[i], ones, len);
			pci_window_ops.read(&bus, window_offsets[i], buf, len);
		}
	cr_assert_eq(guarded.pci.bars[0].addr, WINDOW_BASE);

	for (unsigned int i = 0; i < sizeof(guarded.before); i++) {
		cr_assert_eq(guarded.before[i], 0xa5);
		cr_assert_eq(guarded.after[i], 0x5a);
	}
	/* Only the writable bits moved (the capability's message control has none here). */
	for (uint32_t off = 0; off < PCI_CONFIG_SIZE; off++)
		cr_assert_eq(guarded.pci.config[off] & ~guarded.pci.wmask[off], snapshot[off] & ~guarded.pci.wmask[off],
			     "byte 0x%x", off);
	cr_assert_eq(cfg_read(slot, PCI_VENDOR_ID, 4), 0x10421af4);
}

Test(pci, slots_fill_up_and_a_device_is_added_once)
{
	static struct pci_device many[PCI_MAX_DEVICES];
	for (unsigned int i = 0; i < PCI_MAX_DEVICES - 1; i++) {
		pci_device_init(&many[i], 0x1af4, 0x1041, 0x018000, 0x1af4, 1, NULL, NULL);
		cr_assert_eq(pci_bus_add_device(&bus, &many[i]), 0);
		cr_assert_eq(many[i].slot, i + 1, "slot 0 is the host bridge");
	}
	cr_assert_eq(pci_bus_add_device(&bus, &many[0]), -EEXIST);
	pci_device_init(&many[PCI_MAX_DEVICES - 1], 0x1af4, 0x1041, 0x018000, 0x1af4, 1, NULL, NULL);
	cr_assert_eq(pci_bus_add_device(&bus, &many[PCI_MAX_DEVICES - 1]), -ENOSPC);
	cr_assert_eq(cfg_read(31, PCI_VENDOR_ID, 2), 0x1af4);

	/* A device with no ops and no BARs: decoding it is harmless. */
	cfg_write(5, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(window_read(WINDOW_BASE, 4), 0xffffffff);

	/* A device whose BARs came from another bus cannot join this one. */
	static struct pci_bus other;
	pci_bus_init(&other, 0, WINDOW_BASE, WINDOW_SIZE);
	pci_device_init(&many[PCI_MAX_DEVICES - 1], 0x1af4, 0x1041, 0x018000, 0x1af4, 1, NULL, NULL);
	cr_assert_eq(pci_device_add_bar(&other, &many[PCI_MAX_DEVICES - 1], 0, 0x1000), 0);
	cr_assert_eq(pci_bus_add_device(&bus, &many[PCI_MAX_DEVICES - 1]), -EINVAL);
}

/* INTx routing: Interrupt Line reads the GSI of the pin after the slot swizzle, the guest may
 * overwrite it (it is a scratch register) without changing the routing, and the Interrupt
 * Disable bit of the command register is mirrored for delivery. */
Test(pci, intx_pin_routed_by_slot_swizzle)
{
	static const uint8_t gsis[4] = { 16, 17, 18, 19 };
	static struct pci_device d[5];
	pci_bus_set_intx_gsis(&bus, gsis);
	for (unsigned int i = 0; i < 5; i++) {
		pci_device_init(&d[i], 0x1af4, 0x1041, 0x018000, 0x1af4, 1, NULL, NULL);
		cr_assert_eq(pci_bus_add_device(&bus, &d[i]), 0);
		unsigned int slot = d[i].slot;
		cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_PIN, 1), 1, "INTA#");
		cr_assert_eq(pci_device_intx_gsi(&d[i]), gsis[slot % 4], "slot %u", slot);
		cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_LINE, 1), gsis[slot % 4]);
	}
	unsigned int slot = d[0].slot;
	cfg_write(slot, PCI_INTERRUPT_LINE, 0x0b, 1);
	cr_assert_eq(cfg_read(slot, PCI_INTERRUPT_LINE, 1), 0x0b);
	cr_assert_eq(pci_device_intx_gsi(&d[0]), gsis[slot % 4], "the wiring does not move");
	cr_assert(!d[0].intx_disabled);
	cfg_write(slot, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE, 2);
	cr_assert(d[0].intx_disabled);
	cfg_write(slot, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	cr_assert(!d[0].intx_disabled);
	/* No routing on the bus, or no pin: no INTx. */
	static struct pci_bus other;
	static struct pci_device lone;
	pci_bus_init(&other, 0, WINDOW_BASE, WINDOW_SIZE);
	pci_device_init(&lone, 0x1af4, 0x1041, 0x018000, 0x1af4, 1, NULL, NULL);
	cr_assert_eq(pci_bus_add_device(&other, &lone), 0);
	cr_assert_eq(pci_device_intx_gsi(&lone), 0);
	cr_assert_eq(lone.config[PCI_INTERRUPT_LINE], 0);
	d[1].config[PCI_INTERRUPT_PIN] = 0;
	cr_assert_eq(pci_device_intx_gsi(&d[1]), 0);
}

/* Two vCPUs moving one BAR while a third reads through the window: dispatch never lands
 * outside the BAR, and a move is reported before any later write can change the BAR again
 * (so the device's view, e.g. its ioeventfds, ends where the BAR is). */
static struct {
	pthread_mutex_t lock;
	uint64_t reported;
	unsigned int moves, stale;
	bool out_of_bounds;
	bool stop;
} race = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void race_bar_read(struct pci_device *d, unsigned int bar, uint64_t offset, uint8_t *data, uint32_t len)
{
	if (bar != 0 || offset + len > d->bars[0].size)
		race.out_of_bounds = true;
	memset(data, 0, len);
}

static void race_bar_moved(struct pci_device *d, unsigned int bar, uint64_t addr)
{
	sched_yield(); /* widen the window for another write to slip in */
	pthread_mutex_lock(&race.lock);
	race.moves++;
	if (bar != 0 || pci_device_bar_addr(d, 0) != addr)
		race.stale++;
	race.reported = addr;
	pthread_mutex_unlock(&race.lock);
}

static const struct pci_device_ops race_ops = { .bar_read = race_bar_read, .bar_moved = race_bar_moved };

static void *race_mover(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	for (unsigned int i = 0; i < 20000; i++) {
		uint32_t addr = (uint32_t)(WINDOW_BASE + 0x4000 * ((i + id) % 8));
		cfg_write(1, PCI_BAR0, addr, 4);
		if (i % 64 == id)
			cfg_write(1, PCI_COMMAND, i % 128 < 64 ? PCI_COMMAND_MEMORY : 0, 2);
	}
	return NULL;
}

static void *race_reader(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&race.stop, __ATOMIC_RELAXED))
		for (uint64_t a = WINDOW_BASE; a < WINDOW_BASE + 0x20000; a += 0x4000) {
			window_read(a + 0x3ff8, 8); /* the BAR's last QWORD when it is there */
			window_read(a + 0x3ffc, 8); /* never: it runs past the BAR */
		}
	return NULL;
}

Test(pci, concurrent_moves_are_reported_in_order)
{
	pci_device_init(&devs[0].pci, 0x1af4, 0x1041, 0x018000, 0x1af4, 1, &race_ops, NULL);
	cr_assert_eq(pci_device_add_bar(&bus, &devs[0].pci, 0, 0x4000), 0);
	cr_assert_eq(pci_bus_add_device(&bus, &devs[0].pci), 0);
	cfg_write(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	pthread_t movers[2], reader;
	pthread_create(&reader, NULL, race_reader, NULL);
	for (uintptr_t i = 0; i < 2; i++)
		pthread_create(&movers[i], NULL, race_mover, (void *)i);
	for (unsigned int i = 0; i < 2; i++)
		pthread_join(movers[i], NULL);
	__atomic_store_n(&race.stop, true, __ATOMIC_RELAXED);
	pthread_join(reader, NULL);
	cr_assert_not(race.out_of_bounds);
	cr_assert_gt(race.moves, 1000);
	cr_assert_eq(race.stale, 0, "%u of %u moves reported after the BAR had moved on", race.stale, race.moves);
	cr_assert_eq(race.reported, pci_device_bar_addr(&devs[0].pci, 0));
}

/* CAM (crosvm-arm64, pci-host-cam-generic): 256 bytes per function, bus << 16 | devfn << 8. */
static uint64_t cam(unsigned int b, unsigned int s, unsigned int f, uint32_t reg)
{
	return (uint64_t)b << 16 | (uint64_t)s << 11 | (uint64_t)f << 8 | reg;
}

static uint32_t cam_read(uint64_t offset, uint32_t len)
{
	uint8_t d[8] = { 0 };
	pci_cam_ops.read(&bus, offset, d, len);
	return (uint32_t)bus_data_get(d, len);
}

static void cam_write(uint64_t offset, uint32_t value, uint32_t len)
{
	uint8_t d[4];
	bus_data_put(d, len, value);
	pci_cam_ops.write(&bus, offset, d, len);
}

Test(pci, cam_reaches_the_same_functions_as_ecam)
{
	unsigned int slot = add_with_bar(0, 0x4000);
	cr_assert_eq(cam_read(cam(0, slot, 0, PCI_VENDOR_ID), 4), cfg_read(slot, PCI_VENDOR_ID, 4));
	cr_assert_eq(cam_read(cam(0, slot, 0, PCI_VENDOR_ID), 2), 0x1af4);
	cr_assert_eq(cam_read(cam(0, 0, 0, PCI_VENDOR_ID), 4), cfg_read(0, PCI_VENDOR_ID, 4), "host bridge");
	/* BAR sizing the way StarryOS does it: all ones, read the mask, restore with decode on. */
	uint32_t bar = cam_read(cam(0, slot, 0, PCI_BAR0), 4);
	cam_write(cam(0, slot, 0, PCI_BAR0), 0xffffffff, 4);
	cr_assert_eq(cam_read(cam(0, slot, 0, PCI_BAR0), 4) & ~0xfu, ~0x3fffu);
	cam_write(cam(0, slot, 0, PCI_BAR0), bar, 4);
	cr_assert_eq(cfg_read(slot, PCI_BAR0, 4), bar, "the ECAM view sees the CAM write");
	cam_write(cam(0, slot, 0, PCI_COMMAND), PCI_COMMAND_MEMORY, 2);
	cr_assert_eq(cfg_read(slot, PCI_COMMAND, 2) & PCI_COMMAND_MEMORY, PCI_COMMAND_MEMORY);
}

Test(pci, cam_absent_functions_and_hostile_offsets)
{
	unsigned int slot = add_with_bar(0, 0x1000);
	cr_assert_eq(cam_read(cam(0, slot, 1, 0), 4), 0xffffffff, "function 1 is absent");
	cr_assert_eq(cam_read(cam(1, slot, 0, 0), 4), 0xffffffff, "bus 1 is absent");
	cr_assert_eq(cam_read(cam(255, 31, 7, 0xfc), 4), 0xffffffff, "the last function there could be");
	/* An access straddling a function's 256 bytes, or past 16 MiB, is refused, not aliased. */
	cr_assert_eq(cam_read(cam(0, slot, 0, 0xfe), 4), 0xffffffff);
	cr_assert_eq(cam_read(0x1000000 | cam(0, slot, 0, 0), 4), 0xffffffff, "no aliasing past bus 255");
	cr_assert_eq(cam_read(0xfffffffffffffffcull, 4), 0xffffffff);
	uint8_t snapshot[PCI_CONFIG_SIZE];
	memcpy(snapshot, bus.devices[slot]->config, sizeof(snapshot));
	cam_write(cam(0, slot, 0, 0xfe), 0xffffffff, 4);
	cam_write(0xfffffffffffffffcull, 0xffffffff, 4);
	cam_write(0x1000000 | cam(0, slot, 0, PCI_COMMAND), 0xffff, 2);
	cr_assert_arr_eq(bus.devices[slot]->config, snapshot, sizeof(snapshot), "nothing written");
}
