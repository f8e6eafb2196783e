/* What a device with a fast path needs from the VM, and nothing more: guest memory, the
 * I/O thread, and KVM's ioeventfd / irqfd / MSI routing. Implemented by vmm/vm.c. */
#ifndef N90_DEVICE_HOST_H
#define N90_DEVICE_HOST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/event_loop.h"
#include "vmm/guest_mem.h"

struct device_host {
	const struct guest_mem *mem;
	struct event_loop *loop;
	/* KVM_IOEVENTFD: a guest write of `len` bytes at `addr` (MMIO, or a port when pio)
	 * signals `fd` in the kernel, without a vCPU exit to user space. With datamatch, only
	 * writes of `data` match. */
	int (*ioeventfd)(void *vm, uint64_t addr, uint32_t len, bool pio, bool datamatch, uint64_t data, int fd,
			 bool assign);
	/* KVM_IRQFD: writing `fd` injects GSI `gsi`. resample_fd >= 0 makes it level-triggered
	 * (re-raised after the guest's EOI while still asserted). */
	int (*irqfd)(void *vm, unsigned int gsi, int fd, int resample_fd, bool assign);
	/* Points GSI `gsi` at an MSI message; valid=false removes the route. NULL when the
	 * machine's interrupt controller takes no MSIs (arm64 without an ITS): devices then
	 * offer no MSI-X and interrupt through their INTx pin. */
	int (*msi_route)(void *vm, unsigned int gsi, uint64_t addr, uint32_t data, bool valid);
	/* A GSI above the interrupt controllers' pins, for MSI routes. */
	int (*alloc_gsi)(void *vm);
	void *vm;
};

#endif
