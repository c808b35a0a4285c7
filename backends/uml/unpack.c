/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tenant content into a staging tree (see unpack.h). The invariant: every
 * file system call names an object by (directory descriptor, one
 * component), the descriptor reached from the staging root without
 * following a link, and nothing is created except with O_EXCL or
 * mkdirat/symlinkat/mknodat/linkat, which never follow a final link. The
 * staging tree is private to the build (0700, root's), so once an entry is
 * made by us it stays what we made.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "unpack.h"

uint64_t uml_unpack_cost(uint64_t size)
{
	if (size > UINT64_MAX - 8192)
		return UINT64_MAX;
	return (size + 4095) / 4096 * 4096 + 512;
}

int uml_unpack_clean_name(const char *name, char **ret_clean)
{
	size_t len = strlen(name), out = 0;
	const char *p = name;
	char *clean;

	if (len == 0)
		return -EINVAL;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;
	clean = malloc(len + 1);
	if (!clean)
		return -ENOMEM;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(clean);
			return -EINVAL;
		}
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (n > NAME_MAX) {
				free(clean);
				return -ENAMETOOLONG;
			}
			if (out)
				clean[out++] = '/';
			memcpy(clean + out, p, n);
			out += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	clean[out] = '\0';
	*ret_clean = clean;
	return 0;
}

char *uml_unpack_escape(const char *name, size_t max)
{
	size_t cap = (max < 16 ? 16 : max) + 8, out = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (out + 8 >= cap) {
			memcpy(s + out, "...", 3);
			out += 3;
			break;
		}
		if (*p < 0x20 || *p >= 0x7f || *p == '\\' || *p == '\'')
			out += (size_t)snprintf(s + out, cap - out, "\\x%02x", *p);
		else
			s[out++] = (char)*p;
	}
	s[out] = '\0';
	return s;
}

static unsigned int depth_of(const char *clean)
{
	unsigned int n = *clean ? 1 : 0;

	for (const char *p = clean; *p; p++)
		n += *p == '/';
	return n;
}

/* --- Directories beneath the root, never through a link --------------- */

static int openat2_beneath(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};
	long fd;

	for (int tries = 0; tries < 8; tries++) {
		fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? -errno : (int)fd;
}

/* Opens the directory @dir (a clean relative path, "" for the root) under
 * @rootfd, one O_NOFOLLOW component at a time, creating the missing ones
 * when @create. On -ELOOP/-ENOTDIR, *bad_len is the length of the prefix
 * of @dir that is not a real directory. */
static int open_dir_walk(int rootfd, const char *dir, bool create, size_t *bad_len)
{
	int fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	const char *p = dir;

	if (fd < 0)
		return -errno;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char comp[NAME_MAX + 1];
		int sub;

		memcpy(comp, p, n);
		comp[n] = '\0';
		sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0 && errno == ENOENT && create) {
			if (mkdirat(fd, comp, 0755) < 0 && errno != EEXIST) {
				int r = -errno;

				close(fd);
				return r;
			}
			sub = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (sub < 0) {
			int r = -errno;

			close(fd);
			if (r == -ELOOP || r == -ENOTDIR) {
				*bad_len = (size_t)(p - dir) + n;
				return -ENOTDIR;
			}
			return r;
		}
		close(fd);
		fd = sub;
		p += n;
		if (*p == '/')
			p++;
	}
	return fd;
}

static int open_dir_beneath(int rootfd, const char *dir, bool create, size_t *bad_len)
{
	int fd;

	if (!*dir) {
		fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		return fd < 0 ? -errno : fd;
	}
	fd = openat2_beneath(rootfd, dir);
	if (fd >= 0)
		return fd;
	/* Missing components to create, an old kernel, or an error to name. */
	return open_dir_walk(rootfd, dir, create, bad_len);
}

