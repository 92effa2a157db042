/* kernel/emul/decode.c: a table of real encodings (written out by hand from the SDM opcode
 * pages) in each code mode, every truncation of each, refusals with the bytes in the
 * message, the load/ALU helpers, and random bytes that must never crash (ASan). Inputs are
 * copied into buffers of exactly the given size so any read past `avail` is caught. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include <mica/hypercall.h>

#include "kernel/emul/decode.h"

enum { R = MMIO_DIR_READ, W = MMIO_DIR_WRITE, RMW = MMIO_DIR_RMW };

struct want {
	int mode;
	const char *hex;
	unsigned len, size, dir, op, reg, high8, has_imm;
	uint64_t imm;
	unsigned reg_size, ext, reg_first;
};

#define M64 MMIO_MODE_64
#define M32 MMIO_MODE_32
#define M16 MMIO_MODE_16
#define NONE MMIO_EXT_NONE
#define ZX MMIO_EXT_ZERO
#define SX MMIO_EXT_SIGN

static const struct want table[] = {
	/* 64-bit mode: MOV */
	{ M64, "8b 07", 2, 4, R, .reg = 0, .reg_size = 4 },                    /* mov eax,[rdi] */
	{ M64, "89 10", 2, 4, W, .reg = 2 },                                   /* mov [rax],edx */
	{ M64, "41 89 04 24", 4, 4, W, .reg = 0 },                             /* mov [r12],eax */
	{ M64, "48 8b 05 78 56 34 12", 7, 8, R, .reg = 0, .reg_size = 8 },     /* mov rax,[rip+x] */
	{ M64, "8b 05 00 00 00 00", 6, 4, R, .reg = 0, .reg_size = 4 },        /* mov eax,[rip] */
	{ M64, "66 89 08", 3, 2, W, .reg = 1 },                                /* mov [rax],cx */
	{ M64, "88 20", 2, 1, W, .reg = 0, .high8 = 1 },                       /* mov [rax],ah */
	{ M64, "88 3b", 2, 1, W, .reg = 3, .high8 = 1 },                       /* mov [rbx],bh */
	{ M64, "40 88 20", 3, 1, W, .reg = 4 },                                /* mov [rax],spl */
	{ M64, "88 18", 2, 1, W, .reg = 3 },                                   /* mov [rax],bl */
	{ M64, "44 88 38", 3, 1, W, .reg = 15 },                               /* mov [rax],r15b */
	{ M64, "8a 27", 2, 1, R, .reg = 0, .high8 = 1, .reg_size = 1 },        /* mov ah,[rdi] */
	{ M64, "40 8a 37", 3, 1, R, .reg = 6, .reg_size = 1 },                 /* mov sil,[rdi] */
	{ M64, "44 8a 3f", 3, 1, R, .reg = 15, .reg_size = 1 },                /* mov r15b,[rdi] */
	{ M64, "44 8b 4c 24 08", 5, 4, R, .reg = 9, .reg_size = 4 },           /* mov r9d,[rsp+8] */
	{ M64, "8b 84 24 00 01 00 00", 7, 4, R, .reg = 0, .reg_size = 4 },     /* [rsp+0x100] */
	{ M64, "8b 04 25 00 00 c0 fe", 7, 4, R, .reg = 0, .reg_size = 4 },     /* [0xfec00000] */
	{ M64, "8b 14 8d 00 00 c0 fe", 7, 4, R, .reg = 2, .reg_size = 4 },     /* [rcx*4+d32] */
	{ M64, "8b 45 00", 3, 4, R, .reg = 0, .reg_size = 4 },                 /* mov eax,[rbp+0] */
	{ M64, "41 8b 45 00", 4, 4, R, .reg = 0, .reg_size = 4 },              /* mov eax,[r13+0] */
	{ M64, "48 89 04 c8", 4, 8, W, .reg = 0 },                             /* [rax+rcx*8] */
	{ M64, "4c 89 6d f8", 4, 8, W, .reg = 13 },                            /* mov [rbp-8],r13 */
	{ M64, "4d 89 bc 24 80 00 00 00", 8, 8, W, .reg = 15 },                /* [r12+0x80],r15 */
	{ M64, "67 8b 07", 3, 4, R, .reg = 0, .reg_size = 4 },                 /* mov eax,[edi] */
	{ M64, "65 48 8b 04 25 28 00 00 00", 9, 8, R, .reg = 0, .reg_size = 8 }, /* gs:[0x28] */
	{ M64, "3e 8b 07", 3, 4, R, .reg = 0, .reg_size = 4 },                 /* ds: override */
	{ M64, "f3 89 10", 3, 4, W, .reg = 2 },                                /* xrelease hint */
	{ M64, "48 66 89 08", 4, 2, W, .reg = 1 },          /* REX before 66 is ignored: mov [rax],cx */
	{ M64, "66 48 89 08", 4, 8, W, .reg = 1 },          /* REX.W beats 66 */
	{ M64, "41 48 89 08", 3 + 1, 8, W, .reg = 1 },      /* only the last REX counts (no REX.R) */
	{ M64, "c7 00 78 56 34 12", 6, 4, W, .has_imm = 1, .imm = 0x12345678 },
	{ M64, "48 c7 00 ff ff ff ff", 7, 8, W, .has_imm = 1, .imm = ~0ULL },
	{ M64, "48 c7 00 00 00 00 80", 7, 8, W, .has_imm = 1, .imm = 0xffffffff80000000ULL },
	{ M64, "66 c7 00 34 12", 5, 2, W, .has_imm = 1, .imm = 0x1234 },
	{ M64, "c6 00 ab", 3, 1, W, .has_imm = 1, .imm = 0xab },
	{ M64, "c7 44 24 08 01 00 00 00", 8, 4, W, .has_imm = 1, .imm = 1 },   /* [rsp+8],1 */
	{ M64, "c7 05 10 00 00 00 02 00 00 00", 10, 4, W, .has_imm = 1, .imm = 2 }, /* [rip+16] */
	/* 64-bit mode: MOVZX / MOVSX / MOVSXD */
	{ M64, "0f b6 07", 3, 1, R, .reg = 0, .reg_size = 4, .ext = ZX },      /* movzx eax,byte */
	{ M64, "0f b7 07", 3, 2, R, .reg = 0, .reg_size = 4, .ext = ZX },      /* movzx eax,word */
	{ M64, "66 0f b6 07", 4, 1, R, .reg = 0, .reg_size = 2, .ext = ZX },   /* movzx ax,byte */
	{ M64, "48 0f b7 0f", 4, 2, R, .reg = 1, .reg_size = 8, .ext = ZX },   /* movzx rcx,word */
	{ M64, "44 0f b6 07", 4, 1, R, .reg = 8, .reg_size = 4, .ext = ZX },   /* movzx r8d,byte */
	{ M64, "0f be 07", 3, 1, R, .reg = 0, .reg_size = 4, .ext = SX },      /* movsx eax,byte */
	{ M64, "0f bf 07", 3, 2, R, .reg = 0, .reg_size = 4, .ext = SX },      /* movsx eax,word */
	{ M64, "48 0f be 07", 4, 1, R, .reg = 0, .reg_size = 8, .ext = SX },   /* movsx rax,byte */
	{ M64, "48 63 07", 3, 4, R, .reg = 0, .reg_size = 8, .ext = SX },      /* movsxd rax,[rdi] */
	{ M64, "4c 63 47 04", 4, 4, R, .reg = 8, .reg_size = 8, .ext = SX },   /* movsxd r8,[rdi+4] */
	{ M64, "63 07", 2, 4, R, .reg = 0, .reg_size = 4 },                    /* movsxd eax = mov */
	/* 64-bit mode: moffs (8-byte offset; 4 with 67) */
	{ M64, "a1 00 00 c0 fe 00 00 00 00", 9, 4, R, .reg = 0, .reg_size = 4 },
	{ M64, "a0 00 00 c0 fe 00 00 00 00", 9, 1, R, .reg = 0, .reg_size = 1 },
	{ M64, "48 a1 00 00 c0 fe 00 00 00 00", 10, 8, R, .reg = 0, .reg_size = 8 },
	{ M64, "48 a3 00 00 c0 fe 00 00 00 00", 10, 8, W, .reg = 0 },
	{ M64, "66 a3 00 00 c0 fe 00 00 00 00", 10, 2, W, .reg = 0 },
	{ M64, "a2 00 00 c0 fe 00 00 00 00", 9, 1, W, .reg = 0 },
	{ M64, "67 a1 00 00 c0 fe", 6, 4, R, .reg = 0, .reg_size = 4 },
	/* 64-bit mode: TEST, CMP, OR, AND */
	{ M64, "85 07", 2, 4, R, MMIO_OP_TEST, .reg = 0 },                     /* test [rdi],eax */
	{ M64, "84 27", 2, 1, R, MMIO_OP_TEST, .reg = 0, .high8 = 1 },         /* test [rdi],ah */
	{ M64, "39 07", 2, 4, R, MMIO_OP_CMP, .reg = 0 },                      /* cmp [rdi],eax */
	{ M64, "3b 07", 2, 4, R, MMIO_OP_CMP, .reg = 0, .reg_first = 1 },      /* cmp eax,[rdi] */
	{ M64, "3a 0f", 2, 1, R, MMIO_OP_CMP, .reg = 1, .reg_first = 1 },      /* cmp cl,[rdi] */
	{ M64, "48 39 0f", 3, 8, R, MMIO_OP_CMP, .reg = 1 },                   /* cmp [rdi],rcx */
	{ M64, "83 3f 05", 3, 4, R, MMIO_OP_CMP, .has_imm = 1, .imm = 5 },     /* cmp dword,5 */
	{ M64, "83 3f ff", 3, 4, R, MMIO_OP_CMP, .has_imm = 1, .imm = 0xffffffff },
	{ M64, "48 83 3f ff", 4, 8, R, MMIO_OP_CMP, .has_imm = 1, .imm = ~0ULL },
	{ M64, "80 3f ff", 3, 1, R, MMIO_OP_CMP, .has_imm = 1, .imm = 0xff },
	{ M64, "81 3f 78 56 34 12", 6, 4, R, MMIO_OP_CMP, .has_imm = 1, .imm = 0x12345678 },
	{ M64, "66 81 3f 34 12", 5, 2, R, MMIO_OP_CMP, .has_imm = 1, .imm = 0x1234 },
	{ M64, "f0 83 0f 01", 4, 4, RMW, MMIO_OP_OR, .has_imm = 1, .imm = 1 }, /* lock or */
	{ M64, "83 0f 01", 3, 4, RMW, MMIO_OP_OR, .has_imm = 1, .imm = 1 },
	{ M64, "f0 81 27 ff 00 00 00", 7, 4, RMW, MMIO_OP_AND, .has_imm = 1, .imm = 0xff },
	{ M64, "80 27 fe", 3, 1, RMW, MMIO_OP_AND, .has_imm = 1, .imm = 0xfe },
	/* 32-bit mode */
	{ M32, "8b 07", 2, 4, R, .reg = 0, .reg_size = 4 },
	{ M32, "66 8b 07", 3, 2, R, .reg = 0, .reg_size = 2 },
	{ M32, "89 10", 2, 4, W, .reg = 2 },
	{ M32, "88 20", 2, 1, W, .reg = 0, .high8 = 1 },
	{ M32, "8b 05 00 00 c0 fe", 6, 4, R, .reg = 0, .reg_size = 4 },        /* [disp32] */
	{ M32, "8b 44 24 04", 4, 4, R, .reg = 0, .reg_size = 4 },              /* [esp+4] */
	{ M32, "67 8b 47 08", 4, 4, R, .reg = 0, .reg_size = 4 },              /* [bx+8] */
	{ M32, "a1 00 00 c0 fe", 5, 4, R, .reg = 0, .reg_size = 4 },
	{ M32, "67 a1 00 10", 4, 4, R, .reg = 0, .reg_size = 4 },
	{ M32, "c7 05 00 00 c0 fe 01 00 00 00", 10, 4, W, .has_imm = 1, .imm = 1 },
	{ M32, "0f b6 07", 3, 1, R, .reg = 0, .reg_size = 4, .ext = ZX },
	{ M32, "0f bf 07", 3, 2, R, .reg = 0, .reg_size = 4, .ext = SX },
	/* 16-bit mode */
	{ M16, "8b 07", 2, 2, R, .reg = 0, .reg_size = 2 },                    /* mov ax,[bx] */
	{ M16, "66 8b 07", 3, 4, R, .reg = 0, .reg_size = 4 },                 /* mov eax,[bx] */
	{ M16, "8b 06 00 10", 4, 2, R, .reg = 0, .reg_size = 2 },              /* mov ax,[0x1000] */
	{ M16, "8b 87 34 12", 4, 2, R, .reg = 0, .reg_size = 2 },              /* [bx+0x1234] */
	{ M16, "8b 46 fe", 3, 2, R, .reg = 0, .reg_size = 2 },                 /* [bp-2] */
	{ M16, "67 8b 04 24", 4, 2, R, .reg = 0, .reg_size = 2 },              /* mov ax,[esp] */
	{ M16, "67 8b 05 00 00 c0 fe", 7, 2, R, .reg = 0, .reg_size = 2 },     /* [disp32] */
	{ M16, "a1 34 12", 3, 2, R, .reg = 0, .reg_size = 2 },
	{ M16, "67 66 a1 00 00 c0 fe", 7, 4, R, .reg = 0, .reg_size = 4 },
	{ M16, "c7 06 00 10 34 12", 6, 2, W, .has_imm = 1, .imm = 0x1234 },
	{ M16, "66 c7 06 00 10 78 56 34 12", 9, 4, W, .has_imm = 1, .imm = 0x12345678 },
	{ M16, "26 88 27", 3, 1, W, .reg = 0, .high8 = 1 },                    /* es:[bx],ah */
	{ M16, "0f b6 07", 3, 1, R, .reg = 0, .reg_size = 2, .ext = ZX },      /* movzx ax,[bx] */
};

