/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Guest images: bootable ext4 root file systems built without mounting
 * anything (mkfs.ext4 -d for trees, debugfs for imported images), with the
 * libsoda guest agent as /soda/init (the guest's PID 1, see
 * guest/agent.c) and a static busybox (/soda/busybox) in every one.
 */
#ifndef SODA_UML_IMAGE_H
#define SODA_UML_IMAGE_H

#include <stdbool.h>

#include "../../libsoda/util.h"

typedef struct su_image_request {
	const char *images_dir; /* where NAME.img and NAME.info go */
	const char *work_dir;   /* scratch space on the same file system */
	const char *name;
	int source_kind;        /* SODA_IMAGE_SOURCE_* */
	const char *source;
	uint64_t size;          /* 0: content plus room */
	const char *busybox;    /* static busybox to install; NULL: /bin/busybox */
	const char *agent;      /* the static soda-agent binary */
} su_image_request;

/* Builds into a temporary file and renames it over images_dir/NAME.img. */
int su_image_build(const su_image_request *req, soda_error **error);
/* Checks that @path holds an ext2/3/4 file system (superblock magic) of a
 * sane size. */
int su_image_check(const char *path, soda_error **error);

#endif
