/* The management console's core side (docs/management.md). The manager, which is the
 * service partition, reads the keys typed at the console and parses the commands; the
 * core answers its hypercalls, checking each as it would any guest's, and carries out
 * the lifecycle changes (kernel/lifecycle.c). */
#include <stdio.h>
#include <string.h>
#include <mica/manage.h>
#include <mica/service.h>
#include "arch/x86/cpu.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/manage.h"
#include "kernel/mem.h"
#include "kernel/partition.h"
#include "kernel/percpu.h"
#include "kernel/ram.h"
#include "kernel/snapshot.h"
#include "kernel/vcpu.h"
#include "kernel/virtio/service.h"

_Static_assert((int)EXIT_REASONS == (int)MICA_MGMT_EXITS, "exit reasons and the ABI's counts");
_Static_assert((int)EXIT_STAGE2_FAULT == (int)MICA_MGMT_EXIT_STAGE2_FAULT &&
	       (int)EXIT_UNHANDLED == (int)MICA_MGMT_EXIT_UNHANDLED, "the same order");

static uint32_t state_of(const struct partition *p)
{
	switch (p->state) {
	case PART_RUNNING: return MICA_MGMT_RUNNING;
	case PART_STOPPED: return MICA_MGMT_STOPPED;
	case PART_PAUSED: return MICA_MGMT_PAUSED;
	case PART_DESTROYED: return MICA_MGMT_DESTROYED;
	default: return MICA_MGMT_CHANGING;
	}
}

static uint64_t ms(uint64_t ticks)
{
	uint64_t khz = arch_tsc_hz() / 1000;
	return khz ? ticks / khz : 0;
}

static int64_t part_info(struct vcpu *v, uint64_t index, uint64_t gpa, uint64_t size)
{
	struct mica_mgmt_part m;

	if (index >= npartitions || size < sizeof(m))
		return MICA_EINVAL;
	void *dst = partition_guest_ptr(v->part, gpa, sizeof(m));
	if (!dst)
		return MICA_EFAULT;
	const struct partition *p = &partitions[index];
	const struct cfg_partition *c = p->cfg;
	uint64_t now = rdtsc(), started = p->started_tsc;
	memset(&m, 0, sizeof(m));
	m.id = (uint32_t)index;
	m.state = state_of(p);
	m.cpus = c->cpus;
	m.ram_bytes = p->ram_size;
	m.uptime_ms = started && now > started ? ms(now - started) : 0;
	m.now_ms = ms(now);
	m.restarts = p->restarts;
	m.vcpus = p->nvcpus;
	m.flags = (c->service ? MICA_MGMT_F_SERVICE : 0) | (p->platform ? MICA_MGMT_F_LINUX : 0) |
		  (p->ram_lazy ? MICA_MGMT_F_LAZY_RAM : 0) |
		  (c->virtio_console ? MICA_MGMT_F_VCONSOLE : 0) | ((c->disk[0] || c->disk_nvme[0]) ? MICA_MGMT_F_DISK : 0) |
		  (c->net[0] ? MICA_MGMT_F_NET : 0) | (c->npci ? MICA_MGMT_F_PCI : 0) |
		  (c->disk_nvme[0] ? MICA_MGMT_F_NVME : 0);
	m.log_bytes = __atomic_load_n(&p->log_total, __ATOMIC_RELAXED);
	m.log_size = p->log_size;
	m.shared_bytes = p->ram_lazy && p->state != PART_DESTROYED ? ram_shared_bytes(p) : 0;
	if (p->origin) {
		m.flags |= MICA_MGMT_F_CLONE;
		m.origin = p->origin - 1;
	}
	for (unsigned k = 0; k < p->nvcpus; k++)
		for (unsigned r = 0; r < EXIT_REASONS; r++)
			m.exits[r] += __atomic_load_n(&p->vcpus[k].exits[r], __ATOMIC_RELAXED);
	snprintf(m.name, sizeof(m.name), "%s", p->name);
	snprintf(m.image, sizeof(m.image), "%s", c->image);
	memcpy(dst, &m, sizeof(m));
	return sizeof(m);
}

