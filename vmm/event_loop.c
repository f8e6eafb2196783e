#include "vmm/event_loop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vmm/log.h"
#include "vmm/sandbox.h"

int event_loop_init(struct event_loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->wake_fd = -1;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epoll_fd < 0)
		return -errno;
	loop->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (loop->wake_fd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &ev) < 0)
		return -errno;
	return 0;
}

int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_handler fn, void *opaque)
{
	if (loop->count >= EVENT_LOOP_MAX_HANDLERS)
		return -ENOSPC;
	struct event_loop_entry *e = &loop->entries[loop->count];
	e->fd = fd;
	e->fn = fn;
	e->opaque = opaque;
	struct epoll_event ev = { .events = events, .data.ptr = e };
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	loop->count++;
	return 0;
}

static void *event_loop_thread(void *arg)
{
	struct event_loop *loop = arg;
	struct epoll_event events[32];

	if (sandbox_enter(SANDBOX_IO) < 0)
		abort(); /* an unsandboxed I/O thread would parse guest data unconfined */

	for (;;) {
		loop->waits++;
		int n = epoll_wait(loop->epoll_fd, events, 32, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("I/O thread: epoll_wait failed: %s", strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct event_loop_entry *e = events[i].data.ptr;
			if (!e)
				return NULL; /* wake_fd: stop requested */
			e->fn(e->opaque, events[i].events);
		}
	}
}

int event_loop_start(struct event_loop *loop)
{
	int ret = pthread_create(&loop->thread, NULL, event_loop_thread, loop);
	if (ret)
		return -ret;
	loop->running = true;
	return 0;
}

void event_loop_stop(struct event_loop *loop)
{
	if (!loop->running)
		return;
	uint64_t one = 1;
	if (write(loop->wake_fd, &one, sizeof(one)) < 0)
		log_warn("I/O thread: cannot signal stop: %s", strerror(errno));
	pthread_join(loop->thread, NULL);
	loop->running = false;
}

void event_loop_destroy(struct event_loop *loop)
{
	event_loop_stop(loop);
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	if (loop->wake_fd >= 0)
		close(loop->wake_fd);
	loop->epoll_fd = loop->wake_fd = -1;
}
