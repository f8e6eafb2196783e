#include "vmm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/console.h"
#include "vmm/exit_status.h"
#include "vmm/log.h"
#include "vmm/sandbox.h"
#include "vmm/vm.h"

/* What StarryOS's crosvm build enumerates but never reads: 1 MiB of zeros. */
#define PLACEHOLDER_DISK_BYTES (1 << 20)

unsigned int machine_placeholder_disks(const struct machine_layout *layout, const struct vm_config *cfg)
{
	if (cfg->ndisks == 0 || cfg->ndisks - 1 >= layout->rootfs_disk_index)
		return 0;
	return layout->rootfs_disk_index - (cfg->ndisks - 1);
}

unsigned int machine_virtio_count(const struct machine_layout *layout, const struct vm_config *cfg)
{
	return machine_placeholder_disks(layout, cfg) + cfg->ndisks + cfg->nnets + (cfg->console == CONSOLE_VIRTIO);
}

uint64_t machine_virtio_mmio_addr(const struct machine_layout *layout, unsigned int i)
{
	return layout->virtio_mmio_base + (uint64_t)i * VIRTIO_MMIO_SIZE;
}

int machine_check_config(const struct machine_layout *layout, const struct vm_config *cfg)
{
	unsigned int disks = machine_placeholder_disks(layout, cfg) + cfg->ndisks;
	if (disks > CONFIG_MAX_DISKS) {
		fprintf(stderr, "n90vmm: --disk: at most %u disks on this machine (its rootfs must be disk %u)\n",
			CONFIG_MAX_DISKS - (disks - cfg->ndisks), layout->rootfs_disk_index + 1);
		return EXIT_USAGE;
	}
	/* virtio-mmio gives each device its own interrupt line, and the layout has a fixed set. */
	if (cfg->transport == VIRTIO_TRANSPORT_MMIO && machine_virtio_count(layout, cfg) > layout->virtio_mmio_slots) {
		fprintf(stderr, "n90vmm: --virtio-transport mmio: at most %u virtio devices (%u asked for)\n",
			layout->virtio_mmio_slots, machine_virtio_count(layout, cfg));
		return EXIT_USAGE;
	}
	return 0;
}

static int tap_offloads(void *opaque, unsigned int offloads)
{
	return tap_set_offloads(opaque, offloads);
}

/* The NIC's tap, opened or created now (before the sandbox), and its device model. */
static int open_nic(struct machine *m, struct vm *vm, unsigned int i)
{
	const struct net_config *nc = &vm->cfg->nets[i];
	struct tap *tap = &m->taps[i];
	char err[160];
	int ret;
	if (nc->tap_name)
		ret = tap_open(tap, nc->tap_name, err, sizeof(err));
	else if (nc->tap_fd >= 0)
		ret = tap_adopt_fd(tap, nc->tap_fd, err, sizeof(err));
	else
		ret = tap_create(tap, nc->host_ip, nc->netmask, err, sizeof(err));
	if (ret) {
		log_user("n90vmm: --net: %s", err);
		return ret == -ENOENT || ret == -ENODEV ? EXIT_NO_INPUT : ret == -EPERM ? EXIT_NO_PERMISSION : EXIT_SETUP;
	}
	/* Without mac=, a locally administered address that names the NIC (02:6e:39:30 "n90"). */
	uint8_t mac[6] = { 0x02, 0x6e, 0x39, 0x30, 0x00, (uint8_t)i };
	if (nc->has_mac)
		memcpy(mac, nc->mac, sizeof(mac));
	struct virtio_net_backend backend = { tap->fd, tap->offloads, tap_offloads, tap };
	virtio_net_init(&m->nets[i], &vm->mem, mac, backend);
	m->nnets++;
	m->virtio[m->nvirtio++] = &m->nets[i].dev;
	log_debug("virtio-net %u: tap %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, tap offloads 0x%x", i, tap->name, mac[0],
		  mac[1], mac[2], mac[3], mac[4], mac[5], tap->offloads);
	return 0;
}

