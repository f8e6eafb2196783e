/* The harness protocol engine on recorded and hostile transcripts. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "harness/engine.h"

static struct harness_engine h;
static struct harness_action act[16];
static size_t nact;

static void start(const char *const *cmds, unsigned int n, const char *nonce)
{
	static struct harness_command c[HARNESS_MAX_COMMANDS];
	for (unsigned int i = 0; i < n; i++)
		c[i] = (struct harness_command){ cmds[i], 0 };
	struct harness_config cfg = { .prompt = NULL, .nonce = nonce, .boot_timeout_ms = 60000,
				      .command_timeout_ms = 1000, .poweroff_grace_ms = 500, .commands = c,
				      .ncommands = n };
	cr_assert_eq(harness_init(&h, &cfg, 0), 0);
}

static size_t feed(const char *text, uint64_t now)
{
	nact = harness_feed(&h, (const uint8_t *)text, strlen(text), now, act, 16);
	return nact;
}

static const struct harness_action *find(enum harness_action_type type)
{
	for (size_t i = 0; i < nact; i++)
		if (act[i].type == type)
			return &act[i];
	return NULL;
}

static void fini(void)
{
	harness_free(&h);
}

TestSuite(harness_engine, .fini = fini);

Test(harness_engine, sends_command_at_prompt_and_reads_status)
{
	const char *cmds[] = { "ls /" };
	start(cmds, 1, NULL);
	cr_assert_eq(feed("booting...\r\nstarry:~# ", 10), 1);
	cr_assert_eq(act[0].type, HARNESS_SEND);
	cr_assert_eq(act[0].len, strlen("ls /; echo __EXIT:$?__\n"));
	cr_assert(memcmp(act[0].data, "ls /; echo __EXIT:$?__\n", act[0].len) == 0);
	/* The echoed command line holds a literal $? and must not count. */
	cr_assert_eq(feed("ls /; echo __EXIT:$?__\r\nbin dev\r\n", 20), 0);
	feed("__EXIT:3__\r\nstarry:~# ", 30);
	const struct harness_action *done = find(HARNESS_COMMAND_DONE);
	cr_assert_not_null(done);
	cr_assert_eq(done->status, 3);
	const struct harness_action *send = find(HARNESS_SEND);
	cr_assert_not_null(send);
	cr_assert(memcmp(send->data, "exit\n", 5) == 0);
	char out[256];
	harness_clean_output(&h, 0, out, sizeof(out));
	cr_assert_str_eq(out, "bin dev");
}

Test(harness_engine, marker_split_across_reads_byte_by_byte)
{
	const char *cmds[] = { "true" };
	start(cmds, 1, NULL);
	feed("starry:~# ", 1);
	const char *rest = "true; echo __EXIT:$?__\r\n__EXIT:-12__\r\n";
	int done = 0, status = 0;
	for (size_t i = 0; rest[i]; i++) {
		char c[2] = { rest[i], 0 };
		feed(c, 2 + i);
		const struct harness_action *d = find(HARNESS_COMMAND_DONE);
		if (d) {
			done++;
			status = d->status;
		}
	}
	cr_assert_eq(done, 1);
	cr_assert_eq(status, -12);
}

Test(harness_engine, ansi_escapes_and_nul_bytes_are_ignored)
{
	const char *cmds[] = { "x" };
	start(cmds, 1, NULL);
	/* busybox ash asks for the cursor position right after its prompt */
	cr_assert_eq(feed("\x1b[1;32mstarry:~# \x1b[0m\x1b[6n", 5), 1);
	static const char raw[] = "x; echo __EXIT:$?__\n__EX\0IT:\x1b[0m7__\n";
	nact = harness_feed(&h, (const uint8_t *)raw, sizeof(raw) - 1, 6, act, 16);
	const struct harness_action *d = find(HARNESS_COMMAND_DONE);
	cr_assert_not_null(d);
	cr_assert_eq(d->status, 7);
}

Test(harness_engine, prompt_inside_output_is_not_a_prompt)
{
	const char *cmds[] = { "a", "b" };
	start(cmds, 2, NULL);
	feed("starry:~# ", 1);
	/* While the command runs, prompt-like text is just output. */
	cr_assert_eq(feed("a; echo __EXIT:$?__\nstarry:~# fake\n", 2), 0);
	feed("__EXIT:0__\n", 3);
	cr_assert_not_null(find(HARNESS_COMMAND_DONE));
	cr_assert_null(find(HARNESS_SEND)); /* next command waits for the real prompt */
	/* A prompt followed by more text in the same burst is not waiting for input. */
	cr_assert_eq(feed("starry:~# then more", 4), 0);
	feed("\nstarry:~# ", 5);
	const struct harness_action *s = find(HARNESS_SEND);
	cr_assert_not_null(s);
	cr_assert(memcmp(s->data, "b; ", 3) == 0);
}

Test(harness_engine, marker_like_text_without_digits_does_not_match)
{
	const char *cmds[] = { "c" };
	start(cmds, 1, NULL);
	feed("starry:~# ", 1);
	cr_assert_null((feed("__EXIT:__ __EXIT:x__ __EXIT:-__ EXIT:5__\n", 2), find(HARNESS_COMMAND_DONE)));
	feed("___EXIT:9__", 3); /* an extra underscore in front still ends in a valid marker */
	cr_assert_not_null(find(HARNESS_COMMAND_DONE));
	cr_assert_eq(find(HARNESS_COMMAND_DONE)->status, 9);
}

