/* Why a VM stops, and the one call devices use to ask for it. The first reason wins. */
#ifndef N90_STOP_H
#define N90_STOP_H

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,
	VM_STOP_RESET,
	VM_STOP_TRIPLE_FAULT,
	VM_STOP_KVM_ERROR,
	VM_STOP_TIMEOUT,
	VM_STOP_USER,
	VM_STOP_SETUP_FAILED,
	VM_STOP_HARNESS, /* the harness has its verdict (or timed out) */
	VM_STOP_CONTROL, /* `n90vmm stop` on the control socket (--socket) */
};

struct vm_stopper {
	void (*request)(void *opaque, enum vm_stop_reason reason);
	void *opaque;
};

static inline void vm_stopper_request(const struct vm_stopper *s, enum vm_stop_reason reason)
{
	if (s && s->request)
		s->request(s->opaque, reason);
}

const char *vm_stop_reason_name(enum vm_stop_reason reason);
/* The process exit status for a stop reason (vmm/exit_status.h). */
int vm_stop_exit_status(enum vm_stop_reason reason);

#endif
