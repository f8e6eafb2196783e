/*
 * n90vmm test guest: the virtio-blk test (virtio 1.2 §5.2) and the blk benchmark.
 *
 * On a read-write disk it writes a known pattern to sectors 0-1, 64-71 (one request split
 * over three descriptors) and the last sector, flushes, reads everything back (64-71 through
 * an indirect table) and compares; the integration test then checks the same bytes in the
 * image file on the host. On a read-only disk (VIRTIO_BLK_F_RO) a write must fail with
 * IOERR and leave the sector as it was. Both read sector 2, which the host filled.
 */
#include "virtio.h"

#define SECTOR 512
#define POLL_LIMIT (10 * clock_nominal_hz()) /* about 10 s; the monitor's --timeout backs it up */

/* Per-slot request memory: header, status byte, 4 KiB of data. */
static struct {
	u32 type, reserved;
	u64 sector;
} __attribute__((packed)) req_hdr[VQ_MAX_SLOTS];
static volatile u8 req_status[VQ_MAX_SLOTS];
static u8 bench_data[VQ_MAX_SLOTS][4096] __attribute__((aligned(4096)));
static u8 wbuf[8192] __attribute__((aligned(4096)));
static u8 rbuf[8192] __attribute__((aligned(4096)));

const char *blk_start(struct vdev *d, struct vq *vq, u32 pages, u64 *capacity)
{
	const char *err;
	if (d->probe_err)
		return d->probe_err;
	if ((err = vdev_begin(d, (1ull << BLK_F_RO) | (1ull << BLK_F_FLUSH) | (1ull << VIRTIO_F_INDIRECT_DESC))))
		return err;
	if ((err = vq_setup(vq, d, 0, 0, pages, 0)))
		return err;
	vdev_driver_ok(d);
	*capacity = vdev_cfg32(d, 0) | (u64)vdev_cfg32(d, 4) << 32;
	return 0;
}

/* Posts one request in `slot` without waiting. */
static void blk_post(struct vq *vq, u32 slot, u32 type, u64 sector, void *data, u32 len, u32 nseg, int indirect)
{
	struct vbuf b[VQ_SLOT_DESCS];
	u32 n = 0;
	req_hdr[slot].type = type;
	req_hdr[slot].reserved = 0;
	req_hdr[slot].sector = sector;
	req_status[slot] = 0xff;
	b[n++] = (struct vbuf){ (u64)&req_hdr[slot], sizeof(req_hdr[slot]), 0 };
	if (nseg > VQ_SLOT_DESCS - 2)
		nseg = VQ_SLOT_DESCS - 2;
	/* Uneven, unaligned pieces: the device must not assume a sector per descriptor. */
	for (u32 i = 0, off = 0; len && i < nseg; i++) {
		u32 part = i + 1 == nseg ? len - off : len / nseg;
		b[n++] = (struct vbuf){ (u64)data + off, part, type != BLK_T_OUT };
		off += part;
	}
	b[n++] = (struct vbuf){ (u64)&req_status[slot], 1, 1 };
	vq_post(vq, slot, b, n, indirect);
}

u8 blk_rw(struct vq *vq, u32 type, u64 sector, void *data, u32 len, u32 nseg, int indirect)
{
	u32 id, used_len;
	blk_post(vq, 0, type, sector, data, len, nseg, indirect);
	vq_notify(vq);
	if (vq_wait(vq, &id, &used_len, POLL_LIMIT) < 0 || id != 0)
		return 0xff;
	return req_status[0];
}

/* 16 records of 32 bytes per sector: "sector NNNNNN of disk D by TTTT\n" (TTTT the
 * transport, left-aligned), so the host can rebuild each sector with printf. */
static void fill_pattern(u8 *p, u64 sector, u32 disk, const char *tport)
{
	for (u32 r = 0; r < SECTOR / 32; r++, p += 32) {
		char *c = (char *)p;
		memcpy(c, "sector ", 7);
		u64 v = sector;
		for (int i = 12; i >= 7; i--, v /= 10)
			c[i] = (char)('0' + v % 10);
		memcpy(c + 13, " of disk ", 9);
		c[22] = (char)('0' + disk % 10);
		memcpy(c + 23, " by ", 4);
		memcpy(c + 27, "    ", 4);
		memcpy(c + 27, tport, strlen(tport) < 4 ? strlen(tport) : 4);
		c[31] = '\n';
	}
}

/* Sector 2 as the host wrote it ("host-sector-0002" x 32), or, for a disk the command line
 * names empty (blkN=empty: the placeholder n90vmm puts before a lone rootfs on crosvm-arm64),
 * all zeros. */
