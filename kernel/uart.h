/* A guest's 16550 UART: transmit only, always ready; output goes to the partition console. */
#ifndef MICA_UART_H
#define MICA_UART_H

#include <stdint.h>

#define UART_BASE 0x3f8

struct partition;
uint8_t uart_read(struct partition *p, unsigned reg);
void uart_write(struct partition *p, unsigned reg, uint8_t val);

#endif
