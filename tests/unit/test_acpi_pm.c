/* ACPI PM1a event/control block: power off through SLP_EN with SLP_TYP 0, the register
 * byte layout, SCI_EN, and write-one-to-clear status. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/acpi_pm.h"
#include "vmm/log.h"

#define PM1_STS 0
#define PM1_EN 2
#define PM1_CNT 4

static struct acpi_pm pm;
static int stop_calls;
static enum vm_stop_reason last_reason;
static int stopper_cookie;

static void stop_request(void *opaque, enum vm_stop_reason reason)
{
	cr_assert_eq(opaque, &stopper_cookie);
	stop_calls++;
	last_reason = reason;
}

static void setup(void)
{
	log_threshold = LOG_ERROR; /* the ignored sleep types warn */
	stop_calls = 0;
	last_reason = VM_RUNNING;
	acpi_pm_init(&pm, (struct vm_stopper){ stop_request, &stopper_cookie });
}

TestSuite(acpi_pm, .init = setup);

static void wr(uint64_t offset, uint64_t value, uint32_t len)
{
	uint8_t data[8];
	bus_data_put(data, len, value);
	acpi_pm_bus_ops.write(&pm, offset, data, len);
}

static uint64_t rd(uint64_t offset, uint32_t len)
{
	uint8_t data[8];
	memset(data, 0xcc, sizeof(data));
	acpi_pm_bus_ops.read(&pm, offset, data, len);
	return bus_data_get(data, len);
}

Test(acpi_pm, slp_en_with_type_0_powers_off)
{
	wr(PM1_CNT, 0x2000, 2); /* what StarryOS writes to 0x604 */
	cr_assert_eq(stop_calls, 1);
	cr_assert_eq(last_reason, VM_STOP_POWEROFF);
}

Test(acpi_pm, linux_style_write_keeps_sci_en)
{
	wr(PM1_CNT, (ACPI_PM_S5_SLP_TYP << 10) | 0x2000 | 0x0001, 2);
	cr_assert_eq(stop_calls, 1);
	cr_assert_eq(last_reason, VM_STOP_POWEROFF);
}

Test(acpi_pm, other_sleep_types_do_not_power_off)
{
	for (unsigned int typ = 1; typ < 8; typ++) {
		wr(PM1_CNT, (typ << 10) | 0x2000, 2);
		cr_assert_eq(stop_calls, 0, "SLP_TYP %u is not S5 here", typ);
	}
}

Test(acpi_pm, slp_typ_without_slp_en_does_nothing)
{
	wr(PM1_CNT, 0x0000, 2);
	wr(PM1_CNT, 5 << 10, 2);
	wr(PM1_CNT, 0xdfff, 2);
	cr_assert_eq(stop_calls, 0);
}

Test(acpi_pm, byte_wise_write_of_the_control_register)
{
	wr(PM1_CNT, 0x00, 1);
	cr_assert_eq(stop_calls, 0);
	wr(PM1_CNT + 1, 0x20, 1); /* SLP_EN lives in the high byte */
	cr_assert_eq(stop_calls, 1);
	cr_assert_eq(last_reason, VM_STOP_POWEROFF);
}

Test(acpi_pm, dword_write_spanning_enable_and_control)
{
	wr(PM1_EN, 0x20000100u, 4); /* PM1_EN = 0x0100, PM1_CNT = 0x2000 */
	cr_assert_eq(stop_calls, 1);
	cr_assert_eq(rd(PM1_EN, 2), 0x0100);
}

Test(acpi_pm, writes_below_the_control_register_never_sleep)
{
	wr(PM1_STS, 0x20002000u, 4);
	cr_assert_eq(stop_calls, 0);
	cr_assert_eq(rd(PM1_EN, 2), 0x2000, "that was the enable register");
}

