/* vmm/switch.c: frames from made-up stations on a few ports; checks learning, flooding,
 * moves, aging, a full table, hostile frames, and that no port ever gets its own frame
 * back (also under random traffic). */
#include <criterion/criterion.h>
#include <string.h>

#include <mica/hypercall.h>

#include "vmm/switch.h"

static struct sw s;
static uint8_t frame[SW_FRAME_MAX + 16];
static char err[128];

static void init(void)
{
	cr_assert_eq(sw_init(&s, 4, 300, err, sizeof(err)), 0, "%s", err);
}

TestSuite(sw, .init = init);

/* Station n's unicast MAC: 52:54:00:00:hi:lo. */
static void station(uint8_t *mac, unsigned n)
{
	const uint8_t m[6] = { 0x52, 0x54, 0x00, 0x00, (uint8_t)(n >> 8), (uint8_t)n };
	memcpy(mac, m, 6);
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

static uint32_t send_raw(unsigned port, const uint8_t *dst, const uint8_t *src, size_t len)
{
	uint32_t mask = 0xdeadbeef;
	memset(frame, 0xab, sizeof(frame));
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = 0x08;
	frame[13] = 0x00;
	cr_assert_eq(sw_input(&s, port, frame, len, &mask), 0);
	cr_assert_eq(mask & (1u << port), 0, "frame from port %u sent back to it", port);
	return mask;
}

/* A 60-byte frame from station a on port to station b. */
static uint32_t send(unsigned port, unsigned a, unsigned b)
{
	uint8_t src[6], dst[6];
	station(src, a);
	station(dst, b);
	return send_raw(port, dst, src, 60);
}

static int where(unsigned n)
{
	uint8_t mac[6];
	station(mac, n);
	return sw_lookup(&s, mac);
}

Test(sw, init_checks_ports)
{
	cr_expect_eq(sw_init(&s, 0, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "0 ports, a switch has 1 to 16");
	cr_expect_eq(sw_init(&s, 17, 0, err, sizeof(err)), MICA_EINVAL);
	cr_expect_str_eq(err, "17 ports, a switch has 1 to 16");
	cr_expect_eq(sw_init(&s, 16, 0, NULL, 0), 0);
	cr_expect_eq(sw_init(NULL, 4, 0, err, sizeof(err)), MICA_EINVAL);
}

Test(sw, unknown_unicast_floods_then_learns)
{
	cr_expect_eq(send(0, 1, 2), 0xe, "unknown destination: every other port");
	cr_expect_eq(where(1), 0);
	cr_expect_eq(send(2, 2, 1), 1u << 0, "reply goes straight to the learned port");
	cr_expect_eq(where(2), 2);
	cr_expect_eq(send(0, 1, 2), 1u << 2);
	cr_expect_eq(s.stats.learned, 2);
	cr_expect_eq(s.stats.flooded, 1);
	cr_expect_eq(s.stats.forwarded, 2);
}

Test(sw, broadcast_and_multicast_flood)
{
	uint8_t src[6];
	station(src, 1);
	cr_expect_eq(send_raw(1, bcast, src, 60), 0xd);
	cr_expect_eq(send_raw(3, mcast, src, 60), 0x7, "(and station 1 moved to port 3)");
	/* Even a "learned" group address is never looked up. */
	cr_expect_eq(sw_lookup(&s, bcast), -1);
	cr_expect_eq(s.stats.flooded, 2);
}

Test(sw, one_port_switch_floods_nowhere)
{
	cr_assert_eq(sw_init(&s, 1, 0, NULL, 0), 0);
	cr_expect_eq(send(0, 1, 2), 0);
	cr_expect_eq(send_raw(0, bcast, (uint8_t[6]){ 2, 0, 0, 0, 0, 1 }, 60), 0);
}

Test(sw, sixteen_ports)
{
	cr_assert_eq(sw_init(&s, 16, 0, NULL, 0), 0);
	cr_expect_eq(send(15, 1, 2), 0x7fff);
	cr_expect_eq(send(0, 2, 1), 1u << 15);
	cr_expect_eq(send(7, 3, 99), 0xff7f);
}

Test(sw, destination_on_same_port_is_dropped)
{
	send(1, 1, 9);
	send(1, 2, 9); /* stations 1 and 2 both behind port 1 */
	cr_expect_eq(send(1, 1, 2), 0);
	cr_expect_eq(s.stats.hairpin, 1);
	/* A station talking to itself: learned on in_port first, so dropped too. */
	cr_expect_eq(send(3, 5, 5), 0);
	cr_expect_eq(s.stats.hairpin, 2);
}

Test(sw, station_moves)
{
	send(0, 1, 9);
	send(2, 2, 9);
	cr_expect_eq(send(2, 2, 1), 1u << 0);
	send(3, 1, 9); /* station 1 now behind port 3 */
	cr_expect_eq(where(1), 3);
	cr_expect_eq(s.stats.moved, 1);
	cr_expect_eq(send(2, 2, 1), 1u << 3);
	cr_expect_eq(s.stats.learned, 2, "a move is not a new entry");
}

Test(sw, aging)
{
	sw_set_time(&s, 1000);
	send(0, 1, 9);
	sw_set_time(&s, 1300); /* exactly max_age: still live */
	cr_expect_eq(send(1, 2, 1), 1u << 0);
	sw_set_time(&s, 1301);
	cr_expect_eq(where(1), -1);
	cr_expect_eq(send(1, 2, 1), 0xd, "aged out: flood again");
	/* Station 2 was refreshed by each frame it sent. */
	cr_expect_eq(where(2), 1);
	sw_set_time(&s, 1500);
	cr_expect_eq(where(2), 1);
	sw_set_time(&s, 1602);
	cr_expect_eq(where(2), -1);
	/* Relearned into a slot, not duplicated. */
	send(2, 1, 9);
	cr_expect_eq(where(1), 2);
}

Test(sw, refresh_keeps_an_entry_alive)
{
	for (uint64_t t = 0; t < 10000; t += 100) {
		sw_set_time(&s, t);
		send(0, 1, 9);
		cr_assert_eq(where(1), 0);
	}
}

Test(sw, clock_going_backwards_does_not_expire)
{
	sw_set_time(&s, 5000);
	send(0, 1, 9);
	sw_set_time(&s, 10);
	cr_expect_eq(where(1), 0);
}

Test(sw, no_aging_when_max_age_is_zero)
{
	cr_assert_eq(sw_init(&s, 4, 0, NULL, 0), 0);
	send(0, 1, 9);
	sw_set_time(&s, UINT64_MAX);
	cr_expect_eq(where(1), 0);
}

Test(sw, full_table_replaces_least_recently_seen)
{
	cr_assert_eq(sw_init(&s, 4, 0, NULL, 0), 0);
	for (unsigned n = 0; n < SW_TABLE_SIZE; n++) {
		sw_set_time(&s, 100 + n);
		send(n % 4, n, 0xffff);
	}
	for (unsigned n = 0; n < SW_TABLE_SIZE; n++)
		cr_assert_eq(where(n), (int)(n % 4));
	cr_expect_eq(s.stats.evicted, 0);
	/* Refresh station 0, so station 1 is now the least recently seen. */
	sw_set_time(&s, 1000);
	send(0, 0, 0xffff);
	sw_set_time(&s, 1001);
	send(3, 1000, 0xffff);
	cr_expect_eq(s.stats.evicted, 1);
	cr_expect_eq(where(1000), 3);
	cr_expect_eq(where(1), -1, "least recently seen went");
	cr_expect_eq(where(0), 0);
	cr_expect_eq(where(2), 2);
	/* A flood of new sources: the table stays full and every new one is findable. */
	for (unsigned n = 2000; n < 3000; n++) {
		sw_set_time(&s, n);
		send(n % 4, n, 0xffff);
		cr_assert_eq(where(n), (int)(n % 4));
	}
	unsigned live = 0;
	for (unsigned i = 0; i < SW_TABLE_SIZE; i++)
		live += s.table[i].valid;
	cr_expect_eq(live, SW_TABLE_SIZE);
	cr_expect_eq(where(2999 - SW_TABLE_SIZE + 1), (int)((2999 - SW_TABLE_SIZE + 1) % 4));
	cr_expect_eq(where(2999 - SW_TABLE_SIZE), -1);
}

Test(sw, expired_slots_reused_before_eviction)
{
	for (unsigned n = 0; n < SW_TABLE_SIZE; n++)
		send(0, n, 0xffff); /* all at time 0 */
	sw_set_time(&s, 200);
	send(1, 500, 0xffff); /* table full of live entries: evicts one */
	cr_expect_eq(s.stats.evicted, 1);
	sw_set_time(&s, 301); /* everything from time 0 has expired */
	send(1, 501, 0xffff);
	send(1, 502, 0xffff);
	cr_expect_eq(s.stats.evicted, 1);
	cr_expect_eq(where(500), 1);
	cr_expect_eq(where(501), 1);
}

Test(sw, flush_port)
{
	send(0, 1, 9);
	send(1, 2, 9);
	sw_flush_port(&s, 0);
	cr_expect_eq(where(1), -1);
	cr_expect_eq(where(2), 1);
	cr_expect_eq(send(1, 2, 1), 0xd);
}

Test(sw, hostile_frames)
{
	uint8_t a[6], b[6];
	station(a, 1);
	station(b, 2);
	send(0, 2, 9);

	/* Runts and giants: dropped, counted, nothing learned. */
	cr_expect_eq(send_raw(1, b, a, 13), 0);
	cr_expect_eq(send_raw(1, b, a, 0), 0);
	cr_expect_eq(s.stats.runts, 2);
	cr_expect_eq(send_raw(1, b, a, SW_FRAME_MAX + 1), 0);
	cr_expect_eq(s.stats.giants, 1);
	cr_expect_eq(where(1), -1);
	/* The limits themselves are fine. */
	cr_expect_eq(send_raw(1, b, a, SW_FRAME_MIN), 1u << 0);
	cr_expect_eq(send_raw(1, b, a, SW_FRAME_MAX), 1u << 0);

	/* Group or zero sources: dropped, not learned, nothing steered. */
	cr_expect_eq(send_raw(2, b, bcast, 60), 0);
	cr_expect_eq(send_raw(2, b, mcast, 60), 0);
	cr_expect_eq(send_raw(2, b, (uint8_t[6]){ 0 }, 60), 0);
	cr_expect_eq(s.stats.bad_source, 3);
	cr_expect_eq(sw_lookup(&s, bcast), -1);
	cr_expect_eq(sw_lookup(&s, mcast), -1);
	cr_expect_eq(sw_lookup(&s, (uint8_t[6]){ 0 }), -1);

	/* Bad arguments. */
	uint32_t mask = 7;
	cr_expect_eq(sw_input(&s, 4, frame, 60, &mask), MICA_EINVAL);
	cr_expect_eq(mask, 0);
	cr_expect_eq(sw_input(&s, UINT32_MAX, frame, 60, &mask), MICA_EINVAL);
	cr_expect_eq(sw_input(&s, 0, NULL, 60, &mask), MICA_EINVAL);
	cr_expect_eq(sw_input(&s, 0, frame, 60, NULL), MICA_EINVAL);
	cr_expect_eq(sw_input(&s, 0, NULL, 0, &mask), 0);
	cr_expect_eq(mask, 0);
}

Test(sw, spoofed_source_only_moves_that_mac)
{
	/* A guest on port 3 claiming station 1's MAC steals only station 1's traffic:
	 * the normal cost of a learning switch, and no frame goes back to its sender. */
	send(0, 1, 9);
	send(1, 2, 9);
	send(3, 1, 9);
	cr_expect_eq(send(1, 2, 1), 1u << 3);
	cr_expect_eq(send(0, 1, 2), 1u << 1);
	cr_expect_eq(where(1), 0, "the real station wins back its entry by sending");
}

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

Test(sw, random_traffic_never_returns_to_sender)
{
	cr_assert_eq(sw_init(&s, 16, 50, NULL, 0), 0);
	for (unsigned i = 0; i < 200000; i++) {
		unsigned port = rnd() % 16;
		size_t len = rnd() % 4 ? 14 + rnd() % 1505 : rnd() % (sizeof(frame) + 1);
		for (size_t k = 0; k < 14; k++)
			frame[k] = (uint8_t)rnd();
		if (rnd() % 4) { /* mostly a small population of stations */
			frame[0] = 0x52;
			frame[6] = 0x52;
			frame[5] = (uint8_t)(rnd() % 300);
			frame[11] = (uint8_t)(rnd() % 300);
		}
		sw_set_time(&s, i / 10);
		uint32_t mask = 0;
		cr_assert_eq(sw_input(&s, port, frame, len, &mask), 0);
		cr_assert_eq(mask & (1u << port), 0, "frame %u went back to port %u", i, port);
		cr_assert_eq(mask & ~0xffffu, 0);
		if (mask && len >= 14 && !(frame[6] & 1))
			cr_assert_eq(sw_lookup(&s, frame + 6), (int)port, "source not learned");
	}
	for (unsigned i = 0; i < SW_TABLE_SIZE; i++)
		if (s.table[i].valid)
			cr_assert_lt(s.table[i].port, 16);
}