static unsigned parse(const char *hex, uint8_t *out)
{
	unsigned n = 0;
	while (*hex) {
		if (*hex == ' ') {
			hex++;
			continue;
		}
		out[n++] = (uint8_t)strtoul((char[]){ hex[0], hex[1], 0 }, NULL, 16);
		hex += 2;
	}
	return n;
}

static char err[256];

/* Decodes the first avail bytes from a heap copy of exactly that size. */
static int dec(const uint8_t *bytes, unsigned avail, int mode, struct mmio_insn *out)
{
	uint8_t *copy = malloc(avail ? avail : 1);
	memcpy(copy, bytes, avail);
	memset(err, 0x55, sizeof(err));
	err[sizeof(err) - 1] = '\0';
	int rc = decode_mmio(copy, avail, mode, out, err, sizeof(err));
	free(copy);
	return rc;
}

static void check(const struct want *w, const struct mmio_insn *m)
{
	const char *h = w->hex;
	cr_expect_eq(m->len, w->len, "%s: len %u, want %u", h, m->len, w->len);
	cr_expect_eq(m->size, w->size, "%s: size %u, want %u", h, m->size, w->size);
	cr_expect_eq(m->dir, w->dir, "%s: dir %u, want %u", h, m->dir, w->dir);
	cr_expect_eq(m->op, w->op, "%s: op %u, want %u", h, m->op, w->op);
	cr_expect_eq(m->has_imm, w->has_imm, "%s: has_imm", h);
	if (w->has_imm)
		cr_expect_eq(m->imm, w->imm, "%s: imm %#llx, want %#llx", h,
			     (unsigned long long)m->imm, (unsigned long long)w->imm);
	else
		cr_expect_eq(m->reg, w->reg, "%s: reg %u, want %u", h, m->reg, w->reg);
	cr_expect_eq(m->high8, w->high8, "%s: high8 %u", h, m->high8);
	cr_expect_eq(m->reg_size, w->reg_size, "%s: reg_size %u, want %u", h, m->reg_size,
		     w->reg_size);
	cr_expect_eq(m->ext, w->ext, "%s: ext %u, want %u", h, m->ext, w->ext);
	cr_expect_eq(m->reg_first, w->reg_first, "%s: reg_first", h);
}

