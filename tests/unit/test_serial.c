/* The 16550A register model, register by register, with a fake interrupt line and sink. */
#include <criterion/criterion.h>
#include <string.h>

#include "devices/serial.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };
enum { IIR_NONE = 0x01, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_RLSI = 0x06 };
enum { LSR_DR = 0x01, LSR_OE = 0x02, LSR_THRE = 0x20, LSR_TEMT = 0x40 };
enum { MCR_DTR = 0x01, MCR_RTS = 0x02, MCR_OUT1 = 0x04, MCR_OUT2 = 0x08, MCR_LOOP = 0x10 };

static struct serial16550 s;
static uint8_t sent[512];
static size_t nsent;
static int level, level_calls, rx_ready_calls;
static unsigned int last_gsi;
static void *last_irq_opaque, *last_sink_opaque;
static int irq_cookie, sink_cookie;

static void sink_write(void *opaque, uint8_t byte)
{
	last_sink_opaque = opaque;
	cr_assert_lt(nsent, sizeof(sent));
	sent[nsent++] = byte;
}

static void sink_rx_ready(void *opaque)
{
	last_sink_opaque = opaque;
	rx_ready_calls++;
}

static void irq_set(void *opaque, unsigned int gsi, int lvl)
{
	last_irq_opaque = opaque;
	last_gsi = gsi;
	cr_assert_neq(lvl, level, "set_level is called on changes only");
	level = lvl;
	level_calls++;
}

static void setup(void)
{
	nsent = 0;
	level = level_calls = rx_ready_calls = 0;
	serial_init(&s, "COM1", (struct irq_line){ irq_set, &irq_cookie, 4 },
		    (struct serial_sink){ sink_write, sink_rx_ready, &sink_cookie });
}

static void teardown(void)
{
	serial_destroy(&s);
}

TestSuite(serial, .init = setup, .fini = teardown);

static uint8_t rd(unsigned int reg)
{
	return serial_read_reg(&s, reg);
}

static void wr(unsigned int reg, uint8_t v)
{
	serial_write_reg(&s, reg, v);
}

static size_t rx(const char *text)
{
	return serial_receive(&s, (const uint8_t *)text, strlen(text));
}

Test(serial, reset_state)
{
	cr_assert_eq(rd(LSR), LSR_THRE | LSR_TEMT, "transmitter empty, nothing received");
	cr_assert_eq(rd(IER), 0);
	cr_assert_eq(rd(IIR), IIR_NONE, "no interrupt enabled, none pending; FIFO off");
	cr_assert_eq(rd(LCR), 0);
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0, "DCD, DSR, CTS: a connected line");
	cr_assert_eq(rd(RBR), 0, "empty receiver reads 0");
	cr_assert_eq(level, 0);
	cr_assert_eq(level_calls, 0);
}

Test(serial, transmitted_bytes_reach_the_sink_in_order)
{
	const char *msg = "Hello, 8250!\r\n";
	for (const char *p = msg; *p; p++) {
		wr(THR, (uint8_t)*p);
		cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT, "a polled console never waits");
	}
	cr_assert_eq(nsent, strlen(msg));
	cr_assert(memcmp(sent, msg, nsent) == 0);
	cr_assert_eq(s.stats.tx_bytes, strlen(msg));
	cr_assert_eq(last_sink_opaque, &sink_cookie);
}

Test(serial, output_without_a_sink_is_dropped_quietly)
{
	struct serial16550 com2;
	serial_init(&com2, "COM2", (struct irq_line){ 0 }, (struct serial_sink){ 0 });
	serial_write_reg(&com2, THR, 'x');
	serial_write_reg(&com2, IER, 0x0f);
	serial_receive(&com2, (const uint8_t *)"ab", 2);
	cr_assert_eq(com2.stats.tx_bytes, 1);
	cr_assert_eq(serial_read_reg(&com2, RBR), 'a');
	serial_destroy(&com2);
}

Test(serial, divisor_latch)
{
	wr(IER, 0x05);
	wr(LCR, 0x83); /* DLAB | 8N1 */
	wr(DLL, 0x0c);
	wr(DLM, 0x01);
	cr_assert_eq(rd(DLL), 0x0c);
	cr_assert_eq(rd(DLM), 0x01);
	cr_assert_eq(nsent, 0, "a divisor write is not transmitted");
	wr(LCR, 0x03);
	cr_assert_eq(rd(IER), 0x05, "IER survived the divisor write to offset 1");
	cr_assert_eq(rd(LCR), 0x03);
	wr(LCR, 0x83);
	cr_assert_eq(rd(DLL), 0x0c, "the latch keeps its value");
	cr_assert_eq(rd(DLM), 0x01);
}