/* An empty read-only disk in memory (a sealed memfd: no file to leave behind). */
static int open_placeholder_disk(struct machine *m, struct vm *vm)
{
	unsigned int i = m->ndisks;
	int fd = memfd_create("n90vmm-placeholder-disk", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0 || ftruncate(fd, PLACEHOLDER_DISK_BYTES) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		log_err("cannot create the placeholder disk: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return EXIT_SETUP;
	}
	struct blk_options opt = { .path = "(placeholder)", .read_only = true };
	if (virtio_blk_init_fd(&m->disks[i], fd, &opt, &vm->mem, i))
		return EXIT_SETUP;
	m->ndisks++;
	m->virtio[m->nvirtio++] = &m->disks[i].dev;
	log_debug("virtio-blk %u: empty placeholder, so the rootfs is disk %u", i, m->layout->rootfs_disk_index);
	return 0;
}

/* The same image twice (two paths, or a path twice) would be two devices writing one file;
 * flock cannot say so, since both locks are this process's. Two read-only views are fine. */
static int check_duplicate_disks(const struct vm_config *cfg)
{
	struct stat st[CONFIG_MAX_DISKS];
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		if (stat(cfg->disks[i].path, &st[i]) < 0) {
			st[i].st_ino = 0; /* opening it reports why */
			continue;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (st[j].st_ino == 0 || st[i].st_dev != st[j].st_dev || st[i].st_ino != st[j].st_ino ||
			    (cfg->disks[i].read_only && cfg->disks[j].read_only))
				continue;
			log_user("n90vmm: disk '%s': the same image as disk '%s'; a writable image can be attached once",
				 cfg->disks[i].path, cfg->disks[j].path);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int machine_open_backends(struct machine *m, struct vm *vm)
{
	const struct vm_config *cfg = vm->cfg;
	int dup = check_duplicate_disks(cfg);
	if (dup)
		return dup;
	for (unsigned int i = machine_placeholder_disks(m->layout, cfg); i > 0; i--) {
		int ret = open_placeholder_disk(m, vm);
		if (ret)
			return ret;
	}
	for (unsigned int i = 0; i < cfg->ndisks; i++) {
		const struct disk_config *d = &cfg->disks[i];
		/* One queue per vCPU (the guest's blk-mq then gives each CPU its own), up to the
		 * device's limit; the backend io_uring unless it cannot be had. */
		_Static_assert((int)DISK_IO_SYNC == (int)BLK_IO_SYNC && (int)DISK_IO_URING == (int)BLK_IO_URING,
			       "disk_io mirrors blk_io_kind");
		struct blk_options opt = { d->path, d->read_only, d->direct, d->queues ? d->queues : vm->ncpus,
					   (enum blk_io_kind)d->io };
		unsigned int index = m->ndisks;
		int ret = virtio_blk_init(&m->disks[index], &opt, &vm->mem, index);
		if (ret)
			return ret == -ENOENT || ret == -EACCES || ret == -EISDIR || ret == -EINVAL ? EXIT_NO_INPUT
												 : EXIT_SETUP;
		m->ndisks++;
		m->virtio[m->nvirtio++] = &m->disks[index].dev;
		log_debug("virtio-blk %u: %u queue(s), backend %s", index, m->disks[index].nqueues, m->disks[index].io.why);
	}
	/* The threads' filters allow io_uring only when a disk (placeholder included) has a ring. */
	for (unsigned int i = 0; i < m->ndisks; i++)
		if (m->disks[i].io.kind == BLK_IO_URING)
			sandbox_io_uring = true;
	m->vm = vm;
	for (unsigned int i = 0; i < cfg->nnets; i++) {
		int ret = open_nic(m, vm, i);
		if (ret)
			return ret;
	}
	return 0;
}

static void blk_io_ready(void *opaque, uint32_t events)
{
	(void)events;
	virtio_blk_io_event(opaque);
}

static void nic_readable(void *opaque, uint32_t events)
{
	(void)events;
	virtio_net_backend_readable(opaque);
}

static void virtio_console_write(void *opaque, const uint8_t *buf, size_t len)
{
	console_write(opaque, buf, len);
}

/* The PCI host bridge with the virtio devices on bus 0, every BAR assigned from the layout's
 * window before the guest runs (StarryOS has no BAR allocator on either architecture). */
static int create_pci_devices(struct machine *m, struct vm *vm)
{
	const struct machine_layout *l = m->layout;
	const struct bus_ops *config_ops = l->pci_access == PCI_CONFIG_CAM ? &pci_cam_ops : &pci_ecam_ops;
	int ret = 0;
	pci_bus_init(&m->pci, l->pci_config_base, l->pci_window_base, l->pci_window_size);
	pci_bus_set_intx_gsis(&m->pci, l->pci_intx_gsis);
	if (l->pci_conf1) {
		ret |= bus_register(&vm->pio, 0xcf8, 1, &pci_conf1_address_ops, &m->pci, "pci-conf1-address");
		ret |= bus_register(&vm->pio, 0xcfc, 4, &pci_conf1_data_ops, &m->pci, "pci-conf1-data");
	}
	ret |= bus_register(&vm->mmio, l->pci_config_base, l->pci_config_size, config_ops, &m->pci,
			    l->pci_access == PCI_CONFIG_CAM ? "pci-cam" : "pci-ecam");
	ret |= bus_register(&vm->mmio, l->pci_window_base, l->pci_window_size, &pci_window_ops, &m->pci, "pci-window");
	if (ret)
		return -EEXIST;
	for (unsigned int i = 0; i < m->nvirtio; i++) {
		if ((ret = virtio_pci_init(&m->vpci[i], m->virtio[i], &m->pci, &vm->host)) < 0) {
			log_err("%s: cannot attach to PCI: %s", m->virtio[i]->name, strerror(-ret));
			return ret;
		}
		log_debug("%s %u: PCI 00:%02x.0, BAR0 0x%llx", m->virtio[i]->name, i, m->vpci[i].pci.slot,
			  (unsigned long long)m->vpci[i].pci.bars[0].addr);
	}
	return 0;
}

static int create_mmio_devices(struct machine *m, struct vm *vm)
{
	const struct machine_layout *l = m->layout;
	for (unsigned int i = 0; i < m->nvirtio; i++) {
		uint64_t base = machine_virtio_mmio_addr(l, i);
		int ret = virtio_mmio_init(&m->mmio[i], m->virtio[i], &vm->host, base, l->virtio_mmio_gsis[i]);
		if (!ret)
			ret = bus_register(&vm->mmio, base, VIRTIO_MMIO_SIZE, &virtio_mmio_ops, &m->mmio[i], "virtio-mmio");
		if (ret)
			return ret;
		log_debug("%s %u at 0x%llx, GSI %u", m->virtio[i]->name, i, (unsigned long long)base,
			  l->virtio_mmio_gsis[i]);
	}
	return 0;
}

int machine_create_virtio(struct machine *m, struct vm *vm, struct console *console)
{
	if (vm->cfg->console == CONSOLE_VIRTIO) {
		struct virtio_console_sink sink = { virtio_console_write, console_rx_ready, console };
		virtio_console_init(&m->vconsole, &vm->mem, sink);
		m->virtio[m->nvirtio++] = &m->vconsole.dev;
	}
	/* Edge-triggered: the device reads until the tap is empty or the guest is out of
	 * buffers, and resumes on the guest's notify, so a starved NIC costs no wake-ups. */
	for (unsigned int i = 0; i < m->nnets; i++) {
		int ret = event_loop_add(vm->host.loop, m->taps[i].fd, EPOLLIN | EPOLLET, nic_readable, &m->nets[i]);
		if (ret < 0) {
			log_err("virtio-net %u: cannot watch tap %s: %s", i, m->taps[i].name, strerror(-ret));
			return ret;
		}
	}
	for (unsigned int i = 0; i < m->ndisks; i++) {
		log_debug("virtio-blk %u: %s%s, %llu sectors", i, m->disks[i].id, m->disks[i].read_only ? " (read-only)" : "",
			  (unsigned long long)m->disks[i].capacity);
		/* io_uring completions are reaped on the I/O thread. */
		int fd = virtio_blk_event_fd(&m->disks[i]);
		if (fd >= 0) {
			int ret = event_loop_add(vm->host.loop, fd, EPOLLIN, blk_io_ready, &m->disks[i]);
			if (ret < 0) {
				log_err("virtio-blk %u: cannot watch its io_uring: %s", i, strerror(-ret));
				return ret;
			}
		}
	}
	/* The PCI host bridge exists whenever virtio uses PCI, devices or not (guests scan). */
	if (vm->cfg->transport == VIRTIO_TRANSPORT_PCI)
		return create_pci_devices(m, vm);
	return create_mmio_devices(m, vm);
}

size_t machine_console_input(struct machine *m, const struct vm_config *cfg, const uint8_t *buf, size_t len)
{
	if (cfg->console == CONSOLE_VIRTIO)
		return virtio_console_receive(&m->vconsole, buf, len);
	return m->console_uart ? serial_receive(m->console_uart, buf, len) : len;
}

void machine_print_stats(const struct machine *m)
{
	for (unsigned int i = 0; i < m->nvirtio; i++) {
		const struct virtio_stats *s = &m->virtio[i]->stats;
		fprintf(stderr,
			"stats: %s%u notifies=%llu interrupts=%llu requests=%llu read=%llu written=%llu errors=%llu "
			"dropped=%llu\n",
			m->virtio[i]->name, i, (unsigned long long)s->notifies, (unsigned long long)s->interrupts,
			(unsigned long long)s->requests, (unsigned long long)s->bytes_read,
			(unsigned long long)s->bytes_written, (unsigned long long)s->errors, (unsigned long long)s->dropped);
	}
	/* The per-request breakdown of each disk that served requests. Exits are the whole VM's
	 * (every vCPU, every cause), so they are the blk path's only in a run that does little
	 * else, like the benchmark's. */
	uint64_t exits = 0;
	const char *kind = "none";
	if (m->vm)
		exits = vm_total_exits(m->vm, &kind);
	for (unsigned int i = 0; i < m->ndisks; i++)
		if (m->disks[i].bstats.completed)
			virtio_blk_print_stats(&m->disks[i], i, exits, kind, m->vm ? m->vm->host.loop->waits : 0);
}

void machine_sync_disks(struct machine *m)
{
	for (unsigned int i = 0; i < m->ndisks; i++) {
		int ret = virtio_blk_sync(&m->disks[i]);
		if (ret < 0)
			log_err("virtio-blk %u: syncing the image at exit failed: %s; what the guest wrote may not all be "
				"on the disk", i, strerror(-ret));
	}
}

void machine_destroy(struct machine *m)
{
	for (unsigned int i = 0; i < m->ndisks; i++)
		virtio_blk_destroy(&m->disks[i]);
	for (unsigned int i = 0; i < m->nnets; i++)
		tap_close(&m->taps[i]);
	m->ndisks = m->nnets = m->nvirtio = 0;
}
