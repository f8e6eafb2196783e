#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm/exit_status.h"
#include "vmm/host_info.h"
#include "vmm/log.h"
#include "vmm/machine.h"
#include "vmm/sandbox.h"

const char *vm_stop_reason_name(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_RUNNING:
		return "running";
	case VM_STOP_POWEROFF:
		return "power off";
	case VM_STOP_RESET:
		return "reset";
	case VM_STOP_TRIPLE_FAULT:
		return "triple fault";
	case VM_STOP_KVM_ERROR:
		return "KVM error";
	case VM_STOP_TIMEOUT:
		return "timeout";
	case VM_STOP_USER:
		return "stopped by user";
	case VM_STOP_SETUP_FAILED:
		return "setup failed";
	case VM_STOP_HARNESS:
		return "harness finished";
	case VM_STOP_CONTROL:
		return "stopped through the control socket";
	}
	return "?";
}

static void stopper_request(void *opaque, enum vm_stop_reason reason)
{
	vm_request_stop(opaque, reason);
}

static int host_ioeventfd(void *opaque, uint64_t addr, uint32_t len, bool pio, bool datamatch, uint64_t data,
			  int fd, bool assign);
static int host_irqfd(void *opaque, unsigned int gsi, int fd, int resample_fd, bool assign);
static int host_msi_route(void *opaque, unsigned int gsi, uint64_t addr, uint32_t data, bool valid);
static int host_alloc_gsi(void *opaque);

int vm_create(struct vm *vm, const struct vm_config *cfg, unsigned int ncpus, const struct machine_layout *layout)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->kvm_fd = vm->vm_fd = vm->stop_fd = -1;
	vm->ncpus = ncpus;
	vm->stopper = (struct vm_stopper){ stopper_request, vm };
	bus_init(&vm->pio, "pio");
	vm->pio.decode_by_start = true;
	bus_init(&vm->mmio, "mmio");

	pthread_mutex_init(&vm->routes_lock, NULL);
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return -errno;
	int ret = event_loop_init(&vm->io);
	if (ret)
		return ret;
	vm->host = (struct device_host){
		.mem = &vm->mem,
		.loop = &vm->io,
		.ioeventfd = host_ioeventfd,
		.irqfd = host_irqfd,
		.msi_route = layout->msi ? host_msi_route : NULL,
		.alloc_gsi = host_alloc_gsi,
		.vm = vm,
	};
	ret = guest_mem_alloc(&vm->mem, layout->ram_base, layout->mem_bytes, layout->mmio_hole_start);
	if (ret) {
		log_err("cannot allocate %llu MiB of guest memory: %s", (unsigned long long)(layout->mem_bytes >> 20),
			strerror(-ret));
		return ret;
	}
	return 0;
}

int vm_route_add(struct vm *vm, const struct kvm_irq_routing_entry *entry)
{
	if (vm->nroutes >= VM_MAX_ROUTES)
		return -ENOSPC;
	vm->routes[vm->nroutes++] = *entry;
	if (entry->gsi >= vm->next_gsi)
		vm->next_gsi = entry->gsi + 1;
	return 0;
}

int vm_routes_commit(struct vm *vm)
{
	struct {
		struct kvm_irq_routing hdr;
		struct kvm_irq_routing_entry entries[VM_MAX_ROUTES];
	} *table = calloc(1, sizeof(*table));
	if (!table)
		return -ENOMEM;
	table->hdr.nr = vm->nroutes;
	memcpy(table->entries, vm->routes, vm->nroutes * sizeof(vm->routes[0]));
	int ret = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, table) < 0 ? -errno : 0;
	free(table);
	return ret;
}

static int host_ioeventfd(void *opaque, uint64_t addr, uint32_t len, bool pio, bool datamatch, uint64_t data,
			  int fd, bool assign)
{
	struct vm *vm = opaque;
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_err("KVM_IOEVENTFD at 0x%llx failed: %s", (unsigned long long)addr, strerror(errno));
		return -errno;
	}
	return 0;
}

static int host_irqfd(void *opaque, unsigned int gsi, int fd, int resample_fd, bool assign)
{
	struct vm *vm = opaque;
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)fd,
		.gsi = gsi,
		.flags = (assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN) | (resample_fd >= 0 ? KVM_IRQFD_FLAG_RESAMPLE : 0),
		.resamplefd = resample_fd >= 0 ? (uint32_t)resample_fd : 0,
	};
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_err("KVM_IRQFD for GSI %u failed: %s", gsi, strerror(errno));
		return -errno;
	}
	return 0;
}

