/*
 * n90vmm arm64 test guest: the machine as the guest sees it, and the interfaces between
 * its parts (guest.c: boot and checks; machine.c: the FDT's description; mmu.c; uart.c;
 * gic.c; psci.c; platform.c: what the shared virtio code needs; starry.c).
 */
#ifndef N90_GUEST_A64_GUEST_H
#define N90_GUEST_A64_GUEST_H

#include "arch.h"
#include "fdt.h"
#include "pci.h"

enum uart_kind { UART_NONE, UART_16550, UART_PL011 };

struct uart_desc {
	enum uart_kind kind;
	u64 base;
	u32 shift, width; /* 16550: reg-shift, reg-io-width (1 or 4) */
	u32 intid;        /* 0: none */
	u8 edge;
};

/* One interrupt-map entry of the PCI host: function (phys.hi bits 15:8 under the mask) and
 * INTx pin -> GIC INTID. */
struct intx_route {
	u32 devfn, pin, intid;
	u8 edge;
};

#define MIB2 (2ull << 20)
#define MAX_RAM 8
#define MAX_VMMIO 32
#define MAX_INTX 64

struct machine {
	struct { u64 base, size; } ram[MAX_RAM];
	u32 nram;
	struct uart_desc uart;
	u64 gicd, gicr, gicr_size; /* the first redistributor region */
	u32 timer_intid;           /* EL1 physical timer (a PPI) */
	int psci_smc;              /* conduit: SMC, else HVC */
	u64 mpidr[MAX_CPUS];
	u8 cpu_psci[MAX_CPUS];     /* enable-method = "psci" */
	u32 ncpus;
	int have_pci;
	struct pci_host pci;
	u32 intx_mask_devfn, intx_mask_pin;
	struct intx_route intx[MAX_INTX];
	u32 nintx;
	struct { u64 base; u32 intid; u8 edge; } vmmio[MAX_VMMIO];
	u32 nvmmio;
	u64 rtc;                   /* PL031 / PL030 data register block; 0: none */
	u32 rtc_periphid;          /* from arm,primecell-periphid; 0: read the ID registers */
};

extern struct machine mach;
extern struct fdt fdt;

/* ---- machine.c ---- */
/* Fills mach from the FDT; NULL, or the first thing the machine lacks. */
const char *machine_from_fdt(void);
/* The GIC INTID of interrupt specifier `i` of `node` (3 cells: SPI/PPI, number, flags). */
int fdt_irq(int node, u32 i, u32 *intid, u8 *edge);

/* ---- mmu.c, head.S ---- */
struct mmu_regs {
	u64 ttbr0, tcr, mair, sctlr;
};
extern struct mmu_regs mmu_regs;
const char *mmu_init(void);
void mmu_switch_on(struct mmu_regs *r, u64 start, u64 end);
extern const char _head[], _end[], __bss_start[], __bss_end[];
extern const char secondary_entry[];

/* ---- uart.c ---- */
/* The console: `starry` uses StarryOS's 16550 sequence (RX interrupt enabled at once). */
void uart_init(const struct uart_desc *u, int starry);
/* Lets the input UART's RX interrupt in (device and GIC). */
void uart_rx_enable(void);
u32 uart_rx_intid(void);
void uart_irq(void);
/* A byte the interrupt handler received (-1: none yet), and how many interrupts brought
 * some. */
int uart_getc(void);
extern volatile u32 uart_rx_irqs;
/* Moves the console to a second UART (uart=pci: QEMU's pci-serial), see uart.c. */
void uart_switch(const struct uart_desc *u);

/* ---- gic.c (GICv3) and the generic timer ---- */
const char *gic_init_dist(void);
const char *gic_init_cpu(void); /* this CPU's redistributor and CPU interface */
void gic_enable(u32 intid, int edge);
extern volatile u32 timer_irqs[MAX_CPUS];
void timer_irq(void); /* its interrupt arrived (arm64_irq) */
/* One timer interrupt on this CPU, on time; NULL or why not. */
const char *timer_check(void);

/* ---- psci.c: SMC Calling Convention ---- */
struct smccc_res {
	u64 a0, a1, a2, a3;
};
void smccc(int smc, u64 fn, u64 a1, u64 a2, u64 a3, struct smccc_res *r);
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0xc4000003u
#define PSCI_AFFINITY_INFO 0xc4000004u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000au
/* A PSCI call through the FDT's conduit; returns x0. */
u64 psci(u64 fn, u64 a1, u64 a2, u64 a3);

/* ---- guest.c ---- */
void arm64_main(u64 x0, u64 x1, u64 x2, u64 x3, u64 el, u64 sctlr, u64 daif, u64 fdt_in_bss);
void secondary_main(u32 cpu);
void arm64_irq(void);
void arm64_exception(u64 kind, u64 *frame);
void poweroff(void) __attribute__((noreturn));

/* ---- platform.c ---- */
/* A GIC SPI fired: acknowledges the virtio devices on it. */
void platform_irq(u32 intid);
/* Bus 0 device `dev`'s INTx pin (1..4) through the host's interrupt-map; 0 if routed. */
int platform_intx(u32 dev, u32 pin, u32 *intid, u8 *edge);

/* ---- starry.c: StarryOS's aarch64-crosvm-virt view (starry=1) ---- */
/* The machine as StarryOS hard-codes it. */
void starry_describe(void);
/* The pKVM hypercalls StarryOS makes with its MMU off; results kept for starry_checks. */
void starry_early(void);
/* Before the general checks: whether the early hypercalls worked (if not, nothing of the
 * hard-coded machine can be touched: returns 0). */
int starry_hypercalls_ok(void);
void starry_checks(void);
void starry_end(void);

#endif