/* Splits a clean path at its last '/': *ret_dir (malloc'd) and the base. */
static int split_path(const char *clean, char **ret_dir, const char **ret_base)
{
	const char *slash = strrchr(clean, '/');

	*ret_dir = slash ? strndup(clean, (size_t)(slash - clean)) : strdup("");
	*ret_base = slash ? slash + 1 : clean;
	return *ret_dir ? 0 : -ENOMEM;
}

int uml_unpack_remove_at(int dirfd, const char *name)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	int fd, r = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		int k;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		k = uml_unpack_remove_at(fd, de->d_name);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

/* --- Entries ------------------------------------------------------------ */

typedef struct unpacker {
	int rootfd;
	const uml_unpack_limits *limits;
	uml_unpack_stats *stats;
	bool root;        /* running as root: owners are kept */
	char *cache_dir;  /* the last parent directory, open as cache_fd */
	int cache_fd;
	const char *what; /* "tarball PATH" or "directory PATH", for messages */
	soda_error **error;
} unpacker;

static int entry_error(unpacker *u, const char *name, int code, const char *fmt, ...)
	SU_PRINTF(4, 5);
static int entry_error(unpacker *u, const char *name, int code, const char *fmt, ...)
{
	char *esc = uml_unpack_escape(name, 300), *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	r = su_errorf(u->error, code, "%s, entry '%s': %s", u->what, esc ? esc : "?",
		      msg ? msg : "out of memory");
	free(esc);
	free(msg);
	return r;
}

static int parent_fd(unpacker *u, const char *name, const char *dir)
{
	size_t bad = 0;
	int fd;

	if (u->cache_dir && strcmp(u->cache_dir, dir) == 0)
		return u->cache_fd;
	fd = open_dir_beneath(u->rootfd, dir, true, &bad);
	if (fd < 0) {
		if (fd == -ENOTDIR) {
			char *prefix = strndup(dir, bad), *esc = prefix ? uml_unpack_escape(prefix, 300)
								       : NULL;
			int r = entry_error(u, name, -ELOOP,
					    "'%s' is a symbolic link or not a directory in the image; "
					    "nothing is written through it",
					    esc ? esc : "?");

			free(prefix);
			free(esc);
			return r;
		}
		return entry_error(u, name, fd, "cannot open its directory: %s", strerror(-fd));
	}
	if (u->cache_dir)
		close(u->cache_fd);
	free(u->cache_dir);
	u->cache_dir = strdup(dir);
	u->cache_fd = fd;
	if (!u->cache_dir) {
		close(fd);
		return su_errorf(u->error, -ENOMEM, "out of memory");
	}
	return fd;
}

/* Clears the way for a new non-directory @base: a file, link or node of
 * that name goes (as tar overwrites); a directory stays and is an error. */
static int make_room(unpacker *u, const char *name, int dfd, const char *base, bool is_dir,
		     bool *ret_exists_dir)
{
	struct stat st;

	*ret_exists_dir = false;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : entry_error(u, name, -errno, "%s", strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		if (is_dir) {
			*ret_exists_dir = true;
			return 0;
		}
		return entry_error(u, name, -EEXIST, "a directory of that name is already there");
	}
	if (unlinkat(dfd, base, 0) < 0)
		return entry_error(u, name, -errno, "cannot replace it: %s", strerror(errno));
	return 0;
}

static int set_owner_mode(unpacker *u, const char *name, int dfd, const char *base, int fd,
			  uid_t uid, gid_t gid, mode_t mode, bool is_link)
{
	int r;

	/* Owner first: chown clears the setuid and setgid bits. */
	if (u->root) {
		r = fd >= 0 ? fchown(fd, uid, gid)
			    : fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			return entry_error(u, name, -errno, "cannot set its owner: %s",
					   strerror(errno));
	}
	if (is_link)
		return 0;
	/* A node we have just made cannot have become a link: the tree is ours. */
	r = fd >= 0 ? fchmod(fd, mode & 07777) : fchmodat(dfd, base, mode & 07777, 0);
	if (r < 0)
		return entry_error(u, name, -errno, "cannot set its mode: %s", strerror(errno));
	return 0;
}

