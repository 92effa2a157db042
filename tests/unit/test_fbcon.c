/* kernel/host/fbcon.c: the screen console, drawing into an array that stands for the
 * framebuffer. Cells are read back through the font, as tests/e2e/screen.py reads QEMU's
 * screendumps. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/host/fbcon.h"

#define W 300 /* 25 columns */
#define H 140 /* 7 rows */
#define PITCH 320

static uint32_t px[PITCH * H];
static struct fbcon con;

static void setup(void)
{
	struct boot_framebuffer fb = { 0x1000, W, H, PITCH, 2 };
	for (unsigned i = 0; i < PITCH * H; i++)
		px[i] = 0xdeadbeef; /* what the firmware left */
	cr_assert_eq(fbcon_init(&con, &fb, px), 0);
}

/* The character drawn in cell (col, row), '\0' for a pattern that is no glyph; every pixel
 * of the cell must be FG or BG. */
static char cell(unsigned col, unsigned row)
{
	uint8_t dots[FBCON_FONT_H] = { 0 };
	for (unsigned y = 0; y < FBCON_CELL_H; y++)
		for (unsigned x = 0; x < FBCON_CELL_W; x++) {
			uint32_t v = px[(row * FBCON_CELL_H + y) * PITCH + col * FBCON_CELL_W + x];
			cr_assert(v == FBCON_FG || v == FBCON_BG, "pixel %u,%u of cell %u,%u is 0x%x",
				  x, y, col, row, v);
			int gx = ((int)x - FBCON_GLYPH_X) / FBCON_SCALE, gy = ((int)y - FBCON_GLYPH_Y) / FBCON_SCALE;
			if (v == FBCON_FG) {
				cr_assert(x >= FBCON_GLYPH_X && y >= FBCON_GLYPH_Y && gx < FBCON_FONT_W &&
					  gy < FBCON_FONT_H, "a dot outside the glyph at %u,%u", x, y);
				dots[gy] |= 1u << (FBCON_FONT_W - 1 - gx);
			}
		}
	for (unsigned c = 0; c <= FBCON_LAST - FBCON_FIRST; c++)
		if (!memcmp(dots, fbcon_font[c], FBCON_FONT_H))
			return (char)(FBCON_FIRST + c);
	return 0;
}

/* Row r of the screen as text, trailing blanks cut. */
static const char *row_text(unsigned r)
{
	static char buf[64];
	unsigned n = 0;
	for (unsigned c = 0; c < con.cols; c++)
		buf[n++] = cell(c, r);
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = 0;
	return buf;
}

static void say(const char *s)
{
	fbcon_write(&con, s, strlen(s));
}

Test(fbcon, font_has_one_glyph_per_character)
{
	for (unsigned a = 0; a <= FBCON_LAST - FBCON_FIRST; a++)
		for (unsigned b = a + 1; b <= FBCON_LAST - FBCON_FIRST; b++)
			cr_assert(memcmp(fbcon_font[a], fbcon_font[b], FBCON_FONT_H),
				  "'%c' and '%c' look the same", FBCON_FIRST + a, FBCON_FIRST + b);
	for (unsigned a = 0; a <= FBCON_LAST - FBCON_FIRST; a++)
		for (unsigned r = 0; r < FBCON_FONT_H; r++)
			cr_assert_lt(fbcon_font[a][r], 1u << FBCON_FONT_W);
}

Test(fbcon, init_clears_the_whole_screen_and_sizes_the_grid)
{
	setup();
	cr_assert_eq(con.cols, W / FBCON_CELL_W);
	cr_assert_eq(con.rows, H / FBCON_CELL_H);
	for (unsigned y = 0; y < H; y++)
		for (unsigned x = 0; x < W; x++)
			cr_assert_eq(px[y * PITCH + x], FBCON_BG);
	cr_assert_eq(px[W], 0xdeadbeef, "the pitch's padding is not the screen's");
}

Test(fbcon, init_refuses_what_it_cannot_draw_on)
{
	struct boot_framebuffer fb = { 0x1000, W, H, PITCH, 0 };
	cr_assert_eq(fbcon_init(&con, &fb, px), -1, "no format");
	fb.format = 3;
	cr_assert_eq(fbcon_init(&con, &fb, px), -1, "unknown format");
	fb.format = 1;
	fb.width = 19 * FBCON_CELL_W;
	cr_assert_eq(fbcon_init(&con, &fb, px), -1, "too narrow");
	fb.width = W;
	fb.pitch = W - 1;
	cr_assert_eq(fbcon_init(&con, &fb, px), -1, "pitch below width");
	fb.pitch = PITCH;
	cr_assert_eq(fbcon_init(&con, &fb, NULL), -1, "not mapped");
	fbcon_write(&con, "x", 1); /* an unusable console ignores writes */
	cr_assert_eq(fbcon_init(&con, &fb, px), 0);
}

Test(fbcon, lines_wrap_tabs_and_carriage_returns)
{
	setup();
	say("mica: Mica 0.1\n[hello] PASS\n");
	cr_assert_str_eq(row_text(0), "mica: Mica 0.1");
	cr_assert_str_eq(row_text(1), "[hello] PASS");
	say("abcdefghijklmnopqrstuvwxyz0123");
	cr_assert_str_eq(row_text(2), "abcdefghijklmnopqrstuvwxy");
	cr_assert_str_eq(row_text(3), "z0123");
	say("\rZ\ta\tb\n");
	cr_assert_str_eq(row_text(3), "Z0123   a       b");
	say("xy\bZ\n");
	cr_assert_str_eq(row_text(4), "xZ");
}

Test(fbcon, escape_sequences_and_control_bytes_are_dropped_utf8_shows_as_one_mark)
{
	setup();
	say("\x1b[1;31mred\x1b[0m \x1b" "cplain\x07\x01 caf\xc3\xa9 \xe2\x94\x80!\n");
	cr_assert_str_eq(row_text(0), "red plain caf? ?!");
}

Test(fbcon, the_bottom_scrolls_a_third_away_and_redraws)
{
	setup();
	char line[16];
	for (unsigned i = 0; i < 7; i++) {
		snprintf(line, sizeof(line), "line %u\n", i);
		say(line);
	}
	/* 7 rows: the 7th newline moves past the bottom, the top 2 go. */
	cr_assert_eq(con.scrolls, 1);
	cr_assert_str_eq(row_text(0), "line 2");
	cr_assert_str_eq(row_text(4), "line 6");
	cr_assert_str_eq(row_text(5), "");
	cr_assert_str_eq(row_text(6), "");
	say("next");
	cr_assert_str_eq(row_text(5), "next");
}

/* Random bytes never draw outside the screen or leave a cell half drawn. */
Test(fbcon, any_bytes_stay_on_the_screen)
{
	setup();
	srand(7);
	char buf[4096];
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < sizeof(buf); i++)
			buf[i] = (char)(rand() & 0xff);
		fbcon_write(&con, buf, sizeof(buf));
		cr_assert_lt(con.row, con.rows);
		cr_assert_leq(con.col, con.cols);
	}
	for (unsigned r = 0; r < con.rows; r++)
		for (unsigned c = 0; c < con.cols; c++)
			cr_assert_neq(cell(c, r), 0);
	for (unsigned y = 0; y < H; y++)
		cr_assert_eq(px[y * PITCH + W], 0xdeadbeef);
}
