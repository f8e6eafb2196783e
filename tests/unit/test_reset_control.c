/* Port 0xCF9 reset control. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/reset_control.h"

static struct reset_control rc;
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
	memset(&rc, 0, sizeof(rc));
	rc.stop = (struct vm_stopper){ stop_request, NULL };
}

TestSuite(reset_control, .init = setup);

static void wr(uint8_t v)
{
	reset_control_bus_ops.write(&rc, 0, &v, 1);
}

static uint8_t rd(void)
{
	uint8_t v[2] = { 0xcc, 0xcc };
	reset_control_bus_ops.read(&rc, 0, v, 2);
	cr_assert_eq(v[1], 0);
	return v[0];
}

Test(reset_control, full_reset_value_resets)
{
	wr(0x06); /* SYS_RST | RST_CPU: the FADT's RESET_VALUE */
	cr_assert_eq(resets, 1);
	cr_assert_eq(rd(), 0x02, "RST_CPU does not stick");
}

Test(reset_control, rst_cpu_alone_resets)
{
	wr(0x04);
	cr_assert_eq(resets, 1);
}

Test(reset_control, other_bits_are_stored_without_reset)
{
	wr(0x02); /* Linux writes SYS_RST first, then SYS_RST | RST_CPU */
	cr_assert_eq(resets, 0);
	cr_assert_eq(rd(), 0x02);
	wr(0x0a);
	cr_assert_eq(resets, 0);
	cr_assert_eq(rd(), 0x0a);
	wr(0x0e);
	cr_assert_eq(resets, 1);
}
