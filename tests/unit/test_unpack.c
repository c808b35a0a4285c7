/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image unpacker's logic (backends/uml/unpack.c) without root: member
 * names, the cost of entries, and tarballs made here in memory unpacked
 * into a temporary directory: links are stored, never written through;
 * `..` names and hard links out of the tree are refused; the limits hold. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backends/uml/unpack.h"

static void test_clean_name(void **state)
{
	static const struct {
		const char *in, *out; /* out NULL: refused */
	} cases[] = {
		{ "a/b", "a/b" },         { "/abs/x", "abs/x" },   { "./x/./y/", "x/y" },
		{ "//a///b", "a/b" },     { ".", "" },             { "/", "" },
		{ "..", NULL },           { "../x", NULL },        { "a/../../x", NULL },
		{ "a/..", NULL },         { "/../etc", NULL },     { "", NULL },
		{ "a/..b", "a/..b" },     { "...", "..." },        { "\xff\xfe/x", "\xff\xfe/x" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *clean = NULL;
		int r = uml_unpack_clean_name(cases[i].in, &clean);

		if (!cases[i].out) {
			assert_int_equal(r, -EINVAL);
			continue;
		}
		assert_int_equal(r, 0);
		assert_string_equal(clean, cases[i].out);
		free(clean);
	}
	{
		char *lng = malloc(5000), *clean = NULL;

		memset(lng, 'a', 4999);
		lng[4999] = '\0';
		assert_int_equal(uml_unpack_clean_name(lng, &clean), -ENAMETOOLONG);
		memset(lng, 'a', 300);
		lng[300] = '\0';
		assert_int_equal(uml_unpack_clean_name(lng, &clean), -ENAMETOOLONG);
		free(lng);
	}
}

static void test_escape_and_cost(void **state)
{
	char *s;

	(void)state;
	s = uml_unpack_escape("caf\xe9/\n'\\", 100);
	assert_string_equal(s, "caf\\xe9/\\x0a\\x27\\x5c");
	free(s);
	s = uml_unpack_escape("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 20);
	assert_true(strlen(s) < 32);
	assert_non_null(strstr(s, "..."));
	free(s);
	assert_int_equal(uml_unpack_cost(0), 512);
	assert_int_equal(uml_unpack_cost(1), 4096 + 512);
	assert_int_equal(uml_unpack_cost(4096), 4096 + 512);
	assert_true(uml_unpack_cost(UINT64_MAX - 1) == UINT64_MAX);
}

/* --- Tarballs made in memory -------------------------------------------- */

typedef struct tarb {
	struct archive *a;
	char buf[1 << 20];
	size_t used;
} tarb;

static tarb *tar_new(void)
{
	tarb *t = calloc(1, sizeof(*t));

	t->a = archive_write_new();
	archive_write_set_format_gnutar(t->a);
	archive_write_set_bytes_in_last_block(t->a, 1);
	assert_int_equal(archive_write_open_memory(t->a, t->buf, sizeof(t->buf), &t->used),
			 ARCHIVE_OK);
	return t;
}

/* type: 'f' file (@data), 'd' directory, 'l' symlink (@data: target), 'h'
 * hard link (@data: target name). */
static void tar_add(tarb *t, char type, const char *name, const char *data)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_copy_pathname(e, name);
	archive_entry_set_perm(e, type == 'd' ? 0755 : 0644);
	switch (type) {
	case 'f':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_size(e, (la_int64_t)strlen(data));
		break;
	case 'd':
		archive_entry_set_filetype(e, AE_IFDIR);
		break;
	case 'l':
		archive_entry_set_filetype(e, AE_IFLNK);
		archive_entry_copy_symlink(e, data);
		break;
	case 'h':
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_copy_hardlink(e, data);
		break;
	}
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (type == 'f')
		assert_int_equal(archive_write_data(t->a, data, strlen(data)), (ssize_t)strlen(data));
	archive_entry_free(e);
}

typedef struct fixture {
	char dir[64];   /* the staging root */
	char decoy[64]; /* a directory outside it */
	int rootfd;
	uml_unpack_limits limits;
	uml_unpack_stats stats;
	soda_error *err;
} fixture;

static int setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/soda-unit-unpack-XXXXXX");
	snprintf(f->decoy, sizeof(f->decoy), "/tmp/soda-decoy-XXXXXX");
	if (!mkdtemp(f->dir) || !mkdtemp(f->decoy))
		return -1;
	f->rootfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	f->limits = (uml_unpack_limits){ 1 << 20, 1000, 16 };
	*state = f;
	return f->rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	fixture *f = *state;
	int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char src[96];

	close(f->rootfd);
	snprintf(src, sizeof(src), "%s.src", f->dir + 5); /* test_tree's, if it failed */
	uml_unpack_remove_at(tmp, src);
	uml_unpack_remove_at(tmp, f->dir + 5);
	uml_unpack_remove_at(tmp, f->decoy + 5);
	close(tmp);
	soda_error_free(f->err);
	free(f);
	return 0;
}

