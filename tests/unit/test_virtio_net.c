/* virtio-net (devices/virtio/net.c): frames between the guest's rings and the backend in
 * both directions, the header rules of §5.1.6, mergeable receive buffers, starvation and
 * resumption, and hostile transmit chains. The backend is a non-blocking SOCK_SEQPACKET
 * socket pair: like a tap it keeps frame boundaries and truncates a read into a short
 * buffer, so the device's readv/writev paths run unchanged; the rig and the integration
 * tests use real taps. */
#include <criterion/criterion.h>
#include <linux/if_tun.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/net.h"

#define QSIZE 16
#define RX VIRTIO_NET_RX
#define TX VIRTIO_NET_TX
#define HDR VIRTIO_NET_HDR_LEN
#include "tests/unit/multiq_driver.h"

static struct virtio_net net;
static int peer = -1; /* the "network" side of the backend */
static unsigned int offloads_set, offload_calls, signals[2];

static int record_offloads(void *opaque, unsigned int offloads)
{
	cr_assert_eq(opaque, &net);
	offloads_set = offloads;
	offload_calls++;
	return 0;
}

static void fake_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	cr_assert_eq(dev, &net.dev);
	if (cause == VIRTIO_ISR_QUEUE && q < 2)
		signals[q]++;
}

static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

static void make_device(unsigned int tap_offloads)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	peer = sv[1];
	struct virtio_net_backend b = { sv[0], tap_offloads, record_offloads, &net };
	virtio_net_init(&net, &mem, mac, b);
	net.dev.transport = (struct virtio_transport){ fake_signal, NULL };
}

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	offloads_set = offload_calls = signals[0] = signals[1] = 0;
	make_device(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);
}

static void teardown(void)
{
	close(net.backend.fd);
	close(peer);
	guest_mem_free(&mem);
}

TestSuite(virtio_net, .init = setup, .fini = teardown);

#define F(bit) (1ull << (bit))
#define BASIC (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS))

static void bring_up(uint64_t features)
{
	mq_negotiate_and_enable(&net.dev, 2, features);
	mq_driver_ok(&net.dev);
}

/* A frame of `len` bytes: a broadcast Ethernet header, then a counting pattern. */
static void make_frame(uint8_t *f, uint32_t len, uint8_t seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x88;
	f[13] = 0xb5;
	for (uint32_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

/* Posts [header][frame] on the transmit queue (header in its own descriptor). */
static void post_tx(const uint8_t *hdr, const uint8_t *frame, uint32_t len)
{
	struct vseg s[2] = { { gbytes(hdr, HDR), HDR, false }, { gbytes(frame, len), len, false } };
	post_chain(&drv[TX], s, 2);
}

static ssize_t peer_recv(uint8_t *buf, size_t len)
{
	return recv(peer, buf, len, MSG_DONTWAIT);
}

/* What a tap hands us: the header (num_buffers left unset: the tap writes only 10 bytes of a
 * 12-byte header) and the frame. */
static void peer_send(uint8_t flags, uint8_t gso, const uint8_t *frame, uint32_t len)
{
	static uint8_t buf[HDR + 70000];
	memset(buf, 0xee, HDR);
	buf[0] = flags;
	buf[1] = gso;
	memcpy(buf + HDR, frame, len);
	cr_assert_eq(send(peer, buf, HDR + len, 0), (ssize_t)(HDR + len));
}

Test(virtio_net, identity_config_and_offered_features)
{
	cr_assert_eq(net.dev.device_id, VIRTIO_ID_NET);
	cr_assert_eq(net.dev.nqueues, 2);
	uint8_t cfg[VIRTIO_NET_CONFIG_LEN];
	virtio_config_read(&net.dev, 0, cfg, sizeof(cfg));
	cr_assert_arr_eq(cfg, mac, 6);
	cr_assert_eq(get_le16(cfg + 6), VIRTIO_NET_S_LINK_UP);
	uint64_t f = net.dev.device_features;
	cr_assert(f & F(VIRTIO_NET_F_MRG_RXBUF));
	cr_assert(f & F(VIRTIO_NET_F_CSUM) && f & F(VIRTIO_NET_F_HOST_TSO4) && f & F(VIRTIO_NET_F_HOST_TSO6));
	cr_assert(f & F(VIRTIO_NET_F_GUEST_CSUM) && f & F(VIRTIO_NET_F_GUEST_TSO4) && f & F(VIRTIO_NET_F_GUEST_ECN));
	cr_assert_not(f & F(VIRTIO_NET_F_GUEST_UFO), "UFO offered though the tap refused it");
}

Test(virtio_net, no_receive_offloads_when_the_tap_has_none)
{
	close(net.backend.fd);
	close(peer);
	make_device(0);
	uint64_t f = net.dev.device_features;
	cr_assert_not(f & (F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
			   F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_GUEST_UFO)));
	cr_assert(f & F(VIRTIO_NET_F_CSUM), "transmit offloads need only the vnet header");
}

Test(virtio_net, driver_ok_programs_the_guests_offloads_and_reset_clears_them)
{
	bring_up(BASIC | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4));
	cr_assert_eq(offloads_set, TUN_F_CSUM | TUN_F_TSO4);
	virtio_set_status(&net.dev, 0);
	cr_assert_eq(offloads_set, 0);
	bring_up(BASIC);
	cr_assert_eq(offloads_set, 0);
	cr_assert_geq(offload_calls, 3);
}

