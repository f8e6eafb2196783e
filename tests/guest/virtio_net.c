/*
 * n90vmm test guest: the virtio-net test (virtio 1.2 §5.1) and the net benchmark.
 *
 * The guest is a tiny IPv4 host on raw Ethernet frames: it resolves its peer with ARP, pings
 * it, answers ARP and ICMP echo for its own address (so the host can ping it), and serves the
 * bulk-transfer sessions of the host tool tests/integration/nettest.c (the protocol is in
 * nettest.h). The command line gives the addresses: net.ip=A.B.C.D (default 10.0.2.2),
 * net.peer=A.B.C.D (default 10.0.2.1), net_wait=SECONDS (default 30: how long to serve
 * without a frame from the host before giving up).
 *
 * bench=net: no ARP or ping checks; the guest serves the host tool's sessions (which then
 * carry NT_F_BENCH) and prints its own view of each direction as a BENCH line. The host
 * tool's figures are the ones to read (tests/bench/net-cases.sh).
 *
 * Queue 0 is receiveq1, queue 1 transmitq1 (§5.1.2). Every receive buffer is one 2 KiB
 * device-writable descriptor, every transmit frame one readable descriptor holding the
 * 12-byte struct virtio_net_hdr_v1 and the frame (VERSION_1 allows any layout, §2.6.4).
 */
#include "virtio.h"
#include "nettest.h"

#define NET_F_MAC 5
#define NET_F_MRG_RXBUF 15
#define NET_F_STATUS 16
#define NET_S_LINK_UP 1
#define RXQ 0
#define TXQ 1
/* §5.1.6: with VERSION_1 the header is struct virtio_net_hdr_v1, 12 bytes, whether or not
 * MRG_RXBUF is negotiated (num_buffers is its last field). */
#define NET_HDR_LEN 12
#define NET_HDR_NUM_BUFFERS 10
#define BUF_LEN 2048
#define RX_MAX 128
#define TX_MAX 64

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_MIN_FRAME 60
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8
#define PING_ID 0x4e39
#define PING_PAYLOAD 56
#define PING_COUNT 3

static struct vdev *dev;
static struct vq rxq, txq;
static u8 rx_bufs[RX_MAX][BUF_LEN] __attribute__((aligned(4096)));
static u8 tx_bufs[TX_MAX][BUF_LEN] __attribute__((aligned(4096)));
static u16 tx_free[TX_MAX];
static u32 rx_n, tx_n, tx_nfree;
static int mrg_rxbuf;
static u64 hz;

static u8 my_mac[ETH_ALEN], peer_mac[ETH_ALEN];
static u8 my_ip[4] = { 10, 0, 2, 2 }, peer_ip[4] = { 10, 0, 2, 1 };
static u32 peer_known;
static u32 ping_replies, echo_answered;

/* The first failure of the bulk protocol, kept (failf's buffer is shared). */
static char bulk_err[160];
static u32 irq_seen, lost_irqs;
static u64 rx_frames;

static const u8 broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void set_bulk_err(const char *why)
{
	if (!bulk_err[0])
		copy_str(bulk_err, why, sizeof(bulk_err));
}

static u16 get_be16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static void put_be16(u8 *p, u16 v)
{
	p[0] = (u8)(v >> 8);
	p[1] = (u8)v;
}

/* RFC 1071 Internet checksum of n bytes (as stored big-endian: put_be16 the result). */
static u16 inet_csum(const u8 *p, u32 n)
{
	u32 sum = 0;
	for (u32 i = 0; i + 1 < n; i += 2)
		sum += get_be16(p + i);
	if (n & 1)
		sum += (u32)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (u16)~sum;
}

static int parse_ip(const char *s, u8 ip[4])
{
	for (int i = 0; i < 4; i++) {
		u32 v = 0, digits = 0;
		for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
			v = v * 10 + (u32)(*s - '0');
		if (!digits || v > 255 || (i < 3 && *s++ != '.'))
			return -1;
		ip[i] = (u8)v;
	}
	return *s && !is_space(*s) ? -1 : 0;
}

