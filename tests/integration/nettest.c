/*
 * nettest: the host half of the test guest's virtio-net bulk transfer (tests/guest/nettest.h
 * is the protocol, tests/guest/virtio_net.c the guest half).
 *
 * Raw Ethernet frames on an AF_PACKET socket bound to one interface (the tap of the VM,
 * inside the test's own network namespace): one session sends --h2g bytes of the pattern to
 * the guest and checks the guest's FNV-1a 64 of what it received, then receives --g2h bytes
 * from the guest, checking every byte against the pattern, the sequence numbers (a gap is a
 * failure: nothing is ever retransmitted) and the guest's checksum of what it sent. DONE then
 * tells the guest the verdict and ends its run (unless --no-done).
 *
 * --bench: no pattern or checksums on either side, only the transport; --json prints the
 * host's timing of each direction as one JSON line (frames/s, MB/s, MB = 10^6 bytes).
 *
 * usage: nettest IFNAME [--h2g BYTES] [--g2h BYTES] [--chunk N] [--window N] [--timeout SEC]
 *                [--bench] [--json] [--no-done]
 * Exit status: 0 everything verified, 1 a transfer problem, 2 usage or socket error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests/guest/nettest.h"

#define FRAME_MAX 1514

static int sock;
static uint8_t host_mac[6], guest_mac[6];
static const uint8_t broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static uint32_t session;
static uint64_t h2g_bytes = 1 << 20, g2h_bytes = 1 << 20;
static uint32_t chunk = NT_DEFAULT_CHUNK, window = NT_DEFAULT_WINDOW, flags;
static double timeout_s = 10;
static int problems;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void problem(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("nettest: FAIL ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	problems++;
}

static const char *mac_str(const uint8_t *m)
{
	static char s[18];
	snprintf(s, sizeof(s), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return s;
}

/* Sends one protocol frame; a full device queue (ENOBUFS) is waited out. */
static void nt_send(uint8_t type, uint32_t seq, uint32_t arg, const void *pl, uint32_t plen, const uint8_t *dst)
{
	uint8_t f[FRAME_MAX];
	struct nt_hdr h = { NT_MAGIC, type, (uint8_t)flags, session, seq, arg };
	memcpy(f, dst, 6);
	memcpy(f + 6, host_mac, 6);
	f[12] = NT_ETHERTYPE >> 8;
	f[13] = NT_ETHERTYPE & 0xff;
	memcpy(f + NT_ETH_HLEN, &h, sizeof(h));
	if (plen)
		memcpy(f + NT_ETH_HLEN + sizeof(h), pl, plen);
	size_t len = NT_ETH_HLEN + sizeof(h) + plen;
	if (len < 60) {
		memset(f + len, 0, 60 - len);
		len = 60;
	}
	for (int tries = 0; send(sock, f, len, 0) < 0; tries++) {
		if ((errno != ENOBUFS && errno != EAGAIN && errno != EINTR) || tries > 1000) {
			fprintf(stderr, "nettest: send: %s\n", strerror(errno));
			exit(2);
		}
		usleep(1000);
	}
}

static uint32_t frames_for(uint64_t bytes) { return (uint32_t)((bytes + chunk - 1) / chunk); }
static uint32_t frame_len(uint64_t bytes, uint32_t seq)
{
	return seq + 1 == frames_for(bytes) ? (uint32_t)(bytes - (uint64_t)seq * chunk) : chunk;
}

/* Everything both directions need to know, updated by handle(). */
static struct {
	int hello_acked, done_acked;
	/* host -> guest */
	uint32_t h2g_frames, h2g_sent, h2g_acked;
	uint64_t h2g_fnv;
	double h2g_t0, h2g_t1;
	int h2g_sum_seen;
	/* guest -> host */
	uint32_t g2h_frames, g2h_next, gaps;
	uint64_t g2h_got, g2h_fnv, bad_bytes;
	double g2h_t0, g2h_t1;
	int g2h_sum_seen;
	double last_progress;
} st;

