/* A KVM virtual machine: its fds, guest memory, buses, vCPU threads and the stop protocol.
 * Nothing here knows the architecture: vmm/main.c runs arch/'s hooks around these calls, and
 * the vCPU threads reach arch code only through vm->exit_ops. */
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
	/* KVM's binary statistics of this vCPU (KVM_GET_STATS_FD), when the host has them: its
	 * "exits" counts every exit, those KVM handles itself (ioeventfd notifies, halts,
	 * interrupt windows) included. Read once, at the end. */
	bool has_stats_fd;
	int stats_fd;
};

struct arch_vm;          /* arch/<arch>/: the architecture's per-VM state */
struct machine_layout;   /* vmm/machine.h */

/* What a vCPU thread asks of the architecture. */
struct vcpu_exit_ops {
	/* An exit vm.c does not handle itself (arm64: forwarded hypercalls). Returns 1 when
	 * handled and the vCPU runs on, 0 when it must stop (the hook requested the stop), -1
	 * when the exit is not the architecture's either. */
	int (*handle_exit)(struct vcpu *vcpu);
	/* Register dump on stderr, for crashes. */
	void (*dump)(struct vcpu *vcpu);
	/* KVM_EXIT_INTERNAL_ERROR: may reinterpret it (a triple fault the host reported as an
	 * emulation failure) by returning another stop reason; VM_STOP_KVM_ERROR keeps it. */
	int (*internal_error)(struct vcpu *vcpu);
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
	const struct vcpu_exit_ops *exit_ops; /* set by the architecture; may be NULL */

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

/* Allocates guest memory as the layout says; no KVM yet, so kernels load and fail to load the
 * same way on any host. -errno, with a reason logged. */
int vm_create(struct vm *vm, const struct vm_config *cfg, unsigned int ncpus, const struct machine_layout *layout);
/* Opens /dev/kvm, creates the VM (of KVM type vm_type) and maps guest memory into it. */
int vm_open_kvm(struct vm *vm, unsigned long vm_type);
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
/* Frees what vm_create and vm_open_kvm made (after arch_vm_destroy). */
void vm_destroy(struct vm *vm);
void vm_print_stats(const struct vm *vm);
/* Every exit of every vCPU: KVM's own count when it has binary statistics (*kind says
 * "kvm"), else those that reached n90vmm ("user-space"). Call after the vCPUs stopped. */
uint64_t vm_total_exits(struct vm *vm, const char **kind);

/* Signal used to kick vCPU threads out of KVM_RUN. */
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
