/* A text console on a linear framebuffer (the UEFI GOP's, or GRUB's): Mica's log and the
 * partitions' output on the screen of a machine without a serial port. Pure logic: it
 * draws into whatever memory it is given (the mapped framebuffer in the core, an array in
 * the host unit tests), only ever writes it (framebuffer reads are slow on real machines),
 * and keeps the text in a shadow grid so that scrolling is a redraw. */
#ifndef MICA_HOST_FBCON_H
#define MICA_HOST_FBCON_H

#include <stddef.h>
#include <stdint.h>

#include <mica/boot_info.h>

/* The built-in font: 5x8 dots per character (row 7 for descenders), printable ASCII
 * 0x20-0x7e, bit 4 the leftmost dot. Drawn twice as large in a 12x20 pixel cell: the
 * glyph's dots at x 1 + 2i, y 2 + 2j, each 2x2 pixels. */
#define FBCON_FONT_W  5
#define FBCON_FONT_H  8
#define FBCON_SCALE   2
#define FBCON_CELL_W  12
#define FBCON_CELL_H  20
#define FBCON_GLYPH_X 1
#define FBCON_GLYPH_Y 2
#define FBCON_FIRST   0x20
#define FBCON_LAST    0x7e
extern const uint8_t fbcon_font[FBCON_LAST - FBCON_FIRST + 1][FBCON_FONT_H];

#define FBCON_MAX_COLS 320 /* 3840 pixels */
#define FBCON_MAX_ROWS 108 /* 2160 pixels */
#define FBCON_FG 0x00c0c0c0u /* light grey: the same in RGBX and BGRX */
#define FBCON_BG 0x00000000u

struct fbcon {
	uint32_t *px;             /* the framebuffer, 32 bits per pixel */
	uint32_t width, height;   /* pixels drawn (at most what the cells fill) */
	uint32_t pitch;           /* pixels per line in memory */
	unsigned cols, rows;      /* characters */
	unsigned col, row;        /* the cursor */
	unsigned esc;             /* 0; 1 after ESC; 2 inside ESC [ ... (a CSI sequence) */
	uint64_t scrolls;         /* redraws caused by scrolling (for people and tests) */
	char text[FBCON_MAX_ROWS][FBCON_MAX_COLS];
};

/* Sets c up on fb (format 1 or 2, 32 bits per pixel) mapped at px, and clears the screen.
 * Returns 0, or -1 (c unusable) for no framebuffer, another format, or a screen smaller
 * than 20 x 5 characters. */
int fbcon_init(struct fbcon *c, const struct boot_framebuffer *fb, uint32_t *px);

/* Writes n bytes: printable ASCII is drawn; '\n' goes to the next line, '\r' to its start,
 * '\t' moves to the next multiple of 8, '\b' one back; escape sequences (ESC [ ... final byte)
 * and other control bytes are dropped; every other byte (UTF-8) shows as one '?' per
 * character. At the bottom, the top third of the lines scroll away. */
void fbcon_write(struct fbcon *c, const char *s, size_t n);

#endif
