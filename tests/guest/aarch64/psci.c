/*
 * n90vmm arm64 test guest: the SMC Calling Convention (ARM DEN 0028) and PSCI (ARM DEN
 * 0022) over it.
 */
#include "guest.h"

/* SMCCC: arguments in x0..x3, results in x0..x3; x4..x17 may be clobbered. */
void smccc(int smc, u64 fn, u64 a1, u64 a2, u64 a3, struct smccc_res *r)
{
	register u64 x0 __asm__("x0") = fn;
	register u64 x1 __asm__("x1") = a1;
	register u64 x2 __asm__("x2") = a2;
	register u64 x3 __asm__("x3") = a3;
	if (smc)
		__asm__ volatile("smc #0"
				 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				 :
				 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
				   "x17", "memory");
	else
		__asm__ volatile("hvc #0"
				 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				 :
				 : "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16",
				   "x17", "memory");
	r->a0 = x0;
	r->a1 = x1;
	r->a2 = x2;
	r->a3 = x3;
}

u64 psci(u64 fn, u64 a1, u64 a2, u64 a3)
{
	struct smccc_res r;
	smccc(mach.psci_smc, fn, a1, a2, a3, &r);
	return r.a0;
}