static const char *mac_str(const u8 *m)
{
	static char s[18];
	for (int i = 0; i < ETH_ALEN; i++) {
		s[3 * i] = "0123456789abcdef"[m[i] >> 4];
		s[3 * i + 1] = "0123456789abcdef"[m[i] & 15];
		s[3 * i + 2] = i < ETH_ALEN - 1 ? ':' : 0;
	}
	return s;
}

/* ------------------------------------------------------------------ */
/* Queues                                                              */
/* ------------------------------------------------------------------ */

static void rx_post(u32 i)
{
	rxq.desc[i] = (struct vdesc){ (u64)rx_bufs[i], BUF_LEN, VIRTQ_DESC_F_WRITE, 0 };
	vq_publish(&rxq, (u16)i);
}

static void tx_reap(void)
{
	u32 id, len;
	while (vq_pop(&txq, &id, &len))
		if (id < tx_n && tx_nfree < tx_n)
			tx_free[tx_nfree++] = (u16)id;
		else
			set_bulk_err(failf("transmit used element id %u is not one of ours", id));
}

static int rings_pending(void)
{
	return vq_used_idx(&rxq) != rxq.used_seen || vq_used_idx(&txq) != txq.used_seen;
}

/*
 * Waits up to `max_cycles` for the device. Polled: until a used ring moves. Interrupt driven:
 * halted until the device's interrupt (or a 10 ms timer tick); used-ring progress that no
 * interrupt announces within a few ticks is counted as a lost interrupt.
 */
static void net_wait(u64 max_cycles)
{
	u64 t0 = clock_now();
	if (!dev->irq) {
		while (!rings_pending() && clock_now() - t0 < max_cycles)
			cpu_relax();
		return;
	}
	volatile u32 *count = &dev->irqs;
	u32 stale = 0;
	irq_disable();
	while (*count == irq_seen && clock_now() - t0 < max_cycles) {
		if (rings_pending() && ++stale > 3) {
			lost_irqs++;
			break;
		}
		irq_halt(10000000); /* 10 ms */
	}
	irq_seen = *count;
}

/* A free transmit buffer (its index), waiting up to 5 s for one; -1 if none came back. */
static int tx_alloc(void)
{
	u64 t0 = clock_now();
	for (;;) {
		tx_reap();
		if (tx_nfree)
			return tx_free[--tx_nfree];
		if (clock_now() - t0 > 5 * hz) {
			set_bulk_err("no transmit buffer came back for 5 s");
			return -1;
		}
		net_wait(hz / 100);
	}
}

/* The frame of transmit buffer i (after the virtio-net header), with its Ethernet header. */
static u8 *tx_frame(int i, const u8 *dst, u16 ethertype)
{
	u8 *b = tx_bufs[i];
	memset(b, 0, NET_HDR_LEN); /* no checksum offload, no GSO (§5.1.6.2) */
	u8 *f = b + NET_HDR_LEN;
	memcpy(f, dst, ETH_ALEN);
	memcpy(f + ETH_ALEN, my_mac, ETH_ALEN);
	put_be16(f + 12, ethertype);
	return f;
}

/* Queues a frame of `len` bytes (padded to Ethernet's minimum); `kick` notifies now. */
static void tx_queue(int i, u32 len, int kick)
{
	if (len < ETH_MIN_FRAME) {
		memset(tx_bufs[i] + NET_HDR_LEN + len, 0, ETH_MIN_FRAME - len);
		len = ETH_MIN_FRAME;
	}
	txq.desc[i] = (struct vdesc){ (u64)tx_bufs[i], NET_HDR_LEN + len, 0, 0 };
	vq_publish(&txq, (u16)i);
	if (kick)
		vq_kick(&txq);
}

/* ------------------------------------------------------------------ */
/* ARP and ICMP                                                        */
/* ------------------------------------------------------------------ */

