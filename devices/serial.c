#include "devices/serial.h"

#include <string.h>

/* Register offsets and bits (PC16550D datasheet; Linux include/uapi/linux/serial_reg.h). */
#define REG_RBR_THR 0
#define REG_IER 1
#define REG_IIR_FCR 2
#define REG_LCR 3
#define REG_MCR 4
#define REG_LSR 5
#define REG_MSR 6
#define REG_SCR 7

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* THR empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IIR_NO_INT 0x01
#define IIR_RLSI 0x06
#define IIR_RDI 0x04
#define IIR_THRI 0x02
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

static unsigned int rx_capacity(const struct serial16550 *s)
{
	return (s->fcr & FCR_ENABLE) ? SERIAL_FIFO_SIZE : 1;
}

/* Highest-priority pending interrupt as IIR reports it (datasheet table 4). */
static uint8_t pending_iir(const struct serial16550 *s)
{
	if ((s->ier & IER_RLSI) && (s->lsr & LSR_OE))
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI;
	if ((s->ier & IER_THRI) && s->thr_interrupt)
		return IIR_THRI;
	return IIR_NO_INT;
}

/* On a PC the UART's interrupt output is gated by OUT2 (drivers set it to enable IRQs) and
 * drives a level-triggered line: raise and lower it as the condition comes and goes. Wired
 * to an edge-triggered interrupt (crosvm-arm64's SPI 0), the controller only sees rising
 * edges, so each new event (a byte received, THR emptied, an interrupt enabled) while the
 * condition holds must give a new pulse, or a guest that reads input only from its interrupt
 * handler never hears of the second byte (crosvm's serial does the same). */
static void update_irq(struct serial16550 *s, bool event)
{
	int level = pending_iir(s) != IIR_NO_INT && (!s->wiring.out2_gates_irq || (s->mcr & MCR_OUT2));
	if (s->wiring.edge) {
		bool pulse = level && (event || !s->irq_level);
		s->irq_level = level;
		if (pulse) {
			s->stats.irqs++;
			irq_line_set(&s->irq, 1);
			irq_line_set(&s->irq, 0);
		}
		return;
	}
	if (level != s->irq_level) {
		s->irq_level = level;
		if (level)
			s->stats.irqs++;
		irq_line_set(&s->irq, level);
	}
}

static void rx_push(struct serial16550 *s, uint8_t byte)
{
	if (s->rx_count >= rx_capacity(s)) {
		s->lsr |= LSR_OE;
		s->stats.rx_overruns++;
		return;
	}
	s->rx_fifo[(s->rx_head + s->rx_count) % SERIAL_FIFO_SIZE] = byte;
	s->rx_count++;
	s->stats.rx_bytes++;
}

void serial_init(struct serial16550 *s, const char *name, struct irq_line irq, struct serial_sink sink)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->name = name;
	s->irq = irq;
	s->sink = sink;
	s->lsr = LSR_THRE | LSR_TEMT;
	s->mcr = MCR_OUT2;
	s->thr_interrupt = true;
	s->wiring = (struct serial_wiring){ .out2_gates_irq = true, .edge = false };
}

void serial_set_wiring(struct serial16550 *s, struct serial_wiring wiring)
{
	s->wiring = wiring;
}

void serial_destroy(struct serial16550 *s)
{
	pthread_mutex_destroy(&s->lock);
}

static uint8_t msr_value(const struct serial16550 *s)
{
	if (s->mcr & MCR_LOOP) {
		/* Loopback wires the modem outputs back to the inputs (Linux probes this). */
		return (uint8_t)(((s->mcr & MCR_RTS) ? MSR_CTS : 0) | ((s->mcr & MCR_DTR) ? MSR_DSR : 0) |
				 ((s->mcr & MCR_OUT1) ? MSR_RI : 0) | ((s->mcr & MCR_OUT2) ? MSR_DCD : 0));
	}
	/* A console is always connected: carrier, data set ready, clear to send. */
	return MSR_DCD | MSR_DSR | MSR_CTS;
}