static int budget(unpacker *u, const char *name, const char *clean, uint64_t cost)
{
	const uml_unpack_limits *l = u->limits;

	if (depth_of(clean) > l->max_depth)
		return entry_error(u, name, -E2BIG, "nested deeper than %u levels", l->max_depth);
	if (++u->stats->entries > l->max_entries)
		return entry_error(u, name, -E2BIG, "more than %llu entries",
				   (unsigned long long)l->max_entries);
	if (cost > l->max_bytes || u->stats->bytes > l->max_bytes - cost)
		return entry_error(u, name, -EFBIG,
				   "it takes %llu bytes, and the content would pass the image's "
				   "limit of %llu bytes",
				   (unsigned long long)cost, (unsigned long long)l->max_bytes);
	u->stats->bytes += cost;
	return 0;
}

/* --- Tarballs ------------------------------------------------------------ */

static int tar_write_data(unpacker *u, struct archive *a, const char *name, int fd, uint64_t size)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int k = archive_read_data_block(a, &buf, &len, &off);

		if (k == ARCHIVE_EOF)
			break;
		if (k < ARCHIVE_WARN)
			return entry_error(u, name, -EINVAL, "cannot read its data: %s",
					   archive_error_string(a));
		if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off)
			return entry_error(u, name, -EINVAL, "data past its stated size");
		while (len) {
			ssize_t n = pwrite(fd, buf, len, off);

			if (n <= 0)
				return entry_error(u, name, n < 0 ? -errno : -EIO, "cannot write it: %s",
						   n < 0 ? strerror(errno) : "short write");
			buf = (const char *)buf + n;
			len -= (size_t)n;
			off += n;
		}
	}
	if (ftruncate(fd, (off_t)size) < 0)
		return entry_error(u, name, -errno, "cannot size it: %s", strerror(errno));
	return 0;
}

