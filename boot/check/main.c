/* MICACHK.EFI: the pre-flight check a person runs on a machine before trusting Mica with
 * it (docs/hardware.md). It reads, changes nothing, prints one line per fact on the screen
 * and the serial port (OK, WARNING or MISSING, with what to do), checks the config beside
 * it (\mica\mica.cfg) against the machine, and returns to the firmware. */
#include <string.h>

#include "boot/check/chk.h"
#include "boot/check/probe.h"

#define PAUSE_S 120

const char con_prefix[] = "mica-check";

EFI_SYSTEM_TABLE *g_st;
EFI_BOOT_SERVICES *g_bs;

static const char *const level_word[] = { "OK", "WARNING", "MISSING" };

static void show(void *ctx, enum chk_level level, const char *topic, const char *found,
		 const char *todo)
{
	(void)ctx;
	con_say("%-7s %s: %s", level_word[level], topic, found);
	if (todo)
		con_say("        -> %s", todo);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st_in)
{
	static struct chk_facts facts;
	static struct cfg cfg;
	struct chk_summary sum;
	EFI_FILE_HANDLE root = NULL;

	g_st = st_in;
	g_bs = st_in->BootServices;
	con_init();
	con_say("Mica pre-flight check: what this machine has against what Mica needs");
	if (file_open_root(image, &root) != EFI_SUCCESS)
		root = NULL;
	chk_probe(root, &facts, &cfg);
	if (root)
		root->Close(root);
	chk_judge(&facts, show, NULL, &sum);
	if (sum.missing)
		con_say("%u OK, %u WARNING, %u MISSING: Mica cannot run here until each MISSING "
			"line is fixed", sum.ok, sum.warning, sum.missing);
	else
		con_say("%u OK, %u WARNING, %u MISSING: Mica can run here%s", sum.ok, sum.warning,
			sum.missing, sum.warning ? " (read the warnings)" : "");
	con_pause(PAUSE_S);
	return EFI_SUCCESS;
}
