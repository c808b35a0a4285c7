/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bench-images: what building an image from tenant content costs with the
 * descriptor-based unpacker (backends/uml/unpack.c), against the old way
 * measured in the same run: GNU tar -x (or cp -a) into a directory, then
 * mkfs.ext4 -d of it, the same sizes. A synthetic root of FILES files
 * (sizes 0-64 KiB, one in 200 of 1-4 MiB), as a tarball and as a directory.
 * The library makes the image durable (an fsync of its directory and of
 * its record, as it did before), so the old way's run ends with a sync of
 * the file system too.
 *   bench-images [FILES [ROUNDS]]     (root; defaults 20000 3)
 * Prints the medians and the ratios new/old (below 1: faster than the old).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <soda/soda.h>

#include "bench_sh.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return v[n / 2];
}

static void die(const char *what, soda_error *e)
{
	fprintf(stderr, "bench-images: %s: %s\n", what, e ? soda_error_message(e) : strerror(errno));
	exit(1);
}

/* A root of @files files in directories of 500, deterministic sizes. */
static void make_tree(const char *dir, int files)
{
	static char buf[4 << 20];
	uint64_t x = 88172645463325252ULL, total = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + (i >> 9));
	for (int i = 0; i < files; i++) {
		char path[256];
		size_t size;
		int fd;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		size = i % 200 == 199 ? (size_t)(1 << 20) + (size_t)(x % (3u << 20))
				      : (size_t)(x % 65536);
		if (i % 500 == 0) {
			snprintf(path, sizeof(path), "%s/usr/d%d", dir, i / 500);
			if (sh("mkdir -p %s", path) != 0)
				die("mkdir", NULL);
		}
		snprintf(path, sizeof(path), "%s/usr/d%d/f%d", dir, i / 500, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, buf, size) != (ssize_t)size)
			die(path, NULL);
		close(fd);
		total += size;
	}
	printf("tree: %d files, %.1f MiB\n", files, (double)total / 1048576);
}

static uint64_t tree_kib(const char *dir)
{
	char cmd[256];
	uint64_t kib = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "du -sk --apparent-size %s", dir);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%" SCNu64, &kib) != 1)
		die("du", NULL);
	pclose(p);
	return kib;
}

int main(int argc, char **argv)
{
	int files = argc > 1 ? atoi(argv[1]) : 20000, rounds = argc > 2 ? atoi(argv[2]) : 3;
	char work[64] = "/var/tmp/soda-bench-images-XXXXXX", state[96], src[96], tar[96];
	static const char *const agent_option[] = { "agent=" BENCH_AGENT, NULL };
	soda_context_options opts = SODA_CONTEXT_OPTIONS_INIT;
	double old_tar[16], new_tar[16], old_dir[16], new_dir[16];
	soda_context *ctx = NULL;
	soda_error *e = NULL;
	uint64_t kib;

	if (geteuid() != 0 || files <= 0 || rounds <= 0 || rounds > 16) {
		fprintf(stderr, "usage (root): bench-images [FILES [ROUNDS<=16]]\n");
		return 2;
	}
	if (!mkdtemp(work))
		die("mkdtemp", NULL);
	snprintf(state, sizeof(state), "%s/state", work);
	snprintf(src, sizeof(src), "%s/src", work);
	snprintf(tar, sizeof(tar), "%s/src.tar", work);
	make_tree(src, files);
	if (sh("tar --numeric-owner -cf %s -C %s .", tar, src) != 0)
		die("tar -c", NULL);
	kib = tree_kib(src);
	opts.state_dir = state;
	opts.driver_options = agent_option;
	if (soda_context_open(&ctx, "uml:///", &opts, 0, &e) < 0)
		die("context", e);
	for (int r = 0; r < rounds; r++) {
		/* The old builder: unpack or copy as root, mkfs.ext4 -d, the
		 * size it picked (content + 1/4 + 16 MiB, in 4 MiB steps). */
		uint64_t size_kib = (kib + kib / 4 + 16384 + 4095) / 4096 * 4096;
		double t;

		sync();
		t = now_s();
		if (sh("mkdir %s/old && tar -x -f %s -C %s/old --numeric-owner --no-overwrite-dir && "
		       "mkfs.ext4 -q -F -t ext4 -O ^has_journal -E root_owner=0:0 -d %s/old %s/old.img "
		       "%" PRIu64 "k && sync -f %s/old.img && rm -rf %s/old %s/old.img",
		       work, tar, work, work, work, size_kib, work, work, work) != 0)
			die("old tarball build", NULL);
		old_tar[r] = now_s() - t;
		sync();
		t = now_s();
		if (soda_image_build(ctx, "t", SODA_IMAGE_SOURCE_TARBALL, tar, 0, SODA_IMAGE_REPLACE,
				     &e) < 0)
			die("tarball build", e);
		new_tar[r] = now_s() - t;
		sync();
		t = now_s();
		if (sh("mkdir %s/old && cp -a --reflink=auto %s/. %s/old && "
		       "mkfs.ext4 -q -F -t ext4 -O ^has_journal -E root_owner=0:0 -d %s/old %s/old.img "
		       "%" PRIu64 "k && sync -f %s/old.img && rm -rf %s/old %s/old.img",
		       work, src, work, work, work, size_kib, work, work, work) != 0)
			die("old directory build", NULL);
		old_dir[r] = now_s() - t;
		sync();
		t = now_s();
		if (soda_image_build(ctx, "d", SODA_IMAGE_SOURCE_DIRECTORY, src, 0, SODA_IMAGE_REPLACE,
				     &e) < 0)
			die("directory build", e);
		new_dir[r] = now_s() - t;
		printf("round %d: tarball old %.2f s new %.2f s; directory old %.2f s new %.2f s\n", r,
		       old_tar[r], new_tar[r], old_dir[r], new_dir[r]);
	}
	{
		double ot = median(old_tar, rounds), nt = median(new_tar, rounds);
		double od = median(old_dir, rounds), nd = median(new_dir, rounds);

		printf("median tarball:   old %.2f s, new %.2f s, new/old %.2f\n", ot, nt, nt / ot);
		printf("median directory: old %.2f s, new %.2f s, new/old %.2f\n", od, nd, nd / od);
	}
	soda_context_unref(ctx);
	sh("rm -rf %s", work);
	return 0;
}