static const char *check_host_sector(struct vq *vq, u32 disk)
{
	char key[8] = "blk0=";
	key[3] = (char)('0' + disk % 10);
	const char *v = cmdline_value(key);
	int empty = v && starts_with(v, "empty");
	u8 st = blk_rw(vq, BLK_T_IN, 2, rbuf, SECTOR, 1, 0);
	if (st != BLK_S_OK)
		return failf("read of sector 2: status %u", st);
	for (u32 i = 0; i < SECTOR; i += 16) {
		if (empty) {
			for (u32 k = 0; k < 16; k++)
				if (rbuf[i + k])
					return failf("sector 2 byte %u of an empty disk is not zero", i + k);
		} else if (memcmp(rbuf + i, "host-sector-0002", 16)) {
			return failf("sector 2 byte %u differs from what the host wrote", i);
		}
	}
	return 0;
}

struct written {
	u64 sector;
	u32 count, nseg;
};

static const char *rw_write(struct vq *vq, const struct written *w, u32 nw, u32 disk, const char *tport)
{
	for (u32 i = 0; i < nw; i++) {
		for (u32 s = 0; s < w[i].count; s++)
			fill_pattern(wbuf + s * SECTOR, w[i].sector + s, disk, tport);
		u8 st = blk_rw(vq, BLK_T_OUT, w[i].sector, wbuf, w[i].count * SECTOR, w[i].nseg, 0);
		if (st != BLK_S_OK)
			return failf("write of %u sectors at %lu: status %u", w[i].count, w[i].sector, st);
	}
	return 0;
}

static const char *rw_readback(struct vq *vq, const struct written *w, u32 nw, u32 disk, const char *tport)
{
	int indirect = (vq->d->features >> VIRTIO_F_INDIRECT_DESC) & 1;
	for (u32 i = 0; i < nw; i++) {
		memset(rbuf, 0xee, sizeof(rbuf));
		/* The multi-sector request comes back through an indirect table when offered. */
		u8 st = blk_rw(vq, BLK_T_IN, w[i].sector, rbuf, w[i].count * SECTOR, w[i].nseg, indirect && w[i].count > 2);
		if (st != BLK_S_OK)
			return failf("read of %u sectors at %lu: status %u", w[i].count, w[i].sector, st);
		for (u32 s = 0; s < w[i].count; s++) {
			fill_pattern(wbuf, w[i].sector + s, disk, tport);
			if (memcmp(rbuf + s * SECTOR, wbuf, SECTOR))
				return failf("sector %lu reads back different data", w[i].sector + s);
		}
	}
	return 0;
}

/* "check blkN-WHAT: ..." */
static void check(u32 disk, const char *what, const char *fail)
{
	char name[32];
	memcpy(name, "blk", 3);
	name[3] = (char)('0' + disk % 10);
	name[4] = '-';
	memcpy(name + 5, what, strlen(what) + 1);
	report(name, fail);
}

static void blk_test_disk(struct vdev *d, u32 disk)
{
	static struct vq vq;
	char idbuf[24];
	u64 cap = 0;
	const char *err = blk_start(d, &vq, disk * 2, &cap);
	if (err) {
		kprintf("virtio-blk%u: %s\n", disk, transport_name(d));
		report("blk-start", err);
		return;
	}
	int ro = (d->features >> BLK_F_RO) & 1;
	u32 irqs0 = d->irqs, lost0 = lost_interrupts, waits = 0;
	memset(idbuf, 0, sizeof(idbuf));
	u8 st = blk_rw(&vq, BLK_T_GET_ID, 0, idbuf, 20, 1, 0);
	waits++;
	kprintf("virtio-blk%u: %s, %lu sectors, %s, id '%s'%s\n", disk, transport_name(d), cap,
		ro ? "read-only" : "read-write", idbuf, st == BLK_S_OK ? "" : " (get-id failed)");
	if (cap < 128) {
		report("blk-capacity", "the test needs at least 128 sectors");
		return;
	}
	const char *tport = transport_name(d);
#define CHECK(what, fail) check(disk, what, fail)

	if (!ro) {
		const struct written w[] = { { 0, 2, 1 }, { 64, 8, 3 }, { cap - 1, 1, 1 } };
		u32 nw = sizeof(w) / sizeof(w[0]);
		CHECK("write", rw_write(&vq, w, nw, disk, tport));
		waits += nw;
		st = d->features & (1ull << BLK_F_FLUSH) ? blk_rw(&vq, BLK_T_FLUSH, 0, 0, 0, 0, 0) : BLK_S_OK;
		waits++;
		CHECK("flush", st == BLK_S_OK ? 0 : failf("status %u", st));
		CHECK("read", rw_readback(&vq, w, nw, disk, tport));
		waits += nw;
	} else {
		/* Sector 0 as it is, then a write that must fail and change nothing. */
		u8 before[SECTOR];
		st = blk_rw(&vq, BLK_T_IN, 0, rbuf, SECTOR, 1, 0);
		memcpy(before, rbuf, SECTOR);
		fill_pattern(wbuf, 0, disk, tport);
		u8 wst = blk_rw(&vq, BLK_T_OUT, 0, wbuf, SECTOR, 1, 0);
		u8 st2 = blk_rw(&vq, BLK_T_IN, 0, rbuf, SECTOR, 1, 0);
		waits += 3;
		CHECK("read-only", st != BLK_S_OK || st2 != BLK_S_OK ? failf("reads of sector 0: status %u, %u", st, st2)
				   : wst != BLK_S_IOERR ? failf("write status %u, expected IOERR (1)", wst)
				   : memcmp(before, rbuf, SECTOR) ? "sector 0 changed after the refused write" : 0);
	}
	CHECK("host-data", check_host_sector(&vq, disk));
	waits++;
	/* §5.2.6.1: requests past the capacity fail with IOERR; nothing is transferred. */
	u8 b1 = blk_rw(&vq, ro ? BLK_T_IN : BLK_T_OUT, cap, wbuf, SECTOR, 1, 0);
	u8 b2 = blk_rw(&vq, BLK_T_IN, cap - 1, rbuf, 2 * SECTOR, 1, 0);
	waits += 2;
	CHECK("bounds", b1 != BLK_S_IOERR || b2 != BLK_S_IOERR
				? failf("past-the-end statuses %u, %u, expected IOERR (1)", b1, b2) : 0);
	if (d->irq) {
		u32 got = d->irqs - irqs0;
		u32 lost = lost_interrupts - lost0;
		CHECK("irq", lost ? failf("%u of %u completions came without an interrupt", lost, waits)
			     : got < waits ? failf("%u interrupts for %u completions", got, waits) : 0);
	}
#undef CHECK
	vdev_set_status(d, 0);
}

