/* attack_io: the I/O port surface (issue #17's hostile-guest suite). Reads and then writes
 * every port at every width (1, 2, 4 bytes, unaligned too), aims PCI configuration
 * mechanism #1 at the host's devices, pulls the reset lines (0xCF9, 0x92, 0x64), and writes
 * the CMOS and the host UART's registers. Nothing may leave the partition: a port Mica does
 * not give this partition reads all ones, the host's PCI functions are invisible, a reset
 * line is either an empty port or this partition's own reset; the partition's own devices
 * (its UART, its PCI bus with its functions' I/O BARs) behave afterwards. Run plain and
 * with a virtio console. */
#include "lib/guest.h"

static uint32_t in(uint16_t port, unsigned size)
{
	if (size == 1)
		return inb(port);
	if (size == 2)
		return inw(port);
	return inl(port);
}

static void out(uint16_t port, unsigned size, uint32_t v)
{
	if (size == 1)
		outb(port, (uint8_t)v);
	else if (size == 2)
		outw(port, (uint16_t)v);
	else
		outl(port, v);
}

#define DEBUG_EXIT 0xf4 /* the config's debug_exit port: a write powers the partition off */

/* The I/O BARs of this partition's own PCI functions (own_io_bars()): the virtio notify
 * ports. */
static struct { uint32_t base, size; } own_io[16];
static unsigned n_own_io;

/* The ports this partition owns: its UART, PCI mechanism #1 and its functions' I/O BARs
 * when it has a bus. */
static int owned(uint32_t port, unsigned size, int pci)
{
	uint32_t end = port + size;
	if (port < 0x400 && end > 0x3f8 && port < 0x3f8 + 8)
		return 1;
	if (pci && end > 0xcf8 && port < 0xd00)
		return 1;
	for (unsigned i = 0; i < n_own_io; i++)
		if (end > own_io[i].base && port < own_io[i].base + own_io[i].size)
			return 1;
	return port <= DEBUG_EXIT && end > DEBUG_EXIT;
}

static uint32_t pci_read(unsigned bus, unsigned dev, unsigned fn, unsigned reg)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
	return inl(0xcfc);
}

static void pci_write(unsigned bus, unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc));
	outl(0xcfc, v);
}

/* The functions this partition's own bus shows (vendor ID not all ones) on bus 0. */
static unsigned own_functions(uint32_t *first_id)
{
	unsigned n = 0;
	*first_id = 0xffffffffu;
	for (unsigned d = 0; d < 32; d++)
		for (unsigned f = 0; f < 8; f++) {
			uint32_t id = pci_read(0, d, f, 0);
			if (id != 0xffffffffu) {
				if (!n)
					*first_id = id;
				n++;
			}
		}
	return n;
}

/* Finds the I/O BARs of the functions on bus 0 (sizing each as an OS does: all ones,
 * read the mask, put the base back). */
static void own_io_bars(void)
{
	for (unsigned d = 0; d < 32; d++) {
		if (pci_read(0, d, 0, 0) == 0xffffffffu)
			continue;
		for (unsigned b = 0; b < 6 && n_own_io < 16; b++) {
			unsigned reg = 0x10 + 4 * b;
			uint32_t v = pci_read(0, d, 0, reg);
			if (!(v & 1) || !(v & ~3u))
				continue;
			pci_write(0, d, 0, reg, 0xffffffffu);
			uint32_t mask = pci_read(0, d, 0, reg) & 0xfffcu;
			pci_write(0, d, 0, reg, v);
			own_io[n_own_io].base = v & ~3u;
			own_io[n_own_io].size = mask ? (~mask & 0xffffu) + 1 : 4;
			n_own_io++;
		}
	}
}

