/* The host's consoles (kernel/hostcon.h). */
#include <stdio.h>
#include <string.h>

#include "kernel/arch.h"
#include "kernel/host/acpi.h"
#include "kernel/host/fbcon.h"
#include "kernel/hostcon.h"
#include "kernel/log.h"
#include "lib/uart16550.h"

/* Set up by the boot CPU before the others start; the screen is written under the log
 * lock (kernel/log.c). */
static struct fbcon screen;
static int screen_on;
static char serial_text[96];
static char screen_text[96];

static uint8_t isa_irq(uint16_t port)
{
	return (port == 0x2f8 || port == 0x2e8) ? 3 : 4;
}

/* Sets up port (0: none) and says so; from: where the choice came from. */
static void serial_use(uint16_t port, uint8_t irq, const char *from)
{
	int rc = arch_console_init(port, irq);

	if (!port)
		snprintf(serial_text, sizeof(serial_text), "no serial port (%s)", from);
	else if (rc)
		snprintf(serial_text, sizeof(serial_text), "no serial port (no UART answers at "
			 "0x%x, %s)", port, from);
	else
		snprintf(serial_text, sizeof(serial_text), "serial port 0x%x, IRQ %u (%s)",
			 port, irq, from);
}

void hostcon_serial_start(const struct boot_info *bi, const struct cfg_host *host)
{
	(void)bi;
	if (host && host->serial_given)
		serial_use(host->serial_port, host->serial_irq, "the config");
	else
		serial_use(UART_COM1_PORT, UART_COM1_IRQ, "the default");
}

void hostcon_serial_spcr(const struct boot_info *bi, const struct cfg_host *host)
{
	struct acpi_spcr sp;

	if (host && host->serial_given)
		return; /* the config's choice stands */
	/* An I/O-port 16550 (or 16450): Mica drives those; anything else stays COM1. */
	if (acpi_spcr(bi->acpi_rsdp, &sp) || sp.space != 1 || !sp.addr || sp.addr > 0xfff8 ||
	    (sp.type != 0 && sp.type != 1 && sp.type != 0x12))
		return;
	serial_use((uint16_t)sp.addr, sp.irq ? sp.irq : isa_irq((uint16_t)sp.addr),
		   "the SPCR table");
}

void hostcon_screen_start(const struct boot_info *bi, const struct cfg_host *host)
{
	const struct boot_framebuffer *fb = &bi->fb;
	uint32_t *px;

	if (host && host->screen == CFG_SCREEN_OFF) {
		snprintf(screen_text, sizeof(screen_text), "screen off (the config)");
		return;
	}
	if (!fb->format || !fb->base) {
		snprintf(screen_text, sizeof(screen_text), "no screen (the boot path found no "
			 "framebuffer)");
		return;
	}
	px = arch_map_mmio(fb->base, (uint64_t)fb->pitch * fb->height * 4);
	if (!px || fbcon_init(&screen, fb, px)) {
		snprintf(screen_text, sizeof(screen_text), "no screen (a %ux%u framebuffer Mica "
			 "cannot use)", fb->width, fb->height);
		return;
	}
	screen_on = 1;
	snprintf(screen_text, sizeof(screen_text), "screen %ux%u, %ux%u characters", fb->width,
		 fb->height, screen.cols, screen.rows);
}

void hostcon_describe(void)
{
	log_info("console: %s; %s", serial_text, screen_text);
}

void hostcon_screen_write(const char *s, size_t n)
{
	if (screen_on)
		fbcon_write(&screen, s, n);
}
