/* libFuzzer: a hostile virtio-net driver and a hostile network. The input is the start of
 * guest RAM: both rings (receive at 0x0/0x100/0x200, transmit at 0x400/0x500/0x600), the
 * driver's buffers, and at 0x800 the negotiated features and frames to inject as if the tap
 * received them. Transmit chains go to a socket pair standing in for the tap; received
 * frames are delivered into whatever receive chains the input describes. ASan sees any
 * access outside guest RAM (a plain mapping surrounded by nothing). */
#include <linux/if_tun.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "devices/virtio/net.h"

#define RAM (256u << 10)
#define QSIZE 16
#define CTRL 0x800

static void no_signal(struct virtio_dev *dev, unsigned int q, uint8_t cause)
{
	(void)dev, (void)q, (void)cause;
}

static int no_offloads(void *opaque, unsigned int offloads)
{
	(void)opaque, (void)offloads;
	return 0;
}

static void ring(struct virtq *q, uint64_t base, bool event_idx)
{
	q->size = QSIZE;
	q->desc_gpa = base;
	q->avail_gpa = base + 0x100;
	q->used_gpa = base + 0x200;
	if (virtq_enable(q) != VIRTQ_OK)
		abort();
	q->event_idx = event_idx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem mem;
	static struct virtio_net net;
	static int sv[2] = { -1, -1 };
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	static uint8_t drain[70000];
	if (!mem.nregions && (guest_mem_alloc(&mem, 0, RAM, 0xd0000000) ||
			      socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv)))
		abort();
	uint8_t *ram = mem.regions[0].hva;
	/* Buffers past the input read as zeros, whatever the previous input left there. */
	memset(ram, 0, 0x8000);
	memcpy(ram, data, size < RAM ? size : RAM);

	struct virtio_net_backend b = { sv[0], TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO,
					no_offloads, NULL };
	virtio_net_init(&net, &mem, mac, b);
	net.dev.transport = (struct virtio_transport){ no_signal, NULL };
	uint64_t features;
	memcpy(&features, ram + CTRL, 8);
	net.dev.driver_features = (features & net.dev.device_features) | (1ull << VIRTIO_F_VERSION_1);
	ring(&net.dev.queues[VIRTIO_NET_RX], 0, ram[CTRL + 8] & 1);
	ring(&net.dev.queues[VIRTIO_NET_TX], 0x400, ram[CTRL + 8] & 2);
	net.dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
			 VIRTIO_STATUS_DRIVER_OK;

	virtio_queue_notify(&net.dev, VIRTIO_NET_TX);
	while (recv(sv[1], drain, sizeof(drain), 0) > 0)
		;
	/* Up to four frames from the network: lengths at CTRL+10, bytes from CTRL+0x20. */
	for (unsigned int i = 0; i < 4; i++) {
		uint16_t len;
		memcpy(&len, ram + CTRL + 10 + 2 * i, 2);
		len %= 0x3000;
		if (send(sv[1], ram + CTRL + 0x20, len, 0) < 0)
			break;
	}
	virtio_net_backend_readable(&net);
	virtio_queue_notify(&net.dev, VIRTIO_NET_RX);
	while (recv(sv[0], drain, sizeof(drain), 0) > 0)
		;
	pthread_mutex_destroy(&net.dev.lock);
	return 0;
}
