/* The console's escape filter: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "vmm/console.h"

static struct console con;
static uint8_t out[256];
static bool quit;

static void setup(void)
{
	memset(&con, 0, sizeof(con));
	con.in_fd = 0;
	con.out_fd = -1;
	con.rx_ready_fd = -1;
	con.raw_tty = true;
}

TestSuite(console, .init = setup);

static size_t filter(const char *in, size_t len)
{
	memset(out, 0xcc, sizeof(out));
	quit = true; /* must be reset by every call */
	return console_filter_input(&con, (const uint8_t *)in, len, out, &quit);
}

Test(console, plain_input_passes_through)
{
	cr_assert_eq(filter("ls -l\r", 6), 6);
	cr_assert(memcmp(out, "ls -l\r", 6) == 0);
	cr_assert_not(quit);
	cr_assert_eq(filter("\x03\x04\x1b[A", 5), 5, "Ctrl-C, Ctrl-D and escape sequences go to the guest");
	cr_assert(memcmp(out, "\x03\x04\x1b[A", 5) == 0);
}

Test(console, ctrl_a_x_quits)
{
	size_t n = filter("ab\x01xcd", 6);
	cr_assert(quit);
	cr_assert_eq(n, 2, "bytes before the escape still reach the guest");
	cr_assert(memcmp(out, "ab", 2) == 0);
}

Test(console, ctrl_a_ctrl_a_sends_one)
{
	cr_assert_eq(filter("\x01\x01", 2), 1);
	cr_assert_eq(out[0], 0x01);
	cr_assert_not(quit);
	cr_assert_eq(filter("x", 1), 1, "the pair is complete: x is just x");
	cr_assert_eq(out[0], 'x');
	cr_assert_not(quit);
	cr_assert_eq(filter("\x01\x01\x01\x01", 4), 2);
	cr_assert_eq(out[0], 0x01);
	cr_assert_eq(out[1], 0x01);
}

Test(console, ctrl_a_other_passes_both)
{
	cr_assert_eq(filter("\x01y", 2), 2);
	cr_assert_eq(out[0], 0x01);
	cr_assert_eq(out[1], 'y');
	cr_assert_not(quit);
	cr_assert_eq(filter("\x01X", 2), 2, "upper-case X is not the quit key");
	cr_assert_not(quit);
}

Test(console, escape_split_across_reads)
{
	cr_assert_eq(filter("a\x01", 2), 1, "the Ctrl-A is held back");
	cr_assert_eq(out[0], 'a');
	cr_assert_not(quit);
	cr_assert_eq(filter("x", 1), 0);
	cr_assert(quit);

	setup();
	cr_assert_eq(filter("\x01", 1), 0);
	cr_assert_eq(filter("\x01", 1), 1);
	cr_assert_eq(out[0], 0x01);

	setup();
	cr_assert_eq(filter("\x01", 1), 0);
	cr_assert_eq(filter("y", 1), 2, "one input byte, two output bytes (hence len + 1)");
	cr_assert_eq(out[0], 0x01);
	cr_assert_eq(out[1], 'y');
	cr_assert_eq(out[2], 0xcc, "nothing beyond");
	cr_assert_not(quit);
}

Test(console, empty_input)
{
	cr_assert_eq(filter("", 0), 0);
	cr_assert_not(quit);
	cr_assert_eq(out[0], 0xcc);
}

Test(console, non_terminal_input_is_not_filtered)
{
	con.raw_tty = false;
	cr_assert_eq(filter("\x01x\x01\x01", 4), 4);
	cr_assert(memcmp(out, "\x01x\x01\x01", 4) == 0);
	cr_assert_not(quit, "a pipe or file can never quit the VM");
}

Test(console, all_byte_values_except_the_escape_pass)
{
	char in[256];
	for (int i = 0; i < 256; i++)
		in[i] = (char)i;
	/* Ctrl-A at index 1 followed by 0x02: both pass. */
	cr_assert_eq(filter(in, 256), 256);
	cr_assert(memcmp(out, in, 256) == 0);
	cr_assert_not(quit);
}

static char tapped[32];
static size_t ntapped;

static void tap(void *opaque, const uint8_t *buf, size_t len)
{
	cr_assert_eq(opaque, &con);
	cr_assert_leq(ntapped + len, sizeof(tapped));
	memcpy(tapped + ntapped, buf, len);
	ntapped += len;
}

