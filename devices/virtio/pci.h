/* virtio-pci modern transport (virtio 1.2 §4.1): one memory BAR holding the common
 * configuration, ISR, device configuration, per-queue notify addresses and the MSI-X table
 * and PBA, described by vendor capabilities. Notifies land on ioeventfds; interrupts are
 * MSI-X vectors routed by KVM (GSI route + irqfd), so neither direction exits to user space. */
#ifndef N90_VIRTIO_PCI_H
#define N90_VIRTIO_PCI_H

#include <stdint.h>

#include "vmm/device_host.h"
#include "devices/pci.h"
#include "devices/virtio/virtio.h"

#define VIRTIO_PCI_BAR 0
#define VIRTIO_PCI_BAR_SIZE 0x8000
#define VIRTIO_PCI_VECTORS (VIRTIO_MAX_QUEUES + 1)
#define VIRTIO_MSI_NO_VECTOR 0xffff

struct virtio_pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, control;
};

struct virtio_pci {
	struct pci_device pci;
	struct virtio_dev *dev;
	const struct device_host *host;
	pthread_mutex_t lock; /* MSI-X table, vectors, ISR */
	uint16_t config_vector;
	uint16_t queue_vectors[VIRTIO_MAX_QUEUES];
	uint8_t isr;
	uint8_t msix_cap; /* config-space offset of the MSI-X capability */
	unsigned int nvectors;
	struct virtio_pci_msix_entry msix[VIRTIO_PCI_VECTORS];
	uint64_t msix_pending; /* PBA bits */
	/* The MSI-X Message Control word, copied from config space after each configuration
	 * write (under `lock`): interrupt delivery must not read config space, which a vCPU
	 * may be writing at that moment. */
	uint16_t msix_control;
	int vector_gsi[VIRTIO_PCI_VECTORS];
	int vector_fd[VIRTIO_PCI_VECTORS];
	/* INTx fallback while MSI-X is off: a level-triggered irqfd on the pin's GSI. KVM lowers
	 * the line at the guest's EOI and signals intx_resample_fd; the line is raised again if
	 * ISR is still set then (the driver has not read it yet). -1 when the bus has no INTx. */
	int intx_fd, intx_resample_fd;
	int notify_fds[VIRTIO_MAX_QUEUES];
	uint64_t notify_addr; /* where the ioeventfds currently sit; 0 = none */
	struct virtio_pci_notify {
		struct virtio_pci *t;
		unsigned int q;
	} notify[VIRTIO_MAX_QUEUES];
};

/* Creates the PCI function for `dev`, assigns its BAR from the bus window, adds it to the
 * bus and wires notifies and MSI-X vectors. */
int virtio_pci_init(struct virtio_pci *t, struct virtio_dev *dev, struct pci_bus *bus, const struct device_host *host);

#endif
