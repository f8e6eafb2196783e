/* virtio-console (devices/virtio/console.c): transmit buffers reach the sink in order, host
 * input fills the receive buffers the driver posted, and a starved receiver is told when
 * buffers come back. The driver side is an in-test driver laying out both split virtqueues in
 * guest memory; the transport is a fake that records interrupts. */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "devices/virtio/console.h"
#include "vmm/bytes.h"

#define QSIZE 8
#define RX VIRTIO_CONSOLE_RX
#define TX VIRTIO_CONSOLE_TX
#include "tests/unit/multiq_driver.h"

static struct virtio_console con;

/* ---- fake sink and transport ------------------------------------------------------------ */

static uint8_t sunk[4096];
static size_t sunk_len;
static unsigned int sink_writes, rx_ready_calls;
static struct {
	unsigned int q;
	uint8_t cause;
} signals[64];
static unsigned int nsignals;

static void sink_write(void *opaque, const uint8_t *buf, size_t len)
{
	cr_assert_eq(opaque, &con);
	cr_assert_leq(sunk_len + len, sizeof(sunk));
	memcpy(sunk + sunk_len, buf, len);
	sunk_len += len;
	sink_writes++;
}

static void sink_rx_ready(void *opaque)
{
	cr_assert_eq(opaque, &con);
	rx_ready_calls++;
}

static void fake_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	cr_assert_eq(dev, &con.dev);
	cr_assert_lt(nsignals, sizeof(signals) / sizeof(signals[0]));
	signals[nsignals].q = q;
	signals[nsignals].cause = cause;
	nsignals++;
}

static unsigned int signals_for(unsigned int q, uint8_t cause)
{
	unsigned int n = 0;
	for (unsigned int i = 0; i < nsignals; i++)
		n += signals[i].q == q && signals[i].cause == cause;
	return n;
}

static void negotiate_and_enable(uint64_t features)
{
	mq_negotiate_and_enable(&con.dev, 2, features);
}

static void driver_ok(void)
{
	mq_driver_ok(&con.dev);
}

static void bring_up(uint64_t features)
{
	negotiate_and_enable(features);
	driver_ok();
}

#define F_VERSION_1 (1ull << VIRTIO_F_VERSION_1)
#define F_EVENT_IDX (1ull << VIRTIO_F_EVENT_IDX)

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	sunk_len = 0;
	sink_writes = rx_ready_calls = nsignals = 0;
	virtio_console_init(&con, &mem, (struct virtio_console_sink){ sink_write, sink_rx_ready, &con });
	con.dev.transport = (struct virtio_transport){ fake_signal, NULL };
	/* virtio_dev_init sized the queues at VIRTIO_CONSOLE_QUEUE_SIZE; the driver picks less. */
	cr_assert_eq(con.dev.queues[RX].max_size, VIRTIO_CONSOLE_QUEUE_SIZE);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(virtio_console, .init = setup, .fini = teardown);

/* ---- tests ------------------------------------------------------------------------------ */

Test(virtio_console, identity_and_config)
{
	cr_assert_eq(con.dev.device_id, VIRTIO_ID_CONSOLE);
	cr_assert_eq(con.dev.nqueues, 2);
	uint8_t cfg[VIRTIO_CONSOLE_CONFIG_LEN];
	virtio_config_read(&con.dev, 0, cfg, sizeof(cfg));
	cr_assert_eq(get_le16(cfg), 0, "cols");
	cr_assert_eq(get_le16(cfg + 2), 0, "rows");
	cr_assert_eq(get_le32(cfg + 4), 1, "max_nr_ports");
}

Test(virtio_console, driver_ok_announces_rx_readiness)
{
	negotiate_and_enable(F_VERSION_1);
	cr_assert_eq(rx_ready_calls, 0);
	driver_ok();
	cr_assert_eq(rx_ready_calls, 1);
	driver_ok(); /* DRIVER_OK already set: not a new transition */
	cr_assert_eq(rx_ready_calls, 1);
}

Test(virtio_console, transmit_reaches_sink_in_order)
{
	bring_up(F_VERSION_1);
	uint16_t h1 = post1(&drv[TX], gstr("hello"), 5, false);
	struct vseg two[2] = { { gstr(", "), 2, false }, { gstr("wor"), 3, false } };
	uint16_t h2 = post_chain(&drv[TX], two, 2);
	uint16_t h3 = post1(&drv[TX], gstr("ld\n"), 3, false);
	virtio_queue_notify(&con.dev, TX);

	cr_assert_eq(sunk_len, 13);
	cr_assert(memcmp(sunk, "hello, world\n", 13) == 0, "got '%.*s'", (int)sunk_len, (const char *)sunk);
	cr_assert_eq(sink_writes, 4, "one write per segment");
	cr_assert_eq(used_idx(&drv[TX]), 3);
	uint16_t heads[3] = { h1, h2, h3 };
	for (uint16_t i = 0; i < 3; i++) {
		cr_assert_eq(used_elem(&drv[TX], i).id, heads[i]);
		cr_assert_eq(used_elem(&drv[TX], i).len, 0, "the device wrote nothing into TX buffers");
	}
	cr_assert_geq(signals_for(TX, VIRTIO_ISR_QUEUE), 1);
	cr_assert_eq(con.dev.stats.bytes_written, 13);

	post1(&drv[TX], gstr("more"), 4, false);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 17);
	cr_assert(memcmp(sunk + 13, "more", 4) == 0);
}

