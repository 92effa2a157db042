/* vmm/blk.c: the driver's request queue is hostile. Each round the input makes one chain
 * of up to 8 descriptors (address, length, flags, next; rings at the start of 64 KiB of
 * guest RAM) with a 16-byte request header at its first buffer, and blk_serve() runs over
 * a disk of 8 to 16 sectors (size from the input) with guard bytes around it. A request is
 * refused as blk.h says (the device broken, RAM and disk untouched) or completes: status
 * OK, IOERR or UNSUPP in the chain's last writable byte, a used length of at most its
 * writable bytes, RAM changed only in writable segments (only the status byte but for a
 * good read or GET_ID) and the used ring, exactly as a model of the request says, and the
 * disk changed only by a good write, within [0, disk size), with the chain's data. A chain
 * that writes the available index is checked for memory safety only. */
#include "tests/fuzz/fuzz_chain.h"
#include "vmm/blk.h"

#define GUARD 512u
#define DISK  (16u * BLK_SECTOR)

static uint8_t ram[RAM] __attribute__((aligned(4096)));
static uint8_t before[RAM] __attribute__((aligned(4096))), model[RAM];
static uint8_t disk[GUARD + DISK + GUARD], disk_model[GUARD + DISK + GUARD];
static uint8_t disk_fresh[GUARD + DISK + GUARD]; /* every run's starting disk, made once */
static struct vq_chain c, m;
static struct vdev d;
static struct blk b;

/* The input's next chain (fuzz_chain_take). The payload goes to its first buffer first,
 * so that the rings are as the chain says. */
static void publish(struct fuzz_drv *v, struct fuzz_in *in, const uint8_t *pl, size_t len)
{
	struct fuzz_chain ch;

	fuzz_chain_take(v, &ch, in);
	fuzz_chain_fill(v, &ch, pl, len);
	fuzz_chain_write(v, &ch);
	fuzz_chain_offer(v);
}

