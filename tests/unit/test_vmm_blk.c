/* vmm/blk.c: the offer, every request type on chains split every which way, ranges at and
 * past the end of the disk, drivers that break the rules, and the request queue served
 * through real rings in a host buffer that stands for guest RAM. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/blk.h"

#define RAM_SIZE  0x40000ull
#define DISK_SIZE (64 * 1024ull) /* 128 sectors */
#define DESC      0x1000ull
#define AVAIL     0x2000ull
#define USED      0x3000ull
#define BUF       0x8000ull

static uint8_t *ram, *disk;
static struct blk b;
static struct vdev d;
static struct vq_chain ch;
static struct blk_result res;
static char err[256];

static void init(void)
{
	ram = aligned_alloc(4096, RAM_SIZE);
	disk = malloc(DISK_SIZE);
	cr_assert(ram && disk);
	memset(ram, 0, RAM_SIZE);
	for (size_t i = 0; i < DISK_SIZE; i++)
		disk[i] = (uint8_t)(i / BLK_SECTOR * 7 + i); /* each sector looks different */
	blk_init(&b, disk, DISK_SIZE, "linux-a");
	blk_device(&d, ram, RAM_SIZE);
	memset(&ch, 0, sizeof(ch));
}

static void fini(void)
{
	free(ram);
	free(disk);
}

TestSuite(blk, .init = init, .fini = fini);

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void header(uint8_t *h, uint32_t type, uint64_t sector)
{
	memset(h, 0, BLK_HDR_LEN);
	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
}

/* Appends a segment over host memory (blk_request looks at ptr and len only). */
static void add(void *p, uint32_t len, int writable)
{
	ch.seg[ch.nsegs++] = (struct vq_seg){ .ptr = p, .len = len, .writable = (uint8_t)writable };
	if (writable) {
		ch.write_bytes += len;
	} else {
		ch.nread++;
		ch.read_bytes += len;
	}
}

static int request(void)
{
	memset(err, 0, sizeof(err));
	return blk_request(&b, &ch, &res, err, sizeof(err));
}

/* ---- the offer ---- */

Test(blk, offer)
{
	struct mica_svc_attach a;
	memset(&a, 0xa5, sizeof(a));
	blk_offer(&b, &a);
	cr_expect_eq(a.features, (1ull << 32) | (1ull << 29) | (1ull << 28) | (1ull << 1) |
					 (1ull << 2) | (1ull << 6) | (1ull << 9));
	cr_expect_eq(a.num_queues, 1);
	cr_expect_eq(a.queue_max, 256);
	cr_expect_eq(a.config_len, 24);
	cr_expect_eq(rd64(a.config), DISK_SIZE / 512, "capacity in sectors");
	cr_expect_eq(rd32(a.config + 8), 16384, "size_max");
	cr_expect_eq(rd32(a.config + 12), 62, "seg_max");
	cr_expect_eq(rd32(a.config + 16), 0, "geometry");
	cr_expect_eq(rd32(a.config + 20), 512, "blk_size");
	for (unsigned i = 24; i < MICA_SVC_CONFIG_MAX; i++)
		cr_assert_eq(a.config[i], 0);
	cr_expect_eq(a.reserved, 0);
}

Test(blk, id_is_padded_or_cut)
{
	cr_expect_eq(memcmp(b.id, "mica:linux-a\0\0\0\0\0\0\0\0", 20), 0);
	blk_init(&b, disk, DISK_SIZE, "a-partition-with-a-long-name");
	cr_expect_eq(memcmp(b.id, "mica:a-partition-wit", 20), 0);
}

Test(blk, disk_size_rounds_down_to_sectors)
{
	blk_init(&b, disk, 1000, "x");
	cr_expect_eq(b.bytes, 512);
}

/* ---- requests ---- */

