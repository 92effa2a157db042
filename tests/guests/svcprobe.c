/* svcprobe: a hostile service partition. Configured with `service = yes` in place of Mica's
 * service program, it checks that the service role's calls refuse what a service may not
 * have: another partition's RAM when that partition has no virtio device, its own RAM, a
 * partition or disk that does not exist, rings and buffers outside its RAM; and that the
 * manager's calls (include/mica/manage.h) refuse every bad argument. Then it maps the
 * one partition it does serve, reads that partition's RAM through the window, and writes
 * just past the window's end, where Mica must stop it (docs/hypercalls.md, "The service
 * role"; tests/e2e/virtio.py, virtio-service-isolation).
 *
 * Expected config: partition 0 svcprobe (the service), partition 1 with `console = virtio`
 * (any test guest: they all start with lib/crt0.S at 1 MiB), partition 2 without devices. */
#include <stddef.h>
#include <string.h>
#include <mica/manage.h>
#include <mica/service.h>
#include "lib/guest.h"

#define SERVED 1   /* partition numbers in the expected config */
#define UNSERVED 2

#define PDPT_GPA 0x2000ull /* the ELF boot protocol's tables (kernel/loader/boot_elf.c) */

static uint64_t pds[16][512] __attribute__((aligned(4096)));
static uint8_t ring[sizeof(struct mica_svc_ring) + 16 * sizeof(struct mica_ioreq)]
	__attribute__((aligned(4096)));
static int failures;

static void expect(const char *what, long got, long want)
{
	if (got == want) {
		printf("svcprobe: %s: %ld (ok)\n", what, got);
	} else {
		printf("svcprobe: FAILED: %s: got %ld, expected %ld\n", what, got, want);
		failures++;
	}
}

/* Identity-maps [gpa, gpa + size) with 2 MiB pages (window addresses are below 512 GiB, so
 * under PML4 entry 0). */
static int map_window(uint64_t gpa, uint64_t size)
{
	volatile uint64_t *pdpt = (volatile uint64_t *)(uintptr_t)PDPT_GPA;
	static unsigned used;

	for (uint64_t a = gpa; a < gpa + size; a += 1ull << 30) {
		if (used == sizeof(pds) / sizeof(pds[0]))
			return -1;
		uint64_t *pd = pds[used++];
		for (unsigned i = 0; i < 512; i++)
			pd[i] = (a + ((uint64_t)i << 21)) | 0x83; /* P | W | PS */
		pdpt[a >> 30] = (uintptr_t)pd | 0x3;
	}
	uint64_t cr3;
	__asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
	return 0;
}

