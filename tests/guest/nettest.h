/*
 * The raw-frame protocol between the test guest's virtio-net mode (tests/guest/virtio_net.c)
 * and the host tool (tests/integration/nettest.c). Shared by both: freestanding-safe (only
 * <stdint.h>), no byte-order helpers, so every field is little-endian on the wire (both ends
 * are little-endian, x86 or arm64; the frames never leave the test's network namespace).
 *
 * Frames carry EtherType 0x88B5 (IEEE 802 "local experimental"), then struct nt_hdr, then the
 * message's payload. A session:
 *
 *   host  HELLO {h2g bytes, g2h bytes, chunk, window, flags}  (resent until HELLO_ACK)
 *   guest HELLO_ACK
 *   host  DATA seq 0..N-1, at most `window` frames ahead of the guest's last ACK
 *   guest ACK {seq = frames received in order} every window/4 frames and at the end,
 *         then H2G_SUM {bytes, FNV-1a 64 of the bytes, gaps}
 *   guest DATA seq 0..M-1 the same way, host ACKs; then G2H_SUM {bytes, FNV-1a 64}
 *   host  DONE {arg = 0 if the host verified everything}   (resent until DONE_ACK)
 *   guest DONE_ACK, and the guest's run ends.
 *
 * The window is the flow control that keeps delivery loss-free: a tap drops what its queue
 * (txqueuelen, 1000 frames) cannot hold, and so does a packet socket's receive buffer. No
 * frame is ever retransmitted, so a sequence gap is a failure, reported by the side that
 * saw it.
 *
 * Data bytes: byte o of a direction's stream is byte (o & 7) of nt_word(seed, o >> 3),
 * little-endian, seed NT_SEED_H2G or NT_SEED_G2H. With NT_F_BENCH neither side generates
 * or checks the pattern (the figures then measure the transport, not the checksums).
 */
#ifndef N90_NETTEST_H
#define N90_NETTEST_H

#include <stdint.h>

#define NT_ETHERTYPE 0x88b5
#define NT_MAGIC 0x394e /* "N9" */

enum nt_type {
	NT_HELLO = 1,
	NT_HELLO_ACK = 2,
	NT_DATA = 3,
	NT_ACK = 4,
	NT_H2G_SUM = 5,
	NT_G2H_SUM = 6,
	NT_DONE = 7,
	NT_DONE_ACK = 8,
};

#define NT_F_BENCH 1

struct nt_hdr {
	uint16_t magic;
	uint8_t type, flags;
	uint32_t session;
	uint32_t seq; /* DATA: frame number; ACK: frames received in order */
	uint32_t arg; /* DATA: payload bytes; SUM: sequence gaps seen; DONE: host verdict (0 ok) */
} __attribute__((packed));

struct nt_hello {
	uint64_t h2g_bytes, g2h_bytes;
	uint32_t chunk;  /* data bytes per DATA frame, a multiple of 8 */
	uint32_t window; /* DATA frames in flight, at most */
} __attribute__((packed));

struct nt_sum {
	uint64_t bytes, fnv1a64;
	uint64_t frames;
} __attribute__((packed));

#define NT_ETH_HLEN 14
#define NT_MAX_CHUNK 1472 /* 1514-byte frames: 14 + 16 + 1472 + 12 spare */
#define NT_DEFAULT_CHUNK 1408
#define NT_DEFAULT_WINDOW 256
#define NT_SEED_H2G 0x4832472d6e393030ull
#define NT_SEED_G2H 0x4732482d6e393030ull

#define FNV1A64_INIT 0xcbf29ce484222325ull
#define FNV1A64_PRIME 0x100000001b3ull

/* splitmix64 of seed + index: the pattern's 8-byte word number `index`. */
static inline uint64_t nt_word(uint64_t seed, uint64_t index)
{
	uint64_t x = seed + index * 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t nt_fnv1a64(uint64_t h, const uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * FNV1A64_PRIME;
	return h;
}

/* Fills `n` bytes (a multiple of 8 unless last) of the stream from offset `off` (a multiple
 * of 8). */
static inline void nt_fill(uint8_t *p, uint64_t seed, uint64_t off, uint32_t n)
{
	for (uint32_t i = 0; i < n; i += 8) {
		uint64_t w = nt_word(seed, (off + i) >> 3);
		for (uint32_t b = 0; b < 8 && i + b < n; b++)
			p[i + b] = (uint8_t)(w >> (8 * b));
	}
}

#endif
