/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cow.h"

#define COW_MAGIC 0x4f4f4f4du
#define COW_VERSION 3u
#define COW_HEADER_SIZE (32 + 4096)
#define COW_SECTOR 512u
#define COW_ALIGN 4096u

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, 8);
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return be32toh(v);
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

int su_cow_create(const char *path, const char *base_host_path, const char *backing_name,
		  uint32_t uid, uint32_t gid, soda_error **error)
{
	unsigned char *hdr;
	struct stat st;
	uint64_t bitmap_off, bitmap_len, data_off;
	int fd, r = 0;

	if (strlen(backing_name) >= 4096)
		return su_errorf(error, -ENAMETOOLONG, "backing file name is too long");
	if (stat(base_host_path, &st) < 0)
		return su_errorf(error, su_neg_errno(), "cannot stat base image %s: %s",
				 base_host_path, strerror(errno));
	if (st.st_size <= 0 || st.st_size % COW_SECTOR)
		return su_errorf(error, -EINVAL, "base image %s is not a whole number of sectors",
				 base_host_path);
	hdr = calloc(1, COW_HEADER_SIZE);
	if (!hdr)
		return su_errorf(error, -ENOMEM, "out of memory");
	put32(hdr + 0, COW_MAGIC);
	put32(hdr + 4, COW_VERSION);
	put32(hdr + 8, (uint32_t)st.st_mtime);
	put64(hdr + 12, (uint64_t)st.st_size);
	put32(hdr + 20, COW_SECTOR);
	put32(hdr + 24, COW_ALIGN);
	put32(hdr + 28, 0);
	memcpy(hdr + 32, backing_name, strlen(backing_name));

	bitmap_off = round_up(COW_HEADER_SIZE, COW_ALIGN);
	bitmap_len = ((uint64_t)st.st_size / COW_SECTOR + 7) / 8;
	data_off = round_up(bitmap_off + bitmap_len, COW_ALIGN);

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot create %s: %s", path, strerror(errno));
		free(hdr);
		return r;
	}
	if (pwrite(fd, hdr, COW_HEADER_SIZE, 0) != COW_HEADER_SIZE)
		r = su_errorf(error, errno ? su_neg_errno() : -EIO, "cannot write %s: %s", path,
			      strerror(errno));
	/* The bitmap and data stay holes: an all-zero bitmap means "read the base". */
	if (r == 0 && ftruncate(fd, (off_t)(data_off + (uint64_t)st.st_size)) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot size %s: %s", path, strerror(errno));
	if (r == 0 && fchown(fd, uid, gid) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot chown %s: %s", path, strerror(errno));
	if (r == 0 && fsync(fd) < 0)
		r = su_errorf(error, su_neg_errno(), "cannot sync %s: %s", path, strerror(errno));
	close(fd);
	free(hdr);
	if (r < 0)
		unlink(path);
	return r;
}

int su_cow_read(const char *path, su_cow_info *ret, soda_error **error)
{
	unsigned char *hdr;
	ssize_t n;
	int fd, r = 0;

	hdr = malloc(COW_HEADER_SIZE);
	if (!hdr)
		return su_errorf(error, -ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = su_errorf(error, su_neg_errno(), "cannot open %s: %s", path, strerror(errno));
		free(hdr);
		return r;
	}
	n = pread(fd, hdr, COW_HEADER_SIZE, 0);
	close(fd);
	if (n != COW_HEADER_SIZE || get32(hdr) != COW_MAGIC || get32(hdr + 4) != COW_VERSION) {
		free(hdr);
		return su_errorf(error, -EINVAL, "%s is not a version 3 UML COW file", path);
	}
	memset(ret, 0, sizeof(*ret));
	ret->mtime = get32(hdr + 8);
	ret->size = get64(hdr + 12);
	ret->sectorsize = get32(hdr + 20);
	ret->alignment = get32(hdr + 24);
	memcpy(ret->backing_file, hdr + 32, 4095);
	ret->backing_file[4095] = '\0';
	if (ret->sectorsize == 0 || ret->alignment == 0 || ret->size == 0) {
		free(hdr);
		return su_errorf(error, -EINVAL, "%s has a corrupt COW header", path);
	}
	ret->data_offset = round_up(round_up(COW_HEADER_SIZE, ret->alignment) +
					    (ret->size / ret->sectorsize + 7) / 8,
				    ret->alignment);
	free(hdr);
	return 0;
}
