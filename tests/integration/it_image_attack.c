/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Issue 15: untrusted image content is never interpreted by host root.
 *
 * A decoy host tree (/tmp/soda-decoy-XXXXXX: files, an /sbin-like
 * directory) stands for the host. A malicious corpus made here points at it
 * in every way an image can: links at every depth (soda -> DECOY/sbin,
 * a/b/c -> DECOY, soda/init -> DECOY/x), hard links to its files, device
 * nodes, setuid files, absolute and `..` names, names that are not UTF-8, a
 * 100,000-entry tarball and a sparse 1 TB file. Each is built with
 * soda_image_build() as a directory and as a tarball; the decoy hashes the
 * same before and after every build, and each input gets either a clear
 * error naming the entry or an image whose content is checked (debugfs
 * reads it, nothing is mounted). The positive control does what the old
 * builder did (a root copy, then /soda/init written through the tree) in a
 * temporary directory and sees the decoy change, so the hash can fail. */
#include "it_common.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#define DEBUGFS "/usr/sbin/debugfs"

typedef struct attack {
	th_env *env;
	char decoy[64]; /* the host tree that must not change */
	char work[64];  /* the corpus */
	off_t agent_size;
} attack;

/* --- The decoy and its hash -------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ ((const unsigned char *)data)[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t walk_hash;

static int hash_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	char line[4096 + 256];
	int n;

	(void)flag;
	(void)ftw;
	n = snprintf(line, sizeof(line), "%s %o %u %u %lld %lld.%09ld %lu\n", path, st->st_mode,
		     st->st_uid, st->st_gid, (long long)st->st_size, (long long)st->st_mtim.tv_sec,
		     st->st_mtim.tv_nsec, (unsigned long)st->st_nlink);
	walk_hash = fnv(walk_hash, line, (size_t)n);
	if (S_ISREG(st->st_mode)) {
		char buf[65536];
		ssize_t k;
		int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

		while (fd >= 0 && (k = read(fd, buf, sizeof(buf))) > 0)
			walk_hash = fnv(walk_hash, buf, (size_t)k);
		if (fd >= 0)
			close(fd);
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t k = readlink(path, target, sizeof(target));

		if (k > 0)
			walk_hash = fnv(walk_hash, target, (size_t)k);
	}
	return 0;
}

static uint64_t decoy_hash(const attack *a)
{
	walk_hash = 0xcbf29ce484222325ULL;
	assert_int_equal(nftw(a->decoy, hash_one, 16, FTW_PHYS), 0);
	return walk_hash;
}

static void put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char *p = NULL;
	FILE *f;

	assert_true(asprintf(&p, "%s/%s", dir, name) > 0);
	f = fopen(p, "we");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(p, mode), 0);
	free(p);
}

static void make_decoy(attack *a)
{
	snprintf(a->decoy, sizeof(a->decoy), "/tmp/soda-decoy-XXXXXX");
	assert_non_null(mkdtemp(a->decoy));
	assert_int_equal(th_sh("mkdir -p %s/sbin %s/sub/deeper", a->decoy, a->decoy), 0);
	put(a->decoy, "sbin/init", "#!/bin/sh\necho the host's init\n", 0755);
	put(a->decoy, "sbin/busybox", "the host's busybox\n", 0755);
	put(a->decoy, "x", "decoy x\n", 0644);
	put(a->decoy, "secret", "the host's secret\n", 0600);
	put(a->decoy, "sub/deeper/file", "deep\n", 0644);
}

static int setup(void **state)
{
	attack *a = calloc(1, sizeof(*a));
	struct stat st;

	if (!a)
		return -1;
	if (env_setup((void **)&a->env) < 0) {
		free(a);
		return -1;
	}
	if (geteuid() == 0) {
		make_decoy(a);
		snprintf(a->work, sizeof(a->work), "/tmp/soda-attack-XXXXXX");
		if (!mkdtemp(a->work))
			return -1;
	}
	if (stat(SODA_TEST_AGENT, &st) == 0)
		a->agent_size = st.st_size;
	*state = a;
	return 0;
}

static int teardown(void **state)
{
	attack *a = *state;

	if (a->decoy[0])
		th_sh("rm -rf %s", a->decoy);
	if (a->work[0])
		th_sh("rm -rf %s", a->work);
	env_teardown((void **)&a->env);
	free(a);
	return 0;
}

/* --- Building and looking into images ------------------------------------ */

