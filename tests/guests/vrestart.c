/* vrestart: a virtio console driver that outlives its service (docs/guests.md). It starts
 * its console as vhostile does (lib/vdrv.c) and sends the same hello line; then it makes
 * the crash-test service (vmm/crashtest.h) fault with a trigger line. The device must then
 * say DEVICE_NEEDS_RESET; once the service has been restarted (on_crash = restart) and has
 * attached the device again, a fresh initialisation must work and a line must come back
 * used. Power-off code 0 if all of that happened.
 *
 * The lines up to the hello start with "vhostile:" as vhostile's do: this guest began as a
 * mode of vhostile, and tests/e2e/virtio.py (virtio-service-restart) waits for
 * "vhostile: hello through virtio". */
#include "lib/guest.h"
#include "lib/vdrv.h"

#define SERVICE_BACK_MS 20000 /* the service's restart: reload and attach */

int main(unsigned vcpu)
{
	struct vdrv dev = { .name = "vhostile" };
	struct vdrv *d = &dev;
	uint8_t s;

	if (vcpu != 0)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	if (vdrv_start(d, VDRV_ATTACH_MS) ||
	    !vdrv_send(d, "vhostile: hello through virtio\n", "the hello line"))
		return 1;

	vdrv_put(d, "vmm-crashtest: crash the service now\n"); /* no answer: the service dies */
	if (!vdrv_wait_status(d, S_NEEDS_RESET, S_NEEDS_RESET, SERVICE_BACK_MS, &s)) {
		printf("vrestart: FAILED: status 0x%02x, no NEEDS_RESET after the service's crash\n",
		       s);
		return 1;
	}
	printf("vrestart: the service is gone: device needs reset (ok)\n");
	if (vdrv_init(d, SERVICE_BACK_MS)) {
		printf("vrestart: FAILED: the device did not come back with the service\n");
		return 1;
	}
	if (!vdrv_send(d, "vrestart: served again after the service restarted\n", "the line after"))
		return 1;
	printf("vrestart: done\n");
	return 0;
}