Test(console, output_goes_to_the_fd_and_the_tap)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	con.out_fd = fds[1];
	con.tap = tap;
	con.tap_opaque = &con;
	console_write(&con, (const uint8_t *)"hello", 5);
	console_put_byte(&con, '!');
	cr_assert_eq(con.out_bytes, 6);
	char buf[16] = { 0 };
	cr_assert_eq(read(fds[0], buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "hello!");
	close(fds[0]);
	/* Nobody reads any more: output is dropped, the caller is never blocked or killed. */
	signal(SIGPIPE, SIG_IGN);
	console_write(&con, (const uint8_t *)"lost", 4);
	cr_assert_eq(con.out_fd, -1);
	console_write(&con, (const uint8_t *)"more", 4);
	cr_assert_eq(ntapped, 14, "the tap still sees everything");
	cr_assert(memcmp(tapped, "hello!lostmore", 14) == 0);
	close(fds[1]);
}

/* --serial sinks (vmm/console.c): each is driven through console_write as the serial
 * device would, and read back from the other end. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

static char sink_dir[32];

static void sink_setup(void)
{
	snprintf(sink_dir, sizeof(sink_dir), "/tmp/n90-console-XXXXXX");
	cr_assert_not_null(mkdtemp(sink_dir));
	cr_assert_eq(console_init(&con, -1, -1), 0);
}

static void sink_teardown(void)
{
	console_detach_sink(&con);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", sink_dir);
	cr_assert_eq(system(cmd), 0);
}

static int connect_to(const char *path, int type)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int fd = socket(AF_UNIX, type, 0);
	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0, "connect %s", path);
	return fd;
}

/* Reads exactly len bytes (the test fails after 5 s without them). */
static void read_exactly(int fd, uint8_t *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	for (size_t got = 0; got < len;) {
		cr_assert_eq(poll(&p, 1, 5000), 1, "%zu of %zu bytes", got, len);
		ssize_t n = read(fd, buf + got, len - got);
		cr_assert_gt(n, 0);
		got += (size_t)n;
	}
}

