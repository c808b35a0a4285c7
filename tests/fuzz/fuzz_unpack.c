/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz target: tenant tarballs through the image unpacker
 * (backends/uml/unpack.c) into a scratch directory, with small limits. After
 * each input nothing may exist outside the scratch root: a sibling
 * directory stands for the host and must stay empty. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/uml/unpack.h"

static char base[64];
static int basefd = -1;

static void cleanup(void)
{
	if (basefd >= 0) {
		uml_unpack_remove_at(basefd, "root");
		uml_unpack_remove_at(basefd, "host");
		close(basefd);
		rmdir(base);
	}
}

static int host_is_empty(void)
{
	int fd = openat(basefd, "host", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uml_unpack_limits limits = { 4 << 20, 2000, 32 };
	uml_unpack_stats stats = { 0 };
	soda_error *e = NULL;
	int rootfd;

	if (basefd < 0) {
		snprintf(base, sizeof(base), "/tmp/soda-fuzz-unpack-XXXXXX");
		if (!mkdtemp(base))
			abort();
		basefd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (basefd < 0 || mkdirat(basefd, "host", 0700) < 0)
			abort();
		atexit(cleanup);
	}
	if (mkdirat(basefd, "root", 0700) < 0)
		abort();
	rootfd = openat(basefd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		abort();
	if (uml_unpack_tar_memory(rootfd, data, size, &limits, &stats, &e) < 0 &&
	    (!e || !soda_error_message(e)))
		abort(); /* every failure says why */
	soda_error_free(e);
	if (stats.bytes > limits.max_bytes || stats.entries > limits.max_entries + 1)
		abort();
	close(rootfd);
	if (uml_unpack_remove_at(basefd, "root") < 0 || !host_is_empty())
		abort();
	return 0;
}
