/* The virtio-pci modern transport (devices/virtio/pci.c) as a driver sees it: configuration
 * space through the bus's ECAM, the BAR through the bus window, a real virtio-blk on a
 * temporary image behind it, and a fake device_host (virtio_test_driver.h) that records the
 * ioeventfd, irqfd and MSI routes. Interrupts are observed on the eventfds the transport
 * hands to KVM: the MSI-X vectors' and the INTx line's. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "devices/pci.h"
#include "devices/virtio/pci.h"
#include "tests/unit/virtio_test_driver.h"

#define WINDOW_BASE 0xe0000000ull
#define WINDOW_SIZE 0x01000000ull
#define ECAM_BASE 0xb0000000ull
#define MSI_GSI_BASE 24

/* struct virtio_pci_common_cfg (virtio 1.2 §4.1.4.3). */
enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX_CONFIG = 0x10,
	CC_NUM_QUEUES = 0x12,
	CC_STATUS = 0x14,
	CC_Q_SELECT = 0x16,
	CC_Q_SIZE = 0x18,
	CC_Q_MSIX = 0x1a,
	CC_Q_ENABLE = 0x1c,
	CC_Q_NOFF = 0x1e,
	CC_Q_DESC = 0x20,
	CC_Q_DRIVER = 0x28,
	CC_Q_DEVICE = 0x30,
};
#define NO_VECTOR 0xffff
#define MSIX_ENABLE 0x8000

static const uint8_t intx_gsis[4] = { 16, 17, 18, 19 };
static struct pci_bus bus;
static struct virtio_blk blk;
static struct virtio_pci t;
static struct event_loop loop;
static struct device_host host;
static char path[64];
static int next_gsi;
/* Offsets inside BAR 0 found through the capability list, as a driver finds them. */
static uint32_t common, isr, notify, notify_mult, devcfg, msix_table;
static uint8_t msix_cap;

static int fake_alloc_gsi(void *vm)
{
	(void)vm;
	return next_gsi++;
}

static int fake_msi_route(void *vm, unsigned int gsi, uint64_t addr, uint32_t data, bool valid)
{
	(void)vm, (void)gsi, (void)addr, (void)data, (void)valid;
	return 0;
}

/* ---- configuration space and BAR access -------------------------------------------------- */

static uint32_t cfg_rd(uint32_t reg, uint32_t len)
{
	uint8_t d[4] = { 0 };
	pci_config_read(&bus, 0, t.pci.slot, 0, reg, d, len);
	uint32_t v = 0;
	memcpy(&v, d, len);
	return v;
}

static void cfg_wr(uint32_t reg, uint32_t v, uint32_t len)
{
	uint8_t d[4];
	memcpy(d, &v, 4);
	pci_config_write(&bus, 0, t.pci.slot, 0, reg, d, len);
}

static uint64_t bar_rd(uint32_t off, uint32_t len)
{
	uint8_t d[8] = { 0 };
	t.pci.ops->bar_read(&t.pci, 0, off, d, len);
	uint64_t v = 0;
	memcpy(&v, d, len);
	return v;
}

static void bar_wr(uint32_t off, uint64_t v, uint32_t len)
{
	uint8_t d[8];
	memcpy(d, &v, 8);
	t.pci.ops->bar_write(&t.pci, 0, off, d, len);
}

/* Walks the capability list the way Linux's virtio_pci_modern does. */
static void find_capabilities(void)
{
	common = isr = notify = devcfg = msix_table = ~0u;
	msix_cap = 0;
	cr_assert(cfg_rd(0x06, 2) & 0x10, "capability list present");
	unsigned int guard = 0;
	for (uint8_t p = (uint8_t)cfg_rd(0x34, 1); p; p = (uint8_t)cfg_rd(p + 1u, 1)) {
		cr_assert_lt(guard++, 48, "capability list loops");
		uint8_t id = (uint8_t)cfg_rd(p, 1);
		if (id == PCI_CAP_ID_MSIX) {
			msix_cap = p;
			msix_table = cfg_rd(p + 4u, 4);
			cr_assert_eq(msix_table & 7, 0, "table in BAR 0");
			continue;
		}
		cr_assert_eq(id, PCI_CAP_ID_VNDR);
		uint8_t type = (uint8_t)cfg_rd(p + 3u, 1);
		cr_assert_eq(cfg_rd(p + 4u, 1), 0, "BAR 0");
		uint32_t off = cfg_rd(p + 8u, 4);
		switch (type) {
		case 1: common = off; break;
		case 2: notify = off; notify_mult = cfg_rd(p + 16u, 4); break;
		case 3: isr = off; break;
		case 4: devcfg = off; break;
		}
	}
	cr_assert(common != ~0u && isr != ~0u && notify != ~0u && devcfg != ~0u && msix_cap);
}