Test(acpi_pm, sci_en_reads_back_set_and_slp_en_reads_zero)
{
	cr_assert_eq(rd(PM1_CNT, 2), 0x0001, "in ACPI mode from reset");
	wr(PM1_CNT, 0x0000, 2);
	cr_assert_eq(rd(PM1_CNT, 2) & 1, 1, "SCI_EN cannot be cleared");
	wr(PM1_CNT, (5 << 10) | 0x2000, 2);
	uint16_t cnt = (uint16_t)rd(PM1_CNT, 2);
	cr_assert_eq(cnt & 0x2000, 0, "SLP_EN is write-only");
	cr_assert_eq(cnt & 0x0001, 1);
	cr_assert_eq((cnt >> 10) & 7, 5, "SLP_TYP keeps its value");
}

Test(acpi_pm, enable_register_round_trip_and_byte_layout)
{
	wr(PM1_EN, 0x0121, 2);
	cr_assert_eq(rd(PM1_EN, 2), 0x0121);
	cr_assert_eq(rd(PM1_EN, 1), 0x21);
	cr_assert_eq(rd(PM1_EN + 1, 1), 0x01);
	cr_assert_eq(rd(PM1_STS, 4), 0x01210000u, "status low word, enable high word");
	cr_assert_eq(rd(PM1_CNT + 1, 1), 0x00);
}

Test(acpi_pm, reads_past_the_block_are_all_ones)
{
	cr_assert_eq(rd(PM1_CNT, 4), 0xffff0001u);
	cr_assert_eq(rd(5, 2), 0xff00);
}

Test(acpi_pm, status_is_write_one_to_clear)
{
	pm.status = 0x8101;
	wr(PM1_STS, 0x0001, 2);
	cr_assert_eq(rd(PM1_STS, 2), 0x8100, "only the written one cleared");
	wr(PM1_STS, 0x0000, 2);
	cr_assert_eq(rd(PM1_STS, 2), 0x8100, "zeros change nothing");
	wr(PM1_STS, 0xffff, 2);
	cr_assert_eq(rd(PM1_STS, 2), 0x0000);
	pm.status = 0x0100;
	wr(PM1_STS, 0x0100, 2);
	cr_assert_eq(pm.status, 0, "a guest cannot set status bits");
}

/* Regression test, once a bug (devices/acpi_pm.c, acpi_pm_write): the write is merged into a byte image of all three
 * registers read back from the current state, and then the whole status word of that image
 * is applied as write-one-to-clear. Bytes of PM1_STS the access did not cover therefore hold
 * the current status bits and clear them: a 1-byte write of 0x01 to offset 0 with status
 * 0x8101 leaves 0 instead of 0x8100, and any write to PM1_EN or PM1_CNT alone clears all of
 * PM1_STS. Latent today (nothing sets a status bit yet), wrong as soon as something does
 * (power button, timer overflow). */
Test(acpi_pm, status_bytes_not_written_are_not_cleared)
{
	pm.status = 0x8101;
	wr(PM1_STS, 0x01, 1);
	cr_assert_eq(pm.status, 0x8100, "byte write to the low half cleared the high half: 0x%04x", pm.status);
	wr(PM1_EN, 0x0100, 2);
	cr_assert_eq(pm.status, 0x8100, "a write to PM1_EN cleared PM1_STS: 0x%04x", pm.status);
	wr(PM1_CNT, 0x0001, 2);
	cr_assert_eq(pm.status, 0x8100, "a write to PM1_CNT cleared PM1_STS: 0x%04x", pm.status);
}

Test(acpi_pm, no_stopper_is_harmless)
{
	acpi_pm_init(&pm, (struct vm_stopper){ 0 });
	wr(PM1_CNT, 0x2000, 2);
	cr_assert_eq(stop_calls, 0);
}

Test(acpi_pm, through_the_port_bus)
{
	struct bus bus;
	bus_init(&bus, "pio");
	bus.decode_by_start = true;
	cr_assert_eq(bus_register(&bus, 0x600, ACPI_PM_BLOCK_LEN, &acpi_pm_bus_ops, &pm, "pm1"), 0);
	uint8_t v[2] = { 0x00, 0x20 };
	cr_assert(bus_write(&bus, 0x604, v, 2));
	cr_assert_eq(stop_calls, 1);
	bus_free(&bus);
}
