/*
 * n90vmm arm64 test guest: the console UART, a 16550 (crosvm-arm64: ns16550a on MMIO at
 * 0x3F8, byte stride) or a PL011 (QEMU's virt), both as the FDT describes them.
 *
 * Transmit spins on the transmitter-empty flag (bounded: a dead UART must not hang the
 * report). Receive is interrupt driven only: nothing but uart_irq() reads the receive
 * register, so input that arrives proves the RX interrupt works. On crosvm-arm64 that
 * interrupt is an edge-triggered SPI: each interrupt drains everything waiting, and a
 * 16550 must raise an edge when IER enables it with data already waiting (its INTR
 * output rises then), since the host may have typed before the guest asked.
 */
#include "guest.h"

/* 16550 registers (index, times 1 << reg-shift). */
#define U_RBR 0 /* DLAB=0, read */
#define U_THR 0 /* DLAB=0, write */
#define U_DLL 0 /* DLAB=1 */
#define U_IER 1
#define U_DLM 1 /* DLAB=1 */
#define U_IIR 2 /* read */
#define U_FCR 2 /* write */
#define U_LCR 3
#define U_MCR 4
#define U_LSR 5
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define IER_RDI 0x01

/* PL011 registers (ARM DDI 0183). */
#define PL_DR 0x00
#define PL_FR 0x18
#define PL_LCRH 0x2c
#define PL_CR 0x30
#define PL_IMSC 0x38
#define PL_ICR 0x44
#define FR_RXFE (1u << 4)
#define FR_TXFF (1u << 5)
#define IM_RX (1u << 4)
#define IM_RT (1u << 6)

/* The boot console (transmit), and the UART input comes from: the same one, unless
 * uart_switch() moved the console to a second UART. */
static struct uart_desc con, in;

static u8 u_rd(const struct uart_desc *u, u32 reg)
{
	u64 a = u->base + ((u64)reg << u->shift);
	return u->width == 4 ? (u8)rd32(a) : rd8(a);
}

static void u_wr(const struct uart_desc *u, u32 reg, u8 v)
{
	u64 a = u->base + ((u64)reg << u->shift);
	if (u->width == 4)
		wr32(a, v);
	else
		wr8(a, v);
}

static void init_16550(const struct uart_desc *u, int starry)
{
	/* Linux's early 8250 sequence (as the x86 guest: divisor 1) plus OUT2, which gates
	 * the interrupt line on PC-style wiring; StarryOS's (axplat-aarch64-peripherals
	 * ns16550a) differs in divisor 3 and its RX interrupt enabled at once. */
	u_wr(u, U_IER, 0x00);
	u_wr(u, U_LCR, 0x80);
	u_wr(u, U_DLL, starry ? 0x03 : 0x01);
	u_wr(u, U_DLM, 0x00);
	u_wr(u, U_LCR, 0x03);
	u_wr(u, U_FCR, 0xc7);
	u_wr(u, U_MCR, 0x0b); /* DTR | RTS | OUT2 */
	if (starry)
		u_wr(u, U_IER, IER_RDI);
}

static void init_uart(const struct uart_desc *u, int starry)
{
	if (u->kind == UART_16550) {
		init_16550(u, starry);
	} else if (u->kind == UART_PL011) {
		wr32(u->base + PL_CR, 0);
		wr32(u->base + PL_IMSC, 0);
		wr32(u->base + PL_ICR, 0x7ff);
		wr32(u->base + PL_LCRH, 0x60); /* 8N1, FIFOs off: one interrupt per byte */
		wr32(u->base + PL_CR, 0x301);  /* UARTEN | TXE | RXE */
	}
}

void uart_init(const struct uart_desc *u, int starry)
{
	con = in = *u;
	init_uart(u, starry);
}

static void putc_on(const struct uart_desc *u, char c)
{
	if (u->kind == UART_16550) {
		for (u32 i = 0; i < 1000000 && !(u_rd(u, U_LSR) & LSR_THRE); i++)
			cpu_relax();
		u_wr(u, U_THR, (u8)c);
	} else if (u->kind == UART_PL011) {
		for (u32 i = 0; i < 1000000 && (rd32(u->base + PL_FR) & FR_TXFF); i++)
			cpu_relax();
		wr32(u->base + PL_DR, (u8)c);
	}
}

void arch_putc(char c)
{
	putc_on(&con, c);
}

/* ---- receive ---- */

static char rx_ring[256];
static volatile u32 rx_head, rx_tail;
volatile u32 uart_rx_irqs;

static void rx_put(char c)
{
	if (rx_head - rx_tail < sizeof(rx_ring))
		rx_ring[rx_head++ % sizeof(rx_ring)] = c;
}

void uart_irq(void)
{
	u32 got = 0;
	if (in.kind == UART_16550) {
		u_rd(&in, U_IIR);
		for (u32 i = 0; i < 64 && (u_rd(&in, U_LSR) & LSR_DR); i++, got++)
			rx_put((char)u_rd(&in, U_RBR));
	} else if (in.kind == UART_PL011) {
		/* Acknowledge before draining: a byte that arrives after the last read then raises
		 * the interrupt again (cleared after the drain, it would wait unsignalled). */
		wr32(in.base + PL_ICR, IM_RX | IM_RT);
		for (u32 i = 0; i < 64 && !(rd32(in.base + PL_FR) & FR_RXFE); i++, got++)
			rx_put((char)rd32(in.base + PL_DR));
	}
	uart_rx_irqs += got != 0;
}

int uart_getc(void)
{
	if (rx_tail == rx_head)
		return -1;
	return (u8)rx_ring[rx_tail++ % sizeof(rx_ring)];
}

u32 uart_rx_intid(void)
{
	return in.intid;
}

void uart_rx_enable(void)
{
	if (!in.intid)
		return;
	gic_enable(in.intid, in.edge);
	if (in.kind == UART_16550)
		u_wr(&in, U_IER, IER_RDI);
	else if (in.kind == UART_PL011)
		wr32(in.base + PL_IMSC, IM_RX | IM_RT);
}

static void mirror_to_input_uart(const char *buf, u32 len)
{
	for (u32 i = 0; i < len; i++)
		putc_on(&in, buf[i]);
}

/* The console moves to a second UART: it gets a replay of everything printed so far and
 * every line after (lib.c's transcript mirror), and input comes from it. The boot
 * console keeps printing too. */
void uart_switch(const struct uart_desc *u)
{
	in = *u;
	init_uart(u, 0);
	console_mirror = mirror_to_input_uart;
}
