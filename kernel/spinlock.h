/* Ticket spinlock. Held only for short sections; interrupts are masked while held so an
 * interrupt handler on the same CPU can never spin on a lock its CPU holds. */
#ifndef MICA_SPINLOCK_H
#define MICA_SPINLOCK_H

#include <stdint.h>

struct spinlock {
	volatile uint32_t next;
	volatile uint32_t owner;
};

#define SPINLOCK_INIT { 0, 0 }

static inline uint64_t spin_lock(struct spinlock *l)
{
	uint64_t flags;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
	uint32_t me = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != me)
		__asm__ volatile("pause");
	return flags;
}

static inline void spin_unlock(struct spinlock *l, uint64_t flags)
{
	__atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
	if (flags & (1u << 9))
		__asm__ volatile("sti" ::: "memory");
}

#endif
