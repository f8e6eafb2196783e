/* The i8042 reduced to its reset line. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/i8042.h"

static struct i8042 kbc;
static int resets;

static void stop_request(void *opaque, enum vm_stop_reason reason)
{
	(void)opaque;
	cr_assert_eq(reason, VM_STOP_RESET);
	resets++;
}

static void setup(void)
{
	resets = 0;
	i8042_init(&kbc, (struct vm_stopper){ stop_request, NULL });
}

TestSuite(i8042, .init = setup);

Test(i8042, pulse_reset_command_resets)
{
	uint8_t cmd = 0xfe;
	i8042_command_ops.write(&kbc, 0, &cmd, 1);
	cr_assert_eq(resets, 1);
}

Test(i8042, other_commands_and_data_are_ignored)
{
	for (unsigned int c = 0; c < 256; c++) {
		uint8_t b = (uint8_t)c;
		if (c != 0xfe)
			i8042_command_ops.write(&kbc, 0, &b, 1);
		i8042_data_ops.write(&kbc, 0, &b, 1);
	}
	cr_assert_eq(resets, 0);
}

Test(i8042, status_says_buffers_empty_and_self_test_passed)
{
	uint8_t st[4];
	memset(st, 0xcc, sizeof(st));
	i8042_command_ops.read(&kbc, 0, st, 4);
	cr_assert_eq(st[0] & 0x03, 0, "output and input buffers empty");
	cr_assert_eq(st[0] & 0x04, 0x04, "system flag");
	cr_assert_eq(st[1], 0);
	uint8_t data = 0xcc;
	i8042_data_ops.read(&kbc, 0, &data, 1);
	cr_assert_eq(data, 0);
}
