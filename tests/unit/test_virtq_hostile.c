/* The virtqueue walker and virtio-blk against a hostile driver: every malformed chain breaks
 * the queue with a reason and never touches memory outside guest RAM. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/virtio/blk.h"

#define QSIZE 16
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000
#define RAM (1ull << 20)

static struct guest_mem mem;
static struct virtq q;
static struct virtq_chain chain;

static struct virtq_desc *desc(unsigned int i)
{
	return gpa_to_hva_checked(&mem, DESC + 16 * i, 16);
}

static uint16_t *avail(void)
{
	return gpa_to_hva_checked(&mem, AVAIL, 6 + 2 * QSIZE);
}

static void setup(void)
{
	cr_assert_eq(guest_mem_alloc(&mem, 0, RAM, 0xd0000000), 0);
	virtq_init(&q, &mem, QSIZE);
	q.desc_gpa = DESC;
	q.avail_gpa = AVAIL;
	q.used_gpa = USED;
	cr_assert_eq(virtq_enable(&q), VIRTQ_OK);
}

static void teardown(void)
{
	guest_mem_free(&mem);
}

TestSuite(virtq_hostile, .init = setup, .fini = teardown);

static void set_desc(unsigned int i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	*desc(i) = (struct virtq_desc){ addr, len, flags, next };
}

static void post(uint16_t head)
{
	uint16_t *a = avail();
	a[2 + a[1] % QSIZE] = head;
	a[1]++;
}

static void expect_broken(enum virtq_error err)
{
	cr_assert_eq(virtq_pop(&q, &chain), -1);
	cr_assert(q.broken);
	cr_assert_eq(q.last_error, err, "got %s", virtq_error_name(q.last_error));
	cr_assert_eq(virtq_pop(&q, &chain), -1, "stays broken until reset");
}

Test(virtq_hostile, well_formed_chain_then_used_ring)
{
	set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, BUF + 0x100, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
	set_desc(2, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	cr_assert_eq(chain.nread, 1);
	cr_assert_eq(chain.nwrite, 2);
	cr_assert_eq(chain.write_len, 513);
	virtq_push(&q, chain.head, 513);
	uint16_t *used = gpa_to_hva_checked(&mem, USED, 8);
	cr_assert_eq(used[1], 1);
	cr_assert_eq(virtq_pop(&q, &chain), 0, "ring empty");
}

Test(virtq_hostile, head_index_out_of_range)
{
	post(QSIZE);
	expect_broken(VIRTQ_ERR_HEAD_INDEX);
}

Test(virtq_hostile, next_index_out_of_range)
{
	set_desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 200);
	post(0);
	expect_broken(VIRTQ_ERR_NEXT_INDEX);
}

Test(virtq_hostile, loop)
{
	set_desc(0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	post(0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtq_hostile, self_loop)
{
	set_desc(3, BUF, 8, VIRTQ_DESC_F_NEXT, 3);
	post(3);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtq_hostile, buffer_outside_ram)
{
	set_desc(0, RAM - 4, 8, 0, 0);
	post(0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtq_hostile, address_plus_length_wraps)
{
	set_desc(0, UINT64_MAX - 2, 0xffffffffu, 0, 0);
	post(0);
	expect_broken(VIRTQ_ERR_BUFFER_RANGE);
}

Test(virtq_hostile, readable_after_writable)
{
	set_desc(0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(1, BUF, 8, 0, 0);
	post(0);
	expect_broken(VIRTQ_ERR_ORDER);
}

Test(virtq_hostile, avail_index_jumps)
{
	avail()[1] = QSIZE + 5;
	expect_broken(VIRTQ_ERR_AVAIL_IDX);
}

Test(virtq_hostile, indirect_tables)
{
	struct virtq_desc *table = gpa_to_hva_checked(&mem, BUF, 16 * 4);
	table[0] = (struct virtq_desc){ BUF + 0x1000, 16, VIRTQ_DESC_F_NEXT, 1 };
	table[1] = (struct virtq_desc){ BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0 };
	set_desc(0, BUF, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	cr_assert_eq(chain.nread + chain.nwrite, 2);

	table[1].flags = VIRTQ_DESC_F_INDIRECT; /* nested */
	post(0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtq_hostile, indirect_bad_length_and_next)
{
	set_desc(0, BUF, 24, VIRTQ_DESC_F_INDIRECT, 0); /* not a multiple of 16 */
	post(0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtq_hostile, indirect_with_next_flag)
{
	set_desc(0, BUF, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	post(0);
	expect_broken(VIRTQ_ERR_INDIRECT);
}

Test(virtq_hostile, indirect_loop)
{
	struct virtq_desc *table = gpa_to_hva_checked(&mem, BUF, 32);
	table[0] = (struct virtq_desc){ BUF + 0x1000, 8, VIRTQ_DESC_F_NEXT, 1 };
	table[1] = (struct virtq_desc){ BUF + 0x1000, 8, VIRTQ_DESC_F_NEXT, 0 };
	set_desc(0, BUF, 32, VIRTQ_DESC_F_INDIRECT, 0);
	post(0);
	expect_broken(VIRTQ_ERR_CHAIN_TOO_LONG);
}

Test(virtq_hostile, rings_outside_ram_or_misaligned)
{
	struct virtq r;
	virtq_init(&r, &mem, QSIZE);
	r.desc_gpa = RAM - 16;
	r.avail_gpa = AVAIL;
	r.used_gpa = USED;
	cr_assert_eq(virtq_enable(&r), VIRTQ_ERR_RING_RANGE);
	r.desc_gpa = DESC + 8; /* descriptor tables are 16-byte aligned */
	cr_assert_eq(virtq_enable(&r), VIRTQ_ERR_RING_RANGE);
	r.desc_gpa = DESC;
	r.size = 0;
	cr_assert_eq(virtq_enable(&r), VIRTQ_ERR_RING_RANGE);
	cr_assert(!r.ready);
}

Test(virtq_hostile, event_index_suppression)
{
	q.event_idx = true;
	set_desc(0, BUF, 8, 0, 0);
	avail()[2 + QSIZE] = 0; /* used_event: interrupt when used idx passes 0 */
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	virtq_push(&q, chain.head, 0);
	cr_assert(virtq_should_signal(&q));
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	virtq_push(&q, chain.head, 0);
	cr_assert(!virtq_should_signal(&q), "used_event 0 already passed");
	cr_assert(!virtq_enable_notify(&q));
	uint16_t *avail_event = gpa_to_hva_checked(&mem, USED + 4 + 8 * QSIZE, 2);
	cr_assert_eq(*avail_event, 2);
}

/* virtio-blk requests built like a driver would, against a temporary image. */
static int make_image(char *path, size_t size)
{
	strcpy(path, "/tmp/n90-blk-XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static uint8_t request(struct virtio_blk *blk, uint32_t type, uint64_t sector, uint64_t data_gpa, uint32_t len,
		       bool device_writes)
{
	uint8_t hdr[16] = { 0 };
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	guest_mem_write(&mem, BUF, hdr, 16);
	set_desc(0, BUF, 16, VIRTQ_DESC_F_NEXT, len ? 1 : 2);
	set_desc(1, data_gpa, len, VIRTQ_DESC_F_NEXT | (device_writes ? VIRTQ_DESC_F_WRITE : 0), 2);
	set_desc(2, BUF + 0x20, 1, VIRTQ_DESC_F_WRITE, 0);
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	virtio_blk_handle_chain(blk, &chain);
	uint8_t status;
	guest_mem_read(&mem, BUF + 0x20, &status, 1);
	return status;
}

Test(virtq_hostile, blk_write_read_flush_and_bounds)
{
	char path[32];
	close(make_image(path, 64 * 512 + 100)); /* not a multiple of 512: 64 sectors visible */
	struct virtio_blk blk;
	struct blk_options opt = { .path = path };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	cr_assert_eq(blk.capacity, 64);
	struct virtio_blk again;
	cr_assert_lt(virtio_blk_init(&again, &opt, &mem, 1), 0, "second writer refused (flock)");

	memset(gpa_to_hva_checked(&mem, BUF + 0x1000, 1024), 0xab, 1024);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_OUT, 3, BUF + 0x1000, 1024, false), VIRTIO_BLK_S_OK);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	memset(gpa_to_hva_checked(&mem, BUF + 0x2000, 512), 0, 512);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_IN, 4, BUF + 0x2000, 512, true), VIRTIO_BLK_S_OK);
	cr_assert_eq(((uint8_t *)gpa_to_hva_checked(&mem, BUF + 0x2000, 1))[0], 0xab);

	int fd = open(path, O_RDONLY);
	uint8_t on_disk[4];
	cr_assert_eq(pread(fd, on_disk, 4, 3 * 512), 4);
	cr_assert_eq(on_disk[0], 0xab, "the bytes reached the image");
	close(fd);

	cr_assert_eq(request(&blk, VIRTIO_BLK_T_IN, 64, BUF + 0x2000, 512, true), VIRTIO_BLK_S_IOERR, "past the end");
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_IN, UINT64_MAX, BUF + 0x2000, 512, true), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_IN, 0, BUF + 0x2000, 100, true), VIRTIO_BLK_S_IOERR, "partial sector");
	cr_assert_eq(request(&blk, 77, 0, 0, 0, false), VIRTIO_BLK_S_UNSUPP);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_GET_ID, 0, BUF + 0x3000, 20, true), VIRTIO_BLK_S_OK);
	cr_assert(memcmp(gpa_to_hva_checked(&mem, BUF + 0x3000, 12), "n90vmm-disk0", 12) == 0);
	virtio_blk_destroy(&blk);
	unlink(path);
}