Test(decode, table_of_encodings)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct want *w = &table[i];
		uint8_t b[32];
		struct mmio_insn m;
		unsigned n = parse(w->hex, b);
		cr_assert_eq(n, w->len, "table entry %s has %u bytes, says %u", w->hex, n, w->len);
		cr_assert_eq(dec(b, n, w->mode, &m), 0, "%s (mode %d): %s", w->hex, w->mode, err);
		check(w, &m);
		/* Trailing bytes (the next instruction) change nothing. */
		memset(b + n, 0x8b, sizeof(b) - n);
		cr_assert_eq(dec(b, sizeof(b), w->mode, &m), 0, "%s + tail: %s", w->hex, err);
		check(w, &m);
	}
}

Test(decode, every_truncation_is_refused)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct want *w = &table[i];
		uint8_t b[32];
		struct mmio_insn m;
		unsigned n = parse(w->hex, b);
		for (unsigned avail = 0; avail < n; avail++) {
			memset(&m, 0xa5, sizeof(m));
			cr_expect_eq(dec(b, avail, w->mode, &m), MICA_EINVAL, "%s cut to %u accepted",
				     w->hex, avail);
			cr_expect(strstr(err, "truncated") != NULL, "%s cut to %u: %s", w->hex, avail,
				  err);
			cr_expect_eq(m.len, 0xa5, "%s cut to %u: *out written on failure", w->hex,
				     avail);
		}
	}
}

