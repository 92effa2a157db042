/* The L2 learning switch behind the virtio-net backend: one port per virtio-net device on
 * the same switch. Pure logic over frames a guest chose, so every frame is checked and the
 * table never grows. */
#ifndef MICA_VMM_SWITCH_H
#define MICA_VMM_SWITCH_H

#include <stddef.h>
#include <stdint.h>

#define SW_MAX_PORTS  16u
#define SW_TABLE_SIZE 256u
#define SW_ETH_ALEN   6u
#define SW_FRAME_MIN  14u   /* destination, source, EtherType */
#define SW_FRAME_MAX  1518u /* 1514 + one 802.1Q tag; no FCS reaches us */

struct sw_entry {
	uint64_t seen;             /* caller time the MAC last sent a frame */
	uint8_t mac[SW_ETH_ALEN];
	uint8_t port;
	uint8_t valid;
};

/* Counters for people (the management console). */
struct sw_stats {
	uint64_t frames;     /* handed to sw_input() on a valid port */
	uint64_t forwarded;  /* to the one port that owns the destination */
	uint64_t flooded;    /* broadcast, multicast or unknown destination */
	uint64_t hairpin;    /* destination lives on the port it came from: dropped */
	uint64_t runts;      /* shorter than SW_FRAME_MIN: dropped */
	uint64_t giants;     /* longer than SW_FRAME_MAX: dropped */
	uint64_t bad_source; /* multicast, broadcast or all-zero source: dropped */
	uint64_t learned;    /* new MACs */
	uint64_t moved;      /* MACs that showed up on another port */
	uint64_t evicted;    /* live entries replaced because the table was full */
};

/* One switch. Owned by the service CPU that runs the net backend; not locked. */
struct sw {
	uint64_t now;     /* caller time, from sw_set_time() */
	uint64_t max_age; /* an entry not refreshed for longer is forgotten; 0: never */
	uint32_t nports;
	struct sw_entry table[SW_TABLE_SIZE];
	struct sw_stats stats;
};

/* Empties the table. nports: 1..SW_MAX_PORTS. max_age in the caller's time unit. Returns
 * 0 or MICA_EINVAL with a sentence in err. */
int sw_init(struct sw *s, unsigned nports, uint64_t max_age, char *err, size_t errlen);

/* Sets the time that learning and aging use (any monotonic unit, the caller's choice). */
void sw_set_time(struct sw *s, uint64_t now);

/* A frame from in_port: learns its source there, and sets *out_ports_mask to where it
 * goes: the port that owns the destination, or every other port (flood) for broadcast,
 * multicast and unknown destinations, or 0 (drop) for bad frames and frames whose
 * destination lives on in_port. Bit in_port is never set. Returns 0, or MICA_EINVAL (mask
 * 0) for a port out of range or a missing frame. */
int sw_input(struct sw *s, unsigned in_port, const uint8_t *frame, size_t len,
	     uint32_t *out_ports_mask);

/* Forgets every MAC learned on port (its device was reset or removed). */
void sw_flush_port(struct sw *s, unsigned port);

/* The port a live entry gives for mac, or -1. */
int sw_lookup(const struct sw *s, const uint8_t mac[SW_ETH_ALEN]);

#endif
