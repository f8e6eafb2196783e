/* The control socket (--socket PATH, crosvm's -s): a unix stream socket the main loop
 * accepts on. The protocol is one line each way (docs/crosvm-compat.md, "Control socket"):
 *   client: "stop\n"      server: "ok\n", then the VM stops and n90vmm exits 0
 *   client: anything else server: "error unknown request\n"
 * One request per connection; the server closes after its reply. */
#ifndef N90_CONTROL_H
#define N90_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#define CONTROL_REQUEST_MAX 64

/* Binds and listens on path (a directory gets "crosvm-PID.sock" inside, as in crosvm). A
 * stale socket file nobody listens on is replaced; anything else at path is an error.
 * Returns the listening fd (non-blocking, close-on-exec) or -errno with err set. *bound
 * receives the path actually used (to unlink at exit). */
int control_listen(const char *path, char *bound, size_t boundlen, char *err, size_t errlen);

/* Whether a listener answers at the unix socket path (a stale file gives false). */
bool control_socket_in_use(const char *path);

/* Accepts one pending connection: returns its fd (non-blocking) or -1. */
int control_accept(int listen_fd);

enum control_request {
	CONTROL_NONE,    /* nothing complete yet: keep the connection */
	CONTROL_STOP,    /* "stop" received and acknowledged */
	CONTROL_INVALID, /* answered with an error; close */
	CONTROL_CLOSED,  /* the client went away */
};

/* Reads what the client sent on a readable connection and answers a complete request.
 * buf/len keep a partial line between calls. */
enum control_request control_serve(int fd, char *buf, size_t *len);

/* Answers "error busy" on a connection that arrived while another is served, and closes it. */
void control_refuse_busy(int fd);

/* Parses one request line (without the newline): pure, for the unit tests. */
enum control_request control_parse_request(const char *line, size_t len);

/* `n90vmm stop SOCKET`: sends "stop", waits for the reply. 0 on "ok"; otherwise prints one
 * line and returns -errno (-ENOENT/-ECONNREFUSED: no VM there; -EPROTO: unexpected reply). */
int control_send_stop(const char *path);

#endif