Test(virtio_console, transmit_ignores_writable_parts)
{
	bring_up(F_VERSION_1);
	uint64_t w = gbuf(4, 0xee);
	struct vseg s[2] = { { gstr("ab"), 2, false }, { w, 4, true } };
	post_chain(&drv[TX], s, 2);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 2);
	cr_assert(memcmp(sunk, "ab", 2) == 0);
	cr_assert(memcmp(gva(w, 4), "\xee\xee\xee\xee", 4) == 0);
}

Test(virtio_console, transmit_before_driver_ok_is_held)
{
	negotiate_and_enable(F_VERSION_1);
	post1(&drv[TX], gstr("early"), 5, false);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 0);
	driver_ok();
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 5);
}

Test(virtio_console, receive_fills_posted_buffers)
{
	bring_up(F_VERSION_1);
	uint64_t b1 = gbuf(4, 0xee), b2 = gbuf(8, 0xee);
	uint16_t h1 = post1(&drv[RX], b1, 4, true);
	uint16_t h2 = post1(&drv[RX], b2, 8, true);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"0123456789", 10), 10);
	cr_assert(memcmp(gva(b1, 4), "0123", 4) == 0);
	cr_assert(memcmp(gva(b2, 8), "456789\xee\xee", 8) == 0);
	cr_assert_eq(used_idx(&drv[RX]), 2);
	cr_assert_eq(used_elem(&drv[RX], 0).id, h1);
	cr_assert_eq(used_elem(&drv[RX], 0).len, 4);
	cr_assert_eq(used_elem(&drv[RX], 1).id, h2);
	cr_assert_eq(used_elem(&drv[RX], 1).len, 6);
	cr_assert_geq(signals_for(RX, VIRTIO_ISR_QUEUE), 1);
	cr_assert_eq(con.dev.stats.bytes_read, 10);
}

Test(virtio_console, receive_into_a_multi_segment_buffer)
{
	bring_up(F_VERSION_1);
	uint64_t a = gbuf(3, 0xee), b = gbuf(3, 0xee);
	struct vseg s[2] = { { a, 3, true }, { b, 3, true } };
	post_chain(&drv[RX], s, 2);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abcde", 5), 5);
	cr_assert(memcmp(gva(a, 3), "abc", 3) == 0);
	cr_assert(memcmp(gva(b, 3), "de\xee", 3) == 0);
	cr_assert_eq(used_elem(&drv[RX], 0).len, 5);
}

Test(virtio_console, receive_without_buffers_returns_0_then_rx_ready_on_notify)
{
	bring_up(F_VERSION_1);
	unsigned int base = rx_ready_calls;
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"xyz", 3), 0);
	cr_assert_eq(used_idx(&drv[RX]), 0);
	cr_assert_eq(signals_for(RX, VIRTIO_ISR_QUEUE), 0, "nothing delivered, no interrupt");
	cr_assert_eq(rx_ready_calls, base, "not yet: no buffers");

	uint64_t b = gbuf(8, 0);
	post1(&drv[RX], b, 8, true);
	virtio_queue_notify(&con.dev, RX);
	cr_assert_eq(rx_ready_calls, base + 1, "buffers posted after a refusal");
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"xyz", 3), 3);
	cr_assert(memcmp(gva(b, 3), "xyz", 3) == 0);

	/* A later RX notify without a refusal in between says nothing. */
	post1(&drv[RX], gbuf(8, 0), 8, true);
	virtio_queue_notify(&con.dev, RX);
	cr_assert_eq(rx_ready_calls, base + 1);
}

Test(virtio_console, partial_receive_then_rx_ready)
{
	bring_up(F_VERSION_1);
	unsigned int base = rx_ready_calls;
	uint64_t b1 = gbuf(4, 0);
	post1(&drv[RX], b1, 4, true);
	const uint8_t *msg = (const uint8_t *)"0123456789";
	cr_assert_eq(virtio_console_receive(&con, msg, 10), 4, "accepts what fits");
	cr_assert(memcmp(gva(b1, 4), "0123", 4) == 0);
	uint64_t b2 = gbuf(16, 0);
	post1(&drv[RX], b2, 16, true);
	virtio_queue_notify(&con.dev, RX);
	cr_assert_eq(rx_ready_calls, base + 1);
	cr_assert_eq(virtio_console_receive(&con, msg + 4, 6), 6);
	cr_assert(memcmp(gva(b2, 6), "456789", 6) == 0);
	cr_assert_eq(used_idx(&drv[RX]), 2);
}

