/* The framebuffer text console (kernel/host/fbcon.h). */
#include <string.h>

#include "kernel/host/fbcon.h"

#define MIN_COLS 20
#define MIN_ROWS 5
#define TAB 8
#define ESC 0x1b

/* Draws the character in text[row][col] (a space for 0) into its cell. */
static void draw_cell(struct fbcon *c, unsigned col, unsigned row)
{
	unsigned char ch = (unsigned char)c->text[row][col];
	const uint8_t *g = (ch >= FBCON_FIRST && ch <= FBCON_LAST) ?
			   fbcon_font[ch - FBCON_FIRST] : fbcon_font[0];
	uint32_t *line = c->px + (uint64_t)row * FBCON_CELL_H * c->pitch + col * FBCON_CELL_W;

	for (unsigned y = 0; y < FBCON_CELL_H; y++, line += c->pitch) {
		unsigned gy = (y - FBCON_GLYPH_Y) / FBCON_SCALE;
		unsigned bits = (y >= FBCON_GLYPH_Y && gy < FBCON_FONT_H) ? g[gy] : 0;

		for (unsigned x = 0; x < FBCON_CELL_W; x++) {
			unsigned gx = (x - FBCON_GLYPH_X) / FBCON_SCALE;
			int on = x >= FBCON_GLYPH_X && gx < FBCON_FONT_W &&
				 (bits >> (FBCON_FONT_W - 1 - gx)) & 1;
			line[x] = on ? FBCON_FG : FBCON_BG;
		}
	}
}

static void redraw(struct fbcon *c)
{
	for (unsigned r = 0; r < c->rows; r++)
		for (unsigned k = 0; k < c->cols; k++)
			draw_cell(c, k, r);
}

int fbcon_init(struct fbcon *c, const struct boot_framebuffer *fb, uint32_t *px)
{
	memset(c, 0, sizeof(*c));
	if (!fb || !px || (fb->format != 1 && fb->format != 2) || fb->pitch < fb->width)
		return -1;
	c->cols = fb->width / FBCON_CELL_W;
	c->rows = fb->height / FBCON_CELL_H;
	if (c->cols < MIN_COLS || c->rows < MIN_ROWS)
		return -1;
	if (c->cols > FBCON_MAX_COLS)
		c->cols = FBCON_MAX_COLS;
	if (c->rows > FBCON_MAX_ROWS)
		c->rows = FBCON_MAX_ROWS;
	c->px = px;
	c->pitch = fb->pitch;
	c->width = fb->width;
	c->height = fb->height;
	/* The whole screen, margins too: the firmware's last words go. */
	for (uint32_t y = 0; y < c->height; y++)
		for (uint32_t x = 0; x < c->width; x++)
			px[(uint64_t)y * c->pitch + x] = FBCON_BG;
	return 0;
}

/* The cursor moves to the next line; past the bottom, the top third scrolls away. */
static void newline(struct fbcon *c)
{
	c->col = 0;
	if (++c->row < c->rows)
		return;
	unsigned drop = c->rows / 3 ? c->rows / 3 : 1;
	memmove(c->text[0], c->text[drop], (size_t)(c->rows - drop) * sizeof(c->text[0]));
	memset(c->text[c->rows - drop], 0, (size_t)drop * sizeof(c->text[0]));
	c->row = c->rows - drop;
	c->scrolls++;
	redraw(c);
}

static void put(struct fbcon *c, char ch)
{
	if (c->col == c->cols)
		newline(c); /* wrap */
	c->text[c->row][c->col] = ch;
	draw_cell(c, c->col, c->row);
	c->col++;
}

void fbcon_write(struct fbcon *c, const char *s, size_t n)
{
	if (!c->px)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (c->esc == 1) {
			c->esc = ch == '[' ? 2 : 0; /* ESC x: a two-byte sequence, dropped */
			continue;
		}
		if (c->esc == 2) {
			if (ch >= 0x40 && ch <= 0x7e)
				c->esc = 0; /* the final byte */
			continue;
		}
		if (ch == ESC)
			c->esc = 1;
		else if (ch == '\n')
			newline(c);
		else if (ch == '\r')
			c->col = 0;
		else if (ch == '\t')
			c->col = (c->col / TAB + 1) * TAB < c->cols ? (c->col / TAB + 1) * TAB : c->cols;
		else if (ch == '\b')
			c->col = c->col ? c->col - 1 : 0;
		else if (ch >= FBCON_FIRST && ch <= FBCON_LAST)
			put(c, (char)ch);
		else if (ch >= 0xc0)
			put(c, '?'); /* the first byte of a UTF-8 character */
		/* other control bytes, UTF-8 continuation bytes and DEL: nothing */
	}
}