static int host_msi_route(void *opaque, unsigned int gsi, uint64_t addr, uint32_t data, bool valid)
{
	struct vm *vm = opaque;
	int ret = 0;
	pthread_mutex_lock(&vm->routes_lock);
	unsigned int i;
	for (i = 0; i < vm->nroutes; i++)
		if (vm->routes[i].gsi == gsi && vm->routes[i].type == KVM_IRQ_ROUTING_MSI)
			break;
	if (!valid) {
		if (i < vm->nroutes)
			vm->routes[i] = vm->routes[--vm->nroutes];
	} else {
		struct kvm_irq_routing_entry e = { .gsi = gsi, .type = KVM_IRQ_ROUTING_MSI };
		e.u.msi.address_lo = (uint32_t)addr;
		e.u.msi.address_hi = (uint32_t)(addr >> 32);
		e.u.msi.data = data;
		if (i < vm->nroutes)
			vm->routes[i] = e;
		else
			ret = vm_route_add(vm, &e);
	}
	if (!ret)
		ret = vm_routes_commit(vm);
	pthread_mutex_unlock(&vm->routes_lock);
	return ret;
}

static int host_alloc_gsi(void *opaque)
{
	struct vm *vm = opaque;
	pthread_mutex_lock(&vm->routes_lock);
	int gsi = (int)vm->next_gsi++;
	pthread_mutex_unlock(&vm->routes_lock);
	return gsi;
}

int vm_open_kvm(struct vm *vm, unsigned long vm_type)
{
	int ret;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		log_err("cannot open /dev/kvm: %s (is KVM enabled, and may this user use it?)", strerror(errno));
		return ret;
	}
	ret = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		log_err("/dev/kvm speaks API version %d; n90vmm needs %d", ret, KVM_API_VERSION);
		return -ENOTSUP;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		log_err("KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -errno;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, vm_type);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM failed: %s", strerror(errno));
		return ret;
	}
	for (unsigned int i = 0; i < vm->mem.nregions; i++) {
		const struct guest_mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region region = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION (slot %u, %llu MiB) failed: %s", i,
				(unsigned long long)(r->size >> 20), strerror(errno));
			return ret;
		}
	}
	return 0;
}

