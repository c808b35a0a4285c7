/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail.h"

#define FAIL(what)                                                                  \
	do {                                                                        \
		int e_ = errno ? errno : EIO;                                       \
		snprintf(err, errlen, "%s: %s", what, strerror(e_));                \
		return -e_;                                                         \
	} while (0)

static int mkdirs(char *path, mode_t mode)
{
	for (char *s = path + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST) {
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static int mount_one(const su_mount *m, const char *root, char *err, size_t errlen)
{
	char dst[4096];
	struct stat st;
	unsigned long flags;

	if (snprintf(dst, sizeof(dst), "%s%s", root, m->dst) >= (int)sizeof(dst)) {
		errno = ENAMETOOLONG;
		FAIL(m->dst);
	}
	if (mkdirs(dst, 0755) < 0)
		FAIL("mkdir in jail");
	if (m->kind == SU_MNT_TMPFS) {
		char opts[128];

		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			FAIL("mkdir in jail");
		snprintf(opts, sizeof(opts), "size=%" PRIu64 ",mode=%o,uid=%u,gid=%u", m->size,
			 m->mode, m->uid, m->uid);
		if (mount("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
			FAIL("mount tmpfs in jail");
		return 0;
	}
	if (m->kind == SU_MNT_CHARDEV) {
		/* Its directory becomes a tmpfs that allows devices (the jail's
		 * root does not), holding just this node. */
		char dir[4096], *slash;

		snprintf(dir, sizeof(dir), "%s", dst);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			FAIL("mkdir in jail");
		if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NOEXEC, "size=4k,mode=0755") < 0)
			FAIL("mount device directory in jail");
		if (mknod(dst, S_IFCHR | 0600, (dev_t)m->size) < 0 || chown(dst, m->uid, m->uid) < 0)
			FAIL("make device node in jail");
		return 0;
	}
	if (stat(m->src, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", m->src, strerror(e));
		return -e;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			FAIL("mkdir in jail");
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0)
			FAIL("create mount point in jail");
		close(fd);
	}
	if (mount(m->src, dst, NULL, MS_BIND, NULL) < 0) {
		int e = errno;

		snprintf(err, errlen, "bind %s: %s", m->src, strerror(e));
		return -e;
	}
	/* Bind mounts take new flags only through a remount. */
	flags = MS_BIND | MS_REMOUNT | MS_NOSUID;
	if (m->kind != SU_MNT_BIND_DEV)
		flags |= MS_NODEV;
	if (m->kind == SU_MNT_BIND_RO)
		flags |= MS_RDONLY;
	if (mount(NULL, dst, NULL, flags, NULL) < 0)
		FAIL("remount bind in jail");
	return 0;
}

static int drop_privileges(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		FAIL("no_new_privs");
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			FAIL("drop capability bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		FAIL("clear ambient capabilities");
	if (setgroups(0, NULL) < 0)
		FAIL("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		FAIL("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		FAIL("setresuid");
	/* Changing credentials clears the parent-death signal: set it again. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		FAIL("pdeathsig");
	if (getppid() == 1) {
		errno = ESRCH;
		FAIL("monitor died");
	}
	/* Leaving uid 0 cleared every capability set; make sure of it. */
	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		FAIL("capget");
	if (data[0].effective | data[0].permitted | data[0].inheritable | data[1].effective |
	    data[1].permitted | data[1].inheritable) {
		errno = EPERM;
		FAIL("capabilities survived the uid change");
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid) {
		errno = EPERM;
		FAIL("uid change did not take");
	}
	return 0;
}

int su_jail_enter(const su_launch *l, const char *root, int ret_ns[2], char *err,
		  size_t errlen)
{
	struct rlimit nocore = { 0, 0 };
	char hostfs[4096];
	int r;

	errno = 0;
	/* A network namespace of its own, with only lo: linux.uml reaches the
	 * switch through the TAP descriptors it inherits, nothing else. */
	if (unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) < 0)
		FAIL("unshare");
	/* The new namespaces for the monitor (held open: linux.uml may be
	 * gone before the monitor looks in /proc). */
	ret_ns[0] = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ret_ns[1] = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ret_ns[0] < 0 || ret_ns[1] < 0)
		FAIL("open the jail's namespaces");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		FAIL("make mounts private");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755") < 0)
		FAIL("mount jail root");
	/* linux.uml's root: a small tmpfs of its own, root's, so that nothing
	 * but the shares (and /dev/null) is there for hostfs to find. */
	if (snprintf(hostfs, sizeof(hostfs), "%s%s", root, SU_JAIL_HOSTFS) >= (int)sizeof(hostfs)) {
		errno = ENAMETOOLONG;
		FAIL("jail root");
	}
	if (mkdir(hostfs, 0755) < 0 ||
	    mount("tmpfs", hostfs, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k,nr_inodes=256,mode=0755") < 0)
		FAIL("mount the hostfs root");
	for (size_t i = 0; i < l->n_mounts; i++) {
		r = mount_one(&l->mounts[i], root, err, errlen);
		if (r < 0)
			return r;
	}
	if (chdir(root) < 0)
		FAIL("chdir jail root");
	/* pivot_root(".", ".") stacks the old root under the new one; detaching
	 * it leaves nothing of the host's tree reachable. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		FAIL("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		FAIL("detach old root");
	if (chdir("/") < 0)
		FAIL("chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m") < 0)
		FAIL("remount jail root read-only");
	if (mount(NULL, SU_JAIL_HOSTFS, NULL,
		  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") < 0)
		FAIL("remount the hostfs root read-only");
	/* The root moves to the hostfs root; the working directory stays at
	 * the jail's top, where linux.uml's relative paths lead. */
	if (chroot(SU_JAIL_HOSTFS) < 0)
		FAIL("chroot");
	if (sethostname(l->name, strlen(l->name)) < 0)
		FAIL("sethostname");
	if (personality(ADDR_NO_RANDOMIZE) < 0)
		FAIL("personality");
	if (setrlimit(RLIMIT_CORE, &nocore) < 0)
		FAIL("setrlimit core");
	if (l->fsize) {
		struct rlimit fsize = { l->fsize, l->fsize };

		/* A write past it fails with EFBIG (an I/O error in the guest)
		 * rather than killing linux.uml with SIGXFSZ. */
		if (setrlimit(RLIMIT_FSIZE, &fsize) < 0)
			FAIL("setrlimit fsize");
		signal(SIGXFSZ, SIG_IGN);
	}
	umask(077);
	return drop_privileges(l->uid, l->gid, err, errlen);
}

/* Is @dst a mount of the hostfs root that only the exec needed? */
static bool exec_only(const su_mount *m)
{
	size_t n = strlen(SU_JAIL_HOSTFS);

	return strncmp(m->dst, SU_JAIL_HOSTFS "/", n + 1) == 0 &&
	       strcmp(m->dst, SU_JAIL_DEVNULL) != 0 &&
	       strncmp(m->dst, SU_JAIL_HOSTFS "/share/", n + 7) != 0;
}

static int detach_exec_mounts(const su_launch *l, int mntns)
{
	if (setns(mntns, CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, SU_JAIL_HOSTFS, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "size=64k") < 0)
		return -errno;
	for (size_t i = 0; i < l->n_mounts; i++) {
		char *p;

		if (!exec_only(&l->mounts[i]))
			continue;
		if (umount2(l->mounts[i].dst, MNT_DETACH) < 0 && errno != EINVAL)
			return -errno;
		/* The mount point and its directories, up to the hostfs root. */
		if (unlink(l->mounts[i].dst) < 0 && errno != ENOENT)
			return -errno;
		p = strdup(l->mounts[i].dst);
		if (!p)
			return -ENOMEM;
		for (char *slash = strrchr(p, '/'); slash && slash > p + strlen(SU_JAIL_HOSTFS);
		     slash = strrchr(p, '/')) {
			*slash = '\0';
			if (rmdir(p) < 0)
				break;
		}
		free(p);
	}
	if (mount(NULL, SU_JAIL_HOSTFS, NULL,
		  MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k") < 0)
		return -errno;
	return 0;
}

int su_jail_after_exec(const su_launch *l, int mntns, char *err, size_t errlen)
{
	int status, r;
	pid_t child = fork();

	if (child < 0) {
		r = -errno;
		snprintf(err, errlen, "fork: %s", strerror(-r));
		return r;
	}
	if (child == 0)
		/* In the jail's mount namespace: a child, so that the monitor
		 * itself stays in its own. */
		_exit(-detach_exec_mounts(l, mntns));
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR) {
			r = -errno;
			snprintf(err, errlen, "wait: %s", strerror(-r));
			return r;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		r = WIFEXITED(status) ? -WEXITSTATUS(status) : -EIO;
		snprintf(err, errlen, "detach the loader from the hostfs root: %s", strerror(-r));
		return r;
	}
	return 0;
}
