/* The console's escape filter: Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A. */
#include <criterion/criterion.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "../../vmm/console.h"

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
