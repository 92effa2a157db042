/* The pure parts of the NVMe driver (vmm/nvme.h): PRP entries and status words. */
#include "vmm/nvme.h"

int nvme_prp(uint64_t addr, uint64_t len, uint64_t *list, uint64_t list_addr,
	     uint64_t *prp1, uint64_t *prp2)
{
	uint64_t first = NVME_PAGE - addr % NVME_PAGE; /* bytes in the first page */

	*prp1 = addr;
	*prp2 = 0;
	if (len <= first)
		return 0;
	uint64_t next = addr + first; /* page aligned from here on */
	uint64_t rest = len - first;
	if (rest <= NVME_PAGE) {
		*prp2 = next;
		return 0;
	}
	uint64_t pages = (rest + NVME_PAGE - 1) / NVME_PAGE;
	if (pages > NVME_PAGE / sizeof(uint64_t))
		return -1; /* would need a chained list: the caller splits instead */
	for (uint64_t k = 0; k < pages; k++)
		list[k] = next + k * NVME_PAGE;
	*prp2 = list_addr;
	return 0;
}

const char *nvme_status_str(unsigned sct, unsigned sc)
{
	if (sct == 0) {
		switch (sc) {
		case 0x00: return "success";
		case 0x01: return "invalid command opcode";
		case 0x02: return "invalid field in command";
		case 0x04: return "data transfer error";
		case 0x05: return "aborted: power loss notification";
		case 0x06: return "internal error";
		case 0x07: return "command abort requested";
		case 0x0B: return "invalid namespace or format";
		case 0x13: return "invalid PRP offset";
		case 0x80: return "LBA out of range";
		case 0x81: return "capacity exceeded";
		case 0x82: return "namespace not ready";
		}
		return "generic error";
	}
	if (sct == 1)
		return sc == 0x01 ? "invalid queue identifier" : sc == 0x02 ? "invalid queue size"
									: "command specific error";
	if (sct == 2) {
		switch (sc) {
		case 0x80: return "media error: write fault";
		case 0x81: return "media error: unrecovered read error";
		case 0x86: return "media error: access denied";
		case 0x87: return "media error: deallocated or unwritten block";
		}
		return "media or data integrity error";
	}
	if (sct == 3)
		return "path error";
	return "vendor specific error";
}
