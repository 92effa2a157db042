/* kernel/config_devices.c: the keys that give a partition devices (virtio console, disk
 * and net with the service partition; disk = nvme:NAME; pci = ...) and their messages. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/config_fixture.h"


Test(config, devices_parse)
{
	cr_assert_eq(parse(SVC "[partition a]\ncpus = 1\nmemory = 64M\nimage = k\n"
			   "console = virtio\ndisk = a.img\nnet = lan\n"
			   "[partition b]\ncpus = 2\nmemory = 64M\nimage = k\nnet = lan\n"
			   "console = uart\nservice = no\n"),
		     0, "%s", err.msg);
	cr_expect(cfg.part[0].service);
	cr_expect(!cfg_has_virtio(&cfg.part[0]));
	cr_expect(cfg.part[1].virtio_console);
	cr_expect_str_eq(cfg.part[1].disk, "a.img");
	cr_expect_str_eq(cfg.part[1].net, "lan");
	cr_expect(cfg_has_virtio(&cfg.part[1]));
	cr_expect(!cfg.part[2].virtio_console && !cfg.part[2].service);
	cr_expect_str_eq(cfg_file(&cfg.part[1], CFG_FILE_DISK), "a.img");
	cr_expect_eq(cfg_count_files(&cfg, CFG_FILE_DISK), 1);
}

Test(config, device_errors)
{
	expect_error("[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = a.img\n", 5,
		     "partition 'a' has a virtio device, but no partition is marked 'service = "
		     "yes' to serve it (add the service partition, see docs/config.md)");
	expect_error(SVC "[partition b]\ncpus = 1\nmemory = 16M\nimage = k\nservice = yes\n",
		     10, "partition 'b' is a second service partition ('svc' is one, line 5); "
		     "there can be only one");
	expect_error("[partition svc]\ncpus = 0\nmemory = 16M\nimage = v\nservice = yes\n"
		     "net = lan\n", 1, "the service partition 'svc' cannot have virtio devices "
		     "itself (console = virtio, disk or net)");
	expect_error(SVC "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = d\n"
		     "[partition b]\ncpus = 2\nmemory = 16M\nimage = k\ndisk = d\n", 15,
		     "disk 'd' already belongs to partition 'a' (line 10); a disk belongs to "
		     "one partition");
	expect_error(SVC "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\nnet = l a n\n",
		     10, "switch name 'l a n' may use only letters, digits, '_' and '-'");
	expect_error(SVC "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\nconsole = hvc\n",
		     10, "console 'hvc': expected uart or virtio");
	expect_error(SVC "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\nservice = maybe\n",
		     10, "service 'maybe': expected yes or no");
	expect_error("[partition svc]\ncpus = 0\nmemory = 16M\nimage = v\nservice = yes\n"
		     "initrd = i\n", 6, "the service partition 'svc' runs Mica's service program "
		     "(an ELF image): initrd and cmdline do not apply");
}

#define SVC_NVME "[partition svc]\ncpus = 0\nmemory = 16M\nimage = vmm.elf\nservice = yes\n" \
	"pci = 00:11.0\n"

Test(config, nvme_disks)
{
	cr_assert_eq(parse(SVC_NVME "[partition a]\ncpus = 1\nmemory = 64M\nimage = k\n"
			   "disk = nvme:web-root\n"
			   "[partition b]\ncpus = 2\nmemory = 64M\nimage = k\n"
			   "disk = nvme:db.data_2\n"),
		     0, "%s", err.msg);
	cr_expect_str_eq(cfg.part[1].disk_nvme, "web-root");
	cr_expect_str_eq(cfg.part[1].disk, "", "no file is loaded for an NVMe disk");
	cr_expect(cfg_has_virtio(&cfg.part[1]) && cfg_has_pci(&cfg.part[1]));
	cr_expect_str_eq(cfg.part[2].disk_nvme, "db.data_2");
	cr_expect_eq(cfg_count_files(&cfg, CFG_FILE_DISK), 0);
	/* 36 characters is a GPT name's limit */
	cr_expect_eq(parse(SVC_NVME "[partition a]\ncpus = 1\nmemory = 64M\nimage = k\n"
			   "disk = nvme:abcdefghijklmnopqrstuvwxyz0123456789\n"), 0, "%s", err.msg);
}

Test(config, nvme_disk_errors)
{
	expect_error(SVC_NVME "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = nvme:\n",
		     11, "disk 'nvme:': expected nvme:NAME with a GPT partition name of 1 to 36 "
		     "characters");
	expect_error(SVC_NVME "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\n"
		     "disk = nvme:abcdefghijklmnopqrstuvwxyz0123456789X\n",
		     11, "disk 'nvme:abcdefghijklmnopqrstuvwxyz012345678...': expected nvme:NAME with a "
		     "GPT partition name of 1 to 36 characters");
	expect_error(SVC_NVME "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\n"
		     "disk = nvme:web/root\n", 11,
		     "disk 'nvme:web/root': a GPT partition name here may have only A-Z a-z 0-9 "
		     ". _ - (rename it with sgdisk -c N:NAME)");
	expect_error(SVC_NVME "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = nvme:d\n"
		     "[partition b]\ncpus = 2\nmemory = 16M\nimage = k\ndisk = nvme:d\n", 16,
		     "disk 'nvme:d' already belongs to partition 'a' (line 11); a disk belongs "
		     "to one partition");
	expect_error(SVC "[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = nvme:d\n",
		     10, "partition 'a' has disk = nvme:d, but the service partition 'svc' has no "
		     "NVMe controller to serve it from (give it the controller: pci = BB:DD.F in "
		     "its section; docs/storage.md)");
	expect_error("[partition a]\ncpus = 1\nmemory = 16M\nimage = k\ndisk = nvme:d\n", 5,
		     "partition 'a' has a virtio device, but no partition is marked 'service = "
		     "yes' to serve it (add the service partition, see docs/config.md)");
}