Test(serial, divisor_latch_hides_the_receive_buffer)
{
	rx("Q");
	wr(LCR, 0x80);
	wr(DLL, 0x30);
	cr_assert_eq(rd(RBR), 0x30, "DLL, not the received byte");
	cr_assert(rd(LSR) & LSR_DR, "the byte is still waiting");
	wr(LCR, 0x00);
	cr_assert_eq(rd(RBR), 'Q');
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
}

Test(serial, scratch_register)
{
	for (unsigned int v = 0; v < 256; v += 17) {
		wr(SCR, (uint8_t)v);
		cr_assert_eq(rd(SCR), v);
	}
	wr(LCR, 0x80);
	wr(SCR, 0x42);
	cr_assert_eq(rd(SCR), 0x42, "DLAB does not affect the scratch register");
}

Test(serial, ier_keeps_four_bits_lsr_and_msr_are_read_only)
{
	wr(IER, 0xff);
	cr_assert_eq(rd(IER), 0x0f);
	wr(LSR, 0x00);
	wr(MSR, 0x00);
	cr_assert_eq(rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0);
}

Test(serial, register_index_wraps_at_eight)
{
	wr(SCR + 8, 0x99);
	cr_assert_eq(rd(SCR), 0x99);
	cr_assert_eq(rd(LSR + 8) & LSR_THRE, LSR_THRE);
}

Test(serial, thri_raised_when_enabled_and_acknowledged_by_iir_read)
{
	wr(MCR, MCR_OUT2);
	cr_assert_eq(level, 0);
	wr(IER, 0x02);
	cr_assert_eq(level, 1, "enabling ETBEI with THR empty interrupts at once");
	cr_assert_eq(last_gsi, 4);
	cr_assert_eq(last_irq_opaque, &irq_cookie);
	cr_assert_eq(rd(IIR) & 0x0f, IIR_THRI);
	cr_assert_eq(level, 0, "reading IIR acknowledged THRI");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_NONE);
	wr(IER, 0x02);
	cr_assert_eq(level, 0, "rewriting the same IER does not re-raise");
	wr(IER, 0x00);
	wr(IER, 0x02);
	cr_assert_eq(level, 1, "re-enabling does");
	rd(IIR);
	wr(THR, 'a');
	cr_assert_eq(level, 1, "THR emptied again after a write");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_THRI);
	cr_assert_eq(level, 0);
}

Test(serial, rdi_pending_while_data_present)
{
	wr(MCR, MCR_OUT2);
	wr(IER, 0x01);
	cr_assert_eq(level, 0);
	cr_assert_eq(rx("A"), 1);
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RDI);
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RDI, "reading IIR does not acknowledge RDI");
	cr_assert_eq(level, 1);
	cr_assert_eq(rd(RBR), 'A');
	cr_assert_eq(level, 0, "reading the data does");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_NONE);
}

Test(serial, priorities_rlsi_over_rdi_over_thri)
{
	wr(MCR, MCR_OUT2 | MCR_LOOP);
	wr(IER, 0x07);
	wr(THR, 'a');
	wr(THR, 'b'); /* receiver holds one byte: overrun */
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RLSI);
	cr_assert(rd(LSR) & LSR_OE);
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RDI, "LSR read cleared the line status interrupt");
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(rd(IIR) & 0x0f, IIR_THRI, "THRI was pending all along, below the others");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_NONE);
}

Test(serial, iir_read_reporting_rdi_leaves_thri_pending)
{
	wr(MCR, MCR_OUT2);
	wr(IER, 0x03);
	rx("z");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RDI);
	cr_assert_eq(rd(RBR), 'z');
	cr_assert_eq(rd(IIR) & 0x0f, IIR_THRI, "only the reported interrupt is acknowledged");
}

Test(serial, out2_gates_the_line)
{
	wr(MCR, 0);
	wr(IER, 0x01);
	rx("x");
	cr_assert_eq(rd(IIR) & 0x0f, IIR_RDI, "pending inside the UART...");
	cr_assert_eq(level, 0, "...but OUT2 is low");
	wr(MCR, MCR_OUT2);
	cr_assert_eq(level, 1);
	wr(MCR, 0);
	cr_assert_eq(level, 0);
	cr_assert_eq(s.stats.irqs, 1, "rising edges are counted");
}