Test(blk, read)
{
	uint8_t h[16], data[1024], st = 0xff;
	header(h, VIRTIO_BLK_T_IN, 3);
	memset(data, 0, sizeof(data));
	add(h, 16, 0);
	add(data, sizeof(data), 1);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(res.status, VIRTIO_BLK_S_OK);
	cr_expect_eq(res.written, 1025);
	cr_expect_eq(res.data, 1024);
	cr_expect_eq(memcmp(data, disk + 3 * 512, 1024), 0);
}

Test(blk, write)
{
	uint8_t hd[16 + 512], st = 0xff;
	header(hd, VIRTIO_BLK_T_OUT, 127); /* the last sector */
	memset(hd + 16, 0x5c, 512);
	add(hd, sizeof(hd), 0); /* header and data in one segment */
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(res.written, 1);
	cr_expect_eq(res.data, 512);
	for (unsigned i = 0; i < 512; i++)
		cr_assert_eq(disk[127 * 512 + i], 0x5c);
	cr_expect_neq(disk[126 * 512 + 511], 0x5c);
}

Test(blk, header_and_data_split_anywhere)
{
	/* The header in three pieces, the data over odd pieces, the status at the end of
	 * the last data segment. */
	uint8_t h[16], w1[100], w2[300], w3[113];
	header(h, VIRTIO_BLK_T_IN, 5);
	add(h, 5, 0);
	add(h + 5, 7, 0);
	add(h + 12, 4, 0);
	add(w1, sizeof(w1), 1);
	add(w2, sizeof(w2), 1);
	add(w3, sizeof(w3), 1);
	w3[112] = 0xff;
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(w3[112], VIRTIO_BLK_S_OK);
	cr_expect_eq(res.written, 513);
	cr_expect_eq(memcmp(w1, disk + 5 * 512, 100), 0);
	cr_expect_eq(memcmp(w2, disk + 5 * 512 + 100, 300), 0);
	cr_expect_eq(memcmp(w3, disk + 5 * 512 + 400, 112), 0);
}

Test(blk, write_split_with_header_sharing_data)
{
	uint8_t h[16], a[20], c[1020], st;
	header(h, VIRTIO_BLK_T_OUT, 10);
	memcpy(a, h, 16);
	memset(a + 16, 1, 4);             /* header + 4 data bytes */
	memset(c, 2, sizeof(c));          /* the other 1020 data bytes */
	add(a, sizeof(a), 0);
	add(c, sizeof(c), 0);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(disk[10 * 512 + 3], 1);
	cr_expect_eq(disk[10 * 512 + 4], 2);
	cr_expect_eq(disk[12 * 512 - 1], 2);
}

Test(blk, flush)
{
	uint8_t h[16], st = 0xff;
	header(h, VIRTIO_BLK_T_FLUSH, 0);
	add(h, 16, 0);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(res.written, 1);
}

Test(blk, get_id)
{
	uint8_t h[16], id[20 + 1];
	header(h, VIRTIO_BLK_T_GET_ID, 0);
	memset(id, 0xee, sizeof(id));
	add(h, 16, 0);
	add(id, 8, 1);
	add(id + 8, 13, 1); /* 12 more id bytes, then the status */
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(memcmp(id, "mica:linux-a\0\0\0\0\0\0\0\0", 20), 0);
	cr_expect_eq(id[20], VIRTIO_BLK_S_OK);
	cr_expect_eq(res.written, 21);
}

Test(blk, get_id_needs_20_bytes)
{
	uint8_t h[16], id[11];
	header(h, VIRTIO_BLK_T_GET_ID, 0);
	memset(id, 0xee, sizeof(id));
	add(h, 16, 0);
	add(id, sizeof(id), 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(id[10], VIRTIO_BLK_S_IOERR);
	cr_expect_eq(id[0], 0xee);
	cr_expect_eq(res.written, 1);
}

Test(blk, unsupported_types)
{
	static const uint32_t types[] = { 2, 3, 5, 11, 13, 0xffffffff };
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint8_t h[16], data[512], st = 0xff;
		memset(&ch, 0, sizeof(ch));
		header(h, types[i], 0);
		add(h, 16, 0);
		add(data, sizeof(data), 1);
		add(&st, 1, 1);
		cr_assert_eq(request(), 0, "%s", err);
		cr_expect_eq(st, VIRTIO_BLK_S_UNSUPP, "type %u", types[i]);
		cr_expect_eq(res.written, 1);
	}
}

