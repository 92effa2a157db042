/* Virtual 8254 PIT and port 0x61, counting from the guest's TSC (8254 datasheet: modes,
 * control word, counter latch and read-back commands). Pure logic; vpit.h describes the
 * caller's side and the simplifications. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernel/platform/vpit.h"

typedef unsigned __int128 u128;

/* Port 0x61 bit 4 toggles once per DRAM refresh request: every 18 PIT clocks (15.08 us). */
#define REFRESH_TICKS 18

static uint64_t pit_ticks(const struct vpit *p, uint64_t tsc)
{
	return (uint64_t)((u128)tsc * VPIT_HZ / p->tsc_hz);
}

/* TSC ticks until `ticks` PIT clocks have passed: the least t with pit_ticks(t) >= ticks. */
static u128 tsc_for(const struct vpit *p, uint64_t ticks)
{
	return ((u128)ticks * p->tsc_hz + VPIT_HZ - 1) / VPIT_HZ;
}

/* TSC ticks the channel has counted since its count was loaded (or the period restarted). */
static uint64_t elapsed(const struct vpit_chan *c, uint64_t now)
{
	if (!c->counting)
		return c->t_held;
	return now > c->t_start ? now - c->t_start : 0;
}

/* The counter and OUT after e clocks of counting from a load of c->reload (datasheet mode
 * descriptions; a count of 0 is 65536 and reads back as 0). */
static void count_at(const struct vpit_chan *c, uint64_t e, uint16_t *count, int *out)
{
	uint64_t n = c->reload, r, half, q;

	switch (c->mode) {
	case 2: /* rate generator: N .. 1, OUT low while the count is 1 */
		r = e % n;
		*count = (uint16_t)(n - r);
		*out = r != n - 1;
		break;
	case 3: /* square wave: OUT high for ceil(N/2) clocks, low for floor(N/2); count by 2 */
		r = e % n;
		half = (n + 1) / 2;
		*out = r < half;
		q = *out ? r : r - half;
		q = (n & ~1ull) - 2 * q;
		*count = (uint16_t)(q ? q : 2);
		break;
	case 4:
	case 5: /* strobes: OUT low for the one clock at terminal count */
		*count = (uint16_t)(n - e);
		*out = e != n;
		break;
	default: /* 0 and 1: OUT rises at terminal count and stays high; the count wraps on */
		*count = (uint16_t)(n - e);
		*out = e >= n;
		break;
	}
}

static void chan_state(const struct vpit *p, const struct vpit_chan *c, uint64_t now,
		       uint16_t *count, int *out)
{
	if (!c->running) {
		*count = c->idle_count;
		*out = c->idle_out;
		return;
	}
	count_at(c, pit_ticks(p, elapsed(c, now)), count, out);
	if (!c->counting && (c->mode == 2 || c->mode == 3))
		*out = 1; /* a low gate forces OUT high in modes 2 and 3 */
}

/* Gate-triggered modes wait for a rising gate; the others count while the gate is high. */
static int gate_paused(const struct vpit_chan *c)
{
	return !c->gate && c->mode != 1 && c->mode != 5;
}

/* Elapsed clocks of channel 0's first rising OUT edge after a load. */
static uint64_t first_edge(const struct vpit_chan *c)
{
	return c->mode == 4 || c->mode == 5 ? (uint64_t)c->reload + 1 : c->reload;
}

/* The count in c->reload starts counting now (or waits for the gate). */
static void start(struct vpit *p, struct vpit_chan *c, uint64_t now)
{
	c->running = 1;
	c->counting = !gate_paused(c);
	c->t_start = now;
	c->t_held = 0;
	if (c == &p->ch[0])
		p->irq0_edge = first_edge(c);
}

/* Stops counting, leaving the counter and OUT as they read now (out < 0: keep OUT). */
static void freeze(struct vpit *p, struct vpit_chan *c, uint64_t now, int out)
{
	uint16_t count;
	int cur;

	chan_state(p, c, now, &count, &cur);
	c->idle_count = count;
	c->idle_out = (uint8_t)(out < 0 ? cur : out);
	c->running = 0;
	c->counting = 0;
	if (c == &p->ch[0])
		p->irq0_edge = 0;
}