static void expect_refused(int mode, const char *hex, const char *msg)
{
	uint8_t b[32];
	struct mmio_insn m;
	unsigned n = parse(hex, b);
	cr_expect_eq(dec(b, n, mode, &m), MICA_EINVAL, "%s accepted", hex);
	cr_expect_str_eq(err, msg);
}

Test(decode, unknown_and_invalid_are_refused_with_their_bytes)
{
	expect_refused(M64, "0f 0b",
		       "cannot emulate MMIO access by opcode 0f 0b (instruction bytes: 0f 0b)");
	expect_refused(M64, "ff 00", "cannot emulate MMIO access by opcode ff "
		       "(instruction bytes: ff 00)");
	expect_refused(M64, "8b c0", "opcode 8b with a register operand does not access memory "
		       "(instruction bytes: 8b c0)");
	expect_refused(M64, "f0 89 10", "LOCK prefix on opcode 89, which the CPU refuses with "
		       "#UD (instruction bytes: f0 89 10)");
	expect_refused(M64, "c7 08 01 00 00 00", "cannot emulate MMIO access by opcode c7 /1 "
		       "(instruction bytes: c7 08 01 00 00 00)");
	expect_refused(M64, "83 07 01", "cannot emulate MMIO access by opcode 83 /0 "
		       "(instruction bytes: 83 07 01)");
	expect_refused(M64, "66 63 07", "MOVSXD with a 16-bit operand size is not emulated "
		       "(instruction bytes: 66 63 07)");
	expect_refused(M32, "63 07", "cannot emulate MMIO access by opcode 63 (ARPL outside "
		       "64-bit mode) (instruction bytes: 63 07)");
	expect_refused(M32, "48 8b 07", "cannot emulate MMIO access by opcode 48 (INC/DEC "
		       "outside 64-bit mode) (instruction bytes: 48 8b 07)");
	expect_refused(M64, "", "instruction truncated: 0 bytes available (instruction bytes: "
		       "none)");
	expect_refused(M64, "f3 a5", "cannot emulate MMIO access by opcode a5 "
		       "(instruction bytes: f3 a5)"); /* rep movsd */
	expect_refused(M64, "0f b6 c0", "opcode b6 with a register operand does not access "
		       "memory (instruction bytes: 0f b6 c0)");

	struct mmio_insn m;
	cr_expect_eq(decode_mmio((const uint8_t *)"\x8b\x07", 2, 48, &m, err, sizeof(err)),
		     MICA_EINVAL);
	cr_expect_str_eq(err, "code mode 48 is none of 16, 32, 64 (instruction bytes: 8b 07)");
	cr_expect_eq(decode_mmio(NULL, 5, M64, &m, NULL, 0), MICA_EINVAL);
}