static uint8_t read_locked(struct serial16550 *s, unsigned int reg)
{
	uint8_t v = 0;
	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx_fifo[s->rx_head];
			s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_SIZE;
			s->rx_count--;
		}
		break;
	case REG_IER:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case REG_IIR_FCR:
		v = pending_iir(s);
		/* Reading IIR while it reports THR empty acknowledges that interrupt. */
		if (v == IIR_THRI)
			s->thr_interrupt = false;
		if (s->fcr & FCR_ENABLE)
			v |= IIR_FIFO_ENABLED;
		break;
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		v = s->lsr | (s->rx_count ? LSR_DR : 0);
		s->lsr &= (uint8_t)~LSR_OE; /* error bits clear on read */
		break;
	case REG_MSR:
		return msr_value(s);
	case REG_SCR:
		return s->scr;
	}
	update_irq(s, false);
	return v;
}

static void write_locked(struct serial16550 *s, unsigned int reg, uint8_t v)
{
	switch (reg) {
	case REG_RBR_THR:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		if (s->mcr & MCR_LOOP) {
			rx_push(s, v);
		} else {
			s->stats.tx_bytes++;
			if (s->sink.write)
				s->sink.write(s->sink.opaque, v);
		}
		/* The byte left at once: THR is empty again and says so. */
		s->thr_interrupt = true;
		break;
	case REG_IER:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		/* Enabling the THR interrupt while THR is empty raises it immediately. */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thr_interrupt = true;
		s->ier = v & 0x0f;
		break;
	case REG_IIR_FCR:
		if ((v & FCR_ENABLE) != (s->fcr & FCR_ENABLE) || (v & FCR_CLEAR_RX))
			s->rx_count = s->rx_head = 0; /* FIFO mode changes reset the FIFO */
		s->fcr = v & (FCR_ENABLE | 0xc0);
		break;
	case REG_LCR:
		s->lcr = v;
		return;
	case REG_MCR:
		s->mcr = v & 0x1f;
		break;
	case REG_LSR:
	case REG_MSR:
		return; /* read-only */
	case REG_SCR:
		s->scr = v;
		return;
	}
	/* A byte sent (THR empty again) or an interrupt enabled is a new event; MCR and FCR
	 * writes only change whether the condition holds. */
	update_irq(s, reg == REG_RBR_THR || reg == REG_IER);
}

uint8_t serial_read_reg(struct serial16550 *s, unsigned int reg)
{
	pthread_mutex_lock(&s->lock);
	bool was_full = s->rx_was_full;
	uint8_t v = read_locked(s, reg & 7);
	bool notify = was_full && s->rx_count < rx_capacity(s);
	if (notify)
		s->rx_was_full = false;
	pthread_mutex_unlock(&s->lock);
	if (notify && s->sink.rx_ready)
		s->sink.rx_ready(s->sink.opaque);
	return v;
}

void serial_write_reg(struct serial16550 *s, unsigned int reg, uint8_t value)
{
	pthread_mutex_lock(&s->lock);
	write_locked(s, reg & 7, value);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial16550 *s, const uint8_t *buf, size_t len)
{
	size_t n = 0;
	pthread_mutex_lock(&s->lock);
	/* In loopback the receiver is disconnected from the line. */
	if (!(s->mcr & MCR_LOOP)) {
		while (n < len && s->rx_count < rx_capacity(s))
			rx_push(s, buf[n++]);
		if (n < len)
			s->rx_was_full = true;
		update_irq(s, n > 0);
	} else {
		n = len;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void serial_bus_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
	/* Byte registers: a wider access reads the register at the offset, zero-extended. */
	memset(data, 0, len);
	data[0] = serial_read_reg(opaque, (unsigned int)offset);
}

static void serial_bus_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
	(void)len;
	serial_write_reg(opaque, (unsigned int)offset, data[0]);
}

const struct bus_ops serial_bus_ops = { .read = serial_bus_read, .write = serial_bus_write };
