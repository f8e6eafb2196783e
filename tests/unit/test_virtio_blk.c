/* virtio-blk (devices/virtio/blk.c) over a temporary image file: requests are built by a
 * small in-test driver as descriptor chains in guest memory, taken off a real virtqueue and
 * handed to virtio_blk_handle_chain; the results are checked in the status byte, the used
 * length, the guest buffers and the bytes of the image file itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio/blk.h"
#include "vmm/bytes.h"
#include "tests/unit/virtio_test_driver.h"

static struct virtq q;
static struct virtq_chain chain;
static struct virtio_blk blk;
static bool blk_open;
static char path[64];

static uint64_t header(uint32_t type, uint64_t sector)
{
	uint64_t gpa = gbuf(16, 0);
	uint8_t *h = gva(gpa, 16);
	put_le32(h, type);
	put_le64(h + 8, sector);
	return gpa;
}

/* Posts the chain, lets the device take it and execute it, returns the used length (and
 * checks the used ring carries the same). */
static uint32_t run(const struct vseg *s, unsigned int n)
{
	uint16_t head = post_chain(s, n);
	cr_assert_eq(virtq_pop(&q, &chain), 1, "pop: %s", virtq_error_name(q.last_error));
	cr_assert_eq(chain.head, head);
	uint32_t used = virtio_blk_handle_chain(&blk, &chain);
	uint16_t slot = (uint16_t)(get_le16(gva(USED_GPA + 2, 2)) % QSIZE);
	virtq_push(&q, chain.head, used);
	cr_assert_eq(get_le32(gva(USED_GPA + 4 + 8ull * slot + 4, 4)), used);
	return used;
}

/* header, optional data (device-writable for IN), status. */
static uint8_t request(uint32_t type, uint64_t sector, uint64_t data, uint32_t len, uint32_t *used)
{
	uint64_t st = gbuf(1, 0xff);
	struct vseg s[3] = { { header(type, sector), 16, false } };
	unsigned int n = 1;
	if (len)
		s[n++] = (struct vseg){ data, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID };
	s[n++] = (struct vseg){ st, 1, true };
	uint32_t u = run(s, n);
	if (used)
		*used = u;
	return status_at(st);
}

struct dz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
} __attribute__((packed));

static uint8_t discard_request(uint32_t type, const void *segs, uint32_t payload_len)
{
	uint64_t payload = gbuf(payload_len ? payload_len : 1, 0);
	memcpy(gva(payload, payload_len ? payload_len : 1), segs, payload_len);
	uint64_t st = gbuf(1, 0xff);
	struct vseg s[3] = { { header(type, 0), 16, false }, { payload, payload_len, false }, { st, 1, true } };
	cr_assert_eq(run(s, 3), 1);
	return status_at(st);
}

/* ---- the image file --------------------------------------------------------------------- */

static uint8_t pattern(uint64_t i, unsigned int seed)
{
	return (uint8_t)(i * 31 + seed * 101 + (i >> 9) * 7 + 1);
}

static void fill_pattern(uint8_t *p, uint64_t len, uint64_t base, unsigned int seed)
{
	for (uint64_t i = 0; i < len; i++)
		p[i] = pattern(base + i, seed);
}

/* Creates the image with `size` bytes of pattern seed 0 (or zeros if !fill). */
static void make_image(uint64_t size, bool fill)
{
	strcpy(path, "/tmp/n90-test-blk-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	if (fill) {
		uint8_t *buf = malloc(size);
		cr_assert_not_null(buf);
		fill_pattern(buf, size, 0, 0);
		cr_assert_eq(pwrite(fd, buf, size, 0), (ssize_t)size);
		free(buf);
	}
	close(fd);
}

static void open_blk(bool read_only)
{
	struct blk_options opt = { .path = path, .read_only = read_only };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 3), 0);
	blk_open = true;
}