Test(decode, fifteen_bytes_at_most)
{
	uint8_t b[32];
	struct mmio_insn m;
	/* 13 prefixes + 89 10 = 15 bytes: legal. */
	memset(b, 0x3e, 13);
	b[13] = 0x89;
	b[14] = 0x10;
	cr_assert_eq(dec(b, 15, M64, &m), 0, "%s", err);
	cr_expect_eq(m.len, 15);
	/* One more prefix: 16 bytes, which the CPU refuses with #GP. */
	memset(b, 0x3e, 14);
	b[14] = 0x89;
	b[15] = 0x10;
	cr_expect_eq(dec(b, 16, M64, &m), MICA_EINVAL);
	cr_expect(strncmp(err, "instruction longer than 15 bytes", 32) == 0, "%s", err);
	/* Displacement and immediate pushing past 15. */
	memcpy(b, "\x3e\x3e\x3e\x3e\x3e\x3e\x48\xc7\x84\x24\x00\x00\x00\x00\xff\xff\xff\xff", 18);
	cr_expect_eq(dec(b, 18, M64, &m), MICA_EINVAL);
	cr_expect(strstr(err, "longer than 15") != NULL, "%s", err);
}

Test(decode, load_results_follow_the_register_write_rules)
{
	uint8_t b[16];
	struct mmio_insn m;
	const uint64_t old = 0x1122334455667788ULL;

	cr_assert_eq(dec(b, parse("8b 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0xdeadbeef), 0xdeadbeefULL); /* upper cleared */
	cr_assert_eq(dec(b, parse("66 8b 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0xbeef), 0x112233445566beefULL);
	cr_assert_eq(dec(b, parse("8a 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x1ef), 0x11223344556677efULL);
	cr_assert_eq(dec(b, parse("8a 27", b), M64, &m), 0); /* mov ah,[rdi] */
	cr_expect_eq(mmio_load_result(&m, old, 0xef), 0x112233445566ef88ULL);
	cr_assert_eq(dec(b, parse("48 8b 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x8000000000000001ULL), 0x8000000000000001ULL);
	cr_assert_eq(dec(b, parse("0f b6 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x80), 0x80ULL);
	cr_assert_eq(dec(b, parse("66 0f b6 07", b), M64, &m), 0); /* movzx ax: keeps 63:16 */
	cr_expect_eq(mmio_load_result(&m, old, 0x80), 0x1122334455660080ULL);
	cr_assert_eq(dec(b, parse("0f be 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x80), 0xffffff80ULL);
	cr_assert_eq(dec(b, parse("48 0f bf 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x8001), 0xffffffffffff8001ULL);
	cr_assert_eq(dec(b, parse("48 63 07", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x80000000), 0xffffffff80000000ULL);
	cr_expect_eq(mmio_load_result(&m, old, 0x7fffffff), 0x7fffffffULL);
	cr_assert_eq(dec(b, parse("a0 00 00 00 00 00 00 00 00", b), M64, &m), 0);
	cr_expect_eq(mmio_load_result(&m, old, 0x42), 0x1122334455667742ULL);
}

Test(decode, store_operands)
{
	uint8_t b[16];
	struct mmio_insn m;
	const uint64_t rax = 0x1122334455667788ULL;

	cr_assert_eq(dec(b, parse("88 20", b), M64, &m), 0); /* mov [rax],ah */
	cr_expect_eq(mmio_operand(&m, rax), 0x77);
	cr_assert_eq(dec(b, parse("40 88 20", b), M64, &m), 0); /* spl: low byte of rsp */
	cr_expect_eq(mmio_operand(&m, rax), 0x88);
	cr_assert_eq(dec(b, parse("66 89 08", b), M64, &m), 0);
	cr_expect_eq(mmio_operand(&m, rax), 0x7788);
	cr_assert_eq(dec(b, parse("89 08", b), M64, &m), 0);
	cr_expect_eq(mmio_operand(&m, rax), 0x55667788);
	cr_assert_eq(dec(b, parse("48 89 08", b), M64, &m), 0);
	cr_expect_eq(mmio_operand(&m, rax), rax);
	cr_assert_eq(dec(b, parse("c7 00 ff ff ff ff", b), M64, &m), 0);
	cr_expect_eq(mmio_operand(&m, rax), 0xffffffffULL);
}

Test(decode, alu_flags)
{
	uint8_t b[16];
	struct mmio_insn m;
	uint64_t fl;
	const uint64_t CF = 1, PF = 4, AF = 0x10, ZF = 0x40, SF = 0x80, OF = 0x800;
	const uint64_t keep = 0x202; /* IF and the fixed bit survive */

	cr_assert_eq(dec(b, parse("39 07", b), M64, &m), 0); /* cmp [rdi],eax */
	fl = keep | CF | OF;
	cr_expect_eq(mmio_alu(&m, 5, 5, &fl), 0);
	cr_expect_eq(fl, keep | ZF | PF);
	fl = keep;
	cr_expect_eq(mmio_alu(&m, 1, 2, &fl), 0xffffffffULL);
	cr_expect_eq(fl, keep | CF | SF | PF | AF);
	fl = keep;
	cr_expect_eq(mmio_alu(&m, 0x80000000, 1, &fl), 0x7fffffffULL);
	cr_expect_eq(fl, keep | OF | AF | PF);
	cr_assert_eq(dec(b, parse("3b 07", b), M64, &m), 0); /* cmp eax,[rdi]: eax - mem */
	fl = keep;
	mmio_alu(&m, 2, 1, &fl);
	cr_expect_eq(fl, keep | CF | SF | PF | AF);
	cr_assert_eq(dec(b, parse("80 3f 01", b), M64, &m), 0); /* byte compare */
	fl = keep;
	cr_expect_eq(mmio_alu(&m, 0x80, mmio_operand(&m, 0), &fl), 0x7f);
	cr_expect_eq(fl, keep | OF | AF);
	cr_assert_eq(dec(b, parse("f0 83 0f 01", b), M64, &m), 0); /* lock or */
	fl = keep | CF;
	cr_expect_eq(mmio_alu(&m, 0x80000000, mmio_operand(&m, 0), &fl), 0x80000001ULL);
	cr_expect_eq(fl, keep | SF);
	cr_assert_eq(dec(b, parse("85 07", b), M64, &m), 0); /* test */
	fl = keep;
	cr_expect_eq(mmio_alu(&m, 0xf0, 0x0f, &fl), 0);
	cr_expect_eq(fl, keep | ZF | PF);
	cr_assert_eq(dec(b, parse("80 27 fe", b), M64, &m), 0); /* and byte */
	fl = keep;
	cr_expect_eq(mmio_alu(&m, 0xff, mmio_operand(&m, 0), &fl), 0xfe);
	cr_expect_eq(fl, keep | SF);
}

Test(decode, random_bytes_never_crash)
{
	static const int modes[] = { M16, M32, M64 };
	unsigned ok = 0;
	srand(1234);
	for (unsigned it = 0; it < 200000; it++) {
		uint8_t b[20];
		unsigned avail = (unsigned)rand() % 18;
		struct mmio_insn m;
		for (unsigned i = 0; i < avail; i++)
			b[i] = (uint8_t)rand();
		/* Bias towards the opcodes that decode, so the deep paths run too. */
		if (avail > 2 && (it & 1)) {
			static const uint8_t ops[] = { 0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0x0f, 0x63,
						       0xa0, 0xa1, 0xa2, 0xa3, 0x84, 0x85, 0x38, 0x3b,
						       0x80, 0x81, 0x83 };
			unsigned at = (unsigned)rand() % 3;
			b[at] = ops[(unsigned)rand() % sizeof(ops)];
		}
		int mode = modes[it % 3];
		if (dec(b, avail, mode, &m) == 0) {
			ok++;
			cr_assert(m.len >= 1 && m.len <= avail && m.len <= 15);
			cr_assert(m.size == 1 || m.size == 2 || m.size == 4 || m.size == 8);
			cr_assert(m.reg < 16 && (!m.high8 || m.reg < 4));
			cr_assert(m.has_imm || m.op != MMIO_OP_MOV || m.dir != MMIO_DIR_WRITE ||
				  m.reg_size == 0);
			cr_assert(m.dir != MMIO_DIR_READ || m.op != MMIO_OP_MOV ||
				  m.reg_size >= m.size);
			if (m.has_imm)
				cr_assert(m.size == 8 || m.imm >> (8 * m.size) == 0);
		} else {
			cr_assert(strlen(err) > 0 && strlen(err) < sizeof(err) - 1);
		}
	}
	cr_expect(ok > 1000, "only %u random instructions decoded", ok);
}
