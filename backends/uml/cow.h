/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * UML copy-on-write layers (ubdN=COW,BASE). The library makes each server's
 * layer itself, as root, before the guest first boots, so the jail can bind
 * just that file writable instead of a directory the guest could fill.
 *
 * Version 3 header, all fields big-endian, packed (as linux.uml 6.1 writes
 * it; see arch/um/drivers/cow_user.c):
 *   0  u32 magic "OOOM" (0x4f4f4f4d)   4  u32 version (3)
 *   8  u32 mtime of the base file       12 u64 size of the base file
 *   20 u32 sector size (512)           24 u32 alignment (4096)
 *   28 u32 format (0: bitmap)          32 char backing_file[4096]
 * Then the bitmap (one bit per sector) at round_up(4128, alignment) and the
 * data at round_up(bitmap end, alignment). linux.uml refuses a layer whose
 * recorded mtime or size differ from the base file's, which is why base
 * images are never modified once built.
 */
#ifndef SODA_COW_H
#define SODA_COW_H

#include <stdint.h>

#include "../../libsoda/util.h"

typedef struct su_cow_info {
	char backing_file[4096];
	uint32_t mtime;
	uint64_t size;
	uint32_t sectorsize;
	uint32_t alignment;
	uint64_t data_offset;
} su_cow_info;

/* Creates @path (must not exist) as an empty layer over @base_host_path,
 * recording @backing_name (the base's path as the guest kernel will open it)
 * and owned by @uid:@gid, mode 0600. */
int su_cow_create(const char *path, const char *base_host_path, const char *backing_name,
		  uint32_t uid, uint32_t gid, soda_error **error);
/* Reads a layer's header. */
int su_cow_read(const char *path, su_cow_info *ret, soda_error **error);

#endif
