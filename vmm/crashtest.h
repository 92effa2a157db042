/* A test build of the service that crashes on request (make vmm-crashtest builds
 * $(BUILD)/vmm/vmm-crashtest.elf with VMM_CRASHTEST defined): when a guest's virtio console
 * writes the line VMM_CRASHTEST_LINE, the service faults, so Mica's handling of a dead
 * service (and on_crash = restart) can be tested end to end (tests/e2e/virtio.py,
 * virtio-service-restart). The normal service has no such line to look for. */
#ifndef MICA_VMM_CRASHTEST_H
#define MICA_VMM_CRASHTEST_H

#include <stddef.h>
#include <stdint.h>

#define VMM_CRASHTEST_LINE "vmm-crashtest: crash the service now"

#ifdef VMM_CRASHTEST
void crashtest_check(const uint8_t *buf, size_t len);
#else
static inline void crashtest_check(const uint8_t *buf, size_t len)
{
	(void)buf;
	(void)len;
}
#endif

#endif
