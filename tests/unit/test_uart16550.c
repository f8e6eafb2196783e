/* The 16550 register model as Linux's 8250 driver and a polled kernel console use it. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/serial.h"

enum { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

static struct serial16550 s;
static uint8_t out[256];
static size_t out_len;
static int irq_level, irq_changes, rx_ready_calls;

static void sink_write(void *o, uint8_t b)
{
	(void)o;
	out[out_len++ % sizeof(out)] = b;
}

static void sink_rx_ready(void *o)
{
	(void)o;
	rx_ready_calls++;
}

static void set_irq(void *o, unsigned int gsi, int level)
{
	(void)o;
	cr_assert_eq(gsi, 4);
	irq_level = level;
	irq_changes++;
}

static void setup(void)
{
	out_len = 0;
	irq_level = irq_changes = rx_ready_calls = 0;
	serial_init(&s, "COM1", (struct irq_line){ set_irq, NULL, 4 },
		    (struct serial_sink){ sink_write, sink_rx_ready, NULL });
}

TestSuite(uart16550, .init = setup);

Test(uart16550, transmit_reaches_sink_and_thr_stays_empty)
{
	serial_write_reg(&s, RBR, 'h');
	serial_write_reg(&s, RBR, 'i');
	cr_assert_eq(out_len, 2);
	cr_assert(memcmp(out, "hi", 2) == 0);
	cr_assert_eq(serial_read_reg(&s, LSR) & 0x60, 0x60, "THRE and TEMT");
	cr_assert_eq(s.stats.tx_bytes, 2);
}

Test(uart16550, divisor_latch_and_scratch)
{
	serial_write_reg(&s, LCR, 0x80);
	serial_write_reg(&s, RBR, 0x01);
	serial_write_reg(&s, IER, 0x00);
	cr_assert_eq(serial_read_reg(&s, RBR), 0x01);
	cr_assert_eq(out_len, 0, "a divisor write is not data");
	serial_write_reg(&s, LCR, 0x03);
	serial_write_reg(&s, SCR, 0x5a);
	cr_assert_eq(serial_read_reg(&s, SCR), 0x5a);
	cr_assert_eq(serial_read_reg(&s, LCR), 0x03);
}

Test(uart16550, thr_empty_interrupt_raised_and_acknowledged)
{
	serial_write_reg(&s, MCR, 0x08); /* OUT2 gates the IRQ on a PC */
	serial_read_reg(&s, IIR);        /* acknowledge the reset-time THRE */
	serial_write_reg(&s, IER, 0x02);
	cr_assert_eq(irq_level, 1);
	cr_assert_eq(serial_read_reg(&s, IIR) & 0x0f, 0x02, "THRI reported");
	cr_assert_eq(irq_level, 0, "IIR read acknowledged it");
	cr_assert_eq(serial_read_reg(&s, IIR) & 0x01, 0x01, "nothing pending");
	serial_write_reg(&s, RBR, 'x');
	cr_assert_eq(irq_level, 1, "transmitting empties THR again");
}

Test(uart16550, out2_gates_the_interrupt_line)
{
	serial_write_reg(&s, MCR, 0x00);
	serial_write_reg(&s, IER, 0x01);
	serial_receive(&s, (const uint8_t *)"a", 1);
	cr_assert_eq(irq_level, 0);
	serial_write_reg(&s, MCR, 0x08);
	cr_assert_eq(irq_level, 1);
}

Test(uart16550, receive_priority_and_fifo_depth)
{
	serial_write_reg(&s, MCR, 0x08);
	serial_write_reg(&s, IER, 0x03);
	/* Without FIFO enabled the receiver holds one byte. */
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"xyz", 3), 1);
	cr_assert_eq(serial_read_reg(&s, IIR) & 0x0f, 0x04, "RDI outranks THRI");
	cr_assert_eq(serial_read_reg(&s, RBR), 'x');
	serial_write_reg(&s, FCR, 0x01);
	cr_assert_eq(serial_read_reg(&s, IIR) & 0xc0, 0xc0, "FIFO enabled bits");
	uint8_t many[40];
	memset(many, 'q', sizeof(many));
	cr_assert_eq(serial_receive(&s, many, sizeof(many)), SERIAL_FIFO_SIZE);
	cr_assert(serial_read_reg(&s, LSR) & 0x01, "DR");
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		cr_assert_eq(serial_read_reg(&s, RBR), 'q');
	cr_assert_eq(serial_read_reg(&s, LSR) & 0x01, 0);
	cr_assert_eq(rx_ready_calls, 2, "each refusal is followed by one resume once space opens");
}

Test(uart16550, loopback_as_linux_probes_it)
{
	serial_write_reg(&s, MCR, 0x1a); /* LOOP | OUT2 | RTS */
	cr_assert_eq(serial_read_reg(&s, MSR) & 0xf0, 0x90, "DCD (OUT2) and CTS (RTS)");
	serial_write_reg(&s, MCR, 0x1f);
	cr_assert_eq(serial_read_reg(&s, MSR) & 0xf0, 0xf0);
	serial_write_reg(&s, RBR, 'L');
	cr_assert_eq(out_len, 0, "looped back, not sent");
	cr_assert_eq(serial_read_reg(&s, RBR), 'L');
	serial_write_reg(&s, MCR, 0x0b);
	cr_assert_eq(serial_read_reg(&s, MSR) & 0xb0, 0xb0, "connected: DCD DSR CTS");
}

Test(uart16550, overrun_reported_once)
{
	serial_write_reg(&s, FCR, 0x00);
	serial_receive(&s, (const uint8_t *)"a", 1);
	serial_write_reg(&s, MCR, 0x10); /* loopback pushes past a full receiver */
	serial_write_reg(&s, RBR, 'b');
	cr_assert(serial_read_reg(&s, LSR) & 0x02, "OE");
	cr_assert_eq(serial_read_reg(&s, LSR) & 0x02, 0, "cleared by reading LSR");
	cr_assert_eq(s.stats.rx_overruns, 1);
}

Test(uart16550, ier_keeps_low_nibble_and_lsr_is_read_only)
{
	serial_write_reg(&s, IER, 0xff);
	cr_assert_eq(serial_read_reg(&s, IER), 0x0f);
	serial_write_reg(&s, LSR, 0x00);
	cr_assert_eq(serial_read_reg(&s, LSR) & 0x60, 0x60);
}
