/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Booting the image store's images (the uml backend's STATE/images/NAME.img,
 * ext4 with the agent as /soda/init) in a QEMU domain: direct kernel boot
 * of the host's Debian kernel (/boot/vmlinuz-VERSION, the newest) with an
 * initramfs built here, once per kernel, from that kernel's modules:
 *
 *   /init       a busybox script: loads the virtio, virtio_net and ext4
 *               modules (Debian builds them as modules), mounts the image
 *               (/dev/vda, read-only) and switch_root's to /soda/init, so
 *               that the agent is PID 1 as under UML;
 *   /bin/busybox, /m/NAME.ko
 *
 * The agent's lines are the same serial ports as under UML (the 8250 driver
 * is built into the kernel): ttyS1 the blackbox line, ttyS2 the agent line;
 * ttyS0 is the console. QEMU writes the agent line to RUN/NAME/agent.line
 * (truncated at each start), which the backend reads for "ready", and the
 * blackbox line to the FIFO RUN/NAME/blackbox.out that soda-bbrelay reads
 * (relay.c). RUN/NAME is a tmpfs of LV_RUN_DIR_BYTES of its own: what the
 * guest writes to its agent line (its root may write anything there) stops
 * at that size instead of filling /run.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lv.h"

#define BOOT_DIR "/boot"
#define MODULES_DIR "/lib/modules"
#define BUSYBOX "/bin/busybox"

/* In the order they load (each after what it needs, modules.dep). */
static const char *const modules[] = {
	"virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
	"virtio_blk", "failover", "net_failover", "virtio_net", "crc16", "mbcache", "jbd2",
	"crc32c_generic", "ext4", NULL,
};

static const char init_script[] =
	"#!/bin/busybox sh\n"
	"# libsoda's QEMU boot (backends/libvirt/boot.c): the image's agent as PID 1.\n"
	"B=/bin/busybox\n"
	"$B mount -t devtmpfs dev /dev\n"
	"while read m; do $B insmod /m/$m.ko || echo \"soda-boot: cannot load $m\"; done </m/order\n"
	"if ! $B mount -t ext4 -o ro /dev/vda /root; then\n"
	"  echo 'soda-boot: cannot mount the image'; $B poweroff -f\n"
	"fi\n"
	"$B umount /dev\n"
	"exec $B switch_root /root /soda/init\n";

/* ---- cpio (newc) ---- */

typedef struct cpio {
	FILE *f;
	unsigned ino;
} cpio;

static int cpio_entry(cpio *c, const char *name, unsigned mode, const void *data, size_t len)
{
	size_t nlen = strlen(name) + 1;
	static const char zeros[4];

	if (fprintf(c->f,
		    "070701%08X%08X%08X%08X%08X%08X%08zX%08X%08X%08X%08X%08zX%08X",
		    ++c->ino, mode, 0u, 0u, 1u, 0u, len, 0u, 0u, 0u, 0u, nlen, 0u) < 0 ||
	    fwrite(name, 1, nlen, c->f) != nlen)
		return -EIO;
	if (fwrite(zeros, 1, (4 - (110 + nlen) % 4) % 4, c->f) != (4 - (110 + nlen) % 4) % 4)
		return -EIO;
	if (len && fwrite(data, 1, len, c->f) != len)
		return -EIO;
	if (fwrite(zeros, 1, (4 - len % 4) % 4, c->f) != (4 - len % 4) % 4)
		return -EIO;
	return 0;
}

static int read_all(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (256 << 20)) {
		close(fd);
		return -EINVAL;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (size_t got = 0; got < (size_t)st.st_size;) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			break;
		}
		got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[st.st_size] = '\0';
	*ret = buf;
	*ret_len = (size_t)st.st_size;
	return 0;
}

static int cpio_file(cpio *c, const char *name, unsigned mode, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int r = read_all(path, &data, &len);

	if (r == 0)
		r = cpio_entry(c, name, mode, data, len);
	free(data);
	return r;
}

