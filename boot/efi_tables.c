/* What the firmware tells every program of the boot path: the ACPI tables' root and the
 * screen (boot/loader.h). */
#include <string.h>

#include "loader.h"

uint64_t efi_acpi_rsdp(void)
{
	static EFI_GUID acpi20 = ACPI_20_TABLE_GUID, acpi10 = ACPI_TABLE_GUID;
	uint64_t rsdp = 0;

	for (UINTN i = 0; i < g_st->NumberOfTableEntries; i++) {
		EFI_CONFIGURATION_TABLE *t = &g_st->ConfigurationTable[i];

		if (!memcmp(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)))
			rsdp = (uintptr_t)t->VendorTable;
		else if (!rsdp && !memcmp(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)))
			rsdp = (uintptr_t)t->VendorTable;
	}
	return rsdp;
}

void efi_framebuffer(struct boot_framebuffer *fb)
{
	static EFI_GUID gop_guid = EFI_GRAPHICS_OUTPUT_PROTOCOL_GUID;
	EFI_GRAPHICS_OUTPUT_PROTOCOL *gop;
	EFI_GRAPHICS_OUTPUT_MODE_INFORMATION *mi;

	memset(fb, 0, sizeof(*fb));
	if (g_bs->LocateProtocol(&gop_guid, NULL, (void **)&gop) != EFI_SUCCESS || !gop->Mode ||
	    !gop->Mode->Info)
		return;
	mi = gop->Mode->Info;
	if (mi->PixelFormat == PixelRedGreenBlueReserved8BitPerColor)
		fb->format = 1;
	else if (mi->PixelFormat == PixelBlueGreenRedReserved8BitPerColor)
		fb->format = 2;
	else
		return; /* bit masks or no linear framebuffer: the core gets none */
	fb->base = gop->Mode->FrameBufferBase;
	fb->width = mi->HorizontalResolution;
	fb->height = mi->VerticalResolution;
	fb->pitch = mi->PixelsPerScanLine;
}
