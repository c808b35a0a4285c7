/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Runs a fuzz target over files, without libFuzzer: every seed and every
 * crash reproducer in tests/fuzz/corpus/<target>/ is a regression test.
 *   fuzz-run-<target> FILE-OR-DIR...
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0;

	if (!f) {
		perror(path);
		return 1;
	}
	buf = malloc(1 << 20);
	if (!buf) {
		fclose(f);
		return 1;
	}
	len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int n = 0, bad = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			n++;
			continue;
		}
		d = opendir(argv[i]);
		while (d && (de = readdir(d))) {
			char *p = NULL;

			if (de->d_name[0] == '.' || asprintf(&p, "%s/%s", argv[i], de->d_name) < 0)
				continue;
			bad |= run_file(p);
			n++;
			free(p);
		}
		if (d)
			closedir(d);
	}
	printf("ran %d inputs\n", n);
	return bad || n == 0;
}
