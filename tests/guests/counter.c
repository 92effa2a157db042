/* counter: a partition that keeps running. Prints a count about every 0.3 s through the
 * UART, forever, so a scenario can show it was not disturbed by its neighbours. */
#include "lib/guest.h"

int main(unsigned vcpu)
{
	struct mica_self_info info;
	unsigned restarts = 0;

	if (self_info(&info) == (long)sizeof(info))
		restarts = info.restarts;
	uart_printf("counter: start (restarts %u)\n", restarts);
	for (unsigned long n = 1;; n++) {
		delay_ms(300);
		uart_printf("count %lu\n", n);
	}
}
