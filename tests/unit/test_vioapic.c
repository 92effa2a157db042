/* kernel/platform/vioapic.c: indirect registers, redirection entries, edge and level pins. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernel/platform/vioapic.h"

static struct vioapic io;
static struct vioapic_msg msg[VIOAPIC_PINS];

static void init(void)
{
	memset(&io, 0xa5, sizeof(io));
	memset(msg, 0, sizeof(msg));
	vioapic_reset(&io, 2);
}

TestSuite(vioapic, .init = init);

static uint32_t reg_read(uint32_t index)
{
	cr_assert_eq(vioapic_write(&io, VIOAPIC_IOREGSEL, 4, index, msg), 0);
	return vioapic_read(&io, VIOAPIC_IOWIN, 4);
}

/* Returns how many messages the write produced. */
static int reg_write(uint32_t index, uint32_t val)
{
	cr_assert_eq(vioapic_write(&io, VIOAPIC_IOREGSEL, 4, index, msg), 0);
	return vioapic_write(&io, VIOAPIC_IOWIN, 4, val, msg);
}

static int set_rte(unsigned pin, uint64_t e)
{
	cr_assert_eq(reg_write(0x11 + 2 * pin, (uint32_t)(e >> 32)), 0);
	return reg_write(0x10 + 2 * pin, (uint32_t)e);
}

static uint64_t get_rte(unsigned pin)
{
	return (uint64_t)reg_read(0x11 + 2 * pin) << 32 | reg_read(0x10 + 2 * pin);
}

#define LEVEL VIOAPIC_RTE_LEVEL
#define MASKED VIOAPIC_RTE_MASKED
#define DEST(d) ((uint64_t)(d) << 56)

Test(vioapic, reset_state)
{
	cr_expect_eq(reg_read(VIOAPIC_REG_ID), 0x02000000);
	cr_expect_eq(reg_read(VIOAPIC_REG_VER), 0x00170020);
	cr_expect_eq(reg_read(VIOAPIC_REG_ARB), 0x02000000);
	for (unsigned pin = 0; pin < VIOAPIC_PINS; pin++)
		cr_expect_eq(get_rte(pin), MASKED, "pin %u", pin);
	cr_expect_eq(reg_read(0x40), 0, "past the table");
	cr_expect_eq(reg_read(0xFF), 0);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOREGSEL, 4), 0xFF);
}

Test(vioapic, id_and_read_only_registers)
{
	cr_expect_eq(reg_write(VIOAPIC_REG_ID, 0xFFFFFFFF), 0);
	cr_expect_eq(reg_read(VIOAPIC_REG_ID), 0x0F000000);
	cr_expect_eq(reg_read(VIOAPIC_REG_ARB), 0x0F000000);
	cr_expect_eq(reg_write(VIOAPIC_REG_VER, 0), 0);
	cr_expect_eq(reg_read(VIOAPIC_REG_VER), 0x00170020);
	cr_expect_eq(reg_write(VIOAPIC_REG_ARB, 0), 0);
	cr_expect_eq(reg_read(VIOAPIC_REG_ARB), 0x0F000000);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOREGSEL, 4, 0x1234, msg), 0);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOREGSEL, 4), 0x34, "IOREGSEL is 8 bits");
}

Test(vioapic, redirection_entries)
{
	/* Every writable field, then the read-only and reserved bits. */
	uint64_t e = DEST(0xA5) | MASKED | LEVEL | VIOAPIC_RTE_ACTIVE_LOW | VIOAPIC_RTE_LOGICAL |
		     (1ull << 8) | 0x31;
	cr_expect_eq(set_rte(5, e), 0);
	cr_expect_eq(get_rte(5), e);
	cr_expect_eq(set_rte(6, 0x00FFFFFFFFFFFFFFull), 0);
	cr_expect_eq(get_rte(6), 0x1AFFFull & ~(VIOAPIC_RTE_PENDING | VIOAPIC_RTE_REMOTE_IRR),
		     "%#llx", (unsigned long long)get_rte(6));
	cr_expect_eq(get_rte(4), MASKED, "neighbours untouched");
	cr_expect_eq(get_rte(7), MASKED);
	cr_expect_eq(set_rte(23, DEST(1) | 0x99), 0);
	cr_expect_eq(get_rte(23), DEST(1) | 0x99);
}

Test(vioapic, odd_accesses_are_ignored)
{
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOREGSEL, 4, 0x10, msg), 0);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOWIN, 2, 0x31, msg), 0);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOWIN, 8, 0x31, msg), 0);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOWIN + 1, 4, 0x31, msg), 0);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_IOREGSEL, 1, 0x12, msg), 0);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOREGSEL, 4), 0x10);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOWIN, 4), (uint32_t)MASKED);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOWIN, 1), 0);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_IOWIN, 8), 0);
	cr_expect_eq(vioapic_read(&io, 0x20, 4), 0);
	cr_expect_eq(vioapic_read(&io, VIOAPIC_EOIR, 4), 0, "EOI register is write-only");
}