static void bring_up(uint16_t queue_vector)
{
	rings_clear();
	bar_wr(common + CC_STATUS, 0, 1);
	bar_wr(common + CC_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_wr(common + CC_GFSELECT, 1, 4);
	bar_wr(common + CC_GF, 1, 4); /* VERSION_1 */
	bar_wr(common + CC_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
	cr_assert(bar_rd(common + CC_STATUS, 1) & VIRTIO_STATUS_FEATURES_OK);
	bar_wr(common + CC_Q_SELECT, 0, 2);
	bar_wr(common + CC_Q_SIZE, QSIZE, 2);
	bar_wr(common + CC_Q_DESC, DESC_GPA, 8);
	bar_wr(common + CC_Q_DRIVER, AVAIL_GPA, 8);
	bar_wr(common + CC_Q_DEVICE, USED_GPA, 8);
	bar_wr(common + CC_Q_MSIX, queue_vector, 2);
	bar_wr(common + CC_Q_ENABLE, 1, 2);
	bar_wr(common + CC_STATUS,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
}

/* Injections on an irqfd since the last look. */
static uint64_t fired(int fd)
{
	uint64_t n = 0;
	if (read(fd, &n, sizeof(n)) != sizeof(n)) {
		cr_assert_eq(errno, EAGAIN);
		return 0;
	}
	return n;
}

/* One completed request: a flush on queue 0, served as the I/O thread would. */
static void complete_one_request(void)
{
	uint16_t before = used_idx();
	uint64_t st = post_blk(VIRTIO_BLK_T_FLUSH, 0, 0, 0);
	virtio_queue_notify(&blk.dev, 0);
	virtio_blk_wait_idle(&blk); /* the backend may finish it later (io_uring) */
	cr_assert_eq(used_idx(), (uint16_t)(before + 1));
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK);
}

/* What KVM does at the guest's EOI of a level-triggered irqfd: signal the resample fd. Then one
 * turn of the I/O thread's loop runs the transport's handler. */
static void guest_eoi(void)
{
	uint64_t one = 1;
	cr_assert_eq(write(t.intx_resample_fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	struct epoll_event ev[4];
	int n = epoll_wait(loop.epoll_fd, ev, 4, 0);
	cr_assert_eq(n, 1);
	struct event_loop_entry *e = ev[0].data.ptr;
	e->fn(e->opaque, ev[0].events);
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	nioev = nirqfd = 0;
	next_gsi = MSI_GSI_BASE;
	strcpy(path, "/tmp/n90-test-vpci-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 64 * SECTOR), 0);
	close(fd);
	struct blk_options opt = { .path = path };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	cr_assert_eq(event_loop_init(&loop), 0);
	host = (struct device_host){ .mem = &mem, .loop = &loop, .ioeventfd = fake_ioeventfd, .irqfd = fake_irqfd,
				     .msi_route = fake_msi_route, .alloc_gsi = fake_alloc_gsi, .vm = &vm_token };
	pci_bus_init(&bus, ECAM_BASE, WINDOW_BASE, WINDOW_SIZE);
	pci_bus_set_intx_gsis(&bus, intx_gsis);
	cr_assert_eq(virtio_pci_init(&t, &blk.dev, &bus, &host), 0);
	find_capabilities();
}

static void teardown(void)
{
	for (unsigned int v = 0; v < t.nvectors; v++)
		close(t.vector_fd[v]);
	for (unsigned int q = 0; q < blk.dev.nqueues; q++)
		close(t.notify_fds[q]);
	close(t.intx_fd);
	close(t.intx_resample_fd);
	event_loop_destroy(&loop);
	virtio_blk_destroy(&blk);
	unlink(path);
	guest_mem_free(&mem);
}

TestSuite(virtio_pci, .init = setup, .fini = teardown);

/* ---- tests ------------------------------------------------------------------------------ */

Test(virtio_pci, identity_bar_and_capabilities)
{
	cr_assert_eq(cfg_rd(0x00, 4), 0x1042u << 16 | 0x1af4, "modern virtio-blk: 0x1040 + 2");
	cr_assert_eq(cfg_rd(0x08, 1), 1, "revision 1: non-transitional");
	uint32_t bar = cfg_rd(0x10, 4);
	cr_assert_eq(bar & 0xf, 0, "32-bit memory BAR");
	cr_assert_geq(bar, WINDOW_BASE);
	cr_assert_leq((uint64_t)bar + VIRTIO_PCI_BAR_SIZE, WINDOW_BASE + WINDOW_SIZE);
	cr_assert_eq(bar % VIRTIO_PCI_BAR_SIZE, 0, "naturally aligned");
	cr_assert_eq(cfg_rd(0x04, 2) & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
		     "left decoding, as firmware would");
	cr_assert_eq(bar_rd(common + CC_NUM_QUEUES, 2), blk.dev.nqueues);
	cr_assert_eq((cfg_rd(msix_cap + 2u, 2) & 0x7ff) + 1, blk.dev.nqueues + 1, "a vector per queue + config");
	/* Notify addresses: one ioeventfd per queue at notify + queue_notify_off * multiplier. */
	cr_assert_eq(nioev, blk.dev.nqueues);
	for (unsigned int q = 0; q < blk.dev.nqueues; q++) {
		bar_wr(common + CC_Q_SELECT, q, 2);
		uint64_t addr = bar + notify + bar_rd(common + CC_Q_NOFF, 2) * notify_mult;
		cr_assert_eq(ioev[q].addr, addr);
		cr_assert_eq(ioev[q].fd, t.notify_fds[q]);
		cr_assert(!ioev[q].datamatch && !ioev[q].pio);
	}
}

Test(virtio_pci, irqfds_msix_edge_and_intx_level_on_the_swizzled_pin)
{
	unsigned int gsi = intx_gsis[t.pci.slot % 4];
	cr_assert_eq(cfg_rd(PCI_INTERRUPT_PIN, 1), 1);
	cr_assert_eq(cfg_rd(PCI_INTERRUPT_LINE, 1), gsi);
	cr_assert_eq(nirqfd, t.nvectors + 1);
	for (unsigned int v = 0; v < t.nvectors; v++) {
		cr_assert_eq(irqfd_calls[v].gsi, (unsigned int)(MSI_GSI_BASE + v));
		cr_assert_eq(irqfd_calls[v].fd, t.vector_fd[v]);
		cr_assert_eq(irqfd_calls[v].resample_fd, -1, "MSI: edge");
	}
	struct irqfd_call *intx = &irqfd_calls[t.nvectors];
	cr_assert_eq(intx->gsi, gsi);
	cr_assert_eq(intx->fd, t.intx_fd);
	cr_assert_geq(intx->resample_fd, 0, "INTx: level, with a resample fd");
	cr_assert_eq(intx->resample_fd, t.intx_resample_fd);
	cr_assert(intx->assign);
}

Test(virtio_pci, intx_raised_while_msix_is_off_and_isr_read_acknowledges)
{
	bring_up(NO_VECTOR);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 1, "INTx line raised");
	for (unsigned int v = 0; v < t.nvectors; v++)
		cr_assert_eq(fired(t.vector_fd[v]), 0);
	cr_assert_eq(bar_rd(isr, 1), 1, "ISR: queue interrupt");
	cr_assert_eq(bar_rd(isr, 1), 0, "reading ISR cleared it");
	guest_eoi();
	cr_assert_eq(fired(t.intx_fd), 0, "ISR clear at EOI: the line stays low");
}

Test(virtio_pci, intx_raised_again_at_eoi_while_isr_is_still_set)
{
	bring_up(NO_VECTOR);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 1);
	guest_eoi(); /* the handler did not read ISR: the device still wants service */
	cr_assert_eq(fired(t.intx_fd), 1, "re-raised after EOI");
	cr_assert_eq(bar_rd(isr, 1), 1);
	guest_eoi();
	cr_assert_eq(fired(t.intx_fd), 0);
}

Test(virtio_pci, intx_disable_bit_holds_the_line_down)
{
	bring_up(NO_VECTOR);
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE, 2);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 0, "Interrupt Disable set");
	cr_assert_eq(bar_rd(isr, 1), 1, "ISR still records the cause for a polling driver");
	cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 1);
}

