/* The pKVM hypercall answers StarryOS's aarch64-crosvm-virt asserts on (PLATFORMS.md §3). */
#include <criterion/criterion.h>

#include "arch/aarch64/pkvm.h"

static struct pkvm_stats stats;

Test(pkvm, mmio_guard_info_gives_the_granule_and_x1_one)
{
	uint64_t args[3] = { 0, 0, 0 }, ret[4];
	cr_assert_eq(pkvm_answer(PKVM_HYP_MMIO_GUARD_INFO, args, ret, &stats), 2);
	cr_assert_eq(ret[0], 0x1000);
	cr_assert_eq(ret[1], 1, "StarryOS asserts x1 == 1");
	cr_assert_eq(pkvm_args_needed(PKVM_HYP_MMIO_GUARD_INFO), 0, "no register to read");
}

Test(pkvm, mmio_guard_map_succeeds_one_granule_at_a_time_never_more_than_asked)
{
	uint64_t args[3] = { 0x72000000, 1, 0 }, ret[4];
	cr_assert_eq(pkvm_args_needed(PKVM_HYP_MMIO_GUARD_MAP), 1u << 1, "only x2 (the count) is read");
	cr_assert_eq(pkvm_answer(PKVM_HYP_MMIO_GUARD_MAP, args, ret, &stats), 2);
	cr_assert_eq(ret[0], 0, "x0 must be 0, or StarryOS panics");
	cr_assert_eq(ret[1], 1, "one granule done; 0 would loop forever");
	args[1] = 16;
	pkvm_answer(PKVM_HYP_MMIO_GUARD_MAP, args, ret, &stats);
	cr_assert_eq(ret[1], 1, "the guest loops for the rest");
	args[1] = 0;
	pkvm_answer(PKVM_HYP_MMIO_GUARD_MAP, args, ret, &stats);
	cr_assert_eq(ret[1], 0, "more than asked would fail its assert");
}

Test(pkvm, share_unshare_succeed_and_the_rest_is_not_supported)
{
	uint64_t args[3] = { 0x80100000, 1, 0 }, ret[4];
	struct pkvm_stats s = { 0 };
	cr_assert_eq(pkvm_answer(PKVM_HYP_MEM_SHARE, args, ret, &s), 1);
	cr_assert_eq(ret[0], 0);
	cr_assert_eq(pkvm_answer(PKVM_HYP_MEM_UNSHARE, args, ret, &s), 1);
	cr_assert_eq(ret[0], 0);
	for (uint32_t f = PKVM_HYP_FIRST; f < PKVM_HYP_FIRST + PKVM_HYP_COUNT; f++) {
		if (f == PKVM_HYP_MEM_SHARE || f == PKVM_HYP_MEM_UNSHARE || f == PKVM_HYP_MMIO_GUARD_INFO ||
		    f == PKVM_HYP_MMIO_GUARD_MAP)
			continue;
		pkvm_answer(f, args, ret, &s);
		cr_assert_eq(ret[0], SMCCC_RET_NOT_SUPPORTED, "0x%x", f);
	}
	cr_assert_eq(s.mem_shares, 2);
	cr_assert_eq(s.unsupported, 5);
	cr_assert_eq(s.calls, 7);
	cr_assert_eq(PKVM_HYP_FIRST + PKVM_HYP_COUNT - 1, PKVM_HYP_MMIO_GUARD_UNMAP, "the filter's last function");
}
