/* chaos: the service partition's crashes for `make soak` (tests/e2e/soak.py). Drives its
 * virtio console as vrestart does (lib/vdrv.c), and at random moments, 60 to 120 s apart,
 * sends the crash-test service's trigger line (vmm/crashtest.h): the service faults, Mica
 * restarts it (on_crash = restart), the device says NEEDS_RESET, and a fresh
 * initialisation must bring it back. Each round is one line; it never powers off. */
#include "lib/guest.h"
#include "lib/vdrv.h"

#define SERVICE_BACK_MS 30000

static uint64_t rng;

static unsigned below(unsigned n)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
	return (unsigned)(rng % n);
}

int main(unsigned vcpu)
{
	struct vdrv dev = { .name = "chaos" };
	struct vdrv *d = &dev;
	uint8_t s;

	rng = rdtsc() | 1;
	if (vdrv_start(d, VDRV_ATTACH_MS) || !vdrv_send(d, "chaos: hello through virtio\n",
							 "the hello line"))
		return 1;
	for (unsigned n = 1;; n++) {
		delay_ms(60000 + 1000 * below(61));
		printf("chaos: crash %u of the service partition, on purpose\n", n);
		vdrv_put(d, "vmm-crashtest: crash the service now\n"); /* no answer: it dies */
		if (!vdrv_wait_status(d, S_NEEDS_RESET, S_NEEDS_RESET, SERVICE_BACK_MS, &s)) {
			printf("chaos: FAILED: status 0x%02x, no NEEDS_RESET after the crash\n", s);
			return 1;
		}
		if (vdrv_init(d, SERVICE_BACK_MS) ||
		    !vdrv_send(d, "chaos: served again after the service restarted\n", "the line"))
			return 1;
	}
}