Test(virtio_pci, msix_replaces_intx_and_masking_defers)
{
	/* Vector 0 for queue 0: entry 0 gets an address and data, then MSI-X is enabled. */
	bar_wr(msix_table + 0, 0xfee00000, 4);
	bar_wr(msix_table + 8, 0x41, 4);
	bar_wr(msix_table + 12, 0, 4); /* unmasked */
	cfg_wr(msix_cap + 2u, MSIX_ENABLE, 2);
	bring_up(0);
	cr_assert_eq(bar_rd(common + CC_Q_MSIX, 2), 0, "vector 0 accepted");
	complete_one_request();
	cr_assert_eq(fired(t.vector_fd[0]), 1, "MSI-X vector 0");
	cr_assert_eq(fired(t.intx_fd), 0, "no INTx with MSI-X on (PCI 3.0 §6.8.2)");
	/* A masked entry holds its message pending until unmasked. */
	bar_wr(msix_table + 12, 1, 4);
	complete_one_request();
	cr_assert_eq(fired(t.vector_fd[0]), 0);
	bar_wr(msix_table + 12, 0, 4);
	cr_assert_eq(fired(t.vector_fd[0]), 1, "delivered at unmask");
	/* MSI-X off again: back to INTx. */
	cfg_wr(msix_cap + 2u, 0, 2);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 1);
}

