/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: binary files the library reads: ELF programs (jail
 * libraries), UML COW headers, ext superblocks of images. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backends/uml/cow.h"
#include "backends/uml/elfdeps.h"
#include "backends/uml/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("soda-fuzz", MFD_CLOEXEC);
	char path[64], **deps = NULL;
	su_cow_info ci;
	soda_error *e = NULL;

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (su_elf_deps(path, &deps, &e) == 0)
		su_strv_free(deps);
	soda_error_free(e);
	e = NULL;
	su_cow_read(path, &ci, &e);
	soda_error_free(e);
	e = NULL;
	su_image_check(path, &e);
	soda_error_free(e);
	close(fd);
	return 0;
}
