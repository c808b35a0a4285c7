/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the uml backend (in the caller's process) and soda-monitor (one per
 * running server) share: the launch spec the library writes for the
 * monitor, the status file the monitor keeps, the control protocol and the
 * state directory layout.
 *
 * State directory:
 *   lock                      flock(2) serialising changes
 *   host/lpj                  calibrated loops-per-jiffy cache
 *   images/NAME.img, .info    read-only base images and their facts
 *   servers/NAME/config       the soda-server record (libsoda/config.h)
 *   servers/NAME/uml          backend facts (jail uid)
 *   servers/NAME/disk.cow     copy-on-write layer (owned by the jail uid)
 *   servers/NAME/console.log  guest console output (rotated at 1 MiB)
 *   status/NAME               run status (written by monitor and library)
 *   run/NAME/                 exists while a monitor runs: launch spec,
 *                             control.sock, console.sock, root/ (the jail's
 *                             mount point; uml_dir is a tmpfs inside the jail)
 */
#ifndef SODA_UML_PROTO_H
#define SODA_UML_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../libsoda/util.h"

/* Fds the monitor hands to linux.uml, named on its command line. */
#define SU_FD_CONSOLE 3 /* con0=fd:3,fd:3: the guest console (socketpair) */
#define SU_FD_READY 4   /* ssl2=null,fd:4: the guest's write-only agent line */
#define SU_FD_BLACKBOX 5 /* ssl1=null,fd:5: the guest's write-only blackbox line */
#define SU_FD_EXEC 6     /* ssl3=fd:6: the exec line (exec_proto.h; a socketpair) */

#define SU_UMID "soda"
#define SU_JAIL_UML "/usr/bin/linux.uml"
#define SU_JAIL_BASE "/disk/base.img"
#define SU_JAIL_COW "/disk/cow"
#define SU_JAIL_IDS_RULES "/disk/ids.rules" /* Kernort in the guest: read-only ubdb */
#define SU_JAIL_TMP "/tmp"
#define SU_JAIL_UMLDIR "/uml"
#define SU_JAIL_PRELOAD "/soda/uml-xstate.so"
/* The jail's tree: linux.uml's root directory is SU_JAIL_HOSTFS (all that
 * hostfs can reach: the shares and /dev/null; the ELF interpreter until
 * linux.uml runs), its working directory the jail's top, which holds the
 * kernel, its libraries, the disks, TMPDIR and uml_dir, named on its
 * command line by relative paths (SU_JAIL_REL). */
#define SU_JAIL_HOSTFS "/hostfs"
#define SU_JAIL_SHARE_FMT SU_JAIL_HOSTFS "/share/%zu"
#define SU_JAIL_DEVNULL SU_JAIL_HOSTFS "/dev/null"
#define SU_JAIL_REL(p) ((p) + 1)
/* The TAPs' descriptors linux.uml inherits: SU_FD_TAP0 + NIC index. */
#define SU_FD_TAP0 8

#define SU_LAUNCH_MAGIC "soda-launch"
#define SU_LAUNCH_VERSION 1
#define SU_STATUS_MAGIC "soda-status"
#define SU_STATUS_VERSION 1

/* SU_MNT_CHARDEV: a character device node made in the jail (on a small tmpfs
 * of its own at the node's directory, the only place devices work), owned by
 * uid with mode 0600: for devices the host keeps root-only, like
 * /dev/net/tun. size holds the device number (makedev). */
enum su_mount_kind { SU_MNT_BIND_RO, SU_MNT_BIND_RW, SU_MNT_BIND_DEV, SU_MNT_TMPFS, SU_MNT_CHARDEV };

typedef struct su_mount {
	enum su_mount_kind kind;
	char *dst; /* path inside the jail */
	char *src; /* host path (binds) */
	uint64_t size;
	uint32_t mode;
	uint32_t uid;
} su_mount;

typedef struct su_launch {
	char *name;
	char *state_dir;
	char *run_dir;
	char *status_path;
	char *console_log;
	char *cgroup;          /* the server's cgroup, relative */
	char *monitor_cgroup;  /* where monitors of this context live */
	bool prefer_v2_core;   /* test switch, see cgroup.h */
	char *netns;           /* network namespace file to enter, or NULL */
	uint32_t uid;
	uint32_t gid;
	su_mount *mounts;
	size_t n_mounts;
	char **argv; /* argv[0] is the path of linux.uml inside the jail */
	char **netdevs; /* "INDEX IFNAME" for the record */
	char **cg_settings; /* "CTRL:FILE:VALUE", written before the guest joins */
	uint64_t memory;
	char *blackbox_dir; /* the blackbox store, or NULL: no blackbox */
	char *blackbox_key; /* the tenant's public key, "BOXHEX[/SIGNHEX]" */
	char *blackbox_retention; /* "POLICY QUOTA" (config.h), or NULL: stop, default quota */
	char *preload;      /* a library linux.uml preloads (its jail path), or NULL */
	bool ids_landlord;  /* Kernort in the guest: its alert metadata to the landlord */
	uint64_t fsize;     /* RLIMIT_FSIZE of linux.uml (bytes), 0: none */
	uint64_t fsize_run; /* lowered to this once its memory file exists, 0: not */
} su_launch;

void su_launch_free(su_launch *l);
int su_launch_add_mount(su_launch *l, enum su_mount_kind kind, const char *dst,
			const char *src, uint64_t size, uint32_t mode, uint32_t uid);
char *su_launch_serialize(const su_launch *l);
int su_launch_parse(su_launch *ret, const char *text, size_t len, const char *source,
		    soda_error **error);

typedef struct su_status {
	int state; /* SODA_STATE_* */
	char reason[128];
	int32_t monitor_pid;
	uint64_t monitor_start; /* /proc start time, with the pid names the monitor */
	int32_t guest_pid;
	uint32_t uid;
	uint64_t started_usec;
	bool ready;
	uint64_t ready_usec;
	int32_t exit_code;
	int32_t exit_signal;
	char **netdevs;
	/* the blackbox (soda-monitor, "blackbox-*"): the committed head as an
	 * anchor, "" if none yet; the quota used, 0, 80 or 95 (percent) */
	char bb_anchor[160];
	uint32_t bb_usage;
} su_status;

void su_status_init(su_status *st);
void su_status_done(su_status *st);
char *su_status_serialize(const su_status *st);
int su_status_parse(su_status *ret, const char *text, size_t len, const char *source,
		    soda_error **error);
int su_status_read(su_status *ret, const char *path, soda_error **error);
int su_status_write(const su_status *st, const char *path);
/* Live states have a monitor behind them. */
bool su_state_is_live(int state);

/* Control protocol: one request per SOCK_SEQPACKET message, one reply.
 *   request: "status" | "freeze" | "thaw" | "stop MS" | "kill" | "ping"
 *   reply:   "ok[ DATA]" | "err ERRNO MESSAGE"
 * Connects to @dir/@sock (through /proc/self/fd so long paths work). */
int su_ctl_connect(const char *dir, const char *sock, int type, int *ret_fd,
		   soda_error **error);
int su_ctl_request(const char *run_dir, const char *request, char **ret_data,
		   int timeout_ms, soda_error **error);

#define SU_CTL_SOCK "control.sock"
#define SU_CONSOLE_SOCK "console.sock"
#define SU_CTL_MAX 4096

#endif
