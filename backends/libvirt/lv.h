/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libvirt backend's parts. */
#ifndef SODA_LV_H
#define SODA_LV_H

#include <soda/sys/backend.h>

/* loop.c: libvirt's event loop on one epoll descriptor. */
int lv_loop_init(void);
int lv_loop_fd(void);
void lv_loop_dispatch(void);
void lv_loop_reap(void);

/* meta.c: the soda configuration a domain carries in its metadata, one line
 * of space-separated words "v1 image=I memory=N arg=A nic=NETWORK,MAC
 * addr=NIC,CIDR label=L blackbox=BOXHEX retention=POLICY,QUOTA
 * profile=open" with values percent-encoded (so that the text needs no XML
 * escaping). lv_meta_parse() rejects anything else with -EINVAL. */
#define LV_META_NS "https://libsoda.org/xmlns/libvirt/1"
#define LV_META_PREFIX "soda"
int lv_meta_format(char **ret, const soda_server_config *cfg, soda_error **error);
int lv_meta_parse(soda_server_config **ret, const char *name, const char *text,
		  soda_error **error);
/* The text of the first element in @xml (libvirt's metadata element), or
 * NULL; malloc'ed. */
char *lv_meta_text(const char *xml);

/* boot.c: direct kernel boot of an image of the store (QEMU domains). */
#define LV_RUN_DIR "/run/libsoda-libvirt"
/* Each server's run directory is a tmpfs of this size (boot.c): the files
 * QEMU writes there for the guest (the agent line) cannot grow past it. */
#define LV_RUN_DIR_BYTES (4u << 20)
typedef struct lv_boot {
	char *kernel, *initrd, *image; /* NULL kernel: the image is not in the store */
	char *run_dir, *agent_line;
	char *blackbox_line; /* QEMU's pipe chardev: FIFOs PATH.in and PATH.out */
} lv_boot;
int lv_boot_paths(lv_boot *bt, const char *state_dir, const char *name, const char *image);
int lv_boot_prepare(lv_boot *bt, const char *state_dir, const char *name, const char *image,
		    soda_error **error);
void lv_boot_free(lv_boot *bt);
/* 1 if the agent of @name said "ready" since its start, 0 if not yet,
 * -ENOENT if the server does not boot an image. */
int lv_boot_ready(const char *name);
/* Removes what lv_boot_prepare() and the relay made for server @name (not
 * the initramfs, not the blackbox store). */
void lv_boot_forget(const char *name);

/* relay.c: soda-bbrelay, the host's end of a QEMU guest's blackbox line
 * (bbrelay.c). lv_relay_start() makes the line's FIFOs in the server's run
 * directory and starts the relay on them, feeding the store @store_dir; it
 * returns once the relay holds the store and the line (or failed, with its
 * message). lv_relay_end() waits up to @wait_ms for the relay of @name to
 * end by itself (QEMU closed the line), then ends it by its recorded PID;
 * 0 also when there was none. */
int lv_relay_start(const char *name, const char *store_dir, const soda_server_config *cfg,
		   soda_error **error);
int lv_relay_end(const char *name, unsigned wait_ms);

/* console.c: the domain's console as a socket (a relay thread per open). */
struct _virDomain;
int lv_console_open(struct _virDomain *dom, int *ret_fd, soda_error **error);

/* xml.c: XML text escaping. */
int lv_buf_printf(char **buf, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int lv_buf_escaped(char **buf, size_t *len, const char *s);

#endif
