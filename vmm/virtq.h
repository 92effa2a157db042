/* Split virtqueues (virtio 1.x, section 2.7) seen from the device side. Pure logic: the
 * rings live in another partition's RAM, which the service reads through a window, and
 * every index, address and length the driver wrote is checked before it is used. */
#ifndef MICA_VMM_VIRTQ_H
#define MICA_VMM_VIRTQ_H

#include <stddef.h>
#include <stdint.h>

#define VQ_MAX_SIZE 32768u /* 2.7: split queue sizes are powers of two up to 32768 */
#define VQ_MAX_SEGS 64u    /* segments one chain may carry (devices advertise less) */

/* 2.7.5: struct virtq_desc flags */
#define VQ_DESC_F_NEXT     1u
#define VQ_DESC_F_WRITE    2u
#define VQ_DESC_F_INDIRECT 4u
/* 2.7.6 / 2.7.8: ring flags */
#define VQ_AVAIL_F_NO_INTERRUPT 1u
#define VQ_USED_F_NO_NOTIFY     1u

/* Guest RAM as the service sees it: guest-physical [0, size) is at host base. Base should
 * be at least 16-byte aligned so that ring indexes are read and written in one access. */
struct vq_mem {
	uint8_t *base;
	uint64_t size;
};

/* What the driver told the device about one queue (virtio-pci common config). */
struct vq_config {
	uint32_t size;      /* entries, power of two, 1..VQ_MAX_SIZE */
	uint64_t desc;      /* guest-physical, 16-byte aligned, 16 * size bytes */
	uint64_t avail;     /* 2-byte aligned, 6 + 2 * size bytes */
	uint64_t used;      /* 4-byte aligned, 6 + 8 * size bytes */
	int event_idx;      /* VIRTIO_F_EVENT_IDX was negotiated */
	uint64_t max_bytes; /* largest chain (readable + writable bytes) the device accepts */
};

/* One queue's device-side state. Owned by the one service CPU that serves the device. */
struct vq {
	uint64_t desc, avail, used;
	uint64_t max_bytes;
	uint64_t ring_end;       /* guest RAM must reach this far for the rings to be inside */
	uint32_t size;
	uint16_t last_avail_idx; /* next avail ring entry the device will take */
	uint16_t used_idx;       /* the device's copy of used->idx (the guest may scribble on it) */
	uint16_t signalled_used; /* used_idx at the last vq_needs_notify() */
	uint8_t signalled_valid;
	uint16_t told_idx;       /* used_idx at the last decision to interrupt (vq_look) */
	uint8_t event_idx;
	uint8_t broken;          /* vq_next() found garbage: refuse until vq_setup() again */
};

/* One buffer of a chain, already checked to lie inside guest RAM. */
struct vq_seg {
	uint8_t *ptr;  /* host address */
	uint64_t gpa;
	uint32_t len;  /* never 0 */
	uint8_t writable;
};

/* A descriptor chain: seg[0..nread) are readable (driver -> device), seg[nread..nsegs) are
 * writable (device -> driver). head is what vq_push() hands back. */
struct vq_chain {
	uint16_t head;
	uint16_t nsegs;
	uint16_t nread;
	uint64_t read_bytes;
	uint64_t write_bytes;
	struct vq_seg seg[VQ_MAX_SEGS];
};

/* Checks cfg against m (size a power of two, ring alignment, every ring inside guest RAM,
 * the used ring not overlapping the others, max_bytes not 0) and starts q at index 0.
 * Returns 0, or MICA_EINVAL with a sentence in err. */
int vq_setup(struct vq *q, const struct vq_mem *m, const struct vq_config *cfg, char *err,
	     size_t errlen);

/* Takes the next available chain and checks all of it. Returns 1 with the chain in c, 0
 * (c empty) if the driver has made nothing new available, or a negative MICA_E* code with a
 * sentence in err: the driver broke the rules, c is empty, and the queue stays
 * broken (every later call fails) until vq_setup(). With event_idx, an empty queue also
 * asks the driver to notify at the next entry (avail_event). */
int vq_next(struct vq *q, const struct vq_mem *m, struct vq_chain *c, char *err,
	    size_t errlen);

/* Puts back the chain the last vq_next() took (nothing pushed since): the next vq_next()
 * takes it again. For a backend that cannot carry a request out yet. */
void vq_unget(struct vq *q);

/* Returns chain head to the driver with written bytes written into its writable
 * segments: writes the used element, then the used index. 0, or MICA_EINVAL if head is
 * not a descriptor index, nothing is outstanding, or m no longer holds the rings. */
int vq_push(struct vq *q, const struct vq_mem *m, uint16_t head, uint32_t written);
/* The same for n chains at once: the driver sees all n used elements with one index
 * update, never some of them (a net frame over several MRG_RXBUF buffers). */
int vq_push_many(struct vq *q, const struct vq_mem *m, const uint16_t *head,
		 const uint32_t *written, unsigned n);

/* A queue set up again after its partition was restored from a snapshot: the device takes
 * up where the used ring's index stands (every chain made available after it is taken
 * again: the service answers each chain before it takes the next, so nothing it had
 * taken was unanswered). 0, or MICA_EINVAL when the queue is not set up. */
int vq_resume(struct vq *q, const struct vq_mem *m);

/* After one or more vq_push(): 1 if the driver wants an interrupt now (used_event with
 * event_idx, else the avail NO_INTERRUPT flag), 0 if not, MICA_EINVAL if m no longer holds
 * the rings. */
int vq_needs_notify(struct vq *q, const struct vq_mem *m);

/* What a queue shows without anything taken or pushed: the service's once-a-second watch
 * (vmm/serve.c) compares two looks to find a queue left waiting. */
struct vq_look {
	uint16_t pending;    /* available entries not yet taken */
	uint16_t last_avail; /* the device's next entry */
	uint16_t used_idx;   /* the device's used index */
	uint16_t used_event; /* event_idx: the entry the driver asked to hear about */
	uint8_t unheard;     /* event_idx: that entry was pushed, and no decision to
			      * interrupt was made since (a driver that asked too late) */
};

/* Fills l. 0, or MICA_EINVAL when the queue is broken or m no longer holds the rings. A
 * pending count larger than the queue (a driver's garbage) is left for vq_next to refuse. */
int vq_look(const struct vq *q, const struct vq_mem *m, struct vq_look *l);

#endif
