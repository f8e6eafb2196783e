/*
 * n90vmm test guests: what the shared code (lib.c, pci.c, virtio*.c, hostile.c) needs from
 * an architecture. Each architecture folder (x86_64/, aarch64/) has a cpu.h, found through
 * its -I, with these inline primitives:
 *
 *   rd8..rd64(pa), wr8..wr64(pa, v)  one access of that width to RAM or MMIO (identity
 *                                    mapped); an MMIO access the monitor can decode
 *   phys(pa)                         the pointer for a physical address
 *   mb()                             full barrier: ring stores before a doorbell, an index
 *                                    read before the reads it publishes
 *   cpu_relax()                      spin-wait hint
 *   clock_now()                      a free-running counter (TSC, CNTPCT_EL0)
 *   clock_nominal_hz()               the rate timeouts are written in: CNTFRQ_EL0 on arm64; on
 *                                    x86 3 GHz, the order of a TSC (timeouts need no more;
 *                                    clock_hz() measures when a figure must be right)
 *   irq_disable()                    mask interrupts; the shared code runs masked and lets
 *                                    them in only inside irq_halt()
 *   ARCH_MAX_IRQ_DEVS                devices that can have an interrupt of their own
 *
 * and implements the functions below, plus the "architecture" part of virtio.h.
 */
#ifndef N90_GUEST_ARCH_H
#define N90_GUEST_ARCH_H

#include "lib.h"
#include "cpu.h"

/* clock_now()'s frequency, measured the same way on every monitor; 0 if unknown. */
u64 clock_hz(void);

/* Called with interrupts masked: halts until any interrupt arrives or `ns` nanoseconds
 * pass, takes the interrupt, and returns masked again. 1 if the time ran out (the
 * watchdog timer fired), 0 if something else woke it. */
int irq_halt(u64 ns);

#endif
