/* The fixture of the virtqueue tests (test_virtq.c, test_virtq_notify.c): a host buffer
 * that stands for guest RAM, one queue in it, and the driver's side (descriptors, the
 * avail ring). Each test file has its own copy (static). */
#ifndef MICA_TEST_VIRTQ_FIXTURE_H
#define MICA_TEST_VIRTQ_FIXTURE_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/virtq.h"

#define RAM_SIZE 0x10000ull
#define DESC     0x1000ull
#define AVAIL    0x2000ull
#define USED     0x3000ull
#define IND      0x4000ull /* indirect tables */
#define BUF      0x8000ull /* data buffers */

static uint8_t *ram;
static struct vq_mem mem;
static struct vq q;
static struct vq_config cfg;
static struct vq_chain ch;
static char err[256];
static __attribute__((unused)) uint16_t drv_idx; /* the driver's avail->idx */

static __attribute__((unused)) void set_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *p = ram + table + 16ull * i;
	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static __attribute__((unused)) uint16_t rd16(uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, ram + gpa, 2);
	return v;
}

static __attribute__((unused)) uint32_t rd32(uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, ram + gpa, 4);
	return v;
}

static __attribute__((unused)) void wr16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

/* Puts head in the next avail ring slot and publishes it. */
static __attribute__((unused)) void publish(uint16_t head)
{
	wr16(AVAIL + 4 + 2ull * (drv_idx % cfg.size), head);
	drv_idx++;
	wr16(AVAIL + 2, drv_idx);
}

static __attribute__((unused)) int setup_q(uint32_t size, int event_idx, uint64_t max_bytes)
{
	cfg = (struct vq_config){ .size = size, .desc = DESC, .avail = AVAIL, .used = USED,
				  .event_idx = event_idx, .max_bytes = max_bytes };
	drv_idx = 0;
	memset(ram + AVAIL, 0, 0x1000); /* a fresh driver: rings zeroed */
	memset(ram + USED, 0, 0x1000);
	return vq_setup(&q, &mem, &cfg, err, sizeof(err));
}

static __attribute__((unused)) void init(void)
{
	ram = aligned_alloc(4096, RAM_SIZE); /* exactly guest RAM: ASan sees any overrun */
	cr_assert(ram);
	memset(ram, 0, RAM_SIZE);
	mem = (struct vq_mem){ ram, RAM_SIZE };
	cr_assert_eq(setup_q(16, 0, 1 << 20), 0, "%s", err);
}

static __attribute__((unused)) void fini(void)
{
	free(ram);
}

static __attribute__((unused)) int next(void)
{
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return vq_next(&q, &mem, &ch, err, sizeof(err));
}

#endif