Test(harness_engine, strict_mode_ignores_the_compatible_marker)
{
	const char *cmds[] = { "evil" };
	start(cmds, 1, "abc123");
	feed("starry:~# ", 1);
	cr_assert(memmem(act[0].data, act[0].len, "__N90_abc123_EXIT:$?__", 22) != NULL);
	feed("__EXIT:0__\n__N90_wrong_EXIT:0__\n", 2);
	cr_assert_null(find(HARNESS_COMMAND_DONE));
	feed("__N90_abc123_EXIT:4__\n", 3);
	cr_assert_not_null(find(HARNESS_COMMAND_DONE));
	cr_assert_eq(find(HARNESS_COMMAND_DONE)->status, 4);
}

Test(harness_engine, boot_and_command_timeouts)
{
	const char *cmds[] = { "sleep 9" };
	start(cmds, 1, NULL);
	cr_assert_eq(harness_tick(&h, 59999, act, 16), 0);
	cr_assert_eq(harness_tick(&h, 60000, act, 16), 1);
	cr_assert_eq(act[0].type, HARNESS_BOOT_TIMEOUT);
	harness_free(&h);

	start(cmds, 1, NULL);
	feed("starry:~# ", 100);
	feed("sleep 9; echo __EXIT:$?__\npartial", 150);
	cr_assert_eq(harness_next_deadline(&h), 1100);
	cr_assert_eq(harness_tick(&h, 1100, act, 16), 1);
	cr_assert_eq(act[0].type, HARNESS_COMMAND_TIMEOUT);
	cr_assert(h.results[0].timed_out);
	char out[64];
	harness_clean_output(&h, 0, out, sizeof(out));
	cr_assert_str_eq(out, "partial");
}

Test(harness_engine, poweroff_grace_then_stop)
{
	const char *cmds[] = { "true" };
	start(cmds, 1, NULL);
	feed("starry:~# ", 1);
	feed("__EXIT:0__", 2);
	cr_assert_eq(h.state, HARNESS_WAIT_POWEROFF);
	cr_assert_eq(harness_tick(&h, 501, act, 16), 0);
	cr_assert_eq(harness_tick(&h, 502, act, 16), 1);
	cr_assert_eq(act[0].type, HARNESS_STOP);
}

Test(harness_engine, json_payload_wins)
{
	const char *cmds[] = { "report" };
	start(cmds, 1, NULL);
	feed("starry:~# ", 1);
	feed("report; echo __EXIT:$?__\r\nnoise before\r\n{\"ok\": true, \"n\": {\"x\": 1}}\r\nnoise after\r\n__EXIT:0__", 2);
	char out[256];
	harness_clean_output(&h, 0, out, sizeof(out));
	cr_assert_str_eq(out, "{\"ok\": true, \"n\": {\"x\": 1}}");
}

/* Seen with busybox under QEMU and n90vmm: a command longer than the terminal width comes
 * back wrapped (line editor: ESC[6n, then a break at column 80). The tail of the echo must
 * not leak into the output. */
Test(harness_engine, wrapped_echo_of_a_long_command_is_dropped)
{
	const char *cmds[] = { "/bin/sh -c 'ls /sys/bus/pci/devices 2>/dev/null | wc -l'" };
	start(cmds, 1, "0123456789abcdef");
	feed("starry:~# ", 1);
	feed("\x1b[6n/bin/sh -c 'ls /sys/bus/pci/devices 2>/dev/null | wc -l'; echo __N90_01234\r\n"
	     "56789abcdef_EXIT:$?__\r\n2\r\n__N90_0123456789abcdef_EXIT:0__\r\n", 2);
	cr_assert_not_null(find(HARNESS_COMMAND_DONE));
	char out[256];
	harness_clean_output(&h, 0, out, sizeof(out));
	cr_assert_str_eq(out, "2");
}

Test(harness_engine, huge_output_is_bounded_and_marker_still_found)
{
	const char *cmds[] = { "flood" };
	start(cmds, 1, NULL);
	feed("starry:~# ", 1);
	static char chunk[65536];
	memset(chunk, 'y', sizeof(chunk) - 1);
	for (int i = 0; i < 40; i++) /* 2.5 MiB, more than HARNESS_CAPTURE_MAX */
		feed(chunk, 2);
	cr_assert_eq(h.results[0].output_len, HARNESS_CAPTURE_MAX);
	cr_assert_gt(h.results[0].output_dropped, 0);
	/* The marker is matched on the stream even after the capture is full. */
	feed("\n__EXIT:5__", 3);
	cr_assert_not_null(find(HARNESS_COMMAND_DONE));
}

Test(harness_engine, bad_configs_are_refused)
{
	struct harness_command c = { "a\nb", 0 };
	struct harness_config cfg = { .commands = &c, .ncommands = 1 };
	cr_assert_eq(harness_init(&h, &cfg, 0), -EINVAL); /* multi-line command */
	c.text = "ok";
	cfg.nonce = "bad nonce!";
	cr_assert_eq(harness_init(&h, &cfg, 0), -EINVAL);
	cfg.nonce = NULL;
	cfg.ncommands = 0;
	cr_assert_eq(harness_init(&h, &cfg, 0), -EINVAL);
}