static void load(struct vpit *p, struct vpit_chan *c, uint32_t val, uint64_t now)
{
	c->reload = val ? val : 0x10000;
	c->null_count = 0;
	if (c->mode == 1 || c->mode == 5) {
		/* Loaded into the counter by the next gate trigger; OUT stays high meanwhile. */
		freeze(p, c, now, 1);
		c->idle_count = (uint16_t)c->reload;
		return;
	}
	start(p, c, now);
}

static void set_gate(struct vpit *p, struct vpit_chan *c, int level, uint64_t now)
{
	level = !!level;
	if (level == c->gate)
		return;
	c->gate = (uint8_t)level;
	switch (c->mode) {
	case 1:
	case 5: /* a rising gate (re)triggers a loaded count */
		if (level && !c->null_count && c->reload)
			start(p, c, now);
		break;
	case 2:
	case 3: /* a rising gate restarts the period; low holds it with OUT high */
		if (!c->running)
			break;
		if (level) {
			start(p, c, now);
		} else {
			c->t_held = elapsed(c, now);
			c->counting = 0;
		}
		break;
	default: /* 0 and 4: the gate only enables counting */
		if (!c->running)
			break;
		if (level) {
			c->t_start = now >= c->t_held ? now - c->t_held : 0;
			c->counting = 1;
		} else {
			c->t_held = elapsed(c, now);
			c->counting = 0;
		}
		break;
	}
}

static void latch_count(const struct vpit *p, struct vpit_chan *c, uint64_t now)
{
	uint16_t count;
	int out;

	if (c->latched)
		return; /* a second latch before the first is read is ignored */
	chan_state(p, c, now, &count, &out);
	c->latch = count;
	c->latched = (c->cw >> 4 & 3) == VPIT_RW_WORD ? 2 : 1;
}

static void latch_status(const struct vpit *p, struct vpit_chan *c, uint64_t now)
{
	uint16_t count;
	int out;

	if (c->status_latched)
		return;
	chan_state(p, c, now, &count, &out);
	c->status = (uint8_t)((out ? VPIT_ST_OUT : 0) | (c->null_count ? VPIT_ST_NULL : 0) |
			      (c->cw & 0x3F));
	c->status_latched = 1;
}

static void control_word(struct vpit *p, uint8_t cw, uint64_t now)
{
	struct vpit_chan *c;
	unsigned mode;

	if (VPIT_CW_SC(cw) == 3) { /* read-back: bits 3:1 select channels 2..0 */
		for (int i = 0; i < 3; i++) {
			if (!(cw & (2u << i)))
				continue;
			if (!(cw & VPIT_RB_NOSTATUS))
				latch_status(p, &p->ch[i], now);
			if (!(cw & VPIT_RB_NOCOUNT))
				latch_count(p, &p->ch[i], now);
		}
		return;
	}
	c = &p->ch[VPIT_CW_SC(cw)];
	if (VPIT_CW_RW(cw) == 0) {
		latch_count(p, c, now);
		return;
	}
	/* A new mode: control logic reset, OUT to its initial level (low in mode 0, high in
	 * the others), nothing counts until a count is written. */
	mode = VPIT_CW_MODE(cw);
	freeze(p, c, now, mode != 0);
	c->cw = cw & 0x3F;
	c->mode = (uint8_t)(mode > 5 ? mode - 4 : mode);
	c->null_count = 1;
	c->wr_msb = 0;
	c->rd_msb = 0;
	c->latched = 0;
	c->status_latched = 0;
}

static void write_count(struct vpit *p, struct vpit_chan *c, uint8_t val, uint64_t now)
{
	switch (c->cw >> 4 & 3) {
	case VPIT_RW_LSB:
		load(p, c, val, now);
		break;
	case VPIT_RW_MSB:
		load(p, c, (uint32_t)val << 8, now);
		break;
	default:
		if (!c->wr_msb) {
			c->wr_lsb = val;
			c->wr_msb = 1;
			c->null_count = 1;
			/* Mode 0: writing the first byte stops the count and drives OUT low. */
			if (c->mode == 0)
				freeze(p, c, now, 0);
			break;
		}
		c->wr_msb = 0;
		load(p, c, (uint32_t)val << 8 | c->wr_lsb, now);
		break;
	}
}

