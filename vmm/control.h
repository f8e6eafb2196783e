/* The control socket (--socket PATH, crosvm's -s): a unix stream socket the main loop
 * accepts on. The protocol is one line each way (docs/reliability.md, "The control socket"):
 *   client: "stop\n"      server: "ok\n", then the VM stops and n90vmm exits 0
 *   client: anything else server: "error unknown request\n"
 * One request per connection; the server closes after its reply. Up to CONTROL_MAX_CLIENTS
 * are served at once, each for at most CONTROL_CLIENT_DEADLINE_MS, so clients that say
 * nothing cannot keep `stop` out (docs/reliability.md). */
#ifndef N90_CONTROL_H
#define N90_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONTROL_REQUEST_MAX 64
#define CONTROL_MAX_CLIENTS 8
#define CONTROL_CLIENT_DEADLINE_MS 1000

/* Binds and listens on path (a directory gets "crosvm-PID.sock" inside, as in crosvm). A
 * stale socket file nobody listens on is replaced; anything else at path is an error.
 * Returns the listening fd (non-blocking, close-on-exec) or -errno with err set. *bound
 * receives the path actually used (to unlink at exit). */
int control_listen(const char *path, char *bound, size_t boundlen, char *err, size_t errlen);

/* Whether a listener answers at the unix socket path (a stale file gives false). */
bool control_socket_in_use(const char *path);

enum control_request {
	CONTROL_NONE,    /* nothing complete yet: keep the connection */
	CONTROL_STOP,    /* "stop" received and acknowledged */
	CONTROL_INVALID, /* answered with an error; close */
	CONTROL_CLOSED,  /* the client went away, or its time ran out */
};

struct control_client {
	int fd; /* -1: free slot */
	uint64_t deadline_ms;
	size_t len;
	char buf[CONTROL_REQUEST_MAX];
};

/* The main loop's side: the listener and the clients being served. */
struct control_server {
	int listen_fd;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

void control_server_init(struct control_server *s, int listen_fd);
/* Accepts one pending connection into a free slot and returns the slot, -1 when none is
 * pending; with every slot taken the newcomer is answered "error busy" and closed (-2). */
int control_server_accept(struct control_server *s, uint64_t now_ms);
/* Reads what client `slot` sent and answers a complete request; a finished client's slot is
 * freed (and its fd closed). */
enum control_request control_server_serve(struct control_server *s, unsigned int slot);
/* Closes clients whose time ran out ("error timeout"). Returns the milliseconds until the
 * next deadline, or -1 when no client is connected. */
int control_server_expire(struct control_server *s, uint64_t now_ms);
/* Closes every client (not the listener). */
void control_server_close(struct control_server *s);

/* Parses one request line (without the newline): pure, for the unit tests. */
enum control_request control_parse_request(const char *line, size_t len);

/* `n90vmm stop SOCKET`: sends "stop", waits for the reply (retrying a busy server for a
 * few seconds). 0 on "ok"; otherwise prints one line and returns -errno (-ENOENT /
 * -ECONNREFUSED: no VM there; -EPROTO: unexpected or no reply). */
int control_send_stop(const char *path);

#endif
