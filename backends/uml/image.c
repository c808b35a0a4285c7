/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <soda/image.h>

#include "../../libsoda/kv.h"
#include "elfdeps.h"
#include "image.h"
#include "unpack.h"

#define EXT_MAGIC_OFFSET 1080
#define EXT_MAGIC 0xEF53
#define IMAGE_ROOM (16ULL << 20)
/* Bounds on tenant content (unpack.h). */
#define IMAGE_CONTENT_MAX (64ULL << 30)
#define IMAGE_ENTRIES_MAX 4000000u
#define IMAGE_DEPTH_MAX 256u

static const char *find_tool(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin", NULL };
	static char found[8][64];
	static int next;

	for (size_t i = 0; dirs[i]; i++) {
		char path[64];

		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0) {
			char *slot = found[next++ % 8];

			snprintf(slot, 64, "%s", path);
			return slot;
		}
	}
	return NULL;
}

/* Runs a tool; on failure puts its output in the error. */
static int run_tool(char *const argv[], const char *what, soda_error **error)
{
	char *output = NULL;
	int status, r;

	r = su_run(argv, &status, &output);
	if (r < 0)
		return su_errorf(error, r, "cannot run %s: %s", argv[0], strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		size_t len = output ? strlen(output) : 0;

		while (len && (output[len - 1] == '\n' || output[len - 1] == ' '))
			output[--len] = '\0';
		r = su_errorf(error, -EIO, "%s failed (%s %d): %.400s", what,
			      WIFEXITED(status) ? "exit code" : "signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
			      output && *output ? output : "no output");
	}
	free(output);
	return r;
}

int su_image_check(const char *path, soda_error **error)
{
	unsigned char magic[2];
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot open image %s: %s", path,
				 strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return su_errorf(error, -EINVAL, "image %s is not a regular file", path);
	}
	if (st.st_size < (off_t)SODA_IMAGE_SIZE_MIN / 8 || st.st_size % 512) {
		close(fd);
		return su_errorf(error, -EINVAL,
				 "image %s is corrupt: %lld bytes is not a plausible file system size",
				 path, (long long)st.st_size);
	}
	if (pread(fd, magic, 2, EXT_MAGIC_OFFSET) != 2 ||
	    (magic[0] | magic[1] << 8) != EXT_MAGIC) {
		close(fd);
		return su_errorf(error, -EINVAL,
				 "image %s is corrupt: no ext2/3/4 superblock at offset 1024", path);
	}
	close(fd);
	return 0;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode,
		      soda_error **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	int r = 0;

	if (fd < 0)
		return su_errorf(error, su_neg_errno(), "cannot create %s: %s", path,
				 strerror(errno));
	if (write(fd, data, len) != (ssize_t)len)
		r = su_errorf(error, errno ? su_neg_errno() : -EIO, "cannot write %s", path);
	if (r == 0 && fchmod(fd, mode) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot chmod %s", path);
	close(fd);
	return r;
}

static int mkdirs_in(const char *root, const char *const *dirs, soda_error **error)
{
	for (size_t i = 0; dirs[i]; i++) {
		char *p = su_strdup_printf("%s/%s", root, dirs[i]);
		int r;

		if (!p)
			return su_errorf(error, -ENOMEM, "out of memory");
		r = su_mkdir_p(p, 0755);
		if (r < 0)
			su_errorf(error, r, "cannot create %s: %s", p, strerror(-r));
		free(p);
		if (r < 0)
			return r;
	}
	return 0;
}

static int check_static(const char *busybox, soda_error **error) /* any program */
{
	char **deps = NULL;
	int r = su_elf_deps(busybox, &deps, error);

	if (r < 0)
		return r;
	r = su_strv_len(deps) ? su_errorf(error, -EINVAL,
					  "%s is dynamically linked; the guest needs static binaries "
					  "(for busybox: Debian package busybox-static)",
					  busybox)
			      : 0;
	su_strv_free(deps);
	return r;
}

