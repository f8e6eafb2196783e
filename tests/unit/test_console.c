/* The console's escape filter: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
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
	cr_assert_eq(console_init(&con, -1, fds[1]), 0);
	con.tap = tap;
	con.tap_opaque = &con;
	console_write(&con, (const uint8_t *)"hello", 5);
	console_put_byte(&con, '!');
	cr_assert_eq(con.out_bytes, 0, "queued, not written, on the device's thread");
	cr_assert_not(console_drain(&con));
	cr_assert_eq(con.out_bytes, 6);
	char buf[16] = { 0 };
	cr_assert_eq(read(fds[0], buf, sizeof(buf)), 6);
	cr_assert_str_eq(buf, "hello!");
	close(fds[0]);
	/* Nobody reads any more: output is dropped, the caller is never blocked or killed. */
	signal(SIGPIPE, SIG_IGN);
	console_write(&con, (const uint8_t *)"lost", 4);
	cr_assert_not(console_drain(&con));
	cr_assert_eq(console_output_fd(&con), -1);
	console_write(&con, (const uint8_t *)"more", 4);
	cr_assert_not(console_drain(&con));
	cr_assert_eq(ntapped, 14, "the tap still sees everything");
	cr_assert(memcmp(tapped, "hello!lostmore", 14) == 0);
	cr_assert_eq(console_dropped(&con), 0, "a reader that left is not a slow one");
	console_detach_sink(&con);
	close(fds[1]);
}

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>