static void file_read(uint64_t off, void *buf, uint64_t len)
{
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static uint64_t file_size(void)
{
	struct stat st;
	cr_assert_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* FNV-1a over the whole file. */
static uint64_t file_hash(void)
{
	uint64_t size = file_size(), h = 0xcbf29ce484222325ull;
	uint8_t *buf = malloc(size ? size : 1);
	cr_assert_not_null(buf);
	file_read(0, buf, size);
	for (uint64_t i = 0; i < size; i++)
		h = (h ^ buf[i]) * 0x100000001b3ull;
	free(buf);
	return h;
}

static bool file_is_pattern(uint64_t off, uint64_t len, unsigned int seed)
{
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	file_read(off, buf, len);
	bool ok = true;
	for (uint64_t i = 0; i < len && ok; i++)
		ok = buf[i] == pattern(off + i, seed);
	free(buf);
	return ok;
}

static bool file_is_zero(uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);
	cr_assert_not_null(buf);
	file_read(off, buf, len);
	bool ok = true;
	for (uint64_t i = 0; i < len && ok; i++)
		ok = buf[i] == 0;
	free(buf);
	return ok;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM_BYTES, 0xd0000000), 0);
	heap_next = HEAP_GPA;
	next_desc = avail_idx = 0;
	virtq_init(&q, &mem, QSIZE);
	q.desc_gpa = DESC_GPA;
	q.avail_gpa = AVAIL_GPA;
	q.used_gpa = USED_GPA;
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
	blk_open = false;
	path[0] = 0;
}

static void teardown(void)
{
	if (blk_open)
		virtio_blk_destroy(&blk);
	if (path[0])
		unlink(path);
	guest_mem_free(&mem);
}

TestSuite(virtio_blk, .init = setup, .fini = teardown);

/* ---- tests ------------------------------------------------------------------------------ */

Test(virtio_blk, capacity_config_and_features)
{
	make_image(64 * SECTOR, false);
	open_blk(false);
	cr_assert_eq(blk.capacity, 64);
	uint8_t cfg[VIRTIO_BLK_CONFIG_LEN];
	virtio_config_read(&blk.dev, 0, cfg, sizeof(cfg));
	cr_assert_eq(get_le64(cfg), 64, "capacity");
	cr_assert_eq(get_le32(cfg + 12), VIRTIO_BLK_SEG_MAX, "seg_max");
	cr_assert_eq(get_le32(cfg + 20), SECTOR, "blk_size");
	uint64_t f = blk.dev.device_features;
	cr_assert(f & (1ull << VIRTIO_BLK_F_FLUSH));
	cr_assert(f & (1ull << VIRTIO_BLK_F_DISCARD));
	cr_assert(f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
	cr_assert(!(f & (1ull << VIRTIO_BLK_F_RO)));
	cr_assert(f & (1ull << VIRTIO_F_VERSION_1));
	cr_assert_eq(blk.dev.device_id, VIRTIO_ID_BLOCK);
}

Test(virtio_blk, write_then_read_back)
{
	make_image(64 * SECTOR, false);
	open_blk(false);
	uint64_t data = gbuf(2 * SECTOR, 0);
	fill_pattern(gva(data, 2 * SECTOR), 2 * SECTOR, 5 * SECTOR, 9);
	uint32_t used;
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 5, data, 2 * SECTOR, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1, "OUT returns only the status byte");
	cr_assert(file_is_pattern(5 * SECTOR, 2 * SECTOR, 9), "the bytes reached the image");
	cr_assert(file_is_zero(4 * SECTOR, SECTOR), "sector before untouched");
	cr_assert(file_is_zero(7 * SECTOR, SECTOR), "sector after untouched");
	cr_assert_eq(blk.dev.stats.bytes_written, 2 * SECTOR);

	uint64_t in = gbuf(2 * SECTOR, 0xcc);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 5, in, 2 * SECTOR, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 2 * SECTOR + 1, "IN returns data plus status");
	cr_assert(memcmp(gva(in, 2 * SECTOR), gva(data, 2 * SECTOR), 2 * SECTOR) == 0);
	cr_assert_eq(blk.dev.stats.bytes_read, 2 * SECTOR);
	cr_assert_eq(blk.dev.stats.errors, 0);
}