Test(virtio_pci, reset_clears_isr_so_eoi_does_not_re_raise)
{
	bring_up(NO_VECTOR);
	complete_one_request();
	cr_assert_eq(fired(t.intx_fd), 1);
	bar_wr(common + CC_STATUS, 0, 1);
	cr_assert_eq(bar_rd(common + CC_STATUS, 1), 0);
	guest_eoi();
	cr_assert_eq(fired(t.intx_fd), 0);
	cr_assert_eq(bar_rd(isr, 1), 0);
}

Test(virtio_pci, no_intx_routing_means_no_intx_irqfd)
{
	static struct pci_bus plain;
	static struct virtio_blk blk2;
	static struct virtio_pci t2;
	pci_bus_init(&plain, ECAM_BASE, WINDOW_BASE, WINDOW_SIZE);
	char path2[] = "/tmp/n90-test-vpci2-XXXXXX";
	int fd = mkstemp(path2);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 8 * SECTOR), 0);
	close(fd);
	struct blk_options opt = { .path = path2 };
	cr_assert_eq(virtio_blk_init(&blk2, &opt, &mem, 0), 0);
	unsigned int before = nirqfd;
	cr_assert_eq(virtio_pci_init(&t2, &blk2.dev, &plain, &host), 0);
	cr_assert_eq(nirqfd - before, t2.nvectors, "MSI-X vectors only");
	cr_assert_eq(t2.intx_fd, -1);
	cr_assert_eq(t2.pci.config[PCI_INTERRUPT_LINE], 0);
	for (unsigned int v = 0; v < t2.nvectors; v++)
		close(t2.vector_fd[v]);
	for (unsigned int q = 0; q < blk2.dev.nqueues; q++)
		close(t2.notify_fds[q]);
	virtio_blk_destroy(&blk2);
	unlink(path2);
}