int main(unsigned vcpu)
{
	char line[160];
	struct mica_self_info info;
	self_info(&info);
	printf("attack_io: start in '%s'\n", info.name);

	/* Is there a PCI bus? Mechanism #1's address register reads back what was written. */
	outl(0xcf8, 0x80000000u);
	int pci = inl(0xcf8) == 0x80000000u;
	outl(0xcf8, 0);
	uint32_t id0;
	unsigned fns = pci ? own_functions(&id0) : 0;
	if (pci)
		own_io_bars();
	printf("attack_io: %s, %u PCI functions, %u I/O BARs\n", pci ? "a PCI bus" : "no PCI bus",
	       fns, n_own_io);
	for (unsigned i = 0; i < n_own_io; i++)
		printf("attack_io: own I/O BAR at ports 0x%x-0x%x\n", own_io[i].base,
		       own_io[i].base + own_io[i].size - 1);

	/* 1. Every port, every width: reads. A port nobody gave us reads all ones. */
	unsigned answered = 0;
	uint32_t first_bad = 0;
	for (unsigned size = 1; size <= 4; size *= 2)
		for (uint32_t port = 0; port + size <= 0x10000; port++) {
			if (owned(port, size, pci))
				continue;
			uint32_t want = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
			if (in((uint16_t)port, size) != want) {
				if (!answered)
					first_bad = port;
				answered++;
			}
		}
	snprintf(line, sizeof(line), "every port at widths 1, 2, 4 outside the partition's "
		 "own devices reads all ones (%u did not, first 0x%x)", answered, first_bad);
	check(!answered, line);

	/* 2. The host's PCI functions through mechanism #1: the q35's host bridge, LPC, SATA,
	 * SMBus, its first NIC and the bridges, by the address and by their command words. */
	static const uint8_t host_fns[][2] = { { 0, 0 }, { 31, 0 }, { 31, 2 }, { 31, 3 },
					       { 1, 0 }, { 2, 0 }, { 3, 0 }, { 4, 0 } };
	int leaked = 0;
	for (unsigned i = 0; i < sizeof(host_fns) / sizeof(host_fns[0]); i++) {
		unsigned d = host_fns[i][0], f = host_fns[i][1];
		uint32_t before = pci_read(0, d, f, 0);
		if (pci && before != 0xffffffffu)
			continue; /* one of this partition's own functions */
		pci_write(0, d, f, 4, 0); /* command: memory, I/O, bus mastering off */
		pci_write(0, d, f, 0x10, 0xffffffffu); /* BAR sizing */
		leaked |= pci_read(0, d, f, 0) != 0xffffffffu;
	}
	for (unsigned bus = 1; bus < 256; bus++) /* and every other bus's first function */
		leaked |= pci_read(bus, 0, 0, 0) != 0xffffffffu;
	outl(0xcf8, 0);
	check(!leaked, "the host's PCI functions are invisible through 0xCF8/0xCFC, on bus 0 "
	      "and buses 1-255");

	/* 3. CMOS and the host UART's other ports (COM2-4): writes go nowhere. */
	outb(0x70, 0x0f); /* shutdown status byte */
	outb(0x71, 0x0a);
	outb(0x70, 0x8f); /* with NMI off */
	outb(0x71, 0x05);
	for (uint16_t p = 0x2f8; p < 0x300; p++)
		outb(p, 0);
	check(inb(0x71) == 0xff, "CMOS writes go nowhere: index 0x0f reads all ones");

	/* 4. Every port, every width: writes of 0 and of all ones, the debug exit excepted. */
	for (unsigned size = 1; size <= 4; size *= 2)
		for (uint32_t port = 0; port + size <= 0x10000; port++) {
			if (owned(port, size, pci))
				continue;
			out((uint16_t)port, size, 0);
			out((uint16_t)port, size, 0xffffffffu);
		}
	printf("attack_io: wrote 0 and all ones to every port at every width\n");

	/* 5. The reset lines: here they are either empty ports or this partition's own reset
	 * (a PC platform); the plain partition runs on past them. */
	outb(0xcf9, 0x06);
	outb(0xcf9, 0x0e);
	outb(0x92, 0x01);
	outb(0x64, 0xfe);
	printf("attack_io: the reset lines 0xCF9, 0x92 and 0x64 were pulled; still here\n");

	/* 6. The partition's own devices still behave. */
	uart_printf("attack_io: this line came through the partition's own UART\n");
	if (pci) {
		uint32_t id;
		check(own_functions(&id) == fns && id == id0,
		      "the partition's own PCI bus shows the same functions afterwards");
	}
	if (check_failures)
		printf("FAIL: attack_io, %d checks failed\n", check_failures);
	else
		printf("PASS: attack_io\n");
	return check_failures ? 1 : 0;
}