static void check_sum(const char *dir, const struct nt_sum *sum, uint32_t guest_gaps, uint64_t bytes, uint64_t fnv,
		      uint32_t frames)
{
	if (sum->bytes != bytes || sum->frames != frames || (!(flags & NT_F_BENCH) && sum->fnv1a64 != fnv) || guest_gaps)
		problem("%s: the guest counts %" PRIu64 " bytes, %" PRIu64 " frames, fnv1a64 0x%" PRIx64
			", %u gaps; the host %" PRIu64 ", %u, 0x%" PRIx64,
			dir, sum->bytes, sum->frames, sum->fnv1a64, guest_gaps, bytes, frames, fnv);
}

static void g2h_data(const struct nt_hdr *h, const uint8_t *pl, uint32_t plen)
{
	if (!st.g2h_next && !st.g2h_got)
		st.g2h_t0 = now();
	if (h->seq != st.g2h_next) {
		if (!st.gaps)
			problem("guest->host: frame %u arrived when %u was due", h->seq, st.g2h_next);
		st.gaps++;
		if (h->seq < st.g2h_next || h->seq >= st.g2h_frames)
			return;
		st.g2h_next = h->seq;
	}
	uint32_t want = frame_len(g2h_bytes, st.g2h_next);
	if (h->arg != want || plen < want) {
		problem("guest->host: frame %u holds %u bytes (%u in the frame), %u expected", h->seq, h->arg, plen, want);
		return;
	}
	if (!(flags & NT_F_BENCH)) {
		uint8_t expect[NT_MAX_CHUNK];
		nt_fill(expect, NT_SEED_G2H, (uint64_t)st.g2h_next * chunk, want);
		for (uint32_t i = 0; i < want; i++)
			if (pl[i] != expect[i] && st.bad_bytes++ == 0)
				problem("guest->host: byte %" PRIu64 " is 0x%02x, the pattern says 0x%02x",
					(uint64_t)st.g2h_next * chunk + i, pl[i], expect[i]);
		st.g2h_fnv = nt_fnv1a64(st.g2h_fnv, pl, want);
	}
	st.g2h_got += want;
	st.g2h_next++;
	uint32_t every = window / 4 ? window / 4 : 1;
	if (st.g2h_next == st.g2h_frames) {
		st.g2h_t1 = now();
		nt_send(NT_ACK, st.g2h_next, 1, 0, 0, guest_mac);
	} else if (st.g2h_next % every == 0) {
		nt_send(NT_ACK, st.g2h_next, 1, 0, 0, guest_mac);
	}
}

static void handle(const uint8_t *f, uint32_t len)
{
	struct nt_hdr h;
	if (len < NT_ETH_HLEN + sizeof(h))
		return;
	memcpy(&h, f + NT_ETH_HLEN, sizeof(h));
	if (h.magic != NT_MAGIC || h.session != session)
		return;
	const uint8_t *pl = f + NT_ETH_HLEN + sizeof(h);
	uint32_t plen = len - NT_ETH_HLEN - (uint32_t)sizeof(h);
	struct nt_sum sum;
	st.last_progress = now();
	switch (h.type) {
	case NT_HELLO_ACK:
		if (!st.hello_acked)
			memcpy(guest_mac, f + 6, 6);
		st.hello_acked = 1;
		break;
	case NT_ACK:
		if (h.seq > st.h2g_acked && h.seq <= st.h2g_sent) {
			st.h2g_acked = h.seq;
			if (st.h2g_acked == st.h2g_frames)
				st.h2g_t1 = now();
		}
		break;
	case NT_H2G_SUM:
		if (plen < sizeof(sum) || st.h2g_sum_seen++)
			break;
		memcpy(&sum, pl, sizeof(sum));
		if (!st.h2g_frames)
			st.h2g_t0 = st.h2g_t1 = now();
		check_sum("host->guest", &sum, h.arg, h2g_bytes, st.h2g_fnv, st.h2g_frames);
		break;
	case NT_DATA:
		g2h_data(&h, pl, plen);
		break;
	case NT_G2H_SUM:
		if (plen < sizeof(sum) || st.g2h_sum_seen++)
			break;
		memcpy(&sum, pl, sizeof(sum));
		check_sum("guest->host", &sum, 0, st.g2h_got, st.g2h_fnv, st.g2h_next);
		break;
	case NT_DONE_ACK:
		st.done_acked = 1;
		break;
	}
}