static int64_t ctl(struct vcpu *v, uint64_t index, uint64_t op)
{
	if (index >= npartitions || op < MICA_MGMT_OP_STOP || op > MICA_MGMT_OP_DESTROY)
		return MICA_EINVAL;
	struct partition *p = &partitions[index];
	if (p == v->part)
		return MICA_EPERM; /* the manager runs the console: it cannot act on itself */
	if (op == MICA_MGMT_OP_DESTROY)
		return partition_destroy(p);
	return partition_manage(p, (unsigned)op);
}

static int64_t pool_info(struct vcpu *v, uint64_t gpa, uint64_t size)
{
	struct mica_mgmt_pool m;

	if (size < sizeof(m))
		return MICA_EINVAL;
	void *dst = partition_guest_ptr(v->part, gpa, sizeof(m));
	if (!dst)
		return MICA_EFAULT;
	memset(&m, 0, sizeof(m));
	m.free_bytes = mem_free_bytes();
	for (unsigned c = 0; c < ncpus && c < 64; c++)
		m.cpus |= 1ULL << c;
	m.free_cpus = m.cpus;
	for (unsigned i = 0; i < npartitions; i++)
		if (__atomic_load_n(&partitions[i].state, __ATOMIC_ACQUIRE) != PART_DESTROYED)
			m.free_cpus &= ~partitions[i].cfg->cpus;
	memcpy(dst, &m, sizeof(m));
	return sizeof(m);
}

static int64_t log_read(struct vcpu *v, uint64_t index, uint64_t gpa, uint64_t len,
			uint64_t from)
{
	if (index >= npartitions || len > MICA_CONSOLE_MAX)
		return MICA_EINVAL;
	char *buf = partition_guest_ptr(v->part, gpa, len);
	if (!buf)
		return MICA_EFAULT;
	return console_log_read(&partitions[index], from, buf, len);
}

static int64_t attach(struct vcpu *v, uint64_t index)
{
	if (index >= npartitions)
		return MICA_EINVAL;
	if (&partitions[index] == v->part)
		return MICA_EPERM;
	console_attach(&partitions[index]);
	return 0;
}

static int64_t write_out(struct vcpu *v, uint64_t gpa, uint64_t len)
{
	if (len > MICA_CONSOLE_MAX)
		return MICA_EINVAL;
	const char *buf = partition_guest_ptr(v->part, gpa, len);
	if (!buf)
		return MICA_EFAULT;
	log_write(buf, len);
	return (int64_t)len;
}

/* A snapshot's tag from the manager's memory: 1 .. MICA_SNAP_TAG_MAX - 1 bytes of
 * [A-Za-z0-9._-]. 0, or MICA_EINVAL / MICA_EFAULT. */
