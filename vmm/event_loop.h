/* The I/O thread: an epoll loop that runs device backends (virtio queue processing on
 * ioeventfd kicks, tap and socket readiness). Handlers are registered before the loop
 * starts or from inside a handler; they run on the loop's thread only. */
#ifndef N90_EVENT_LOOP_H
#define N90_EVENT_LOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef void (*event_handler)(void *opaque, uint32_t events);

#define EVENT_LOOP_MAX_HANDLERS 128

struct event_loop_entry {
	int fd;
	event_handler fn;
	void *opaque;
};

struct event_loop {
	int epoll_fd;
	int wake_fd; /* eventfd: asks the thread to exit */
	pthread_t thread;
	bool running;
	unsigned int count;
	uint64_t waits; /* epoll_wait calls (the I/O thread's share of per-request syscalls) */
	struct event_loop_entry entries[EVENT_LOOP_MAX_HANDLERS];
};

int event_loop_init(struct event_loop *loop);
/* Watches fd for `events` (EPOLLIN, ...). Returns 0 or -errno. */
int event_loop_add(struct event_loop *loop, int fd, uint32_t events, event_handler fn, void *opaque);
int event_loop_start(struct event_loop *loop);
/* Stops and joins the thread; handlers do not run after this returns. */
void event_loop_stop(struct event_loop *loop);
void event_loop_destroy(struct event_loop *loop);

#endif
