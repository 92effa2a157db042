/* The partition config: a small INI-style text a person writes (docs/config.md).
 * Pure logic: compiled into the UEFI loader, the core, and the host unit tests. */
#ifndef MICA_CONFIG_H
#define MICA_CONFIG_H

#include <stdint.h>
#include <mica/boot_info.h>
#include <mica/hypercall.h>

#define CFG_MAX_PARTS 16
#define CFG_MAX_CPUS  64
#define CFG_MEM_ALIGN (2ULL << 20) /* partition RAM comes in 2 MiB pages */
#define CFG_MSG_MAX   256
#define CFG_CMDLINE_MAX 1024       /* a partition's kernel command line, incl. its NUL */
#define CFG_MODULES_MAX 8          /* Multiboot and PVH modules per partition */
#define CFG_DEBUG_EXIT_DEFAULT 0xF4 /* QEMU's isa-debug-exit port */
#define CFG_PCI_MAX     8          /* host PCI functions passed through to one partition */
#define CFG_NVME_NAME_MAX 37        /* a GPT partition name: 36 characters, then NUL */
#define CFG_LOG_DEFAULT (64ULL << 10) /* the ring of a partition's console output */
#define CFG_LOG_MIN     (4ULL << 10)
#define CFG_LOG_MAX     (1ULL << 20)

/* A host PCI function, as written in a partition's pci = list. */
struct cfg_pci {
	uint16_t seg;
	uint8_t bus, dev, fn;
};

enum cfg_on_crash {
	CFG_CRASH_STOP = 0,
	CFG_CRASH_RESTART = 1,
};

struct cfg_partition {
	char name[MICA_NAME_MAX];   /* [a-zA-Z0-9_-], 1..31 chars, unique */
	uint64_t cpus;              /* bit n = physical CPU n (boot CPU is 0, then MADT order) */
	uint64_t memory;            /* bytes, multiple of CFG_MEM_ALIGN */
	char image[BOOT_PATH_MAX];  /* path as written, relative to the config's folder */
	enum cfg_on_crash on_crash; /* default stop */
	unsigned line;              /* line of the [partition NAME] header */
	unsigned cpus_line, memory_line, image_line;
	char initrd[BOOT_PATH_MAX];    /* optional; "" when not given; path rules as image */
	char cmdline[CFG_CMDLINE_MAX]; /* optional kernel command line; "" when not given */
	unsigned initrd_line, cmdline_line; /* 0 when the key is not given */
	/* The service partition and virtio devices (docs/config.md, "Devices"). */
	int service;                   /* service = yes: serves the others' virtio devices */
	int virtio_console;            /* console = virtio (default: uart) */
	char disk[BOOT_PATH_MAX];      /* disk = PATH: a virtio-blk disk image; "" when none */
	char disk_nvme[CFG_NVME_NAME_MAX]; /* disk = nvme:NAME: the GPT partition NAME on the
					* service's NVMe disk (docs/storage.md); "" when none */
	char net[MICA_NAME_MAX];       /* net = SWITCH: a virtio-net port on that switch; "" */
	unsigned service_line, console_line, disk_line, net_line;
	/* Multiboot and PVH guests (docs/guests.md): files handed to the kernel as modules. */
	char modules[CFG_MODULES_MAX][BOOT_PATH_MAX];
	unsigned nmodules, modules_line;
	int start_stopped;             /* start = no: loaded at boot, started from the
					* management console (docs/management.md) */
	unsigned start_line;
	uint64_t log_size;             /* log = SIZE: its console output kept for `log NAME`
					* (0: log = no) */
	unsigned log_line;
	uint16_t debug_exit;           /* QEMU's debug-exit port; 0: none (debug_exit = no) */
	unsigned debug_exit_line;
	/* Host PCI functions given to the partition (docs/passthrough.md). */
	struct cfg_pci pci[CFG_PCI_MAX];
	unsigned npci, pci_line;
};