/* The path under MODULES_DIR/@kver of module @name, from modules.dep. */
static char *module_path(const char *kver, const char *dep, const char *name)
{
	char want[64];
	size_t wl = (size_t)snprintf(want, sizeof(want), "/%s.ko:", name);

	for (const char *line = dep; line && *line;) {
		const char *colon = strchr(line, ':'), *nl = strchr(line, '\n');
		const char *start = colon;
		char *path = NULL;

		if (!colon || (nl && nl < colon))
			break;
		while (start > line && start[-1] != '/')
			start--;
		if ((size_t)(colon - start + 2) == wl && strncmp(start - 1, want, wl) == 0) {
			if (asprintf(&path, MODULES_DIR "/%s/%.*s", kver, (int)(colon - line),
				     line) < 0)
				return NULL;
			return path;
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* The newest kernel under /boot: its version (malloc'ed). */
static int newest_kernel(char **ret_ver, soda_error **error)
{
	DIR *d = opendir(BOOT_DIR);
	struct dirent *e;
	char *best = NULL;

	if (!d)
		return soda_error_set(error, -errno, "cannot list " BOOT_DIR " for a guest kernel");
	while ((e = readdir(d)))
		if (strncmp(e->d_name, "vmlinuz-", 8) == 0 &&
		    (!best || strverscmp(e->d_name + 8, best) > 0)) {
			free(best);
			best = strdup(e->d_name + 8);
		}
	closedir(d);
	if (!best)
		return soda_error_set(error, -ENOENT,
				      "no guest kernel: " BOOT_DIR "/vmlinuz-* is missing "
				      "(install linux-image-amd64)");
	*ret_ver = best;
	return 0;
}

static int build_initrd(const char *kver, const char *path, soda_error **error)
{
	static const char *const dirs[] = { "bin", "dev", "m", "proc", "root", "sys", NULL };
	char *dep = NULL, *tmp = NULL, *p = NULL, order[512] = "";
	size_t dlen = 0, olen = 0;
	cpio c = { 0 };
	int r, fd;

	if (asprintf(&p, MODULES_DIR "/%s/modules.dep", kver) < 0)
		return soda_error_set(error, -ENOMEM, "out of memory");
	r = read_all(p, &dep, &dlen);
	if (r < 0) {
		char msg[512];

		snprintf(msg, sizeof(msg), "cannot read %s: %s", p, strerror(-r));
		free(p);
		return soda_error_set(error, r, msg);
	}
	free(p);
	if (asprintf(&tmp, "%s.XXXXXX", path) < 0 || (fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = soda_error_set(error, -errno, "cannot create the initramfs");
		goto out;
	}
	c.f = fdopen(fd, "w");
	if (!c.f) {
		close(fd);
		r = soda_error_set(error, -ENOMEM, "out of memory");
		goto out;
	}
	r = 0;
	for (size_t i = 0; r == 0 && dirs[i]; i++)
		r = cpio_entry(&c, dirs[i], 040755, NULL, 0);
	if (r == 0)
		r = cpio_entry(&c, "init", 0100755, init_script, strlen(init_script));
	if (r == 0)
		r = cpio_file(&c, "bin/busybox", 0100755, BUSYBOX);
	for (size_t i = 0; r == 0 && modules[i]; i++) {
		char *mp = module_path(kver, dep, modules[i]), name[80];

		if (!mp) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "kernel %s has no module %s.ko (compressed modules are not read)",
				 kver, modules[i]);
			r = soda_error_set(error, -ENOENT, msg);
			break;
		}
		snprintf(name, sizeof(name), "m/%s.ko", modules[i]);
		r = cpio_file(&c, name, 0100644, mp);
		free(mp);
		olen += (size_t)snprintf(order + olen, sizeof(order) - olen, "%s\n", modules[i]);
	}
	if (r == 0)
		r = cpio_entry(&c, "m/order", 0100644, order, olen);
	if (r == 0)
		r = cpio_entry(&c, "TRAILER!!!", 0, NULL, 0);
	if (fclose(c.f) != 0 && r == 0)
		r = -EIO;
	if (r == -EIO || (r < 0 && !error))
		soda_error_set(error, r, "cannot write the initramfs");
	if (r == 0 && rename(tmp, path) < 0)
		r = soda_error_set(error, -errno, "cannot put the initramfs in place");
	if (r < 0)
		unlink(tmp);
out:
	free(tmp);
	free(dep);
	return r;
}

void lv_boot_free(lv_boot *bt)
{
	free(bt->kernel);
	free(bt->initrd);
	free(bt->image);
	free(bt->agent_line);
	free(bt->blackbox_line);
	free(bt->run_dir);
	memset(bt, 0, sizeof(*bt));
}

int lv_boot_paths(lv_boot *bt, const char *state_dir, const char *name, const char *image)
{
	memset(bt, 0, sizeof(*bt));
	if (asprintf(&bt->image, "%s/images/%s.img", state_dir, image) < 0 ||
	    asprintf(&bt->run_dir, LV_RUN_DIR "/%s", name) < 0 ||
	    asprintf(&bt->agent_line, LV_RUN_DIR "/%s/agent.line", name) < 0 ||
	    asprintf(&bt->blackbox_line, LV_RUN_DIR "/%s/blackbox", name) < 0) {
		lv_boot_free(bt);
		return -ENOMEM;
	}
	return 0;
}

/* @dir (made) becomes a tmpfs of LV_RUN_DIR_BYTES unless it is one already
 * (a mount: not on its parent's device). */
static int bound_run_dir(const char *dir, soda_error **error)
{
	struct stat st, parent;
	char opts[64], msg[600];

	if (stat(dir, &st) < 0 || stat(LV_RUN_DIR, &parent) < 0)
		goto fail;
	if (st.st_dev != parent.st_dev)
		return 0;
	snprintf(opts, sizeof(opts), "size=%u,mode=0700", LV_RUN_DIR_BYTES);
	if (mount("soda-libvirt-run", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) == 0)
		return 0;
fail:
	snprintf(msg, sizeof(msg), "cannot make %s a tmpfs of %u bytes (the bound on what the "
		 "guest's lines write): %s", dir, LV_RUN_DIR_BYTES, strerror(errno));
	return soda_error_set(error, -errno, msg);
}

int lv_boot_prepare(lv_boot *bt, const char *state_dir, const char *name, const char *image,
		    soda_error **error)
{
	char *kver = NULL;
	struct stat st;
	int r = lv_boot_paths(bt, state_dir, name, image);

	if (r < 0)
		return soda_error_set(error, r, "out of memory");
	if (stat(bt->image, &st) < 0) {
		/* Not in the image store: a domain that boots nothing. */
		lv_boot_free(bt);
		return 0;
	}
	r = newest_kernel(&kver, error);
	if (r < 0)
		goto fail;
	if (asprintf(&bt->kernel, BOOT_DIR "/vmlinuz-%s", kver) < 0 ||
	    asprintf(&bt->initrd, LV_RUN_DIR "/initrd-%s.cpio", kver) < 0) {
		r = soda_error_set(error, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((mkdir(LV_RUN_DIR, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(bt->run_dir, 0700) < 0 && errno != EEXIST)) {
		r = soda_error_set(error, -errno, "cannot make " LV_RUN_DIR);
		goto fail;
	}
	r = bound_run_dir(bt->run_dir, error);
	if (r < 0)
		goto fail;
	if (access(bt->initrd, R_OK) < 0) {
		r = build_initrd(kver, bt->initrd, error);
		if (r < 0)
			goto fail;
	}
	free(kver);
	return 0;
fail:
	free(kver);
	lv_boot_free(bt);
	return r;
}

int lv_boot_ready(const char *name)
{
	char path[512], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), LV_RUN_DIR "/%s/agent.line", name);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = '\0';
	/* Lines end in "\r\n": the guest's serial line adds the "\r". */
	for (char *line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "ready\r\n", 7) == 0 || strncmp(line, "ready\n", 6) == 0)
			return 1;
	return 0;
}

void lv_boot_forget(const char *name)
{
	/* the relay's (relay.c) and, before it, the blackbox line's file */
	static const char *const files[] = { "blackbox.in", "blackbox.out", "bbrelay.pid",
					     "bbrelay.pid.tmp", "bbrelay.log", "blackbox.line",
					     NULL };
	lv_boot bt;

	if (lv_boot_paths(&bt, "", name, "") < 0)
		return;
	unlink(bt.agent_line);
	for (size_t i = 0; files[i]; i++) {
		char path[512];

		if (snprintf(path, sizeof(path), "%s/%s", bt.run_dir, files[i]) < (int)sizeof(path))
			unlink(path);
	}
	/* its tmpfs (bound_run_dir), if it has one (EINVAL if not) */
	(void)umount2(bt.run_dir, MNT_DETACH | UMOUNT_NOFOLLOW);
	rmdir(bt.run_dir);
	lv_boot_free(&bt);
}