/* Builds @name from @src; returns the result and, on failure, the message
 * in *msg (freed by the caller). Checks the decoy did not change and that
 * nothing of the build is left in the work directory. */
static int build(attack *a, const char *name, int kind, const char *src, char **msg)
{
	uint64_t before = decoy_hash(a);
	char *tmp = state_path(a->env, "tmp", "");
	soda_error *err = NULL;
	DIR *d;
	struct dirent *de;
	int r, left = 0;

	r = soda_image_build(a->env->ctx, name, kind, src, 0, SODA_IMAGE_REPLACE, &err);
	*msg = err ? strdup(soda_error_message(err)) : NULL;
	if (err)
		print_message("  %s (%s): %s\n", name,
			      kind == SODA_IMAGE_SOURCE_TARBALL ? "tarball" : "directory",
			      soda_error_message(err));
	soda_error_free(err);
	assert_true(decoy_hash(a) == before);
	d = opendir(tmp);
	while (d && (de = readdir(d)))
		left += de->d_name[0] != '.';
	if (d)
		closedir(d);
	assert_int_equal(left, 0);
	free(tmp);
	return r;
}

/* debugfs's "stat" of @path in image @name (freed by the caller). */
static char *img_stat(attack *a, const char *name, const char *path)
{
	char *img = NULL, *cmd = NULL, *out = NULL;

	assert_soda_ok(soda_image_get_path(&img, a->env->ctx, name, &a->env->err), a->env->err);
	assert_true(asprintf(&cmd, "stat \"%s\"", path) > 0);
	{
		char *argv[] = { DEBUGFS, "-R", cmd, img, NULL };

		assert_int_equal(th_run(argv, &out), 0);
	}
	soda_free(img);
	free(cmd);
	assert_non_null(out);
	return out;
}

static void expect_in(attack *a, const char *name, const char *path, const char *needle)
{
	char *out = img_stat(a, name, path);

	if (!strstr(out, needle))
		print_message("image %s, %s: wanted '%s' in:\n%s\n", name, path, needle, out);
	assert_non_null(strstr(out, needle));
	free(out);
}

/* The libsoda part is there, real files, whatever the tree held. */
static void expect_soda_dir(attack *a, const char *name)
{
	char size[64];

	snprintf(size, sizeof(size), "Size: %lld", (long long)a->agent_size);
	expect_in(a, name, "/soda", "Type: directory");
	expect_in(a, name, "/soda/init", "Type: regular");
	expect_in(a, name, "/soda/init", size);
	expect_in(a, name, "/soda/busybox", "Type: regular");
}

/* --- The corpus ---------------------------------------------------------- */

static char *corpus_dir(attack *a, const char *name)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", a->work, name) > 0);
	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

static void at(const char *dir, const char *name, char **ret)
{
	assert_true(asprintf(ret, "%s/%s", dir, name) > 0);
}

static void make_link(const char *dir, const char *name, const char *target)
{
	char *p;

	at(dir, name, &p);
	assert_int_equal(symlink(target, p), 0);
	free(p);
}

/* The same tree as a tarball, by GNU tar (what a tenant would send). */
static char *tar_of(attack *a, const char *dir, const char *extra)
{
	char *t = NULL;

	assert_true(asprintf(&t, "%s.tar", dir) > 0);
	assert_int_equal(th_sh("tar --numeric-owner %s -cf %s -C %s .", extra ? extra : "", t, dir),
			 0);
	(void)a;
	return t;
}

/* Tarballs GNU tar would not make from a tree: written entry by entry. */
typedef struct tarw {
	struct archive *a;
	char *path;
} tarw;