static void arp_send(u16 op, const u8 *dst_mac, const u8 *tha, const u8 *tpa)
{
	int i = tx_alloc();
	if (i < 0)
		return;
	u8 *f = tx_frame(i, dst_mac, ETHERTYPE_ARP), *a = f + ETH_HLEN;
	put_be16(a, 1); /* Ethernet */
	put_be16(a + 2, ETHERTYPE_IPV4);
	a[4] = ETH_ALEN;
	a[5] = 4;
	put_be16(a + 6, op);
	memcpy(a + 8, my_mac, ETH_ALEN);
	memcpy(a + 14, my_ip, 4);
	memcpy(a + 18, tha, ETH_ALEN);
	memcpy(a + 24, tpa, 4);
	tx_queue(i, ETH_HLEN + 28, 1);
}

static void arp_rx(const u8 *f, u32 len)
{
	const u8 *a = f + ETH_HLEN;
	if (len < ETH_HLEN + 28 || get_be16(a) != 1 || get_be16(a + 2) != ETHERTYPE_IPV4 || a[4] != ETH_ALEN || a[5] != 4)
		return;
	u16 op = get_be16(a + 6);
	if (op == 1 && !memcmp(a + 24, my_ip, 4)) {
		arp_send(2, a + 8, a + 8, a + 14);
	} else if (op == 2 && !memcmp(a + 14, peer_ip, 4) && !memcmp(a + 24, my_ip, 4)) {
		memcpy(peer_mac, a + 8, ETH_ALEN);
		peer_known = 1;
	}
}

/* IPv4 header (20 bytes, no options) for `payload` bytes of protocol 1 (ICMP). */
static void ipv4_header(u8 *ip, const u8 *dst, u32 payload, u16 id)
{
	ip[0] = 0x45;
	ip[1] = 0;
	put_be16(ip + 2, (u16)(20 + payload));
	put_be16(ip + 4, id);
	put_be16(ip + 6, 0x4000); /* don't fragment */
	ip[8] = 64;
	ip[9] = 1;
	put_be16(ip + 10, 0);
	memcpy(ip + 12, my_ip, 4);
	memcpy(ip + 16, dst, 4);
	put_be16(ip + 10, inet_csum(ip, 20));
}

static void ping_send(u16 seq)
{
	int i = tx_alloc();
	if (i < 0)
		return;
	u8 *f = tx_frame(i, peer_mac, ETHERTYPE_IPV4), *ip = f + ETH_HLEN, *icmp = ip + 20;
	ipv4_header(ip, peer_ip, 8 + PING_PAYLOAD, seq);
	icmp[0] = ICMP_ECHO_REQUEST;
	icmp[1] = 0;
	put_be16(icmp + 2, 0);
	put_be16(icmp + 4, PING_ID);
	put_be16(icmp + 6, seq);
	for (u32 b = 0; b < PING_PAYLOAD; b++)
		icmp[8 + b] = (u8)(seq + b);
	put_be16(icmp + 2, inet_csum(icmp, 8 + PING_PAYLOAD));
	tx_queue(i, ETH_HLEN + 20 + 8 + PING_PAYLOAD, 1);
}