Test(virtio_blk, scattered_segments_and_shared_descriptors)
{
	make_image(64 * SECTOR, false);
	open_blk(false);
	/* OUT: header and the first 100 data bytes share one descriptor, then 412 + 512. */
	uint64_t first = gbuf(16 + 100, 0), mid = gbuf(412, 0), last = gbuf(512, 0), st = gbuf(1, 0xff);
	uint8_t *h = gva(first, 116);
	put_le32(h, VIRTIO_BLK_T_OUT);
	put_le64(h + 8, 10);
	fill_pattern(h + 16, 100, 10 * SECTOR, 4);
	fill_pattern(gva(mid, 412), 412, 10 * SECTOR + 100, 4);
	fill_pattern(gva(last, 512), 512, 10 * SECTOR + 512, 4);
	struct vseg out[4] = { { first, 116, false }, { mid, 412, false }, { last, 512, false }, { st, 1, true } };
	cr_assert_eq(run(out, 4), 1);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK);
	cr_assert(file_is_pattern(10 * SECTOR, 2 * SECTOR, 4));

	/* IN: 7 + 505 + 513 writable bytes, the status byte sharing the last descriptor. */
	uint64_t a = gbuf(7, 0), b = gbuf(505, 0), c = gbuf(513, 0xee);
	struct vseg in[4] = { { header(VIRTIO_BLK_T_IN, 10), 16, false }, { a, 7, true }, { b, 505, true },
			      { c, 513, true } };
	cr_assert_eq(run(in, 4), 2 * SECTOR + 1);
	uint8_t back[2 * SECTOR];
	memcpy(back, gva(a, 7), 7);
	memcpy(back + 7, gva(b, 505), 505);
	memcpy(back + 512, gva(c, 512), 512);
	for (unsigned int i = 0; i < sizeof(back); i++)
		cr_assert_eq(back[i], pattern(10 * SECTOR + i, 4), "byte %u", i);
	cr_assert_eq(((uint8_t *)gva(c, 513))[512], VIRTIO_BLK_S_OK, "status in the last writable byte");
}

Test(virtio_blk, flush)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	uint32_t used;
	cr_assert_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1);
}

/* A flush the host cannot do (here fdatasync on a pipe: EINVAL) is an IOERR, counted, and
 * logged like a failed write; the image is synced at exit (virtio_blk_sync). */
Test(virtio_blk, failed_flush_is_logged_and_counted)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	cr_assert_eq(virtio_blk_sync(&blk), 0);
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	int image = blk.fd;
	blk.fd = fds[0];
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	FILE *log = tmpfile();
	dup2(fileno(log), STDERR_FILENO);
	uint32_t used;
	uint8_t status = request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, &used);
	int sync_ret = virtio_blk_sync(&blk);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	blk.fd = image;
	close(fds[0]);
	close(fds[1]);
	cr_assert_eq(status, VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk.dev.stats.errors, 1);
	cr_assert_eq(sync_ret, -EINVAL);
	char line[256] = "";
	rewind(log);
	cr_assert_not_null(fgets(line, sizeof(line), log));
	cr_assert_not_null(strstr(line, "warning: virtio-blk3: flush failed: Invalid argument"), "%s", line);
	fclose(log);
}

Test(virtio_blk, get_id)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	uint64_t id = gbuf(VIRTIO_BLK_ID_BYTES, 0xaa);
	uint32_t used;
	cr_assert_eq(request(VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, VIRTIO_BLK_ID_BYTES + 1);
	char expect[VIRTIO_BLK_ID_BYTES] = "n90vmm-disk3";
	cr_assert(memcmp(gva(id, VIRTIO_BLK_ID_BYTES), expect, VIRTIO_BLK_ID_BYTES) == 0, "id zero-padded to 20");

	uint64_t small = gbuf(16, 0xaa);
	cr_assert_eq(request(VIRTIO_BLK_T_GET_ID, 0, small, 8, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 9, "only as much as the buffer holds");
	cr_assert(memcmp(gva(small, 8), "n90vmm-d", 8) == 0);
	cr_assert_eq(((uint8_t *)gva(small, 16))[8], 0xaa, "nothing written past the buffer");
}

Test(virtio_blk, discard_zeroes_the_range_on_disk)
{
	make_image(16 * SECTOR, true);
	open_blk(false);
	struct dz_seg seg = { 4, 4, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_DISCARD, &seg, 16), VIRTIO_BLK_S_OK);
	cr_assert(file_is_pattern(0, 4 * SECTOR, 0));
	cr_assert(file_is_zero(4 * SECTOR, 4 * SECTOR), "ext4/tmpfs punch holes read back as zeros");
	cr_assert(file_is_pattern(8 * SECTOR, 8 * SECTOR, 0));
	cr_assert_eq(file_size(), 16 * SECTOR, "KEEP_SIZE");
}

