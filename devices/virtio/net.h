/* virtio-net (virtio 1.2 §5.1) on a TAP device: one receive and one transmit queue, MAC and
 * link status in config space, checksum and segmentation offloads passed through to the tap
 * (IFF_VNET_HDR, TUNSETOFFLOAD), mergeable receive buffers.
 *
 * Transmit writes each chain to the tap with writev straight from guest memory. Receive
 * reads a frame with readv straight into the first receive chain; only a frame larger than
 * that chain (mergeable buffers, large segments) spills into a bounce buffer and is copied
 * into further chains. When the guest has no receive buffers the frame stays queued in the
 * tap (or, once read, in the bounce buffer) until the guest posts more and notifies: the tap
 * is watched edge-triggered, so an idle or starved device costs no wake-ups. */
#ifndef N90_VIRTIO_NET_H
#define N90_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/virtio/virtio.h"

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_S_LINK_UP 1

#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP 3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN 0x80

#define VIRTIO_NET_RX 0
#define VIRTIO_NET_TX 1
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_CONFIG_LEN 8 /* mac[6], status */
#define VIRTIO_NET_HDR_LEN 12  /* struct virtio_net_hdr_v1 */
/* Largest frame (after the header) either way: an Ethernet frame with a VLAN tag, or with
 * segmentation offload a 64 KiB IP packet plus its Ethernet and VLAN headers. */
#define VIRTIO_NET_MAX_FRAME 1518u
#define VIRTIO_NET_MAX_GSO_FRAME (65535u + 18u)
#define VIRTIO_NET_MIN_FRAME 14u /* an Ethernet header */

struct virtio_net_backend {
	int fd; /* the tap, non-blocking, IFF_VNET_HDR with a 12-byte header */
	/* TUN_F_* offloads the tap accepted: decides which GUEST_* features are offered. */
	unsigned int tap_offloads;
	/* Programs the tap's offloads once the guest has chosen (TUNSETOFFLOAD). */
	int (*set_offloads)(void *opaque, unsigned int offloads);
	void *opaque;
};

struct virtio_net {
	struct virtio_dev dev;
	struct virtio_net_backend backend;
	uint8_t config[VIRTIO_NET_CONFIG_LEN];
	bool rx_starved; /* the tap may hold frames the guest had no buffers for */
	uint32_t pending_len; /* bytes of a frame (header included) held in `bounce` */
	uint16_t rx_seen;     /* receive chains looked at and given back as too few for it */
	struct virtq_chain rx_chain, rx_spill; /* the first and the further chains of a frame */
	struct virtq_chain tx_chain;
	uint8_t bounce[VIRTIO_NET_HDR_LEN + VIRTIO_NET_MAX_GSO_FRAME];
};

void virtio_net_init(struct virtio_net *net, const struct guest_mem *mem, const uint8_t mac[6],
		     struct virtio_net_backend backend);
/* The tap became readable (I/O thread): deliver what the guest has buffers for. */
void virtio_net_backend_readable(struct virtio_net *net);

/* Transmits one chain to the tap; returns false (and counts it) when the chain was dropped.
 * Exposed for unit tests and fuzzing. Called with dev.lock held. */
bool virtio_net_transmit_chain(struct virtio_net *net, const struct virtq_chain *c);

#endif
