/* A KVM virtual machine: its fds, guest memory, buses, vCPU threads and the stop protocol.
 * Architecture specifics (CPU state, irqchip, tables, devices) come from arch/. */
#ifndef N90_VM_H
#define N90_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/config.h"
#include "vmm/device_host.h"
#include "vmm/event_loop.h"
#include "vmm/guest_mem.h"
#include "vmm/stop.h"

struct vm;

#define VM_MAX_ROUTES 256

enum vcpu_exit_kind {
	VCPU_EXIT_IO,
	VCPU_EXIT_MMIO,
	VCPU_EXIT_INTR,
	VCPU_EXIT_OTHER,
	VCPU_EXIT_KINDS,
};

struct vcpu {
	struct vm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	uint64_t exits[VCPU_EXIT_KINDS];
};

struct arch_vm; /* arch/<arch>/machine.h */

/* The machine the architecture picked for this kernel and config. */
struct machine_choice {
	unsigned int ncpus;
	uint64_t mem_bytes;
	uint64_t mmio_hole_start;
	const void *profile; /* the architecture's profile table entry */
};

struct vm {
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	int run_size;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	unsigned int ncpus;
	struct vcpu *vcpus;
	struct arch_vm *arch;

	/* GSI routing table as last given to KVM_SET_GSI_ROUTING: the interrupt controller
	 * pins (arch) followed by MSI routes (devices). */
	pthread_mutex_t routes_lock;
	struct kvm_irq_routing_entry routes[VM_MAX_ROUTES];
	unsigned int nroutes;
	unsigned int next_gsi;

	struct event_loop io;    /* the I/O thread */
	struct device_host host; /* what devices see of this VM */

	/* Stop protocol: the first reason stored wins; stop_fd (an eventfd) wakes the main loop. */
	int stop_reason; /* enum vm_stop_reason, accessed atomically */
	int stop_fd;
	struct vm_stopper stopper;
};

/* Allocates guest memory and the machine state; no KVM yet, so kernels load and fail to
 * load the same way on any host. -errno, with a reason logged. */
int vm_create(struct vm *vm, const struct vm_config *cfg, const struct machine_choice *choice);
/* Opens /dev/kvm, creates the VM, maps guest memory into it, sets up the irqchip. */
int vm_open_kvm(struct vm *vm);
/* Creates vCPU fds and maps their kvm_run areas (arch setup follows). */
int vm_create_vcpus(struct vm *vm);
/* Starts one thread per vCPU running KVM_RUN and dispatching exits. */
int vm_start(struct vm *vm);
/* Adds an entry to the GSI routing table (not committed). */
int vm_route_add(struct vm *vm, const struct kvm_irq_routing_entry *entry);
/* Hands the routing table to KVM. */
int vm_routes_commit(struct vm *vm);
/* Asks every vCPU to leave KVM_RUN and stop; safe from any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason);
enum vm_stop_reason vm_stop_reason(const struct vm *vm);
/* Joins the vCPU threads (after a stop request). */
void vm_join(struct vm *vm);
void vm_destroy(struct vm *vm);
void vm_print_stats(const struct vm *vm);

/* Signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