static int tar_entry(unpacker *u, struct archive *a, struct archive_entry *e)
{
	const char *raw = archive_entry_pathname(e);
	const char *hardlink = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e), mode = archive_entry_perm(e);
	la_int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
	la_int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
	const char *base, *target = NULL;
	char *clean = NULL, *dir = NULL;
	bool exists_dir;
	uint64_t cost;
	int dfd, fd = -1, r;

	if (!raw)
		return su_errorf(u->error, -EINVAL, "%s: an entry has no name (or one this "
						    "locale cannot hold)", u->what);
	r = uml_unpack_clean_name(raw, &clean);
	if (r < 0)
		return entry_error(u, raw, r, "%s",
				   r == -EINVAL ? "names with a '..' component are refused"
				   : r == -ENOMEM ? "out of memory"
						  : "the name is too long");
	if (!*clean) { /* the root itself: its owner and mode are the image's */
		free(clean);
		return 0;
	}
	if (uid < 0 || uid > 0xfffffffeLL || gid < 0 || gid > 0xfffffffeLL) {
		r = entry_error(u, raw, -EINVAL, "its owner is out of range");
		goto out;
	}
	if (size < 0)
		size = 0;
	if (type == AE_IFLNK) {
		target = archive_entry_symlink(e);
		if (!target || !*target || strlen(target) >= PATH_MAX) {
			r = entry_error(u, raw, -EINVAL, "a symbolic link without a usable target");
			goto out;
		}
	}
	cost = uml_unpack_cost(type == AE_IFREG && !hardlink ? (uint64_t)size
			       : target                      ? strlen(target)
							     : 0);
	r = budget(u, raw, clean, cost);
	if (r < 0)
		goto out;
	r = split_path(clean, &dir, &base);
	if (r < 0) {
		r = su_errorf(u->error, r, "out of memory");
		goto out;
	}
	dfd = parent_fd(u, raw, dir);
	if (dfd < 0) {
		r = dfd;
		goto out;
	}
	r = make_room(u, raw, dfd, base, !hardlink && type == AE_IFDIR, &exists_dir);
	if (r < 0)
		goto out;

	if (hardlink) {
		char *tclean = NULL, *tdir = NULL;
		const char *tbase;
		size_t bad = 0;
		struct stat st;
		int tfd = -1;

		r = uml_unpack_clean_name(hardlink, &tclean);
		if (r == 0 && *tclean)
			r = split_path(tclean, &tdir, &tbase);
		else if (r == 0)
			r = -EINVAL;
		if (r == 0)
			tfd = open_dir_beneath(u->rootfd, tdir, false, &bad);
		if (r < 0 || tfd < 0 || fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISDIR(st.st_mode)) {
			char *esc = uml_unpack_escape(hardlink, 300);

			r = entry_error(u, raw, -EINVAL,
					"a hard link to '%s', which is no earlier file of the image",
					esc ? esc : "?");
			free(esc);
		} else if (linkat(tfd, tbase, dfd, base, 0) < 0) {
			r = entry_error(u, raw, -errno, "cannot make the hard link: %s",
					strerror(errno));
		}
		if (tfd >= 0)
			close(tfd);
		free(tclean);
		free(tdir);
		goto out;
	}

	switch (type) {
	case AE_IFREG:
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			r = entry_error(u, raw, -errno, "cannot create it: %s", strerror(errno));
			goto out;
		}
		r = tar_write_data(u, a, raw, fd, (uint64_t)size);
		if (r == 0)
			r = set_owner_mode(u, raw, dfd, base, fd, (uid_t)uid, (gid_t)gid, mode, false);
		if (r == 0) {
			struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT },
						  { archive_entry_mtime(e),
						    archive_entry_mtime_nsec(e) } };

			futimens(fd, ts);
		}
		break;
	case AE_IFDIR:
		if (!exists_dir && mkdirat(dfd, base, 0700) < 0) {
			r = entry_error(u, raw, -errno, "cannot create it: %s", strerror(errno));
			goto out;
		}
		fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = entry_error(u, raw, -errno, "cannot open it: %s", strerror(errno));
			goto out;
		}
		if (!u->root)
			mode |= 0700; /* an unprivileged unpacker must still fill it */
		r = set_owner_mode(u, raw, dfd, base, fd, (uid_t)uid, (gid_t)gid, mode, false);
		break;
	case AE_IFLNK:
		if (symlinkat(target, dfd, base) < 0) {
			r = entry_error(u, raw, -errno, "cannot create the link: %s", strerror(errno));
			goto out;
		}
		r = set_owner_mode(u, raw, dfd, base, -1, (uid_t)uid, (gid_t)gid, mode, true);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		if (mknodat(dfd, base, type | 0600,
			    makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e))) < 0) {
			r = entry_error(u, raw, -errno, "cannot create the node: %s", strerror(errno));
			goto out;
		}
		r = set_owner_mode(u, raw, dfd, base, -1, (uid_t)uid, (gid_t)gid, mode, false);
		break;
	default:
		r = entry_error(u, raw, -EINVAL, "an entry of a type images cannot hold");
		break;
	}
out:
	if (fd >= 0)
		close(fd);
	free(clean);
	free(dir);
	return r;
}

static int unpack_archive(int rootfd, struct archive *a, const char *what,
			  const uml_unpack_limits *limits, uml_unpack_stats *stats,
			  soda_error **error)
{
	unpacker u = { rootfd, limits, stats, geteuid() == 0, NULL, -1, what, error };
	struct archive_entry *e;
	int r = 0;

	for (;;) {
		int k = archive_read_next_header(a, &e);

		if (k == ARCHIVE_EOF)
			break;
		if (k < ARCHIVE_WARN) {
			r = su_errorf(error, -EINVAL, "%s is not a tarball libsoda can read (after %llu "
						      "entries): %s",
				      what, (unsigned long long)stats->entries,
				      archive_error_string(a) ? archive_error_string(a) : "unknown error");
			break;
		}
		r = tar_entry(&u, a, e);
		if (r < 0)
			break;
	}
	if (u.cache_dir)
		close(u.cache_fd);
	free(u.cache_dir);
	return r;
}