Test(console_sink, late_client_gets_the_backlog_then_live_output, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/console.sock", sink_dir);
	struct serial_config serial = { SERIAL_SINK_UNIX_LISTEN, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	cr_assert(console_sink_has_input(&serial));
	cr_assert_geq(console_listen_fd(&con), 0);
	cr_assert_eq(console_accept_client(&con), -1, "nobody connected yet");

	console_write(&con, (const uint8_t *)"early boot\n", 11);
	int client = connect_to(path, SOCK_STREAM);
	int server_side = console_accept_client(&con);
	cr_assert_geq(server_side, 0);
	con.in_fd = server_side; /* as the main loop does */
	console_write(&con, (const uint8_t *)"live\n", 5);
	uint8_t got[16];
	read_exactly(client, got, 16);
	cr_assert_arr_eq(got, "early boot\nlive\n", 16);
	cr_assert_eq(console_backlog_dropped(&con), 0);

	/* A second client while the first is connected is turned away. */
	int second = connect_to(path, SOCK_STREAM);
	cr_assert_eq(console_accept_client(&con), -1);
	close(second);

	/* The client leaves: output waits for the next one. */
	console_input_closed(&con);
	cr_assert_eq(con.in_fd, -1);
	close(client);
	console_write(&con, (const uint8_t *)"after\n", 6);
	client = connect_to(path, SOCK_STREAM);
	con.in_fd = console_accept_client(&con);
	cr_assert_geq(con.in_fd, 0);
	read_exactly(client, got, 6);
	cr_assert_arr_eq(got, "after\n", 6);
	close(client);
}

static int accepted_fd;

static void *accept_thread(void *arg)
{
	(void)arg;
	accepted_fd = console_accept_client(&con);
	return NULL;
}

Test(console_sink, backlog_is_bounded_and_keeps_the_newest, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/console.sock", sink_dir);
	struct serial_config serial = { SERIAL_SINK_UNIX_LISTEN, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	/* 1.5 MiB in odd-sized writes, byte i = i mod 251, so order and loss are visible. */
	size_t total = CONSOLE_BACKLOG_BYTES + CONSOLE_BACKLOG_BYTES / 2, done = 0;
	uint8_t *data = malloc(total);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i % 251);
	while (done < total) {
		size_t n = total - done < 4093 ? total - done : 4093;
		console_write(&con, data + done, n);
		done += n;
	}
	cr_assert_eq(console_backlog_dropped(&con), total - CONSOLE_BACKLOG_BYTES);
	/* The backlog is more than a socket buffer holds: accept (the main loop's side) runs in
	 * a thread while the client reads, as they would run in two processes. */
	int client = connect_to(path, SOCK_STREAM);
	pthread_t acceptor;
	cr_assert_eq(pthread_create(&acceptor, NULL, accept_thread, NULL), 0);
	uint8_t *got = malloc(CONSOLE_BACKLOG_BYTES);
	read_exactly(client, got, CONSOLE_BACKLOG_BYTES);
	cr_assert_eq(pthread_join(acceptor, NULL), 0);
	int server_side = accepted_fd;
	cr_assert_geq(server_side, 0);
	cr_assert_arr_eq(got, data + (total - CONSOLE_BACKLOG_BYTES), CONSOLE_BACKLOG_BYTES);
	/* One write bigger than the backlog keeps its own tail. */
	con.in_fd = server_side;
	console_input_closed(&con);
	close(client);
	console_write(&con, data, total);
	client = connect_to(path, SOCK_STREAM);
	cr_assert_eq(pthread_create(&acceptor, NULL, accept_thread, NULL), 0);
	read_exactly(client, got, CONSOLE_BACKLOG_BYTES);
	cr_assert_eq(pthread_join(acceptor, NULL), 0);
	cr_assert_geq(accepted_fd, 0);
	cr_assert_arr_eq(got, data + (total - CONSOLE_BACKLOG_BYTES), CONSOLE_BACKLOG_BYTES);
	close(client);
	free(got);
	free(data);
}

Test(console_sink, datagram_sink_sends_one_line_per_message, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/log.sock", sink_dir);
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	int reader = socket(AF_UNIX, SOCK_DGRAM, 0);
	cr_assert_eq(bind(reader, (struct sockaddr *)&addr, sizeof(addr)), 0);
	struct serial_config serial = { SERIAL_SINK_UNIX_DGRAM, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	cr_assert_not(console_sink_has_input(&serial));
	console_write(&con, (const uint8_t *)"first\r\nsec", 10);
	console_write(&con, (const uint8_t *)"ond\n", 4);
	char msg[2048];
	cr_assert_eq(recv(reader, msg, sizeof(msg), 0), 5);
	cr_assert_arr_eq(msg, "first", 5);
	cr_assert_eq(recv(reader, msg, sizeof(msg), 0), 6);
	cr_assert_arr_eq(msg, "second", 6);
	/* A line longer than CONSOLE_LINE_MAX is cut into messages of that size. */
	char longline[CONSOLE_LINE_MAX + 10];
	memset(longline, 'x', sizeof(longline));
	console_write(&con, (const uint8_t *)longline, sizeof(longline));
	console_write(&con, (const uint8_t *)"\n", 1);
	cr_assert_eq(recv(reader, msg, sizeof(msg), 0), CONSOLE_LINE_MAX);
	cr_assert_eq(recv(reader, msg, sizeof(msg), 0), 10);
	close(reader);
}

Test(console_sink, file_sink_appends, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/console.log", sink_dir);
	FILE *f = fopen(path, "w");
	fputs("old\n", f);
	fclose(f);
	struct serial_config serial = { SERIAL_SINK_FILE, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	console_write(&con, (const uint8_t *)"new\n", 4);
	close(con.out_fd);
	char buf[16] = "";
	f = fopen(path, "r");
	cr_assert_eq(fread(buf, 1, sizeof(buf), f), 8);
	fclose(f);
	cr_assert_str_eq(buf, "old\nnew\n");
}

Test(console_sink, refusals_name_the_path, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/plain-file", sink_dir);
	fclose(fopen(path, "w"));
	struct serial_config listen_on_file = { SERIAL_SINK_UNIX_LISTEN, path };
	cr_assert_neq(console_attach_sink(&con, &listen_on_file), 0, "a regular file is not replaced");
	snprintf(path, sizeof(path), "%s/nobody.sock", sink_dir);
	struct serial_config connect_nowhere = { SERIAL_SINK_UNIX_CONNECT, path };
	cr_assert_neq(console_attach_sink(&con, &connect_nowhere), 0, "unix-connect needs a listener");
}