Test(virtio_blk, write_zeroes_with_and_without_unmap)
{
	make_image(32 * SECTOR, true);
	open_blk(false);
	struct dz_seg segs[2] = { { 2, 3, 0 }, { 20, 5, 1 /* UNMAP */ } };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, segs, sizeof(segs)), VIRTIO_BLK_S_OK);
	cr_assert(file_is_pattern(0, 2 * SECTOR, 0));
	cr_assert(file_is_zero(2 * SECTOR, 3 * SECTOR));
	cr_assert(file_is_pattern(5 * SECTOR, 15 * SECTOR, 0));
	cr_assert(file_is_zero(20 * SECTOR, 5 * SECTOR));
	cr_assert(file_is_pattern(25 * SECTOR, 7 * SECTOR, 0));
	cr_assert_eq(file_size(), 32 * SECTOR);
}

Test(virtio_blk, write_zeroes_of_last_sector)
{
	make_image(8 * SECTOR, true);
	open_blk(false);
	struct dz_seg seg = { 7, 1, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &seg, 16), VIRTIO_BLK_S_OK);
	cr_assert(file_is_zero(7 * SECTOR, SECTOR));
	cr_assert(file_is_pattern(0, 7 * SECTOR, 0));
}

Test(virtio_blk, malformed_discard_and_write_zeroes)
{
	make_image(16 * SECTOR, true);
	open_blk(false);
	uint64_t before = file_hash();
	struct dz_seg unmap = { 0, 2, 1 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_DISCARD, &unmap, 16), VIRTIO_BLK_S_UNSUPP, "unmap on discard");
	struct dz_seg unknown = { 0, 2, 2 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &unknown, 16), VIRTIO_BLK_S_UNSUPP, "unknown flag");
	struct dz_seg ok[2] = { { 0, 2, 0 }, { 4, 2, 0 } };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, ok, 8), VIRTIO_BLK_S_UNSUPP, "payload of 8");
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, ok, 24), VIRTIO_BLK_S_UNSUPP, "payload of 24");
	static struct dz_seg many[33];
	for (unsigned int i = 0; i < 33; i++)
		many[i] = (struct dz_seg){ i % 16, 0, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_DISCARD, many, sizeof(many)), VIRTIO_BLK_S_UNSUPP,
		     "more than max_discard_seg");
	struct dz_seg past = { 15, 2, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &past, 16), VIRTIO_BLK_S_IOERR, "past capacity");
	struct dz_seg wrap = { UINT64_MAX, 2, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_DISCARD, &wrap, 16), VIRTIO_BLK_S_IOERR, "sector wraps");
	struct dz_seg huge = { 1, UINT32_MAX, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &huge, 16), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(file_hash(), before, "no malformed request changed the image");
	cr_assert_eq(file_size(), 16 * SECTOR);
	cr_assert_eq(blk.dev.stats.errors, 8);
}

Test(virtio_blk, sector_past_capacity_is_ioerr)
{
	make_image(64 * SECTOR, true);
	open_blk(false);
	uint64_t before = file_hash();
	uint64_t buf = gbuf(2 * SECTOR, 0x77);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 63, buf, SECTOR, NULL), VIRTIO_BLK_S_OK, "last sector is readable");
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 64, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 63, buf, 2 * SECTOR, NULL), VIRTIO_BLK_S_IOERR, "straddles the end");
	cr_assert_eq(request(VIRTIO_BLK_T_IN, UINT64_MAX, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 1ull << 55, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR,
		     "sector * 512 would wrap");
	memset(gva(buf, 2 * SECTOR), 0x77, 2 * SECTOR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 64, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 63, buf, 2 * SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, UINT64_MAX, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(file_size(), 64 * SECTOR, "the image was not extended");
	cr_assert_eq(file_hash(), before);
}

Test(virtio_blk, data_length_not_a_multiple_of_512_is_ioerr)
{
	make_image(64 * SECTOR, true);
	open_blk(false);
	uint64_t before = file_hash();
	uint64_t buf = gbuf(2 * SECTOR, 0x31);
	uint32_t used;
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, buf, 100, &used), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(used, 1, "no data reported on error");
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, buf, SECTOR + 1, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 0, buf, 1000, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 0, buf, 1, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(file_hash(), before);
	cr_assert_eq(blk.dev.stats.errors, 4);
}