static tarw tar_begin(attack *a, const char *name)
{
	tarw t = { archive_write_new(), NULL };

	assert_true(asprintf(&t.path, "%s/%s.tar", a->work, name) > 0);
	archive_write_set_format_gnutar(t.a);
	assert_int_equal(archive_write_open_filename(t.a, t.path), ARCHIVE_OK);
	return t;
}

/* type 'f' file, 'd' directory, 'l' link to @data, 'h' hard link to @data */
static void tar_put(tarw *t, char type, const char *name, const char *data)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_copy_pathname(e, name);
	archive_entry_set_perm(e, type == 'd' ? 0755 : 0644);
	archive_entry_set_filetype(e, type == 'd' ? AE_IFDIR : type == 'l' ? AE_IFLNK : AE_IFREG);
	if (type == 'f')
		archive_entry_set_size(e, (la_int64_t)strlen(data));
	if (type == 'l')
		archive_entry_copy_symlink(e, data);
	if (type == 'h')
		archive_entry_copy_hardlink(e, data);
	assert_int_equal(archive_write_header(t->a, e), ARCHIVE_OK);
	if (type == 'f')
		assert_int_equal(archive_write_data(t->a, data, strlen(data)), (ssize_t)strlen(data));
	archive_entry_free(e);
}

static char *tar_end(tarw *t)
{
	assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
	archive_write_free(t->a);
	return t->path;
}

static void expect_refused(attack *a, const char *name, int kind, const char *src,
			   const char *needle)
{
	char *msg = NULL;

	assert_true(build(a, name, kind, src, &msg) < 0);
	assert_non_null(msg);
	if (!strstr(msg, needle))
		print_message("wanted '%s' in: %s\n", needle, msg);
	assert_non_null(strstr(msg, needle));
	free(msg);
}

static void expect_built(attack *a, const char *name, int kind, const char *src)
{
	char *msg = NULL;

	assert_int_equal(build(a, name, kind, src, &msg), 0);
	free(msg);
	expect_soda_dir(a, name);
}

/* --- The tests ------------------------------------------------------------ */

/* The old builder's way, done here by hand: the tree copied as root, then
 * /soda/init written by a path joined to the root. It changes the decoy:
 * the hash can tell. */
static void test_positive_control(void **state)
{
	attack *a = *state;
	char *src, *root = NULL, *tar, *init = NULL;
	uint64_t before;
	FILE *f;

	th_require_root();
	src = corpus_dir(a, "control");
	assert_true(asprintf(&root, "%s/control-root", a->work) > 0);
	make_link(src, "soda", a->decoy); /* soda -> DECOY: init lands on DECOY/init */
	before = decoy_hash(a);
	assert_int_equal(th_sh("mkdir %s && cp -a %s/. %s", root, src, root), 0);
	at(root, "soda/init", &init);
	unlink(init);
	f = fopen(init, "we");
	assert_non_null(f);
	fputs("the agent\n", f);
	fclose(f);
	assert_true(decoy_hash(a) != before);
	free(init);

	/* And by the tarball: GNU tar unpacks the link, the write follows it. */
	th_sh("rm -f %s/init", a->decoy);
	make_link(src, "sbin", a->decoy);
	tar = tar_of(a, src, NULL);
	before = decoy_hash(a);
	assert_int_equal(th_sh("rm -rf %s && mkdir %s && tar -xf %s -C %s", root, root, tar, root), 0);
	at(root, "sbin/init", &init);
	f = fopen(init, "we");
	assert_non_null(f);
	fputs("the agent\n", f);
	fclose(f);
	assert_true(decoy_hash(a) != before);
	free(init);
	free(tar);
	free(root);
	free(src);
}