void blk_main(const struct vmode *m)
{
	struct vdev *d;
	for (u32 n = 0; (d = vdev_find(m, n)) && n < MAX_VDEVS / 2; n++)
		blk_test_disk(d, n);
}

/* ------------------------------------------------------------------ */
/* bench=randread|randwrite                                            */
/* ------------------------------------------------------------------ */

static u64 rng_state = 0x9e3779b97f4a7c15ull;
static u64 rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

void blk_bench(const struct vmode *m, const char *what)
{
	static struct vq vq;
	struct vdev *d = vdev_find(m, 0);
	int write = starts_with(what, "randwrite");
	if (!write && !starts_with(what, "randread")) {
		report("bench", "bench= takes randread or randwrite");
		return;
	}
	const char *v = cmdline_value("bench_n=");
	long n = v ? parse_num(v) : 10000;
	v = cmdline_value("bench_qd=");
	long qd = v ? parse_num(v) : 8;
	if (n < 1 || qd < 1 || qd > VQ_MAX_SLOTS) {
		report("bench", failf("bench_n= >= 1 and bench_qd= 1..%u", VQ_MAX_SLOTS));
		return;
	}
	u64 cap;
	const char *err = blk_start(d, &vq, 0, &cap);
	if (err || cap < 16) {
		report("bench", err ? err : "disk smaller than 8 KiB");
		return;
	}
	u64 hz = clock_hz();
	u64 blocks = cap / 8, errors = 0, done = 0, issued = 0;
	for (u32 s = 0; s < VQ_MAX_SLOTS; s++)
		memset(bench_data[s], (int)s, 4096);
	/* The host times the loop from this line to the BENCH line (tests/bench/runstat -m). */
	kprintf("BENCH-START\n");
	u64 t0 = clock_now();
	for (; issued < (u64)qd && issued < (u64)n; issued++)
		blk_post(&vq, (u32)issued, write ? BLK_T_OUT : BLK_T_IN, (rng() % blocks) * 8, bench_data[issued], 4096, 1, 0);
	vq_notify(&vq);
	while (done < (u64)n) {
		u32 id, len;
		if (vq_wait(&vq, &id, &len, POLL_LIMIT) < 0)
			break;
		u32 slot = id / VQ_SLOT_DESCS;
		done++;
		errors += slot >= VQ_MAX_SLOTS || req_status[slot] != BLK_S_OK;
		if (issued < (u64)n && slot < VQ_MAX_SLOTS) {
			blk_post(&vq, slot, write ? BLK_T_OUT : BLK_T_IN, (rng() % blocks) * 8, bench_data[slot], 4096, 1, 0);
			issued++;
			vq_notify(&vq);
		}
	}
	u64 cycles = clock_now() - t0;
	u64 usec = hz ? cycles * 1000 / (hz / 1000) : 0;
	/* One JSON object on a line of its own: tests/bench/run.sh collects these. */
	kprintf("BENCH {\"op\":\"%s\",\"transport\":\"%s\",\"block_bytes\":4096,\"requests\":%lu,\"qd\":%lu,"
		"\"errors\":%lu,\"tsc_hz\":%lu,\"usec\":%lu,\"iops\":%lu}\n",
		write ? "randwrite" : "randread", transport_name(d), done, (u64)qd, errors, hz, usec,
		usec ? done * 1000000 / usec : 0);
	report("bench", done != (u64)n ? failf("%lu of %ld requests completed", done, n)
			: errors ? failf("%lu requests failed", errors) : hz ? 0 : "no clock frequency (x86: from the PIT or the LAPIC timer)");
	vdev_set_status(d, 0);
}