static int read_tag(struct vcpu *v, uint64_t gpa, uint64_t len, char *tag)
{
	if (!len || len >= MICA_SNAP_TAG_MAX)
		return MICA_EINVAL;
	const char *src = partition_guest_ptr(v->part, gpa, len);
	if (!src)
		return MICA_EFAULT;
	memcpy(tag, src, len); /* once: the manager may change its copy meanwhile */
	tag[len] = '\0';
	for (uint64_t i = 0; i < len; i++) {
		char c = tag[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return MICA_EINVAL;
	}
	return 0;
}

static int64_t snap_call(struct vcpu *v, uint64_t nr, uint64_t index, uint64_t gpa,
			 uint64_t len)
{
	char tag[MICA_SNAP_TAG_MAX];

	if (index >= npartitions)
		return MICA_EINVAL;
	struct partition *p = &partitions[index];
	if (p == v->part)
		return MICA_EPERM;
	int rc = read_tag(v, gpa, len, tag);
	if (rc)
		return rc;
	if (nr == MICA_HC_MGMT_SNAPSHOT)
		return snapshot_take(p, tag);
	if (nr == MICA_HC_MGMT_RESTORE)
		return snapshot_restore(p, tag);
	return snapshot_drop(p, tag);
}

static int64_t clone(struct vcpu *v, uint64_t index, uint64_t gpa, uint64_t size)
{
	struct mica_mgmt_clone c;

	if (index >= npartitions || size < sizeof(c))
		return MICA_EINVAL;
	struct partition *p = &partitions[index];
	if (p == v->part)
		return MICA_EPERM;
	const void *src = partition_guest_ptr(v->part, gpa, sizeof(c));
	if (!src)
		return MICA_EFAULT;
	memcpy(&c, src, sizeof(c)); /* once: the manager may change its copy meanwhile */
	size_t n = 0;
	while (n < sizeof(c.name) && c.name[n])
		n++;
	if (n == sizeof(c.name))
		return MICA_EINVAL; /* not NUL-terminated */
	return partition_clone(p, c.name, c.cpus);
}

static int64_t snap_info(struct vcpu *v, uint64_t slot, uint64_t gpa, uint64_t size)
{
	struct mica_mgmt_snap m;

	if (size < sizeof(m) || slot >= MICA_SNAP_MAX)
		return MICA_EINVAL;
	void *dst = partition_guest_ptr(v->part, gpa, sizeof(m));
	if (!dst)
		return MICA_EFAULT;
	if (snapshot_info((unsigned)slot, &m))
		return MICA_EINVAL;
	memcpy(dst, &m, sizeof(m));
	return sizeof(m);
}

int manage_hypercall(struct vcpu *v, uint64_t nr, int64_t *ret)
{
	const uint64_t *r = v->regs.gpr;
	uint64_t a0 = r[REG_RDI], a1 = r[REG_RSI], a2 = r[REG_RDX], a3 = r[REG_R10];

	if (nr < MICA_HC_MGMT_HELLO || nr > MICA_HC_MGMT_LAST)
		return 0;
	if (!service_part || v->part != service_part) {
		*ret = MICA_EPERM;
		return 1;
	}
	switch (nr) {
	case MICA_HC_MGMT_HELLO: *ret = MICA_MGMT_VERSION; break;
	case MICA_HC_MGMT_PART: *ret = part_info(v, a0, a1, a2); break;
	case MICA_HC_MGMT_CTL: *ret = ctl(v, a0, a1); break;
	case MICA_HC_MGMT_WRITE: *ret = write_out(v, a0, a1); break;
	case MICA_HC_MGMT_LOG: *ret = log_read(v, a0, a1, a2, a3); break;
	case MICA_HC_MGMT_ATTACH: *ret = attach(v, a0); break;
	case MICA_HC_MGMT_SNAPSHOT:
	case MICA_HC_MGMT_RESTORE:
	case MICA_HC_MGMT_DROP: *ret = snap_call(v, nr, a0, a1, a2); break;
	case MICA_HC_MGMT_SNAPS: *ret = snap_info(v, a0, a1, a2); break;
	case MICA_HC_MGMT_POOL: *ret = pool_info(v, a0, a1); break;
	case MICA_HC_MGMT_CLONE: *ret = clone(v, a0, a1, a2); break;
	default: console_manage_leave(); *ret = 0; break;
	}
	return 1;
}

static int post(const char *s, size_t n)
{
	struct mica_ioreq rq;

	memset(&rq, 0, sizeof(rq));
	rq.type = MICA_IOREQ_MANAGE;
	rq.len = (uint32_t)n;
	memcpy(rq.data, s, n);
	return service_post(&rq) ? -1 : 0;
}

int manage_enter(void)
{
	return service_ready() ? post("", 0) : -1;
}

int manage_input(const char *s, size_t n)
{
	while (n) {
		size_t k = n < sizeof(((struct mica_ioreq *)0)->data) ? n : sizeof(((struct mica_ioreq *)0)->data);
		if (post(s, k))
			return -1;
		s += k;
		n -= k;
	}
	return 0;
}