Test(virtq_hostile, blk_read_only_image_untouched)
{
	char path[32];
	int fd = make_image(path, 8 * 512);
	uint8_t pattern[4096];
	memset(pattern, 0x5c, sizeof(pattern));
	cr_assert_eq(pwrite(fd, pattern, sizeof(pattern), 0), (ssize_t)sizeof(pattern));
	close(fd);
	struct virtio_blk blk;
	struct blk_options opt = { .path = path, .read_only = true };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	memset(gpa_to_hva_checked(&mem, BUF + 0x1000, 512), 0x11, 512);
	cr_assert_eq(request(&blk, VIRTIO_BLK_T_OUT, 0, BUF + 0x1000, 512, false), VIRTIO_BLK_S_IOERR);
	cr_assert_neq(request(&blk, VIRTIO_BLK_T_DISCARD, 0, 0, 0, false), VIRTIO_BLK_S_OK);
	virtio_blk_destroy(&blk);
	fd = open(path, O_RDONLY);
	uint8_t now[4096];
	cr_assert_eq(pread(fd, now, sizeof(now), 0), (ssize_t)sizeof(now));
	cr_assert(memcmp(now, pattern, sizeof(now)) == 0, "read-only image changed");
	close(fd);
	unlink(path);
}

Test(virtq_hostile, blk_chain_without_status_byte)
{
	char path[32];
	close(make_image(path, 4096));
	struct virtio_blk blk;
	struct blk_options opt = { .path = path };
	cr_assert_eq(virtio_blk_init(&blk, &opt, &mem, 0), 0);
	set_desc(0, BUF, 16, 0, 0); /* header only: nowhere to put a status */
	post(0);
	cr_assert_eq(virtq_pop(&q, &chain), 1);
	cr_assert_eq(virtio_blk_handle_chain(&blk, &chain), 0);
	cr_assert_eq(blk.dev.stats.errors, 1);
	virtio_blk_destroy(&blk);
	unlink(path);
}