Test(virtio_blk, empty_read_and_write_succeed)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	uint32_t used;
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 3, 0, 0, &used), VIRTIO_BLK_S_OK);
	cr_assert_eq(used, 1);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 8, 0, 0, &used), VIRTIO_BLK_S_OK, "zero sectors at capacity");
}

Test(virtio_blk, no_status_byte_means_used_length_0)
{
	make_image(8 * SECTOR, true);
	open_blk(false);
	uint64_t before = file_hash();
	struct vseg hdr_only[1] = { { header(VIRTIO_BLK_T_FLUSH, 0), 16, false } };
	cr_assert_eq(run(hdr_only, 1), 0);
	cr_assert_eq(blk.dev.stats.errors, 1);
	/* An OUT with data but nowhere to report status is dropped, not executed. */
	uint64_t data = gbuf(SECTOR, 0x99);
	struct vseg out[2] = { { header(VIRTIO_BLK_T_OUT, 0), 16, false }, { data, SECTOR, false } };
	cr_assert_eq(run(out, 2), 0);
	cr_assert_eq(blk.dev.stats.errors, 2);
	cr_assert_eq(blk.dev.stats.requests, 0);
	cr_assert_eq(file_hash(), before);
}

Test(virtio_blk, header_shorter_than_16_bytes_is_ioerr)
{
	make_image(8 * SECTOR, true);
	open_blk(false);
	uint64_t h = header(VIRTIO_BLK_T_OUT, 0), st = gbuf(1, 0xff);
	/* 8 + 4 bytes of header across two descriptors, then the status. */
	struct vseg s[3] = { { h, 8, false }, { h + 8, 4, false }, { st, 1, true } };
	cr_assert_eq(run(s, 3), 1);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(blk.dev.stats.errors, 1);
	uint64_t st2 = gbuf(1, 0xff);
	struct vseg none[1] = { { st2, 1, true } }; /* no header at all */
	cr_assert_eq(run(none, 1), 1);
	cr_assert_eq(status_at(st2), VIRTIO_BLK_S_IOERR);
}

Test(virtio_blk, header_split_across_two_descriptors)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	uint64_t h = header(VIRTIO_BLK_T_OUT, 2), data = gbuf(SECTOR, 0), st = gbuf(1, 0xff);
	fill_pattern(gva(data, SECTOR), SECTOR, 2 * SECTOR, 6);
	/* 10 + 6: the split falls inside the 64-bit sector field. */
	struct vseg s[4] = { { h, 10, false }, { h + 10, 6, false }, { data, SECTOR, false }, { st, 1, true } };
	cr_assert_eq(run(s, 4), 1);
	cr_assert_eq(status_at(st), VIRTIO_BLK_S_OK);
	cr_assert(file_is_pattern(2 * SECTOR, SECTOR, 6));
	cr_assert(file_is_zero(0, 2 * SECTOR));

	uint64_t h2 = header(VIRTIO_BLK_T_IN, 2), in = gbuf(SECTOR + 1, 0);
	struct vseg s2[3] = { { h2, 1, false }, { h2 + 1, 15, false }, { in, SECTOR + 1, true } };
	cr_assert_eq(run(s2, 3), SECTOR + 1);
	cr_assert(memcmp(gva(in, SECTOR), gva(data, SECTOR), SECTOR) == 0);
}

Test(virtio_blk, unknown_type_is_unsupp)
{
	make_image(8 * SECTOR, true);
	open_blk(false);
	uint64_t before = file_hash();
	static const uint32_t types[] = { 2 /* SCSI */, 10 /* GET_LIFETIME */, 14 /* SECURE_ERASE */, 77, UINT32_MAX };
	for (unsigned int i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint32_t used;
		uint64_t data = gbuf(SECTOR, 0x42);
		cr_assert_eq(request(types[i], 0, data, SECTOR, &used), VIRTIO_BLK_S_UNSUPP, "type %u", types[i]);
		cr_assert_eq(used, 1);
	}
	cr_assert_eq(file_hash(), before);
}