static void ipv4_rx(const u8 *f, u32 len)
{
	const u8 *ip = f + ETH_HLEN;
	if (len < ETH_HLEN + 20 || ip[0] != 0x45 || memcmp(ip + 16, my_ip, 4) || ip[9] != 1)
		return; /* not IPv4 ICMP for us without options: not ours to answer */
	u32 total = get_be16(ip + 2);
	if (total < 28 || ETH_HLEN + total > len || (get_be16(ip + 6) & 0x3fff))
		return; /* truncated or a fragment */
	/* No checksum offload was negotiated: every checksum must already be right. */
	const u8 *icmp = ip + 20;
	u32 icmp_len = total - 20;
	if (inet_csum(ip, 20) || inet_csum(icmp, icmp_len)) {
		set_bulk_err("an IPv4/ICMP frame from the host has a bad checksum");
		return;
	}
	if (icmp[0] == ICMP_ECHO_REPLY && get_be16(icmp + 4) == PING_ID && !memcmp(ip + 12, peer_ip, 4)) {
		u16 seq = get_be16(icmp + 6);
		int same = icmp_len == 8 + PING_PAYLOAD;
		for (u32 b = 0; same && b < PING_PAYLOAD; b++)
			same = icmp[8 + b] == (u8)(seq + b);
		if (same && seq == ping_replies + 1)
			ping_replies++;
	} else if (icmp[0] == ICMP_ECHO_REQUEST && icmp_len + 20 + ETH_HLEN <= BUF_LEN - NET_HDR_LEN) {
		int i = tx_alloc();
		if (i < 0)
			return;
		u8 *r = tx_frame(i, f + ETH_ALEN, ETHERTYPE_IPV4), *rip = r + ETH_HLEN, *ricmp = rip + 20;
		ipv4_header(rip, ip + 12, icmp_len, get_be16(ip + 4));
		memcpy(ricmp, icmp, icmp_len);
		ricmp[0] = ICMP_ECHO_REPLY;
		put_be16(ricmp + 2, 0);
		put_be16(ricmp + 2, inet_csum(ricmp, icmp_len));
		tx_queue(i, ETH_HLEN + 20 + icmp_len, 1);
		echo_answered++;
	}
}

/* ------------------------------------------------------------------ */
/* The bulk-transfer session (nettest.h)                               */
/* ------------------------------------------------------------------ */

enum sess_state { S_NONE, S_H2G, S_G2H, S_WAIT_DONE };

static struct {
	enum sess_state state;
	u32 id, flags, chunk, window;
	u8 host_mac[ETH_ALEN];
	u64 h2g_bytes, g2h_bytes;
	u32 h2g_frames, g2h_frames;
	/* host -> guest */
	u32 h2g_next, gaps;
	u64 h2g_got, h2g_fnv, h2g_t0, h2g_t1;
	/* guest -> host */
	u32 g2h_next, g2h_acked;
	u64 g2h_fnv, g2h_t0, g2h_t1;
	int done;
	u32 host_verdict;
} s;

static u32 frames_for(u64 bytes, u32 chunk) { return (u32)((bytes + chunk - 1) / chunk); }

/* A protocol frame of type `type` to the host, with `plen` payload bytes copied from `pl`. */
static void nt_send(u8 type, u32 seq, u32 arg, const void *pl, u32 plen, int kick)
{
	int i = tx_alloc();
	if (i < 0)
		return;
	u8 *f = tx_frame(i, s.host_mac, NT_ETHERTYPE);
	struct nt_hdr h = { NT_MAGIC, type, (u8)s.flags, s.id, seq, arg };
	memcpy(f + ETH_HLEN, &h, sizeof(h));
	if (plen)
		memcpy(f + ETH_HLEN + sizeof(h), pl, plen);
	tx_queue(i, ETH_HLEN + (u32)sizeof(h) + plen, kick);
}

static void sum_send(u8 type, u64 bytes, u64 fnv, u64 frames)
{
	struct nt_sum sum = { bytes, fnv, frames };
	nt_send(type, 0, s.gaps, &sum, sizeof(sum), 1);
}

static void h2g_finished(void)
{
	s.h2g_t1 = clock_now();
	nt_send(NT_ACK, s.h2g_next, 0, 0, 0, 0);
	sum_send(NT_H2G_SUM, s.h2g_got, s.h2g_fnv, s.h2g_frames);
	if (!(s.flags & NT_F_BENCH))
		kprintf("net: host->guest %lu bytes, %u frames, fnv1a64 %lx\n", s.h2g_got, s.h2g_frames, s.h2g_fnv);
	s.state = s.g2h_frames ? S_G2H : S_WAIT_DONE;
	s.g2h_t0 = clock_now();
}