/* Links to host directories at every depth. */
static void test_links(void **state)
{
	attack *a = *state;
	char *src, *tar, *target = NULL;
	tarw t;

	th_require_root();
	/* soda -> DECOY/sbin: the issue as reported. */
	src = corpus_dir(a, "soda-link");
	assert_true(asprintf(&target, "%s/sbin", a->decoy) > 0);
	make_link(src, "soda", target);
	make_link(src, "tmp", a->decoy); /* a mount point of the guest's, linked out */
	tar = tar_of(a, src, NULL);
	expect_built(a, "soda-link-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "soda-link-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "soda-link-tar", "/tmp", "Type: symlink"); /* the guest's own business */
	free(src);
	free(tar);

	/* soda/init -> DECOY/x, soda/busybox -> DECOY/sbin/busybox. */
	src = corpus_dir(a, "init-link");
	{
		char *soda;
		char *x = NULL, *bb = NULL;

		at(src, "soda", &soda);
		assert_int_equal(mkdir(soda, 0777), 0);
		assert_true(asprintf(&x, "%s/x", a->decoy) > 0);
		assert_true(asprintf(&bb, "%s/sbin/busybox", a->decoy) > 0);
		make_link(soda, "init", x);
		make_link(soda, "busybox", bb);
		free(soda);
		free(x);
		free(bb);
	}
	tar = tar_of(a, src, NULL);
	expect_built(a, "init-link-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "init-link-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "init-link-dir", "/soda", "Mode:  0755");
	free(src);
	free(tar);

	/* a/b/c -> DECOY: a link deep down is kept as a link... */
	src = corpus_dir(a, "deep-link");
	assert_int_equal(th_sh("mkdir -p %s/a/b", src), 0);
	make_link(src, "a/b/c", a->decoy);
	tar = tar_of(a, src, NULL);
	expect_built(a, "deep-link-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "deep-link-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "deep-link-dir", "/a/b/c", "Type: symlink");
	expect_in(a, "deep-link-tar", "/a/b/c", a->decoy);
	free(src);
	free(tar);

	/* ...and nothing is written through it, at any depth. */
	t = tar_begin(a, "through-deep");
	tar_put(&t, 'l', "a/b/c", a->decoy);
	tar_put(&t, 'f', "a/b/c/sbin/init", "pwned\n");
	tar = tar_end(&t);
	expect_refused(a, "through-deep", SODA_IMAGE_SOURCE_TARBALL, tar, "'a/b/c/sbin/init'");
	free(tar);
	t = tar_begin(a, "through-soda");
	tar_put(&t, 'l', "soda", target);
	tar_put(&t, 'f', "soda/init", "pwned\n");
	tar = tar_end(&t);
	expect_refused(a, "through-soda", SODA_IMAGE_SOURCE_TARBALL, tar,
		       "'soda' is a symbolic link");
	free(tar);
	t = tar_begin(a, "through-dir");
	tar_put(&t, 'l', "etc", target);
	tar_put(&t, 'd', "etc/sub", NULL);
	tar = tar_end(&t);
	expect_refused(a, "through-dir", SODA_IMAGE_SOURCE_TARBALL, tar, "entry 'etc/sub");
	free(tar);

	/* The source itself given as a link (its parent may be the tenant's,
	 * the link swapped for one to a host directory or file): refused. */
	{
		char *lnk = NULL, *secret = NULL;

		assert_true(asprintf(&lnk, "%s/source-link", a->work) > 0);
		assert_int_equal(symlink(a->decoy, lnk), 0);
		expect_refused(a, "source-link-dir", SODA_IMAGE_SOURCE_DIRECTORY, lnk,
			       "it is a symbolic link");
		assert_int_equal(unlink(lnk), 0);
		assert_true(asprintf(&secret, "%s/secret", a->decoy) > 0);
		assert_int_equal(symlink(secret, lnk), 0);
		expect_refused(a, "source-link-tar", SODA_IMAGE_SOURCE_TARBALL, lnk,
			       "it is a symbolic link");
		free(secret);
		free(lnk);
	}
	free(target);
}

/* Hard links: inside the tree they stay links; to a host file they are
 * refused (the image would get the host's data). */
