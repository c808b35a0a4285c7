/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* COW layer headers as linux.uml reads them, and ELF dependency discovery. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"
#include "backends/uml/cow.h"
#include "backends/uml/elfdeps.h"

static char dir[] = "/tmp/soda-it-unit-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return th_sh("rm -rf %s", dir);
}

static void test_cow(void **state)
{
	char base[128], cow[128];
	unsigned char hdr[40];
	su_cow_info ci;
	struct stat st;
	soda_error *err = NULL;
	int fd;

	(void)state;
	snprintf(base, sizeof(base), "%s/base.img", dir);
	snprintf(cow, sizeof(cow), "%s/layer.cow", dir);
	fd = open(base, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 << 20), 0);
	close(fd);
	assert_int_equal(stat(base, &st), 0);
	assert_soda_ok(su_cow_create(cow, base, "/disk/base.img", 4242, 4343, &err), err);
	/* The exact bytes linux.uml 6.1 wrote in the same situation (see cow.h). */
	fd = open(cow, O_RDONLY);
	assert_int_equal(read(fd, hdr, sizeof(hdr)), sizeof(hdr));
	close(fd);
	assert_memory_equal(hdr, "OOOM\0\0\0\3", 8);
	assert_int_equal(hdr[8] << 24 | hdr[9] << 16 | hdr[10] << 8 | hdr[11],
			 (uint32_t)st.st_mtime);
	assert_memory_equal(hdr + 12, "\0\0\0\0\1\0\0\0", 8); /* 16 MiB */
	assert_memory_equal(hdr + 20, "\0\0\2\0\0\0\x10\0\0\0\0\0", 12);
	assert_memory_equal(hdr + 32, "/disk/ba", 8);
	assert_int_equal(stat(cow, &st), 0);
	/* 8192 (header) + 4096 (bitmap) rounded to 12288, then the data. */
	assert_int_equal(st.st_size, 12288 + (16 << 20));
	assert_int_equal(st.st_uid, 4242);
	assert_int_equal(st.st_gid, 4343);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(st.st_blocks * 512 < 64 * 1024); /* sparse */
	assert_soda_ok(su_cow_read(cow, &ci, &err), err);
	assert_string_equal(ci.backing_file, "/disk/base.img");
	assert_int_equal(ci.size, 16 << 20);
	assert_int_equal(ci.data_offset, 12288);
	/* Never over an existing file. */
	assert_soda_fails(su_cow_create(cow, base, "/disk/base.img", 1, 1, &err), -EEXIST, err);
	/* A non-COW file is refused. */
	assert_soda_fails(su_cow_read(base, &ci, &err), -EINVAL, err);
	assert_soda_fails(su_cow_create(cow, "/nonexistent", "/x", 1, 1, &err), -ENOENT, err);
}

static void test_elfdeps(void **state)
{
	char **deps = NULL, junk[128];
	soda_error *err = NULL;
	bool libc = false, ld = false;
	int fd;

	(void)state;
	assert_soda_ok(su_elf_deps("/usr/bin/linux.uml", &deps, &err), err);
	for (size_t i = 0; deps[i]; i++) {
		assert_int_equal(deps[i][0], '/');
		libc |= strstr(deps[i], "/libc.so.6") != NULL;
		ld |= strstr(deps[i], "ld-linux") != NULL;
	}
	assert_true(libc);
	assert_true(ld);
	su_strv_free(deps);
	deps = NULL;
	/* A static binary needs nothing. */
	assert_soda_ok(su_elf_deps("/bin/busybox", &deps, &err), err);
	assert_null(deps[0]);
	su_strv_free(deps);
	/* Garbage and truncated ELF files are refused, not crashed on. */
	snprintf(junk, sizeof(junk), "%s/junk", dir);
	fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_int_equal(write(fd, "\177ELF\2\1\1\0garbage", 15), 15);
	close(fd);
	assert_soda_fails(su_elf_deps(junk, &deps, &err), -ENOEXEC, err);
	assert_int_equal(th_sh("head -c 3000 /usr/bin/linux.uml > %s", junk), 0);
	assert_true(su_elf_deps(junk, &deps, &err) < 0);
	soda_error_free(err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cow),
		cmocka_unit_test(test_elfdeps),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