/* Does a writable segment of ch overlap [gpa, gpa + len)? */
static int writes(const struct vq_chain *ch, uint64_t gpa, uint64_t len)
{
	for (unsigned i = ch->nread; i < ch->nsegs; i++)
		if (gpa < ch->seg[i].gpa + ch->seg[i].len && ch->seg[i].gpa < gpa + len)
			return 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct fuzz_drv drv = { .ram = ram, .q = 0, .flags = 7 };
	char err[VDEV_WHY_MAX];

	fuzz_ram_fresh(ram);
	if (!disk_fresh[1])
		for (size_t i = 0; i < sizeof(disk); i++)
			disk_fresh[i] = (uint8_t)(i * 7 + i / BLK_SECTOR);
	memcpy(disk, disk_fresh, sizeof(disk));
	blk_init(&b, disk + GUARD, DISK / 2 + fuzz_take(&in, 2) % (DISK / 2 + 1), "fuzz");
	blk_device(&d, ram, RAM);
	vdev_set_features(&d, VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC);
	FUZZ_CHECK(!vdev_setup_queue(&d, 0, QSIZE, RING(0), AVAIL(0), USED(0)), "%s", d.why);
	d.live = 1;

	while (in.n && !d.broken) {
		uint8_t h[BLK_HDR_LEN];
		put64(h, fuzz_take(&in, 8));
		put64(h + 8, fuzz_take(&in, 8));
		publish(&drv, &in, h, sizeof(h));

		/* The chain the device will take, walked in a copy of RAM and of the queue. */
		memcpy(before, ram, RAM);
		memcpy(disk_model, disk, sizeof(disk));
		struct vq q = d.q[0];
		const struct vq_mem bm = { before, RAM };
		int rc = vq_next(&q, &bm, &c, err, sizeof(err));
		uint16_t used = d.q[0].used_idx;
		blk_serve(&b, &d, 1u << 16);
		/* Compared whole first; byte by byte only to name the byte. */
		if (memcmp(disk, disk_model, GUARD) ||
		    memcmp(disk + GUARD + b.bytes, disk_model + GUARD + b.bytes,
			   sizeof(disk) - GUARD - b.bytes))
			for (size_t i = 0; i < sizeof(disk); i++)
				FUZZ_CHECK((i >= GUARD && i < GUARD + b.bytes) ||
					   disk[i] == disk_model[i],
					   "disk byte %lld outside [0, %llu) written",
					   (long long)i - GUARD, (unsigned long long)b.bytes);
		if (rc == 1 && writes(&c, AVAIL(0) + 2, 2))
			return 0;

		chain_gather(&c, 0, h, sizeof(h)); /* what the device reads, if there is a chain */
		uint32_t type = rd32(h);
		uint64_t sector = rd64(h + 8), rdata = c.read_bytes - BLK_HDR_LEN;
		uint64_t wdata = c.write_bytes - 1;
		if (rc != 1 || c.read_bytes < BLK_HDR_LEN || !c.write_bytes ||
		    (type == VIRTIO_BLK_T_IN && rdata) || (type == VIRTIO_BLK_T_OUT && wdata)) {
			FUZZ_CHECK(d.broken && !memcmp(ram, before, RAM) &&
				   !memcmp(disk, disk_model, sizeof(disk)),
				   "a chain that breaks the rules was served, or changed RAM or disk");
			break;
		}
		FUZZ_CHECK(!d.broken, "a good chain broke the device: %s", d.why);

		/* What the request must do (virtio 1.1, 5.2.6; blk.h). */
		uint64_t len = type == VIRTIO_BLK_T_IN ? wdata : rdata;
		int inside = len % BLK_SECTOR == 0 && sector <= b.bytes / BLK_SECTOR &&
			     sector * BLK_SECTOR + len <= b.bytes;
		uint8_t st = VIRTIO_BLK_S_UNSUPP;
		if (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT)
			st = inside ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		else if (type == VIRTIO_BLK_T_FLUSH)
			st = VIRTIO_BLK_S_OK;
		else if (type == VIRTIO_BLK_T_GET_ID)
			st = wdata >= BLK_ID_BYTES ? VIRTIO_BLK_S_OK : VIRTIO_BLK_S_IOERR;
		int in_ok = st == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_IN;
		int id_ok = st == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_GET_ID;
		const uint8_t *src = in_ok ? disk_model + GUARD + sector * BLK_SECTOR :
				     id_ok ? (const uint8_t *)b.id : NULL;
		uint32_t written = 1 + (uint32_t)(in_ok ? wdata : id_ok ? BLK_ID_BYTES : 0);
		memcpy(model, before, RAM);
		m = c;
		for (unsigned i = 0; i < m.nsegs; i++)
			m.seg[i].ptr = model + m.seg[i].gpa;
		if (src)
			chain_scatter(&m, 0, src, written - 1);
		chain_scatter(&m, wdata, &st, 1);
		uint64_t e = USED_ELEM(0, used);
		put32(model + e, c.head);
		put32(model + e + 4, written);
		put16(model + USED(0) + 2, (uint16_t)(used + 1));
		if (st == VIRTIO_BLK_S_OK && type == VIRTIO_BLK_T_OUT)
			chain_gather(&c, BLK_HDR_LEN, disk_model + GUARD + sector * BLK_SECTOR, rdata);

		const struct vq_seg *last = &c.seg[c.nsegs - 1];
		uint64_t at = last->gpa + last->len - 1; /* the status byte, unless the used ring */
		FUZZ_CHECK(rd32(ram + e + 4) <= c.write_bytes && (at - e < 8 || at - (USED(0) + 2) < 2 ||
			   ram[at] == st), "used length %u of %llu writable bytes; status %u, not %u",
			   rd32(ram + e + 4), (unsigned long long)c.write_bytes, ram[at], st);
		for (size_t i = fuzz_ram_diff(ram, before, 0); i < RAM;
		     i = fuzz_ram_diff(ram, before, i + 1))
			FUZZ_CHECK(i == at || i - e < 8 || i - (USED(0) + 2) < 2 ||
				   (src && writes(&c, i, 1)), "type %u wrote guest RAM at 0x%zx", type, i);
		size_t i = fuzz_ram_diff(ram, model, 0);
		FUZZ_CHECK(i == RAM, "type %u: guest RAM at 0x%zx is 0x%02x, not 0x%02x", type, i,
			   ram[i % RAM], model[i % RAM]);
		FUZZ_CHECK(!memcmp(disk, disk_model, sizeof(disk)), "type %u: the disk is not as "
			   "the model says", type);
	}
	return 0;
}