static void nt_hello(const u8 *f, const struct nt_hdr *h, const u8 *pl, u32 plen)
{
	struct nt_hello hello;
	if (plen < sizeof(hello))
		return;
	if (s.state == S_NONE || h->session != s.id) {
		memcpy(&hello, pl, sizeof(hello));
		if (!hello.chunk || hello.chunk % 8 || hello.chunk > NT_MAX_CHUNK || !hello.window ||
		    hello.h2g_bytes > (1ull << 40) || hello.g2h_bytes > (1ull << 40)) {
			set_bulk_err("the host's HELLO asks for an impossible session");
			return;
		}
		memset(&s, 0, sizeof(s));
		s.id = h->session;
		s.flags = h->flags & NT_F_BENCH;
		s.chunk = hello.chunk;
		s.window = hello.window;
		s.h2g_bytes = hello.h2g_bytes;
		s.g2h_bytes = hello.g2h_bytes;
		s.h2g_frames = frames_for(s.h2g_bytes, s.chunk);
		s.g2h_frames = frames_for(s.g2h_bytes, s.chunk);
		s.h2g_fnv = s.g2h_fnv = FNV1A64_INIT;
		memcpy(s.host_mac, f + ETH_ALEN, ETH_ALEN);
		s.state = S_H2G;
	}
	nt_send(NT_HELLO_ACK, 0, 0, 0, 0, 1);
	if (s.state == S_H2G && !s.h2g_frames) {
		s.h2g_t0 = clock_now();
		h2g_finished();
	}
}

static void nt_data(const struct nt_hdr *h, const u8 *pl, u32 plen)
{
	if (s.state != S_H2G || h->session != s.id)
		return;
	if (!s.h2g_next && !s.h2g_got)
		s.h2g_t0 = clock_now();
	u32 want = s.h2g_next + 1 == s.h2g_frames ? (u32)(s.h2g_bytes - (u64)s.h2g_next * s.chunk) : s.chunk;
	if (h->seq != s.h2g_next) {
		s.gaps++;
		set_bulk_err(failf("host->guest frame %u arrived when %u was due", h->seq, s.h2g_next));
		if (h->seq < s.h2g_next || h->seq >= s.h2g_frames)
			return;
		s.h2g_next = h->seq; /* carry on after the gap; the run has failed already */
		want = s.h2g_next + 1 == s.h2g_frames ? (u32)(s.h2g_bytes - (u64)s.h2g_next * s.chunk) : s.chunk;
	}
	if (h->arg != want || plen < want) {
		set_bulk_err(failf("host->guest frame %u holds %u bytes, %u expected", h->seq, h->arg, want));
		return;
	}
	if (!(s.flags & NT_F_BENCH))
		s.h2g_fnv = nt_fnv1a64(s.h2g_fnv, pl, want);
	s.h2g_got += want;
	s.h2g_next++;
	u32 every = s.window / 4 ? s.window / 4 : 1;
	if (s.h2g_next == s.h2g_frames)
		h2g_finished();
	else if (s.h2g_next % every == 0)
		nt_send(NT_ACK, s.h2g_next, 0, 0, 0, 1);
}