Test(virtio_net, transmit_reaches_the_backend_unchanged)
{
	bring_up(BASIC);
	uint8_t hdr[HDR] = { 0 }, frame[600], got[2000];
	make_frame(frame, sizeof(frame), 1);
	post_tx(hdr, frame, sizeof(frame));
	make_frame(frame, 60, 2);
	post_tx(hdr, frame, 60);
	virtio_queue_notify(&net.dev, TX);
	cr_assert_eq(used_idx(&drv[TX]), 2);
	cr_assert_eq(used_elem(&drv[TX], 0).len, 0, "transmit buffers are read-only: used length 0");
	cr_assert_eq(peer_recv(got, sizeof(got)), HDR + 600);
	make_frame(frame, 600, 1);
	cr_assert_arr_eq(got + HDR, frame, 600);
	cr_assert_eq(peer_recv(got, sizeof(got)), HDR + 60);
	cr_assert_eq(net.dev.stats.requests, 2);
	cr_assert_eq(net.dev.stats.bytes_written, 660);
	cr_assert_eq(signals[TX], 1, "one interrupt for the batch");
}

Test(virtio_net, transmit_from_many_segments)
{
	bring_up(BASIC);
	uint8_t frame[300], got[400];
	make_frame(frame, sizeof(frame), 3);
	/* The header split over two descriptors, the frame over three. */
	struct vseg s[5] = {
		{ gbuf(5, 0), 5, false },
		{ gbuf(7, 0), 7, false },
		{ gbytes(frame, 100), 100, false },
		{ gbytes(frame + 100, 1), 1, false },
		{ gbytes(frame + 101, 199), 199, false },
	};
	post_chain(&drv[TX], s, 5);
	virtio_queue_notify(&net.dev, TX);
	cr_assert_eq(peer_recv(got, sizeof(got)), HDR + 300);
	cr_assert_arr_eq(got + HDR, frame, 300);
}

/* Each hostile chain is used (so the ring moves on), dropped and counted; nothing reaches
 * the backend; a good frame after them goes through. */