static uint8_t read_count(const struct vpit *p, struct vpit_chan *c, uint64_t now)
{
	unsigned rw = c->cw >> 4 & 3;
	uint16_t count;
	int out;

	if (c->status_latched) {
		c->status_latched = 0;
		return c->status;
	}
	if (c->latched) {
		int msb = rw == VPIT_RW_MSB || (rw == VPIT_RW_WORD && c->latched == 1);

		c->latched--;
		if (rw != VPIT_RW_WORD)
			c->latched = 0;
		return (uint8_t)(msb ? c->latch >> 8 : c->latch);
	}
	chan_state(p, c, now, &count, &out);
	if (rw == VPIT_RW_MSB)
		return (uint8_t)(count >> 8);
	if (rw == VPIT_RW_WORD) {
		c->rd_msb ^= 1;
		if (!c->rd_msb)
			return (uint8_t)(count >> 8);
	}
	return (uint8_t)count;
}

void vpit_reset(struct vpit *p, uint64_t tsc_hz)
{
	memset(p, 0, sizeof(*p));
	p->tsc_hz = tsc_hz;
	for (int i = 0; i < 3; i++) {
		p->ch[i].cw = VPIT_RW_WORD << 4;
		p->ch[i].null_count = 1;
		p->ch[i].gate = i < 2; /* channels 0 and 1 are gated high on a PC */
	}
}

int vpit_claims(uint16_t port)
{
	return (port >= VPIT_PORT_CH0 && port <= VPIT_PORT_CMD) || port == VPIT_PORT_CTRL;
}

uint8_t vpit_read(struct vpit *p, uint16_t port, uint64_t now)
{
	uint16_t count;
	int out2;

	if (port >= VPIT_PORT_CH0 && port <= VPIT_PORT_CH2)
		return read_count(p, &p->ch[port - VPIT_PORT_CH0], now);
	if (port != VPIT_PORT_CTRL)
		return 0xFF;
	chan_state(p, &p->ch[2], now, &count, &out2);
	return (uint8_t)((p->port61 & VPIT_P61_RW_MASK) |
			 ((pit_ticks(p, now) / REFRESH_TICKS) & 1 ? VPIT_P61_REFRESH : 0) |
			 (out2 ? VPIT_P61_OUT2 : 0));
}

void vpit_write(struct vpit *p, uint16_t port, uint8_t val, uint64_t now)
{
	if (port >= VPIT_PORT_CH0 && port <= VPIT_PORT_CH2) {
		write_count(p, &p->ch[port - VPIT_PORT_CH0], val, now);
	} else if (port == VPIT_PORT_CMD) {
		control_word(p, val, now);
	} else if (port == VPIT_PORT_CTRL) {
		p->port61 = val & VPIT_P61_RW_MASK;
		set_gate(p, &p->ch[2], val & VPIT_P61_GATE2, now);
	}
}

uint64_t vpit_next_irq0(const struct vpit *p)
{
	const struct vpit_chan *c = &p->ch[0];
	u128 t;

	if (!c->running || !c->counting || !p->irq0_edge)
		return 0;
	t = c->t_start + tsc_for(p, p->irq0_edge);
	return t > UINT64_MAX ? UINT64_MAX : (uint64_t)t;
}

int vpit_irq0_update(struct vpit *p, uint64_t now)
{
	struct vpit_chan *c = &p->ch[0];
	uint64_t e;

	if (!c->running || !c->counting || !p->irq0_edge)
		return 0;
	e = pit_ticks(p, elapsed(c, now));
	if (e < p->irq0_edge)
		return 0;
	if (c->mode == 2 || c->mode == 3)
		p->irq0_edge = (e / c->reload + 1) * c->reload; /* the next period boundary */
	else
		p->irq0_edge = 0;
	return 1;
}