static int unpack(fixture *f, tarb *t)
{
	int r;

	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	f->stats = (uml_unpack_stats){ 0 };
	soda_error_free(f->err);
	f->err = NULL;
	r = uml_unpack_tar_memory(f->rootfd, t->buf, t->used, &f->limits, &f->stats, &f->err);
	free(t);
	return r;
}

static int decoy_entries(fixture *f)
{
	char cmd[128];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "find %s -mindepth 1 | wc -l", f->decoy);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static char *read_at(int dirfd, const char *name)
{
	static char buf[256];
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return buf;
}

static void test_tar_contained(void **state)
{
	fixture *f = *state;
	tarb *t = tar_new();
	struct stat st;
	char *abs;

	tar_add(t, 'd', "etc", NULL);
	tar_add(t, 'f', "etc/motd", "hello\n");
	tar_add(t, 'l', "soda", f->decoy);         /* a link to a host directory: stored */
	tar_add(t, 'l', "a/b/c", f->decoy);        /* parents made on the way */
	tar_add(t, 'h', "etc/motd2", "/etc/motd"); /* absolute: the image's etc/motd */
	abs = NULL;
	assert_true(asprintf(&abs, "%s/abs", f->decoy) > 0);
	tar_add(t, 'f', abs, "absolute\n"); /* lands in the image, not in the decoy */
	tar_add(t, 'f', "caf\xe9", "latin1\n");
	assert_int_equal(unpack(f, t), 0);
	assert_int_equal(f->stats.entries, 7);
	assert_string_equal(read_at(f->rootfd, "etc/motd"), "hello\n");
	assert_int_equal(fstatat(f->rootfd, "etc/motd2", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(fstatat(f->rootfd, "soda", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(fstatat(f->rootfd, "a/b/c", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_string_equal(read_at(f->rootfd, abs + 1), "absolute\n");
	assert_string_equal(read_at(f->rootfd, "caf\xe9"), "latin1\n");
	assert_int_equal(decoy_entries(f), 0);
	free(abs);
}

static void test_tar_refused(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *first_type, *first, *first_data, *name, *needle;
	} cases[] = {
		/* Through a link made by an earlier entry, at any depth. */
		{ "l", "soda", "DECOY", "soda/init", "'soda' is a symbolic link" },
		{ "l", "a", "DECOY", "a/b/c/x", "'a' is a symbolic link" },
		{ "l", "x", "DECOY/sub", "x/y", "'x' is a symbolic link" },
		{ "-", NULL, NULL, "../x", "'..'" },
		{ "-", NULL, NULL, "a/../../x", "'..'" },
		{ "h", "hl", "DECOY/secret", NULL, "no earlier file" },
		{ "h", "hl2", "../../etc/passwd", NULL, "no earlier file" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tarb *t = tar_new();
		char *data = NULL;

		if (cases[i].first_data) {
			const char *d = strstr(cases[i].first_data, "DECOY");

			if (d)
				assert_true(asprintf(&data, "%s%s", f->decoy, d + 5) > 0);
			else
				data = strdup(cases[i].first_data);
		}
		if (cases[i].first_type[0] == 'l')
			tar_add(t, 'l', cases[i].first, data);
		else if (cases[i].first_type[0] == 'h')
			tar_add(t, 'h', cases[i].first, data);
		if (cases[i].name)
			tar_add(t, cases[i].name[strlen(cases[i].name) - 1] == '/' ? 'd' : 'f',
				cases[i].name, "pwned\n");
		assert_int_equal(decoy_entries(f), 0);
		assert_true(unpack(f, t) < 0);
		assert_non_null(f->err);
		assert_non_null(strstr(soda_error_message(f->err), cases[i].needle));
		assert_non_null(strstr(soda_error_message(f->err), "entry '"));
		assert_int_equal(decoy_entries(f), 0);
		free(data);
		/* A fresh root for the next case. */
		close(f->rootfd);
		{
			int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			assert_int_equal(uml_unpack_remove_at(tmp, f->dir + 5), 0);
			close(tmp);
		}
		assert_int_equal(mkdir(f->dir, 0700), 0);
		f->rootfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
}

static void test_tar_limits(void **state)
{
	fixture *f = *state;
	tarb *t;
	char name[32];

	/* Bytes: the entry that passes the limit is named. */
	f->limits.max_bytes = 16384;
	t = tar_new();
	tar_add(t, 'f', "small", "x");
	{
		struct archive_entry *e = archive_entry_new();

		archive_entry_copy_pathname(e, "big");
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, 1 << 16);
		assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
		archive_entry_free(e);
		{
			static char zeros[1 << 16];

			assert_int_equal(archive_write_data(t->a, zeros, sizeof(zeros)), sizeof(zeros));
		}
	}
	assert_int_equal(unpack(f, t), -EFBIG);
	assert_non_null(strstr(soda_error_message(f->err), "entry 'big'"));
	assert_int_equal(faccessat(f->rootfd, "big", F_OK, AT_SYMLINK_NOFOLLOW), -1);

	/* Entries. */
	f->limits = (uml_unpack_limits){ 1 << 20, 10, 16 };
	t = tar_new();
	for (int i = 0; i < 11; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		tar_add(t, 'f', name, "");
	}
	assert_int_equal(unpack(f, t), -E2BIG);
	assert_non_null(strstr(soda_error_message(f->err), "entry 'n10'"));

	/* Depth. */
	f->limits = (uml_unpack_limits){ 1 << 20, 1000, 3 };
	t = tar_new();
	tar_add(t, 'f', "a/b/c", "");
	tar_add(t, 'f', "a/b/c2/d", "");
	assert_int_equal(unpack(f, t), -E2BIG);
	assert_non_null(strstr(soda_error_message(f->err), "entry 'a/b/c2/d'"));

	/* Cut short in the middle of a member's data: the member is named. */
	f->limits = (uml_unpack_limits){ 1 << 20, 1000, 16 };
	t = tar_new();
	{
		static char data[20000];

		memset(data, 'x', sizeof(data) - 1);
		tar_add(t, 'f', "etc/cut", data);
	}
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	soda_error_free(f->err);
	f->err = NULL;
	assert_true(uml_unpack_tar_memory(f->rootfd, t->buf, 512 + 4096, &f->limits, &f->stats,
					  &f->err) < 0);
	assert_non_null(strstr(soda_error_message(f->err), "entry 'etc/cut'"));
	free(t);

	/* Not a tarball at all. */
	{
		static const char junk[4096] = "this is not a tarball";

		soda_error_free(f->err);
		f->err = NULL;
		assert_int_equal(uml_unpack_tar_memory(f->rootfd, junk, sizeof(junk), &f->limits,
						       &f->stats, &f->err),
				 -EINVAL);
		assert_non_null(strstr(soda_error_message(f->err), "not a tarball"));
	}
}

/* A directory source with a hard link to a file outside it is refused
 * before anything is copied; links in it are copied as links. */
static void test_tree(void **state)
{
	fixture *f = *state;
	char src[96], p[160], q[160];
	struct stat st;

	snprintf(src, sizeof(src), "%s.src", f->dir);
	assert_int_equal(mkdir(src, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", src);
	assert_int_equal(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub/file", src);
	fclose(fopen(p, "w"));
	snprintf(q, sizeof(q), "%s/inside-link", src);
	assert_int_equal(link(p, q), 0);
	snprintf(p, sizeof(p), "%s/soda", src);
	assert_int_equal(symlink(f->decoy, p), 0);
	assert_int_equal(uml_copy_tree(f->rootfd, src, &f->limits, &f->stats, &f->err), 0);
	assert_int_equal(fstatat(f->rootfd, "soda", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(fstatat(f->rootfd, "inside-link", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_int_equal(st.st_nlink, 2);

	/* Now a hard link to a file of the decoy. */
	snprintf(p, sizeof(p), "%s/secret", f->decoy);
	fclose(fopen(p, "w"));
	snprintf(q, sizeof(q), "%s/sub/stolen", src);
	assert_int_equal(link(p, q), 0);
	close(f->rootfd);
	{
		int tmp = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_int_equal(uml_unpack_remove_at(tmp, f->dir + 5), 0);
		assert_int_equal(mkdir(f->dir, 0700), 0);
		f->rootfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		assert_int_equal(uml_copy_tree(f->rootfd, src, &f->limits, &f->stats, &f->err),
				 -EXDEV);
		assert_non_null(strstr(soda_error_message(f->err), "entry 'sub/stolen'"));
		assert_int_equal(faccessat(f->rootfd, "sub", F_OK, AT_SYMLINK_NOFOLLOW), -1);
		uml_unpack_remove_at(tmp, src + 5);
		close(tmp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_name),
		cmocka_unit_test(test_escape_and_cost),
		cmocka_unit_test_setup_teardown(test_tar_contained, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tar_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tar_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
