#include "arch/aarch64/pkvm.h"

unsigned int pkvm_args_needed(uint32_t function)
{
	/* MMIO guard map answers how many granules it mapped: it needs the count asked (x2). */
	return function == PKVM_HYP_MMIO_GUARD_MAP ? 1u << 1 : 0;
}

unsigned int pkvm_answer(uint32_t function, const uint64_t args[3], uint64_t ret[4], struct pkvm_stats *stats)
{
	stats->calls++;
	ret[0] = ret[1] = ret[2] = ret[3] = 0;
	switch (function) {
	case PKVM_HYP_MMIO_GUARD_INFO:
		/* x0 = the granule; StarryOS asserts x1 == 1 (the guard is available). */
		ret[0] = PKVM_MMIO_GUARD_GRANULE;
		ret[1] = 1;
		return 2;
	case PKVM_HYP_MMIO_GUARD_MAP:
		/* x1 = granules done. StarryOS loops while fewer than asked are done and asserts
		 * that no more are: report one granule per call, as pKVM does, but never more
		 * than asked (a request for 0 gets 0). Nothing is mapped: stock KVM traps every
		 * access to memory that is not RAM anyway. */
		stats->mmio_guard_maps++;
		ret[0] = SMCCC_RET_SUCCESS;
		ret[1] = args[1] >= 1 ? 1 : 0;
		return 2;
	case PKVM_HYP_MEM_SHARE:
	case PKVM_HYP_MEM_UNSHARE:
		/* A guest here shares all its memory with the host already. */
		stats->mem_shares++;
		ret[0] = SMCCC_RET_SUCCESS;
		return 1;
	default:
		/* Enroll, unmap and the reserved IDs in the forwarded range: StarryOS never calls
		 * them; a guest that does learns they are not there (SMCCC 1.4 §7.1). */
		stats->unsupported++;
		ret[0] = SMCCC_RET_NOT_SUPPORTED;
		return 1;
	}
}