static struct archive *new_reader(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	/* Tar formats only (ustar, pax, GNU, with their sparse files): no other
	 * archive format's parser is exposed. Compressions libarchive decodes
	 * in process only: filter_all would also run external programs
	 * (lrzip, lzop, grzip...) as root on the tenant's bytes. */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_lz4(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	return a;
}

int uml_unpack_tar(int rootfd, const char *path, const uml_unpack_limits *limits,
		   uml_unpack_stats *stats, soda_error **error)
{
	struct archive *a;
	char *what;
	int fd, r;

	/* Not through a final link (an upload area may be the tenant's), and
	 * never a FIFO or device that would block or never end. */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return su_errorf(error, -errno, "cannot open %s: %s", path,
				 errno == ELOOP ? "it is a symbolic link; give the file it points to"
						: strerror(errno));
	{
		struct stat st;

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
			close(fd);
			return su_errorf(error, -EINVAL, "tarball %s is not a regular file", path);
		}
	}
	what = su_strdup_printf("tarball %s", path);
	a = new_reader();
	if (!a || !what) {
		archive_read_free(a);
		free(what);
		close(fd);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK)
		r = su_errorf(error, -EINVAL, "%s is not a tarball libsoda can read: %s", what,
			      archive_error_string(a) ? archive_error_string(a) : "unknown error");
	else
		r = unpack_archive(rootfd, a, what, limits, stats, error);
	archive_read_free(a);
	close(fd);
	free(what);
	return r;
}

int uml_unpack_tar_memory(int rootfd, const void *data, size_t len,
			  const uml_unpack_limits *limits, uml_unpack_stats *stats,
			  soda_error **error)
{
	struct archive *a = new_reader();
	int r;

	if (!a)
		return su_errorf(error, -ENOMEM, "out of memory");
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
		r = su_errorf(error, -EINVAL, "the input is not a tarball libsoda can read: %s",
			      archive_error_string(a) ? archive_error_string(a) : "unknown error");
	else
		r = unpack_archive(rootfd, a, "tarball", limits, stats, error);
	archive_read_free(a);
	return r;
}

/* --- Directories --------------------------------------------------------- */

typedef struct inode_rec {
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	nlink_t seen;
	char *path; /* first link met (pass 1: for messages; pass 2: to link to) */
} inode_rec;

typedef struct tree {
	unpacker u;
	int pass;
	inode_rec *recs; /* open addressing on (dev, ino) */
	size_t nrecs, cap;
	char path[PATH_MAX]; /* the entry's path relative to the source */
} tree;

static size_t rec_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev;

	return (size_t)(h ^ h >> 29) & (cap - 1);
}

