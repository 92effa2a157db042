/* The management console's text side (docs/management.md): the `mica>` prompt, line
 * editing, the commands and their answers. Pure: Mica's management hypercalls come in as
 * the ops below (vmm/serve.c fills them in; the host tests give fakes). */
#ifndef MICA_VMM_MGMT_H
#define MICA_VMM_MGMT_H

#include <stddef.h>
#include <stdint.h>
#include <mica/manage.h>

#define MGMT_LINE_MAX 120
#define MGMT_PARTS_MAX 16

struct mgmt_ops {
	/* MICA_HC_MGMT_PART: bytes written, or < 0 past the last partition. */
	long (*part)(void *ctx, unsigned index, struct mica_mgmt_part *out);
	/* MICA_HC_MGMT_CTL: 0 or a MICA_E* / MICA_MGMT_ESTATE code. */
	long (*ctl)(void *ctx, unsigned index, unsigned op);
	/* MICA_HC_MGMT_WRITE: text for the console, as it is. */
	void (*write)(void *ctx, const char *s, size_t n);
	/* MICA_HC_MGMT_LEAVE. */
	void (*leave)(void *ctx);
	/* MICA_HC_MGMT_LOG: bytes [from, from + len) of a partition's console output. */
	long (*log)(void *ctx, unsigned index, char *buf, size_t len, uint64_t from);
	/* MICA_HC_MGMT_ATTACH: 0, or a MICA_E* code. */
	long (*attach)(void *ctx, unsigned index);
	/* MICA_HC_MGMT_SNAPSHOT, _RESTORE or _DROP (call) of the snapshot tag (len bytes):
	 * 0 or a MICA_E* / MICA_MGMT_E* code. */
	long (*snap)(void *ctx, unsigned call, unsigned index, const char *tag, size_t len);
	/* MICA_HC_MGMT_SNAPS: bytes written, or < 0 past the last snapshot. */
	long (*snaps)(void *ctx, unsigned slot, struct mica_mgmt_snap *out);
	/* MICA_HC_MGMT_POOL: bytes written, or < 0. */
	long (*pool)(void *ctx, struct mica_mgmt_pool *out);
	/* MICA_HC_MGMT_CLONE of partition index as name on host CPUs cpus (0: any free):
	 * the clone's index, or a MICA_E* / MICA_MGMT_E* code. */
	long (*clone)(void *ctx, unsigned index, const char *name, uint64_t cpus);
	void *ctx;
};

struct mgmt {
	struct mgmt_ops ops;
	char line[MGMT_LINE_MAX];
	unsigned len;
	uint8_t esc;    /* 0; 1 after ESC; 2 inside an ESC [ sequence (cursor keys: ignored) */
	uint8_t last;   /* the previous key (a CR LF pair ends one line, not two) */
	/* The previous sample of each partition's exits, for rates. */
	uint64_t seen_ms[MGMT_PARTS_MAX], seen_exits[MGMT_PARTS_MAX];
};

void mgmt_init(struct mgmt *m, const struct mgmt_ops *ops);

/* Keys typed at the console; n == 0: the console has just entered management (greeting
 * and prompt). */
void mgmt_keys(struct mgmt *m, const uint8_t *keys, size_t n);

/* Carries out one command line (what mgmt_keys does at Enter), answering through
 * ops.write. 1 when the console left management (exit, console), else 0. */
int mgmt_run(struct mgmt *m, const char *line);

#endif
