/* tui: writes what a full-screen program writes. About every 200 ms a frame: cursor home
 * and clear screen, "tui: frame N " and 200 letters on one line (longer than the 160
 * characters Mica's prefixed console lines hold), inverse video around "INV", CR LF;
 * forever. Attached to (console tui at the management console) it must arrive byte for
 * byte; otherwise Mica's usual console splits and prefixes it (tests/e2e/manage.py). */
#include "lib/guest.h"

#define LETTERS 200

int main(unsigned vcpu)
{
	char letters[LETTERS];

	for (unsigned i = 0; i < LETTERS; i++)
		letters[i] = (char)('a' + i % 26);
	for (unsigned long n = 1;; n++) {
		delay_ms(200);
		uart_printf("\x1b[H\x1b[2Jtui: frame %lu ", n);
		uart_write(letters, LETTERS);
		uart_printf(" \x1b[7mINV\x1b[0m\r\n");
	}
}