int main(unsigned vcpu)
{
	struct mica_svc_device dev;

	if (vcpu)
		for (;;)
			hcall(MICA_HC_HALT, 0, 0);

	/* The calls' own argument checks. */
	expect("SETUP with a ring outside RAM", hcall6(MICA_HC_SVC_SETUP, 1l << 40, sizeof(ring), 0x40, 0, 0),
	       MICA_EFAULT);
	expect("SETUP with a ring of 3 entries",
	       hcall6(MICA_HC_SVC_SETUP, (long)(uintptr_t)ring, sizeof(struct mica_svc_ring) + 3 * 64,
		      0x40, 0, 0), MICA_EINVAL);
	expect("SETUP with vector 7", hcall6(MICA_HC_SVC_SETUP, (long)(uintptr_t)ring, sizeof(ring), 7, 0, 0),
	       MICA_EINVAL);
	expect("SETUP done right", hcall6(MICA_HC_SVC_SETUP, (long)(uintptr_t)ring, sizeof(ring), 0x40, 0, 0), 0);
	expect("DEVICE 0", hcall6(MICA_HC_SVC_DEVICE, 0, (long)(uintptr_t)&dev, sizeof(dev), 0, 0),
	       sizeof(dev));
	expect("DEVICE 0 belongs to partition 1", dev.partition, SERVED);
	expect("DEVICE 0 into a 0.2 service's struct (without disk_name)",
	       hcall6(MICA_HC_SVC_DEVICE, 0, (long)(uintptr_t)&dev,
		      offsetof(struct mica_svc_device, disk_name), 0, 0),
	       offsetof(struct mica_svc_device, disk_name));
	expect("DEVICE 0 into a buffer too small for a 0.2 struct",
	       hcall6(MICA_HC_SVC_DEVICE, 0, (long)(uintptr_t)&dev,
		      offsetof(struct mica_svc_device, disk_name) - 1, 0, 0), MICA_EINVAL);
	expect("DEVICE 1 (there is one device)",
	       hcall6(MICA_HC_SVC_DEVICE, 1, (long)(uintptr_t)&dev, sizeof(dev), 0, 0), MICA_EINVAL);
	expect("DEVICE into a buffer outside RAM", hcall6(MICA_HC_SVC_DEVICE, 0, 1l << 40, sizeof(dev), 0, 0),
	       MICA_EFAULT);

	/* What a service may not map. */
	expect("MAP the RAM of a partition without devices",
	       hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, UNSERVED), MICA_EPERM);
	expect("MAP its own RAM", hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, 0), MICA_EPERM);
	expect("MAP partition 99", hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, 99), MICA_EINVAL);
	expect("MAP partition -1", hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, -1), MICA_EINVAL);
	expect("MAP disk 0 (there is none)", hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_DISK, 0), MICA_EINVAL);
	expect("MAP kind 7", hcall(MICA_HC_SVC_MAP, 7, 0), MICA_EINVAL);
	expect("CONSOLE for a partition without a virtio console",
	       hcall6(MICA_HC_SVC_CONSOLE, UNSERVED, (long)(uintptr_t)"x", 1, 0, 0), MICA_EPERM);
	expect("SIGNAL device 5", hcall(MICA_HC_SVC_SIGNAL, 5, 0), MICA_EINVAL);
	expect("needs-reset call (22) with a 4000-byte reason", hcall6(MICA_HC_SVC_FAIL, 0, (long)(uintptr_t)ring, 4000, 0, 0),
	       MICA_EINVAL);
	expect("DONE for a request never posted", hcall(MICA_HC_SVC_DONE, 12345, 0), MICA_EINVAL);

	/* The manager's calls (the service is the manager): every bad argument refused. */
	struct mica_mgmt_part part;
	const long far = 1l << 40, buf = (long)(uintptr_t)ring;
	expect("MGMT_HELLO", hcall(MICA_HC_MGMT_HELLO, 0, 0), MICA_MGMT_VERSION);
	expect("MGMT_PART of partition 1", hcall6(MICA_HC_MGMT_PART, SERVED,
						  (long)(uintptr_t)&part, sizeof(part), 0, 0),
	       (long)sizeof(part));
	expect("MGMT_PART past the last partition",
	       hcall6(MICA_HC_MGMT_PART, 3, (long)(uintptr_t)&part, sizeof(part), 0, 0), MICA_EINVAL);
	expect("MGMT_PART into a buffer outside RAM",
	       hcall6(MICA_HC_MGMT_PART, 0, far, sizeof(part), 0, 0), MICA_EFAULT);
	expect("MGMT_PART into 8 bytes", hcall6(MICA_HC_MGMT_PART, 0, buf, 8, 0, 0), MICA_EINVAL);
	expect("MGMT_CTL stop of itself", hcall(MICA_HC_MGMT_CTL, 0, MICA_MGMT_OP_STOP), MICA_EPERM);
	expect("MGMT_CTL op 99", hcall(MICA_HC_MGMT_CTL, UNSERVED, 99), MICA_EINVAL);
	expect("MGMT_CTL of partition 7", hcall(MICA_HC_MGMT_CTL, 7, MICA_MGMT_OP_STOP), MICA_EINVAL);
	expect("MGMT_CTL resume of a running partition",
	       hcall(MICA_HC_MGMT_CTL, UNSERVED, MICA_MGMT_OP_RESUME), MICA_MGMT_ESTATE);
	expect("MGMT_WRITE of 5000 bytes", hcall6(MICA_HC_MGMT_WRITE, buf, 5000, 0, 0, 0), MICA_EINVAL);
	expect("MGMT_WRITE from outside RAM", hcall6(MICA_HC_MGMT_WRITE, far, 1, 0, 0, 0), MICA_EFAULT);
	expect("MGMT_LOG of 5000 bytes", hcall6(MICA_HC_MGMT_LOG, SERVED, buf, 5000, 0, 0), MICA_EINVAL);
	expect("MGMT_LOG from beyond what was written",
	       hcall6(MICA_HC_MGMT_LOG, SERVED, buf, 16, 1l << 60, 0), MICA_EINVAL);
	expect("MGMT_LOG into a buffer outside RAM", hcall6(MICA_HC_MGMT_LOG, SERVED, far, 16, 0, 0),
	       MICA_EFAULT);
	expect("MGMT_ATTACH to itself", hcall(MICA_HC_MGMT_ATTACH, 0, 0), MICA_EPERM);
	expect("MGMT_ATTACH to partition 9", hcall(MICA_HC_MGMT_ATTACH, 9, 0), MICA_EINVAL);
	static char tag[40] = "probe";
	const long t = (long)(uintptr_t)tag;
	expect("MGMT_SNAPSHOT of itself", hcall6(MICA_HC_MGMT_SNAPSHOT, 0, t, 5, 0, 0), MICA_EPERM);
	expect("MGMT_SNAPSHOT of partition 9", hcall6(MICA_HC_MGMT_SNAPSHOT, 9, t, 5, 0, 0),
	       MICA_EINVAL);
	expect("MGMT_SNAPSHOT with an empty tag", hcall6(MICA_HC_MGMT_SNAPSHOT, SERVED, t, 0, 0, 0),
	       MICA_EINVAL);
	expect("MGMT_SNAPSHOT with a 32-byte tag", hcall6(MICA_HC_MGMT_SNAPSHOT, SERVED, t, 32, 0, 0),
	       MICA_EINVAL);
	expect("MGMT_SNAPSHOT with a tag outside RAM",
	       hcall6(MICA_HC_MGMT_SNAPSHOT, SERVED, far, 5, 0, 0), MICA_EFAULT);
	tag[2] = '/';
	expect("MGMT_SNAPSHOT with a '/' in the tag",
	       hcall6(MICA_HC_MGMT_SNAPSHOT, SERVED, t, 5, 0, 0), MICA_EINVAL);
	tag[2] = 'o';
	expect("MGMT_RESTORE of a snapshot never taken",
	       hcall6(MICA_HC_MGMT_RESTORE, SERVED, t, 5, 0, 0), MICA_MGMT_ENOENT);
	expect("MGMT_DROP of a snapshot never taken", hcall6(MICA_HC_MGMT_DROP, SERVED, t, 5, 0, 0),
	       MICA_MGMT_ENOENT);
	expect("MGMT_SNAPS slot 0 with none kept", hcall6(MICA_HC_MGMT_SNAPS, 0, buf, 256, 0, 0),
	       MICA_EINVAL);
	expect("MGMT_SNAPS into 8 bytes", hcall6(MICA_HC_MGMT_SNAPS, 0, buf, 8, 0, 0), MICA_EINVAL);
	expect("MGMT_CTL destroy of a running partition",
	       hcall(MICA_HC_MGMT_CTL, UNSERVED, MICA_MGMT_OP_DESTROY), MICA_MGMT_ESTATE);
	expect("MGMT_CTL destroy of itself", hcall(MICA_HC_MGMT_CTL, 0, MICA_MGMT_OP_DESTROY),
	       MICA_EPERM);
	expect("MGMT_CTL op 7", hcall(MICA_HC_MGMT_CTL, UNSERVED, 7), MICA_EINVAL);
	expect("MGMT_POOL into 8 bytes", hcall(MICA_HC_MGMT_POOL, buf, 8), MICA_EINVAL);
	expect("MGMT_POOL into a buffer outside RAM", hcall(MICA_HC_MGMT_POOL, far, 256),
	       MICA_EFAULT);
	expect("MGMT_POOL", hcall(MICA_HC_MGMT_POOL, buf, 256), (long)sizeof(struct mica_mgmt_pool));
	static struct mica_mgmt_clone cl = { .name = "probe-clone" };
	const long c = (long)(uintptr_t)&cl, cs = sizeof(cl);
	expect("MGMT_CLONE of itself", hcall6(MICA_HC_MGMT_CLONE, 0, c, cs, 0, 0), MICA_EPERM);
	expect("MGMT_CLONE of partition 9", hcall6(MICA_HC_MGMT_CLONE, 9, c, cs, 0, 0), MICA_EINVAL);
	expect("MGMT_CLONE from 8 bytes", hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, 8, 0, 0),
	       MICA_EINVAL);
	expect("MGMT_CLONE from outside RAM", hcall6(MICA_HC_MGMT_CLONE, UNSERVED, far, cs, 0, 0),
	       MICA_EFAULT);
	cl.cpus = 3ull << 2;
	expect("MGMT_CLONE of a 1-vCPU partition onto 2 CPUs",
	       hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, cs, 0, 0), MICA_EINVAL);
	cl.cpus = 1ull << 63;
	expect("MGMT_CLONE onto CPU 63 (not there)",
	       hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, cs, 0, 0), MICA_MGMT_EBUSY);
	cl.cpus = 0;
	memcpy(cl.name, "served", 7);
	expect("MGMT_CLONE with a name in use", hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, cs, 0, 0),
	       MICA_MGMT_EEXIST);
	memcpy(cl.name, "a/b", 4);
	expect("MGMT_CLONE with a '/' in the name",
	       hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, cs, 0, 0), MICA_EINVAL);
	memset(cl.name, 'a', sizeof(cl.name));
	expect("MGMT_CLONE with a name that does not end",
	       hcall6(MICA_HC_MGMT_CLONE, UNSERVED, c, cs, 0, 0), MICA_EINVAL);

	/* What it may: the served partition's RAM, exactly that much. */
	long win = hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, SERVED);
	expect("MAP the served partition's RAM", win, (long)MICA_SVC_RAM_WINDOW(SERVED));
	expect("MAP it again: the same window", hcall(MICA_HC_SVC_MAP, MICA_SVC_MAP_RAM, SERVED), win);
	if (win <= 0 || map_window((uint64_t)win, dev.ram_bytes)) {
		printf("svcprobe: FAILED: no window to look through\n");
		return 1;
	}
	/* Every test guest starts with the same entry code (lib/crt0.S) at 1 MiB. */
	const uint8_t *theirs = (const uint8_t *)(uintptr_t)(win + 0x100000);
	const uint8_t *ours = (const uint8_t *)(uintptr_t)0x100000;
	expect("the served partition's image is there (its entry code at 1 MiB is ours)",
	       !memcmp(theirs, ours, 11), 1); /* up to its first RIP-relative address */
	printf("svcprobe: %d failure(s) before the last step\n", failures);

	/* The window ends with the partition's RAM: one byte further is nobody's. */
	uint64_t past = (uint64_t)win + dev.ram_bytes;
	printf("svcprobe: writing guest-physical 0x%lx, just past the window\n", (unsigned long)past);
	*(volatile uint8_t *)(uintptr_t)past = 1;
	printf("svcprobe: FAILED: the write past the window was not stopped\n");
	return 1;
}