/* An IN of len bytes at sector: the status it gets; the guest's buffer must stay as it
 * was unless the status is OK. */
static uint8_t read_status(uint64_t sector, uint32_t len)
{
	static uint8_t data[4096];
	uint8_t h[16], st = 0xff;
	memset(&ch, 0, sizeof(ch));
	memset(data, 0xee, sizeof(data));
	header(h, VIRTIO_BLK_T_IN, sector);
	add(h, 16, 0);
	if (len)
		add(data, len, 1);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	if (st != VIRTIO_BLK_S_OK) {
		cr_expect_eq(res.written, 1);
		cr_expect_eq(data[0], 0xee, "buffer written on error");
	}
	return st;
}

Test(blk, read_ranges)
{
	cr_expect_eq(read_status(0, 512), VIRTIO_BLK_S_OK);
	cr_expect_eq(read_status(127, 512), VIRTIO_BLK_S_OK);
	cr_expect_eq(read_status(120, 4096), VIRTIO_BLK_S_OK, "ends exactly at the end");
	cr_expect_eq(read_status(128, 0), VIRTIO_BLK_S_OK, "nothing at the very end");
	cr_expect_eq(read_status(128, 512), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(read_status(127, 1024), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(read_status(121, 4096), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(read_status(129, 0), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(read_status(0, 511), VIRTIO_BLK_S_IOERR, "not whole sectors");
	cr_expect_eq(read_status(0, 513), VIRTIO_BLK_S_IOERR);
	/* sector * 512 wraps to 0 in 64 bits */
	cr_expect_eq(read_status(1ull << 55, 512), VIRTIO_BLK_S_IOERR);
	cr_expect_eq(read_status(~0ull, 512), VIRTIO_BLK_S_IOERR);
}

Test(blk, write_out_of_range_leaves_the_disk_alone)
{
	uint8_t hd[16 + 1024], st = 0xff;
	uint8_t before[512];
	memcpy(before, disk + 127 * 512, 512);
	header(hd, VIRTIO_BLK_T_OUT, 127);
	memset(hd + 16, 0x11, 1024);
	add(hd, sizeof(hd), 0);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_IOERR);
	cr_expect_eq(memcmp(disk + 127 * 512, before, 512), 0);
}

/* ---- drivers that break the rules ---- */

static void expect_refused(const char *msg)
{
	cr_assert_eq(request(), MICA_EINVAL, "accepted; expected: %s", msg);
	cr_expect_str_eq(err, msg);
}

Test(blk, header_too_short)
{
	uint8_t h[16], st = 0xee;
	header(h, VIRTIO_BLK_T_IN, 0);
	add(h, 15, 0);
	add(&st, 1, 1);
	expect_refused("request from descriptor 0 has 15 readable bytes, less than its 16-byte "
		       "header");
	cr_expect_eq(st, 0xee, "nothing written for a refused request");
}

Test(blk, header_in_writable_buffer)
{
	uint8_t h[17];
	header(h, VIRTIO_BLK_T_IN, 0);
	add(h, 17, 1);
	expect_refused("request from descriptor 0 has 0 readable bytes, less than its 16-byte "
		       "header");
}

Test(blk, no_status_byte)
{
	uint8_t h[16 + 512];
	header(h, VIRTIO_BLK_T_OUT, 0);
	add(h, sizeof(h), 0);
	ch.head = 9;
	expect_refused("request from descriptor 9 has no writable status byte");
}

Test(blk, read_with_readable_data)
{
	uint8_t h[16 + 512], data[512], st;
	header(h, VIRTIO_BLK_T_IN, 0);
	add(h, sizeof(h), 0);
	add(data, sizeof(data), 1);
	add(&st, 1, 1);
	expect_refused("read request from descriptor 0 carries 512 readable data bytes");
}

Test(blk, write_with_writable_data)
{
	uint8_t h[16], data[512], st = 0xee;
	header(h, VIRTIO_BLK_T_OUT, 0);
	add(h, sizeof(h), 0);
	add(data, sizeof(data), 1);
	add(&st, 1, 1);
	expect_refused("write request from descriptor 0 has 512 writable data bytes");
	cr_expect_eq(st, 0xee);
}

/* ---- the request queue through rings ---- */

static uint16_t drv_idx, drv_free;

static void put_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	uint8_t *p = ram + DESC + 16ull * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Publishes a chain of n buffers of guest RAM; returns its head. */
struct gbuf {
	uint64_t gpa;
	uint32_t len;
	int writable;
};

static uint16_t publish(unsigned n, const struct gbuf *g)
{
	uint16_t head = drv_free;
	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (g[i].writable ? VQ_DESC_F_WRITE : 0) |
				 (i + 1 < n ? VQ_DESC_F_NEXT : 0);
		put_desc((head + i) % 16, g[i].gpa, g[i].len, flags, (uint16_t)((head + i + 1) % 16));
	}
	drv_free = (uint16_t)((head + n) % 16);
	memcpy(ram + AVAIL + 4 + 2 * (drv_idx % 16), &head, 2);
	drv_idx++;
	memcpy(ram + AVAIL + 2, &drv_idx, 2);
	return head;
}

static void go_live(void)
{
	drv_idx = drv_free = 0;
	vdev_set_features(&d, VIRTIO_F_VERSION_1);
	cr_assert_eq(vdev_setup_queue(&d, 0, 16, DESC, AVAIL, USED), 0, "%s", d.why);
	d.live = 1;
}

static uint32_t used_len(unsigned k)
{
	return rd32(ram + USED + 8 + 8 * (k % 16));
}

static uint32_t used_id(unsigned k)
{
	return rd32(ram + USED + 4 + 8 * (k % 16));
}

Test(blk, serve_through_rings)
{
	go_live();
	/* a read of sectors 2-3, a write to sector 4, a read past the end */
	header(ram + BUF, VIRTIO_BLK_T_IN, 2);
	uint16_t h0 = publish(3, (struct gbuf[]){ { BUF, 16, 0 }, { BUF + 0x100, 1024, 1 },
						  { BUF + 0x80, 1, 1 } });
	header(ram + BUF + 0x1000, VIRTIO_BLK_T_OUT, 4);
	memset(ram + BUF + 0x1010, 0x77, 512);
	uint16_t h1 = publish(2, (struct gbuf[]){ { BUF + 0x1000, 16 + 512, 0 },
						  { BUF + 0x1800, 1, 1 } });
	header(ram + BUF + 0x2000, VIRTIO_BLK_T_IN, 128);
	publish(2, (struct gbuf[]){ { BUF + 0x2000, 16, 0 }, { BUF + 0x2100, 513, 1 } });

	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(d.broken, 0, "%s", d.why);
	cr_expect_eq(rd16(ram + USED + 2), 3);
	cr_expect_eq(used_id(0), h0);
	cr_expect_eq(used_len(0), 1025);
	cr_expect_eq(ram[BUF + 0x80], VIRTIO_BLK_S_OK);
	cr_expect_eq(memcmp(ram + BUF + 0x100, disk + 1024, 1024), 0);
	cr_expect_eq(used_id(1), h1);
	cr_expect_eq(used_len(1), 1);
	cr_expect_eq(disk[4 * 512 + 100], 0x77);
	cr_expect_eq(used_len(2), 1);
	cr_expect_eq(ram[BUF + 0x2100 + 512], VIRTIO_BLK_S_IOERR);
	cr_expect_eq(d.stats.requests, 3);
	cr_expect_eq(d.stats.bytes, 1536);
	cr_expect_eq(d.stats.drops, 1);
	cr_expect_eq(d.pushed, 1);
}

Test(blk, indirect_request)
{
	go_live();
	/* header, 512 data bytes and the status in an indirect table of three */
	uint64_t table = BUF + 0x3000;
	uint8_t *t = ram + table;
	uint64_t a[3] = { BUF, BUF + 0x200, BUF + 0x40 };
	uint32_t l[3] = { 16, 512, 1 };
	uint16_t f[3] = { VQ_DESC_F_NEXT, VQ_DESC_F_NEXT | VQ_DESC_F_WRITE, VQ_DESC_F_WRITE };
	for (unsigned i = 0; i < 3; i++) {
		uint16_t next = (uint16_t)(i + 1);
		memcpy(t + 16 * i, &a[i], 8);
		memcpy(t + 16 * i + 8, &l[i], 4);
		memcpy(t + 16 * i + 12, &f[i], 2);
		memcpy(t + 16 * i + 14, &next, 2);
	}
	header(ram + BUF, VIRTIO_BLK_T_IN, 1);
	put_desc(0, table, 48, VQ_DESC_F_INDIRECT, 0);
	memcpy(ram + AVAIL + 4, &(uint16_t){ 0 }, 2);
	memcpy(ram + AVAIL + 2, &(uint16_t){ 1 }, 2);
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(d.broken, 0, "%s", d.why);
	cr_expect_eq(used_len(0), 513);
	cr_expect_eq(memcmp(ram + BUF + 0x200, disk + 512, 512), 0);
}

Test(blk, rule_breaking_request_fails_the_device)
{
	go_live();
	header(ram + BUF, VIRTIO_BLK_T_FLUSH, 0);
	publish(2, (struct gbuf[]){ { BUF, 16, 0 }, { BUF + 0x40, 1, 1 } });
	header(ram + BUF + 0x100, VIRTIO_BLK_T_OUT, 0);
	uint16_t bad = publish(2, (struct gbuf[]){ { BUF + 0x100, 16, 0 },
						   { BUF + 0x200, 513, 1 } });
	header(ram + BUF + 0x400, VIRTIO_BLK_T_FLUSH, 0);
	publish(2, (struct gbuf[]){ { BUF + 0x400, 16, 0 }, { BUF + 0x440, 1, 1 } });

	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(d.broken, 1);
	cr_expect_eq(d.fail_pending, 1);
	char want[128];
	snprintf(want, sizeof(want),
		 "requestq: write request from descriptor %u has 512 writable data bytes", bad);
	cr_expect_str_eq(d.why, want);
	cr_expect_eq(rd16(ram + USED + 2), 1, "only the request before it completed");
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(rd16(ram + USED + 2), 1, "a broken device serves nothing");
}

Test(blk, hostile_chain_fails_the_device)
{
	go_live();
	publish(2, (struct gbuf[]){ { BUF, 16, 0 }, { RAM_SIZE - 8, 16, 1 } });
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "requestq: descriptor 1 points outside guest RAM: "
				"[0x3fff8, +0x10) beyond 0x40000");
	cr_expect_eq(rd16(ram + USED + 2), 0);
}

Test(blk, chain_over_the_size_limit_fails_the_device)
{
	/* 16 + 64 KiB * 17 + 1 bytes > 1 MiB + 4 KiB; RAM must hold it */
	free(ram);
	ram = aligned_alloc(4096, 0x200000);
	cr_assert(ram);
	memset(ram, 0, 0x200000);
	blk_device(&d, ram, 0x200000);
	go_live();
	struct gbuf g[3] = { { BUF, 16, 0 }, { 0x10000, 0x110000, 1 }, { BUF + 0x40, 1, 1 } };
	publish(3, g);
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(d.broken, 1);
	cr_expect_str_eq(d.why, "requestq: descriptor chain from head 0 is longer than 1052672 "
				"bytes");
}

Test(blk, not_live_serves_nothing)
{
	go_live();
	d.live = 0;
	header(ram + BUF, VIRTIO_BLK_T_FLUSH, 0);
	publish(2, (struct gbuf[]){ { BUF, 16, 0 }, { BUF + 0x40, 1, 1 } });
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(rd16(ram + USED + 2), 0);
	d.live = 1;
	cr_expect_eq(blk_serve(&b, &d, 1000), 0);
	cr_expect_eq(rd16(ram + USED + 2), 1);
}

/* ---- the budget: a busy queue gives way ---- */

Test(blk, budget_stops_and_resumes)
{
	go_live();
	for (unsigned i = 0; i < 5; i++) {
		header(ram + BUF + 0x100 * i, VIRTIO_BLK_T_FLUSH, 0);
		publish(2, (struct gbuf[]){ { BUF + 0x100 * i, 16, 0 },
					    { BUF + 0x100 * i + 0x40, 1, 1 } });
	}
	cr_expect_eq(blk_serve(&b, &d, 2), 1, "more are waiting");
	cr_expect_eq(rd16(ram + USED + 2), 2);
	cr_expect_eq(blk_serve(&b, &d, 2), 1);
	cr_expect_eq(rd16(ram + USED + 2), 4);
	cr_expect_eq(blk_serve(&b, &d, 2), 0, "the queue ran dry within the budget");
	cr_expect_eq(rd16(ram + USED + 2), 5);
}

/* ---- a medium (NVMe): calls made, errors per request, block size 4096 ---- */

static struct {
	uint8_t *data;
	uint64_t bytes;
	unsigned rw_calls, flushes;
	int fail_rw, fail_flush;
	uint64_t last_off, last_len;
} med;
static uint8_t bounce_buf[BLK_MAX_BYTES];

static int med_rw(void *ctx, int write, uint64_t off, void *buf, uint64_t len)
{
	cr_assert_eq(ctx, &med);
	cr_assert_eq(buf, bounce_buf, "data goes through the bounce buffer");
	cr_assert(off + len <= med.bytes, "the backend asked past the disk's end");
	med.rw_calls++;
	med.last_off = off;
	med.last_len = len;
	if (med.fail_rw)
		return -1;
	if (write)
		memcpy(med.data + off, buf, len);
	else
		memcpy(buf, med.data + off, len);
	return 0;
}

static int med_flush(void *ctx)
{
	med.flushes++;
	return med.fail_flush ? -1 : 0;
}

static const struct blk_medium medium = { med_rw, med_flush, &med, bounce_buf };

static void use_medium(uint32_t blk_size)
{
	memset(&med, 0, sizeof(med));
	med.data = disk;
	med.bytes = DISK_SIZE;
	blk_init_medium(&b, &medium, DISK_SIZE, blk_size, "nv");
}

Test(blk, medium_read_write_flush)
{
	use_medium(512);
	uint8_t h[16], data[1024], st = 0xff;
	header(h, VIRTIO_BLK_T_IN, 5);
	add(h, 16, 0);
	add(data, 300, 1); /* split over two writable segments */
	add(data + 300, 724, 1);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(med.rw_calls, 1);
	cr_expect_eq(med.last_off, 5 * 512);
	cr_expect_eq(med.last_len, 1024);
	cr_expect_eq(memcmp(data, disk + 5 * 512, 1024), 0);

	memset(&ch, 0, sizeof(ch));
	uint8_t hd[16 + 512];
	header(hd, VIRTIO_BLK_T_OUT, 9);
	memset(hd + 16, 0xab, 512);
	add(hd, sizeof(hd), 0);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(disk[9 * 512 + 511], 0xab);
	cr_expect_eq(res.data, 512);

	memset(&ch, 0, sizeof(ch));
	header(h, VIRTIO_BLK_T_FLUSH, 0);
	add(h, 16, 0);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(med.flushes, 1, "a flush reaches the medium");
}

Test(blk, medium_errors_fail_the_request_only)
{
	use_medium(512);
	med.fail_rw = 1;
	uint8_t h[16], data[512], st = 0xff;
	header(h, VIRTIO_BLK_T_IN, 0);
	add(h, 16, 0);
	add(data, 512, 1);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "an I/O error is an answer, not a broken driver");
	cr_expect_eq(st, VIRTIO_BLK_S_IOERR);
	cr_expect_eq(res.written, 1, "no data counted as written");

	memset(&ch, 0, sizeof(ch));
	uint8_t hd[16 + 512];
	header(hd, VIRTIO_BLK_T_OUT, 0);
	add(hd, sizeof(hd), 0);
	add(&st, 1, 1);
	st = 0xff;
	cr_assert_eq(request(), 0);
	cr_expect_eq(st, VIRTIO_BLK_S_IOERR, "a write is not acknowledged unless it was done");

	memset(&ch, 0, sizeof(ch));
	med.fail_flush = 1;
	header(h, VIRTIO_BLK_T_FLUSH, 0);
	add(h, 16, 0);
	add(&st, 1, 1);
	st = 0xff;
	cr_assert_eq(request(), 0);
	cr_expect_eq(st, VIRTIO_BLK_S_IOERR, "a flush the medium could not do is an error");
}

