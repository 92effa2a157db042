/* The stub's messages, on COM1 only: under GRUB there is no firmware console to share, and
 * the screen is left to GRUB's text mode. 115200 8N1, polled. */
#include "boot/say.h"
#include "lib/uart16550.h"
#include "mb2.h"

/* Boot CPU only: the stub never starts another CPU. */
static int uart_ok;

void con_init(void)
{
	uart_ok = !uart_setup(UART_COM1_PORT);
}

const char con_prefix[] = "mica-mb2";

void con_write(const char *line, size_t n)
{
	for (size_t i = 0; i < n && uart_ok; i++)
		if (uart_putc(UART_COM1_PORT, line[i]))
			uart_ok = 0; /* no UART answers: stop trying rather than hang */
}

void con_halt(const char *todo)
{
	con_say("%s", todo);
	con_say("stopped; power the machine off or reset it");
	for (;;)
		__asm__ volatile("cli; hlt");
}