static uint64_t wakeups(void)
{
	uint64_t n = 0;
	if (read(console_output_wake_fd(&con), &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* The device's thread makes a system call only to wake the main loop, and only when the loop
 * is not on the output already: a burst costs one eventfd write, and so does a guest printing
 * byte by byte for as long as the loop lingers (console_output_idle). */
Test(console, one_wakeup_per_burst)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(console_init(&con, -1, fds[1]), 0);
	for (int i = 0; i < 1000; i++)
		console_put_byte(&con, 'a');
	cr_assert_eq(wakeups(), 1);
	cr_assert_not(console_drain(&con));
	console_put_byte(&con, 'b');
	cr_assert_eq(wakeups(), 0, "the loop lingers: no wakeup");
	cr_assert_not(console_output_idle(&con), "'b' came meanwhile: drain again");
	cr_assert_not(console_drain(&con));
	cr_assert(console_output_idle(&con), "nothing new: wakeups resume");
	console_put_byte(&con, 'c');
	cr_assert_eq(wakeups(), 1);
	cr_assert_not(console_drain(&con));
	char buf[2048];
	cr_assert_eq(read(fds[0], buf, sizeof(buf)), 1002);
	console_detach_sink(&con);
	close(fds[0]);
	close(fds[1]);
}

/* A pipe nobody reads: writes never block, the ring keeps the newest CONSOLE_BACKLOG_BYTES,
 * the rest is counted; once the reader reads again, output resumes in order. */
Test(console, stuck_pipe_reader_never_blocks_the_writer)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	cr_assert_eq(fcntl(fds[0], F_SETPIPE_SZ, 4096), 4096);
	cr_assert_eq(console_init(&con, -1, fds[1]), 0);
	/* 3 MiB of numbered 8-byte records. */
	char rec[9];
	for (unsigned int i = 0; i < 3 * 131072; i++) {
		snprintf(rec, sizeof(rec), "%07u\n", i);
		console_write(&con, (const uint8_t *)rec, 8);
		if (i % 4096 == 0)
			console_drain(&con);
	}
	cr_assert(console_drain(&con), "the pipe is full: wait for room");
	int out = console_output_fd(&con);
	cr_assert_geq(out, 0);
	cr_assert_neq(out, fds[1], "a private description, not the shared one");
	cr_assert(fcntl(out, F_GETFL) & O_NONBLOCK);
	cr_assert_not(fcntl(fds[1], F_GETFL) & O_NONBLOCK, "the shared description keeps its flags");
	uint64_t dropped = console_dropped(&con);
	cr_assert_gt(dropped, 0);
	/* Everything not dropped arrives, in order, ending with the last record. */
	uint64_t got = 0;
	char buf[65536], last[9] = "";
	size_t have = 0;
	for (;;) {
		bool blocked = console_drain(&con);
		ssize_t n = read(fds[0], buf + have, sizeof(buf) - have);
		if (n <= 0 && !blocked)
			break;
		if (n > 0) {
			got += (uint64_t)n;
			have += (size_t)n;
			if (have >= 8) {
				memcpy(last, buf + (have / 8) * 8 - 8, 8);
				memmove(buf, buf + (have / 8) * 8, have % 8);
				have %= 8;
			}
		}
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		if (!blocked && poll(&p, 1, 0) == 0)
			break;
	}
	cr_assert_eq(got + dropped, 3ull * 131072 * 8, "every byte written or counted");
	cr_assert_str_eq(last, "0393215\n");
	console_detach_sink(&con);
	close(fds[0]);
	close(fds[1]);
}

static volatile bool writers_done;

static void *drain_thread(void *arg)
{
	(void)arg;
	while (!writers_done) {
		console_drain(&con);
		usleep(50);
	}
	console_drain(&con);
	return NULL;
}

static void *writer_thread(void *arg)
{
	char tag = *(const char *)arg;
	for (unsigned int i = 0; i < 20000; i++) {
		char rec[16];
		snprintf(rec, sizeof(rec), "%c%07u\n", tag, i);
		console_write(&con, (const uint8_t *)rec, 9);
	}
	return NULL;
}

/* Writers on two threads (two vCPUs, or a vCPU and the I/O thread) and the main loop
 * draining meanwhile: every record arrives whole, each writer's in its order. */
Test(console, concurrent_writers_keep_their_order)
{
	char path[] = "/tmp/n90-console-out-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(console_init(&con, -1, fd), 0);
	writers_done = false;
	pthread_t drainer, a, b;
	static const char ta = 'A', tb = 'B';
	cr_assert_eq(pthread_create(&drainer, NULL, drain_thread, NULL), 0);
	cr_assert_eq(pthread_create(&a, NULL, writer_thread, (void *)&ta), 0);
	cr_assert_eq(pthread_create(&b, NULL, writer_thread, (void *)&tb), 0);
	cr_assert_eq(pthread_join(a, NULL), 0);
	cr_assert_eq(pthread_join(b, NULL), 0);
	writers_done = true;
	cr_assert_eq(pthread_join(drainer, NULL), 0);
	cr_assert_eq(con.out_bytes, 2 * 20000 * 9);
	cr_assert_eq(console_dropped(&con), 0, "a regular file keeps up");
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	unsigned int next[2] = { 0, 0 };
	char rec[10] = "";
	for (unsigned int i = 0; i < 40000; i++) {
		cr_assert_eq(read(fd, rec, 9), 9);
		cr_assert(rec[0] == 'A' || rec[0] == 'B', "record %u torn: %.9s", i, rec);
		unsigned int w = rec[0] == 'B', n = (unsigned int)strtoul(rec + 1, NULL, 10);
		cr_assert_eq(n, next[w], "writer %c: record %u after %u", rec[0], n, next[w]);
		next[w]++;
	}
	console_detach_sink(&con);
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
	cr_assert_str_eq(console_socket_path(&con), path);
	cr_assert_eq(console_accept_client(&con), -1, "nobody connected yet");

	console_write(&con, (const uint8_t *)"early boot\n", 11);
	cr_assert_not(console_drain(&con), "no client: kept, not written");
	int client = connect_to(path, SOCK_STREAM);
	int server_side = console_accept_client(&con);
	cr_assert_geq(server_side, 0);
	con.in_fd = server_side; /* as the main loop does */
	cr_assert_eq(console_output_fd(&con), server_side, "one socket for input and output");
	console_write(&con, (const uint8_t *)"live\n", 5);
	cr_assert_not(console_drain(&con));
	uint8_t got[16];
	read_exactly(client, got, 16);
	cr_assert_arr_eq(got, "early boot\nlive\n", 16);
	cr_assert_eq(console_dropped(&con), 0);

	/* A second client while the first is connected is turned away. */
	int second = connect_to(path, SOCK_STREAM);
	cr_assert_eq(console_accept_client(&con), -1);
	close(second);

	/* The client leaves: output waits for the next one. */
	console_input_closed(&con);
	cr_assert_eq(con.in_fd, -1);
	cr_assert_eq(console_output_fd(&con), -1);
	close(client);
	console_write(&con, (const uint8_t *)"after\n", 6);
	console_drain(&con);
	client = connect_to(path, SOCK_STREAM);
	con.in_fd = console_accept_client(&con);
	cr_assert_geq(con.in_fd, 0);
	cr_assert_not(console_drain(&con));
	read_exactly(client, got, 6);
	cr_assert_arr_eq(got, "after\n", 6);
	close(client);
}

/* The main loop's side of a client that reads: drain whenever the socket has room. */
static void drain_until_read(int client, uint8_t *got, size_t len)
{
	struct pollfd p[2] = { { .fd = client, .events = POLLIN }, { .fd = console_output_fd(&con), .events = POLLOUT } };
	for (size_t have = 0; have < len;) {
		console_drain(&con);
		cr_assert_gt(poll(p, 2, 5000), 0, "%zu of %zu bytes", have, len);
		if (p[0].revents & POLLIN) {
			ssize_t n = read(client, got + have, len - have);
			cr_assert_gt(n, 0);
			have += (size_t)n;
		}
	}
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
	cr_assert_eq(console_dropped(&con), total - CONSOLE_BACKLOG_BYTES);
	/* The backlog is more than a socket buffer holds: it goes out as the client reads. */
	int client = connect_to(path, SOCK_STREAM);
	con.in_fd = console_accept_client(&con);
	cr_assert_geq(con.in_fd, 0);
	uint8_t *got = malloc(CONSOLE_BACKLOG_BYTES);
	drain_until_read(client, got, CONSOLE_BACKLOG_BYTES);
	cr_assert_arr_eq(got, data + (total - CONSOLE_BACKLOG_BYTES), CONSOLE_BACKLOG_BYTES);
	/* One write bigger than the backlog keeps its own tail. */
	console_input_closed(&con);
	close(client);
	console_write(&con, data, total);
	client = connect_to(path, SOCK_STREAM);
	con.in_fd = console_accept_client(&con);
	cr_assert_geq(con.in_fd, 0);
	drain_until_read(client, got, CONSOLE_BACKLOG_BYTES);
	cr_assert_arr_eq(got, data + (total - CONSOLE_BACKLOG_BYTES), CONSOLE_BACKLOG_BYTES);
	close(client);
	free(got);
	free(data);
}

/* A late client that connects and never reads: accepting it, handing it the backlog and
 * feeding it live output all return at once; the ring keeps the newest output meanwhile. */
Test(console_sink, client_that_never_reads_blocks_nothing, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/console.sock", sink_dir);
	struct serial_config serial = { SERIAL_SINK_UNIX_LISTEN, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	static uint8_t block[65536];
	memset(block, 'x', sizeof(block));
	for (int i = 0; i < 8; i++)
		console_write(&con, block, sizeof(block));
	int client = connect_to(path, SOCK_STREAM);
	int rcvbuf = 4096;
	setsockopt(client, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	con.in_fd = console_accept_client(&con);
	cr_assert_geq(con.in_fd, 0);
	cr_assert(console_drain(&con), "the socket is full: the main loop waits for room");
	for (int i = 0; i < 40; i++) {
		console_write(&con, block, sizeof(block));
		cr_assert(console_drain(&con));
	}
	cr_assert_gt(console_dropped(&con), 0);
	console_flush(&con); /* at exit: gives up after CONSOLE_STALL_MS without progress */
	close(client);
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
	console_write(&con, (const uint8_t *)"first\r\nsec", 10); /* lines go out at once */
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
	console_flush(&con);
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

/* --serial file: on a FIFO: refused at once without a reader (open(2) would wait for one);
 * with a reader that stops reading, written without ever blocking. */
Test(console_sink, fifo_file_sink_never_waits, .init = sink_setup, .fini = sink_teardown)
{
	char path[100];
	snprintf(path, sizeof(path), "%s/fifo", sink_dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	struct serial_config serial = { SERIAL_SINK_FILE, path };
	cr_assert_eq(console_attach_sink(&con, &serial), 66, "no reader: refused");
	int reader = open(path, O_RDONLY | O_NONBLOCK);
	cr_assert_geq(reader, 0);
	cr_assert_eq(console_attach_sink(&con, &serial), 0);
	static uint8_t block[65536];
	for (int i = 0; i < 64; i++) {
		console_write(&con, block, sizeof(block));
		console_drain(&con);
	}
	cr_assert(console_drain(&con), "full: waits for room, does not block");
	cr_assert_gt(console_dropped(&con), 0);
	close(reader);
}