static void expect_pci(unsigned part, unsigned k, uint16_t seg, uint8_t bus, uint8_t dev,
		       uint8_t fn)
{
	const struct cfg_pci *d = &cfg.part[part].pci[k];
	cr_expect(d->seg == seg && d->bus == bus && d->dev == dev && d->fn == fn,
		  "partition %u device %u: %04x:%02x:%02x.%x, expected %04x:%02x:%02x.%x", part,
		  k, d->seg, d->bus, d->dev, d->fn, seg, bus, dev, fn);
}

Test(config, pci_lists)
{
	expect_ok(PART("a", "0") "pci = 00:10.0, 00:11.0 ,00:1f.7\t0:2.1,,   1A:0b.3\n"
		  PART("b", "1"));
	cr_assert_eq(cfg.part[0].npci, 5);
	cr_expect_eq(cfg.part[0].pci_line, 5);
	expect_pci(0, 0, 0, 0, 0x10, 0);
	expect_pci(0, 1, 0, 0, 0x11, 0);
	expect_pci(0, 2, 0, 0, 0x1f, 7);
	expect_pci(0, 3, 0, 0, 2, 1);
	expect_pci(0, 4, 0, 0x1a, 0x0b, 3);
	cr_expect_eq(cfg.part[1].npci, 0);
	cr_expect(cfg_has_pci(&cfg.part[0]));
	cr_expect(!cfg_has_pci(&cfg.part[1]));

	expect_ok(PART("a", "0") "pci = 0000:00:04.0, 0001:80:1f.3 ffff:ff:00.7\n"
		  PART("b", "1") "pci=0002:00:04.0   # the same bus address on another segment\n");
	cr_assert_eq(cfg.part[0].npci, 3);
	expect_pci(0, 0, 0, 0, 4, 0);
	expect_pci(0, 1, 1, 0x80, 0x1f, 3);
	expect_pci(0, 2, 0xffff, 0xff, 0, 7);
	cr_assert_eq(cfg.part[1].npci, 1);
	cr_expect_eq(cfg.part[1].pci_line, 10);
	expect_pci(1, 0, 2, 0, 4, 0);

	expect_ok(PART("a", "0") "pci = 00:01.0 00:02.0 00:03.0 00:04.0 00:05.0 00:06.0 "
		  "00:07.0 00:08.0\n");
	cr_expect_eq(cfg.part[0].npci, CFG_PCI_MAX);
	expect_pci(0, 7, 0, 0, 8, 0);
}

Test(config, pci_given_twice)
{
	expect_error(PART("a", "0") "pci = 00:10.0, 00:11.0, 00:10.0\n", 5,
		     "PCI device 0000:00:10.0 is given twice (also to partition 'a', line 5); a "
		     "device belongs to one partition");
	expect_error(PART("a", "0") "pci = 00:10.0 0000:00:10.0\n", 5,
		     "PCI device 0000:00:10.0 is given twice (also to partition 'a', line 5); a "
		     "device belongs to one partition");
	expect_error(PART("first", "0") "pci = 00:10.0, 02:00.1\n" PART("b", "1")
		     "on_crash = restart\n" PART("c", "2") "pci = 00:11.0, 2:0.1\n", 15,
		     "PCI device 0000:02:00.1 is given twice (also to partition 'first', line 5); "
		     "a device belongs to one partition");
	expect_error(PART("a", "0") "pci = 00:10.0\npci = 00:11.0\n", 6,
		     "key 'pci' given twice in partition 'a' (first on line 5)");
}

Test(config, pci_limits_and_bad_addresses)
{
	expect_error(PART("a", "0") "pci = 00:01.0 00:02.0 00:03.0 00:04.0 00:05.0 00:06.0 "
		     "00:07.0 00:08.0 00:09.0\n", 5,
		     "more than 8 PCI devices; at most 8 per partition");
	static const char *const bad[] = {
		"00:20.0", "00:1f.8", "garbage", "00:10", "00:10.0.0", "00.10.0", "100:00.0",
		"10000:00:10.0", "00:10.", ":10.0", "0:0:0:0.0", "00:1g.0", "-1:00.0",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[200], msg[200];
		snprintf(text, sizeof(text), PART("a", "0") "pci = 00:01.0, %s\n", bad[i]);
		snprintf(msg, sizeof(msg), "pci '%s': expected a PCI address bus:device.function in "
			 "hex (e.g. 00:04.0, or 0000:00:04.0 with the segment)", bad[i]);
		expect_error(text, 5, msg);
	}
	expect_error(PART("a", "0") "pci = , ,\n", 5,
		     "pci: expected one or more PCI addresses (e.g. 00:04.0)");
	expect_error(PART("a", "0") "pci =\n", 5, "key 'pci' has an empty value");
}

/* The [mica] section: the serial port and the screen. */
