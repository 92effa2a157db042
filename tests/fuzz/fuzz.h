/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c, docs/security.md): each one
 * feeds bytes to one module and checks that module's invariants with FUZZ_CHECK, which
 * aborts (a crash libFuzzer keeps) with the invariant's words. */
#ifndef MICA_TESTS_FUZZ_H
#define MICA_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                          \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "invariant broken (%s:%d): ", __FILE__, __LINE__);  \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* A NUL-terminated error buffer must hold a sentence, NUL-terminated, after a failure. */
static inline void fuzz_check_msg(const char *err, size_t len)
{
	FUZZ_CHECK(memchr(err, 0, len) != NULL, "error message not NUL-terminated");
	FUZZ_CHECK(err[0] != 0, "a failure without a message");
}

/* Input bytes taken one field at a time (0 once the input runs out). */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)*in->p << (8 * i);
	return v;
}

#endif
