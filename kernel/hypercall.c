/* Every argument comes from the guest: numbers are range-checked, pointers are
 * guest-physical and must lie wholly inside the caller's RAM. */
#include <string.h>
#include <mica/hypercall.h>
#include "arch/x86/cpu.h"
#include "kernel/console.h"
#include "kernel/hypercall.h"
#include "kernel/manage.h"
#include "kernel/partition.h"
#include "kernel/vcpu.h"
#include "kernel/virtio/service.h"

static int64_t hc_console_write(struct partition *p, uint64_t gpa, uint64_t len)
{
	if (len > MICA_CONSOLE_MAX)
		return MICA_EINVAL;
	const char *buf = partition_guest_ptr(p, gpa, len);
	if (!buf)
		return MICA_EFAULT;
	console_put(p, buf, len);
	return (int64_t)len;
}

static int64_t hc_self_info(struct vcpu *v, uint64_t gpa, uint64_t size)
{
	struct partition *p = v->part;
	struct mica_self_info info;

	if (size < sizeof(info))
		return MICA_EINVAL;
	void *dst = partition_guest_ptr(p, gpa, sizeof(info));
	if (!dst)
		return MICA_EFAULT;
	memset(&info, 0, sizeof(info));
	info.abi_version = MICA_ABI_VERSION;
	info.partition_id = p->id;
	info.vcpu_id = v->id;
	info.vcpu_count = p->nvcpus;
	info.mem_bytes = p->ram_size;
	info.restarts = p->restarts;
	info.vm_generation = __atomic_load_n(&p->vm_generation, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < MICA_NAME_MAX - 1 && p->name[i]; i++)
		info.name[i] = p->name[i];
	memcpy(dst, &info, sizeof(info));
	return sizeof(info);
}

static void hc_halt(struct vcpu *v)
{
	irq_disable();
	while (v->part->state == PART_RUNNING && v->generation == v->part->generation)
		cpu_idle();
	irq_enable();
}

void hypercall(struct vcpu *v)
{
	struct partition *p = v->part;
	uint64_t *r = v->regs.gpr;
	uint64_t nr = r[REG_RAX], a0 = r[REG_RDI], a1 = r[REG_RSI];
	int64_t ret;

	switch (nr) {
	case MICA_HC_VERSION:
		ret = MICA_ABI_VERSION;
		break;
	case MICA_HC_CONSOLE_WRITE:
		ret = hc_console_write(p, a0, a1);
		break;
	case MICA_HC_SELF_INFO:
		ret = hc_self_info(v, a0, a1);
		break;
	case MICA_HC_YIELD:
		ret = 0;
		break;
	case MICA_HC_HALT:
		r[REG_RAX] = 0;
		hc_halt(v);
		return;
	case MICA_HC_SHUTDOWN:
		if (a0 == MICA_SHUTDOWN_POWEROFF) {
			partition_end(v, 0, "powered off (code %ld)", (int64_t)a1);
			return;
		}
		if (a0 == MICA_SHUTDOWN_REBOOT) {
			partition_end(v, 1, "reboot requested by the guest (code %ld)", (int64_t)a1);
			return;
		}
		ret = MICA_EINVAL;
		break;
	default:
		if (!service_hypercall(v, nr, &ret) && !manage_hypercall(v, nr, &ret))
			ret = MICA_ENOSYS;
		break;
	}
	r[REG_RAX] = (uint64_t)ret;
}