/* Sends guest->host data while the window and the transmit ring allow. */
static void g2h_pump(void)
{
	int sent = 0;
	while (s.state == S_G2H && s.g2h_next < s.g2h_frames && s.g2h_next - s.g2h_acked < s.window) {
		tx_reap();
		if (!tx_nfree)
			break;
		int i = tx_free[--tx_nfree];
		u32 seq = s.g2h_next;
		u32 len = seq + 1 == s.g2h_frames ? (u32)(s.g2h_bytes - (u64)seq * s.chunk) : s.chunk;
		u8 *f = tx_frame(i, s.host_mac, NT_ETHERTYPE);
		struct nt_hdr h = { NT_MAGIC, NT_DATA, (u8)s.flags, s.id, seq, len };
		memcpy(f + ETH_HLEN, &h, sizeof(h));
		if (!(s.flags & NT_F_BENCH)) {
			u8 *data = f + ETH_HLEN + sizeof(h);
			nt_fill(data, NT_SEED_G2H, (u64)seq * s.chunk, len);
			s.g2h_fnv = nt_fnv1a64(s.g2h_fnv, data, len);
		}
		tx_queue(i, ETH_HLEN + (u32)sizeof(h) + len, 0);
		s.g2h_next++;
		/* Kick in batches: one notification per 16 frames and at the window's edge. */
		if (++sent % 16 == 0)
			vq_kick(&txq);
	}
	if (sent)
		vq_kick(&txq);
}

static void nt_ack(const struct nt_hdr *h)
{
	if (h->session != s.id || s.state != S_G2H)
		return;
	if (h->seq > s.g2h_acked && h->seq <= s.g2h_next)
		s.g2h_acked = h->seq;
	if (s.g2h_acked == s.g2h_frames) {
		s.g2h_t1 = clock_now();
		sum_send(NT_G2H_SUM, s.g2h_bytes, s.g2h_fnv, s.g2h_frames);
		if (!(s.flags & NT_F_BENCH))
			kprintf("net: guest->host %lu bytes, %u frames, fnv1a64 %lx\n", s.g2h_bytes, s.g2h_frames, s.g2h_fnv);
		s.state = S_WAIT_DONE;
	}
}

