/* L2 learning switch (IEEE 802.1D-style forwarding without spanning tree: the ports are
 * virtio-net devices, which cannot form loops among themselves). The table is a fixed
 * array scanned linearly: 256 entries are a few hundred compares per frame, and there is
 * no hash for a guest to aim collisions at. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <mica/hypercall.h>

#include "lib/errmsg.h"
#include "vmm/switch.h"

int sw_init(struct sw *s, unsigned nports, uint64_t max_age, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!s)
		return errmsg(MICA_EINVAL, err, errlen, "no switch");
	memset(s, 0, sizeof(*s));
	if (nports == 0 || nports > SW_MAX_PORTS)
		return errmsg(MICA_EINVAL, err, errlen, "%u ports, a switch has 1 to %u", nports,
			      SW_MAX_PORTS);
	s->nports = nports;
	s->max_age = max_age;
	return 0;
}

void sw_set_time(struct sw *s, uint64_t now)
{
	s->now = now;
}

/* An entry is live if it was refreshed within max_age. A clock that went backwards
 * counts as no time passed, rather than as an age of nearly 2^64. */
static int live(const struct sw *s, const struct sw_entry *e)
{
	if (!e->valid)
		return 0;
	if (s->max_age == 0 || s->now <= e->seen)
		return 1;
	return s->now - e->seen <= s->max_age;
}

static int is_group(const uint8_t *mac)
{
	return mac[0] & 1; /* I/G bit: multicast, broadcast included */
}

static int is_zero(const uint8_t *mac)
{
	static const uint8_t zero[SW_ETH_ALEN];
	return memcmp(mac, zero, SW_ETH_ALEN) == 0;
}

static struct sw_entry *find(const struct sw *s, const uint8_t *mac)
{
	for (unsigned i = 0; i < SW_TABLE_SIZE; i++) {
		const struct sw_entry *e = &s->table[i];
		if (live(s, e) && memcmp(e->mac, mac, SW_ETH_ALEN) == 0)
			return (struct sw_entry *)e;
	}
	return NULL;
}

int sw_lookup(const struct sw *s, const uint8_t mac[SW_ETH_ALEN])
{
	const struct sw_entry *e = find(s, mac);
	return e ? e->port : -1;
}

/* Learns mac on port: refreshes its entry (moving it if it changed port), else takes a
 * free or expired slot, else replaces the least recently seen entry. */
static void learn(struct sw *s, const uint8_t *mac, unsigned port)
{
	struct sw_entry *hit = NULL, *free_slot = NULL, *oldest = NULL;

	for (unsigned i = 0; i < SW_TABLE_SIZE; i++) {
		struct sw_entry *e = &s->table[i];
		if (!live(s, e)) {
			if (!free_slot)
				free_slot = e;
			continue;
		}
		if (memcmp(e->mac, mac, SW_ETH_ALEN) == 0) {
			hit = e;
			break;
		}
		if (!oldest || e->seen < oldest->seen)
			oldest = e;
	}
	if (hit) {
		if (hit->port != port) {
			hit->port = (uint8_t)port;
			s->stats.moved++;
		}
		hit->seen = s->now;
		return;
	}
	/* An expired entry for the same MAC may still sit elsewhere; it stays dead, since
	 * live() ignores it and it is reused like any free slot. */
	struct sw_entry *e = free_slot;
	if (!e) {
		e = oldest;
		s->stats.evicted++;
	}
	memcpy(e->mac, mac, SW_ETH_ALEN);
	e->port = (uint8_t)port;
	e->seen = s->now;
	e->valid = 1;
	s->stats.learned++;
}

int sw_input(struct sw *s, unsigned in_port, const uint8_t *frame, size_t len,
	     uint32_t *out_ports_mask)
{
	uint32_t out = 0;

	if (out_ports_mask)
		*out_ports_mask = 0;
	if (!s || !out_ports_mask || in_port >= s->nports || (!frame && len))
		return MICA_EINVAL;
	s->stats.frames++;
	if (len < SW_FRAME_MIN) {
		s->stats.runts++;
		return 0;
	}
	if (len > SW_FRAME_MAX) {
		s->stats.giants++;
		return 0;
	}
	const uint8_t *dst = frame, *src = frame + SW_ETH_ALEN;
	/* No station sends from a group or all-zero address; such a frame is forged, and
	 * learning it would steer other traffic to the sender. */
	if (is_group(src) || is_zero(src)) {
		s->stats.bad_source++;
		return 0;
	}
	learn(s, src, in_port);

	uint32_t others = ((1u << s->nports) - 1) & ~(1u << in_port);
	const struct sw_entry *e = is_group(dst) ? NULL : find(s, dst);
	if (!e) {
		out = others;
		s->stats.flooded++;
	} else if (e->port == in_port) {
		s->stats.hairpin++;
	} else {
		out = 1u << e->port;
		s->stats.forwarded++;
	}
	*out_ports_mask = out;
	return 0;
}

void sw_flush_port(struct sw *s, unsigned port)
{
	for (unsigned i = 0; i < SW_TABLE_SIZE; i++)
		if (s->table[i].valid && s->table[i].port == port)
			s->table[i].valid = 0;
}
