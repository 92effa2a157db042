/* A Multiboot (v1) test kernel, 32-bit, as small kernels are: it checks what a Multiboot
 * loader must give it and says what it found on COM1, then leaves through QEMU's debug-exit
 * port with a code the test runner checks. It runs the same under Mica and under bare
 * `qemu-system-x86_64 -kernel` (tests/e2e/multiboot.py runs both).
 *
 * Lines: "mboot: ..." facts; "mboot: FAIL ..." for each broken expectation. Exit code (the
 * value written to port 0xF4): 0x21 when everything held, 0x30 + the number of failures
 * otherwise. The command line may say `mods=N` (the modules to expect). */
#include <stdint.h>
#include "lib/uart16550.h"

#define MB_BOOT_MAGIC 0x2BADB002u
#define DEBUG_EXIT    0xF4
#define EXIT_OK       0x21

struct mbi {
	uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr, drives_length, drives_addr, config_table;
	uint32_t boot_loader_name;
};

static unsigned failures;

static void putc_(char c)
{
	if (c == '\n')
		uart_putc(UART_COM1_PORT, '\r');
	while (uart_putc(UART_COM1_PORT, c))
		;
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void putu(uint64_t v, unsigned base)
{
	char b[24];
	int n = 0;
	do {
		b[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		putc_(b[--n]);
}

static void fail(const char *what)
{
	puts_("mboot: FAIL ");
	puts_(what);
	putc_('\n');
	failures++;
}

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()), bit by bit. */
static uint32_t crc32(const uint8_t *p, uint32_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xEDB88320u & -(c & 1));
	}
	return ~c;
}

static const char *find(const char *s, const char *w)
{
	for (; *s; s++) {
		const char *a = s, *b = w;
		while (*b && *a == *b)
			a++, b++;
		if (!*b)
			return a;
	}
	return 0;
}

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned bcd(uint8_t v)
{
	return (v >> 4) * 10u + (v & 15u);
}

static void exit_with(uint32_t code)
{
	__asm__ volatile("outl %0, %1" : : "a"(code), "Nd"((uint16_t)DEBUG_EXIT));
}

void kmain(uint32_t magic, const struct mbi *mbi);
void kmain(uint32_t magic, const struct mbi *mbi)
{
	uart_setup(UART_COM1_PORT);
	puts_("mboot: started in 32-bit protected mode\n");
	if (magic != MB_BOOT_MAGIC) {
		fail("EAX is not the Multiboot magic");
		exit_with(0x30 + failures);
		return;
	}
	uint32_t cr0;
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	if ((cr0 & 0x80000001u) != 1)
		fail("CR0: expected protection on, paging off");

	if (mbi->flags & (1u << 9)) {
		puts_("mboot: loader ");
		puts_((const char *)mbi->boot_loader_name);
		putc_('\n');
	}
	const char *cmd = (mbi->flags & (1u << 2)) ? (const char *)mbi->cmdline : "";
	puts_("mboot: cmdline ");
	puts_(cmd);
	putc_('\n');

	if (!(mbi->flags & 1))
		fail("no mem_lower/mem_upper");
	else if (mbi->mem_lower < 600 || mbi->mem_upper < 1024)
		fail("mem_lower/mem_upper too small");
	else {
		puts_("mboot: mem_lower ");
		putu(mbi->mem_lower, 10);
		puts_(" KiB, mem_upper ");
		putu(mbi->mem_upper, 10);
		puts_(" KiB\n");
	}

	uint64_t usable = 0;
	unsigned entries = 0;
	if (!(mbi->flags & (1u << 6))) {
		fail("no memory map");
	} else {
		for (uint32_t p = mbi->mmap_addr; p < mbi->mmap_addr + mbi->mmap_length;) {
			uint32_t size = *(const uint32_t *)p;
			uint64_t base = *(const uint64_t *)(p + 4), len = *(const uint64_t *)(p + 12);
			uint32_t type = *(const uint32_t *)(p + 20);
			if (type == 1 && base >= 0x100000 && base < 0x100000000ull)
				usable += len;
			entries++;
			p += size + 4;
		}
		/* RAM above 1 MiB in the map must agree with mem_upper (both below 4 GiB and
		 * before the first hole: QEMU's map has one block there, as Mica's). */
		puts_("mboot: memory map ");
		putu(entries, 10);
		puts_(" entries, ");
		putu(usable >> 10, 10);
		puts_(" KiB usable above 1 MiB\n");
		if ((usable >> 10) < mbi->mem_upper)
			fail("the memory map has less RAM above 1 MiB than mem_upper");
	}

	unsigned want = 0;
	const char *m = find(cmd, "mods=");
	if (m)
		want = (unsigned)(*m - '0');
	unsigned n = (mbi->flags & (1u << 3)) ? mbi->mods_count : 0;
	if (n != want)
		fail("module count differs from mods= on the command line");
	for (unsigned i = 0; i < n; i++) {
		const uint32_t *mod = (const uint32_t *)(mbi->mods_addr + 16 * i);
		puts_("mboot: module ");
		putu(i, 10);
		puts_(" ");
		putu(mod[1] - mod[0], 10);
		puts_(" bytes crc32 ");
		putu(crc32((const uint8_t *)mod[0], mod[1] - mod[0]), 16);
		if (mod[0] & 0xFFF)
			fail("module not page aligned");
		puts_("\n");
	}

	/* The PC's clock, as a kernel reads it: the date in BCD after the update flag. */
	while (cmos(0x0A) & 0x80)
		;
	unsigned year = bcd(cmos(0x32)) * 100 + bcd(cmos(0x09));
	unsigned month = bcd(cmos(0x08)), day = bcd(cmos(0x07));
	puts_("mboot: rtc date ");
	putu(year, 10);
	putc_('-');
	putu(month, 10);
	putc_('-');
	putu(day, 10);
	putc_('\n');
	if (year < 2024 || month < 1 || month > 12 || day < 1 || day > 31)
		fail("the RTC's date is not a date of our time");

	/* The 8259s: masked, and an initialisation leaves the mask we write. */
	outb(0x20, 0x11);
	outb(0x21, 0x20);
	outb(0x21, 0x04);
	outb(0x21, 0x01);
	outb(0x21, 0xFB);
	if (inb(0x21) != 0xFB)
		fail("the PIC's mask does not read back");

	puts_(failures ? "mboot: done with failures\n" : "mboot: PASS\n");
	exit_with(failures ? 0x30 + failures : EXIT_OK);
	for (;;)
		__asm__ volatile("cli; hlt");
}