static void test_hard_links(void **state)
{
	attack *a = *state;
	char *src, *tar, *p, *q, *secret = NULL;
	tarw t;

	th_require_root();
	src = corpus_dir(a, "hard-inside");
	put(src, "a", "shared\n", 0644);
	at(src, "a", &p);
	at(src, "b", &q);
	assert_int_equal(link(p, q), 0);
	free(p);
	free(q);
	tar = tar_of(a, src, NULL);
	expect_built(a, "hard-inside-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "hard-inside-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "hard-inside-dir", "/b", "Links: 2");
	expect_in(a, "hard-inside-tar", "/b", "Links: 2");
	free(src);
	free(tar);

	src = corpus_dir(a, "hard-host");
	assert_int_equal(th_sh("mkdir %s/etc", src), 0);
	assert_true(asprintf(&secret, "%s/secret", a->decoy) > 0);
	at(src, "etc/stolen", &q);
	assert_int_equal(link(secret, q), 0);
	free(q);
	expect_refused(a, "hard-host-dir", SODA_IMAGE_SOURCE_DIRECTORY, src,
		       "'etc/stolen': it is a hard link to a file outside the directory");
	free(src);

	t = tar_begin(a, "hard-host");
	tar_put(&t, 'h', "etc/stolen", secret); /* absolute: beneath the image's root */
	tar = tar_end(&t);
	expect_refused(a, "hard-host-tar", SODA_IMAGE_SOURCE_TARBALL, tar, "no earlier file");
	free(tar);
	t = tar_begin(a, "hard-up");
	tar_put(&t, 'h', "etc/stolen", "../../../../../../etc/passwd");
	tar = tar_end(&t);
	expect_refused(a, "hard-up-tar", SODA_IMAGE_SOURCE_TARBALL, tar, "no earlier file");
	free(tar);
	free(secret);
}

/* Device nodes and setuid files: the guest's, in the image; nothing of
 * them stays on the host (build() checks the work directory is empty). */