static inode_rec *rec_find(tree *t, dev_t dev, ino_t ino, bool add)
{
	size_t i;

	if (add && (t->nrecs + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;
		inode_rec *n = calloc(ncap, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t j = 0; j < t->cap; j++) {
			if (!t->recs[j].path)
				continue;
			for (i = rec_hash(t->recs[j].dev, t->recs[j].ino, ncap); n[i].path;
			     i = (i + 1) & (ncap - 1))
				;
			n[i] = t->recs[j];
		}
		free(t->recs);
		t->recs = n;
		t->cap = ncap;
	}
	if (!t->cap)
		return NULL;
	for (i = rec_hash(dev, ino, t->cap); t->recs[i].path; i = (i + 1) & (t->cap - 1))
		if (t->recs[i].dev == dev && t->recs[i].ino == ino)
			return &t->recs[i];
	if (!add)
		return NULL;
	t->recs[i] = (inode_rec){ dev, ino, 0, 0, strdup(t->path) };
	if (!t->recs[i].path)
		return NULL;
	t->nrecs++;
	return &t->recs[i];
}

/* Copies @size bytes of @in to @out, data extents only (holes stay holes). */
static int copy_bounded(int in, int out, uint64_t size)
{
	off_t pos = 0;

	while ((uint64_t)pos < size) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		if ((uint64_t)data >= size)
			break;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		if ((uint64_t)hole > size)
			hole = (off_t)size;
		while (data < hole) {
			off_t in_off = data, out_off = data;
			ssize_t n = copy_file_range(in, &in_off, out, &out_off, (size_t)(hole - data),
						    0);

			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
				      errno == EOPNOTSUPP)) {
				char buf[65536];
				size_t want = (size_t)(hole - data) < sizeof(buf) ? (size_t)(hole - data)
										   : sizeof(buf);

				n = pread(in, buf, want, data);
				if (n > 0 && pwrite(out, buf, (size_t)n, data) != n)
					return -errno;
			}
			if (n < 0)
				return -errno;
			if (n == 0)
				return 0; /* shrank under us: the rest stays a hole */
			data += n;
		}
		pos = hole;
	}
	return 0;
}

/* Copies the extended attributes of @in to @out (file capabilities, ACLs:
 * the guest's, as cp -a copied them). Attributes the file system here
 * cannot hold are left out. */
static int copy_xattrs(unpacker *u, const char *name, int in, int out)
{
	char small[1024], *list = small, *value = NULL;
	ssize_t len = flistxattr(in, small, sizeof(small));
	int r = 0;

	if (len < 0 && errno == ERANGE) {
		len = flistxattr(in, NULL, 0);
		list = len > 0 ? malloc((size_t)len) : NULL;
		len = list ? flistxattr(in, list, (size_t)len) : -1;
	}
	if (len < 0) {
		r = errno == ENOTSUP || errno == 0
			    ? 0
			    : entry_error(u, name, -errno, "cannot list its attributes: %s",
					  strerror(errno));
		goto out;
	}
	if (len > 0 && !(value = malloc(XATTR_SIZE_MAX))) {
		r = su_errorf(u->error, -ENOMEM, "out of memory");
		goto out;
	}
	for (ssize_t off = 0; off < len; off += (ssize_t)strlen(list + off) + 1) {
		ssize_t n = fgetxattr(in, list + off, value, XATTR_SIZE_MAX);

		if (n < 0) {
			r = entry_error(u, name, -errno, "cannot read its attribute %s: %s",
					list + off, strerror(errno));
			break;
		}
		if (fsetxattr(out, list + off, value, (size_t)n, 0) < 0 && errno != ENOTSUP &&
		    !(errno == EPERM && !u->root)) {
			r = entry_error(u, name, -errno, "cannot set its attribute %s: %s",
					list + off, strerror(errno));
			break;
		}
	}
out:
	if (list != small)
		free(list);
	free(value);
	return r;
}

static int changed(tree *t);

/* Out of tree_entry's frame, which recursion stacks 256 deep. */
static __attribute__((noinline)) int copy_link(tree *t, int src, int dst, const char *name)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);

	if (n < 0)
		return errno == EINVAL ? changed(t)
				       : entry_error(&t->u, t->path, -errno, "cannot read it: %s",
						     strerror(errno));
	target[n] = '\0';
	if (symlinkat(target, dst, name) < 0)
		return entry_error(&t->u, t->path, -errno, "cannot create the link: %s",
				   strerror(errno));
	return 0;
}

static int tree_entry(tree *t, int src, int dst, const char *name, unsigned int depth);

