/* lib/string.c, the freestanding string functions of the core and the service partition,
 * against what the C library promises; built here under other names (the host's libc
 * keeps its own). memcpy's 8-byte moves are checked at lengths and misalignments around
 * their edges, with guard bytes on both sides. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#define memcpy mica_memcpy
#define memmove mica_memmove
#define memset mica_memset
#define memcmp mica_memcmp
#define strlen mica_strlen
#define strnlen mica_strnlen
#define strcmp mica_strcmp
#define strncmp mica_strncmp
#define strchr mica_strchr
#include "lib/string.c"
#undef memcpy
#undef memmove
#undef memset
#undef memcmp
#undef strlen
#undef strnlen
#undef strcmp
#undef strncmp
#undef strchr

#define AREA 512
#define GUARD 0xee

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + 1);
}

Test(string, memcpy_every_length_and_alignment)
{
	static uint8_t src[AREA], dst[AREA + 32], want[AREA + 32];
	static const size_t lens[] = { 0, 1, 7, 8, 63, 64, 65, 71, 127, 128, 129, 191, 200, 255, 256, 257, 447 };

	fill(src, sizeof(src), 3);
	for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++)
		for (unsigned so = 0; so < 9; so++)
			for (unsigned dof = 0; dof < 9; dof++) {
				size_t n = lens[l];
				memset(dst, GUARD, sizeof(dst));
				memset(want, GUARD, sizeof(want));
				memcpy(want + 8 + dof, src + so, n);
				void *r = mica_memcpy(dst + 8 + dof, src + so, n);
				cr_assert_eq(r, dst + 8 + dof);
				cr_assert(memcmp(dst, want, sizeof(dst)) == 0,
					  "len %zu, source offset %u, destination offset %u", n, so, dof);
			}
}

Test(string, memcpy_large)
{
	size_t n = (1u << 20) + 4096 + 13;
	uint8_t *src = malloc(n), *dst = malloc(n + 2);

	cr_assert(src && dst);
	fill(src, n, 9);
	dst[0] = dst[n + 1] = GUARD;
	mica_memcpy(dst + 1, src, n);
	cr_assert(memcmp(dst + 1, src, n) == 0);
	cr_assert_eq(dst[0], GUARD);
	cr_assert_eq(dst[n + 1], GUARD);
	free(src);
	free(dst);
}

Test(string, memset_and_memmove)
{
	uint8_t a[300], b[300];

	for (unsigned off = 0; off < 9; off++) {
		memset(a, 1, sizeof(a));
		memset(b, 1, sizeof(b));
		mica_memset(a + off, 0x5a, 200);
		memset(b + off, 0x5a, 200);
		cr_assert(memcmp(a, b, sizeof(a)) == 0, "offset %u", off);
	}
	fill(a, sizeof(a), 1);
	memcpy(b, a, sizeof(a));
	mica_memmove(a + 5, a, 100); /* overlapping, forwards */
	memmove(b + 5, b, 100);
	cr_assert(memcmp(a, b, sizeof(a)) == 0);
	mica_memmove(a, a + 7, 100); /* overlapping, backwards */
	memmove(b, b + 7, 100);
	cr_assert(memcmp(a, b, sizeof(a)) == 0);
}

Test(string, compare_and_search)
{
	cr_assert_eq(mica_memcmp("abc", "abd", 3) < 0, 1);
	cr_assert_eq(mica_memcmp("abc", "abc", 3), 0);
	cr_assert_eq(mica_strlen("mica"), 4);
	cr_assert_eq(mica_strnlen("mica", 2), 2);
	cr_assert_eq(mica_strcmp("a", "b") < 0, 1);
	cr_assert_eq(mica_strncmp("abcx", "abcy", 3), 0);
	const char *s = "a=b";
	cr_assert_eq(mica_strchr(s, '='), s + 1);
	cr_assert_null(mica_strchr(s, 'z'));
}
