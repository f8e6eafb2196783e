/*
 * n90vmm test guest: the "hostile" word. A virtio-blk driver that posts malformed chains and
 * ring setups, one per case, and checks after each that
 *   - the monitor is still there (we are still running, and the device answers),
 *   - the device set DEVICE_NEEDS_RESET (virtio 1.2 §2.1.2: it "has experienced an error
 *     from which it can't recover") - or, for a merely useless request, completed it with
 *     VIRTIO_BLK_S_IOERR and did not need a reset,
 *   - the used ring and our buffers were not written where the device had no business to
 *     (the whole used page is compared with a snapshot; buffers are pre-filled),
 *   - after a reset (status 0) the device works again (it reads the host's sector 2).
 * Each case is one error the monitor must count (--stats "errors=").
 */
#include "virtio.h"

#define HOSTILE_QSIZE 16
#define WAIT_LIMIT (2 * clock_nominal_hz()) /* about 2 s for the device to react */
#define OUTSIDE_RAM 0x4000000000ull /* 256 GiB: beyond any RAM these tests give */

static struct vq vq;
static struct {
	u32 type, reserved;
	u64 sector;
} __attribute__((packed)) hdr = { BLK_T_IN, 0, 2 };
static u8 data[4096] __attribute__((aligned(4096)));
static volatile u8 status;
static struct vdesc table[4] __attribute__((aligned(16)));
static u8 used_snapshot[4096];

enum outcome { NEEDS_RESET, IOERR_NO_RESET };

static void desc(u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
	vq.desc[i] = (struct vdesc){ addr, len, flags, next };
}

/* Header (readable), 512 data bytes (writable), status (writable): a good read of sector 2
 * in descriptors 0..2, for the cases to spoil. */
static void good_chain(void)
{
	desc(0, (u64)&hdr, sizeof(hdr), VIRTQ_DESC_F_NEXT, 1);
	desc(1, (u64)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, (u64)&status, 1, VIRTQ_DESC_F_WRITE, 0);
}

static const char *start(struct vdev *d, u16 size, u64 desc_override)
{
	const char *err = vdev_begin(d, 1ull << VIRTIO_F_INDIRECT_DESC);
	if (!err)
		err = vq_setup(&vq, d, 0, size, 0, desc_override);
	if (err)
		return err;
	/* Everything past the used ring proper is a canary; no EVENT_IDX, so the device owns
	 * only flags, idx and the ring entries. */
	memset(vq.used + 4 + 8 * vq.size, 0xa5, 4096 - 4 - 8 * vq.size);
	memcpy(used_snapshot, vq.used, 4096);
	memset(data, 0x5a, sizeof(data));
	status = 0xee;
	vdev_driver_ok(d);
	return 0;
}

static const char *buffers_untouched(void)
{
	for (u32 i = 0; i < sizeof(data); i++)
		if (data[i] != 0x5a)
			return failf("data buffer byte %u written", i);
	return 0;
}

/* Did the device react as `want` says, and touch nothing it should not have? */
static const char *outcome(struct vdev *d, enum outcome want, u16 head)
{
	u64 t0 = clock_now();
	while (!(vdev_status(d) & VIRTIO_STATUS_NEEDS_RESET) && vq_used_idx(&vq) == 0 && clock_now() - t0 < WAIT_LIMIT)
		cpu_relax();
	mb();
	u8 st = vdev_status(d);
	if (want == NEEDS_RESET) {
		if (!(st & VIRTIO_STATUS_NEEDS_RESET))
			return failf("status %x: no DEVICE_NEEDS_RESET (0x40)%s", st,
				     vq_used_idx(&vq) ? ", the chain was used" : "");
		if (memcmp(vq.used, used_snapshot, 4096))
			return "used ring page written";
		if (status != 0xee)
			return "status byte written";
		return buffers_untouched();
	}
	if (st & VIRTIO_STATUS_NEEDS_RESET)
		return "DEVICE_NEEDS_RESET set for a request it can answer";
	if (vq_used_idx(&vq) != 1)
		return failf("used idx %u, expected 1", vq_used_idx(&vq));
	if (rd32((u64)vq.used + 4) != head)
		return failf("used id %u, expected %u", rd32((u64)vq.used + 4), head);
	/* Only flags/idx and element 0 may differ. */
	if (memcmp(vq.used + 12, used_snapshot + 12, 4096 - 12))
		return "used ring written beyond its first element";
	if (status != BLK_S_IOERR)
		return failf("status %u, expected IOERR (1)", status);
	return buffers_untouched();
}

/* The device after a reset: a fresh start and a good read of sector 2. */
static const char *recovers(struct vdev *d)
{
	static struct vq good;
	static u8 buf[512];
	u64 cap;
	const char *err = blk_start(d, &good, 2, &cap);
	if (err)
		return failf("restart after reset: %s", err);
	u8 st = blk_rw(&good, BLK_T_IN, 2, buf, 512, 1, 0);
	if (st != BLK_S_OK)
		return failf("read after reset: status %u", st);
	for (u32 i = 0; i < 512; i += 16)
		if (memcmp(buf + i, "host-sector-0002", 16))
			return "read after reset returned wrong data";
	return 0;
}

/* Cases: how each spoils the ring, and what the device must do. */
enum hcase {
	H_LOOP, H_NEXT_RANGE, H_HEAD_RANGE, H_BUF_OUTSIDE_RAM, H_BUF_MMIO_HOLE, H_BUF_WRAPS, H_LEN_HUGE,
	H_ZERO_LEN_HEADER, H_AVAIL_JUMP, H_INDIRECT_LEN, H_INDIRECT_NESTED, H_INDIRECT_NEXT, H_READ_AFTER_WRITE,
	H_QSIZE_NOT_POW2, H_RING_OUTSIDE_RAM, H_RING_MMIO_HOLE, H_COUNT
};