static int tree_walk(tree *t, int src, int dst, unsigned int depth)
{
	size_t len = strlen(t->path);
	struct dirent *de;
	int r = 0, fd = fcntl(src, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return entry_error(&t->u, *t->path ? t->path : ".", r, "cannot read it: %s",
				   strerror(-r));
	}
	rewinddir(d); /* the duplicate shares its offset with the pass before */
	while (r == 0 && (errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (len + 1 + strlen(de->d_name) >= sizeof(t->path)) {
			r = entry_error(&t->u, t->path, -ENAMETOOLONG, "a name in it is too long");
			break;
		}
		snprintf(t->path + len, sizeof(t->path) - len, "%s%s", len ? "/" : "", de->d_name);
		r = tree_entry(t, src, dst, de->d_name, depth + 1);
		t->path[len] = '\0';
	}
	if (r == 0 && errno)
		r = entry_error(&t->u, *t->path ? t->path : ".", -errno, "cannot read it: %s",
				strerror(errno));
	closedir(d);
	return r;
}

static int changed(tree *t)
{
	return entry_error(&t->u, t->path, -EAGAIN,
			   "it changed while the image was being built; try again");
}

static int tree_entry(tree *t, int src, int dst, const char *name, unsigned int depth)
{
	unpacker *u = &t->u;
	struct stat st;
	inode_rec *rec = NULL;
	int in = -1, out = -1, r;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : entry_error(u, t->path, -errno, "%s", strerror(errno));
	r = budget(u, t->path, t->path,
		   uml_unpack_cost(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode) ? (uint64_t)st.st_size
									       : 0));
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		rec = rec_find(t, st.st_dev, st.st_ino, t->pass == 1);
		if (t->pass == 1) {
			if (!rec)
				return su_errorf(u->error, -ENOMEM, "out of memory");
			rec->nlink = st.st_nlink;
			rec->seen++;
		} else if (!rec || rec->nlink != st.st_nlink) {
			return changed(t);
		}
	}
	if (S_ISDIR(st.st_mode)) {
		int sub = openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), dsub = -1;

		if (sub < 0)
			return errno == ELOOP || errno == ENOTDIR
				       ? changed(t)
				       : entry_error(u, t->path, -errno, "cannot open it: %s",
						     strerror(errno));
		if (t->pass == 2) {
			if (mkdirat(dst, name, 0700) < 0 ||
			    (dsub = openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
							      O_CLOEXEC)) < 0) {
				r = entry_error(u, t->path, -errno, "cannot create it: %s",
						strerror(errno));
				close(sub);
				return r;
			}
		}
		r = tree_walk(t, sub, dsub, depth);
		if (r == 0 && t->pass == 2)
			r = set_owner_mode(u, t->path, dst, name, dsub, st.st_uid, st.st_gid,
					   u->root ? st.st_mode : st.st_mode | 0700, false);
		if (r == 0 && t->pass == 2)
			r = copy_xattrs(u, t->path, sub, dsub);
		close(sub);
		if (dsub >= 0)
			close(dsub);
		return r;
	}
	if (t->pass == 1)
		return 0;

	if (rec && rec->seen == 0) { /* pass 2 counts down what pass 1 counted */
		return changed(t);
	}
	if (rec && rec->nlink != rec->seen) { /* a later link of a file copied already */
		size_t bad = 0;
		char *dir = NULL;
		const char *base;
		int tfd;

		if (split_path(rec->path, &dir, &base) < 0)
			return su_errorf(u->error, -ENOMEM, "out of memory");
		tfd = open_dir_beneath(u->rootfd, dir, false, &bad);
		r = tfd < 0 || linkat(tfd, base, dst, name, 0) < 0
			    ? entry_error(u, t->path, tfd < 0 ? tfd : -errno,
					  "cannot make the hard link: %s",
					  strerror(tfd < 0 ? -tfd : errno))
			    : 0;
		if (tfd >= 0)
			close(tfd);
		free(dir);
		rec->seen--;
		return r;
	}
	if (S_ISREG(st.st_mode)) {
		struct stat ist;

		/* O_NONBLOCK: a FIFO swapped in since the fstatat must not hang us. */
		in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (in < 0)
			return errno == ELOOP ? changed(t)
					      : entry_error(u, t->path, -errno, "cannot open it: %s",
							    strerror(errno));
		if (fstat(in, &ist) < 0 || !S_ISREG(ist.st_mode) || ist.st_ino != st.st_ino ||
		    ist.st_dev != st.st_dev || ist.st_size != st.st_size) {
			close(in);
			return changed(t);
		}
		out = openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0) {
			r = entry_error(u, t->path, -errno, "cannot create it: %s", strerror(errno));
			close(in);
			return r;
		}
		r = copy_bounded(in, out, (uint64_t)st.st_size);
		if (r == 0 && ftruncate(out, st.st_size) < 0)
			r = -errno;
		if (r < 0)
			r = entry_error(u, t->path, r, "cannot copy it: %s", strerror(-r));
	} else if (S_ISLNK(st.st_mode)) {
		r = copy_link(t, src, dst, name);
		if (r < 0)
			return r;
	} else {
		if (mknodat(dst, name, (st.st_mode & S_IFMT) | 0600, st.st_rdev) < 0)
			return entry_error(u, t->path, -errno, "cannot create the node: %s",
					   strerror(errno));
	}
	if (r == 0)
		r = set_owner_mode(u, t->path, dst, name, out, st.st_uid, st.st_gid, st.st_mode,
				   S_ISLNK(st.st_mode));
	/* After the owner: a chown drops file capabilities. */
	if (r == 0 && in >= 0)
		r = copy_xattrs(u, t->path, in, out);
	if (in >= 0)
		close(in);
	if (r == 0) {
		struct timespec ts[2] = { st.st_atim, st.st_mtim };

		if (out >= 0)
			futimens(out, ts);
		else
			utimensat(dst, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	if (out >= 0)
		close(out);
	if (r == 0 && rec) {
		/* The first link of a hard-linked file: later ones link to it. */
		free(rec->path);
		rec->path = strdup(t->path);
		rec->seen--;
		if (!rec->path)
			r = su_errorf(u->error, -ENOMEM, "out of memory");
	}
	return r;
}

int uml_copy_tree(int rootfd, const char *source, const uml_unpack_limits *limits,
		  uml_unpack_stats *stats, soda_error **error)
{
	tree *t = calloc(1, sizeof(*t));
	char *what = su_strdup_printf("directory %s", source);
	int src = -1, r;

	if (!t || !what) {
		free(t);
		free(what);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	t->u = (unpacker){ rootfd, limits, stats, geteuid() == 0, NULL, -1, what, error };
	/* Not through a final link: the directory's parent may be the tenant's. */
	src = open(source, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0) {
		r = su_errorf(error, -errno, "cannot open %s: %s", what,
			      errno == ELOOP || errno == ENOTDIR
				      ? "it is a symbolic link; give the directory it points to"
				      : strerror(errno));
		goto out;
	}
	/* Pass 1: check, without writing anything. */
	t->pass = 1;
	r = tree_walk(t, src, -1, 0);
	for (size_t i = 0; r == 0 && i < t->cap; i++) {
		inode_rec *rec = &t->recs[i];

		if (rec->path && rec->seen != rec->nlink) {
			char detail[128];

			snprintf(detail, sizeof(detail),
				 "it is a hard link to a file outside the directory (%llu links, %llu "
				 "inside); the image would get the data of a host file",
				 (unsigned long long)rec->nlink, (unsigned long long)rec->seen);
			r = entry_error(&t->u, rec->path, -EXDEV, "%s", detail);
		}
	}
	if (r < 0)
		goto out;
	/* Pass 2: copy, counting again (the tree may have grown since). */
	*stats = (uml_unpack_stats){ 0 };
	t->pass = 2;
	t->path[0] = '\0';
	r = tree_walk(t, src, rootfd, 0);
out:
	if (src >= 0)
		close(src);
	for (size_t i = 0; i < t->cap; i++)
		free(t->recs[i].path);
	free(t->recs);
	free(t);
	free(what);
	return r;
}