Test(vioapic, edge_pin)
{
	cr_expect_eq(set_rte(4, DEST(3) | 0x34), 0);
	cr_expect_eq(vioapic_set_irq(&io, 4, 1, msg), 1);
	cr_expect_eq(msg[0].vector, 0x34);
	cr_expect_eq(msg[0].dest, 3);
	cr_expect_eq(msg[0].mode, 0);
	cr_expect_eq(msg[0].logical, 0);
	cr_expect_eq(msg[0].level, 0);
	cr_expect_eq(msg[0].pin, 4);
	cr_expect_eq(vioapic_set_irq(&io, 4, 1, msg), 0, "no edge while held high");
	cr_expect_eq(vioapic_set_irq(&io, 4, 0, msg), 0);
	cr_expect_eq(vioapic_set_irq(&io, 4, 1, msg), 1, "next rising edge");
	cr_expect_eq(get_rte(4) & VIOAPIC_RTE_REMOTE_IRR, 0);
	cr_expect_eq(vioapic_eoi(&io, 0x34, msg), 0, "EOI does nothing to an edge pin");
}

Test(vioapic, edge_pin_masked)
{
	cr_expect_eq(set_rte(1, MASKED | 0x31), 0);
	cr_expect_eq(vioapic_set_irq(&io, 1, 1, msg), 0);
	cr_expect_eq(set_rte(1, 0x31), 0, "unmasking does not replay an edge");
	cr_expect_eq(vioapic_set_irq(&io, 1, 0, msg), 0);
	cr_expect_eq(vioapic_set_irq(&io, 1, 1, msg), 1);
}

Test(vioapic, level_pin_remote_irr)
{
	cr_expect_eq(set_rte(10, DEST(1) | LEVEL | VIOAPIC_RTE_ACTIVE_LOW | 0x4A), 0);
	cr_expect_eq(vioapic_set_irq(&io, 10, 1, msg), 1);
	cr_expect_eq(msg[0].vector, 0x4A);
	cr_expect_eq(msg[0].level, 1);
	cr_expect(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR);
	cr_expect_eq(vioapic_set_irq(&io, 10, 1, msg), 0, "awaiting EOI");
	cr_expect_eq(vioapic_eoi(&io, 0x4B, msg), 0, "other vector");
	cr_expect(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR);

	/* EOI while the line is still asserted: delivered again. */
	cr_expect_eq(vioapic_eoi(&io, 0x4A, msg), 1);
	cr_expect_eq(msg[0].vector, 0x4A);
	cr_expect_eq(msg[0].pin, 10);
	cr_expect(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR);

	/* De-asserted, then EOI: quiet, remote IRR clear. */
	cr_expect_eq(vioapic_set_irq(&io, 10, 0, msg), 0);
	cr_expect_eq(vioapic_eoi(&io, 0x4A, msg), 0);
	cr_expect_eq(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR, 0);
	cr_expect_eq(vioapic_set_irq(&io, 10, 1, msg), 1);

	/* The guest cannot write remote IRR. */
	cr_expect_eq(reg_write(0x10 + 20, (uint32_t)(LEVEL | 0x4A)), 0);
	cr_expect(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR, "a write keeps it set");
	cr_expect_eq(vioapic_set_irq(&io, 10, 0, msg), 0);
	cr_expect_eq(vioapic_eoi(&io, 0x4A, msg), 0);
	cr_expect_eq(reg_write(0x10 + 20, (uint32_t)(LEVEL | VIOAPIC_RTE_REMOTE_IRR | 0x4A)), 0);
	cr_expect_eq(get_rte(10) & VIOAPIC_RTE_REMOTE_IRR, 0, "nor set it");
}