Test(virtio_blk, read_only_image_rejects_writes_and_stays_identical)
{
	make_image(16 * SECTOR, true);
	uint64_t before = file_hash();
	open_blk(true);
	cr_assert(blk.dev.device_features & (1ull << VIRTIO_BLK_F_RO));
	cr_assert(!(blk.dev.device_features & (1ull << VIRTIO_BLK_F_DISCARD)));
	cr_assert(!(blk.dev.device_features & (1ull << VIRTIO_BLK_F_WRITE_ZEROES)));

	uint64_t data = gbuf(SECTOR, 0x11);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 0, data, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 3, 0, 0, NULL), VIRTIO_BLK_S_IOERR, "even an empty write");
	struct dz_seg seg = { 0, 4, 0 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_DISCARD, &seg, 16), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &seg, 16), VIRTIO_BLK_S_IOERR);
	struct dz_seg unmap = { 0, 4, 1 };
	cr_assert_eq(discard_request(VIRTIO_BLK_T_WRITE_ZEROES, &unmap, 16), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, NULL), VIRTIO_BLK_S_OK);
	uint64_t in = gbuf(SECTOR, 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 1, in, SECTOR, NULL), VIRTIO_BLK_S_OK, "reads still work");
	for (unsigned int i = 0; i < SECTOR; i++)
		cr_assert_eq(((uint8_t *)gva(in, SECTOR))[i], pattern(SECTOR + i, 0));
	virtio_blk_destroy(&blk);
	blk_open = false;
	cr_assert_eq(file_hash(), before, "read-only image changed");
	cr_assert_eq(file_size(), 16 * SECTOR);
}

Test(virtio_blk, partial_last_sector_is_not_exposed)
{
	make_image(10 * SECTOR + 300, true);
	open_blk(false);
	cr_assert_eq(blk.capacity, 10);
	uint8_t cfg[8];
	virtio_config_read(&blk.dev, 0, cfg, 8);
	cr_assert_eq(get_le64(cfg), 10);
	uint64_t buf = gbuf(SECTOR, 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 9, buf, SECTOR, NULL), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < SECTOR; i++)
		cr_assert_eq(((uint8_t *)gva(buf, SECTOR))[i], pattern(9 * SECTOR + i, 0));
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 10, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	memset(gva(buf, SECTOR), 0, SECTOR);
	cr_assert_eq(request(VIRTIO_BLK_T_OUT, 10, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
	cr_assert(file_is_pattern(10 * SECTOR, 300, 0), "the hidden tail is untouched");
	cr_assert_eq(file_size(), 10 * SECTOR + 300);
}

Test(virtio_blk, image_smaller_than_a_sector_has_capacity_0)
{
	make_image(100, true);
	open_blk(false);
	cr_assert_eq(blk.capacity, 0);
	uint64_t buf = gbuf(SECTOR, 0);
	cr_assert_eq(request(VIRTIO_BLK_T_IN, 0, buf, SECTOR, NULL), VIRTIO_BLK_S_IOERR);
}

Test(virtio_blk, second_read_write_open_is_refused_by_flock)
{
	make_image(8 * SECTOR, false);
	open_blk(false);
	struct virtio_blk other;
	struct blk_options rw = { .path = path }, ro = { .path = path, .read_only = true };
	int ret = virtio_blk_init(&other, &rw, &mem, 1);
	cr_assert_eq(ret, -EBUSY, "second writer: got %d", ret);
	ret = virtio_blk_init(&other, &ro, &mem, 1);
	cr_assert_eq(ret, -EBUSY, "a reader while a writer holds it: got %d", ret);
	virtio_blk_destroy(&blk);
	blk_open = false;

	cr_assert_eq(virtio_blk_init(&other, &rw, &mem, 1), 0, "free again after destroy");
	virtio_blk_destroy(&other);

	struct virtio_blk r1, r2;
	cr_assert_eq(virtio_blk_init(&r1, &ro, &mem, 1), 0);
	cr_assert_eq(virtio_blk_init(&r2, &ro, &mem, 2), 0, "readers share");
	cr_assert_lt(virtio_blk_init(&other, &rw, &mem, 3), 0, "no writer while readers hold it");
	virtio_blk_destroy(&r1);
	virtio_blk_destroy(&r2);
}

Test(virtio_blk, missing_or_non_regular_image_is_refused)
{
	struct blk_options opt = { .path = "/nonexistent/n90-test.img" };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), -ENOENT);
	opt.path = "/tmp";
	cr_assert_lt(virtio_blk_init(&blk, &opt, &mem, 0), 0);
}
