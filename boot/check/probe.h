/* The pre-flight check's UEFI side (boot/check/probe.c). */
#ifndef MICA_BOOT_CHECK_PROBE_H
#define MICA_BOOT_CHECK_PROBE_H

#include "boot/check/chk.h"
#include "boot/loader.h"

/* Reads every fact of this machine into f; the config (root: the volume the check was
 * started from, NULL for none) is parsed into cfg, which f->config points to. */
void chk_probe(EFI_FILE_HANDLE root, struct chk_facts *f, struct cfg *cfg);

#endif