Test(vioapic, level_pin_unmasked_while_asserted)
{
	cr_expect_eq(set_rte(9, DEST(0) | MASKED | LEVEL | 0x39), 0);
	cr_expect_eq(vioapic_set_irq(&io, 9, 1, msg), 0, "masked");
	cr_expect_eq(get_rte(9) & VIOAPIC_RTE_REMOTE_IRR, 0);
	cr_expect_eq(set_rte(9, DEST(0) | LEVEL | 0x39), 1, "unmask delivers");
	cr_expect_eq(msg[0].vector, 0x39);
	cr_expect(get_rte(9) & VIOAPIC_RTE_REMOTE_IRR);
	cr_expect_eq(set_rte(9, DEST(0) | LEVEL | 0x39), 0, "not twice");

	/* Masked after delivery, EOI: held until unmasked. */
	cr_expect_eq(set_rte(9, DEST(0) | MASKED | LEVEL | 0x39), 0);
	cr_expect_eq(vioapic_eoi(&io, 0x39, msg), 0);
	cr_expect_eq(get_rte(9) & VIOAPIC_RTE_REMOTE_IRR, 0);
	cr_expect_eq(set_rte(9, DEST(0) | LEVEL | 0x39), 1);

	/* De-asserted while masked: unmasking delivers nothing. */
	cr_expect_eq(vioapic_eoi(&io, 0x39, msg), 1);
	cr_expect_eq(set_rte(9, DEST(0) | MASKED | LEVEL | 0x39), 0);
	cr_expect_eq(vioapic_set_irq(&io, 9, 0, msg), 0);
	cr_expect_eq(vioapic_eoi(&io, 0x39, msg), 0);
	cr_expect_eq(set_rte(9, DEST(0) | LEVEL | 0x39), 0);
}

Test(vioapic, switch_to_edge_clears_remote_irr)
{
	cr_expect_eq(set_rte(3, LEVEL | 0x33), 0);
	cr_expect_eq(vioapic_set_irq(&io, 3, 1, msg), 1);
	cr_expect(get_rte(3) & VIOAPIC_RTE_REMOTE_IRR);
	cr_expect_eq(set_rte(3, 0x33), 0);
	cr_expect_eq(get_rte(3) & VIOAPIC_RTE_REMOTE_IRR, 0);
}

Test(vioapic, message_fields)
{
	cr_expect_eq(set_rte(0, DEST(0xFF) | 0x20), 0);
	cr_expect_eq(vioapic_set_irq(&io, 0, 1, msg), 1);
	cr_expect_eq(msg[0].dest, 0xFFFFFFFFu, "0xFF is broadcast");
	cr_expect_eq(set_rte(1, DEST(0x0C) | VIOAPIC_RTE_LOGICAL | (1ull << 8) | 0x21), 0);
	cr_expect_eq(vioapic_set_irq(&io, 1, 1, msg), 1);
	cr_expect_eq(msg[0].dest, 0x0C);
	cr_expect_eq(msg[0].logical, 1);
	cr_expect_eq(msg[0].mode, 1);
	cr_expect_eq(set_rte(2, DEST(0xFF) | VIOAPIC_RTE_LOGICAL | (4ull << 8)), 0);
	cr_expect_eq(vioapic_set_irq(&io, 2, 1, msg), 1);
	cr_expect_eq(msg[0].dest, 0xFFFFFFFFu);
	cr_expect_eq(msg[0].mode, 4, "NMI");
	cr_expect_eq(set_rte(3, (7ull << 8)), 0);
	cr_expect_eq(vioapic_set_irq(&io, 3, 1, msg), 1);
	cr_expect_eq(msg[0].mode, 7, "ExtINT");
}

Test(vioapic, eoi_register_and_shared_vector)
{
	cr_expect_eq(set_rte(16, DEST(0) | LEVEL | 0x60), 0);
	cr_expect_eq(set_rte(17, DEST(1) | LEVEL | 0x60), 0);
	cr_expect_eq(set_rte(18, DEST(1) | LEVEL | 0x61), 0);
	cr_expect_eq(vioapic_set_irq(&io, 16, 1, msg), 1);
	cr_expect_eq(vioapic_set_irq(&io, 17, 1, msg), 1);
	cr_expect_eq(vioapic_set_irq(&io, 18, 1, msg), 1);
	cr_expect_eq(vioapic_write(&io, VIOAPIC_EOIR, 4, 0x60, msg), 2);
	cr_expect_eq(msg[0].pin, 16);
	cr_expect_eq(msg[0].dest, 0);
	cr_expect_eq(msg[1].pin, 17);
	cr_expect_eq(msg[1].dest, 1);
	cr_expect(get_rte(18) & VIOAPIC_RTE_REMOTE_IRR, "other vector untouched");
	cr_expect_eq(vioapic_set_irq(&io, 16, 0, msg), 0);
	cr_expect_eq(vioapic_eoi(&io, 0x60, msg), 1);
	cr_expect_eq(msg[0].pin, 17);
}

Test(vioapic, bad_pin)
{
	cr_expect_eq(vioapic_set_irq(&io, 24, 1, msg), MICA_EINVAL);
	cr_expect_eq(vioapic_set_irq(&io, 1000, 1, msg), MICA_EINVAL);
	cr_expect_eq(io.asserted, 0);
}
