/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tenant image content (tarballs and directories) into a staging tree, with
 * nothing in that content able to act outside the tree. Host root never
 * resolves a tenant-controlled path string: every name is written relative
 * to a directory descriptor, each component opened without following
 * symbolic links (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one
 * O_NOFOLLOW component at a time), so a link in the content is stored as a
 * link and never walked through. Hard links must name an entry inside the
 * tree; `..` names are refused; sizes and entry counts are bounded before
 * any data is written. Device nodes, setuid files and links are kept: they
 * are the guest's, and mkfs.ext4 copies them into the image without opening
 * them.
 */
#ifndef SODA_UML_UNPACK_H
#define SODA_UML_UNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "../../libsoda/util.h"

typedef struct uml_unpack_limits {
	uint64_t max_bytes;   /* content budget, counted as uml_unpack_cost() */
	uint64_t max_entries; /* entries (files, directories, links, nodes) */
	unsigned int max_depth; /* path components of one entry */
} uml_unpack_limits;

typedef struct uml_unpack_stats {
	uint64_t bytes;   /* sum of uml_unpack_cost() over the entries */
	uint64_t entries;
} uml_unpack_stats;

/* What an entry costs in the image: its data rounded up to 4 KiB blocks
 * (apparent size: a sparse file counts whole) plus an inode and a
 * directory entry. */
uint64_t uml_unpack_cost(uint64_t size);

/* Turns a tarball member name into a path relative to the image root:
 * leading '/' and "." components dropped, repeated '/' folded. Returns 0
 * and *ret_clean (malloc'd; "" for the root itself), -EINVAL for a `..`
 * component or an empty name, -ENAMETOOLONG past PATH_MAX, -ENOMEM. */
int uml_unpack_clean_name(const char *name, char **ret_clean);

/* @name with control bytes, bytes >= 0x7f, '\\' and '\'' written as \xHH,
 * cut to about @max bytes, for error messages (names need not be UTF-8).
 * Returns a malloc'd string or NULL. */
char *uml_unpack_escape(const char *name, size_t max);

/* Unpacks the tarball at @path (any format and compression libarchive
 * reads) into the directory @rootfd. */
int uml_unpack_tar(int rootfd, const char *path, const uml_unpack_limits *limits,
		   uml_unpack_stats *stats, soda_error **error);
/* The same from memory (the fuzz target's entry point). */
int uml_unpack_tar_memory(int rootfd, const void *data, size_t len,
			  const uml_unpack_limits *limits, uml_unpack_stats *stats,
			  soda_error **error);

/* Copies the tree under the directory @source into @rootfd. It is read
 * twice, without following any link: first to check it (sizes, counts,
 * depth, and that every hard-linked file has all its links inside the
 * tree: a link to a host file would copy the host's data into the image),
 * then to copy it, checking that nothing changed in between. */
int uml_copy_tree(int rootfd, const char *source, const uml_unpack_limits *limits,
		  uml_unpack_stats *stats, soda_error **error);

/* Removes @name under @dirfd (a tree if a directory) without following
 * links and without leaving @dirfd. */
int uml_unpack_remove_at(int dirfd, const char *name);

#endif
