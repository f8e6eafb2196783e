/* Port 0x80 progress codes. */
#include <criterion/criterion.h>

#include "devices/post_code.h"

Test(post_code, last_code_and_count)
{
	struct post_code pc = { 0 };
	uint8_t v;
	for (unsigned int i = 1; i <= 5; i++) {
		v = (uint8_t)(0x10 * i);
		post_code_bus_ops.write(&pc, 0, &v, 1);
	}
	cr_assert_eq(pc.writes, 5);
	cr_assert_eq(pc.last, 0x50);
	uint8_t out[2] = { 0xcc, 0xcc };
	post_code_bus_ops.read(&pc, 0, out, 2);
	cr_assert_eq(out[0], 0x50);
	cr_assert_eq(out[1], 0);
}