/* Receives whatever is there, waiting up to `ms` for the first frame. */
static void receive(int ms)
{
	struct pollfd p = { sock, POLLIN, 0 };
	if (poll(&p, 1, ms) <= 0)
		return;
	for (;;) {
		uint8_t f[2048];
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(sock, f, sizeof(f), MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue; /* our own frames, seen on their way out */
		handle(f, (uint32_t)n);
	}
}

static void h2g_send_some(void)
{
	uint8_t buf[sizeof(struct nt_hdr) + NT_MAX_CHUNK];
	for (int n = 0; n < 64 && st.h2g_sent < st.h2g_frames && st.h2g_sent - st.h2g_acked < window; n++) {
		uint32_t seq = st.h2g_sent, len = frame_len(h2g_bytes, seq);
		if (!seq)
			st.h2g_t0 = now();
		if (!(flags & NT_F_BENCH)) {
			nt_fill(buf, NT_SEED_H2G, (uint64_t)seq * chunk, len);
			st.h2g_fnv = nt_fnv1a64(st.h2g_fnv, buf, len);
		} else if (!seq) {
			memset(buf, 0x5a, sizeof(buf));
		}
		nt_send(NT_DATA, seq, len, buf, len, guest_mac);
		st.h2g_sent++;
	}
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		x <<= 10, end++;
	else if (*end == 'M')
		x <<= 20, end++;
	else if (*end == 'G')
		x <<= 30, end++;
	if (*end)
		return -1;
	*v = x;
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: nettest IFNAME [--h2g BYTES] [--g2h BYTES] [--chunk N] [--window N] [--timeout SEC]"
			" [--bench] [--json] [--no-done]\n");
	exit(2);
}

static void json_dir(const char *name, uint32_t frames, uint64_t bytes, double t0, double t1)
{
	double s = t1 > t0 ? t1 - t0 : 0;
	printf("\"%s\":{\"frames\":%u,\"bytes\":%" PRIu64 ",\"ms\":%.3f,\"frames_per_s\":%.0f,\"mb_per_s\":%.2f}", name,
	       frames, bytes, s * 1e3, s > 0 ? frames / s : 0, s > 0 ? bytes / s / 1e6 : 0);
}