int vm_create_vcpus(struct vm *vm)
{
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		vcpu->vm = vm;
		vcpu->index = i;
		vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, i);
		if (vcpu->fd < 0) {
			int ret = -errno;
			log_err("KVM_CREATE_VCPU %u failed: %s", i, strerror(errno));
			return ret;
		}
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) > 0) {
			vcpu->stats_fd = ioctl(vcpu->fd, KVM_GET_STATS_FD, 0);
			vcpu->has_stats_fd = vcpu->stats_fd >= 0;
		}
		vcpu->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
		if (vcpu->run == MAP_FAILED) {
			vcpu->run = NULL;
			return -errno;
		}
	}
	return 0;
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason)
{
	int expected = VM_RUNNING;
	if (!__atomic_compare_exchange_n(&vm->stop_reason, &expected, (int)reason, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return;
	/* immediate_exit makes a KVM_RUN that has not entered the guest yet return at once; the
	 * signal interrupts one that has. Together they leave no window. */
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *vcpu = &vm->vcpus[i];
		if (vcpu->run)
			__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (vcpu->thread_started && !pthread_equal(vcpu->thread, pthread_self()))
			pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
	}
	uint64_t one = 1;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd write failed: %s", strerror(errno));
}

enum vm_stop_reason vm_stop_reason(const struct vm *vm)
{
	return (enum vm_stop_reason)__atomic_load_n(&vm->stop_reason, __ATOMIC_SEQ_CST);
}

static void vcpu_handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	/* String I/O (rep ins/outs) arrives as `count` back-to-back elements. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (run->io.direction == KVM_EXIT_IO_OUT)
			bus_write(&vcpu->vm->pio, run->io.port, data, run->io.size);
		else
			bus_read(&vcpu->vm->pio, run->io.port, data, run->io.size);
	}
}

static void vcpu_dump(struct vcpu *vcpu)
{
	if (vcpu->vm->exit_ops && vcpu->vm->exit_ops->dump)
		vcpu->vm->exit_ops->dump(vcpu);
}

/* Returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct vm *vm = vcpu->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu->exits[VCPU_EXIT_IO]++;
		vcpu_handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		vcpu->exits[VCPU_EXIT_MMIO]++;
		if (run->mmio.len > sizeof(run->mmio.data))
			return true;
		if (run->mmio.is_write)
			bus_write(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
		else
			bus_read(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		vcpu->exits[VCPU_EXIT_INTR]++;
		return true;
	case KVM_EXIT_SHUTDOWN:
		log_err("vCPU %u: triple fault (KVM_EXIT_SHUTDOWN)", vcpu->index);
		vcpu_dump(vcpu);
		vm_request_stop(vm, VM_STOP_TRIPLE_FAULT);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_stop(vm, VM_STOP_POWEROFF);
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_stop(vm, VM_STOP_RESET);
			break;
		default:
			log_err("vCPU %u: system event %u (guest crash)", vcpu->index, run->system_event.type);
			vm_request_stop(vm, VM_STOP_KVM_ERROR);
		}
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)", vcpu->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_dump(vcpu);
		vm_request_stop(vm, VM_STOP_KVM_ERROR);
		return false;
	case KVM_EXIT_INTERNAL_ERROR: {
		int reason = VM_STOP_KVM_ERROR;
		if (vm->exit_ops && vm->exit_ops->internal_error)
			reason = vm->exit_ops->internal_error(vcpu);
		if (reason == VM_STOP_KVM_ERROR) {
			log_err("vCPU %u: KVM internal error, suberror %u%s", vcpu->index, run->internal.suberror,
				run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (instruction emulation failed)"
										       : "");
			if (host_info_flavour() == HOST_KVM_PVM)
				log_err("vCPU %u: this is the host's KVM, kvm-pvm (a software KVM), failing at what the "
					"guest did, not n90vmm; an unmodified Linux kernel does not run on it", vcpu->index);
			vcpu_dump(vcpu);
		}
		vm_request_stop(vm, (enum vm_stop_reason)reason);
		return false;
	}
	default:
		vcpu->exits[VCPU_EXIT_OTHER]++;
		if (vm->exit_ops && vm->exit_ops->handle_exit) {
			int handled = vm->exit_ops->handle_exit(vcpu);
			if (handled >= 0)
				return handled > 0;
		}
		log_err("vCPU %u: unhandled KVM exit reason %u", vcpu->index, run->exit_reason);
		vcpu_dump(vcpu);
		vm_request_stop(vm, VM_STOP_KVM_ERROR);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t kick;

	/* Only vCPU threads take the kick signal; every other signal stays with the main loop. */
	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	/* No guest instruction runs before this thread's filter is in place. */
	if (sandbox_enter(SANDBOX_VCPU) < 0) {
		vm_request_stop(vm, VM_STOP_SETUP_FAILED);
		return NULL;
	}

	while (vm_stop_reason(vm) == VM_RUNNING) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->exits[VCPU_EXIT_INTR]++;
				continue;
			}
			log_err("vCPU %u: KVM_RUN failed: %s", vcpu->index, strerror(errno));
			vm_request_stop(vm, VM_STOP_KVM_ERROR);
			break;
		}
		if (!vcpu_handle_exit(vcpu))
			break;
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig; /* its only job is to interrupt KVM_RUN with EINTR */
}

int vm_start(struct vm *vm)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL); /* no SA_RESTART: KVM_RUN must return EINTR */

	for (unsigned int i = 0; i < vm->ncpus; i++) {
		int ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (ret) {
			log_err("cannot start vCPU thread %u: %s", i, strerror(ret));
			vm_request_stop(vm, VM_STOP_SETUP_FAILED);
			return -ret;
		}
		vm->vcpus[i].thread_started = true;
	}
	int ret = event_loop_start(&vm->io);
	if (ret) {
		log_err("cannot start the I/O thread: %s", strerror(-ret));
		vm_request_stop(vm, VM_STOP_SETUP_FAILED);
	}
	return ret;
}

