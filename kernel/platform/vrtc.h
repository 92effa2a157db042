/* Virtual CMOS real-time clock and CMOS RAM (ports 0x70 index, 0x71 data), after the
 * Motorola MC146818A datasheet as PCs and QEMU have it. Pure logic (host unit tested); the
 * caller serialises calls and passes the TSC as `now`.
 *
 * Time: the host's wall clock read once at boot (Unix seconds at TSC tsc0) plus the TSC,
 * plus whatever offset the guest set by writing the clock, so every partition sees the real
 * date and a guest that sets its clock moves only its own. Registers 0-9 (seconds, alarm
 * seconds, minutes, alarm minutes, hours, alarm hours, day of week 1 = Sunday, day, month,
 * year) and the century at 0x32 follow register B: BCD or binary (DM), 24 or 12 hours
 * (bit 7 of the hour = PM). While B.SET is 1 the clock reads what was last written and the
 * guest may write it; clearing SET makes the written time the guest's new time.
 *
 * Register A: UIP (bit 7) reads 1 in the last 244 us of every second, as the update cycle
 * that is about to come (Linux waits for it to clear before reading); the divider and rate
 * bits are the guest's. Register C's flags, cleared by reading it: UF (an update since the
 * last read), AF (the alarm time was passed since the last read; alarm fields 0xC0-0xFF
 * match anything), PF (a periodic tick at A's rate), and IRQF when an enabled one is set
 * (B: UIE, AIE, PIE). Register D reads 0x80 (valid RAM and time). IRQ 8 rises when IRQF
 * does (vrtc_irq_update(), at the times vrtc_next_irq() names) and stays up until register C
 * is read, as on the chip. CMOS RAM 0x0E-0x7F holds what a
 * PC's firmware leaves there: the memory sizes at 0x15-0x18, 0x30-0x31, 0x34-0x35 and
 * 0x5B-0x5D, as QEMU fills them. Bit 7 of the index is the NMI mask, kept apart. */
#ifndef MICA_PLATFORM_VRTC_H
#define MICA_PLATFORM_VRTC_H

#include <stdint.h>

#define VRTC_PORT_INDEX 0x70
#define VRTC_PORT_DATA  0x71
#define VRTC_IRQ        8

#define VRTC_SEC       0x00
#define VRTC_SEC_ALARM 0x01
#define VRTC_MIN       0x02
#define VRTC_MIN_ALARM 0x03
#define VRTC_HOUR      0x04
#define VRTC_HOUR_ALARM 0x05
#define VRTC_WDAY      0x06
#define VRTC_MDAY      0x07
#define VRTC_MONTH     0x08
#define VRTC_YEAR      0x09
#define VRTC_A         0x0A
#define VRTC_B         0x0B
#define VRTC_C         0x0C
#define VRTC_D         0x0D
#define VRTC_CENTURY   0x32

#define VRTC_A_UIP  0x80
#define VRTC_B_SET  0x80
#define VRTC_B_PIE  0x40
#define VRTC_B_AIE  0x20
#define VRTC_B_UIE  0x10
#define VRTC_B_DM   0x04 /* binary, not BCD */
#define VRTC_B_24H  0x02
#define VRTC_C_IRQF 0x80
#define VRTC_C_PF   0x40
#define VRTC_C_AF   0x20
#define VRTC_C_UF   0x10
#define VRTC_UIP_US 244  /* UIP reads 1 this long before each second */

struct vrtc {
	uint8_t index;       /* the register 0x71 reaches, 0-0x7F */
	uint8_t nmi_masked;  /* bit 7 of the last index write */
	uint8_t cmos[128];   /* A-D as the guest wrote them, CMOS RAM; 0-9 while SET */
	int64_t offset;      /* the guest's time minus the host's, seconds */
	uint64_t unix0;      /* the host's Unix time at tsc0 */
	uint64_t tsc0, tsc_hz;
	uint64_t c_read;     /* TSC of the last read of register C (or reset) */
	int irq_raised;      /* IRQ 8 was raised since that read */
};

/* Power-on state: 24-hour BCD, divider 32.768 kHz (A = 0x26), memory sizes for a guest of
 * ram_size bytes; time = unix_time at TSC now. */
void vrtc_reset(struct vrtc *r, uint64_t unix_time, uint64_t now, uint64_t tsc_hz,
		uint64_t ram_size);

int vrtc_claims(uint16_t port);
uint8_t vrtc_read(struct vrtc *r, uint16_t port, uint64_t now);
void vrtc_write(struct vrtc *r, uint16_t port, uint8_t val, uint64_t now);

/* The interrupt: the TSC of the next moment an enabled flag (UIE, AIE, PIE) will set IRQF,
 * or 0 when none will (none enabled, or the line is already up until C is read). At or
 * after it, vrtc_irq_update() returns 1 once: raise IRQ 8 (an edge). */
uint64_t vrtc_next_irq(const struct vrtc *r, uint64_t now);
int vrtc_irq_update(struct vrtc *r, uint64_t now);

/* The guest's wall clock at now, Unix seconds (what its registers read). */
int64_t vrtc_time(const struct vrtc *r, uint64_t now);

#endif