int main(int argc, char **argv)
{
	int json = 0, done = 1;
	if (argc < 2 || argv[1][0] == '-')
		usage();
	const char *ifname = argv[1];
	for (int i = 2; i < argc; i++) {
		uint64_t v = 0;
		const char *a = argv[i];
		int takes = !strcmp(a, "--h2g") || !strcmp(a, "--g2h") || !strcmp(a, "--chunk") || !strcmp(a, "--window") ||
			    !strcmp(a, "--timeout");
		if (takes && (i + 1 >= argc || parse_u64(argv[++i], &v))) {
			fprintf(stderr, "nettest: %s needs a number\n", a);
			exit(2);
		}
		if (!strcmp(a, "--h2g"))
			h2g_bytes = v;
		else if (!strcmp(a, "--g2h"))
			g2h_bytes = v;
		else if (!strcmp(a, "--chunk"))
			chunk = (uint32_t)v;
		else if (!strcmp(a, "--window"))
			window = (uint32_t)v;
		else if (!strcmp(a, "--timeout"))
			timeout_s = (double)v;
		else if (!strcmp(a, "--bench"))
			flags |= NT_F_BENCH;
		else if (!strcmp(a, "--json"))
			json = 1;
		else if (!strcmp(a, "--no-done"))
			done = 0;
		else
			usage();
	}
	if (!chunk || chunk % 8 || chunk > NT_MAX_CHUNK || !window || window > 900) {
		fprintf(stderr, "nettest: --chunk must be a multiple of 8 up to %u, --window 1..900 (a tap queues 1000 frames)\n",
			NT_MAX_CHUNK);
		exit(2);
	}

	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "nettest: interface %s: %s\n", ifname, strerror(errno));
		exit(2);
	}
	sock = socket(AF_PACKET, SOCK_RAW, htons(NT_ETHERTYPE));
	if (sock < 0) {
		fprintf(stderr, "nettest: AF_PACKET socket: %s (needs CAP_NET_RAW)\n", strerror(errno));
		exit(2);
	}
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(NT_ETHERTYPE), .sll_ifindex = (int)ifindex };
	if (bind(sock, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "nettest: bind to %s: %s\n", ifname, strerror(errno));
		exit(2);
	}
	/* The window's worth of frames must fit in the receive buffer (nothing is resent). */
	int rcvbuf = 16 << 20;
	if (setsockopt(sock, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		setsockopt(sock, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(sock, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "nettest: MAC of %s: %s\n", ifname, strerror(errno));
		exit(2);
	}
	memcpy(host_mac, ifr.ifr_hwaddr.sa_data, 6);
	session = (uint32_t)getpid() * 2654435761u ^ (uint32_t)(now() * 1e6);

	st.h2g_frames = frames_for(h2g_bytes);
	st.g2h_frames = frames_for(g2h_bytes);
	st.h2g_fnv = st.g2h_fnv = FNV1A64_INIT;
	struct nt_hello hello = { h2g_bytes, g2h_bytes, chunk, window };

	/* HELLO (broadcast: the guest's MAC is not known yet) until the guest answers. */
	double t_start = now(), next_hello = 0;
	st.last_progress = t_start;
	while (!st.hello_acked && now() - t_start < timeout_s) {
		if (now() >= next_hello) {
			nt_send(NT_HELLO, 0, 0, &hello, sizeof(hello), broadcast);
			next_hello = now() + 0.5;
		}
		receive(100);
	}
	if (!st.hello_acked) {
		problem("no HELLO_ACK from a guest on %s in %.0f s", ifname, timeout_s);
		return 1;
	}
	printf("nettest: %s, session 0x%08x, guest %s\n", ifname, session, mac_str(guest_mac));

	/* Both directions; the guest starts sending once it has everything we send. */
	while (!(st.h2g_sum_seen && st.g2h_sum_seen)) {
		h2g_send_some();
		int blocked = st.h2g_sent == st.h2g_frames || st.h2g_sent - st.h2g_acked >= window;
		receive(blocked ? 50 : 0);
		if (now() - st.last_progress > timeout_s) {
			problem("stalled for %.0f s: host->guest %u of %u frames acknowledged, guest->host %u of %u frames in",
				timeout_s, st.h2g_acked, st.h2g_frames, st.g2h_next, st.g2h_frames);
			break;
		}
	}
	if (st.h2g_sum_seen)
		printf("nettest: host->guest %" PRIu64 " bytes, %u frames, fnv1a64 0x%" PRIx64 "\n", h2g_bytes,
		       st.h2g_frames, st.h2g_fnv);
	if (st.g2h_sum_seen)
		printf("nettest: guest->host %" PRIu64 " bytes, %u frames, fnv1a64 0x%" PRIx64 "%s\n", st.g2h_got,
		       st.g2h_next, st.g2h_fnv, flags & NT_F_BENCH ? "" : st.bad_bytes ? ", pattern WRONG" : ", pattern ok");
	if (st.gaps)
		problem("guest->host: %u sequence gaps", st.gaps);
	if (st.bad_bytes)
		problem("guest->host: %" PRIu64 " bytes differ from the pattern", st.bad_bytes);

	if (done) {
		for (int i = 0; i < 10 && !st.done_acked; i++) {
			nt_send(NT_DONE, 0, (uint32_t)problems, 0, 0, guest_mac);
			receive(300);
		}
		if (!st.done_acked)
			problem("no DONE_ACK from the guest");
	}
	if (json) {
		printf("{");
		json_dir("h2g", st.h2g_frames, h2g_bytes, st.h2g_t0, st.h2g_t1);
		printf(",");
		json_dir("g2h", st.g2h_next, st.g2h_got, st.g2h_t0, st.g2h_t1);
		printf(",\"chunk\":%u,\"window\":%u,\"problems\":%d}\n", chunk, window, problems);
	}
	printf("nettest: %s\n", problems ? "FAIL" : "PASS");
	return problems ? 1 : 0;
}
