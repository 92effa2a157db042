/* The loader's messages: the UEFI console for a person at the screen, COM1 for logs.
 * OVMF under QEMU (and many server firmwares) already mirror ConOut onto a UART; then a
 * direct write would show every line twice, so COM1 is only written when no ConOut device
 * is a serial terminal. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "boot/say.h"
#include "lib/uart16550.h"
#include "loader.h"


/* UEFI 2.10 10.3.4.11: messaging device path, UART subtype. */
#define DP_TYPE_MESSAGING 3
#define DP_SUBTYPE_UART   14
#define DP_TYPE_END       0x7F
#define DP_SUBTYPE_END_ALL 0xFF

/* Owned by the boot CPU; the loader is single-threaded. */
static int serial_direct; /* write COM1 ourselves */
static int conout_alive;  /* boot services are still there */

/* 115200 8N1, FIFOs on; only when the firmware does not drive the port itself. */
static void serial_setup(void)
{
	if (!uart_setup(UART_COM1_PORT))
		serial_direct = 1;
}

/* Walks a (multi-instance) device path of at most len bytes looking for a UART node. */
static int path_has_uart(const EFI_DEVICE_PATH *dp, uint64_t len)
{
	const uint8_t *p = (const uint8_t *)dp, *end = p + len;

	while (p + 4 <= end) {
		uint16_t n = (uint16_t)(p[2] | p[3] << 8);

		if (p[0] == DP_TYPE_MESSAGING && p[1] == DP_SUBTYPE_UART)
			return 1;
		if (p[0] == DP_TYPE_END && p[1] == DP_SUBTYPE_END_ALL)
			return 0;
		if (n < 4)
			return 0; /* malformed: stop */
		p += n;
	}
	return 0;
}

/* The "ConOut" variable lists the devices the console splitter writes to. */
static int conout_var_has_uart(void)
{
	static EFI_GUID global = EFI_GLOBAL_VARIABLE;
	uint8_t buf[1024];
	UINTN size = sizeof(buf);

	if (g_st->RuntimeServices->GetVariable(L"ConOut", &global, NULL, &size, buf) != EFI_SUCCESS)
		return 0;
	return path_has_uart((EFI_DEVICE_PATH *)buf, size);
}

/* Every handle with a text output protocol whose device path ends in a UART. */
static int text_out_handles_have_uart(void)
{
	static EFI_GUID text_out = EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL_GUID;
	static EFI_GUID devpath = EFI_DEVICE_PATH_PROTOCOL_GUID;
	EFI_HANDLE *h = NULL;
	UINTN n = 0;
	int found = 0;

	if (g_bs->LocateHandleBuffer(ByProtocol, &text_out, NULL, &n, &h) != EFI_SUCCESS)
		return 0;
	for (UINTN i = 0; i < n && !found; i++) {
		EFI_DEVICE_PATH *dp;

		if (g_bs->HandleProtocol(h[i], &devpath, (void **)&dp) == EFI_SUCCESS && dp)
			found = path_has_uart(dp, 4096); /* ends at its end node */
	}
	g_bs->FreePool(h);
	return found;
}

void con_init(void)
{
	conout_alive = 1;
	if (!conout_var_has_uart() && !text_out_handles_have_uart())
		serial_setup();
}

void con_boot_services_gone(void)
{
	conout_alive = 0;
	if (!serial_direct)
		serial_setup(); /* the firmware's terminal is gone; 0x3F8 is ours now */
}

static void conout_write(const char *s)
{
	CHAR16 wide[260];
	size_t i = 0;

	for (; *s && i < 259; s++)
		wide[i++] = (unsigned char)*s < 0x80 ? (CHAR16)*s : L'?';
	wide[i] = 0;
	g_st->ConOut->OutputString(g_st->ConOut, wide);
}

void con_write(const char *line, size_t n)
{
	if (conout_alive)
		conout_write(line);
	for (size_t i = 0; i < n && serial_direct; i++)
		if (uart_putc(UART_COM1_PORT, line[i]))
			serial_direct = 0; /* no UART answers: stop trying rather than hang */
}

void con_pause(unsigned seconds)
{
	EFI_EVENT timer, wait[2];
	UINTN which;
	EFI_INPUT_KEY key;

	if (!conout_alive)
		return;
	con_say("press a key to return to the firmware (or wait %u s)", seconds);
	if (g_bs->CreateEvent(EVT_TIMER, 0, NULL, NULL, &timer) != EFI_SUCCESS)
		return;
	g_bs->SetTimer(timer, TimerRelative, (UINT64)seconds * 10000000); /* 100 ns units */
	wait[0] = timer;
	wait[1] = g_st->ConIn ? g_st->ConIn->WaitForKey : NULL;
	g_bs->WaitForEvent(wait[1] ? 2 : 1, wait, &which);
	if (which == 1)
		g_st->ConIn->ReadKeyStroke(g_st->ConIn, &key);
	g_bs->CloseEvent(timer);
}