Test(serial, fifo_depth_is_one_until_enabled)
{
	cr_assert_eq(rx("abc"), 1, "16450 mode: one holding register");
	cr_assert_eq(rd(IIR) & 0xc0, 0);
	cr_assert_eq(rd(RBR), 'a');
	wr(FCR, 0x01);
	cr_assert_eq(rd(IIR) & 0xc0, 0xc0, "FIFOs enabled");
	cr_assert_eq(rx("0123456789abcdefXYZ"), SERIAL_FIFO_SIZE);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		cr_assert_eq(rd(RBR), "0123456789abcdef"[i]);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	cr_assert_eq(s.stats.rx_overruns, 0, "the host side is refused, never overrun");
}

Test(serial, fcr_clears_and_mode_changes_reset_the_fifo)
{
	wr(FCR, 0x01);
	rx("hello");
	wr(FCR, 0x01 | 0x02); /* clear RX */
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	rx("again");
	wr(FCR, 0x00); /* FIFO off: contents dropped */
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	cr_assert_eq(rd(IIR) & 0xc0, 0);
	rx("x");
	wr(FCR, 0x01); /* FIFO on: reset too */
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	rx("y");
	wr(FCR, 0x41); /* same mode, trigger level change only: data kept */
	cr_assert_eq(rd(RBR), 'y');
}

Test(serial, loopback_overrun_sets_oe_until_lsr_is_read)
{
	wr(MCR, MCR_LOOP);
	wr(THR, '1');
	cr_assert_eq(rd(LSR) & (LSR_OE | LSR_DR), LSR_DR);
	wr(THR, '2');
	uint8_t lsr = rd(LSR);
	cr_assert_eq(lsr & LSR_OE, LSR_OE);
	cr_assert_eq(lsr & LSR_DR, LSR_DR);
	cr_assert_eq(rd(LSR) & LSR_OE, 0, "cleared by the read");
	cr_assert_eq(rd(RBR), '1', "the first byte survives, the second was lost");
	cr_assert_eq(s.stats.rx_overruns, 1);
}

Test(serial, loopback_fifo_overrun_after_sixteen)
{
	wr(FCR, 0x01);
	wr(MCR, MCR_LOOP);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		wr(THR, (uint8_t)('a' + i));
	cr_assert_eq(rd(LSR) & LSR_OE, 0);
	wr(THR, 'X');
	cr_assert_eq(rd(LSR) & LSR_OE, LSR_OE);
	for (int i = 0; i < SERIAL_FIFO_SIZE; i++)
		cr_assert_eq(rd(RBR), 'a' + i);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
}

Test(serial, loopback_as_linux_8250_probes_it)
{
	wr(MCR, MCR_LOOP | 0x0a); /* Linux autoconfig: LOOP | OUT2 | RTS */
	cr_assert_eq(rd(MSR) & 0xf0, 0x90, "OUT2 -> DCD, RTS -> CTS");
	wr(MCR, MCR_LOOP | MCR_DTR);
	cr_assert_eq(rd(MSR) & 0xf0, 0x20, "DTR -> DSR");
	wr(MCR, MCR_LOOP | MCR_OUT1);
	cr_assert_eq(rd(MSR) & 0xf0, 0x40, "OUT1 -> RI");
	wr(MCR, MCR_LOOP);
	cr_assert_eq(rd(MSR) & 0xf0, 0x00);
	wr(MCR, 0xff);
	cr_assert_eq(rd(MCR), 0x1f, "MCR keeps five bits");
	cr_assert_eq(rd(MSR) & 0xf0, 0xf0);
	wr(MCR, MCR_OUT2);
	cr_assert_eq(rd(MSR) & 0xf0, 0xb0, "loopback off: the line again");
}

Test(serial, loopback_sends_thr_to_rbr_not_the_sink)
{
	wr(MCR, MCR_LOOP);
	wr(THR, 0x55);
	cr_assert_eq(nsent, 0);
	cr_assert_eq(s.stats.tx_bytes, 0);
	cr_assert(rd(LSR) & LSR_DR);
	cr_assert_eq(rd(RBR), 0x55);
	/* Host input is disconnected in loopback: accepted and discarded. */
	cr_assert_eq(rx("zz"), 2);
	cr_assert_eq(rd(LSR) & LSR_DR, 0);
	wr(MCR, 0);
	wr(THR, 'o');
	cr_assert_eq(nsent, 1);
	cr_assert_eq(sent[0], 'o');
}