Test(virtio_net, hostile_transmit_chains_are_dropped_and_counted)
{
	bring_up(BASIC);
	uint8_t hdr[HDR] = { 0 }, frame[1600], got[2000];
	make_frame(frame, sizeof(frame), 4);
	post_tx(hdr, frame, 1519); /* larger than an Ethernet frame with a VLAN tag, no TSO */
	post_tx(hdr, frame, 13);   /* shorter than an Ethernet header */
	hdr[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* checksum offload not negotiated */
	post_tx(hdr, frame, 100);
	hdr[0] = 0x80; /* an undefined flag */
	post_tx(hdr, frame, 100);
	hdr[0] = 0;
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV4; /* TSO not negotiated */
	post_tx(hdr, frame, 100);
	hdr[1] = 0x42; /* no such gso_type */
	post_tx(hdr, frame, 100);
	hdr[1] = 0;
	struct vseg w[2] = { { gbytes(hdr, HDR), HDR, false }, { gbuf(64, 0), 64, true } };
	post_chain(&drv[TX], w, 2); /* a device-writable buffer in a transmit chain */
	post_tx(hdr, frame, 1518); /* the largest plain frame: fine */
	virtio_queue_notify(&net.dev, TX);
	cr_assert_eq(used_idx(&drv[TX]), 8);
	cr_assert_eq(net.dev.stats.errors, 7);
	cr_assert_eq(net.dev.stats.dropped, 7);
	cr_assert_eq(peer_recv(got, sizeof(got)), HDR + 1518);
	cr_assert_lt(peer_recv(got, sizeof(got)), 0, "only the good frame reached the backend");
	cr_assert_not(net.dev.status & VIRTIO_STATUS_NEEDS_RESET, "bad frames are not bad rings");
}

Test(virtio_net, transmit_segmentation_offload_when_negotiated)
{
	bring_up(BASIC | F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	static uint8_t frame[20000], got[21000];
	make_frame(frame, sizeof(frame), 5);
	uint8_t hdr[HDR] = { VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4 };
	put_le16(hdr + 2, 54);   /* hdr_len */
	put_le16(hdr + 4, 1448); /* gso_size */
	post_tx(hdr, frame, sizeof(frame));
	hdr[1] = VIRTIO_NET_HDR_GSO_TCPV6; /* TSO6 was not negotiated */
	post_tx(hdr, frame, 100);
	virtio_queue_notify(&net.dev, TX);
	cr_assert_eq(peer_recv(got, sizeof(got)), HDR + sizeof(frame));
	cr_assert_eq(got[0], VIRTIO_NET_HDR_F_NEEDS_CSUM);
	cr_assert_eq(got[1], VIRTIO_NET_HDR_GSO_TCPV4);
	cr_assert_eq(net.dev.stats.dropped, 1);
}

Test(virtio_net, receive_into_the_posted_buffer)
{
	bring_up(BASIC);
	uint64_t b = gbuf(1526, 0);
	post1(&drv[RX], b, 1526, true);
	uint8_t frame[400];
	make_frame(frame, sizeof(frame), 6);
	peer_send(2 /* DATA_VALID */, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 1);
	cr_assert_eq(used_elem(&drv[RX], 0).len, HDR + 400);
	uint8_t *h = gva(b, HDR);
	cr_assert_eq(h[0], 0, "no checksum flags for a guest without GUEST_CSUM");
	cr_assert_eq(get_le16(h + 10), 1, "num_buffers");
	cr_assert_arr_eq(gva(b + HDR, 400), frame, 400);
	cr_assert_eq(signals[RX], 1);
	cr_assert_eq(net.dev.stats.bytes_read, 400);
}

Test(virtio_net, receive_without_buffers_waits_for_the_driver)
{
	bring_up(BASIC | F(VIRTIO_F_EVENT_IDX));
	uint8_t frame[200];
	make_frame(frame, sizeof(frame), 7);
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 0);
	cr_assert(net.rx_starved);
	cr_assert_eq(avail_event(&drv[RX]), 0, "the driver is asked to notify at its next buffer");
	uint64_t b = gbuf(1526, 0);
	post1(&drv[RX], b, 1526, true);
	virtio_queue_notify(&net.dev, RX);
	cr_assert_eq(used_idx(&drv[RX]), 1, "the frame waited in the backend, not dropped");
	cr_assert_arr_eq(gva(b + HDR, 200), frame, 200);
	cr_assert_eq(net.dev.stats.dropped, 0);
}

Test(virtio_net, mergeable_buffers_take_a_large_frame_together)
{
	bring_up(BASIC | F(VIRTIO_NET_F_MRG_RXBUF));
	uint64_t b[3];
	for (int i = 0; i < 3; i++)
		post1(&drv[RX], b[i] = gbuf(1526, 0), 1526, true);
	static uint8_t frame[3000];
	make_frame(frame, sizeof(frame), 8);
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 2);
	cr_assert_eq(used_elem(&drv[RX], 0).len, 1526);
	cr_assert_eq(used_elem(&drv[RX], 1).len, HDR + 3000 - 1526);
	cr_assert_eq(get_le16(gva(b[0] + 10, 2)), 2, "num_buffers");
	cr_assert_arr_eq(gva(b[0] + HDR, 1526 - HDR), frame, 1526 - HDR);
	cr_assert_arr_eq(gva(b[1], HDR + 3000 - 1526), frame + 1526 - HDR, HDR + 3000 - 1526);
	cr_assert_eq(net.pending_len, 0);
}

