/* A small NVMe driver for the service partition (NVM Express Base 1.4): one controller
 * that Mica passed through to the service, its namespace 1, one I/O queue pair, and every
 * command waited for by polling its completion (the service does one request at a time;
 * an interrupt would only add an exit to each). docs/storage.md. */
#ifndef MICA_VMM_NVME_H
#define MICA_VMM_NVME_H

#include <stdint.h>

#define NVME_PAGE 4096u

struct nvme_queue {
	uint8_t *sq;             /* entries of 64 bytes */
	volatile uint8_t *cq;    /* entries of 16 bytes */
	uint16_t qid, size;
	uint16_t sq_tail, cq_head;
	uint8_t phase;           /* the phase tag a new completion has */
};

struct nvme {
	volatile uint8_t *regs;  /* BAR0 */
	char where[24];          /* "nvme 00:08.0", for every log line */
	uint32_t dstrd;          /* doorbell stride, bytes */
	uint32_t timeout_ms;     /* CAP.TO: how long enabling may take */
	uint32_t block;          /* namespace 1's logical block size: 512 or 4096 */
	uint64_t blocks;         /* ... and its size in blocks */
	uint32_t max_bytes;      /* per command (MDTS, and one PRP list page) */
	int vwc;                 /* it has a volatile write cache: Flush matters */
	int dead;                /* failed and not recovered: every command fails at once */
	unsigned errors_said;
	uint16_t cid;
	struct nvme_queue admin, io;
	char model[41], serial[21];
};

/* Resets and enables the controller at regs, identifies it and namespace 1, and creates
 * the I/O queues. 0 after one line saying what it found, or -1 after saying what failed. */
int nvme_init(struct nvme *n, volatile uint8_t *regs, const char *where);

/* Reads (write 0) or writes (write 1) count blocks at lba to or from buf, which is in the
 * service's own RAM (the device's DMA reaches it through the service's IOMMU domain);
 * split into commands of max_bytes. 0, or -1 after saying what failed. */
int nvme_rw(struct nvme *n, int write, uint64_t lba, uint64_t count, void *buf);

/* NVMe Flush of namespace 1: 0 when the device says everything written is stable. */
int nvme_flush(struct nvme *n);

/* PRP entries (NVMe 1.4, 4.3) for [addr, addr + len), len > 0, with pages of NVME_PAGE:
 * *prp1 and *prp2, using list (NVME_PAGE bytes at bus address list_addr) when more than
 * two pages are touched. 0, or -1 when the range needs more than one list page. */
int nvme_prp(uint64_t addr, uint64_t len, uint64_t *list, uint64_t list_addr,
	     uint64_t *prp1, uint64_t *prp2);

/* A completion status (status code type, status code) in words: "LBA out of range". */
const char *nvme_status_str(unsigned sct, unsigned sc);

#endif