static void test_nodes_and_setuid(void **state)
{
	attack *a = *state;
	char *src, *tar, *p;

	th_require_root();
	src = corpus_dir(a, "nodes");
	assert_int_equal(th_sh("mkdir %s/dev %s/bin", src, src), 0);
	at(src, "dev/sda", &p);
	assert_int_equal(mknod(p, S_IFBLK | 0666, makedev(8, 0)), 0);
	free(p);
	at(src, "dev/mem", &p);
	assert_int_equal(mknod(p, S_IFCHR | 0666, makedev(1, 1)), 0);
	free(p);
	at(src, "dev/fifo", &p);
	assert_int_equal(mkfifo(p, 0600), 0);
	free(p);
	put(src, "bin/su", "setuid\n", 04755);
	put(src, "bin/sg", "setgid\n", 02755);
	put(src, "bin/ping", "caps\n", 0755);
	at(src, "bin/ping", &p);
	{
		/* cap_net_raw+ep (vfs_cap_data revision 2), and a user attribute. */
		uint32_t cap[5] = { 0x02000001, 1u << 13, 0, 0, 0 };

		assert_int_equal(setxattr(p, "security.capability", cap, sizeof(cap), 0), 0);
		assert_int_equal(setxattr(p, "user.soda", "tenant", 6, 0), 0);
	}
	free(p);
	tar = tar_of(a, src, NULL);
	expect_built(a, "nodes-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "nodes-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	for (int i = 0; i < 2; i++) {
		const char *img = i ? "nodes-tar" : "nodes-dir";

		expect_in(a, img, "/dev/sda", "Type: block special");
		expect_in(a, img, "/dev/sda", "Device major/minor number: 08:00");
		expect_in(a, img, "/dev/mem", "Type: character special");
		expect_in(a, img, "/dev/fifo", "Type: FIFO");
		expect_in(a, img, "/bin/su", "Mode:  04755");
		expect_in(a, img, "/bin/sg", "Mode:  02755");
	}
	/* Extended attributes of a directory's files (as cp -a kept them),
	 * file capabilities too: set after the owner, which would drop them. */
	expect_in(a, "nodes-dir", "/bin/ping", "user.soda (6) = \"tenant\"");
	expect_in(a, "nodes-dir", "/bin/ping", "security.capability (20)");
	free(src);
	free(tar);
}

/* Absolute names land in the image; `..` names are refused; names need
 * not be UTF-8. */
static void test_names(void **state)
{
	attack *a = *state;
	char *src, *tar, *abs = NULL, *up = NULL;
	tarw t;

	th_require_root();
	assert_true(asprintf(&abs, "%s/sbin/init", a->decoy) > 0);
	t = tar_begin(a, "absolute");
	tar_put(&t, 'f', abs, "pwned\n");
	tar = tar_end(&t);
	expect_built(a, "absolute", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "absolute", abs, "Size: 6");
	free(tar);

	assert_true(asprintf(&up, "../../../../../../..%s/dotdot", a->decoy) > 0);
	t = tar_begin(a, "dotdot");
	tar_put(&t, 'f', "fine", "fine\n");
	tar_put(&t, 'f', up, "pwned\n");
	tar = tar_end(&t);
	expect_refused(a, "dotdot", SODA_IMAGE_SOURCE_TARBALL, tar, "names with a '..'");
	expect_refused(a, "dotdot", SODA_IMAGE_SOURCE_TARBALL, tar, "'../../../");
	free(tar);
	t = tar_begin(a, "dotdot-mid");
	tar_put(&t, 'f', "a/../../x", "pwned\n");
	tar = tar_end(&t);
	expect_refused(a, "dotdot-mid", SODA_IMAGE_SOURCE_TARBALL, tar, "'a/../../x'");
	free(tar);

	src = corpus_dir(a, "latin1");
	put(src, "caf\xe9", "latin-1\n", 0644);
	assert_int_equal(th_sh("mkdir %s/$(printf '\\377\\376')", src), 0);
	put(src, "\xff\xfe/x", "bytes\n", 0644);
	tar = tar_of(a, src, NULL);
	expect_built(a, "latin1-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	expect_built(a, "latin1-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	expect_in(a, "latin1-dir", "/caf\xe9", "Type: regular");
	expect_in(a, "latin1-tar", "/\xff\xfe/x", "Size: 6");
	/* An error names such an entry readably. */
	t = tar_begin(a, "latin1-up");
	tar_put(&t, 'f', "caf\xe9/../../x", "pwned\n");
	free(tar);
	tar = tar_end(&t);
	expect_refused(a, "latin1-up", SODA_IMAGE_SOURCE_TARBALL, tar, "'caf\\xe9/../../x'");
	free(tar);
	free(src);
	free(abs);
	free(up);
}

/* A tar bomb of entries builds, in bounded time; a sparse 1 TB file is
 * refused at once, before any data is written. */
static void test_bombs(void **state)
{
	attack *a = *state;
	char *src, *tar, *p, name[64];
	uint64_t t0, ms_tar, ms_dir, ms_gnu;
	tarw t;

	th_require_root();
	t = tar_begin(a, "many");
	for (int i = 0; i < 100000; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof(name), "many/d%d", i / 1000);
			tar_put(&t, 'd', name, NULL);
		}
		snprintf(name, sizeof(name), "many/d%d/f%d", i / 1000, i);
		tar_put(&t, 'f', name, "");
	}
	tar = tar_end(&t);
	t0 = th_mono_ms();
	expect_built(a, "many-tar", SODA_IMAGE_SOURCE_TARBALL, tar);
	ms_tar = th_mono_ms() - t0;
	expect_in(a, "many-tar", "/many/d99/f99999", "Type: regular");
	/* Bounded by the test's timeout: seconds on an idle machine. */
	print_message("100,000 entries: tarball build %" PRIu64 " ms\n", ms_tar);
	free(tar);

	/* A tenth of it as a directory (GNU tar's unpacking of it, alone, as
	 * the yardstick of the copy). */
	t = tar_begin(a, "many10k");
	for (int i = 0; i < 10000; i++) {
		if (i % 1000 == 0) {
			snprintf(name, sizeof(name), "many/d%d", i / 1000);
			tar_put(&t, 'd', name, NULL);
		}
		snprintf(name, sizeof(name), "many/d%d/f%d", i / 1000, i);
		tar_put(&t, 'f', name, "");
	}
	tar = tar_end(&t);
	src = corpus_dir(a, "many");
	t0 = th_mono_ms();
	assert_int_equal(th_sh("tar -xf %s -C %s", tar, src), 0);
	ms_gnu = th_mono_ms() - t0;
	t0 = th_mono_ms();
	expect_built(a, "many-dir", SODA_IMAGE_SOURCE_DIRECTORY, src);
	ms_dir = th_mono_ms() - t0;
	expect_in(a, "many-dir", "/many/d9/f9999", "Type: regular");
	print_message("10,000 entries: directory build %" PRIu64 " ms; GNU tar's unpacking "
		      "alone %" PRIu64 " ms\n", ms_dir, ms_gnu);
	/* The copy, the check before it, mkfs and the clean-up together stay
	 * within a few times a plain unpacking of the same tree. */
	assert_true(ms_dir < 4 * ms_gnu + 2000);
	th_sh("rm -rf %s", src);
	free(src);
	free(tar);

	src = corpus_dir(a, "sparse");
	put(src, "small", "small\n", 0644);
	put(src, "big", "", 0644);
	at(src, "big", &p);
	assert_int_equal(truncate(p, 1LL << 40), 0); /* 1 TiB, all hole */
	free(p);
	tar = tar_of(a, src, "--sparse");
	t0 = th_mono_ms();
	expect_refused(a, "sparse-dir", SODA_IMAGE_SOURCE_DIRECTORY, src, "'big': it takes");
	expect_refused(a, "sparse-tar", SODA_IMAGE_SOURCE_TARBALL, tar, "'./big': it takes");
	print_message("sparse 1 TiB file refused in %" PRIu64 " ms (both)\n", th_mono_ms() - t0);
	assert_true(th_mono_ms() - t0 < 10000);
	free(src);
	free(tar);
}