Test(virtio_net, mergeable_frame_waits_until_enough_buffers)
{
	bring_up(BASIC | F(VIRTIO_NET_F_MRG_RXBUF));
	uint64_t b0 = gbuf(1526, 0);
	post1(&drv[RX], b0, 1526, true);
	static uint8_t frame[3000];
	make_frame(frame, sizeof(frame), 9);
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 0, "half a frame is never shown to the driver");
	cr_assert(net.rx_starved);
	uint64_t b1 = gbuf(2048, 0);
	post1(&drv[RX], b1, 2048, true);
	virtio_queue_notify(&net.dev, RX);
	cr_assert_eq(used_idx(&drv[RX]), 2);
	cr_assert_eq(get_le16(gva(b0 + 10, 2)), 2);
	cr_assert_arr_eq(gva(b1, HDR + 3000 - 1526), frame + 1526 - HDR, HDR + 3000 - 1526);
	cr_assert_eq(net.dev.stats.dropped, 0);
}

Test(virtio_net, frame_too_big_for_a_plain_buffer_is_dropped_and_the_buffer_kept)
{
	bring_up(BASIC);
	uint64_t b = gbuf(1526, 0);
	post1(&drv[RX], b, 1526, true);
	static uint8_t big[3000], small[100];
	make_frame(big, sizeof(big), 10);
	make_frame(small, sizeof(small), 11);
	peer_send(0, 0, big, sizeof(big));
	peer_send(0, 0, small, sizeof(small));
	virtio_net_backend_readable(&net);
	cr_assert_eq(net.dev.stats.dropped, 1);
	cr_assert_eq(used_idx(&drv[RX]), 1, "the buffer went to the next frame that fits");
	cr_assert_eq(used_elem(&drv[RX], 0).len, HDR + 100);
	cr_assert_arr_eq(gva(b + HDR, 100), small, 100);
}

Test(virtio_net, received_offload_the_guest_did_not_take_is_dropped)
{
	bring_up(BASIC);
	post1(&drv[RX], gbuf(1526, 0), 1526, true);
	uint8_t frame[100];
	make_frame(frame, sizeof(frame), 12);
	peer_send(0, VIRTIO_NET_HDR_GSO_TCPV4, frame, sizeof(frame));
	peer_send(VIRTIO_NET_HDR_F_NEEDS_CSUM, 0, frame, sizeof(frame));
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(net.dev.stats.dropped, 2);
	cr_assert_eq(used_idx(&drv[RX]), 1);
}

Test(virtio_net, receive_offloads_pass_through_when_negotiated)
{
	bring_up(BASIC | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_MRG_RXBUF));
	for (int i = 0; i < 12; i++)
		post1(&drv[RX], gbuf(4096, 0), 4096, true);
	static uint8_t frame[40000];
	make_frame(frame, sizeof(frame), 13);
	peer_send(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 10, "40012 bytes over 4096-byte buffers");
	cr_assert_eq(net.dev.stats.bytes_read, sizeof(frame));
}

Test(virtio_net, a_broken_receive_ring_needs_reset_not_a_crash)
{
	bring_up(BASIC);
	/* A descriptor pointing outside guest RAM. */
	struct vseg s = { RAM_BYTES + 4096, 1526, true };
	post_chain(&drv[RX], &s, 1);
	uint8_t frame[100];
	make_frame(frame, sizeof(frame), 14);
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert(net.dev.status & VIRTIO_STATUS_NEEDS_RESET);
	cr_assert_eq(used_idx(&drv[RX]), 0);
}

Test(virtio_net, nothing_moves_before_driver_ok)
{
	mq_negotiate_and_enable(&net.dev, 2, BASIC);
	post1(&drv[RX], gbuf(1526, 0), 1526, true);
	uint8_t frame[100];
	make_frame(frame, sizeof(frame), 15);
	peer_send(0, 0, frame, sizeof(frame));
	virtio_net_backend_readable(&net);
	cr_assert_eq(used_idx(&drv[RX]), 0);
	mq_driver_ok(&net.dev);
	cr_assert_eq(used_idx(&drv[RX]), 1, "DRIVER_OK delivers what queued in the backend meanwhile");
}