Test(virtio_console, receive_while_rx_queue_not_ready_then_rx_ready_once_it_is)
{
	bring_up(F_VERSION_1);
	unsigned int base = rx_ready_calls;
	con.dev.queues[RX].ready = false; /* what a QueueReady = 0 write does */
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abc", 3), 0);
	virtio_queue_enable(&con.dev, RX);
	cr_assert(con.dev.queues[RX].ready);
	drv[RX].next = drv[RX].avail_idx = 0;
	memset(gva(drv[RX].avail, 6 + 2 * QSIZE), 0, 6 + 2 * QSIZE);
	memset(gva(drv[RX].used, 6 + 8 * QSIZE), 0, 6 + 8 * QSIZE);
	post1(&drv[RX], gbuf(8, 0), 8, true);
	virtio_queue_notify(&con.dev, RX);
	cr_assert_eq(rx_ready_calls, base + 1, "the refused input must be offered again");
}

Test(virtio_console, receive_before_driver_ok_returns_0)
{
	negotiate_and_enable(F_VERSION_1);
	uint64_t b = gbuf(8, 0xee);
	post1(&drv[RX], b, 8, true);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abc", 3), 0);
	cr_assert_eq(used_idx(&drv[RX]), 0);
	cr_assert_eq(((uint8_t *)gva(b, 1))[0], 0xee);
	driver_ok();
	cr_assert_eq(rx_ready_calls, 1);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abc", 3), 3);
}

Test(virtio_console, starved_receiver_asks_for_a_notify_with_event_idx)
{
	bring_up(F_VERSION_1 | F_EVENT_IDX);
	cr_assert(con.dev.queues[RX].event_idx);
	post1(&drv[RX], gbuf(2, 0), 2, true);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abcd", 4), 2);
	cr_assert_eq(avail_event(&drv[RX]), 1, "notify me once avail idx passes 1");
}

Test(virtio_console, receive_never_writes_device_readable_buffers)
{
	bring_up(F_VERSION_1);
	uint64_t ro = gbuf(8, 0x5a), rw = gbuf(8, 0);
	post1(&drv[RX], ro, 8, false); /* a driver bug or attack: device-readable RX buffer */
	post1(&drv[RX], rw, 8, true);
	size_t n = virtio_console_receive(&con, (const uint8_t *)"hi", 2);
	cr_assert_eq(n, 2);
	for (unsigned int i = 0; i < 8; i++)
		cr_assert_eq(((uint8_t *)gva(ro, 8))[i], 0x5a);
	cr_assert(memcmp(gva(rw, 2), "hi", 2) == 0);
	cr_assert_eq(used_elem(&drv[RX], 0).len, 0);
}

Test(virtio_console, malformed_rx_chain_needs_reset)
{
	bring_up(F_VERSION_1);
	post1(&drv[RX], RAM_BYTES - 2, 8, true); /* straddles the end of RAM */
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abc", 3), 0);
	cr_assert(con.dev.queues[RX].broken);
	cr_assert_eq(con.dev.queues[RX].last_error, VIRTQ_ERR_BUFFER_RANGE);
	cr_assert(con.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(signals_for(RX, VIRTIO_ISR_CONFIG), 1);
	post1(&drv[RX], gbuf(8, 0), 8, true);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"abc", 3), 0, "stays broken");
	cr_assert_eq(signals_for(RX, VIRTIO_ISR_CONFIG), 1, "announced once");
}

Test(virtio_console, malformed_tx_chain_needs_reset_after_good_ones)
{
	bring_up(F_VERSION_1);
	post1(&drv[TX], gstr("ok"), 2, false);
	post1(&drv[TX], 0xd0000000ull, 4, false); /* in the MMIO hole */
	post1(&drv[TX], gstr("late"), 4, false);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 2);
	cr_assert(memcmp(sunk, "ok", 2) == 0);
	cr_assert(con.dev.queues[TX].broken);
	cr_assert(con.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(signals_for(TX, VIRTIO_ISR_CONFIG), 1);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 2, "nothing after the bad chain");
	cr_assert_eq(used_idx(&drv[TX]), 1);
}

Test(virtio_console, reset_stops_both_queues)
{
	bring_up(F_VERSION_1);
	post1(&drv[TX], gstr("x"), 1, false);
	virtio_set_status(&con.dev, 0);
	cr_assert(!con.dev.queues[TX].ready);
	cr_assert(!con.dev.queues[RX].ready);
	virtio_queue_notify(&con.dev, TX);
	cr_assert_eq(sunk_len, 0);
	cr_assert_eq(virtio_console_receive(&con, (const uint8_t *)"a", 1), 0);
}
