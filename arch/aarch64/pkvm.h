/* The pKVM guest hypercalls StarryOS's aarch64-crosvm-virt makes (PLATFORMS.md §3), answered
 * in user space: a stock KVM forwards them with KVM_ARM_VM_SMCCC_FILTER (Linux >= 6.4) and
 * n90vmm replies as pKVM would for a guest with nothing to protect. The answers are a pure
 * function (tested on any host); arch/aarch64/cpu.c moves them in and out of registers. */
#ifndef N90_A64_PKVM_H
#define N90_A64_PKVM_H

#include <stdint.h>

/* The vendor-hypervisor function IDs (SMC64 fast calls, owner 6 = vendor hypervisor) pKVM
 * defines for protected guests; the filter forwards [FIRST, FIRST + COUNT). */
#define PKVM_HYP_MEM_SHARE 0xc6000003u
#define PKVM_HYP_MEM_UNSHARE 0xc6000004u
#define PKVM_HYP_MMIO_GUARD_INFO 0xc6000005u
#define PKVM_HYP_MMIO_GUARD_ENROLL 0xc6000006u
#define PKVM_HYP_MMIO_GUARD_MAP 0xc600000au
#define PKVM_HYP_MMIO_GUARD_UNMAP 0xc600000bu
#define PKVM_HYP_FIRST PKVM_HYP_MEM_SHARE
#define PKVM_HYP_COUNT 9u

/* The MMIO guard granule n90vmm reports: StarryOS divides region sizes by it. */
#define PKVM_MMIO_GUARD_GRANULE 0x1000u
#define SMCCC_RET_SUCCESS 0
#define SMCCC_RET_NOT_SUPPORTED ((uint64_t)-1)

struct pkvm_stats {
	uint64_t calls, mmio_guard_maps, mem_shares, unsupported;
};

/* Which of x1..x3 (bit 0 = x1) the answer to `function` needs read from the guest, so the
 * caller fetches no register it does not need: these calls are a boot-time hot path. */
unsigned int pkvm_args_needed(uint32_t function);
/* Answers `function` called with args (x1..x3): fills ret (x0..x3) and returns how many of
 * them the guest must be given (x0 first). Counts in stats. */
unsigned int pkvm_answer(uint32_t function, const uint64_t args[3], uint64_t ret[4], struct pkvm_stats *stats);

#endif
