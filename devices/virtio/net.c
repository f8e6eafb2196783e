#include "devices/virtio/net.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vmm/bytes.h"
#include "vmm/log.h"

/* Byte offsets in struct virtio_net_hdr_v1 (§5.1.6). */
#define HDR_FLAGS 0
#define HDR_GSO_TYPE 1
#define HDR_NUM_BUFFERS 10
#define HDR_F_DATA_VALID 2

#define IOV_MAX_SEGS (VIRTQ_MAX_CHAIN + 1)

static bool has(const struct virtio_net *net, unsigned int bit)
{
	return virtio_has_feature(&net->dev, bit);
}

/* Which segmentation offload a gso_type needs, as a feature of the sending side: the host's
 * (guest transmits) or the guest's (guest receives). Returns false for an unknown type. */
static bool gso_allowed(const struct virtio_net *net, uint8_t gso, bool guest_receives)
{
	unsigned int tso4 = guest_receives ? VIRTIO_NET_F_GUEST_TSO4 : VIRTIO_NET_F_HOST_TSO4;
	unsigned int tso6 = guest_receives ? VIRTIO_NET_F_GUEST_TSO6 : VIRTIO_NET_F_HOST_TSO6;
	unsigned int ufo = guest_receives ? VIRTIO_NET_F_GUEST_UFO : VIRTIO_NET_F_HOST_UFO;
	unsigned int ecn = guest_receives ? VIRTIO_NET_F_GUEST_ECN : VIRTIO_NET_F_HOST_ECN;
	if ((gso & VIRTIO_NET_HDR_GSO_ECN) && !has(net, ecn))
		return false;
	switch (gso & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !(gso & VIRTIO_NET_HDR_GSO_ECN);
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return has(net, tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return has(net, tso6);
	case VIRTIO_NET_HDR_GSO_UDP:
		return has(net, ufo);
	default:
		return false;
	}
}

/* The TUN_F_* offloads the guest accepted: what the tap may hand us from now on. */
static unsigned int guest_offloads(const struct virtio_net *net)
{
	if (!has(net, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	return TUN_F_CSUM | (has(net, VIRTIO_NET_F_GUEST_TSO4) ? TUN_F_TSO4 : 0u) |
	       (has(net, VIRTIO_NET_F_GUEST_TSO6) ? TUN_F_TSO6 : 0u) | (has(net, VIRTIO_NET_F_GUEST_ECN) ? TUN_F_TSO_ECN : 0u) |
	       (has(net, VIRTIO_NET_F_GUEST_UFO) ? TUN_F_UFO : 0u);
}

static void count_bad_chain(struct virtio_net *net, const char *why)
{
	/* A guest can send these as fast as it likes: one log line per device is enough. */
	if (!net->dev.stats.errors)
		log_warn("%s: dropped a transmit chain: %s (further ones are only counted)", net->dev.name, why);
	net->dev.stats.errors++;
	net->dev.stats.dropped++;
}

/* ------------------------------------------------------------------ */
/* Transmit: guest -> tap                                              */
/* ------------------------------------------------------------------ */

bool virtio_net_transmit_chain(struct virtio_net *net, const struct virtq_chain *c)
{
	struct iovec iov[IOV_MAX_SEGS];
	uint8_t hdr[VIRTIO_NET_HDR_LEN];

	if (c->saw_write) {
		count_bad_chain(net, "it has device-writable buffers");
		return false;
	}
	if (c->read_len < VIRTIO_NET_HDR_LEN + VIRTIO_NET_MIN_FRAME) {
		count_bad_chain(net, "shorter than a header and an Ethernet header");
		return false;
	}
	uint64_t frame = c->read_len - VIRTIO_NET_HDR_LEN;
	virtq_chain_read(c, 0, hdr, sizeof(hdr));
	uint8_t flags = hdr[HDR_FLAGS], gso = hdr[HDR_GSO_TYPE];
	bool any_gso = has(net, VIRTIO_NET_F_HOST_TSO4) || has(net, VIRTIO_NET_F_HOST_TSO6) || has(net, VIRTIO_NET_F_HOST_UFO);
	if (frame > (any_gso ? VIRTIO_NET_MAX_GSO_FRAME : VIRTIO_NET_MAX_FRAME)) {
		count_bad_chain(net, "frame larger than the negotiated maximum");
		return false;
	}
	if ((flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM) || ((flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && !has(net, VIRTIO_NET_F_CSUM))) {
		count_bad_chain(net, "header flags not negotiated");
		return false;
	}
	if (!gso_allowed(net, gso, false)) {
		count_bad_chain(net, "segmentation offload not negotiated");
		return false;
	}
	/* The tap reads the header we checked, not the guest's copy, which the guest could
	 * rewrite meanwhile; the frame itself goes straight from guest memory. */
	memset(hdr + HDR_NUM_BUFFERS, 0, 2);
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	int n = virtq_chain_iov(c, false, VIRTIO_NET_HDR_LEN, frame, iov + 1, IOV_MAX_SEGS - 1);
	if (n < 0) {
		count_bad_chain(net, "too many segments");
		return false;
	}
	ssize_t w;
	do
		w = writev(net->backend.fd, iov, n + 1);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		/* A full tap queue (ENOBUFS/EAGAIN) drops, as a real NIC would; a frame the
		 * kernel refused (EINVAL: inconsistent offload fields) is the guest's error. */
		if (errno == EINVAL)
			net->dev.stats.errors++;
		net->dev.stats.dropped++;
		return false;
	}
	net->dev.stats.requests++;
	net->dev.stats.bytes_written += frame;
	return true;
}

static void net_transmit(struct virtio_net *net)
{
	struct virtio_dev *dev = &net->dev;
	struct virtq *vq = &dev->queues[VIRTIO_NET_TX];
	int got;
	do {
		while ((got = virtq_pop(vq, &net->tx_chain)) > 0) {
			virtio_net_transmit_chain(net, &net->tx_chain);
			virtq_push(vq, net->tx_chain.head, 0);
		}
		virtio_queue_signal(dev, VIRTIO_NET_TX);
		if (got < 0)
			return;
	} while (virtq_enable_notify(vq));
}

/* ------------------------------------------------------------------ */
/* Receive: tap -> guest                                               */
/* ------------------------------------------------------------------ */

enum rx_result {
	RX_DELIVERED, /* a frame was delivered or dropped: try the next */
	RX_TAP_EMPTY, /* nothing more to read */
	RX_NO_BUFFERS,
	RX_BROKEN, /* the receive queue is malformed */
};

/* Makes a received header right for this guest: no checksum or segmentation flags it did
 * not negotiate (a frame queued in the tap before the guest changed its offloads may carry
 * them). Returns false when the frame cannot be delivered to this guest at all. */
static bool rx_header_fixup(struct virtio_net *net, uint8_t *hdr, uint16_t num_buffers)
{
	if (!gso_allowed(net, hdr[HDR_GSO_TYPE], true))
		return false;
	if (!has(net, VIRTIO_NET_F_GUEST_CSUM)) {
		if (hdr[HDR_FLAGS] & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		hdr[HDR_FLAGS] = 0; /* §5.1.6.3.2: no DATA_VALID either */
	}
	put_le16(hdr + HDR_NUM_BUFFERS, num_buffers);
	return true;
}

static enum rx_result rx_drop(struct virtio_net *net, uint16_t unpop)
{
	virtq_unpop(&net->dev.queues[VIRTIO_NET_RX], unpop);
	net->pending_len = 0;
	net->dev.stats.dropped++;
	return RX_DELIVERED;
}

/* Delivers the frame held in the bounce buffer over as many chains as it needs (one unless
 * buffers are mergeable). Without enough buffers nothing is used and the frame stays. */
static enum rx_result rx_deliver_bounce(struct virtio_net *net)
{
	struct virtq *vq = &net->dev.queues[VIRTIO_NET_RX];
	bool mergeable = has(net, VIRTIO_NET_F_MRG_RXBUF);
	uint32_t done = 0;
	uint16_t used = 0;

	while (done < net->pending_len) {
		struct virtq_chain *c = used == 0 ? &net->rx_chain : &net->rx_spill;
		int got = virtq_pop(vq, c);
		if (got < 0)
			return RX_BROKEN;
		if (got == 0 || used >= vq->size) {
			net->rx_seen = (uint16_t)(used + (got > 0));
			virtq_unpop(vq, net->rx_seen);
			return RX_NO_BUFFERS;
		}
		used++;
		/* The header must fit the first buffer; without mergeable buffers the whole
		 * frame must fit the one chain (the driver sized them for its MTU). */
		if ((used == 1 && c->write_len < VIRTIO_NET_HDR_LEN) || (!mergeable && c->write_len < net->pending_len))
			return rx_drop(net, used);
		uint64_t n = virtq_chain_write(c, 0, net->bounce + done, net->pending_len - done);
		virtq_fill(vq, (uint16_t)(used - 1), c->head, (uint32_t)n);
		done += (uint32_t)n;
	}
	uint8_t count[2];
	put_le16(count, used);
	virtq_chain_write(&net->rx_chain, HDR_NUM_BUFFERS, count, 2);
	virtq_publish(vq, used);
	net->dev.stats.requests++;
	net->dev.stats.bytes_read += net->pending_len - VIRTIO_NET_HDR_LEN;
	net->pending_len = 0;
	return RX_DELIVERED;
}

/* Reads one frame from the tap straight into the next receive chain; what does not fit goes
 * to the bounce buffer and from there into further chains. */
static enum rx_result rx_one(struct virtio_net *net)
{
	struct virtq *vq = &net->dev.queues[VIRTIO_NET_RX];
	struct virtq_chain *c = &net->rx_chain;
	struct iovec iov[IOV_MAX_SEGS];
	uint8_t hdr[VIRTIO_NET_HDR_LEN];

	if (net->pending_len)
		return rx_deliver_bounce(net);
	int got = virtq_pop(vq, c);
	if (got <= 0) {
		net->rx_seen = 0;
		return got < 0 ? RX_BROKEN : RX_NO_BUFFERS;
	}
	/* A first buffer too small for the header: read into the bounce buffer only. */
	uint64_t direct = c->write_len >= VIRTIO_NET_HDR_LEN ? c->write_len : 0;
	int n = direct ? virtq_chain_iov(c, true, 0, direct, iov, IOV_MAX_SEGS - 1) : 0;
	if (n < 0)
		n = 0, direct = 0;
	iov[n++] = (struct iovec){ net->bounce, sizeof(net->bounce) };
	ssize_t r;
	do
		r = readv(net->backend.fd, iov, n);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		virtq_unpop(vq, 1);
		if (errno != EAGAIN && !net->dev.stats.errors++)
			log_warn("%s: reading the tap: %s", net->dev.name, strerror(errno));
		return RX_TAP_EMPTY;
	}
	uint64_t len = (uint64_t)r;
	/* Runts, and frames that filled every byte we offered (so may be cut short). */
	if (len < VIRTIO_NET_HDR_LEN + VIRTIO_NET_MIN_FRAME || len == direct + sizeof(net->bounce))
		return rx_drop(net, 1);
	if (len <= direct) {
		virtq_chain_peek_written(c, 0, hdr, sizeof(hdr));
		if (!rx_header_fixup(net, hdr, 1))
			return rx_drop(net, 1);
		virtq_chain_write(c, 0, hdr, sizeof(hdr));
		virtq_push(vq, c->head, (uint32_t)len);
		net->dev.stats.requests++;
		net->dev.stats.bytes_read += len - VIRTIO_NET_HDR_LEN;
		return RX_DELIVERED;
	}
	/* Spilled: gather the whole frame in the bounce buffer and deliver it from there over
	 * as many chains as it takes (this first one included). */
	memmove(net->bounce + direct, net->bounce, len - direct);
	virtq_chain_peek_written(c, 0, net->bounce, direct);
	virtq_unpop(vq, 1);
	net->pending_len = (uint32_t)len;
	if (!rx_header_fixup(net, net->bounce, 1))
		return rx_drop(net, 0);
	return rx_deliver_bounce(net);
}

/* Delivers frames until the tap is empty or the guest is out of buffers. The tap is watched
 * edge-triggered, so stopping early (other than for lack of buffers, which a notify
 * resolves) would strand frames. A receive queue found malformed is left broken for
 * virtio_queue_run to report. */
static void rx_drain(struct virtio_net *net)
{
	struct virtq *vq = &net->dev.queues[VIRTIO_NET_RX];
	enum rx_result r = RX_NO_BUFFERS;
	bool delivered = false;

	if (!(net->dev.status & VIRTIO_STATUS_DRIVER_OK) || !vq->ready || vq->broken) {
		net->rx_starved = true;
		return;
	}
	for (;;) {
		uint16_t used_before = vq->used_idx;
		r = rx_one(net);
		delivered |= vq->used_idx != used_before;
		if (r == RX_DELIVERED)
			continue;
		/* Out of buffers: have the driver notify when it adds some, unless it already did
		 * (buffers too few for a large frame were given back: only ones after them count). */
		if (r == RX_NO_BUFFERS && virtq_enable_notify_after(vq, net->rx_seen))
			continue;
		break;
	}
	net->rx_starved = r != RX_TAP_EMPTY;
	if (delivered)
		virtio_queue_signal(&net->dev, VIRTIO_NET_RX);
}

static void rx_drain_queue(struct virtio_dev *dev, unsigned int q)
{
	(void)q;
	rx_drain(dev->model);
}

void virtio_net_backend_readable(struct virtio_net *net)
{
	virtio_queue_run(&net->dev, VIRTIO_NET_RX, rx_drain_queue);
}

/* ------------------------------------------------------------------ */
/* Device ops                                                          */
/* ------------------------------------------------------------------ */

static void net_queue_notify(struct virtio_dev *dev, unsigned int q)
{
	struct virtio_net *net = dev->model;
	if (q == VIRTIO_NET_TX)
		net_transmit(net);
	else if (q == VIRTIO_NET_RX && net->rx_starved)
		rx_drain(net); /* virtio_queue_run reports a queue it finds broken */
}

static void net_config_read(struct virtio_dev *dev, uint32_t offset, uint8_t *data, uint32_t len)
{
	struct virtio_net *net = dev->model;
	memcpy(data, net->config + offset, len);
}

static void net_driver_ok(struct virtio_dev *dev)
{
	struct virtio_net *net = dev->model;
	if (net->backend.set_offloads && net->backend.set_offloads(net->backend.opaque, guest_offloads(net)) < 0)
		log_warn("%s: the tap refused the guest's offloads", dev->name);
	/* Frames may have queued in the tap while the driver was starting. */
	net->rx_starved = true;
	rx_drain(net);
}

static void net_reset(struct virtio_dev *dev)
{
	struct virtio_net *net = dev->model;
	net->pending_len = 0;
	net->rx_starved = true;
	if (net->backend.set_offloads)
		net->backend.set_offloads(net->backend.opaque, 0);
}

static const struct virtio_device_ops net_ops = {
	.queue_notify = net_queue_notify,
	.config_read = net_config_read,
	.driver_ok = net_driver_ok,
	.reset = net_reset,
};

void virtio_net_init(struct virtio_net *net, const struct guest_mem *mem, const uint8_t mac[6],
		     struct virtio_net_backend backend)
{
	memset(net, 0, sizeof(*net));
	net->backend = backend;
	net->rx_starved = true;
	memcpy(net->config, mac, 6);
	put_le16(net->config + 6, VIRTIO_NET_S_LINK_UP);

	/* Transmit offloads need only IFF_VNET_HDR, which every tap here has; receive offloads
	 * are what the tap can be told to hand us. UFO both ways only where the kernel still
	 * takes it. */
	unsigned int t = backend.tap_offloads;
	uint64_t f = (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		     (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |
		     (1ull << VIRTIO_NET_F_HOST_ECN);
	if (t & TUN_F_UFO)
		f |= (1ull << VIRTIO_NET_F_HOST_UFO) | (1ull << VIRTIO_NET_F_GUEST_UFO);
	if (t & TUN_F_CSUM)
		f |= 1ull << VIRTIO_NET_F_GUEST_CSUM;
	if ((t & TUN_F_CSUM) && (t & TUN_F_TSO4))
		f |= 1ull << VIRTIO_NET_F_GUEST_TSO4;
	if ((t & TUN_F_CSUM) && (t & TUN_F_TSO6))
		f |= 1ull << VIRTIO_NET_F_GUEST_TSO6;
	if ((t & TUN_F_CSUM) && (t & TUN_F_TSO_ECN))
		f |= 1ull << VIRTIO_NET_F_GUEST_ECN;
	if (!(t & TUN_F_CSUM))
		f &= ~(1ull << VIRTIO_NET_F_GUEST_UFO);
	virtio_dev_init(&net->dev, "virtio-net", VIRTIO_ID_NET, f, 2, VIRTIO_NET_QUEUE_SIZE, VIRTIO_NET_CONFIG_LEN, mem,
			&net_ops, net);
}
