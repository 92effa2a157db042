/* kernel/platform/vpic.c: the 8259A pair as Linux and small kernels program it before they
 * turn to the APIC: the initialisation sequence, masks, ELCR; never an interrupt. */
#include <criterion/criterion.h>
#include "kernel/platform/vpic.h"

static struct vpic p;

Test(vpic, linux_init_sequence)
{
	vpic_reset(&p);
	cr_expect_eq(vpic_read(&p, 0x21), 0xFF, "masked at power-on");
	cr_expect_eq(vpic_read(&p, 0xA1), 0xFF);
	/* Linux's init_8259A: mask all, ICW1-4 on both, restore the masks. */
	vpic_write(&p, 0x21, 0xFF);
	vpic_write(&p, 0xA1, 0xFF);
	vpic_write(&p, 0x20, 0x11);
	vpic_write(&p, 0x21, 0x30); /* ICW2: vectors 0x30 */
	vpic_write(&p, 0x21, 0x04); /* ICW3: slave on IR2 */
	vpic_write(&p, 0x21, 0x01); /* ICW4: 8086 mode */
	cr_expect_eq(p.chip[0].vector, 0x30);
	cr_expect_eq(vpic_read(&p, 0x21), 0x00, "ICW1 clears the mask; ICWs do not touch it");
	vpic_write(&p, 0xA0, 0x11);
	vpic_write(&p, 0xA1, 0x38);
	vpic_write(&p, 0xA1, 0x02);
	vpic_write(&p, 0xA1, 0x01);
	vpic_write(&p, 0x21, 0xFB);
	vpic_write(&p, 0xA1, 0xFF);
	cr_expect_eq(vpic_read(&p, 0x21), 0xFB, "OCW1 reads back");
	cr_expect_eq(vpic_read(&p, 0xA1), 0xFF);
	cr_expect_eq(p.chip[1].vector, 0x38);
	vpic_write(&p, 0x20, 0x0B); /* OCW3: read ISR */
	cr_expect_eq(vpic_read(&p, 0x20), 0, "nothing in service");
	vpic_write(&p, 0x20, 0x20); /* EOI */
	cr_expect_eq(vpic_read(&p, 0x20), 0);
}

Test(vpic, single_without_icw4_and_elcr)
{
	vpic_reset(&p);
	vpic_write(&p, 0x20, 0x12); /* single, no ICW4 */
	vpic_write(&p, 0x21, 0x20);
	vpic_write(&p, 0x21, 0x5A); /* already OCW1 */
	cr_expect_eq(vpic_read(&p, 0x21), 0x5A);
	vpic_write(&p, 0x4D0, 0xFF);
	vpic_write(&p, 0x4D1, 0xFF);
	cr_expect_eq(vpic_read(&p, 0x4D0), 0xF8, "IRQ 0-2 stay edge");
	cr_expect_eq(vpic_read(&p, 0x4D1), 0xDE, "IRQ 8 and 13 stay edge");
	cr_expect(vpic_claims(0x20) && vpic_claims(0xA1) && vpic_claims(0x4D1) && !vpic_claims(0x22));
}
