/* 16550A UART: the register model (FIFO, LSR, IIR, MCR loopback, scratch) a Linux 8250
 * driver probes and a polled kernel console spins on. Transmission is instantaneous: THR is
 * always empty, so every byte reaches the sink on the vCPU exit that wrote it. */
#ifndef N90_SERIAL_H
#define N90_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"
#include "vmm/irq.h"

#define SERIAL_FIFO_SIZE 16
#define SERIAL_REG_COUNT 8

struct serial_sink {
	/* Called with each transmitted byte; NULL drops output (COM2-4 are such sinks). */
	void (*write)(void *opaque, uint8_t byte);
	/* Called when receive space opens after the FIFO was full, so input can resume. */
	void (*rx_ready)(void *opaque);
	void *opaque;
};

struct serial_stats {
	uint64_t tx_bytes, rx_bytes, rx_overruns, irqs;
};

/* How the interrupt output is wired to the machine. */
struct serial_wiring {
	bool out2_gates_irq; /* MCR.OUT2 enables the output (PC); else always enabled */
	bool edge;           /* edge-triggered line: pulse per new event instead of a level */
};

struct serial16550 {
	pthread_mutex_t lock;
	const char *name;
	uint8_t ier, lcr, mcr, lsr, scr, dll, dlm, fcr;
	bool thr_interrupt; /* THR-empty interrupt pending (cleared by IIR read or THR write) */
	bool rx_was_full;
	uint8_t rx_fifo[SERIAL_FIFO_SIZE];
	unsigned int rx_head, rx_count;
	int irq_level;
	struct irq_line irq;
	struct serial_wiring wiring;
	struct serial_sink sink;
	struct serial_stats stats;
};

/* A PC-wired UART (OUT2-gated, level-triggered); serial_set_wiring() changes that. */
void serial_init(struct serial16550 *s, const char *name, struct irq_line irq, struct serial_sink sink);
void serial_set_wiring(struct serial16550 *s, struct serial_wiring wiring);
void serial_destroy(struct serial16550 *s);
extern const struct bus_ops serial_bus_ops;

/* Queues received bytes; returns how many fit (the rest must be offered again after
 * sink.rx_ready). */
size_t serial_receive(struct serial16550 *s, const uint8_t *buf, size_t len);

/* Direct register access, as the bus handlers do (for tests). */
uint8_t serial_read_reg(struct serial16550 *s, unsigned int reg);
void serial_write_reg(struct serial16550 *s, unsigned int reg, uint8_t value);

#endif