Test(serial, rx_ready_called_once_when_space_opens)
{
	cr_assert_eq(rx("abc"), 1);
	cr_assert_eq(rx_ready_calls, 0);
	cr_assert_eq(rd(LSR) & LSR_DR, LSR_DR);
	cr_assert_eq(rx_ready_calls, 0, "still full");
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(rx_ready_calls, 1, "space opened after a refusal");
	cr_assert_eq(last_sink_opaque, &sink_cookie);
	rd(RBR);
	rd(LSR);
	cr_assert_eq(rx_ready_calls, 1, "once per refusal");
	cr_assert_eq(rx("bc"), 1);
	cr_assert_eq(rx("c"), 0);
	rd(RBR);
	cr_assert_eq(rx_ready_calls, 2);
}

Test(serial, rx_ready_not_called_without_a_refusal)
{
	wr(FCR, 0x01);
	cr_assert_eq(rx("abc"), 3);
	for (int i = 0; i < 3; i++)
		rd(RBR);
	cr_assert_eq(rx_ready_calls, 0);
}

Test(serial, bus_access_widths)
{
	struct bus bus;
	bus_init(&bus, "pio");
	bus.decode_by_start = true;
	cr_assert_eq(bus_register(&bus, 0x3f8, SERIAL_REG_COUNT, &serial_bus_ops, &s, "COM1"), 0);
	uint8_t w = 0x7e;
	cr_assert(bus_write(&bus, 0x3ff, &w, 1));
	uint8_t data[4];
	memset(data, 0xcc, sizeof(data));
	cr_assert(bus_read(&bus, 0x3ff, data, 4));
	cr_assert_eq(data[0], 0x7e, "scratch register through port 0x3ff");
	cr_assert_eq(data[1], 0, "wider reads are zero-extended");
	cr_assert_eq(data[3], 0);
	uint8_t out[2] = { 'k', 'j' };
	cr_assert(bus_write(&bus, 0x3f8, out, 2));
	cr_assert_eq(nsent, 1, "a word write to THR sends its low byte");
	cr_assert_eq(sent[0], 'k');
	bus_free(&bus);
}

/* crosvm-arm64 wiring: an edge-triggered SPI, no OUT2 gate. Each new event must give a new
 * rising edge, or a guest reading input only in its interrupt handler loses it. */
static int rising_edges(void)
{
	cr_assert_eq(level, 0, "an edge-wired line is always left low");
	return level_calls / 2;
}

Test(serial, edge_wiring_pulses_per_received_byte_while_earlier_input_is_unread)
{
	serial_set_wiring(&s, (struct serial_wiring){ .out2_gates_irq = false, .edge = true });
	wr(MCR, 0); /* OUT2 off: irrelevant without the PC's gate */
	wr(FCR, 0xc7); /* FIFO on, as StarryOS's aarch64 UART init sets it */
	wr(IER, 0x01);
	cr_assert_eq(rising_edges(), 0, "nothing pending yet");
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"a", 1), 1);
	cr_assert_eq(rising_edges(), 1);
	/* The first byte is still unread (the condition never went away): a new byte is a new
	 * event, so a new edge. A level line would have stayed high and said nothing. */
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"b", 1), 1);
	cr_assert_eq(rising_edges(), 2);
	cr_assert_eq(rd(RBR), 'a');
	cr_assert_eq(rising_edges(), 2, "reading is not an event");
	cr_assert_eq(rd(RBR), 'b');
	cr_assert_eq(serial_receive(&s, (const uint8_t *)"c", 1), 1);
	cr_assert_eq(rising_edges(), 3);
	cr_assert_eq(s.stats.irqs, 3);
}

Test(serial, edge_wiring_pulses_for_thr_empty_and_enabling)
{
	serial_set_wiring(&s, (struct serial_wiring){ .out2_gates_irq = false, .edge = true });
	wr(IER, 0x02); /* THR empty is pending at once */
	cr_assert_eq(rising_edges(), 1);
	cr_assert_eq(rd(IIR) & 0x0f, IIR_THRI);
	wr(THR, 'x');
	cr_assert_eq(rising_edges(), 2, "each byte sent empties THR again");
	wr(IER, 0);
	wr(THR, 'y');
	cr_assert_eq(rising_edges(), 2, "disabled: no pulse");
}

Test(serial, level_wiring_is_gated_by_out2)
{
	wr(MCR, 0);
	wr(IER, 0x01);
	serial_receive(&s, (const uint8_t *)"a", 1);
	cr_assert_eq(level, 0, "a PC's UART needs OUT2 to drive its line");
	serial_set_wiring(&s, (struct serial_wiring){ .out2_gates_irq = false, .edge = false });
	serial_receive(&s, (const uint8_t *)"b", 1);
	cr_assert_eq(level, 1, "ungated: the line follows the condition");
}