Test(blk, medium_4k_blocks)
{
	use_medium(4096);
	struct mica_svc_attach a;
	blk_offer(&b, &a);
	cr_expect_eq(rd32(a.config + 20), 4096, "blk_size");
	cr_expect_eq(rd64(a.config), DISK_SIZE / 512, "capacity is still in 512-byte sectors");

	uint8_t h[16], data[4096], st;
	/* sector 8 = byte 4096: aligned */
	header(h, VIRTIO_BLK_T_IN, 8);
	add(h, 16, 0);
	add(data, 4096, 1);
	add(&st, 1, 1);
	cr_assert_eq(request(), 0, "%s", err);
	cr_expect_eq(st, VIRTIO_BLK_S_OK);
	cr_expect_eq(med.last_off, 4096);
	/* sector 1: not on a block boundary; 512 bytes: not a whole block */
	for (int k = 0; k < 2; k++) {
		memset(&ch, 0, sizeof(ch));
		header(h, VIRTIO_BLK_T_IN, k ? 1 : 0);
		add(h, 16, 0);
		add(data, k ? 4096 : 512, 1);
		add(&st, 1, 1);
		med.rw_calls = 0;
		cr_assert_eq(request(), 0);
		cr_expect_eq(st, VIRTIO_BLK_S_IOERR);
		cr_expect_eq(med.rw_calls, 0, "refused before the medium is asked");
	}
}

Test(blk, medium_never_asked_past_the_end)
{
	use_medium(512);
	uint8_t h[16], data[1024], st;
	/* the last sector and one past it; then a sector number that overflows */
	uint64_t sectors[] = { DISK_SIZE / 512 - 1, UINT64_MAX / 512 + 1, UINT64_MAX };
	for (unsigned k = 0; k < 3; k++) {
		memset(&ch, 0, sizeof(ch));
		header(h, VIRTIO_BLK_T_IN, sectors[k]);
		add(h, 16, 0);
		add(data, 1024, 1);
		add(&st, 1, 1);
		cr_assert_eq(request(), 0);
		cr_expect_eq(st, VIRTIO_BLK_S_IOERR);
	}
	cr_expect_eq(med.rw_calls, 0);
}