void vm_join(struct vm *vm)
{
	event_loop_stop(&vm->io);
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		if (vm->vcpus[i].thread_started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].thread_started = false;
		}
	}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run, (size_t)vm->run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
		if (vm->vcpus[i].has_stats_fd)
			close(vm->vcpus[i].stats_fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	event_loop_destroy(&vm->io);
	guest_mem_free(&vm->mem);
	bus_free(&vm->pio);
	bus_free(&vm->mmio);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	vm->vm_fd = vm->kvm_fd = vm->stop_fd = -1;
}

void vm_print_stats(const struct vm *vm)
{
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		const struct vcpu *v = &vm->vcpus[i];
		fprintf(stderr, "stats: vcpu%u exits io=%llu mmio=%llu intr=%llu other=%llu\n", i,
			(unsigned long long)v->exits[VCPU_EXIT_IO], (unsigned long long)v->exits[VCPU_EXIT_MMIO],
			(unsigned long long)v->exits[VCPU_EXIT_INTR], (unsigned long long)v->exits[VCPU_EXIT_OTHER]);
	}
	fprintf(stderr, "stats: unclaimed pio=%llu mmio=%llu\n", (unsigned long long)vm->pio.unclaimed_accesses,
		(unsigned long long)vm->mmio.unclaimed_accesses);
}

/* KVM's "exits" counter from a vCPU's binary statistics (header, id, descriptors, data), read
 * front to back with read() alone (the sandbox has no pread for the main thread): once. */
static bool kvm_stat_exits(struct vcpu *v, uint64_t *out)
{
	size_t cap = 1 << 16, len = 0;
	uint8_t *buf = malloc(cap);
	bool found = false;
	if (!buf)
		return false;
	for (;;) {
		if (len == cap) {
			uint8_t *bigger = cap < (1u << 22) ? realloc(buf, cap * 2) : NULL;
			if (!bigger)
				break;
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = read(v->stats_fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	struct kvm_stats_header h;
	if (len >= sizeof(h)) {
		memcpy(&h, buf, sizeof(h));
		size_t dsize = sizeof(struct kvm_stats_desc) + h.name_size;
		for (uint32_t i = 0; i < h.num_desc && (size_t)h.desc_offset + (i + 1) * dsize <= len; i++) {
			struct kvm_stats_desc d;
			const uint8_t *p = buf + h.desc_offset + i * dsize;
			memcpy(&d, p, sizeof(d));
			const char *name = (const char *)p + sizeof(d);
			if (strnlen(name, h.name_size) == 5 && memcmp(name, "exits", 5) == 0 && d.size >= 1 &&
			    (size_t)h.data_offset + d.offset + 8 <= len) {
				memcpy(out, buf + h.data_offset + d.offset, 8);
				found = true;
				break;
			}
		}
	}
	free(buf);
	return found;
}

uint64_t vm_total_exits(struct vm *vm, const char **kind)
{
	uint64_t kvm = 0, user = 0;
	bool all_kvm = vm->ncpus > 0;
	for (unsigned int i = 0; vm->vcpus && i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		uint64_t n = 0;
		if (v->has_stats_fd && kvm_stat_exits(v, &n))
			kvm += n;
		else
			all_kvm = false;
		for (unsigned int k = 0; k < VCPU_EXIT_KINDS; k++)
			user += v->exits[k];
	}
	*kind = all_kvm ? "kvm" : "user-space";
	return all_kvm ? kvm : user;
}

int vm_stop_exit_status(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_STOP_POWEROFF:
		return EXIT_POWEROFF;
	case VM_STOP_RESET:
		return EXIT_GUEST_RESET;
	case VM_STOP_TRIPLE_FAULT:
		return EXIT_TRIPLE_FAULT;
	case VM_STOP_TIMEOUT:
		return EXIT_TIMEOUT;
	case VM_STOP_USER:
		return EXIT_USER_QUIT;
	case VM_STOP_SETUP_FAILED:
		return EXIT_SETUP;
	case VM_STOP_HARNESS:
		return EXIT_POWEROFF; /* the harness decides the real status */
	case VM_STOP_CONTROL:
		return EXIT_POWEROFF; /* crosvm's `stop`: a requested, clean end */
	case VM_STOP_KVM_ERROR:
	case VM_RUNNING:
		break;
	}
	return EXIT_KVM_ERROR;
}