static void nt_rx(const u8 *f, u32 len)
{
	struct nt_hdr h;
	if (len < ETH_HLEN + sizeof(h))
		return;
	memcpy(&h, f + ETH_HLEN, sizeof(h));
	if (h.magic != NT_MAGIC)
		return;
	const u8 *pl = f + ETH_HLEN + sizeof(h);
	u32 plen = len - ETH_HLEN - (u32)sizeof(h);
	switch (h.type) {
	case NT_HELLO:
		nt_hello(f, &h, pl, plen);
		break;
	case NT_DATA:
		nt_data(&h, pl, plen);
		break;
	case NT_ACK:
		nt_ack(&h);
		break;
	case NT_DONE:
		if (h.session != s.id || s.state == S_NONE)
			break;
		nt_send(NT_DONE_ACK, 0, 0, 0, 0, 1);
		s.done = 1;
		s.host_verdict = h.arg;
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Receive path and the main loop                                      */
/* ------------------------------------------------------------------ */

static void net_rx(const u8 *f, u32 len)
{
	if (len < ETH_HLEN)
		return;
	if (memcmp(f, my_mac, ETH_ALEN) && memcmp(f, broadcast, ETH_ALEN))
		return; /* not for us (no promiscuous mode was asked for) */
	rx_frames++;
	u16 type = get_be16(f + 12);
	if (type == ETHERTYPE_ARP)
		arp_rx(f, len);
	else if (type == ETHERTYPE_IPV4)
		ipv4_rx(f, len);
	else if (type == NT_ETHERTYPE)
		nt_rx(f, len);
}

static void rx_drain(void)
{
	u32 id, len, n = 0;
	while (vq_pop(&rxq, &id, &len)) {
		if (id >= rx_n || len < NET_HDR_LEN || len > BUF_LEN) {
			set_bulk_err(failf("receive used element id %u len %u is not one of our buffers", id, len));
			continue;
		}
		u8 *b = rx_bufs[id];
		/* §5.1.6.4: num_buffers is 1 unless a frame spans buffers, which a 2 KiB buffer and
		 * a 1514-byte frame never need. */
		if (mrg_rxbuf && (b[NET_HDR_NUM_BUFFERS] | b[NET_HDR_NUM_BUFFERS + 1] << 8) != 1)
			set_bulk_err("a received frame spans more than one buffer");
		else
			net_rx(b + NET_HDR_LEN, len - NET_HDR_LEN);
		rx_post(id);
		n++;
	}
	if (n)
		vq_kick(&rxq);
}

/* One round of the loop: everything received, transmit buffers back, data to send. */
static void net_poll(void)
{
	rx_drain();
	tx_reap();
	g2h_pump();
}

/* Runs the loop until *counter reaches target or `seconds` pass; 0 if it did. */
static int run_until(const u32 *counter, u32 target, u64 seconds)
{
	u64 t0 = clock_now();
	for (;;) {
		net_poll();
		if (*(const volatile u32 *)counter >= target)
			return 0;
		if (clock_now() - t0 > seconds * hz)
			return -1;
		net_wait(hz / 100);
	}
}

/* Serves ARP, ping and the host tool's sessions until DONE, or `idle` seconds without a
 * frame. */
static const char *serve(u64 idle)
{
	u64 last = clock_now(), seen = rx_frames;
	while (!s.done) {
		net_poll();
		if (rx_frames != seen) {
			seen = rx_frames;
			last = clock_now();
		} else if (clock_now() - last > idle * hz) {
			return failf("no frame from the host for %lu s (state %u)", idle, s.state);
		}
		net_wait(hz / 100);
	}
	/* Let DONE_ACK leave before the guest powers off. */
	for (u64 t0 = clock_now(); tx_nfree < tx_n && clock_now() - t0 < hz;)
		tx_reap();
	return 0;
}

static const char *net_start(struct vdev *d)
{
	const char *err;
	if (d->probe_err)
		return d->probe_err;
	/*
	 * MAC, STATUS and MRG_RXBUF only. No CSUM/GUEST_CSUM, TSO, UFO or GUEST_* offloads: the
	 * guest computes every IPv4/ICMP checksum itself, so the device must deliver frames whole
	 * and with valid checksums (§5.1.6.4: without GUEST_CSUM no VIRTIO_NET_HDR_F_NEEDS_CSUM),
	 * and every receive buffer of 2 KiB is enough without GUEST_TSO/UFO (§5.1.6.3.1).
	 */
	if ((err = vdev_begin(d, (1ull << NET_F_MAC) | (1ull << NET_F_STATUS) | (1ull << NET_F_MRG_RXBUF))))
		return err;
	if ((err = vq_setup(&rxq, d, RXQ, 0, 0, 0)) || (err = vq_setup(&txq, d, TXQ, 0, 1, 0)))
		return err;
	mrg_rxbuf = (d->features >> NET_F_MRG_RXBUF) & 1;
	rx_n = rxq.size < RX_MAX ? rxq.size : RX_MAX;
	tx_n = txq.size < TX_MAX ? txq.size : TX_MAX;
	for (u32 i = 0; i < rx_n; i++)
		rx_post(i);
	for (tx_nfree = 0; tx_nfree < tx_n; tx_nfree++)
		tx_free[tx_nfree] = (u16)(tx_n - 1 - tx_nfree);
	if (d->features & (1ull << NET_F_MAC)) {
		for (u32 i = 0; i < ETH_ALEN; i++)
			my_mac[i] = vdev_cfg8(d, i);
	} else {
		/* §5.1.5: without VIRTIO_NET_F_MAC the driver picks one (locally administered). */
		static const u8 own[ETH_ALEN] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };
		memcpy(my_mac, own, ETH_ALEN);
	}
	irq_seen = d->irqs;
	vdev_driver_ok(d);
	vq_kick(&rxq);
	return 0;
}

static void net_bench_line(const char *op, u64 frames, u64 bytes, u64 t0, u64 t1)
{
	u64 usec = hz && t1 > t0 ? (t1 - t0) * 1000 / (hz / 1000) : 0;
	kprintf("BENCH {\"op\":\"%s\",\"transport\":\"%s\",\"frames\":%lu,\"bytes\":%lu,\"tsc_hz\":%lu,\"usec\":%lu,"
		"\"frames_per_s\":%lu,\"mb_per_s\":%lu}\n",
		op, transport_name(dev), frames, bytes, hz, usec, usec ? frames * 1000000 / usec : 0,
		usec ? bytes / usec : 0);
}

void net_main(const struct vmode *m, const char *bench)
{
	dev = vdev_find(m, 0);
	const char *v = cmdline_value("net.ip=");
	const char *cfg_err = v && parse_ip(v, my_ip) ? "bad net.ip= address" : 0;
	if ((v = cmdline_value("net.peer=")) && parse_ip(v, peer_ip))
		cfg_err = "bad net.peer= address";
	long idle = (v = cmdline_value("net_wait=")) ? parse_num(v) : 30;
	if (idle < 1)
		cfg_err = "bad net_wait= value";
	int is_bench = bench != 0;
	if (bench && !starts_with(bench, "net"))
		cfg_err = "bench= takes net with virtio=net-...";
	if (cfg_err) {
		report("net-config", cfg_err);
		return;
	}
	hz = clock_hz();
	if (!hz) {
		report("net-start", "no clock frequency (x86: from the PIT or the LAPIC timer), needed for timeouts");
		return;
	}
	const char *err = net_start(dev);
	if (err) {
		kprintf("virtio-net: %s\n", transport_name(dev));
		report("net-start", err);
		return;
	}
	const char *link = !(dev->features & (1ull << NET_F_STATUS)) ? "link status not offered"
			   : vdev_cfg8(dev, 6) & NET_S_LINK_UP ? "link up" : "link down";
	kprintf("virtio-net: %s, mac %s, %s\n", transport_name(dev), mac_str(my_mac), link);
	dprintf("net features %lx, mrg_rxbuf %u, rx %u tx %u buffers, tsc %lu Hz\n", dev->features, mrg_rxbuf,
		rx_n, tx_n, hz);
	u32 irqs0 = dev->irqs;

	if (!is_bench) {
		/* ARP for the peer: a request a second, five at most. */
		for (u32 try = 0; try < 5 && !peer_known; try++) {
			static const u8 zero[ETH_ALEN];
			arp_send(1, broadcast, zero, peer_ip);
			run_until(&peer_known, 1, 1);
		}
		report("net-arp", peer_known ? 0 : failf("no ARP reply from %u.%u.%u.%u", peer_ip[0], peer_ip[1],
							 peer_ip[2], peer_ip[3]));
		const char *ping = peer_known ? 0 : "no peer MAC";
		for (u16 seq = 1; !ping && seq <= PING_COUNT; seq++) {
			ping_send(seq);
			if (run_until(&ping_replies, seq, 2))
				ping = failf("no echo reply %u of %u from %u.%u.%u.%u", seq, PING_COUNT, peer_ip[0],
					     peer_ip[1], peer_ip[2], peer_ip[3]);
		}
		report("net-ping", ping);
	}
	kprintf("net: serving %u.%u.%u.%u\n", my_ip[0], my_ip[1], my_ip[2], my_ip[3]);
	err = serve((u64)idle);
	if (!err && bulk_err[0])
		err = bulk_err;
	if (!err && s.host_verdict)
		err = failf("the host tool found %u problem(s) in the transfer", s.host_verdict);
	if (is_bench) {
		net_bench_line("net-h2g", s.h2g_frames, s.h2g_got, s.h2g_t0, s.h2g_t1);
		net_bench_line("net-g2h", s.g2h_frames, s.g2h_bytes, s.g2h_t0, s.g2h_t1);
		report("net-bench", err);
	} else {
		report("net-host-ping", echo_answered ? 0 : "the host never pinged the guest");
		report("net-bulk", err);
	}
	if (dev->irq) {
		u32 got = dev->irqs - irqs0;
		report("net-irq", lost_irqs ? failf("%u times the rings moved without an interrupt", lost_irqs)
				  : !got ? "no device interrupt at all" : 0);
	}
	vdev_set_status(dev, 0);
}