static const char *const case_names[H_COUNT] = {
	"descriptor-loop", "next-out-of-range", "head-out-of-range", "buffer-outside-ram",
	"buffer-in-mmio-hole", "buffer-wraps-2^64", "length-0xffffffff", "zero-length-header",
	"avail-idx-jump", "indirect-bad-length", "indirect-nested", "indirect-with-next",
	"readable-after-writable", "queue-size-not-power-of-2", "ring-outside-ram", "ring-in-mmio-hole",
};

static const char *run_case(struct vdev *d, enum hcase c)
{
	const char *err;
	enum outcome want = NEEDS_RESET;

	/* Ring setups the device must refuse when the queue is enabled. */
	if (c == H_QSIZE_NOT_POW2 || c == H_RING_OUTSIDE_RAM || c == H_RING_MMIO_HOLE) {
		u16 size = c == H_QSIZE_NOT_POW2 ? 12 : HOSTILE_QSIZE;
		u64 at = c == H_RING_OUTSIDE_RAM ? OUTSIDE_RAM : c == H_RING_MMIO_HOLE ? arch_mmio_hole() : 0;
		if ((err = start(d, size, at)))
			return err;
		if (!(vdev_status(d) & VIRTIO_STATUS_NEEDS_RESET))
			return failf("status %x: no DEVICE_NEEDS_RESET (0x40)", vdev_status(d));
		if (vdev_queue_ready(d, 0))
			return "the queue reads as enabled";
		return memcmp(vq.used, used_snapshot, 4096) ? "used ring page written" : 0;
	}

	if ((err = start(d, HOSTILE_QSIZE, 0)))
		return err;
	good_chain();
	u16 head = 0;
	switch (c) {
	case H_LOOP:
		/* 0 -> 1 -> 2 -> 1 -> ...: writable descriptors only, so the loop itself is the fault. */
		desc(2, (u64)&status, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
		break;
	case H_NEXT_RANGE:
		desc(1, (u64)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, HOSTILE_QSIZE + 3);
		break;
	case H_HEAD_RANGE:
		head = HOSTILE_QSIZE;
		break;
	case H_BUF_OUTSIDE_RAM:
		desc(1, OUTSIDE_RAM, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
		break;
	case H_BUF_MMIO_HOLE:
		desc(1, arch_mmio_hole(), 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
		break;
	case H_BUF_WRAPS:
		desc(1, 0xfffffffffffff000ull, 0x2000, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
		break;
	case H_LEN_HUGE:
		desc(1, (u64)data, 0xffffffffu, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
		break;
	case H_ZERO_LEN_HEADER:
		/* Legal ring, useless request: no header to read, so IOERR (§5.2.6.1), no reset. */
		desc(0, (u64)&hdr, 0, VIRTQ_DESC_F_NEXT, 1);
		want = IOERR_NO_RESET;
		break;
	case H_AVAIL_JUMP:
		break; /* published below */
	case H_INDIRECT_LEN:
	case H_INDIRECT_NESTED:
	case H_INDIRECT_NEXT:
		table[0] = (struct vdesc){ (u64)&hdr, sizeof(hdr), VIRTQ_DESC_F_NEXT, 1 };
		table[1] = (struct vdesc){ (u64)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
		table[2] = (struct vdesc){ (u64)&status, 1, VIRTQ_DESC_F_WRITE, 0 };
		if (c == H_INDIRECT_NESTED)
			table[1] = (struct vdesc){ (u64)&table[2], 16, VIRTQ_DESC_F_INDIRECT, 0 };
		/* §2.7.5.3.1: the table length is a multiple of 16; INDIRECT and NEXT exclude
		 * each other. */
		desc(0, (u64)table, c == H_INDIRECT_LEN ? 3 * 16 + 4 : 3 * 16,
		     (u16)(VIRTQ_DESC_F_INDIRECT | (c == H_INDIRECT_NEXT ? VIRTQ_DESC_F_NEXT : 0)), 1);
		break;
	case H_READ_AFTER_WRITE:
		/* §2.7.4.2: device-readable descriptors come before device-writable ones. */
		desc(0, (u64)&hdr, sizeof(hdr), VIRTQ_DESC_F_NEXT, 2);
		desc(2, (u64)&status, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
		desc(1, (u64)data, 512, 0, 0);
		break;
	default:
		return "unknown case";
	}
	vq_publish(&vq, head);
	if (c == H_AVAIL_JUMP) {
		/* §2.7.13.3: the index may run ahead by at most the queue size. */
		vq.avail_idx = (u16)(vq.avail_idx + HOSTILE_QSIZE + 1);
		wr16((u64)vq.avail + 2, vq.avail_idx);
	}
	vq_notify(&vq);
	return outcome(d, want, head);
}

void hostile_main(const struct vmode *m)
{
	struct vdev *d = vdev_find(m, 0);
	if (m->dev != VIRTIO_ID_BLOCK || m->irq) {
		report("hostile", "hostile runs on virtio=blk-pci-poll or virtio=blk-mmio-poll");
		return;
	}
	if (d->probe_err) {
		report("hostile", d->probe_err);
		return;
	}
	for (u32 c = 0; c < H_COUNT; c++) {
		char name[48] = "hostile-";
		memcpy(name + 8, case_names[c], strlen(case_names[c]) + 1);
		const char *err = run_case(d, (enum hcase)c);
		if (!err)
			err = recovers(d);
		report(name, err);
	}
	vdev_set_status(d, 0);
	/* The monitor's --stats must show one error per case. */
	kprintf("hostile: %u cases\n", (u32)H_COUNT);
}
