/* Virtual 8254 programmable interval timer (ports 0x40-0x43) and the PC's system control
 * port B (0x61: channel 2's gate, speaker data, OUT2 status). Register-level logic after the
 * 8254 datasheet. Pure logic (host unit tested): no clock of its own. Every call takes the
 * guest's current TSC and the counters run at VPIT_HZ derived from it, so what the guest
 * measures against the PIT always agrees with its TSC, however busy the host is.
 *
 * The caller serialises calls on one struct vpit and passes byte accesses only (the 8254 is
 * an 8-bit device: split wider accesses into bytes at port, port + 1, ...).
 *
 * Modes 0, 2 and 3 follow the datasheet; 1, 4 and 5 count and drive OUT as specified but
 * are untested by Linux. Simplifications: a count is loaded the moment its last byte is
 * written (not on the next CLK edge), a new count in modes 2/3 restarts the period at once
 * instead of at the end of the current one, BCD counting is not done (the bit is kept for
 * the status byte), and mode 3 with an odd count reads slightly differently from silicon.
 *
 * Channel 0's OUT is IRQ0 (GSI 2, edge): vpit_next_irq0() tells when to look next, and
 * vpit_irq0_update() says whether a rising edge happened. Channels 0 and 1 have their gate
 * tied high; channel 2's gate is port 0x61 bit 0. */
#ifndef MICA_PLATFORM_VPIT_H
#define MICA_PLATFORM_VPIT_H

#include <stdint.h>

#define VPIT_HZ 1193182u /* the PC's PIT input clock (14.31818 MHz / 12) */

#define VPIT_PORT_CH0  0x40
#define VPIT_PORT_CH1  0x41
#define VPIT_PORT_CH2  0x42
#define VPIT_PORT_CMD  0x43
#define VPIT_PORT_CTRL 0x61 /* system control port B */

/* Port 0x61 bits. */
#define VPIT_P61_GATE2   0x01 /* channel 2 gate (rw) */
#define VPIT_P61_SPEAKER 0x02 /* speaker data enable (rw) */
#define VPIT_P61_RW_MASK 0x0F /* bits 3:2 (parity/channel check enables) are kept too */
#define VPIT_P61_REFRESH 0x10 /* refresh request: toggles every 15.08 us (read only) */
#define VPIT_P61_OUT2    0x20 /* channel 2's OUT (read only) */

/* Control word (port 0x43) fields. */
#define VPIT_CW_BCD       0x01
#define VPIT_CW_MODE(cw)  (((cw) >> 1) & 7)
#define VPIT_CW_RW(cw)    (((cw) >> 4) & 3) /* 0 latch, 1 LSB, 2 MSB, 3 LSB then MSB */
#define VPIT_CW_SC(cw)    (((cw) >> 6) & 3) /* 3: read-back command */
#define VPIT_RB_NOCOUNT   0x20 /* read-back: do not latch the count (active low) */
#define VPIT_RB_NOSTATUS  0x10 /* read-back: do not latch status (active low) */

/* Status byte (read-back): OUT, null count, then the control word's low 6 bits. */
#define VPIT_ST_OUT       0x80
#define VPIT_ST_NULL      0x40

#define VPIT_RW_LSB  1
#define VPIT_RW_MSB  2
#define VPIT_RW_WORD 3

struct vpit_chan {
	uint8_t cw;            /* control word bits 5:0 (RW, mode, BCD) for the status byte */
	uint8_t mode;          /* effective mode 0..5 (6 and 7 are 2 and 3) */
	uint8_t gate;          /* gate input level */
	uint8_t null_count;    /* a count was written and not yet loaded */
	uint8_t wr_msb;        /* word access: the next write is the MSB */
	uint8_t rd_msb;        /* word access: the next unlatched read is the MSB */
	uint8_t wr_lsb;        /* the LSB written, waiting for its MSB */
	uint8_t latched;       /* bytes of `latch` still to read (0: no count latched) */
	uint8_t status_latched;
	uint8_t status;
	uint16_t latch;
	uint32_t reload;       /* the count loaded, 1..65536 */

	/* Counting: `running` once a count is loaded (and, in modes 1/5, triggered). The
	 * elapsed time since the load is now - t_start while counting (gate high) or
	 * t_held while paused, both in TSC ticks; ticks of VPIT_HZ follow from it. */
	uint8_t running;
	uint8_t counting;      /* running and not paused by a low gate */
	uint64_t t_start;
	uint64_t t_held;
	uint16_t idle_count;   /* what the counter reads while not running */
	uint8_t idle_out;      /* OUT while not running */
};

struct vpit {
	uint64_t tsc_hz;
	struct vpit_chan ch[3];
	uint8_t port61;          /* bits 3:0 as last written */
	uint64_t irq0_edge;      /* elapsed PIT ticks of channel 0's next rising edge, 0: none */
};

/* Power-on state: every channel in mode 0, LSB-then-MSB, no count loaded (OUT low, nothing
 * counting, no IRQ0 edges); port 0x61 = 0 (gate 2 low). tsc_hz must be non-zero. */
void vpit_reset(struct vpit *p, uint64_t tsc_hz);

/* Whether port is one of the PIT's (0x40-0x43, 0x61). */
int vpit_claims(uint16_t port);

/* IN from port (byte) at guest TSC now. Port 0x43 reads as 0xFF (no read on an 8254);
 * ports that are not ours read 0xFF too. */
uint8_t vpit_read(struct vpit *p, uint16_t port, uint64_t now);

/* OUT val to port (byte) at guest TSC now. After a write the caller re-reads
 * vpit_next_irq0() (channel 0 may have been reprogrammed). */
void vpit_write(struct vpit *p, uint16_t port, uint8_t val, uint64_t now);

/* TSC of channel 0's next rising OUT edge not yet reported by vpit_irq0_update(), or 0 if
 * none will come (no count, or a one-shot mode whose edge was reported). */
uint64_t vpit_next_irq0(const struct vpit *p);

/* Returns 1 if channel 0's OUT rose at or before now since the last call (the caller then
 * pulses IRQ0), else 0. However late it is called, at most one edge is reported: periodic
 * modes carry on from the last period boundary reached. */
int vpit_irq0_update(struct vpit *p, uint64_t now);

#endif
