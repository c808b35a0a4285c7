/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libsoda: guest images. An image is a bootable ext4 root file system kept
 * read-only in the context's image store and shared by every server that
 * uses it through a per-server copy-on-write layer.
 */
#ifndef SODA_IMAGE_H
#define SODA_IMAGE_H

#include <soda/common.h>
#include <soda/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Image sources. */
#define SODA_IMAGE_SOURCE_BUSYBOX 1   /* the built-in minimal busybox-static root; source NULL */
#define SODA_IMAGE_SOURCE_DIRECTORY 2 /* a directory holding a root file system */
#define SODA_IMAGE_SOURCE_TARBALL 3   /* a tar archive of one: plain, gzip, bzip2, xz, lzma, zstd, lz4 */
#define SODA_IMAGE_SOURCE_EXT4 4      /* an existing ext2/3/4 image file, copied in */

#define SODA_IMAGE_SIZE_MIN (8ULL * 1024 * 1024)

/* Build flags. */
#define SODA_IMAGE_REPLACE (1u << 0) /* replace an image of that name no server uses */

/**
 * soda_image_build:
 * Builds a bootable ext4 image named @name from @source without mounting
 * anything (mkfs.ext4 -d). The libsoda guest init (/soda/init, with a static
 * busybox at /soda/busybox) is added to every image: it mounts the kernel
 * file systems and the server's shares, tells the host the guest is ready,
 * then runs the image's own /sbin/init if it has one, else a console shell.
 * @size_bytes: file system size; 0 picks the content size plus room.
 * Returns: 0; -EEXIST if the name is taken (without SODA_IMAGE_REPLACE);
 * -ENOENT if @source is missing; -EINVAL for a bad source or size.
 * @since 0.1
 */
SODA_EXPORT int soda_image_build(soda_context *ctx, const char *name, int source_kind,
				 const char *source, uint64_t size_bytes, unsigned int flags,
				 soda_error **error);

/** @ret_names: NULL-terminated sorted names (soda_strv_free()). @since 0.1 */
SODA_EXPORT int soda_image_list(char ***ret_names, size_t *ret_count, soda_context *ctx,
				unsigned int flags, soda_error **error);

/** Returns: 0; -ENOENT; -EBUSY if a defined server uses it. @since 0.1 */
SODA_EXPORT int soda_image_remove(soda_context *ctx, const char *name, unsigned int flags,
				  soda_error **error);

/** @ret_path: receives the image file's path (soda_free()). @since 0.1 */
SODA_EXPORT int soda_image_get_path(char **ret_path, soda_context *ctx, const char *name,
				    soda_error **error);

#ifdef __cplusplus
}
#endif

#endif
