/* victim: the neighbour of a partition with a DMA-capable device. It fills 64 KiB at
 * guest-physical VICTIM_OFFSET with a pattern, tells its host address range nothing (it
 * does not know it: Mica logs it), and checks the pattern every 50 ms, printing a line each
 * second while it holds. A change is a DMA that got through: FAILED. */
#include "lib/guest.h"

#define VICTIM_OFFSET 0x800000u
#define LEN 0x10000u

int main(unsigned vcpu)
{
	volatile uint8_t *m = (volatile uint8_t *)(uintptr_t)VICTIM_OFFSET;
	struct mica_self_info self;

	self_info(&self);
	if (self.mem_bytes < VICTIM_OFFSET + LEN) {
		printf("victim: FAILED: needs at least %u MiB of RAM\n", (VICTIM_OFFSET + LEN) >> 20);
		return 1;
	}
	for (unsigned i = 0; i < LEN; i++)
		m[i] = (uint8_t)(0xa5 ^ i);
	printf("victim: pattern at 0x%x-0x%x\n", VICTIM_OFFSET, VICTIM_OFFSET + LEN - 1);
	for (unsigned round = 1;; round++) {
		delay_ms(50);
		for (unsigned i = 0; i < LEN; i++)
			if (m[i] != (uint8_t)(0xa5 ^ i)) {
				printf("victim: FAILED: byte 0x%x of the pattern changed to 0x%x\n",
				       VICTIM_OFFSET + i, m[i]);
				return 1;
			}
		if (round % 20 == 0)
			printf("victim: memory intact (%u checks)\n", round);
	}
}
