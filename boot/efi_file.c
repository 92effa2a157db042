/* Reading whole files from the volume BOOTX64.EFI was loaded from (the ESP or USB stick). */
#include <stdio.h>

#include "loader.h"

void esp_path(const char *dir, const char *name, char *out, size_t len)
{
	if (name[0] == '/' || name[0] == '\\')
		dir = "";
	snprintf(out, len, "%s%s", dir, name);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '\\';
}

/* path as CHAR16; 0 if it does not fit. */
static int wide_path(const char *path, CHAR16 *out, size_t n)
{
	size_t i;

	for (i = 0; path[i] && i < n - 1; i++)
		out[i] = (CHAR16)(unsigned char)path[i];
	out[i] = 0;
	return !path[i];
}

EFI_STATUS file_open_root(EFI_HANDLE image, EFI_FILE_HANDLE *root)
{
	static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;
	static EFI_GUID fs_guid = EFI_SIMPLE_FILE_SYSTEM_PROTOCOL_GUID;
	EFI_LOADED_IMAGE *li;
	EFI_FILE_IO_INTERFACE *fs;
	EFI_STATUS st;

	st = g_bs->HandleProtocol(image, &loaded_image_guid, (void **)&li);
	if (st != EFI_SUCCESS)
		return st;
	st = g_bs->HandleProtocol(li->DeviceHandle, &fs_guid, (void **)&fs);
	if (st != EFI_SUCCESS)
		return st;
	return fs->OpenVolume(fs, root);
}

/* Size and kind of an open file, from EFI_FILE_INFO (UEFI 2.10 13.5.16). */
static EFI_STATUS file_size(EFI_FILE_HANDLE f, uint64_t *size)
{
	static EFI_GUID info_guid = EFI_FILE_INFO_ID;
	union {
		EFI_FILE_INFO info;
		uint8_t raw[sizeof(EFI_FILE_INFO) + 512 * sizeof(CHAR16)];
	} u;
	UINTN len = sizeof(u);
	EFI_STATUS st = f->GetInfo(f, &info_guid, &len, &u);

	if (st != EFI_SUCCESS)
		return st;
	if (u.info.Attribute & EFI_FILE_DIRECTORY)
		return EFI_NOT_FOUND; /* a folder is not the file the config meant */
	*size = u.info.FileSize;
	return EFI_SUCCESS;
}

EFI_STATUS file_load(EFI_FILE_HANDLE root, const char *path, int mica, void **data,
		     uint64_t *size)
{
	CHAR16 wpath[BOOT_PATH_MAX + 16];
	EFI_FILE_HANDLE f;
	EFI_STATUS st;
	uint64_t len, done = 0;
	uint8_t *buf = NULL;

	if (!wide_path(path, wpath, sizeof(wpath) / sizeof(wpath[0])))
		return EFI_INVALID_PARAMETER; /* longer than any path the config can hold */

	st = root->Open(root, &f, wpath, EFI_FILE_MODE_READ, 0);
	if (st != EFI_SUCCESS)
		return st;
	st = file_size(f, &len);
	if (st != EFI_SUCCESS)
		goto out;

	if (mica) {
		uint64_t a = 0;

		st = mica_alloc(AllocateAnyPages, 0, len, &a);
		buf = (uint8_t *)(uintptr_t)a;
	} else {
		st = g_bs->AllocatePool(EfiLoaderData, len ? len : 1, (void **)&buf);
	}
	if (st != EFI_SUCCESS)
		goto out;

	/* Some FAT drivers return less than asked for in one call; loop until the end. */
	while (done < len) {
		UINTN chunk = len - done;

		st = f->Read(f, &chunk, buf + done);
		if (st != EFI_SUCCESS)
			break;
		if (chunk == 0) {
			st = EFI_END_OF_FILE; /* shorter than its directory entry said */
			break;
		}
		done += chunk;
	}
	if (st != EFI_SUCCESS) {
		if (!mica) /* MICA pages go back with everything else when the boot gives up */
			g_bs->FreePool(buf);
		goto out;
	}
	*data = buf;
	*size = len;
out:
	f->Close(f);
	return st;
}

EFI_STATUS file_exists(EFI_FILE_HANDLE root, const char *path)
{
	CHAR16 wpath[BOOT_PATH_MAX + 16];
	EFI_FILE_HANDLE f;
	uint64_t len;
	EFI_STATUS st;

	if (!wide_path(path, wpath, sizeof(wpath) / sizeof(wpath[0])))
		return EFI_INVALID_PARAMETER;
	st = root->Open(root, &f, wpath, EFI_FILE_MODE_READ, 0);
	if (st != EFI_SUCCESS)
		return st;
	st = file_size(f, &len);
	f->Close(f);
	return st;
}
