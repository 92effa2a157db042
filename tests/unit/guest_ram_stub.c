/* guest_ram_prepare() for the host tests and fuzzers (tests/unit/guest_ram_stub.h). */
#include <string.h>
#include "kernel/loader/guest_ram.h"
#include "tests/unit/guest_ram_stub.h"

#define PIECE (2ULL << 20)
#define PIECES_MAX 512

static uint8_t *watched;
static uint64_t watched_size;
static uint8_t announced[PIECES_MAX];
static int outside; /* an announcement beyond the RAM */

void guest_ram_watch(void *ram, uint64_t size)
{
	watched = ram;
	watched_size = size <= PIECES_MAX * PIECE ? size : PIECES_MAX * PIECE;
	memset(announced, 0, sizeof(announced));
	outside = 0;
	memset(ram, GUEST_RAM_FILL, watched_size);
}

void guest_ram_prepare(void *ram, uint64_t gpa, uint64_t len)
{
	if (!watched || ram != watched || !len)
		return;
	if (len > watched_size || gpa > watched_size - len) {
		outside = 1;
		return;
	}
	for (uint64_t k = gpa / PIECE; k <= (gpa + len - 1) / PIECE; k++)
		if (!announced[k]) {
			uint64_t n = watched_size - k * PIECE < PIECE ? watched_size - k * PIECE : PIECE;
			memset(watched + k * PIECE, 0, n);
			announced[k] = 1;
		}
}

uint64_t guest_ram_unannounced(void)
{
	if (outside)
		return 0;
	for (uint64_t a = 0; a < watched_size; a++)
		if (!announced[a / PIECE] && watched[a] != GUEST_RAM_FILL)
			return a;
	return UINT64_MAX;
}

int guest_ram_announced(uint64_t gpa, uint64_t len)
{
	for (uint64_t k = gpa / PIECE; len && k <= (gpa + len - 1) / PIECE && k < PIECES_MAX; k++)
		if (announced[k])
			return 1;
	return 0;
}