/* Copies @from (a host file of libsoda's) to @name in @dirfd, as root's. */
static int install_at(int dirfd, const char *name, const char *from, soda_error **error)
{
	int in, out, r;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return su_errorf(error, su_neg_errno(), "cannot open %s: %s", from, strerror(errno));
	out = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot create /soda/%s in the image: %s", name,
			      strerror(errno));
		close(in);
		return r;
	}
	r = su_copy_fd(in, out);
	if (r == 0 && ((geteuid() == 0 && fchown(out, 0, 0) < 0) || fchmod(out, 0755) < 0))
		r = su_neg_errno();
	if (r < 0)
		su_errorf(error, r, "cannot copy %s into the image: %s", from, strerror(-r));
	close(in);
	close(out);
	return r;
}

/* The libsoda part of every image: /soda/init (the agent) and /soda/busybox.
 * The tree may be a tenant's: /soda and the names in it are replaced
 * whatever they were (a link to a host directory is removed, never
 * followed), everything by descriptor from the image's root. */
static int add_soda_dir(int rootfd, const char *agent, const char *busybox, bool link_busybox,
			soda_error **error)
{
	static const char *const dirs[] = { "proc", "sys", "dev", "tmp", "run", "mnt",
					    "root", "etc", NULL };
	static const char *const ours[] = { "init", "busybox", NULL };
	struct stat st;
	int soda, r;

	/* The guest's mount points: made when missing; what the tenant put
	 * there (a link too) is the guest's own business. */
	for (size_t i = 0; dirs[i]; i++)
		if (fstatat(rootfd, dirs[i], &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    mkdirat(rootfd, dirs[i], 0755) < 0 && errno != EEXIST)
			return su_errorf(error, su_neg_errno(), "cannot create /%s in the image: %s",
					 dirs[i], strerror(errno));
	if (fstatat(rootfd, "soda", &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode) &&
	    unlinkat(rootfd, "soda", 0) < 0)
		return su_errorf(error, su_neg_errno(), "cannot replace /soda in the image: %s",
				 strerror(errno));
	if (mkdirat(rootfd, "soda", 0755) < 0 && errno != EEXIST)
		return su_errorf(error, su_neg_errno(), "cannot create /soda in the image: %s",
				 strerror(errno));
	soda = openat(rootfd, "soda", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (soda < 0)
		return su_errorf(error, su_neg_errno(), "cannot open /soda in the image: %s",
				 strerror(errno));
	if ((geteuid() == 0 && fchown(soda, 0, 0) < 0) || fchmod(soda, 0755) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot set /soda's owner and mode: %s",
			      strerror(errno));
		goto out;
	}
	for (size_t i = 0; ours[i]; i++) {
		r = uml_unpack_remove_at(soda, ours[i]);
		if (r < 0) {
			su_errorf(error, r, "cannot replace /soda/%s in the image: %s", ours[i],
				  strerror(-r));
			goto out;
		}
	}
	r = install_at(soda, "init", agent, error);
	if (r < 0)
		goto out;
	if (link_busybox) {
		if (symlinkat("/bin/busybox", soda, "busybox") < 0)
			r = su_errorf(error, su_neg_errno(), "cannot link /soda/busybox: %s",
				      strerror(errno));
	} else {
		r = install_at(soda, "busybox", busybox, error);
	}
out:
	close(soda);
	return r;
}

static int build_busybox_tree(const char *root, const char *busybox, soda_error **error)
{
	static const char *const dirs[] = { "bin", "sbin", "usr/bin", "usr/sbin", "etc", "var/log",
					    "home", NULL };
	char *argv[] = { (char *)busybox, "--list-full", NULL };
	char *list = NULL, *p, *save = NULL;
	int status, r;

	r = mkdirs_in(root, dirs, error);
	if (r < 0)
		return r;
	p = su_strdup_printf("%s/bin/busybox", root);
	if (!p)
		return su_errorf(error, -ENOMEM, "out of memory");
	r = su_copy_file(busybox, p, 0755);
	free(p);
	if (r < 0)
		return su_errorf(error, r, "cannot copy %s: %s", busybox, strerror(-r));
	r = su_run(argv, &status, &list);
	if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(list);
		return su_errorf(error, r < 0 ? r : -EIO, "%s --list-full failed", busybox);
	}
	for (char *line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* Applets as symlinks; never an init or linuxrc, so the libsoda
		 * init keeps PID 1 and handles shutdown. */
		if (strcmp(line, "bin/busybox") == 0 || strcmp(line, "sbin/init") == 0 ||
		    strcmp(line, "linuxrc") == 0 || strstr(line, "..") || line[0] == '/')
			continue;
		p = su_strdup_printf("%s/%s", root, line);
		if (!p) {
			free(list);
			return su_errorf(error, -ENOMEM, "out of memory");
		}
		if (symlink("/bin/busybox", p) < 0 && errno != EEXIST && errno != ENOENT) {
			r = su_errorf(error, su_neg_errno(), "cannot link %s", p);
			free(p);
			free(list);
			return r;
		}
		free(p);
	}
	free(list);
	{
		static const struct {
			const char *path, *text;
		} files[] = {
			{ "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n" },
			{ "etc/group", "root:x:0:\nnogroup:x:65534:\n" },
			{ "etc/shadow", "root:*:19000:0:99999:7:::\n" },
			{ "etc/profile", "export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1='\\h:\\w\\$ '\n" },
			{ "etc/hosts", "127.0.0.1 localhost\n" },
		};

		for (size_t i = 0; i < SU_ARRAY_SIZE(files); i++) {
			p = su_strdup_printf("%s/%s", root, files[i].path);
			if (!p)
				return su_errorf(error, -ENOMEM, "out of memory");
			r = write_file(p, files[i].text, strlen(files[i].text),
				       strcmp(files[i].path, "etc/shadow") ? 0644 : 0600, error);
			free(p);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static uint64_t tree_bytes(int dirfd, int depth)
{
	DIR *d;
	struct dirent *de;
	uint64_t total = 0;

	if (depth > 64)
		return 0;
	d = fdopendir(dirfd);
	if (!d) {
		close(dirfd);
		return 0;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		/* Data rounded to blocks, plus an inode and directory entry. */
		total += ((uint64_t)st.st_size + 4095) / 4096 * 4096 + 512;
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
								    O_CLOEXEC);

			if (sub >= 0)
				total += tree_bytes(sub, depth + 1);
		}
	}
	closedir(d);
	return total;
}

static int write_info(const su_image_request *req, const char *img, soda_error **error)
{
	static const char *const kinds[] = { "", "busybox", "directory", "tarball", "ext4" };
	struct stat st;
	su_buf b = { 0 };
	char *path;
	int r;

	if (stat(img, &st) < 0)
		return su_errorf(error, su_neg_errno(), "cannot stat %s", img);
	su_kv_header(&b, "soda-image", 1);
	su_kv_add(&b, "name", req->name);
	su_kv_add(&b, "source-kind", kinds[req->source_kind]);
	su_kv_add(&b, "source", req->source ? req->source : "-");
	su_kv_add_u64(&b, "size", (uint64_t)st.st_size);
	su_kv_add_u64(&b, "mtime", (uint64_t)st.st_mtime);
	su_kv_add_u64(&b, "built-usec", su_now_usec());
	if (b.oom) {
		su_buf_free(&b);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	path = su_strdup_printf("%s/%s.info", req->images_dir, req->name);
	if (!path) {
		su_buf_free(&b);
		return su_errorf(error, -ENOMEM, "out of memory");
	}
	r = su_write_file_atomic(path, b.data, b.len, 0644);
	if (r < 0)
		su_errorf(error, r, "cannot write %s: %s", path, strerror(-r));
	free(path);
	su_buf_free(&b);
	return r;
}

/* An imported ext image gets /soda written into it with debugfs, which
 * edits the file system image directly. */
static int inject_with_debugfs(const char *img, const char *staging, const char *agent,
			       const char *busybox, soda_error **error)
{
	const char *debugfs = find_tool("debugfs");
	char *cmds = NULL, *cmdfile = NULL, *listing = NULL;
	char *argv_w[] = { (char *)debugfs, "-w", "-f", NULL, (char *)img, NULL };
	char *argv_r[] = { (char *)debugfs, "-R", "stat /soda/init", (char *)img, NULL };
	int status, r;

	if (!debugfs)
		return su_errorf(error, -ENOENT, "debugfs (e2fsprogs) is not installed");
	cmdfile = su_strdup_printf("%s/debugfs.cmds", staging);
	cmds = su_strdup_printf("rm /soda/init\nrm /soda/busybox\nmkdir /soda\n"
				"write %s /soda/init\nsif /soda/init mode 0100755\n"
				"sif /soda/init uid 0\nsif /soda/init gid 0\n"
				"write %s /soda/busybox\nsif /soda/busybox mode 0100755\n"
				"sif /soda/busybox uid 0\nsif /soda/busybox gid 0\n",
				agent, busybox);
	if (!cmdfile || !cmds) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto out;
	}
	r = write_file(cmdfile, cmds, strlen(cmds), 0600, error);
	if (r < 0)
		goto out;
	argv_w[3] = cmdfile;
	r = run_tool(argv_w, "debugfs", error);
	if (r < 0)
		goto out;
	/* debugfs exits 0 even when a command fails: check the result. */
	r = su_run(argv_r, &status, &listing);
	if (r < 0 || !listing || !strstr(listing, "Type: regular") ||
	    !strstr(listing, "Mode:  0755"))
		r = su_errorf(error, -ENOSPC,
			      "could not add /soda/init to the imported image (is it full or "
			      "read-only?)");
out:
	free(cmds);
	free(cmdfile);
	free(listing);
	return r;
}

/* The bounds of a tenant's content: the image's size when one is asked
 * for, else IMAGE_CONTENT_MAX; never more than the work directory's file
 * system can hold twice over (the staging tree and the image). */
static void content_limits(const su_image_request *req, uml_unpack_limits *limits)
{
	uint64_t max = req->size ? req->size : IMAGE_CONTENT_MAX;
	struct statvfs vfs;

	if (statvfs(req->work_dir, &vfs) == 0) {
		uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize / 5 * 2;

		if (avail < max)
			max = avail;
	}
	*limits = (uml_unpack_limits){ .max_bytes = max,
				       .max_entries = IMAGE_ENTRIES_MAX,
				       .max_depth = IMAGE_DEPTH_MAX };
}

int su_image_build(const su_image_request *req, soda_error **error)
{
	const char *busybox = req->busybox ? req->busybox : "/bin/busybox";
	const char *mkfs = find_tool("mkfs.ext4");
	char *staging = NULL, *root = NULL, *img_tmp = NULL, *img = NULL;
	uint64_t size = req->size, inodes;
	uml_unpack_stats stats = { 0 };
	struct stat st;
	int rootfd = -1, r;

	if (!mkfs)
		return su_errorf(error, -ENOENT, "mkfs.ext4 (e2fsprogs) is not installed");
	r = check_static(busybox, error);
	if (r == 0)
		r = check_static(req->agent, error);
	if (r < 0)
		return r;
	if (req->source_kind == SODA_IMAGE_SOURCE_DIRECTORY && !su_is_dir(req->source))
		return su_errorf(error, su_path_exists(req->source) ? -ENOTDIR : -ENOENT,
				 "image source %s is not a directory", req->source);
	if ((req->source_kind == SODA_IMAGE_SOURCE_TARBALL ||
	     req->source_kind == SODA_IMAGE_SOURCE_EXT4) &&
	    (stat(req->source, &st) < 0 || !S_ISREG(st.st_mode)))
		return su_errorf(error, su_path_exists(req->source) ? -EINVAL : -ENOENT,
				 "image source %s is not a regular file", req->source);
	if (req->source_kind == SODA_IMAGE_SOURCE_EXT4) {
		r = su_image_check(req->source, error);
		if (r < 0)
			return r;
	}
	r = su_mkdir_p(req->work_dir, 0700);
	if (r < 0)
		return su_errorf(error, r, "cannot create %s: %s", req->work_dir, strerror(-r));
	staging = su_strdup_printf("%s/build-%s-XXXXXX", req->work_dir, req->name);
	if (!staging || !mkdtemp(staging)) {
		r = su_errorf(error, staging ? su_neg_errno() : -ENOMEM,
			      "cannot create a build directory in %s", req->work_dir);
		free(staging);
		return r;
	}
	root = su_strdup_printf("%s/root", staging);
	img_tmp = su_strdup_printf("%s/image", staging);
	img = su_strdup_printf("%s/%s.img", req->images_dir, req->name);
	if (!root || !img_tmp || !img) {
		r = su_errorf(error, -ENOMEM, "out of memory");
		goto out;
	}

	if (req->source_kind == SODA_IMAGE_SOURCE_EXT4) {
		r = su_copy_file(req->source, img_tmp, 0644);
		if (r < 0) {
			su_errorf(error, r, "cannot copy %s: %s", req->source, strerror(-r));
			goto out;
		}
		r = inject_with_debugfs(img_tmp, staging, req->agent, busybox, error);
		if (r < 0)
			goto out;
	} else {
		if (mkdir(root, 0755) < 0) {
			r = su_errorf(error, su_neg_errno(), "cannot create %s", root);
			goto out;
		}
		rootfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (rootfd < 0) {
			r = su_errorf(error, su_neg_errno(), "cannot open %s", root);
			goto out;
		}
		if (req->source_kind == SODA_IMAGE_SOURCE_BUSYBOX) {
			r = build_busybox_tree(root, busybox, error);
		} else {
			/* Tenant content: unpacked by descriptor, bounded (unpack.h). */
			uml_unpack_limits limits;

			content_limits(req, &limits);
			r = req->source_kind == SODA_IMAGE_SOURCE_DIRECTORY
				    ? uml_copy_tree(rootfd, req->source, &limits, &stats, error)
				    : uml_unpack_tar(rootfd, req->source, &limits, &stats, error);
			if (r < 0)
				su_error_prefix(error, "building image '%s'", req->name);
		}
		if (r < 0)
			goto out;
		r = add_soda_dir(rootfd, req->agent, busybox,
				 req->source_kind == SODA_IMAGE_SOURCE_BUSYBOX, error);
		if (r < 0)
			goto out;
		if (req->source_kind == SODA_IMAGE_SOURCE_BUSYBOX) {
			int dfd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);

			stats.bytes = dfd >= 0 ? tree_bytes(dfd, 0) : 0;
			stats.entries = stats.bytes / 4096;
		}
		/* Inodes for every entry (mkfs.ext4's default of one per 16 KiB
		 * runs out on trees of small files), and room. */
		inodes = stats.entries + stats.entries / 8 + 4096;
		if (!size)
			size = (stats.bytes + stats.bytes / 4 + inodes * 256 + IMAGE_ROOM +
				(4u << 20) - 1) /
			       (4u << 20) * (4u << 20);
		{
			char label[17], size_arg[32], inodes_arg[32];
			char *argv[24];
			size_t n = 0;

			snprintf(label, sizeof(label), "%s", req->name);
			snprintf(size_arg, sizeof(size_arg), "%" PRIu64 "k", size / 1024);
			snprintf(inodes_arg, sizeof(inodes_arg), "%" PRIu64, inodes);
			argv[n++] = (char *)mkfs;
			for (const char *const *o = (const char *const[]){ "-q", "-F", "-t", "ext4", "-O",
									  "^has_journal", "-E",
									  "root_owner=0:0", NULL };
			     *o; o++)
				argv[n++] = (char *)*o;
			argv[n++] = "-L";
			argv[n++] = label;
			/* More inodes than mkfs.ext4's default (one per 16 KiB) only. */
			if (inodes > size / 16384) {
				argv[n++] = "-N";
				argv[n++] = inodes_arg;
			}
			argv[n++] = "-d";
			argv[n++] = root;
			argv[n++] = img_tmp;
			argv[n++] = size_arg;
			argv[n] = NULL;
			r = run_tool(argv, "mkfs.ext4", error);
			if (r < 0) {
				su_error_prefix(error, "building image '%s'", req->name);
				goto out;
			}
		}
	}
	/* Base images never change once built: every server's copy-on-write
	 * layer records their size and mtime. */
	if (chmod(img_tmp, 0444) < 0 || su_image_check(img_tmp, error) < 0) {
		r = su_errorf(error, -EIO, "the built image failed its check");
		goto out;
	}
	if (rename(img_tmp, img) < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot move the image to %s: %s", img,
			      strerror(errno));
		goto out;
	}
	su_fsync_dir_of(img);
	r = write_info(req, img, error);
out:
	if (rootfd >= 0) {
		/* The tenant's tree first, by descriptor and at any depth. */
		int dfd = open(staging, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (dfd >= 0) {
			uml_unpack_remove_at(dfd, "root");
			close(dfd);
		}
		close(rootfd);
	}
	su_rm_rf(staging);
	free(staging);
	free(root);
	free(img_tmp);
	free(img);
	return r;
}