/* An image made from the attack boots: the agent is its PID 1. And
 * sodactl takes a relative source path. */
static void test_boot_and_sodactl(void **state)
{
	attack *a = *state;
	soda_server_config *cfg = NULL;
	soda_server *srv = NULL;
	char *src, *target = NULL, *out = NULL;

	th_require_root();
	src = corpus_dir(a, "boot");
	assert_true(asprintf(&target, "%s/sbin", a->decoy) > 0);
	make_link(src, "soda", target);
	expect_built(a, "boot", SODA_IMAGE_SOURCE_DIRECTORY, src);
	assert_int_equal(soda_server_config_new(&cfg, "boot", NULL), 0);
	assert_int_equal(soda_server_config_set_image(cfg, "boot", NULL), 0);
	assert_int_equal(soda_server_config_set_memory(cfg, 48 << 20, NULL), 0);
	assert_soda_ok(soda_server_define(&srv, a->env->ctx, cfg, 0, &a->env->err), a->env->err);
	soda_server_config_free(cfg);
	assert_soda_ok(soda_server_start(srv, SODA_START_WAIT_READY, &a->env->err), a->env->err);
	soda_server_unref(srv);

	assert_int_equal(th_sh("cd %s && %s --state-dir %s image build relative --from-dir boot",
			       a->work, SODA_TEST_SODACTL, a->env->state_dir),
			 0);
	assert_int_equal(th_sh("cd %s && %s --state-dir %s image list | grep -qx relative",
			       a->work, SODA_TEST_SODACTL, a->env->state_dir),
			 0);
	free(out);
	free(target);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_positive_control, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_links, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nodes_and_setuid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bombs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_boot_and_sodactl, setup, teardown),
	};

	/* SODA_IT_FILTER=test_links runs one test (mutation checks). */
	if (getenv("SODA_IT_FILTER"))
		cmocka_set_test_filter(getenv("SODA_IT_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
