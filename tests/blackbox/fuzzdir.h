/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fuzz targets' scratch store: a flat directory, emptied in-process
 * between inputs (a shell per input would cost more than the input). */
#ifndef SODA_BB_FUZZDIR_H
#define SODA_BB_FUZZDIR_H

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void bb_fuzz_rmdir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) < 0)
			abort();
	closedir(d);
	if (rmdir(dir) < 0)
		abort();
}

#endif