/* Does the partition have any PCI device (virtio or passed through), hence a PCI bus? */
static inline int cfg_has_pci(const struct cfg_partition *p)
{
	return p->virtio_console || p->disk[0] || p->disk_nvme[0] || p->net[0] || p->npci;
}

/* Does the partition have any virtio device? */
static inline int cfg_has_virtio(const struct cfg_partition *p)
{
	return p->virtio_console || p->disk[0] || p->disk_nvme[0] || p->net[0];
}

/* The [mica] section: the hypervisor's own console (docs/config.md, "The [mica] section"). */
enum cfg_screen { CFG_SCREEN_AUTO = 0, CFG_SCREEN_ON, CFG_SCREEN_OFF };

struct cfg_host {
	unsigned line;        /* of the [mica] header; 0 when there is none */
	int serial_given;     /* serial = ... was given; else SPCR, else COM1 */
	uint16_t serial_port; /* 0: serial = none */
	uint8_t serial_irq;   /* its ISA IRQ (3 for 0x2f8 and 0x2e8, else 4) */
	enum cfg_screen screen; /* screen = on | off; auto: on when there is a framebuffer */
	unsigned serial_line, screen_line;
};

struct cfg {
	unsigned nparts;
	struct cfg_partition part[CFG_MAX_PARTS];
	struct cfg_host host;
};

struct cfg_error {
	unsigned line; /* 1-based; 0 when the error is not about one line */
	char msg[CFG_MSG_MAX];
};

/* Fills err (when not NULL) with line and the formatted sentence; returns MICA_EINVAL. For
 * every check of a config, here and where the machine's facts are known. */
int cfg_fail(struct cfg_error *err, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Parses and checks everything that needs no knowledge of the machine: syntax, unknown
 * sections and keys, duplicates, value formats, missing required keys, CPUs shared by two
 * partitions. Returns 0, or MICA_EINVAL with err filled (first error only, in line order;
 * out is then partly filled and must not be used). err may be NULL. */
int cfg_parse(const char *text, uint64_t len, struct cfg *out, struct cfg_error *err);

/* Checks the parsed config against the machine: every CPU named is present (cpu_present
 * has bit n set for CPU n; if it is 0, CPUs 0..ncpus-1 are taken as present), and the
 * partitions' memory, summed in config order, fits in mem_free bytes.
 * Returns 0 or MICA_EINVAL with err filled (line = the cpus or memory line at fault). */
int cfg_check_machine(const struct cfg *c, uint64_t cpu_present, unsigned ncpus,
		      uint64_t mem_free, struct cfg_error *err);

/* How many different images (kind 0), initrds (kind 1), disks (kind 2) or modules (kind 3)
 * the config names. */
#define CFG_FILE_IMAGE  0
#define CFG_FILE_INITRD 1
#define CFG_FILE_DISK   2
#define CFG_FILE_MODULE 3
unsigned cfg_count_files(const struct cfg *c, int kind);
/* The path of that kind of file of partition p ("" when it has none): the first of each
 * kind but modules, where cfg_module() names each. */
const char *cfg_file(const struct cfg_partition *p, int kind);

/* The lowest CPU in a non-empty set. */
static inline unsigned cfg_lowest_cpu(uint64_t set)
{
	unsigned i = 0;
	while (!(set >> i & 1))
		i++;
	return i;
}

/* A size as cfg_format_size() writes it; round_mib 0 shows sizes that are not whole MiB
 * exactly (config values), 1 rounds them down to MiB (free-memory figures). */
void cfg_size_text(uint64_t bytes, char *buf, unsigned len, int round_mib);

/* Formats a size for people in the largest of GiB, MiB, KiB that divides it exactly:
 * "16 MiB", "1 GiB", "1536 MiB", "4 KiB", else in bytes: "123 bytes", "1 byte". A size of
 * 1 MiB or more that is not a whole number of MiB is shown in MiB rounded down
 * ("1001 MiB" for 1001 MiB + 12 KiB), which suits free-memory figures. Always
 * NUL-terminates when len > 0 (truncating). */
void cfg_format_size(uint64_t bytes, char *buf, unsigned len);

#endif
